"""The Meta Pattern Extractor Phi (Section III-A, Fig. 3) and its CONV/CDC variants (Fig. 8)."""

from __future__ import annotations

from torch import Tensor, nn

from mpfas_lib.models.cdc import CDConv2d

EXTRACTOR_NAMES: tuple[str, ...] = ("conv1", "conv2", "conv3", "cdc1", "cdc2", "cdc3")

# Channel plan per depth: 3 -> ... -> 3. CONV2 is the paper's Fig. 3; CONV1 and CONV3 are
# this library's reading of the ablation (Fig. 8), which does not spell out their widths.
CHANNEL_PLANS: dict[int, tuple[int, ...]] = {1: (3, 3), 2: (3, 6, 3), 3: (3, 6, 6, 3)}


def _conv(in_ch: int, out_ch: int, conv: str, cdc_theta: float) -> nn.Module:
    """One 3x3, padding-1 convolution with bias, vanilla or central-difference."""
    if conv == "vanilla":
        return nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=True)
    return CDConv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=True, cdc_theta=cdc_theta)


class MetaPatternExtractor(nn.Module):
    """Phi: a shallow conv net mapping an RGB face to a 3-channel meta pattern in (0, 1) (Fig. 3).

    Layout: ``depth`` blocks of Conv3x3(pad 1, bias) -> BatchNorm; ReLU between blocks and
    Sigmoid at the end. Channels: depth 1 ``3->3`` (90 parameters), depth 2 ``3->6->3``
    (CONV2, the paper's and the authors' extractor, 351 parameters), depth 3 ``3->6->6->3``
    (693 parameters). ``conv="cdc"`` swaps every conv for :class:`CDConv2d` with the given
    ``cdc_theta`` (same parameter count). Output: [B, 3, H, W], same H x W as the input.
    """

    def __init__(self, depth: int = 2, conv: str = "vanilla", cdc_theta: float = 0.7) -> None:
        super().__init__()
        if depth not in CHANNEL_PLANS:
            raise ValueError(f"extractor depth must be one of {sorted(CHANNEL_PLANS)}, got {depth}")
        if conv not in ("vanilla", "cdc"):
            raise ValueError(f"extractor conv must be 'vanilla' or 'cdc', got {conv!r}")
        self.depth, self.conv, self.cdc_theta = depth, conv, cdc_theta
        plan = CHANNEL_PLANS[depth]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(plan[:-1], plan[1:], strict=True)):
            layers += [_conv(c_in, c_out, conv, cdc_theta), nn.BatchNorm2d(c_out)]
            layers.append(nn.Sigmoid() if i == depth - 1 else nn.ReLU())
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """The meta pattern Phi(x): [B, 3, H, W] in (0, 1)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"MetaPatternExtractor expects [B, 3, H, W], got {list(x.shape)}")
        return self.encoder(x)


def build_extractor(name: str = "conv2", cdc_theta: float = 0.7) -> MetaPatternExtractor:
    """One of the six extractors of the ablation (Fig. 8): conv1/2/3 or cdc1/2/3 (chapter 04)."""
    key = name.strip().lower()
    if key not in EXTRACTOR_NAMES:
        raise ValueError(f"unknown extractor {name!r}: choose one of {list(EXTRACTOR_NAMES)}")
    conv = "vanilla" if key.startswith("conv") else "cdc"
    return MetaPatternExtractor(depth=int(key[-1]), conv=conv, cdc_theta=cdc_theta)
