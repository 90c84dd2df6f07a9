"""Interactive figures of the method chapters: plotly, working in the static book (no kernel).

- :func:`cdc_theta_explorer`: central difference convolution's θ on one face (chapter 04);
- :func:`fusion_explorer`: Eq. 9 level by level, per stream (chapter 05);
- :func:`algorithm1_explorer`: one outer iteration of Algorithm 1 step by step, from the
  stages that :func:`mpfas_lib.training.stages.algorithm1_stages` records (chapter 06);
- :func:`roc_threshold_explorer`: the operating point on the ROC curve (chapter 07).

Every picture and number is computed in Python beforehand and embedded as animation frames,
switched by a slider (and a menu), so the figures respond in the published HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots
from torch import Tensor, nn

from mpfas_lib.evaluation.metrics import iso_metrics, roc
from mpfas_lib.models.cdc import CDConv2d
from mpfas_lib.models.extractor import build_extractor
from mpfas_lib.models.hfn import HFN, HierarchicalFusion
from mpfas_lib.viz.interactive import frame_slider, grid_explorer, shown_at, to_uint8

__all__ = [
    "algorithm1_explorer",
    "cdc_theta_explorer",
    "cdc_theta_stack",
    "fusion_explorer",
    "fusion_stack",
    "roc_threshold_explorer",
]

def _stretch(x: np.ndarray, lo: float = 1.0, hi: float = 99.0) -> np.ndarray:
    """Each channel ([C, H, W]) stretched between its percentiles to [0, 1]."""
    out = np.empty_like(x, dtype=np.float32)
    for c in range(x.shape[0]):
        a, b = np.percentile(x[c], [lo, hi])
        out[c] = np.clip((x[c] - a) / (b - a + 1e-8), 0, 1)
    return out


# ---------------------------------------------------------------- chapter 04: CDC's θ


@torch.no_grad()
def cdc_theta_stack(
    image: Tensor, thetas: Sequence[float], depths: Sequence[int] = (1, 2, 3), seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """CDC extractors (Sec. III-A, Fig. 8: CDC1-3) on one face for every θ, weights fixed.

    ``image`` is [3, H, W] in [0, 1]. For each depth the extractor's weights are drawn once
    (``seed``) and only θ of every :class:`CDConv2d` changes, so θ = 0 is exactly CONV1-3.
    BatchNorm uses the face's own statistics (train mode), as an untrained extractor does.
    Returns uint8 [θ, depth, panel, H, W, 3] (panels: input, the first layer's response,
    three of its channels stretched to their 1-99 % range, and the MP) and panel titles.
    """
    x = image.unsqueeze(0).float()
    stack = []
    for theta in thetas:
        row = []
        for depth in depths:
            torch.manual_seed(seed)
            phi = build_extractor(f"cdc{depth}").train()
            first = next(m for m in phi.modules() if isinstance(m, CDConv2d))
            for m in phi.modules():
                if isinstance(m, CDConv2d):
                    m.cdc_theta = float(theta)
            seen: list[Tensor] = []
            hook = first.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out))
            mp = phi(x)[0]
            hook.remove()
            layer1 = _stretch(seen[0][0, :3].numpy())
            row.append([to_uint8(image), to_uint8(layer1), to_uint8(mp)])
        stack.append(row)
    titles = ["input", "first CDC layer (3 channels, stretched)", "Meta Pattern (as RGB)"]
    return np.asarray(stack, dtype=np.uint8), titles


def cdc_theta_explorer(image: Tensor, thetas: Sequence[float] | None = None,
                       depths: Sequence[int] = (1, 2, 3), seed: int = 0,
                       title: str | None = None) -> go.Figure:
    """A θ slider (0 = vanilla convolution ... 1 = central differences only) and a depth menu
    (chapter 04)."""
    thetas = list(np.round(np.linspace(0, 1, 11), 2)) if thetas is None else list(thetas)
    stack, titles = cdc_theta_stack(image, thetas, depths, seed)
    return grid_explorer(stack, [f"{t:.1f}" for t in thetas], [f"CDC{d}" for d in depths],
                         titles, slider_name="θ", dropdown_name="extractor", title=title,
                         active=thetas.index(0.7) if 0.7 in thetas else 0, fmt="webp",
                         static_panels=[0])


# ---------------------------------------------------------------- chapter 05: Eq. 9


def _basis(m: np.ndarray, k: int = 3) -> np.ndarray:
    """The top-k principal directions [C, k] of a feature map's pixels (m: [C, H, W])."""
    flat = m.reshape(m.shape[0], -1).T
    _, _, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    v = np.zeros((m.shape[0], k), np.float32)  # a map of few pixels has fewer directions
    j = min(k, vt.shape[0])
    v[:, :j] = vt[:j].T * np.sign(vt[:j][np.arange(j), np.abs(vt[:j]).argmax(axis=1)])[None]
    return v  # signs fixed: the largest entry of each direction is positive


