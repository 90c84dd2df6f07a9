"""Show where the ImageNet weights of each backbone are, or ``--download`` them.

Training never downloads: the full profile starts from torchvision's ImageNet weights found in
``$MPFAS_IMAGENET_WEIGHTS`` (a file, or a folder holding torchvision's file name) or in
torchvision's cache (``$TORCH_HOME/hub/checkpoints``). This command is the only one that fetches
them, with torchvision's own download into that cache.
"""

from __future__ import annotations

import argparse
import sys

from mpfas_lib.models.backbones import BACKBONES
from mpfas_lib.models.pretrained import (
    WEIGHTS_ENV,
    PretrainedWeightsError,
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


def main(args: argparse.Namespace) -> int:
    """Report (or download) the weights, one line per backbone."""
    backbones = args.backbone or (default_backbones() if args.download else imagenet_backbones())
    for backbone in backbones:
        found = imagenet_weights_file(backbone)
        if found is None and args.download:
            try:
                found = download_imagenet_weights(backbone)
            except PretrainedWeightsError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            print(f"{backbone}: downloaded to {found}")
        elif found is None:
            print(f"{backbone}: missing: put {imagenet_file_name(backbone)} in "
                  f"{torchvision_cache()} or set ${WEIGHTS_ENV}")
        else:
            print(f"{backbone}: found {found}")
    return 0
