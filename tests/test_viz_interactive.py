"""The Meta Pattern explorers (plotly + ipywidgets) and the result plots, on tiny inputs."""

from __future__ import annotations

import base64
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

from mpfas_lib.viz.interactive import (  # noqa: E402
    grid_explorer,
    html,
    pattern_panels,
    patterns_for_states,
    png_uri,
    to_uint8,
    widget_explorer,
)
from mpfas_lib.viz.plots import (  # noqa: E402
    ParameterTrace,
    ablation_bars,
    roc_curves,
    score_histograms,
    style_results,
)


def _stack(n_s: int = 3, n_d: int = 2, n_p: int = 4, size: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n_s, n_d, n_p, size, size, 3), dtype=np.uint8)


def test_png_uri_round_trips() -> None:
    img = _stack()[0, 0, 0]
    uri = png_uri(img)
    assert uri.startswith("data:image/png;base64,")
    from io import BytesIO

    from PIL import Image

    back = np.asarray(Image.open(BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    np.testing.assert_array_equal(back, img)


def test_to_uint8_colours_single_channel_maps() -> None:
    m = torch.linspace(0, 1, 16).view(4, 4)
    out = to_uint8(m, cmap="viridis")
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert not np.array_equal(out[0, 0], out[-1, -1])
    with pytest.raises(ValueError, match="single-channel"):
        to_uint8(torch.rand(3, 4, 4), cmap="viridis")


def test_grid_explorer_slider_frames_and_dropdown_visibility() -> None:
    images = _stack()
    fig = grid_explorer(images, ["0", "5", "10"], ["a", "b"], ["p1", "p2", "p3", "p4"])
    assert len(fig.data) == 2 * 4
    assert [t.visible for t in fig.data] == [True] * 4 + [False] * 4
    assert [f.name for f in fig.frames] == ["0", "5", "10"]
    # each slider step animates to its own frame, whose pictures differ from the first's
    steps = fig.layout.sliders[0].steps
    assert [list(s.args[0]) for s in steps] == [["0"], ["5"], ["10"]]
    assert fig.frames[2].data[0].source != fig.frames[0].data[0].source
    assert fig.frames[2].data[0].source == png_uri(images[2, 0, 0])
    # the dropdown only restyles visibility, so it stays independent of the slider
    buttons = fig.layout.updatemenus[0].buttons
    assert buttons[1].args[0]["visible"] == [False] * 4 + [True] * 4
    assert all("visible" not in (f.data[0].to_plotly_json()) for f in fig.frames)


def test_grid_explorer_rejects_mismatched_labels() -> None:
    with pytest.raises(ValueError, match="labels were given"):
        grid_explorer(_stack(), ["0", "1"], ["a", "b"], ["p1", "p2", "p3", "p4"])
    with pytest.raises(ValueError, match="uint8"):
        grid_explorer(_stack().astype(float), ["0", "5", "10"], ["a", "b"], list("wxyz"))


def test_html_embeds_plotlyjs_once() -> None:
    import mpfas_lib.viz.interactive as inter

    inter._PLOTLYJS_EMBEDDED = False
    fig = grid_explorer(_stack(1, 1, 1), ["0"], ["a"], ["p"])
    first, second = html(fig).data, html(fig).data
    assert "plotly.js v" in first and len(first) > 1_000_000
    assert "plotly.js v" not in second and "Plotly.newPlot" in second


def test_widget_explorer_updates_pictures() -> None:
    images = _stack()
    box = widget_explorer(images, ["0", "5", "10"], ["a", "b"], ["p1", "p2", "p3", "p4"])
    slider, dropdown = box.controls
    before = box.pictures[0].value
    slider.value = "10"
    assert box.pictures[0].value != before
    dropdown.value = "b"
    assert box.pictures[0].value == base64.b64decode(png_uri(images[2, 1, 0]).split(",", 1)[1])


def test_pattern_panels_and_states() -> None:
    torch.manual_seed(0)
    phi = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid())
    states = [{k: v.clone() for k, v in phi.state_dict().items()}]
    with torch.no_grad():
        phi[0].weight.add_(1.0)
    states.append(phi.state_dict())
    x = torch.rand(2, 3, 8, 8)
    pats = patterns_for_states(lambda: nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid()),
                               states, x)
    assert pats.shape == (2, 2, 3, 8, 8)
    assert not torch.allclose(pats[0], pats[1])
    panels, titles = pattern_panels(x[0], pats[0, 0], {"map": torch.rand(3, 8, 8)})
    assert len(panels) == len(titles) == 6 and panels[0].shape == (8, 8, 3)