def _project(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("chw,ck->khw", m, v)


def _show(rgb01: np.ndarray, px: int) -> np.ndarray:
    """A [3, h, w] map in [0, 1] as uint8 [px, px, 3], at the explorer's display size."""
    return to_uint8(shown_at(torch.from_numpy(np.ascontiguousarray(rgb01, dtype=np.float32)), px))


@torch.no_grad()
def fusion_stack(theta: HFN, phi: nn.Module, images: Tensor, display_px: int = 128
                 ) -> tuple[np.ndarray, list[str], list[str]]:
    """Eq. 9 of every hierarchy for each face and stream: uint8 [level, face×stream, panel, ...].

    Panels: the stream's input, its tap m^s_i (first three principal components), the aligned
    C(m^s_i), the carried U[C(m_{i−1})] and the fused m_i. The last three live in the same
    fused channel space and are projected on the same three principal directions of m_i with
    one colour scale (mid-grey = 0), so m_i is visibly the sum of C(m^t_i), C(m^b_i) and the
    carried map. Returns (stack, slider labels, dropdown labels of ``face index | stream``).
    """
    fusion = theta.fusion
    if not isinstance(fusion, HierarchicalFusion) or len(theta.streams) != 2:
        raise ValueError("fusion_stack needs an HFN with fusion='hfm' and both streams")
    theta, phi = theta.eval(), phi.eval()
    inputs = {"rgb": images, "map": phi(images)}
    feats = {s: theta.trunks[s](theta.norms[s](inputs[s])) for s in theta.streams}
    n = len(feats["rgb"])
    levels, carried, fused = [], [], []
    prev: Tensor | None = None
    for level in reversed(range(n)):  # i = 1 (layer4, deepest) ... i = n (layer2)
        aligned = {s: fusion.align[s][level](feats[s][level]) for s in theta.streams}
        up = (torch.zeros_like(aligned["rgb"]) if prev is None
              else F.interpolate(fusion.carry[level](prev), size=aligned["rgb"].shape[-2:],
                                 mode="nearest"))
        prev = aligned["rgb"] + aligned["map"] + up
        levels.append((level, aligned))
        carried.append(up)
        fused.append(prev)
    names = {"rgb": "RGB stream", "map": "MP stream"}
    stack, dropdown = [], []
    for i, ((level, aligned), up, m) in enumerate(zip(levels, carried, fused, strict=True)):
        row = []
        for b in range(images.shape[0]):
            mi = m[b].numpy()
            v = _basis(mi)
            scale = float(np.percentile(np.abs(_project(mi, v)), 99)) + 1e-8

            def fused_space(t: np.ndarray, v: np.ndarray = v, scale: float = scale) -> np.ndarray:
                return np.clip(0.5 + _project(t, v) / (2 * scale), 0, 1)

            for s in theta.streams:
                tap = feats[s][level][b].numpy()
                row.append([
                    _show(inputs[s][b].numpy(), display_px),
                    _show(_stretch(_project(tap, _basis(tap))), display_px),
                    _show(fused_space(aligned[s][b].numpy()), display_px),
                    _show(fused_space(up[b].numpy()), display_px),
                    _show(fused_space(mi), display_px),
                ])
                if i == 0:
                    dropdown.append(f"{b} | {names[s]}")
        stack.append(row)
    sliders = [f"i = {i + 1}: layer{level + 2}, {fused[i].shape[-1]} px"
               for i, (level, _) in enumerate(levels)]
    return np.asarray(stack, dtype=np.uint8), sliders, dropdown


def fusion_explorer(theta: HFN, phi: nn.Module, images: Tensor, names: Sequence[str],
                    display_px: int = 128, title: str | None = None) -> go.Figure:
    """Slider: hierarchy i of Eq. 9; menu: face and stream; panels as in :func:`fusion_stack`
    (chapter 05)."""
    stack, sliders, dropdown = fusion_stack(theta, phi, images, display_px)
    labels = [f"{names[int(d.split(' | ')[0])]} | {d.split(' | ')[1]}" for d in dropdown]
    titles = ["stream input", "tap m<sup>s</sup><sub>i</sub> (3 PCs)",
              "aligned C(m<sup>s</sup><sub>i</sub>)", "carried U[C(m<sub>i−1</sub>)]",
              "fused m<sub>i</sub>"]
    return grid_explorer(stack, sliders, labels, titles, slider_name="hierarchy",
                         dropdown_name="show", title=title, fmt="webp-lossless")


# ---------------------------------------------------------------- chapter 06: Algorithm 1


def algorithm1_explorer(stages: Any, title: str | None = None) -> go.Figure:
    """Slider over Φ₀, k = 1..K, Θ step: which parameter groups moved, and the two losses
    (chapter 06).

    ``stages`` is the record of one outer iteration that training computes
    (:func:`mpfas_lib.training.stages.algorithm1_stages`): ``labels``, ``groups``,
    ``change[stage, group]``, ``loss_phi[stage]``, ``loss_theta[stage]`` and ``notes``.
    """
    floor = 1e-7  # log axis: an unchanged group (exactly 0) is drawn at the floor, labelled 0
    colours = ["#1f77b4" if g.startswith("Φ") else "#ff7f0e" for g in stages.groups]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.1,
                        subplot_titles=["relative change since the start ‖p − p₀‖/‖p₀‖",
                                        "loss (Eq. 10) with this stage's Φ and Θ"])

    def bar(s: int) -> go.Bar:
        c = stages.change[s]
        return go.Bar(x=stages.groups, y=np.maximum(c, floor), marker_color=colours,
                      text=["0" if v == 0 else f"{v:.1e}" for v in c], textposition="outside",
                      textfont={"size": 9}, showlegend=False, hoverinfo="x+text")

    def markers(s: int) -> list[go.Scatter]:
        return [go.Scatter(x=[stages.labels[s]], y=[ys[s]], mode="markers", showlegend=False,
                           marker={"size": 14, "color": col, "line": {"width": 2,
                                                                        "color": "black"}})
                for ys, col in ((stages.loss_phi, "#2ca02c"), (stages.loss_theta, "#d62728"))]

    fig.add_trace(bar(0), row=1, col=1)
    for ys, name, col in ((stages.loss_phi, "on the first D_φ batch", "#2ca02c"),
                          (stages.loss_theta, "on the D_θ batch", "#d62728")):
        fig.add_trace(go.Scatter(x=stages.labels, y=ys, mode="lines+markers", name=name,
                                 line={"color": col}), row=1, col=2)
    for tr in markers(0):
        fig.add_trace(tr, row=1, col=2)
    moving = [0, 3, 4]  # the bar and the two stage markers
    fig.frames = [go.Frame(name=lab, data=[bar(s), *markers(s)], traces=moving,
                           layout={"title": {"text": _a1_title(title, stages.notes[s])}})
                  for s, lab in enumerate(stages.labels)]
    top = float(np.log10(max(stages.change.max(), floor))) + 0.6
    fig.update_yaxes(type="log", range=[np.log10(floor), top], row=1, col=1,
                     title={"text": "blue: Φ, orange: Θ", "font": {"size": 10}})
    fig.update_xaxes(tickangle=-35, tickfont={"size": 9}, row=1, col=1)
    fig.update_layout(title={"text": _a1_title(title, stages.notes[0]), "font": {"size": 13},
                             "x": 0.01, "xanchor": "left"},
                      height=560, autosize=True, margin={"l": 10, "r": 10, "t": 90, "b": 10},
                      legend={"orientation": "h", "x": 0.6, "y": 1.02, "font": {"size": 10}},
                      sliders=[frame_slider(stages.labels, "stage", len=0.9, x=0.05)])
    for ann in fig.layout.annotations:
        ann.font = {"size": 11}
    return fig


