"""Training loss (paper Eq. 10) and test score (Eq. 11) of the HFN."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from mpfas_lib.models.hfn import HFNOutput

REDUCTIONS = ("mean", "sum", "none")


def loss_terms(out: HFNOutput, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample (classification, pixel) terms of Eq. 10: CE on 2 logits, MSE to a 0/1 map."""
    labels = labels.long().view(-1)
    ce = F.cross_entropy(out.logits, labels, reduction="none")
    target = labels.to(out.pixel_map.dtype).view(-1, 1, 1, 1).expand_as(out.pixel_map)
    mse = (out.pixel_map - target).pow(2).flatten(1).mean(dim=1)
    return ce, mse


def hfn_loss(
    out: HFNOutput,
    labels: Tensor,
    pixel_weight: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Eq. 10: L = L_BCE + L_MSE (labels 1 genuine / 0 spoof; pixel target all ones / zeros)
    (chapter 05).

    The paper's "BCE" on the binary vector is a two-logit softmax cross-entropy, as in the
    authors' code. ``pixel_weight`` scales L_MSE. (The code's Θ step halves the loss, (L_MSE +
    L_CE) / 2: that is the method setting ``theta_loss_scale``, not a loss option.)
    ``reduction``: "mean" (default), "sum" or "none" (per sample).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if out.logits.shape[0] != labels.numel():
        raise ValueError(
            f"hfn_loss: {out.logits.shape[0]} predictions but {labels.numel()} labels"
        )
    ce, mse = loss_terms(out, labels)
    loss = ce + pixel_weight * mse
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def genuine_score(out: HFNOutput) -> Tensor:
    """Eq. 11: S = (s1 + mean(m)) / 2, the probability of genuine, shape [B] (chapter 05)."""
    s1 = out.logits.softmax(dim=1)[:, 1]
    return (s1 + out.pixel_map.flatten(1).mean(dim=1)) / 2
