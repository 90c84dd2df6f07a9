"""ResNet trunks for the two HFN streams (paper Section III-B: ResNet-50 per stream) and their
optional ImageNet initialisation (the authors' code starts from ImageNet).

Weights are read from a local file only: ``$MPFAS_IMAGENET_WEIGHTS`` (a file, or a folder holding
torchvision's file name), else torchvision's cache ``$TORCH_HOME/hub/checkpoints``. Only
``python -m mpfas_lib weights --download`` (:func:`download_imagenet_weights`) downloads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import get_model_weights
from torchvision.models.resnet import BasicBlock, Bottleneck

from mpfas_lib.errors import load_failure


@dataclass(frozen=True)
class BackboneSpec:
    """How to build a trunk: block type, blocks per stage, base width, default fusion width."""

    block: type[BasicBlock] | type[Bottleneck]
    layers: tuple[int, int, int, int]
    width: int  # channels of the stem and of layer1's bottleneck (64 in torchvision)
    fusion_channels: int  # default channels of the fused maps (256 in the paper's code)
    torchvision_name: str | None  # name under which torchvision has ImageNet weights


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50": BackboneSpec(Bottleneck, (3, 4, 6, 3), 64, 256, "resnet50"),
    "resnet34": BackboneSpec(BasicBlock, (3, 4, 6, 3), 64, 256, "resnet34"),
    "resnet18": BackboneSpec(BasicBlock, (2, 2, 2, 2), 64, 256, "resnet18"),
    # Width-reduced ResNet-18 (base width 16) for the quick CPU profile: ~0.7 M parameters.
    "resnet18-w16": BackboneSpec(BasicBlock, (2, 2, 2, 2), 16, 64, None),
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of a named backbone, with a clear error for unknown names."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: choose one of {list(BACKBONES)}")
    return BACKBONES[name]


class ResNetTrunk(nn.Module):
    """A torchvision-layout ResNet without its fc head, returning the layer2/3/4 maps.

    Module names equal torchvision's (``conv1``, ``bn1``, ``layer1`` ... ``layer4``), so an
    ImageNet ``resnet*`` state dict loads after dropping its ``fc.*`` entries. The taps have
    strides 8, 16 and 32 (32/16/8 px at 256 px input) and ``channels`` channels.
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
                 width: int = 64) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        e = block.expansion
        self.channels: tuple[int, int, int] = (2 * width * e, 4 * width * e, 8 * width * e)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
                    stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Feature maps of layer2, layer3, layer4 (the three HFM hierarchies, shallow first)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer2(self.layer1(x))
        c3 = self.layer3(c2)
        return c2, c3, self.layer4(c3)


def build_trunk(name: str) -> ResNetTrunk:
    """A randomly initialised trunk for the named backbone."""
    spec = backbone_spec(name)
    return ResNetTrunk(spec.block, spec.layers, spec.width)

WEIGHTS_ENV = "MPFAS_IMAGENET_WEIGHTS"  # a weights file, or a folder holding torchvision's file


class PretrainedWeightsError(RuntimeError):
    """Weights that cannot be found, read or matched to the trunk."""


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Load a state dict from a local file with ``weights_only=True`` and clear errors."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedWeightsError(f"pretrained weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PretrainedWeightsError(
            f"cannot load pretrained weights from {path}: "
            f"{load_failure(path, exc, 'a state dict of weights')}"
        ) from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise PretrainedWeightsError(
            f"{path} does not hold a state dict (a mapping of names to tensors)"
        )
    return dict(obj)


def imagenet_weights(backbone: str):
    """torchvision's ImageNet weights entry (``IMAGENET1K_V1``) of a backbone."""
    spec = backbone_spec(backbone)
    if spec.torchvision_name is None:
        raise PretrainedWeightsError(
            f"backbone {backbone!r} has no ImageNet weights in torchvision; "
            "train from random initialisation with --set pretrained=none"
        )
    return get_model_weights(spec.torchvision_name).IMAGENET1K_V1


def imagenet_file_name(backbone: str) -> str:
    """torchvision's file name of the backbone's ImageNet weights (e.g. resnet50-0676ba61.pth)."""
    return imagenet_weights(backbone).url.rsplit("/", 1)[-1]


def torchvision_cache() -> Path:
    """torchvision's weights cache: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_weights_file(backbone: str) -> Path | None:
    """Where the backbone's ImageNet weights are: ``$MPFAS_IMAGENET_WEIGHTS``, else the cache."""
    name = imagenet_file_name(backbone)
    given = os.environ.get(WEIGHTS_ENV)
    if given:
        path = Path(given).expanduser()
        candidate = path / name if path.is_dir() else path
        return candidate if candidate.is_file() else None
    cached = torchvision_cache() / name
    return cached if cached.is_file() else None


