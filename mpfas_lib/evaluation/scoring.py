"""Scores of a test set (Eq. 11) and their metrics at honestly labelled thresholds.

``score_dataset`` runs Φ and Θ over a dataset in eval mode and returns every frame's genuine
score; ``evaluate_scores`` turns the target's scores (and, when the protocol has one, the
held-out source validation's) into frame- and video-level metrics, each HTER labelled by the
threshold it used (:func:`mpfas_lib.evaluation.metrics.pad_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mpfas_lib.evaluation.metrics import pad_metrics, threshold_at_eer, video_scores
from mpfas_lib.models.losses import genuine_score


@dataclass
class Scores:
    """Frame scores of one test set (Eq. 11), with labels and video ids."""

    scores: np.ndarray
    labels: np.ndarray
    video_ids: list[str]

    def videos(self) -> dict[str, list]:
        """Video-level scores (mean of each video's frames) as JSON-ready lists."""
        s, y, ids = video_scores(self.scores, self.labels, self.video_ids)
        return {"video_ids": [str(v) for v in ids], "labels": [int(v) for v in y],
                "scores": [float(v) for v in s]}


@torch.no_grad()
def score_dataset(
    phi: nn.Module | None,
    theta: nn.Module,
    dataset: Any,
    score_fn: Callable[[Any], torch.Tensor] = genuine_score,
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


def score_domains(phi: nn.Module | None, theta: nn.Module, datasets: dict[str, Any],
                  **kw: Any) -> Scores:
    """Eq. 11 scores of several domains' datasets, video ids prefixed by the domain."""
    parts = [(d, score_dataset(phi, theta, ds, **kw)) for d, ds in sorted(datasets.items())]
    return Scores(
        np.concatenate([p.scores for _, p in parts]),
        np.concatenate([p.labels for _, p in parts]),
        [f"{d}/{v}" for d, p in parts for v in p.video_ids],
    )


def source_threshold(source_val: Scores | None, level: str = "video") -> float | None:
    """The EER threshold of the held-out source data (None without source validation)."""
    if source_val is None:
        return None
    videos = source_val.video_ids if level == "video" else None
    return threshold_at_eer(source_val.scores, source_val.labels, videos)


def evaluate_scores(target: Scores, source_val: Scores | None = None) -> dict[str, dict]:
    """Frame- and video-level metrics of the target; HTER thresholds from source val (honest)."""
    out: dict[str, dict] = {}
    for level in ("frame", "video"):
        threshold = source_threshold(source_val, level)
        videos_t = target.video_ids if level == "video" else None
        out[level] = pad_metrics(target.scores, target.labels, videos_t,
                                 source_threshold=threshold, level=level)
    return out

