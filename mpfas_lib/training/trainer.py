"""The trainer shared by Algorithm 1 and the ERM baselines, and the evaluation loop.

``Trainer`` owns Φ, Θ, their optimisers, the domain-split RNG and the batch source; ``step()``
runs one outer iteration of Algorithm 1 (``algorithm="mp"``) or one ERM step
(``algorithm="erm"``).  ``score_dataset`` computes Eq. 11 scores of a test set, and
``evaluate_scores`` turns target and source-validation scores into frame- and video-level
metrics with every HTER labelled by its threshold.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mpfas_lib.training.algorithm1 import (
    LossFn,
    MetaStepStats,
    meta_pattern_step,
    phi_optimizer_for,
    trainable,
)
from mpfas_lib.training.checkpoints import python_rng_state, set_python_rng_state
from mpfas_lib.training.erm import Pipeline, erm_step

ALGORITHMS = ("mp", "erm")


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
        # advance by indices only when the source can (no image is loaded while replaying)
        advance = getattr(self.source, "indices", self.source.batch)
        for call in state["calls"]:
            domains = call.split(",") if call else []
            self.calls.append(call)
            advance(domains)


def _batch_parts(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = batch[0], batch[1]
    return images, torch.as_tensor(labels).long()


class Trainer:
    """Φ, Θ and their optimisers, stepped by Algorithm 1 or by ERM (paper Sec. III-C, IV-C)."""

    def __init__(
        self,
        phi: nn.Module | None,
        theta: nn.Module,
        batches: Any,
        domains: Sequence[str],
        loss_fn: LossFn,
        *,
        algorithm: str = "mp",
        mode: str = "paper",
        inner_steps: int = 4,
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        theta_loss_scale: float | None = None,
        seed: int = 0,
        device: torch.device | str = "cpu",
        amp: bool = False,
        channels_last: bool = False,
        dist: Any = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}: choose one of {ALGORITHMS}")
        if algorithm == "mp" and not trainable(phi):
            raise ValueError("Algorithm 1 needs a trainable extractor Φ; use algorithm='erm'")
        self.device = torch.device(device)
        self.channels_last = channels_last and self.device.type == "cuda"
        self.amp = amp and self.device.type == "cuda"
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        self.phi = phi.to(self.device, memory_format=memory) if phi is not None else None
        self.theta = theta.to(self.device, memory_format=memory)
        self.batches = RecordedBatches(batches)
        self.domains = list(domains)
        self.loss_fn = loss_fn
        self.algorithm = algorithm
        self.mode = mode
        self.inner_steps = inner_steps
        self.lr = lr
        self.theta_loss_scale = theta_loss_scale
        self.split_rng = random.Random(seed)
        self.iteration = 0
        self.dist = dist
        self.pipeline = Pipeline(self.phi, self.theta)
        distributed = dist is not None and dist.world_size > 1
        if distributed:
            from mpfas_lib.training.distributed import broadcast_module, wrap_ddp

            broadcast_module(self.pipeline)
            wrapped = self.theta if algorithm == "mp" else self.pipeline
            self.train_module = wrap_ddp(wrapped, self.device)
        else:
            self.train_module = self.theta if algorithm == "mp" else self.pipeline
        self.phi_optimizer = None
        if algorithm == "mp":
            self.optimizer = torch.optim.SGD(
                trainable(self.theta), lr=lr, momentum=momentum, weight_decay=weight_decay
            )
            if mode == "official":
                self.phi_optimizer = phi_optimizer_for(self.phi, lr, inner_steps, momentum)
        else:
            self.optimizer = torch.optim.SGD(
                trainable(self.phi) + trainable(self.theta),
                lr=lr,
                momentum=momentum,
                weight_decay=weight_decay,
            )

    def autocast(self) -> AbstractContextManager:
        """bf16 autocast on CUDA when enabled, else a no-op."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def sample(self, domains: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh domain-balanced batch on the device."""
        images, labels = _batch_parts(self.batches.batch(domains))
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, labels.to(self.device, non_blocking=True)

    def step(self) -> MetaStepStats:
        """One outer iteration of Algorithm 1, or one ERM step."""
        self.iteration += 1
        try:
            if self.algorithm == "mp":
                grad_sync = None
                if self.dist is not None and self.dist.world_size > 1:
                    from mpfas_lib.training.distributed import average_tensors

                    grad_sync = average_tensors
                return meta_pattern_step(
                    self.phi,
                    self.theta,
                    self.loss_fn,
                    self.sample,
                    self.optimizer,
                    self.domains,
                    self.split_rng,
                    inner_steps=self.inner_steps,
                    lr=self.lr,
                    mode=self.mode,
                    phi_optimizer=self.phi_optimizer,
                    theta_loss_scale=self.theta_loss_scale,
                    theta_train=self.train_module,
                    grad_sync=grad_sync,
                    autocast=self.autocast,
                    iteration=self.iteration,
                )
            return erm_step(
                self.train_module,
                self.loss_fn,
                self.sample,
                self.optimizer,
                self.domains,
                autocast=self.autocast,
                iteration=self.iteration,
            )
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
        self.batches.load_state_dict(state["batches"])
        self.iteration = int(state["iteration"])


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