def _a1_title(title: str | None, note: str) -> str:
    return (f"{title}<br>" if title else "") + f"<span style='font-size:12px'>{note}</span>"


# ---------------------------------------------------------------- chapter 07: ROC


def roc_threshold_explorer(
    scores: Any, labels: Any, marked: Mapping[str, float], grid: Sequence[float] | None = None,
    title: str | None = None,
) -> go.Figure:
    """ROC curve and score histograms with a threshold slider (Sec. IV metrics, ISO 30107-3)
    (chapter 07).

    Each slider position is a threshold τ (genuine accepted iff score ≥ τ): the operating
    point moves along the ROC curve, a line moves over the histograms and the title gives
    APCER, BPCER and HTER (= ACER for one attack type) at τ. ``marked`` thresholds (name →
    τ) are drawn on both plots and are slider positions too, labelled by name.
    """
    s, y = np.asarray(scores, float), np.asarray(labels, int)
    fpr, tpr, _ = roc(s, y)
    grid = list(np.round(np.linspace(0, 1, 11), 2)) if grid is None else list(grid)
    named = {float(t): name for name, t in marked.items()}
    taus = sorted({*named, *(g for g in grid if min((abs(g - t) for t in named),
                                                     default=1.0) > 0.03)})
    step_labels = [named.get(t, f"{t:.2f}") for t in taus]
    rates = [iso_metrics(s, y, t) for t in taus]

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=["ROC: 1 − BPCER against APCER",
                                        "scores (genuine accepted iff score ≥ τ)"])
    fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name="ROC", line={"color": "black"},
                             showlegend=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[1, 0], mode="lines", showlegend=False,
                             line={"dash": "dot", "color": "grey", "width": 1}), row=1, col=1)
    for cls, name, col in ((1, "genuine", "#2ca02c"), (0, "spoof", "#d62728")):
        fig.add_trace(go.Histogram(x=s[y == cls], name=name, marker_color=col, opacity=0.55,
                                   xbins={"start": 0, "end": 1, "size": 0.05}), row=1, col=2)
    symbols = ["diamond", "square", "triangle-up", "star", "cross"]
    for k, (t, name) in enumerate(sorted(named.items())):
        r = iso_metrics(s, y, t)
        fig.add_trace(go.Scatter(x=[r["apcer"] / 100], y=[1 - r["bpcer"] / 100],
                                 mode="markers", name=f"{name} (τ = {t:.2f})",
                                 marker={"symbol": symbols[k % 5], "size": 11}), row=1, col=1)
        fig.add_vline(x=t, line={"dash": "dash", "width": 1, "color": "grey"}, row=1, col=2)
    height = 1.05 * float(max(np.histogram(s[y == c], bins=20, range=(0, 1))[0].max()
                              for c in (0, 1)))

    def moving(i: int) -> list[go.Scatter]:
        r = rates[i]
        return [go.Scatter(x=[r["apcer"] / 100], y=[1 - r["bpcer"] / 100], mode="markers",
                           showlegend=False, marker={"size": 16, "color": "rgba(0,0,0,0)",
                                                     "line": {"width": 3, "color": "blue"}}),
                go.Scatter(x=[taus[i], taus[i]], y=[0, height], mode="lines", showlegend=False,
                           line={"color": "blue", "width": 3})]

    n_static = len(fig.data)
    for tr, col in zip(moving(0), (1, 2), strict=True):
        fig.add_trace(tr, row=1, col=col)

    def heading(i: int) -> dict:
        r = rates[i]
        text = (f"τ = {taus[i]:.3f}: APCER {r['apcer']:.1f} %, BPCER {r['bpcer']:.1f} %, "
                f"HTER {r['acer']:.1f} %")
        return {"text": (f"{title}<br>" if title else "") + text, "font": {"size": 13},
                "x": 0.01, "xanchor": "left"}

    fig.frames = [go.Frame(name=lab, data=moving(i), traces=[n_static, n_static + 1],
                           layout={"title": heading(i)}) for i, lab in enumerate(step_labels)]
    start = step_labels.index(named[min(named)]) if named else 0
    for i, tr in enumerate(moving(start)):
        fig.data[n_static + i].update(x=tr.x, y=tr.y)
    fig.update_xaxes(range=[-0.02, 1.02], title={"text": "APCER (spoofs accepted)"}, row=1,
                     col=1)
    fig.update_yaxes(range=[-0.02, 1.02], title={"text": "1 − BPCER"}, row=1, col=1)
    fig.update_xaxes(range=[0, 1], title={"text": "score"}, row=1, col=2)
    fig.update_yaxes(range=[0, height], title={"text": "videos"}, row=1, col=2)
    for ann in fig.layout.annotations:  # the subplot titles
        ann.font = {"size": 12}
    fig.update_layout(title=heading(start), barmode="overlay", height=520, autosize=True,
                      margin={"l": 10, "r": 10, "t": 90, "b": 10},
                      legend={"orientation": "h", "y": -0.25, "font": {"size": 10}},
                      sliders=[frame_slider(step_labels, "threshold", start, y=-0.32, len=0.95,
                                       font={"size": 9})])
    return fig
