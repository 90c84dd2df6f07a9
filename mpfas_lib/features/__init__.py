"""Handcrafted maps f(x) that replace Phi in the hybrid baselines (paper Eq. 4-5, Table I).

Every map is a parameter-free ``nn.Module``: [B, 3, H, W] in [0, 1] -> [B, 3, H, W] in [0, 1]
(single-channel maps repeated to three channels). Chapter 03 shows them: :func:`build_map`
(one of :data:`MAP_NAMES`), and the operators behind two of them, :func:`local_binary_pattern`
and :func:`shape_from_shading`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mpfas_lib.features.color import HSVMap, YCrCbMap
from mpfas_lib.features.lbp import ColorLBP, local_binary_pattern
from mpfas_lib.features.sfs import AlbedoMap, DepthMap, ReflectanceMap, shape_from_shading

MAPS: dict[str, type[nn.Module]] = {
    "colorlbp": ColorLBP,
    "albedo": AlbedoMap,
    "depth": DepthMap,
    "reflectance": ReflectanceMap,
    "hsv": HSVMap,
    "ycrcb": YCrCbMap,
}
MAP_NAMES: tuple[str, ...] = tuple(MAPS)


def build_map(name: str, **options: Any) -> nn.Module:
    """The handcrafted map called ``name`` (one of :data:`MAP_NAMES`) (chapter 03).

    ``options`` go to the map's constructor: the SfS maps take ``light`` (a fixed light
    direction instead of the estimated one) and ``steps`` (refinement iterations, default 150;
    fewer is faster and coarser) and ``per_channel`` (SfS on R, G and B separately, as
    Pinto et al.'s code does, instead of on grey). The maps are deterministic, so a training
    run can compute them once per image and cache them.
    """
    key = name.strip().lower()
    if key not in MAPS:
        raise ValueError(f"unknown handcrafted map {name!r}: choose one of {list(MAP_NAMES)}")
    return MAPS[key](**options)


__all__ = [
    "MAPS",
    "MAP_NAMES",
    "AlbedoMap",
    "ColorLBP",
    "DepthMap",
    "HSVMap",
    "ReflectanceMap",
    "YCrCbMap",
    "build_map",
    "local_binary_pattern",
    "shape_from_shading",
]
