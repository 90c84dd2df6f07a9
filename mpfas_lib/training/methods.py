"""The method registry: Algorithm 1 and every baseline/ablation of the paper's Section IV.

Each method names how Φ is built (a learnable Meta Pattern extractor, a fixed handcrafted map
or nothing), how Θ is built (HFN fusion and streams) and which trainer step it uses.

===============  ==========================================================================
name             what it trains
===============  ==========================================================================
mp               HFN + MP, Algorithm 1 (paper's form), CONV2 extractor, HFM fusion
mp-official      same, Algorithm 1 as in the authors' code (``mode="official"``)
erm              HFN + MP trained end to end by ERM of [Θ, Φ] ("without OA", Fig. 7)
rgb              single-stream RGB network (no pattern), ERM
colorlbp ...     HFN + a fixed handcrafted map (colorlbp, albedo, depth, reflectance, hsv,
                 ycrcb; Table I), only Θ trains, ERM
mp-concat        HFN + MP with concatenation instead of HFM (Fig. 6)
mp-conv1 ...     extractor variants conv1, conv3, cdc1, cdc2, cdc3 (Fig. 8; mp = conv2)
mp-k1 ...        K = 1, 2, 8 inner steps (Fig. 9; mp = K 4)
===============  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

MAP_NAMES = ("colorlbp", "albedo", "depth", "reflectance", "hsv", "ycrcb")
EXTRACTORS = ("conv1", "conv2", "conv3", "cdc1", "cdc2", "cdc3")


@dataclass(frozen=True)
class Method:
    """How one method builds Φ and Θ and which step trains them."""

    name: str
    description: str
    algorithm: str = "mp"  # "mp" (Algorithm 1) or "erm"
    phi: str = "extractor"  # "extractor", "map" or "none"
    phi_name: str = "conv2"  # extractor variant or handcrafted map name
    fusion: str = "hfm"
    streams: str = "both"
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig defaults of the method


def _registry() -> dict[str, Method]:
    methods = [
        Method("mp", "HFN + Meta Pattern, Algorithm 1 (paper)"),
        Method("mp-official", "HFN + Meta Pattern, Algorithm 1 as in the authors' code",
               config={"mode": "official"}),
        Method("erm", "HFN + Meta Pattern, end-to-end ERM of [Θ, Φ] (without OA)",
               algorithm="erm"),
        Method("rgb", "single-stream RGB network, ERM", algorithm="erm", phi="none",
               streams="rgb"),
        Method("mp-concat", "HFN + Meta Pattern with concatenation fusion, Algorithm 1",
               fusion="concat"),
        Method("erm-concat", "HFN + Meta Pattern with concatenation fusion, ERM",
               algorithm="erm", fusion="concat"),
    ]
    for name in MAP_NAMES:
        methods.append(Method(name, f"HFN + fixed {name} map (only Θ trains), ERM",
                              algorithm="erm", phi="map", phi_name=name))
        methods.append(Method(f"{name}-concat", f"HFN + fixed {name} map, concat fusion, ERM",
                              algorithm="erm", phi="map", phi_name=name, fusion="concat"))
    for name in EXTRACTORS:
        if name != "conv2":
            methods.append(Method(f"mp-{name}", f"HFN + Meta Pattern, {name} extractor",
                                  phi_name=name))
    for k in (1, 2, 4, 8):
        methods.append(Method(f"mp-k{k}", f"HFN + Meta Pattern, Algorithm 1 with K = {k}",
                              config={"inner_steps": k}))
    return {m.name: m for m in methods}


METHODS: dict[str, Method] = _registry()


def get_method(name: str) -> Method:
    """A registered method, with a clear error listing the known names."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {sorted(METHODS)}")
    return METHODS[name]


def build_phi(method: Method) -> nn.Module | None:
    """Φ of a method: learnable extractor, parameter-free handcrafted map, or None (RGB only)."""
    if method.phi == "none":
        return None
    if method.phi == "map":
        from mpfas_lib.features import build_map

        fixed = build_map(method.phi_name)
        fixed.requires_grad_(False)  # a handcrafted map is never trained (Table I)
        return fixed
    from mpfas_lib.models.extractor import build_extractor

    return build_extractor(method.phi_name)


def build_theta(method: Method, backbone: str, **hfn_kwargs: Any) -> nn.Module:
    """Θ of a method: the HFN with the method's fusion and streams."""
    from mpfas_lib.models.hfn import HFN

    kwargs = {"backbone": backbone, "fusion": method.fusion, "streams": method.streams}
    kwargs.update({k: v for k, v in hfn_kwargs.items() if v is not None})
    return HFN(**kwargs)
