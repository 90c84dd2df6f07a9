"""The method registry: Algorithm 1 and every baseline and ablation of the paper's Section IV.

A :class:`Method` holds every setting that defines *what* is trained, whatever the scale: how Φ
is built (a learnable Meta Pattern extractor, a fixed handcrafted map or nothing), how Θ is
built (fusion, streams, input normalisation and colour order), which training frames it sees
and how they are augmented, which algorithm trains them and how a checkpoint is selected.
Sizes and step counts belong to the profile (:mod:`mpfas_lib.profile`), the data scope and the
initialisation's source of weights to the run and the profile
(:class:`mpfas_lib.training.config.RunConfig`). The complete configuration of the authors'
code is ``--config official.toml``: this registry's ``mp-official`` plus ``scope = "all"``.

=================  =========================================================================
name               what it trains
=================  =========================================================================
mp                 HFN + MP, Algorithm 1 (paper's form), CONV2 extractor, HFM fusion
mp-official        the authors' public code: Algorithm 1 in the code's form, the code's fusion
                   head, raw BGR input to the RGB stream, loss (MSE + CE) / 2, 2 training
                   frames per video (end frames included), horizontal flips, checkpoint
                   chosen on the target's frame-level minimum HTER
erm                HFN + MP trained end to end by ERM of [Θ, Φ] ("without OA", Fig. 7)
rgb                single-stream RGB network (no pattern), ERM
colorlbp ...       HFN + a fixed handcrafted map (one per ``features.MAP_NAMES``; Table I),
                   only Θ trains, ERM; ``<map>-concat`` with concatenation fusion
mp-concat          HFN + MP with concatenation instead of HFM (Fig. 6); ``erm-concat`` by ERM
mp-conv1 ...       extractor variants (one per ``models.EXTRACTOR_NAMES``; Fig. 8; mp = conv2)
mp-k1 ...          K = 1, 2, 4, 8 inner steps (Fig. 9; mp = K 4)
=================  =========================================================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from mpfas_lib.data.datasets import SPACINGS
from mpfas_lib.evaluation.selection import SELECTIONS
from mpfas_lib.features import MAP_NAMES, build_map
from mpfas_lib.models.extractor import EXTRACTOR_NAMES, build_extractor
from mpfas_lib.models.hfn import COLOUR_ORDERS, FUSIONS, HFN, NORMS, STREAMS, build_hfn
from mpfas_lib.profile import Profile
from mpfas_lib.training.algorithm1 import ALGORITHM1, ALGORITHMS, ERM, MODES, MetaSettings

PHI_KINDS = ("extractor", "map", "none")


@dataclass(frozen=True)
class Method:
    """How one method builds Φ and Θ, which algorithm trains them and how a run is selected."""

    name: str
    description: str
    algorithm: str = ALGORITHM1  # one of ALGORITHMS
    mode: str = "paper"  # Algorithm 1 as in the paper or "official" (the authors' code)
    phi: str = "extractor"  # "extractor", "map" or "none"
    phi_name: str = "conv2"  # extractor variant or handcrafted map name
    cdc_theta: float = 0.7  # the CDC constant of the cdc* extractors (not the network Θ)
    fusion: str = "hfm"
    streams: str = "both"
    rgb_norm: str = "imagenet"  # "none" feeds raw [0, 1] pixels (the authors' code)
    map_norm: str = "imagenet"
    rgb_order: str = "rgb"  # "bgr": the RGB stream sees OpenCV's channel order (the code)
    inner_steps: int = 4  # K of Algorithm 1
    theta_loss_scale: float = 1.0  # the code's Θ step minimises (MSE + CE) / 2
    weight_decay: float = 0.0
    train_frames: int = 0  # training frames kept per video; 0: every prepared frame
    frame_spacing: str = "centred"  # which frames, in training and test: "centred" or "ends"
    hflip: float = 0.0  # probability of a horizontal flip of each training image
    selection: str = "source_val"  # which evaluation results.json reports first

    def replace(self, **changes: Any) -> Method:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    @property
    def meta_learned(self) -> bool:
        """Whether Algorithm 1 trains this method (else ERM does)."""
        return self.algorithm == ALGORITHM1

    def hfn_settings(self, profile: Profile) -> dict[str, Any]:
        """The keywords of this method's Θ (:func:`~mpfas_lib.models.hfn.build_hfn`): fusion,
        streams, norms, colour order, and the profile's initialisation."""
        return {"fusion": self.fusion, "streams": self.streams, "rgb_norm": self.rgb_norm,
                "map_norm": self.map_norm, "rgb_order": self.rgb_order,
                "pretrained": profile.pretrained}

    def meta_settings(self, lr: float) -> MetaSettings | None:
        """What Algorithm 1's step needs: this method's K, form and loss scale, the profile's α."""
        if not self.meta_learned:
            return None
        return MetaSettings(self.inner_steps, lr, self.mode, self.theta_loss_scale)

    def validate(self) -> None:
        """Refuse settings that no run can use, or that contradict each other."""
        choices = {"algorithm": ALGORITHMS, "mode": MODES, "phi": PHI_KINDS, "fusion": FUSIONS,
                   "streams": tuple(STREAMS), "rgb_norm": NORMS, "map_norm": NORMS,
                   "rgb_order": COLOUR_ORDERS, "frame_spacing": SPACINGS,
                   "selection": SELECTIONS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"method {self.name}: {key} must be one of {list(allowed)}, "
                                 f"got {getattr(self, key)!r}")
        names = {"extractor": EXTRACTOR_NAMES, "map": MAP_NAMES}.get(self.phi)
        if names is not None and self.phi_name not in names:
            raise ValueError(f"method {self.name}: phi_name must be one of {list(names)} when "
                             f"phi={self.phi!r}, got {self.phi_name!r}")
        if self.meta_learned and self.phi != "extractor":
            raise ValueError(f"method {self.name}: Algorithm 1 (algorithm={ALGORITHM1!r}) needs a "
                             f"learnable extractor (phi='extractor'), got phi={self.phi!r}")
        if self.mode == "official" and not self.meta_learned:
            raise ValueError(f"method {self.name}: mode='official' is a form of Algorithm 1 and "
                             f"needs algorithm={ALGORITHM1!r}")
        if (self.phi == "none") != (self.streams == "rgb"):
            raise ValueError(f"method {self.name}: phi='none' goes with streams='rgb' (no "
                             f"pattern stream), got phi={self.phi!r}, streams={self.streams!r}")
        if self.inner_steps < 1:
            raise ValueError(f"method {self.name}: inner_steps (K) must be >= 1, got "
                             f"{self.inner_steps}")
        if not 0.0 <= self.cdc_theta <= 1.0:
            raise ValueError(f"method {self.name}: cdc_theta must lie in [0, 1], got "
                             f"{self.cdc_theta}")
        if self.theta_loss_scale <= 0 or self.weight_decay < 0:
            raise ValueError(f"method {self.name}: need theta_loss_scale > 0 and "
                             "weight_decay >= 0")
        if self.train_frames < 0:
            raise ValueError(f"method {self.name}: train_frames must be >= 0 (0: every "
                             f"frame), got {self.train_frames}")
        if not 0.0 <= self.hflip <= 1.0:
            raise ValueError(f"method {self.name}: hflip is a probability in [0, 1], got "
                             f"{self.hflip}")


