"""Tests of the book's static figures (mpfas_lib.viz.figures)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.patches import FancyBboxPatch

from mpfas_lib.viz.figures import channel_grid, hfn_diagram, image_grid, to_image


def test_to_image_layouts_agree():
    chw = torch.rand(3, 5, 7)
    hwc = chw.permute(1, 2, 0).numpy()
    assert to_image(chw).shape == (5, 7, 3)
    np.testing.assert_allclose(to_image(chw), to_image(hwc))
    assert to_image(torch.rand(1, 3, 4, 4)).shape == (4, 4, 3)


def test_to_image_grey_and_clipping():
    grey = to_image(np.array([[-1.0, 0.5], [2.0, 0.25]]))
    assert grey.shape == (2, 2, 3)
    assert grey.min() == 0.0 and grey.max() == 1.0
    np.testing.assert_allclose(grey[..., 0], grey[..., 2])


def test_to_image_normalize_stretches_range():
    out = to_image(torch.tensor([[[2.0, 4.0], [3.0, 6.0]]]), normalize=True)
    assert out.min() == 0.0 and out.max() == 1.0
    flat = to_image(torch.ones(3, 2, 2), normalize=True)
    assert np.all(flat == 0.0)


def test_to_image_rejects_bad_shape():
    with pytest.raises(ValueError, match="to_image"):
        to_image(torch.rand(5, 4, 4))


def test_image_grid_layout_and_labels():
    imgs = [[torch.rand(3, 8, 8), None, torch.rand(8, 8)], [torch.rand(3, 8, 8)] * 3]
    fig = image_grid(imgs, row_labels=["a", "b"], col_labels=["x", "y", "z"], title="t")
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["x", "y", "z"]
    assert axes[0].get_ylabel() == "a" and axes[3].get_ylabel() == "b"
    assert len(axes[1].images) == 0 and len(axes[0].images) == 1
    plt.close(fig)


def test_image_grid_label_mismatch():
    with pytest.raises(ValueError, match="row labels"):
        image_grid([[torch.rand(3, 4, 4)]], row_labels=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        image_grid([])


def test_channel_grid_one_panel_per_channel():
    fig = channel_grid(torch.rand(4, 6, 6))
    assert len(fig.axes) == 4
    plt.close(fig)


def test_hfn_diagram_draws_all_blocks():
    fig = hfn_diagram()
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    texts = " ".join(t.get_text() for t in ax.texts)
    # 2 inputs + extractor + 2 x 4 stream blocks + 3 HFMs + pixel map + L_MSE + FC + L_BCE
    assert len(boxes) == 18
    for needle in ("HFM $F_1$", "HFM $F_3$", "2048ch", "pixel map\n32×32", "Extractor"):
        assert needle in texts
    plt.close(fig)


def test_hfn_diagram_custom_sizes_and_errors():
    fig = hfn_diagram(channels=(32, 64, 128), sizes=(8, 4, 2), image_size=64)
    assert "pixel map\n8×8" in " ".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="three taps"):
        hfn_diagram(channels=(1, 2))


def test_draw_detection_adds_box_and_landmarks():
    from matplotlib.patches import Rectangle

    from mpfas_lib.viz.figures import draw_detection

    fig, ax = plt.subplots()
    img = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    draw_detection(ax, img, (2, 3, 12, 15), np.ones((5, 2)), label="face 0.99")
    assert sum(isinstance(p, Rectangle) for p in ax.patches) == 1
    assert len(ax.collections) == 1 and ax.texts[0].get_text() == "face 0.99"
    plt.close(fig)


def test_det_curves_probit_axes_and_one_line_per_curve():
    from statistics import NormalDist

    from mpfas_lib.viz.plots import det_curves

    rng = np.random.default_rng(0)
    s = np.r_[rng.beta(6, 2, 200), rng.beta(2, 6, 200)]
    y = np.r_[np.ones(200, int), np.zeros(200, int)]
    attack = np.where(np.arange(400) % 2 == 0, "print", "replay")
    ax = det_curves({"pooled": (s, y), "worst species": (s, y, attack)})
    assert len(ax.get_lines()) == 2
    # ticks sit at normal deviates: 50 % at 0, 5 % at the 5 % quantile
    ticks = dict(zip([t.get_text() for t in ax.get_xticklabels()], ax.get_xticks(), strict=True))
    assert ticks["5"] == pytest.approx(NormalDist().inv_cdf(0.05))
    with pytest.raises(ValueError, match="at least one"):
        det_curves({})
    plt.close("all")
