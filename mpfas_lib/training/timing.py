"""Timing of training steps, shared by the CPU and GPU training benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mpfas_lib.training.trainer import Trainer


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
