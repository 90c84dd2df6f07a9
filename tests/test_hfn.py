"""The Hierarchical Fusion Network Theta (Section III-B, Fig. 2, Eq. 9) and its options."""

from pathlib import Path

import pytest
import torch
from torch import nn

from mpfas_lib.models import (
    FUSIONS,
    HFN,
    HFNOutput,
    MetaPatternExtractor,
    PretrainedWeightsError,
    build_hfn,
    count_parameters,
    hfn_loss,
    parameter_table,
)
from mpfas_lib.models.backbones import build_trunk
from mpfas_lib.models.hfn import HierarchicalFusion
from mpfas_lib.profile import get_profile

QUICK = "resnet18-w16"



def _batch(size: int = 64, n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)


def test_official_resnet50_has_the_authors_parameter_count() -> None:
    model = HFN("resnet50", fusion="official")
    assert count_parameters(model) == 62_126_467
    rows = dict(parameter_table(model, extractor=MetaPatternExtractor()))
    assert rows["rgb trunk"] == rows["map trunk"] == 23_508_032
    assert rows["fusion"] == 2 * (131_328 + 262_400 + 524_544) + 4 * 590_080
    assert rows["pixel head"] == 295_040 + 129
    assert rows["classifier"] == 2 * (4_718_848 + 590_080) + 514
    assert rows["extractor"] == 351
    assert rows["total"] == 62_126_467 + 351


def test_parameter_table_of_any_module() -> None:
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    assert parameter_table(seq) == [("0", 16), ("1", 5), ("total", 21)]
    assert count_parameters(seq, trainable_only=True) == 21


@pytest.mark.parametrize("fusion", FUSIONS)
def test_resnet50_backward_at_small_input(fusion: str) -> None:
    """Full-profile trunk, every fusion, at a CPU-friendly 32 px (pixel map 4x4)."""
    torch.manual_seed(0)
    model = HFN("resnet50", fusion=fusion)
    rgb, mp = _batch(32, 2)
    out = model(rgb, mp)
    assert out.logits.shape == (2, 2) and out.pixel_map.shape == (2, 1, 4, 4)
    hfn_loss(out, torch.tensor([0, 1])).backward()
    assert model.trunks["map"].conv1.weight.grad is not None


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("streams", ["both", "rgb", "map"])
def test_every_fusion_and_stream_option_trains(fusion: str, streams: str) -> None:
    torch.manual_seed(0)
    model = HFN(QUICK, fusion=fusion, streams=streams)
    rgb, mp = _batch(64, 2)
    out = model(rgb, mp if streams != "rgb" else None)
    assert isinstance(out, HFNOutput)
    assert out.logits.shape == (2, 2)
    assert out.pixel_map.shape == (2, 1, 8, 8)
    pm = out.pixel_map.detach()
    assert float(pm.min()) > 0 and float(pm.max()) < 1
    hfn_loss(out, torch.tensor([1, 0])).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert set(model.trunks) == ({"rgb", "map"} if streams == "both" else {streams})


def test_pixel_map_is_stride_8() -> None:
    out = HFN(QUICK).eval()(*_batch(96, 1))
    assert out.pixel_map.shape == (1, 1, 12, 12)


def test_gradients_reach_the_extractor_through_theta() -> None:
    torch.manual_seed(0)
    phi, theta = MetaPatternExtractor(), HFN(QUICK)
    x, _ = _batch(64, 4)
    hfn_loss(theta(x, phi(x)), torch.tensor([1, 0, 1, 0])).backward()
    grads = [p.grad for p in phi.parameters()]
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads)


def test_eq9_by_hand_on_a_tiny_example() -> None:
    """m1 = a t3 + b b3 + ..., m2 = a' t2 + b' b2 + U[C(m1)], m3 = ... + U[C(m2)], 1 channel."""
    fusion = HierarchicalFusion((1, 1, 1), 1, ("rgb", "map"))
    scales = {"rgb": (1.0, 2.0, 3.0), "map": (-1.0, 0.5, 4.0)}  # per level: layer2, 3, 4
    with torch.no_grad():
        for s, ks in scales.items():
            for conv, k in zip(fusion.align[s], ks, strict=True):
                conv.weight.fill_(k)
                conv.bias.fill_(0.1)
        for conv, k in zip(fusion.carry, (10.0, 100.0), strict=True):  # C on m2 (from 3), m1
            conv.weight.zero_()
            conv.weight[0, 0, 1, 1] = k  # a centred delta: C(m) = k m + 0.5
            conv.bias.fill_(0.5)
    g = torch.Generator().manual_seed(3)
    t = [torch.randn(1, 1, n, n, generator=g) for n in (4, 2, 1)]
    b = [torch.randn(1, 1, n, n, generator=g) for n in (4, 2, 1)]
    out = fusion({"rgb": tuple(t), "map": tuple(b)})

    def c(level: int) -> torch.Tensor:
        return (scales["rgb"][level] * t[level] + 0.1) + (scales["map"][level] * b[level] + 0.1)

    m1 = c(2)  # layer4, 1x1
    m2 = c(1) + (100.0 * m1 + 0.5).expand(1, 1, 2, 2)  # nearest upsampling of a 1x1 map
    up = (10.0 * m2 + 0.5).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    m3 = c(0) + up
    torch.testing.assert_close(out, m3)


