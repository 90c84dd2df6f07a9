"""Timing of training steps, shared by the CPU and GPU training benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.methods import build_models
from mpfas_lib.training.trainer import Trainer


class RandomBatches:
    """k genuine + k spoof random images per requested domain (a compute-only stand-in)."""

    def __init__(self, size: int, k: int, seed: int = 0, device: str | torch.device = "cpu"
                 ) -> None:
        self.size, self.k, self.device = size, k, device
        self.gen = torch.Generator().manual_seed(seed)
        self.images = 0

    def batch(self, domains):
        """A batch of the named domains (random pixels, balanced labels)."""
        n = 2 * self.k * len(domains)
        self.images += n
        labels = torch.tensor(([1] * self.k + [0] * self.k) * len(domains))
        x = torch.rand(n, 3, self.size, self.size, generator=self.gen)
        return x.to(self.device), labels.to(self.device)


@dataclass
class Timing:
    """Wall time of some outer iterations and its split into the K inner passes and Θ steps."""

    iterations: int
    wall_seconds: float
    inner_seconds: float
    theta_seconds: float


def timed_steps(trainer: Trainer, iterations: int,
                sync: Callable[[], None] = lambda: None) -> Timing:
    """Run ``iterations`` trainer steps and time them (``sync`` waits for a GPU's queue)."""
    inner = theta = 0.0
    sync()
    start = time.perf_counter()
    for _ in range(iterations):
        stats = trainer.step()
        inner += stats.inner_seconds
        theta += stats.theta_seconds
    sync()
    return Timing(iterations, time.perf_counter() - start, inner, theta)


def seconds_per_iteration(config: RunConfig, device: torch.device, steps: int = 1) -> float:
    """One measured training step of a config's networks on random batches (no data needed)."""
    phi, theta = build_models(config.method, config.profile.replace(pretrained=None))
    prof = config.profile
    trainer = Trainer(config, phi, theta, RandomBatches(prof.image_size, prof.batch_per_class),
                      ["C", "I", "O"], device=device)
    return timed_steps(trainer, steps).wall_seconds / steps