def test_parameter_trace_sees_which_parameters_move() -> None:
    phi = nn.Conv2d(3, 3, 1)
    theta = nn.Conv2d(3, 2, 1)
    trace = ParameterTrace(phi, theta)
    sample = trace.wrap(lambda domains: list(domains))
    for _ in range(2):  # two "inner steps" move phi only
        sample(["C"])
        with torch.no_grad():
            phi.weight.add_(0.1)
    sample(["I", "O"])  # the "outer step" moves theta only
    with torch.no_grad():
        theta.weight.add_(0.1)
    df = trace.finish(inner_steps=2)
    assert list(df["after"]) == ["start", "inner step k=1", "inner step k=2", "outer Θ step"]
    assert (df["|ΔΘ| this step"][1:3] == 0).all() and (df["|ΔΦ| this step"][1:3] > 0).all()
    assert df["|ΔΦ| this step"].iloc[3] == 0 and df["|ΔΘ| this step"].iloc[3] > 0
    assert list(df["batch from"]) == ["", "C", "C", "I,O"]


def test_result_plots_draw() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(50), np.zeros(50)]
    s = np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1)
    ax = roc_curves({"model": (s, y)}, thresholds={"model": {"0.5": 0.5}})
    assert len(ax.lines) >= 2
    score_histograms(s, y, {"t": 0.5})
    df = pd.DataFrame({"setting": ["A", "A", "B", "B"], "fusion": ["hfm", "concat"] * 2,
                       "hter": [10.0, 12.0, 20.0, 18.0]})
    ax = ablation_bars(df, "setting", "fusion")
    assert len(ax.patches) == 4
    with pytest.raises(ValueError, match="column"):
        ablation_bars(df, "protocol", "fusion")
    table = pd.DataFrame({"source": ["ours", "paper"], "x": [1.0, 2.0]})
    html_table = style_results(table).to_html()
    assert "fff3cd" in html_table


# ---- the method chapters' interactive figures (mpfas_lib.viz.method_figures)


def _frame_data(fig, i: int) -> str:
    return json.dumps([t.to_plotly_json() for t in fig.frames[i].data], default=str)


def test_grid_explorer_wraps_panels_into_rows_and_starts_at_active() -> None:
    stack = _stack(n_s=3, n_d=1, n_p=5, size=8)
    fig = grid_explorer(stack, ["a", "b", "c"], ["x"], list("PQRST"), cols=3, active=2,
                        fmt="jpeg")
    assert fig.layout.sliders[0].active == 2
    assert fig.data[0].source.startswith("data:image/jpeg;base64,")
    assert fig.data[0].source == fig.frames[2].data[0].source != fig.frames[0].data[0].source
    assert fig.data[3].xaxis == "x4" and fig.layout.xaxis6.visible is False  # 2 rows of 3
    with pytest.raises(ValueError, match="active slider position 5"):
        grid_explorer(stack, ["a", "b", "c"], ["x"], list("PQRST"), active=5)


def test_grid_explorer_slider_leaves_room_for_its_end_labels() -> None:
    stack = _stack(n_s=3, n_d=1, n_p=1, size=8)
    long = grid_explorer(stack, ["astronaut genuine", "b", "camera replay"], ["x"], ["P"])
    short = grid_explorer(stack, ["0", "5", "10"], ["x"], ["P"])
    pad = long.layout.sliders[0].pad
    assert pad.l > pad.r > short.layout.sliders[0].pad.r > short.layout.sliders[0].pad.l
    assert pad.l >= 17 * 5 / 2 - 25  # half a 17-character label, less the 25 px left of it