def test_official_fusion_streams_share_the_averaged_map() -> None:
    """The code's per-stream 3x3 convs on one averaged map equal one averaged conv."""
    torch.manual_seed(0)
    model = HFN(QUICK, fusion="official").eval()
    fusion = model.fusion
    merged = HFN(QUICK, fusion="official", streams="rgb").eval().fusion
    with torch.no_grad():
        for level in range(2):
            for name in ("weight", "bias"):
                avg = (getattr(fusion.top["rgb"][level], name) + getattr(fusion.top["map"][level],
                                                                         name)) / 2
                getattr(merged.top["rgb"][level], name).copy_(avg)
    feats = {s: model.trunks[s](torch.rand(1, 3, 64, 64)) for s in ("rgb", "map")}
    lat_avg = {}
    with torch.no_grad():
        for level in range(3):
            lat_avg[level] = [(fusion.lateral["rgb"][level](feats["rgb"][level])
                               + fusion.lateral["map"][level](feats["map"][level])) / 2]
        full = fusion(feats)
        # Feed the averaged laterals through the single-path fusion with identity laterals.
        p = lat_avg[2][0]
        for level in (1, 0):
            x = nn.functional.interpolate(p, size=lat_avg[level][0].shape[-2:]) + lat_avg[level][0]
            p = merged.top["rgb"][level](x)
    torch.testing.assert_close(full, p, rtol=1e-5, atol=1e-5)


def test_determinism_under_a_seed() -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = HFN(QUICK)
        outs.append(model(*_batch(64, 2)))
    torch.testing.assert_close(outs[0].logits, outs[1].logits)
    torch.testing.assert_close(outs[0].pixel_map, outs[1].pixel_map)


def test_input_normalisation_is_configurable() -> None:
    torch.manual_seed(0)
    raw = HFN(QUICK, streams="rgb", rgb_norm="none").eval()
    norm = HFN(QUICK, streams="rgb", rgb_norm="imagenet").eval()
    norm.load_state_dict(raw.state_dict())
    x, _ = _batch(64, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(norm(x).logits, raw((x - mean) / std).logits)


def test_build_hfn_uses_the_profile_backbone() -> None:
    model = build_hfn(get_profile("quick"), fusion="concat")
    assert model.backbone == "resnet18-w16" and model.fusion_name == "concat"


def test_pretrained_from_a_local_file(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = HFN("resnet18", fusion="hfm", pretrained=path)
    for trunk in model.trunks.values():
        torch.testing.assert_close(trunk.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
        torch.testing.assert_close(trunk.bn1.running_var, reference.bn1.running_var)


def test_pretrained_imagenet_reads_torchvision_cache(tmp_path: Path, monkeypatch) -> None:
    """pretrained="imagenet" goes through torchvision's weights API and its local cache."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    cached = tmp_path / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), cached)
    model = HFN("resnet18", streams="rgb", pretrained="imagenet")
    torch.testing.assert_close(model.trunks["rgb"].conv1.weight, reference.conv1.weight)


def test_pretrained_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(PretrainedWeightsError, match="nope.pth"):
        HFN(QUICK, pretrained=missing)
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a checkpoint")
    with pytest.raises(PretrainedWeightsError, match="garbage.pth"):
        HFN(QUICK, pretrained=garbage)
    other = tmp_path / "w16.pth"
    torch.save(build_trunk(QUICK).state_dict(), other)
    with pytest.raises(PretrainedWeightsError, match="w16.pth.*do not match"):
        HFN("resnet18", pretrained=other)
    with pytest.raises(PretrainedWeightsError, match="no ImageNet weights"):
        HFN(QUICK, pretrained="imagenet")


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="fusion"):
        HFN(QUICK, fusion="sum")
    with pytest.raises(ValueError, match="backbone"):
        HFN("vgg16")
    with pytest.raises(ValueError, match="map"):
        HFN(QUICK)(torch.rand(1, 3, 64, 64), None)
