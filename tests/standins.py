"""Tiny stand-ins for Φ, Θ, the loss and the score, shared by the training tests.

They have the interfaces of the real ones (Φ: image -> 3-channel pattern; Θ: (rgb, pattern) ->
an output with ``logits``) at a size where a step takes milliseconds.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import nn


class TinyOut(NamedTuple):
    """What Θ returns: two logits (spoof, genuine) per image."""

    logits: torch.Tensor


class TinyPhi(nn.Module):
    """Conv -> BN -> sigmoid: a learnable pattern with BatchNorm statistics, like CONV1."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.bn(self.conv(x)))


class TinyTheta(nn.Module):
    """Two convs with a BN on (rgb, pattern) concatenated; a missing pattern reads as zeros."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(6, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, rgb: torch.Tensor, pattern: torch.Tensor | None) -> TinyOut:
        pattern = torch.zeros_like(rgb) if pattern is None else pattern
        h = torch.relu(self.bn(self.conv1(torch.cat([rgb, pattern], 1))))
        return TinyOut(self.conv2(h).mean((2, 3)))


def tiny_loss(out: TinyOut, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the two logits (the classification term of Eq. 10)."""
    return nn.functional.cross_entropy(out.logits, labels)


def tiny_score(out: TinyOut) -> torch.Tensor:
    """Softmax probability of genuine (the first term of Eq. 11)."""
    return out.logits.softmax(1)[:, 1]


def tiny_config(algorithm: str = "algorithm1", mode: str = "paper", k: int = 2,
                lr: float = 0.05, seed: int = 0, hflip: float = 0.0):
    """A run config for the stand-in models: the quick profile at ``lr``, Algorithm 1 or ERM."""
    from mpfas_lib.profile import get_profile
    from mpfas_lib.training.config import RunConfig
    from mpfas_lib.training.methods import get_method

    method = get_method("erm" if algorithm == "erm" else "mp")
    method = method.replace(mode=mode, inner_steps=k, hflip=hflip)
    return RunConfig(get_profile("quick").replace(lr=lr), method, seed=seed)


def imagenet_standin(backbone: str, path: str | os.PathLike) -> None:
    """A file with the names and shapes of the ``backbone`` trunk's weights, each a zero stored
    once (an expanded view), so a few kB stand in for torchvision's 100 MB file."""
    from mpfas_lib.models.backbones import build_trunk

    with torch.device("meta"):
        state = build_trunk(backbone).state_dict()
    torch.save({k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in state.items()},
               path)
