"""HSV and YCrCb colour-space maps (colour texture baselines of FAS, e.g. Boulkenafet et al.)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def rgb_to_hsv(x: Tensor) -> Tensor:
    """RGB in [0, 1] -> (H / 360, S, V) in [0, 1], OpenCV's float convention."""
    r, g, b = x.unbind(dim=1)
    v, _ = x.max(dim=1)
    mn, _ = x.min(dim=1)
    delta = v - mn
    s = torch.where(v > 0, delta / v.clamp_min(1e-12), torch.zeros_like(v))
    safe = delta.clamp_min(1e-12)
    h = torch.where(
        v == r,
        60.0 * (g - b) / safe,
        torch.where(v == g, 120.0 + 60.0 * (b - r) / safe, 240.0 + 60.0 * (r - g) / safe),
    )
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    h = torch.where(h < 0, h + 360.0, h)
    return torch.stack([h / 360.0, s, v], dim=1).clamp(0.0, 1.0)


def rgb_to_ycrcb(x: Tensor) -> Tensor:
    """RGB in [0, 1] -> (Y, Cr, Cb) in [0, 1] (ITU-R BT.601, OpenCV's float convention)."""
    r, g, b = x.unbind(dim=1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr = (r - y) * 0.713 + 0.5
    cb = (b - y) * 0.564 + 0.5
    return torch.stack([y, cr, cb], dim=1).clamp(0.0, 1.0)


class HSVMap(nn.Module):
    """HSV map: hue (scaled by 1/360), saturation, value, each in [0, 1]."""

    def forward(self, x: Tensor) -> Tensor:
        return rgb_to_hsv(x)


class YCrCbMap(nn.Module):
    """YCrCb map: luma and the two chroma differences, each in [0, 1]."""

    def forward(self, x: Tensor) -> Tensor:
        return rgb_to_ycrcb(x)
