"""ResNet trunks for the two HFN streams (paper Section III-B: ResNet-50 per stream)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck


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
