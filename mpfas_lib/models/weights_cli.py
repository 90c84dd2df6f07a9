"""Show where the ImageNet weights of each backbone are, or ``--download`` them.

Each file found is read (``weights_only``) and checked against its backbone's trunk (names and
shapes), so one file named for every backbone fits at most one of them.

Training never downloads: the full profile starts from torchvision's ImageNet weights found in
``$MPFAS_IMAGENET_WEIGHTS`` (a file, or a folder holding torchvision's file name) or in
torchvision's cache (``$TORCH_HOME/hub/checkpoints``). This command is the only one that fetches
them, with torchvision's own download into that cache.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mpfas_lib.errors import report_error
from mpfas_lib.models.backbones import (
    BACKBONES,
    WEIGHTS_ENV,
    PretrainedWeightsError,
    check_weights_file,
    download_imagenet_weights,
    imagenet_file_name,
    imagenet_weights_file,
    torchvision_cache,
)
from mpfas_lib.profile import PROFILES


def imagenet_backbones() -> list[str]:
    """Backbones that torchvision has ImageNet weights for."""
    return [name for name, spec in BACKBONES.items() if spec.torchvision_name is not None]


def default_backbones() -> list[str]:
    """The backbones of the profiles that start from ImageNet (what a run needs)."""
    return sorted({p.backbone for p in PROFILES.values() if p.pretrained == "imagenet"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``weights`` command's flags."""
    parser.add_argument("--download", action="store_true",
                        help="download missing weights into torchvision's cache")
    parser.add_argument("--backbone", action="append", choices=imagenet_backbones(),
                        help="repeatable (default: the backbones of profiles that use ImageNet; "
                             "without --download: every backbone)")


def checked(backbone: str, path: Path, how: str) -> str | None:
    """``how`` and the file, once read and found to fit the backbone's trunk; else an error
    line (on stderr) saying what the file is and what to do, and None."""
    try:
        tensors = check_weights_file(path, backbone)
    except PretrainedWeightsError as error:
        given = os.environ.get(WEIGHTS_ENV)
        fix = (f"point ${WEIGHTS_ENV} (now {given}) at {backbone}'s weights or a folder "
               f"holding {imagenet_file_name(backbone)}" if given else
               f"remove it and run `python -m mpfas_lib weights --download --backbone "
               f"{backbone}`")
        report_error(error, f"{backbone}: {error}; {fix}")
        return None
    return f"{backbone}: {how} {path} (read: its {tensors} tensors fit the {backbone} trunk)"


def main(args: argparse.Namespace) -> int:
    """Report (or download) the weights, one line per backbone, each file read and checked."""
    backbones = args.backbone or (default_backbones() if args.download else imagenet_backbones())
    bad = 0
    for backbone in backbones:
        found, how = imagenet_weights_file(backbone), "found"
        if found is None and args.download:
            try:
                found, how = download_imagenet_weights(backbone), "downloaded to"
            except PretrainedWeightsError as error:
                report_error(error)
                return 1
        if found is None:
            print(f"{backbone}: missing: put {imagenet_file_name(backbone)} in "
                  f"{torchvision_cache()} or set ${WEIGHTS_ENV}")
            continue
        line = checked(backbone, found, how)
        if line is None:
            bad += 1
        else:
            print(line)
    return 1 if bad else 0