def test_grid_explorer_static_panels_are_embedded_once() -> None:
    stack = _stack(n_s=3, n_d=2, n_p=3, size=8)
    fig = grid_explorer(stack, ["a", "b", "c"], ["x", "y"], list("PQR"), static_panels=[0])
    assert list(fig.frames[1].traces) == [1, 2, 4, 5]
    assert fig.frames[1].data[2].source == png_uri(stack[1, 1, 1])
    assert fig.layout.updatemenus[0].direction == "up"
    with pytest.raises(ValueError, match="static panels"):
        grid_explorer(stack, ["a", "b", "c"], ["x", "y"], list("PQR"), static_panels=[3])


def test_cdc_theta_explorer_theta_zero_is_vanilla_and_slider_changes_picture() -> None:
    from mpfas_lib.models import build_extractor
    from mpfas_lib.viz.method_figures import cdc_theta_explorer, cdc_theta_stack

    img = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    stack, titles = cdc_theta_stack(img, [0.0, 0.7, 1.0], depths=(2,), seed=3)
    assert stack.shape == (3, 1, 3, 16, 16, 3) and len(titles) == 3
    torch.manual_seed(3)
    vanilla = build_extractor("conv2").train()  # same weights: the seed draws them alike
    with torch.no_grad():
        mp = vanilla(img[None])[0]
    np.testing.assert_array_equal(stack[0, 0, 2], to_uint8(mp))
    assert not np.array_equal(stack[1, 0, 2], stack[0, 0, 2])
    fig = cdc_theta_explorer(img, depths=(1, 2, 3))
    assert len(fig.frames) == 11 and fig.layout.sliders[0].active == 7  # θ = 0.7
    assert _frame_data(fig, 0) != _frame_data(fig, 10)


def _tiny_hfn() -> nn.Module:
    from mpfas_lib.models import HFN

    torch.manual_seed(0)
    return HFN(backbone="resnet18-w16", fusion_channels=8)


def test_fusion_explorer_levels_streams_and_eq9_sum() -> None:
    from mpfas_lib.models import build_extractor
    from mpfas_lib.viz.method_figures import fusion_explorer, fusion_stack

    theta, phi = _tiny_hfn(), build_extractor("conv2")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    stack, sliders, dropdown = fusion_stack(theta, phi, x, display_px=16)
    assert stack.shape == (3, 4, 5, 16, 16, 3)
    assert sliders[0].startswith("i = 1: layer4") and sliders[2].startswith("i = 3: layer2")
    assert dropdown == ["0 | RGB stream", "0 | MP stream", "1 | RGB stream", "1 | MP stream"]
    assert np.all(stack[0, :, 3] == stack[0, 0, 3, 0, 0])  # m_0 = 0: a flat carried panel
    assert not np.array_equal(stack[1, 0, 3], stack[1, 0, 3, :1, :1])
    fig = fusion_explorer(theta, phi, x, ["a", "b"], display_px=16)
    assert len(fig.frames) == 3 and _frame_data(fig, 0) != _frame_data(fig, 2)
    assert fig.layout.updatemenus[0].buttons[1].label == "show: a | MP stream"


def test_fusion_stack_refuses_other_fusions() -> None:
    from mpfas_lib.models import HFN, build_extractor
    from mpfas_lib.viz.method_figures import fusion_stack

    with pytest.raises(ValueError, match="fusion='hfm'"):
        fusion_stack(HFN(backbone="resnet18-w16", fusion="concat", fusion_channels=8),
                     build_extractor("conv2"), torch.rand(1, 3, 32, 32))


