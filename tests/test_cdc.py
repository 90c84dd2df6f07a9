"""Central difference convolution against its definition (Yu et al., CVPR 2020)."""

import pytest
import torch
from torch import nn

from mpfas_lib.models.cdc import CDConv2d, cdc_reference


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("theta", [0.0, 0.5, 0.7, 1.0])
def test_cdc_matches_per_pixel_definition(theta: float, bias: bool) -> None:
    torch.manual_seed(0)
    conv = CDConv2d(2, 3, bias=bias, cdc_theta=theta).double()
    x = torch.randn(2, 2, 5, 4, dtype=torch.float64)
    expected = cdc_reference(x, conv.weight.detach(), None if conv.bias is None else
                             conv.bias.detach(), theta)
    torch.testing.assert_close(conv(x).detach(), expected, rtol=1e-10, atol=1e-10)


def test_cdc_theta_zero_is_vanilla_conv() -> None:
    torch.manual_seed(1)
    cdc = CDConv2d(3, 4, bias=True, cdc_theta=0.0)
    vanilla = nn.Conv2d(3, 4, 3, padding=1, bias=True)
    vanilla.load_state_dict(cdc.state_dict())
    x = torch.randn(2, 3, 7, 7)
    torch.testing.assert_close(cdc(x), vanilla(x))


def test_cdc_stride_two_matches_definition_subsampled() -> None:
    torch.manual_seed(2)
    strided = CDConv2d(2, 2, stride=2, cdc_theta=0.7).double()
    dense = CDConv2d(2, 2, stride=1, cdc_theta=0.7).double()
    dense.load_state_dict(strided.state_dict())
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(strided(x), dense(x)[:, :, ::2, ::2])


def test_cdc_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="padding"):
        CDConv2d(3, 3, kernel_size=3, padding=0)
    with pytest.raises(ValueError, match="theta"):
        CDConv2d(3, 3, cdc_theta=1.5)
