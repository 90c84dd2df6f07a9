"""The meta pattern extractor Phi (Fig. 3) and its six ablation variants (Fig. 8)."""

import pytest
import torch

from mpfas_lib.models import (
    EXTRACTOR_NAMES,
    MetaPatternExtractor,
    build_extractor,
    count_parameters,
)
from mpfas_lib.models.cdc import CDConv2d


def test_default_extractor_is_conv2_with_351_parameters() -> None:
    phi = MetaPatternExtractor()
    assert count_parameters(phi) == 351
    assert count_parameters(build_extractor("conv2")) == 351
    kinds = [type(m).__name__ for m in phi.encoder]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "Sigmoid"]


@pytest.mark.parametrize("name", EXTRACTOR_NAMES)
def test_variants_shape_range_and_sizes(name: str) -> None:
    torch.manual_seed(0)
    phi = build_extractor(name)
    x = torch.rand(2, 3, 17, 23)
    y = phi(x)
    assert y.shape == x.shape
    assert float(y.detach().min()) > 0 and float(y.detach().max()) < 1
    assert count_parameters(phi) == {"1": 90, "2": 351, "3": 693}[name[-1]]
    n_cdc = sum(isinstance(m, CDConv2d) for m in phi.modules())
    assert n_cdc == (int(name[-1]) if name.startswith("cdc") else 0)
    y.sum().backward()
    assert all(p.grad is not None for p in phi.parameters())


def test_cdc_theta_is_passed_on() -> None:
    phi = build_extractor("cdc2", cdc_theta=0.3)
    assert all(m.cdc_theta == 0.3 for m in phi.modules() if isinstance(m, CDConv2d))


def test_bad_names_and_inputs() -> None:
    with pytest.raises(ValueError, match="unknown extractor"):
        build_extractor("conv4")
    with pytest.raises(ValueError, match="B, 3, H, W"):
        MetaPatternExtractor()(torch.rand(1, 1, 8, 8))
