"""Optional ImageNet initialisation of the HFN trunks (the authors' code starts from ImageNet)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from mpfas_lib.models.backbones import backbone_spec


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
            f"cannot load pretrained weights from {path}: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise PretrainedWeightsError(
            f"{path} does not hold a state dict (a mapping of names to tensors)"
        )
    return dict(obj)


def imagenet_state_dict(backbone: str) -> dict[str, Tensor]:
    """torchvision's ImageNet weights for ``backbone`` (read from torchvision's local cache)."""
    spec = backbone_spec(backbone)
    if spec.torchvision_name is None:
        raise PretrainedWeightsError(
            f"backbone {backbone!r} has no ImageNet weights in torchvision; "
            "pass pretrained=None or a path to your own state dict"
        )
    from torchvision.models import get_model_weights

    weights = get_model_weights(spec.torchvision_name).IMAGENET1K_V1
    try:
        # torchvision reads $TORCH_HOME/hub/checkpoints first; it downloads only when the user
        # explicitly asked for pretrained="imagenet" and the file is not cached.
        return dict(weights.get_state_dict(progress=False, map_location="cpu", weights_only=True))
    except Exception as exc:
        raise PretrainedWeightsError(
            f"could not obtain torchvision's ImageNet weights {weights} for {backbone!r} "
            f"({type(exc).__name__}: {exc}). Put the file {weights.url.rsplit('/', 1)[-1]} in "
            "torchvision's cache ($TORCH_HOME/hub/checkpoints) or pass pretrained=<path>."
        ) from exc


def load_trunk_weights(trunk: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Copy a torchvision-style ResNet state dict (its ``fc.*`` ignored) into ``trunk``."""
    cleaned = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if not key.startswith("fc."):
            cleaned[key] = value
    expected = trunk.state_dict()
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
    trunk.load_state_dict(cleaned, strict=True)


def resolve_pretrained(pretrained: str | Path | None, backbone: str) -> tuple[dict, str] | None:
    """Turn the HFN ``pretrained`` argument into (state dict, description) or None."""
    if pretrained is None:
        return None
    if isinstance(pretrained, str) and pretrained.lower() == "imagenet":
        return imagenet_state_dict(backbone), f"torchvision ImageNet weights for {backbone}"
    return read_state_dict(pretrained), str(pretrained)
