"""The one switch for scale: the ``quick`` (CPU) and ``full`` (GPU) profiles.

Both profiles run the same code; only the numbers below differ. The profile is
chosen by the ``MPFAS_PROFILE`` environment variable, else ``full`` when CUDA
is available and ``quick`` otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

ENV_VAR = "MPFAS_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Every size and hyper-parameter that depends on the scale of a run."""

    name: str
    image_size: int  # side of the square face crop fed to the network
    backbone: str  # trunk of each HFN stream (see mpfas_lib.models)
    iterations: int  # outer iterations of Algorithm 1 (or ERM steps)
    batch_per_class: int  # k genuine + k spoof images per source domain
    inner_steps: int  # K, inner updates of the extractor per iteration
    lr: float  # alpha, SGD learning rate (paper: 0.001)
    momentum: float  # SGD momentum (paper: 0.9)
    eval_frames: int  # frames sampled evenly per video at test time
    synth_subjects: int  # synthetic identities per domain
    synth_frames: int  # frames per synthetic video
    eval_every: int  # iterations between validation passes

    @property
    def map_size(self) -> int:
        """Side of the HFN pixel map: the stride-8 level (32 px at 256 px input)."""
        return self.image_size // 8

    def replace(self, **changes: object) -> Profile:
        """A copy with some fields changed (e.g. for a smaller test run)."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        image_size=64,
        backbone="resnet18-w16",
        iterations=120,
        batch_per_class=4,
        inner_steps=4,
        lr=0.01,
        momentum=0.9,
        eval_frames=2,
        synth_subjects=8,
        synth_frames=4,
        eval_every=40,
    ),
    "full": Profile(
        name="full",
        image_size=256,
        backbone="resnet50",
        iterations=20000,
        batch_per_class=4,
        inner_steps=4,
        lr=0.001,
        momentum=0.9,
        eval_frames=2,
        synth_subjects=30,
        synth_frames=8,
        eval_every=500,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Resolve the profile: explicit name, else ``$MPFAS_PROFILE``, else by CUDA."""
    if name is None:
        name = os.environ.get(ENV_VAR) or ("full" if torch.cuda.is_available() else "quick")
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from {ENV_VAR} or the argument): "
            f"choose one of {sorted(PROFILES)}"
        )
    return PROFILES[key]
