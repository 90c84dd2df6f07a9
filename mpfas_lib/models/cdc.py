"""Central difference convolution (Yu et al., CVPR 2020) for the CDC1/2/3 extractors (Fig. 8)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CDConv2d(nn.Conv2d):
    """Central difference convolution: y(p0) = sum_n w(p_n) (x(p0 + p_n) - θ_cdc x(p0)) + b
    (chapter 04).

    Implemented as a vanilla convolution minus ``cdc_theta`` times a 1x1 convolution whose
    kernel is the spatial sum of ``w`` (Yu et al., CVPR 2020, Eq. 2-3). ``cdc_theta = 0`` is a
    plain ``nn.Conv2d``; ``cdc_theta = 1`` keeps only the central differences. Zero padding is
    part of the definition (a padded neighbour contributes ``w * (0 - cdc_theta * x(p0))``).
    The bias, when present, is added once and is not scaled by ``1 - cdc_theta`` (the authors'
    CDC code subtracts it ``cdc_theta`` times too; the paper's formula has no bias).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        padding: int = 1,
        stride: int = 1,
        bias: bool = False,
        cdc_theta: float = 0.7,
    ) -> None:
        if kernel_size % 2 != 1 or padding != kernel_size // 2:
            raise ValueError(
                f"CDConv2d needs an odd kernel centred on p0 (padding = kernel_size // 2); "
                f"got kernel_size={kernel_size}, padding={padding}"
            )
        if not 0.0 <= cdc_theta <= 1.0:
            raise ValueError(f"CDConv2d cdc_theta must lie in [0, 1], got {cdc_theta}")
        super().__init__(in_ch, out_ch, kernel_size, stride=stride, padding=padding, bias=bias)
        self.cdc_theta = float(cdc_theta)

    def forward(self, x: Tensor) -> Tensor:
        """Vanilla response minus cdc_theta * x(p0) * sum(w) (central difference term)."""
        out = super().forward(x)
        if self.cdc_theta == 0.0:
            return out
        kernel_sum = self.weight.sum(dim=(2, 3), keepdim=True)
        center = F.conv2d(x, kernel_sum, bias=None, stride=self.stride, padding=0)
        return out - self.cdc_theta * center

    def extra_repr(self) -> str:
        return super().extra_repr() + f", cdc_theta={self.cdc_theta}"


def cdc_reference(x: Tensor, weight: Tensor, bias: Tensor | None, cdc_theta: float) -> Tensor:
    """Direct per-pixel evaluation of the CDC definition (stride 1, zero padding); for tests
    (chapter 04)."""
    b, c_in, h, w = x.shape
    c_out, _, k, _ = weight.shape
    r = k // 2
    out = torch.zeros(b, c_out, h, w, dtype=x.dtype)
    for n in range(b):
        for o in range(c_out):
            for i in range(h):
                for j in range(w):
                    acc = 0.0 if bias is None else float(bias[o])
                    for c in range(c_in):
                        centre = float(x[n, c, i, j])
                        for di in range(-r, r + 1):
                            for dj in range(-r, r + 1):
                                ii, jj = i + di, j + dj
                                inside = 0 <= ii < h and 0 <= jj < w
                                val = float(x[n, c, ii, jj]) if inside else 0.0
                                w_n = float(weight[o, c, di + r, dj + r])
                                acc += w_n * (val - cdc_theta * centre)
                    out[n, o, i, j] = acc
    return out
