"""Eq. 10 (loss) and Eq. 11 (score) of the HFN."""

import math

import pytest
import torch

from mpfas_lib.models import HFNOutput, genuine_score, hfn_loss


def _out() -> HFNOutput:
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    pixel_map = torch.stack([torch.full((1, 2, 2), 0.75), torch.full((1, 2, 2), 0.5)])
    return HFNOutput(logits, pixel_map)


def test_eq10_by_hand() -> None:
    out, labels = _out(), torch.tensor([1, 0])
    ce = [math.log(2.0), -math.log(math.exp(2) / (math.exp(2) + 1))]
    mse = [0.25**2, 0.5**2]
    per = torch.tensor([c + m for c, m in zip(ce, mse, strict=True)])
    torch.testing.assert_close(hfn_loss(out, labels, reduction="none"), per)
    torch.testing.assert_close(hfn_loss(out, labels), per.mean())
    torch.testing.assert_close(hfn_loss(out, labels, reduction="sum"), per.sum())
    weighted = torch.tensor([c + 3 * m for c, m in zip(ce, mse, strict=True)]).mean()
    torch.testing.assert_close(hfn_loss(out, labels, pixel_weight=3.0), weighted)


def test_eq11_by_hand() -> None:
    s1 = torch.tensor([0.5, 1 / (1 + math.exp(2))])
    expected = (s1 + torch.tensor([0.75, 0.5])) / 2
    torch.testing.assert_close(genuine_score(_out()), expected)


def test_loss_errors() -> None:
    with pytest.raises(ValueError, match="reduction"):
        hfn_loss(_out(), torch.tensor([1, 0]), reduction="max")
    with pytest.raises(ValueError, match="labels"):
        hfn_loss(_out(), torch.tensor([1, 0, 1]))
