"""ColorLBP map (paper Table I): LBP (P = 8, R = 1) per colour channel, kept as a 2D map."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

P_NEIGHBOURS = 8
RADIUS = 1.0


def _offsets(p: int = P_NEIGHBOURS, r: float = RADIUS) -> list[tuple[float, float]]:
    """Neighbour offsets (row, col) in scikit-image's order: angle 2*pi*i/P, rows upward."""
    out = []
    for i in range(p):
        a = 2 * math.pi * i / p
        out.append((round(-r * math.sin(a), 5), round(r * math.cos(a), 5)))
    return out


def _axis_weights(n: int, offset: float, device: torch.device) -> tuple[int, int, Tensor]:
    """floor/ceil shifts and interpolation weight d = pos - floor(pos) along one axis (float64)."""
    pos = torch.arange(n, dtype=torch.float64, device=device) + offset
    low = torch.floor(pos)
    d = pos - low  # computed exactly as scikit-image does, so rounding matches bit for bit
    lo_shift = int(math.floor(offset))
    hi_shift = int(math.ceil(offset))
    return lo_shift, hi_shift, d


def local_binary_pattern(gray: Tensor) -> Tensor:
    """LBP codes (P = 8, R = 1, 'default' method) of [B, C, H, W] float64 images, zero border
    (chapter 03).

    Bit i is set when the neighbour at angle 2*pi*i/P (bilinearly interpolated for the
    diagonals) is >= the centre, as ``skimage.feature.local_binary_pattern(img, 8, 1)``;
    pixels outside the image read as 0 (scikit-image's constant mode).
    """
    b, c, h, w = gray.shape
    padded = F.pad(gray, (1, 1, 1, 1))

    def shifted(dr: int, dc: int) -> Tensor:
        return padded[:, :, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    codes = torch.zeros_like(gray)
    for i, (rp, cp) in enumerate(_offsets()):
        r_lo, r_hi, dr = _axis_weights(h, rp, gray.device)
        c_lo, c_hi, dc = _axis_weights(w, cp, gray.device)
        dr = dr.view(1, 1, h, 1)
        dc = dc.view(1, 1, 1, w)
        top = (1 - dc) * shifted(r_lo, c_lo) + dc * shifted(r_lo, c_hi)
        bottom = (1 - dc) * shifted(r_hi, c_lo) + dc * shifted(r_hi, c_hi)
        value = (1 - dr) * top + dr * bottom
        codes = codes + (value - gray >= 0).to(gray.dtype) * float(2**i)
    return codes


class ColorLBP(nn.Module):
    """ColorLBP: the LBP code map of each of R, G, B divided by 255, [B,3,H,W] -> [B,3,H,W].

    Inputs in [0, 1] are quantised to 8-bit levels (round(255 x)) before coding, so a uint8
    image gives exactly scikit-image's codes. Runs batched on any device (float64 inside).
    """

    def forward(self, x: Tensor) -> Tensor:
        levels = torch.round(x.detach().to(torch.float64) * 255.0)
        return (local_binary_pattern(levels) / 255.0).to(x.dtype)