def missing_weights_message(backbone: str) -> str:
    """One line: which file is missing, where it goes and how to get it (or do without)."""
    name = imagenet_file_name(backbone)
    given = os.environ.get(WEIGHTS_ENV)
    where = (f"${WEIGHTS_ENV}={given} (a file, or a folder holding {name})" if given
             else f"{torchvision_cache()} (or set ${WEIGHTS_ENV} to the file or its folder)")
    return (f"ImageNet weights for {backbone} not found: put {name} in {where}; get it with "
            "`python -m mpfas_lib weights --download`, or train from random initialisation "
            "with --set pretrained=none")


def require_imagenet_weights(backbone: str) -> Path:
    """The local file of the backbone's ImageNet weights, or one line saying how to get it."""
    path = imagenet_weights_file(backbone)
    if path is None:
        raise PretrainedWeightsError(missing_weights_message(backbone))
    return path


def check_pretrained(pretrained: str | Path | None, backbone: str) -> None:
    """Fail fast (before data or training) when the requested initialisation is not on disk or
    does not load into the backbone's trunk (names and shapes)."""
    if pretrained is None:
        return
    if isinstance(pretrained, str) and pretrained.lower() == "imagenet":
        path = require_imagenet_weights(backbone)
    elif not Path(pretrained).is_file():
        raise PretrainedWeightsError(f"pretrained weights file not found: {pretrained}")
    else:
        path = Path(pretrained)
    check_weights_file(path, backbone)


def imagenet_state_dict(backbone: str) -> dict[str, Tensor]:
    """torchvision's ImageNet weights for ``backbone``, from a local file only (never downloads)."""
    return read_state_dict(require_imagenet_weights(backbone))


def download_imagenet_weights(backbone: str) -> Path:
    """Download the backbone's ImageNet weights into torchvision's cache (the weights command)."""
    weights = imagenet_weights(backbone)
    try:
        weights.get_state_dict(progress=True, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PretrainedWeightsError(
            f"could not download {weights.url} ({type(exc).__name__}: {exc}); on a machine "
            f"without internet copy {imagenet_file_name(backbone)} into {torchvision_cache()}"
        ) from exc
    return torchvision_cache() / imagenet_file_name(backbone)


def trunk_entries(state: Mapping[str, Tensor], expected: Mapping[str, Tensor], source: str
                  ) -> dict[str, Tensor]:
    """The entries of a torchvision-style ResNet state dict (``fc.*`` and a ``module.`` prefix
    dropped) that a trunk with the ``expected`` state takes; an error naming what does not fit."""
    cleaned = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if not key.startswith("fc."):
            cleaned[key] = value
    missing = sorted(set(expected) - set(cleaned))
    unexpected = sorted(set(cleaned) - set(expected))
    wrong = sorted(k for k in set(expected) & set(cleaned) if expected[k].shape != cleaned[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            details.append(
                f"{len(wrong)} of another shape (e.g. {k}: {tuple(cleaned[k].shape)} "
                f"vs {tuple(expected[k].shape)})"
            )
        raise PretrainedWeightsError(
            f"weights from {source} do not match the trunk architecture: " + "; ".join(details)
        )
    return cleaned


def load_trunk_weights(trunk: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Copy a torchvision-style ResNet state dict (its ``fc.*`` ignored) into ``trunk``."""
    trunk.load_state_dict(trunk_entries(state, trunk.state_dict(), source), strict=True)


def check_weights_file(path: str | Path, backbone: str) -> int:
    """Read a weights file and check that it fits the backbone's trunk (names and shapes, as
    :func:`load_trunk_weights` would); the number of tensors the trunk takes."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        expected = build_trunk(backbone).state_dict()
    state = read_state_dict(path)
    return len(trunk_entries(state, expected, f"{path} (for {backbone})"))


def resolve_pretrained(pretrained: str | Path | None, backbone: str) -> tuple[dict, str] | None:
    """Turn the HFN ``pretrained`` argument into (state dict, description) or None."""
    if pretrained is None:
        return None
    if isinstance(pretrained, str) and pretrained.lower() == "imagenet":
        return imagenet_state_dict(backbone), f"torchvision ImageNet weights for {backbone}"
    return read_state_dict(pretrained), str(pretrained)
