"""The trainer shared by Algorithm 1 and the ERM baselines.

``Trainer`` owns Φ, Θ, their optimisers, the domain-split RNG and the batch source, all set up
from one :class:`~mpfas_lib.training.config.RunConfig`; ``step()`` runs one outer iteration of
Algorithm 1 or one ERM step, as the config's method says. Scoring and metrics live in
:mod:`mpfas_lib.evaluation`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.profiler import record_function

from mpfas_lib.models.losses import hfn_loss
from mpfas_lib.runtime import python_rng_state, set_python_rng_state
from mpfas_lib.training.algorithm1 import (
    LossFn,
    StepStats,
    meta_pattern_step,
    phi_optimizer_for,
    trainable,
)
from mpfas_lib.training.compiled import check_compile, compiled_erm_pass, compiled_meta_passes
from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.distributed import average_tensors, broadcast_module, wrap_ddp
from mpfas_lib.training.erm import Pipeline, erm_step


class RecordedBatches:
    """Wrap a domain-balanced batch source so that its position can be checkpointed.

    If the source has ``state_dict``/``load_state_dict`` they are used; otherwise the calls are
    logged and a resumed run replays them on a freshly seeded source (same batches, same order).
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        self.calls: list[str] = []
        self.native = hasattr(source, "state_dict") and hasattr(source, "load_state_dict")

    def batch(self, domains: Sequence[str]):
        """The next batch of the named domains (see ``DomainBalancedBatches.batch``)."""
        if not self.native:
            self.calls.append(",".join(domains))
        return self.source.batch(list(domains))

    def state_dict(self) -> dict:
        """The source's own state, or the log of calls to replay."""
        if self.native:
            return {"native": self.source.state_dict()}
        return {"calls": list(self.calls)}

    def load_state_dict(self, state: dict) -> None:
        """Restore the position (the source must be freshly built with the same seed)."""
        if "native" in state:
            self.source.load_state_dict(state["native"])
            return
        if self.calls:
            raise RuntimeError("replaying a sampler state needs a freshly built batch source")
        # advance without loading images when the source can (a loader skips, a sampler indexes)
        advance = getattr(self.source, "skip", None) or getattr(self.source, "indices",
                                                                 self.source.batch)
        for call in state["calls"]:
            domains = call.split(",") if call else []
            self.calls.append(call)
            advance(domains)


