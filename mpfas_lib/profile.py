"""The one switch for scale: the ``quick`` (tests, book), ``study`` (committed CPU experiments),
``full`` (GPU) and ``full-smoke`` (the full networks for a few steps) profiles.

Every profile runs the same code; only the numbers below differ, and each of them lives here
and nowhere else. The active profile is chosen by the ``MPFAS_PROFILE`` environment variable,
else ``full`` when CUDA is available and ``quick`` otherwise. A run's other settings belong to
its method (:mod:`mpfas_lib.training.methods`) or to the run itself
(:class:`mpfas_lib.training.config.RunConfig`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

ENV_VAR = "MPFAS_PROFILE"
PRETRAINED = (None, "imagenet")


@dataclass(frozen=True)
class Profile:
    """Every size and hyper-parameter that depends on the scale of a run."""

    name: str
    image_size: int  # side of the square face crop fed to the network
    backbone: str  # trunk of each HFN stream (see mpfas_lib.models.backbones)
    iterations: int  # outer iterations of Algorithm 1 (or ERM steps)
    batch_per_class: int  # k genuine + k spoof images per source domain
    lr: float  # alpha, SGD learning rate (paper: 0.001)
    momentum: float  # SGD momentum (paper: 0.9)
    eval_frames: int  # frames sampled evenly per video at test time
    synth_subjects: int  # synthetic identities per domain
    synth_frames: int  # frames per synthetic video
    eval_every: int  # iterations between validation passes
    pretrained: str | None = None  # initialisation of both HFN trunks: None (random) or "imagenet"

    @property
    def map_size(self) -> int:
        """Side of the HFN pixel map: the stride-8 level (32 px at 256 px input)."""
        return self.image_size // 8

    def replace(self, **changes: object) -> Profile:
        """A copy with some fields changed (e.g. for a smaller test run)."""
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Refuse sizes no run can use, naming the field."""
        for key in ("image_size", "iterations", "batch_per_class", "eval_frames",
                    "synth_subjects", "synth_frames", "eval_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"profile {self.name}: {key} must be >= 1, got "
                                 f"{getattr(self, key)}")
        if self.image_size % 8:
            raise ValueError(f"profile {self.name}: image_size must be a multiple of 8 (the "
                             f"pixel map is the stride-8 level), got {self.image_size}")
        if not math.isfinite(self.lr) or self.lr <= 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"profile {self.name}: need lr > 0 and 0 <= momentum < 1, got "
                             f"lr={self.lr}, momentum={self.momentum}")
        if self.pretrained not in PRETRAINED:
            raise ValueError(f"profile {self.name}: pretrained must be one of {PRETRAINED}, "
                             f"got {self.pretrained!r}")


_QUICK = Profile(
    name="quick",
    image_size=64,
    backbone="resnet18-w16",
    iterations=64,
    batch_per_class=4,
    lr=0.01,
    momentum=0.9,
    eval_frames=2,
    synth_subjects=16,
    synth_frames=4,
    eval_every=16,
)

_FULL = Profile(
    name="full",
    image_size=256,
    backbone="resnet50",
    iterations=20000,
    batch_per_class=4,
    lr=0.001,
    momentum=0.9,
    eval_frames=2,
    synth_subjects=30,
    synth_frames=8,
    eval_every=500,
    pretrained="imagenet",  # the authors' initialisation (python -m mpfas_lib weights)
)

PROFILES: dict[str, Profile] = {
    "quick": _QUICK,
    # The book's committed CPU experiments (results/study/): the quick networks and faces,
    # trained until the curves flatten, on enough target videos that one video moves the HTER
    # by at most one point.
    "study": _QUICK.replace(name="study", iterations=300, eval_every=25, synth_subjects=68),
    "full": _FULL,
    # The full profile's networks and faces for a few iterations on a few identities: checks
    # that every chapter runs end to end on a GPU (scripts/gpu_check.py) in minutes.
    # Random initialisation: a smoke run must work on a machine without the ImageNet file.
    "full-smoke": _FULL.replace(name="full-smoke", iterations=4, eval_every=2, synth_subjects=4,
                                synth_frames=2, pretrained=None),
}


def profile_from_env() -> str:
    """The name of the active profile: ``$MPFAS_PROFILE``, else ``full`` with CUDA, else quick."""
    name = os.environ.get(ENV_VAR)
    if name:
        return name
    import torch  # heavy: only when the environment does not decide

    return "full" if torch.cuda.is_available() else "quick"


def get_profile(name: str | None = None) -> Profile:
    """Resolve the profile: explicit name, else ``$MPFAS_PROFILE``, else by CUDA (chapter 01)."""
    name = name if name is not None else profile_from_env()
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from {ENV_VAR} or the argument): "
            f"choose one of {sorted(PROFILES)}"
        )
    return PROFILES[key]
