"""A run built from its config: data, models, batches, trainer, schedule and evaluation.

This is the one place where a :class:`~mpfas_lib.training.config.RunConfig` is taken apart;
the loop (:mod:`mpfas_lib.training.loop`) only sees what is built here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from mpfas_lib.data.datasets import evaluation_frames
from mpfas_lib.data.loader import LoaderBatches
from mpfas_lib.data.protocols import Protocol, build_protocol
from mpfas_lib.data.sampling import DomainBalancedBatches
from mpfas_lib.models.losses import hfn_loss
from mpfas_lib.runtime import device_name, seed_everything
from mpfas_lib.training.algorithm1 import MetaSettings, request_plan
from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.methods import build_models
from mpfas_lib.training.trainer import Trainer


@dataclass(frozen=True)
class Schedule:
    """When a run stops, evaluates and checkpoints."""

    iterations: int
    eval_every: int
    checkpoint_every: int

    def evaluates(self, it: int) -> bool:
        """Whether iteration ``it`` is followed by an evaluation (and always the last one)."""
        return it % self.eval_every == 0 or it == self.iterations

    def checkpoints(self, it: int) -> bool:
        """Whether a checkpoint is written after iteration ``it``."""
        return it % self.checkpoint_every == 0 or it == self.iterations


@dataclass(frozen=True)
class Evaluation:
    """How a run scores its models: the field's test-time frames and the scoring settings."""

    frames: int  # evenly spaced frames per video (the field's test-time sampling)
    spacing: str
    batch_size: int
    amp: bool
    channels_last: bool


@dataclass
class Run:
    """Everything the training loop needs, built once from a config."""

    config: RunConfig
    protocol: Protocol
    trainer: Trainer
    schedule: Schedule
    evaluation: Evaluation
    device: torch.device
    device_label: str  # what provenance records, e.g. "NVIDIA H200" or "cpu"
    world_size: int

    def close(self) -> None:
        """Stop the image-loading workers, if any."""
        if isinstance(self.trainer.batches.source, LoaderBatches):
            self.trainer.batches.source.close()


def build_data(config: RunConfig) -> Protocol:
    """The protocol (sources, source validation, target) of a config, in its data scope
    (chapter 10).

    With ``method.train_frames`` only that many evenly spaced frames of each source video
    are trained on (the authors' code: 2).
    """
    protocol = build_protocol(config.protocol, source=config.data, profile=config.profile,
                              root=config.root, seed=config.data_seed, scope=config.scope,
                              shift=config.shift if config.data == "synthetic" else None)
    method = config.method
    if method.train_frames:
        protocol.sources = {d: evaluation_frames(ds, method.train_frames, method.frame_spacing)
                            for d, ds in protocol.sources.items()}
    return protocol


def loader_workers(config: RunConfig, device: torch.device, world_size: int = 1) -> int:
    """Image-loading processes of a run: the setting, else several per GPU, none on the CPU.

    A machine setting, not a profile number: the batches and so the results are the same for
    every value (tests/test_loader.py), and the right count depends on the host's cores.
    """
    if config.loader_workers is not None:
        return config.loader_workers
    if device.type != "cuda":
        return 0
    return min(8, max(1, (os.cpu_count() or 1) // world_size))


def build_batches(config: RunConfig, protocol: Protocol, device: torch.device,
                  settings: MetaSettings | None, rank: int = 0,
                  world_size: int = 1) -> DomainBalancedBatches | LoaderBatches:
    """The trainer's batch source: in-process sampling, or workers loading the batches that
    Algorithm 1 with ``settings`` (None: ERM) will ask for."""
    workers = loader_workers(config, device, world_size)
    batches = DomainBalancedBatches(protocol.sources, k=config.profile.batch_per_class,
                                    seed=config.seed, rank=rank, world_size=world_size)
    if workers == 0:
        return batches

    def plan():
        return request_plan(sorted(protocol.sources), settings, config.seed)

    return LoaderBatches(batches, plan, workers, pin_memory=device.type == "cuda",
                         seed=config.seed)


def build_trainer(config: RunConfig, protocol: Protocol, device: torch.device,
                  dist: Any = None) -> Trainer:
    """Φ, Θ, batches and trainer of a config, on ``device`` (seeded after the data is built)."""
    settings = config.method.meta_settings(config.profile.lr)
    phi, theta = build_models(config.method, config.profile)
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    batches = build_batches(config, protocol, device, settings, rank, world)
    return Trainer(config, phi, theta, batches, sorted(protocol.sources), loss_fn=hfn_loss,
                   device=device, dist=dist)


def evaluation_of(config: RunConfig) -> Evaluation:
    """The scoring settings of a config (also used to evaluate a saved checkpoint)."""
    return Evaluation(config.profile.eval_frames, config.method.frame_spacing,
                      config.eval_batch_size, config.amp, config.channels_last)


def build_run(config: RunConfig, device: torch.device, dist: Any = None) -> Run:
    """The whole run of a config: data first, then the seeded models and their trainer."""
    if config.threads > 0 and device.type == "cpu":
        torch.set_num_threads(config.threads)
    prof = config.profile
    schedule = Schedule(prof.iterations, prof.eval_every,
                        config.checkpoint_every or prof.eval_every)
    evaluation = evaluation_of(config)
    protocol = build_data(config)
    # seed after building the data: rendering or loading it must not shift the model's init
    seed_everything(config.seed)
    return Run(config, protocol, build_trainer(config, protocol, device, dist), schedule,
               evaluation, device, device_name(device),
               dist.world_size if dist is not None else 1)