def _batch_parts(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = batch[0], batch[1]
    return images, torch.as_tensor(labels).long()


class Trainer:
    """Φ, Θ and their optimisers, stepped by Algorithm 1 or by ERM (paper Sec. III-C, IV-C).

    Everything comes from the run's config: the method's algorithm, K, form, loss scale, weight
    decay and flips, the profile's α and momentum, the run's seed, bf16, memory format and
    whether the step's passes are compiled (``compile``, :mod:`~mpfas_lib.training.compiled`).
    """

    def __init__(
        self,
        config: RunConfig,
        phi: nn.Module | None,
        theta: nn.Module,
        batches: Any,
        domains: Sequence[str],
        *,
        loss_fn: LossFn = hfn_loss,
        device: torch.device | str = "cpu",
        dist: Any = None,
    ) -> None:
        method, prof = config.method, config.profile
        if method.meta_learned and not trainable(phi):
            raise ValueError("Algorithm 1 needs a trainable extractor Φ; choose an ERM method")
        self.settings = method.meta_settings(prof.lr)  # None: ERM
        self.device = torch.device(device)
        self.channels_last = config.channels_last and self.device.type == "cuda"
        self.amp = config.amp and self.device.type == "cuda"
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        self.phi = phi.to(self.device, memory_format=memory) if phi is not None else None
        self.theta = theta.to(self.device, memory_format=memory)
        # Algorithm 1's Θ step updates Θ alone (Eq. 8); ERM updates [Θ, Φ] jointly (Eq. 3)
        params = trainable(self.theta) + ([] if self.settings else trainable(self.phi))
        self.optimizer = torch.optim.SGD(params, lr=prof.lr, momentum=prof.momentum,
                                         weight_decay=method.weight_decay)
        self.phi_optimizer = None
        if self.settings is not None and self.settings.mode == "official":
            self.phi_optimizer = phi_optimizer_for(self.phi, self.settings, prof.momentum)
        self.batches = RecordedBatches(batches)
        self.domains = list(domains)
        self.loss_fn = loss_fn
        self.split_rng = random.Random(config.seed)
        self.hflip = method.hflip
        # flips draw from their own generator (checkpointed), never from torch's global one;
        # under DDP every rank flips its own batches
        rank = dist.rank if dist is not None else 0
        self.flip_rng = torch.Generator().manual_seed(config.seed * 1009 + rank + 1)
        self.iteration = 0
        self.dist = dist
        self.pipeline = Pipeline(self.phi, self.theta)
        trained = self.theta if self.settings is not None else self.pipeline
        if dist is not None and dist.world_size > 1:
            broadcast_module(self.pipeline)
            trained = wrap_ddp(trained, self.device)
        self.train_module = trained
        self.compile = config.compile
        check_compile(config.compile, self.device, dist is not None and dist.world_size > 1)
        self.meta_passes = self.erm_pass = None
        if config.compile != "none" and self.settings is not None:
            self.meta_passes = compiled_meta_passes(self.phi, self.theta, loss_fn, self.settings,
                                                    config.compile)
        elif config.compile != "none":
            self.erm_pass = compiled_erm_pass(self.pipeline, loss_fn, config.compile)

    def autocast(self) -> AbstractContextManager:
        """bf16 autocast on CUDA when enabled, else a no-op."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def flip(self, images: torch.Tensor) -> torch.Tensor:
        """Each training image mirrored left-right with probability ``hflip`` (the code's 0.5)."""
        if self.hflip <= 0:
            return images
        chosen = torch.rand(len(images), generator=self.flip_rng) < self.hflip
        return torch.where(chosen.to(images.device).view(-1, 1, 1, 1), images.flip(-1), images)

    def sample(self, domains: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh domain-balanced batch on the device (flipped at random when asked)."""
        with record_function("data"):  # a profiler's name for it (scripts/gpu_check.py)
            images, labels = _batch_parts(self.batches.batch(domains))
            images = self.flip(images.to(self.device, non_blocking=True))
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            return images, labels.to(self.device, non_blocking=True)

    def step(self) -> StepStats:
        """One outer iteration of Algorithm 1, or one ERM step."""
        self.iteration += 1
        try:
            if self.settings is None:
                return erm_step(self.train_module, self.loss_fn, self.sample, self.optimizer,
                                self.domains, autocast=self.autocast, iteration=self.iteration,
                                loss_pass=self.erm_pass,
                                deferred_checks=self.erm_pass is not None)
            distributed = self.dist is not None and self.dist.world_size > 1
            return meta_pattern_step(
                self.phi, self.theta, self.loss_fn, self.sample, self.optimizer, self.domains,
                self.split_rng, self.settings, phi_optimizer=self.phi_optimizer,
                theta_train=self.train_module, grad_sync=average_tensors if distributed else None,
                autocast=self.autocast, iteration=self.iteration, passes=self.meta_passes)
        except BaseException:
            self.iteration -= 1
            raise

    def model_state(self) -> dict:
        """State dicts of Φ and Θ (what an evaluation needs)."""
        return {
            "phi": self.phi.state_dict() if self.phi is not None else {},
            "theta": self.theta.state_dict(),
        }

    def state_dict(self) -> dict:
        """Everything needed to continue training exactly (except the global RNGs)."""
        state = self.model_state()
        state.update(
            iteration=self.iteration,
            optimizer=self.optimizer.state_dict(),
            phi_optimizer=self.phi_optimizer.state_dict() if self.phi_optimizer else None,
            split_rng=python_rng_state(self.split_rng),
            flip_rng=self.flip_rng.get_state(),
            batches=self.batches.state_dict(),
        )
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        if self.phi is not None:
            self.phi.load_state_dict(state["phi"])
        self.theta.load_state_dict(state["theta"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.phi_optimizer is not None and state.get("phi_optimizer"):
            self.phi_optimizer.load_state_dict(state["phi_optimizer"])
        set_python_rng_state(state["split_rng"], self.split_rng)
        if state.get("flip_rng") is not None:  # checkpoints before flips had none
            self.flip_rng.set_state(state["flip_rng"])
        self.batches.load_state_dict(state["batches"])
        self.iteration = int(state["iteration"])
