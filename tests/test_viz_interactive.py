"""The Meta Pattern explorers (plotly + ipywidgets) and the result plots, on tiny inputs."""

from __future__ import annotations

import base64

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
