"""The two-stream Hierarchical Fusion Network Theta (paper Section III-B, Fig. 2, Eq. 9).

Shapes: ``forward(rgb [B,3,H,W], pattern [B,3,H,W]) -> HFNOutput(logits [B,2], pixel_map
[B,1,H/8,W/8])``. The pixel map comes from the stride-8 (layer2) hierarchy: 32x32 at the
paper's 256 px input, 8x8 at the quick profile's 64 px (``Profile.map_size``; sides that are
not multiples of 32 still work, the map side is then ceil(H/8)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mpfas_lib.models.backbones import (
    backbone_spec,
    build_trunk,
    load_trunk_weights,
    resolve_pretrained,
)
from mpfas_lib.profile import Profile

FUSIONS: tuple[str, ...] = ("hfm", "concat", "official")
STREAMS: dict[str, tuple[str, ...]] = {"both": ("rgb", "map"), "rgb": ("rgb",), "map": ("map",)}
NORMS: tuple[str, ...] = ("imagenet", "none")
COLOUR_ORDERS: tuple[str, ...] = ("rgb", "bgr")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class HFNOutput(NamedTuple):
    """What Theta predicts: the binary vector (as 2 logits) and the pixel map (Eq. 10-11)."""

    logits: Tensor  # [B, 2]; softmax[:, 1] is the genuine probability s1
    pixel_map: Tensor  # [B, 1, S, S] in (0, 1), S = input side / 8


def _up(x: Tensor, like: Tensor) -> Tensor:
    """U in Eq. 9: nearest-neighbour upsampling to the spatial size of ``like``."""
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class InputNorm(nn.Module):
    """Per-stream input: channel order (RGB, or reversed to BGR first), then ImageNet mean/std
    or identity."""

    def __init__(self, kind: str, order: str = "rgb") -> None:
        super().__init__()
        if kind not in NORMS:
            raise ValueError(f"normalisation must be one of {list(NORMS)}, got {kind!r}")
        if order not in COLOUR_ORDERS:
            raise ValueError(f"colour order must be one of {list(COLOUR_ORDERS)}, got {order!r}")
        self.kind, self.order = kind, order
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.order == "bgr":
            x = x.flip(1)
        return (x - self.mean) / self.std if self.kind == "imagenet" else x


class HierarchicalFusion(nn.Module):
    """HFM, Eq. 9: m_i = C(m^t_i) + C(m^b_i) + U[C(m_{i-1})], m_0 = 0, deepest level first.

    Per stream and hierarchy, C is a 1x1 conv (with bias) aligning the stream's channels to
    ``channels``; on the previous fused map C is a 3x3 conv (with bias; channels are already
    aligned, the 3x3 kernel smooths like FPN's top-down convs). Returns m_3 (stride 8).
    """

    def __init__(
        self, in_channels: tuple[int, ...], channels: int, streams: tuple[str, ...]
    ) -> None:
        super().__init__()
        self.streams = streams
        self.align = nn.ModuleDict(
            {s: nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels) for s in streams}
        )
        # carry[j] is C applied to the fused map of level j+1 before upsampling (levels 3, 2).
        self.carry = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=1) for _ in range(len(in_channels) - 1)
        )

    def forward(self, feats: dict[str, tuple[Tensor, ...]]) -> Tensor:
        n = len(next(iter(feats.values())))
        fused: Tensor | None = None
        for level in reversed(range(n)):  # layer4 (i = 1) ... layer2 (i = 3)
            m = sum(self.align[s][level](feats[s][level]) for s in self.streams)
            if fused is not None:
                m = m + _up(self.carry[level](fused), m)
            fused = m
        assert fused is not None
        return fused


class ConcatFusion(nn.Module):
    """Concatenation ablation (DC-CDN style, Fig. 6): concat streams per hierarchy, then levels.

    At each hierarchy the streams' maps are concatenated along channels and a 1x1 conv aligns
    them to ``channels``; the three aligned maps are upsampled (nearest) to stride 8,
    concatenated and a 1x1 conv fuses them to ``channels`` (no progressive fusion).
    """

    def __init__(
        self, in_channels: tuple[int, ...], channels: int, streams: tuple[str, ...]
    ) -> None:
        super().__init__()
        self.streams = streams
        self.align = nn.ModuleList(nn.Conv2d(c * len(streams), channels, 1) for c in in_channels)
        self.merge = nn.Conv2d(channels * len(in_channels), channels, 1)

    def forward(self, feats: dict[str, tuple[Tensor, ...]]) -> Tensor:
        n = len(next(iter(feats.values())))
        levels = [
            self.align[i](torch.cat([feats[s][i] for s in self.streams], dim=1)) for i in range(n)
        ]
        finest = levels[0]
        return self.merge(torch.cat([finest] + [_up(m, finest) for m in levels[1:]], dim=1))


class OfficialFusion(nn.Module):
    """The authors' code's fusion (TwoStreamFPN): average of per-stream 1x1 laterals.

    p5 = avg_s lat5_s(c5_s); p4 = avg_s top1_s(U(p5) + avg_s lat4_s(c4_s));
    p3 = avg_s top2_s(U(p4) + avg_s lat3_s(c3_s)). Both streams' 3x3 ``top`` convs see the
    same averaged map, so together they act as one conv with averaged weights.
    """

    def __init__(
        self, in_channels: tuple[int, ...], channels: int, streams: tuple[str, ...]
    ) -> None:
        super().__init__()
        self.streams = streams
        self.lateral = nn.ModuleDict(
            {s: nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels) for s in streams}
        )
        self.top = nn.ModuleDict(
            {
                s: nn.ModuleList(
                    nn.Conv2d(channels, channels, 3, padding=1) for _ in range(len(in_channels) - 1)
                )
                for s in streams
            }
        )

    def _avg(self, parts: list[Tensor]) -> Tensor:
        return torch.stack(parts).mean(dim=0)

    def forward(self, feats: dict[str, tuple[Tensor, ...]]) -> Tensor:
        n = len(next(iter(feats.values())))
        p = self._avg([self.lateral[s][n - 1](feats[s][n - 1]) for s in self.streams])
        for level in reversed(range(n - 1)):
            lat = self._avg([self.lateral[s][level](feats[s][level]) for s in self.streams])
            x = _up(p, lat) + lat
            p = self._avg([self.top[s][level](x) for s in self.streams])
        return p


class PixelMapHead(nn.Module):
    """Pixel-map head on the last fused map: 3x3 conv D->D/2, ReLU, 1x1 conv ->1, sigmoid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels // 2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // 2, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PooledClassifier(nn.Module):
    """Paper's classifier: global-average-pooled ends of the streams, concatenated, FC -> 2."""

    def __init__(self, in_channels: int, streams: tuple[str, ...]) -> None:
        super().__init__()
        self.streams = streams
        self.fc = nn.Linear(in_channels * len(streams), 2)

    def forward(self, ends: dict[str, Tensor]) -> Tensor:
        pooled = [F.adaptive_avg_pool2d(ends[s], 1).flatten(1) for s in self.streams]
        return self.fc(torch.cat(pooled, dim=1))


class OfficialClassifier(nn.Module):
    """The authors' classifier: per stream conv6 (3x3/2) -> ReLU -> conv7 (3x3/2), averaged,
    global average pool, Linear(D, 2)."""

    def __init__(self, in_channels: int, channels: int, streams: tuple[str, ...]) -> None:
        super().__init__()
        self.streams = streams
        self.conv6 = nn.ModuleDict(
            {s: nn.Conv2d(in_channels, channels, 3, stride=2, padding=1) for s in streams}
        )
        self.conv7 = nn.ModuleDict(
            {s: nn.Conv2d(channels, channels, 3, stride=2, padding=1) for s in streams}
        )
        self.fc = nn.Linear(channels, 2)

    def forward(self, ends: dict[str, Tensor]) -> Tensor:
        p7 = torch.stack(
            [self.conv7[s](F.relu(self.conv6[s](ends[s]))) for s in self.streams]
        ).mean(dim=0)
        return self.fc(F.adaptive_avg_pool2d(p7, 1).flatten(1))


class HFN(nn.Module):
    """Theta: two identical ResNet streams (RGB, meta pattern) fused hierarchically (Fig. 2)
    (chapter 05).

    Args:
        backbone: trunk of each stream (``resnet50`` full profile, ``resnet18``,
            ``resnet18-w16`` quick profile); taps layer2/3/4 (strides 8/16/32).
        fusion: ``"hfm"`` (Eq. 9, default), ``"concat"`` (Fig. 6 ablation) or ``"official"``
            (the authors' code: averaged laterals, 62,126,467 parameters with ResNet-50).
        streams: ``"both"``, ``"rgb"`` (RGB-only baseline) or ``"map"`` (map-only baseline).
        rgb_norm, map_norm: ``"imagenet"`` or ``"none"`` per stream. The paper does not say how
            the streams are normalised; our default normalises both with ImageNet statistics.
            The authors' code feeds raw [0, 1] pixels in OpenCV's BGR order to the RGB stream
            and ImageNet-normalises only the map: ``rgb_norm="none", rgb_order="bgr"``.
        rgb_order: ``"rgb"`` (default) or ``"bgr"``: the RGB stream's channels are reversed
            before its normalisation, as OpenCV hands them to the authors' network.
        pretrained: None (random init, default), ``"imagenet"`` (torchvision's weights API,
            which reads its local cache first) or a path to a local ResNet state dict; loaded
            into every trunk.
        fusion_channels: channels D of the fused maps (default 256; 64 for ``resnet18-w16``).
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        fusion: str = "hfm",
        streams: str = "both",
        rgb_norm: str = "imagenet",
        map_norm: str = "imagenet",
        rgb_order: str = "rgb",
        pretrained: str | Path | None = None,
        fusion_channels: int | None = None,
    ) -> None:
        super().__init__()
        spec = backbone_spec(backbone)
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}: choose one of {list(FUSIONS)}")
        if streams not in STREAMS:
            raise ValueError(f"unknown streams {streams!r}: choose one of {list(STREAMS)}")
        weights = resolve_pretrained(pretrained, backbone)  # reads a file: no random numbers
        self.backbone, self.fusion_name, self.stream_mode = backbone, fusion, streams
        self.streams = STREAMS[streams]
        d = fusion_channels or spec.fusion_channels
        self.norms = nn.ModuleDict({"rgb": InputNorm(rgb_norm, rgb_order),
                                    "map": InputNorm(map_norm)})
        self.trunks = nn.ModuleDict({s: build_trunk(backbone) for s in self.streams})
        if weights is not None:
            state, source = weights
            for trunk in self.trunks.values():
                load_trunk_weights(trunk, state, source)
        chans = self.trunks[self.streams[0]].channels
        if fusion == "hfm":
            self.fusion: nn.Module = HierarchicalFusion(chans, d, self.streams)
            self.classifier: nn.Module = PooledClassifier(chans[-1], self.streams)
        elif fusion == "concat":
            self.fusion = ConcatFusion(chans, d, self.streams)
            self.classifier = PooledClassifier(chans[-1], self.streams)
        else:
            self.fusion = OfficialFusion(chans, d, self.streams)
            self.classifier = OfficialClassifier(chans[-1], d, self.streams)
        self.pixel_head = PixelMapHead(d)

    def forward(self, rgb: Tensor | None, pattern: Tensor | None = None) -> HFNOutput:
        """Theta(rgb, pattern) -> HFNOutput(logits [B, 2], pixel_map [B, 1, H/8, W/8]).

        ``pattern`` is the map stream's input: the meta pattern Phi(rgb), or a handcrafted
        map f(rgb) in the hybrid baselines; a single-stream HFN needs only its own input.
        """
        inputs = {"rgb": rgb, "map": pattern}
        feats = {}
        for s in self.streams:
            x = inputs[s]
            if x is None:
                raise ValueError(f"HFN(streams={self.stream_mode!r}) needs the {s!r} input")
            if x.dim() != 4 or x.shape[1] != 3:
                raise ValueError(f"HFN {s!r} input must be [B, 3, H, W], got {list(x.shape)}")
            feats[s] = self.trunks[s](self.norms[s](x))
        pixel_map = self.pixel_head(self.fusion(feats))
        logits = self.classifier({s: f[-1] for s, f in feats.items()})
        return HFNOutput(logits, pixel_map)

    def parts(self) -> dict[str, nn.Module]:
        """The named parts of Theta, for parameter tables (Section III-B)."""
        out: dict[str, nn.Module] = {f"{s} trunk": t for s, t in self.trunks.items()}
        out.update(fusion=self.fusion, **{"pixel head": self.pixel_head},
                   classifier=self.classifier)
        return out


def build_hfn(profile: Profile, **overrides: Any) -> HFN:
    """The HFN for a profile (``profile.backbone``); keyword overrides go to :class:`HFN`
    (chapter 05)."""
    kwargs: dict[str, Any] = {"backbone": profile.backbone}
    kwargs.update(overrides)
    return HFN(**kwargs)