def _registry() -> dict[str, Method]:
    methods = [
        Method("mp", "HFN + Meta Pattern, Algorithm 1 (paper)"),
        # REFERENCE section 4 and chapter 10: everything the authors' public code trains
        # differently (its data scope is the run setting scope="all", see official.toml)
        Method("mp-official", "HFN + Meta Pattern, as in the authors' public code",
               mode="official", fusion="official", rgb_norm="none", rgb_order="bgr",
               theta_loss_scale=0.5, train_frames=2, frame_spacing="ends", hflip=0.5,
               selection="target_frame_min_hter"),
        Method("erm", "HFN + Meta Pattern, end-to-end ERM of [Θ, Φ] (without OA)",
               algorithm=ERM),
        Method("rgb", "single-stream RGB network, ERM", algorithm=ERM, phi="none",
               streams="rgb"),
        Method("mp-concat", "HFN + Meta Pattern with concatenation fusion, Algorithm 1",
               fusion="concat"),
        Method("erm-concat", "HFN + Meta Pattern with concatenation fusion, ERM",
               algorithm=ERM, fusion="concat"),
    ]
    for name in MAP_NAMES:
        methods.append(Method(name, f"HFN + fixed {name} map (only Θ trains), ERM",
                              algorithm=ERM, phi="map", phi_name=name))
        methods.append(Method(f"{name}-concat", f"HFN + fixed {name} map, concat fusion, ERM",
                              algorithm=ERM, phi="map", phi_name=name, fusion="concat"))
    default = Method("", "").phi_name
    for name in EXTRACTOR_NAMES:
        if name != default:
            methods.append(Method(f"mp-{name}", f"HFN + Meta Pattern, {name} extractor",
                                  phi_name=name))
    for k in (1, 2, 4, 8):
        methods.append(Method(f"mp-k{k}", f"HFN + Meta Pattern, Algorithm 1 with K = {k}",
                              inner_steps=k))
    return {m.name: m for m in methods}


METHODS: dict[str, Method] = _registry()


def get_method(name: str) -> Method:
    """A registered method, with a clear error listing the known names (chapter 05)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {sorted(METHODS)}")
    return METHODS[name]


def build_phi(method: Method) -> nn.Module | None:
    """Φ of a method: learnable extractor, parameter-free handcrafted map, or None (RGB only)."""
    if method.phi == "extractor":
        return build_extractor(method.phi_name, cdc_theta=method.cdc_theta)
    if method.phi == "map":
        fixed = build_map(method.phi_name)
        fixed.requires_grad_(False)  # a handcrafted map is never trained (Table I)
        return fixed
    if method.phi == "none":
        return None  # the RGB-only network
    raise ValueError(f"method {method.name}: phi must be one of {list(PHI_KINDS)}, got "
                     f"{method.phi!r}")


def build_theta(method: Method, profile: Profile) -> HFN:
    """Θ of a method: the profile's HFN with the method's fusion, streams, norms and order."""
    settings = method.hfn_settings(profile)
    return build_hfn(profile, **settings)


def build_models(method: Method, profile: Profile) -> tuple[nn.Module | None, HFN]:
    """Φ and Θ of a method at a profile's scale: runs and chapters build them here (chapter 06)."""
    return build_phi(method), build_theta(method, profile)