@dataclass
class Scores:
    """Frame scores of one test set (Eq. 11), with labels and video ids."""

    scores: np.ndarray
    labels: np.ndarray
    video_ids: list[str]


@torch.no_grad()
def score_dataset(
    phi: nn.Module | None,
    theta: nn.Module,
    dataset: Any,
    score_fn: Callable[[Any], torch.Tensor],
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    amp: bool = False,
    channels_last: bool = False,
) -> Scores:
    """Eq. 11 genuine score of every frame of a dataset, models in eval mode."""
    device = torch.device(device)
    modules = [m for m in (phi, theta) if m is not None]
    was_training = [m.training for m in modules]
    for m in modules:
        m.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    scores, labels, videos = [], [], []
    use_amp = amp and device.type == "cuda"
    try:
        for batch in loader:
            images = batch[0].to(device)
            if channels_last and device.type == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext():
                pattern = phi(images) if phi is not None else None
                out = theta(images, pattern)
                score = score_fn(out)
            scores.append(score.float().cpu().numpy())
            labels.append(torch.as_tensor(batch[1]).long().numpy())
            videos.extend(str(v) for v in batch[3])
    finally:
        for m, flag in zip(modules, was_training, strict=True):
            m.train(flag)
    if not scores:
        raise ValueError("cannot score an empty dataset")
    return Scores(np.concatenate(scores), np.concatenate(labels), videos)


def evaluate_scores(target: Scores, source_val: Scores | None = None) -> dict[str, dict]:
    """Frame- and video-level metrics of the target; HTER thresholds from source val (honest)."""
    from mpfas_lib.evaluation.metrics import evaluate, threshold_at_eer

    out: dict[str, dict] = {}
    for level in ("frame", "video"):
        videos_t = target.video_ids if level == "video" else None
        threshold = None
        if source_val is not None:
            videos_s = source_val.video_ids if level == "video" else None
            threshold = threshold_at_eer(source_val.scores, source_val.labels, videos_s)
        out[level] = evaluate(
            target.scores, target.labels, videos_t, source_threshold=threshold, level=level
        )
    return out


def source_val_metrics(source_val: Scores) -> dict[str, float]:
    """Source-validation AUC/EER (video level), the criterion of ``source_val`` selection."""
    from mpfas_lib.evaluation.metrics import auc, eer, video_scores

    s, y, _ = video_scores(source_val.scores, source_val.labels, source_val.video_ids)
    return {"auc": auc(s, y), "eer": eer(s, y)[0]}


SELECTIONS = ("last", "source_val", "target_oracle")


def select(history: list[dict], rule: str = "source_val") -> dict:
    """Pick one evaluation from the history: last, best source-val EER, best target HTER."""
    if rule not in SELECTIONS:
        raise ValueError(f"unknown model selection {rule!r}: choose one of {SELECTIONS}")
    if not history:
        raise ValueError("no evaluation in the history to select from")
    if rule == "last":
        return history[-1]
    if rule == "source_val":
        usable = [h for h in history if h.get("source_val")]
        if not usable:
            return history[-1]
        # lowest source-val EER, ties to higher AUC then to the later iteration
        return min(
            reversed(usable),
            key=lambda h: (h["source_val"]["eer"], -h["source_val"]["auc"]),
        )
    return min(reversed(history), key=lambda h: h["target"]["video"]["hter_target_eer"])


def aggregate_seeds(results: Sequence[dict], keys: Sequence[str] | None = None) -> dict:
    """Mean ± std (sample std, ddof=1 when n > 1) of numeric metrics over several seeds' runs."""
    if not results:
        raise ValueError("no results to aggregate")
    flat = [_flatten(r) for r in results]
    names = keys if keys is not None else sorted(set.intersection(*(set(f) for f in flat)))
    out: dict[str, dict] = {}
    for name in names:
        values = np.array([f[name] for f in flat], dtype=np.float64)
        out[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values),
            "values": values.tolist(),
        }
    return out


def _flatten(tree: dict, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