def test_algorithm1_stages_move_phi_then_theta() -> None:
    import random

    from mpfas_lib.models import build_extractor, hfn_loss
    from mpfas_lib.training import MetaSettings, algorithm1_stages
    from mpfas_lib.viz.method_figures import algorithm1_explorer

    theta, phi = _tiny_hfn(), build_extractor("conv2")

    def sample(names):
        g = torch.Generator().manual_seed(len(names))
        return torch.rand(4 * len(names), 3, 16, 16, generator=g), torch.tensor([1, 0] * 2
                                                                              * len(names))

    opt = torch.optim.SGD(theta.parameters(), lr=0.01)
    st = algorithm1_stages(phi, theta, hfn_loss, sample, opt, ["C", "I", "O"],
                           random.Random(0), MetaSettings(3, 0.01, "paper", 1.0))
    assert st.labels == ["Φ₀ (start)", "k = 1", "k = 2", "k = 3", "Θ step"]
    assert st.groups[:2] == ["Φ conv 1", "Φ BN 1"] and "Θ fusion" in st.groups
    is_phi = np.array([g.startswith("Φ") for g in st.groups])
    assert np.all(st.change[0] == 0)
    assert np.all(st.change[1:4, is_phi].max(axis=1) > 0)  # inner steps move Φ ...
    assert np.all(st.change[1:4, ~is_phi] == 0)  # ... and leave Θ exactly where it was
    np.testing.assert_array_equal(st.change[4, is_phi], st.change[3, is_phi])  # Φ ← Φ_K
    assert np.all(st.change[4, ~is_phi] > 0)
    assert len(st.loss_phi) == len(st.loss_theta) == 5
    fig = algorithm1_explorer(st)
    assert [f.name for f in fig.frames] == st.labels
    assert _frame_data(fig, 1) != _frame_data(fig, 4)
    assert "Θ step" in fig.frames[4].layout.title.text


def test_roc_threshold_explorer_moves_the_operating_point() -> None:
    from mpfas_lib.evaluation import iso_metrics
    from mpfas_lib.viz.method_figures import roc_threshold_explorer

    rng = np.random.default_rng(0)
    s = np.r_[rng.beta(5, 2, 60), rng.beta(2, 5, 60)]
    y = np.r_[np.ones(60, int), np.zeros(60, int)]
    fig = roc_threshold_explorer(s, y, {"0.5": 0.5, "source EER": 0.42})
    names = [f.name for f in fig.frames]
    assert "source EER" in names and "0.5" in names and "0.40" not in names  # merged
    i = names.index("0.5")
    r = iso_metrics(s, y, 0.5)
    point = fig.frames[i].data[0]
    assert point.x[0] == pytest.approx(r["apcer"] / 100)
    assert point.y[0] == pytest.approx(1 - r["bpcer"] / 100)
    assert f"HTER {r['acer']:.1f} %" in fig.frames[i].layout.title.text
    assert _frame_data(fig, 0) != _frame_data(fig, len(names) - 1)


def test_shown_at_enlarges_without_smoothing_and_reduces_by_area() -> None:
    from mpfas_lib.viz.interactive import shown_at

    x = torch.arange(4.0).view(1, 1, 2, 2).expand(2, 3, 2, 2)
    big = shown_at(x, 4)
    assert big.shape == (2, 3, 4, 4) and set(big.unique().tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert shown_at(torch.ones(3, 8, 8), 4).shape == (3, 4, 4)
    np.testing.assert_allclose(shown_at(x, 1).flatten(), 1.5)


def test_pattern_panels_channel_ranges_spread_the_colour_map() -> None:
    pattern = torch.full((3, 4, 4), 0.50)
    pattern[:, 0] = 0.52
    plain, _ = pattern_panels(torch.rand(3, 4, 4), pattern)
    spread, titles = pattern_panels(torch.rand(3, 4, 4), pattern, ranges=[(0.5, 0.52)] * 3)
    assert titles[2] == "MP ch. 1 (0.50–0.52)"
    contrast = [int(np.abs(p[0, 0].astype(int) - p[-1, -1].astype(int)).sum())
                for p in (plain[2], spread[2])]
    assert contrast[1] > 10 * max(contrast[0], 1)


def test_html_redraws_a_figure_revealed_from_a_collapsed_solution() -> None:
    fig = grid_explorer(_stack(), ["a", "b", "c"], ["x", "y"], list("PQRS"))
    out = html(fig, div_id="hidden-at-first").data
    assert "new ResizeObserver" in out and "getElementById('hidden-at-first')" in out
