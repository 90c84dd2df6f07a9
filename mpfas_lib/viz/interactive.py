"""Meta Pattern explorers: plotly figures that work in the static HTML (no kernel) and an
ipywidgets variant for a live JupyterLab session (paper Sec. III-A, Fig. 3-5)."""

from __future__ import annotations

import base64
import functools
import io
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import torch
from IPython.display import HTML
from matplotlib import colormaps
from PIL import Image
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots
from torch import nn

from mpfas_lib.viz.figures import to_image

__all__ = [
    "DEFERRED_CLASS",
    "ExplorerImages",
    "deferred_parts",
    "frame_slider",
    "grid_explorer",
    "html",
    "image_uri",
    "pattern_panels",
    "patterns_for_states",
    "png_uri",
    "shown_at",
    "to_uint8",
    "widget_explorer",
]

#: Shape of an explorer's picture stack: [slider, dropdown, panel, H, W, 3], uint8.
ExplorerImages = np.ndarray

_PLOTLYJS_EMBEDDED = False
# A figure drawn while hidden (in a collapsed solution) has no size: redraw it when shown.
_REDRAW_WHEN_SHOWN = (
    "(function(gd){if(!gd||!window.ResizeObserver)return;new ResizeObserver(function(){"
    "if(gd.offsetWidth>0)Plotly.Plots.resize(gd);}).observe(gd);})"
    "(document.getElementById('{plot_id}'));"
)


def to_uint8(x: Any, cmap: str | None = None) -> np.ndarray:
    """An image (tensor or array, see ``figures.to_image``) as [H, W, 3] uint8.

    With ``cmap`` a single-channel map ([H,W] or [1,H,W]) is coloured by that matplotlib
    colour map (values are probabilities in [0, 1], so no rescaling hides a change).
    """
    if cmap is not None:
        a = x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        a = np.squeeze(a)
        if a.ndim != 2:
            raise ValueError(f"to_uint8 with a colour map needs a single-channel map, got {a.shape}"
                             )
        rgb = colormaps[cmap](np.clip(a, 0.0, 1.0))[..., :3]
    else:
        rgb = to_image(x)
    return (np.asarray(rgb) * 255.0 + 0.5).astype(np.uint8)


def png_uri(img: np.ndarray) -> str:
    """A [H, W, 3] uint8 array as a PNG data URI (what plotly's ``go.Image(source=...)`` shows)."""
    return image_uri(img, "png")


#: Picture formats of :func:`image_uri`: PIL format and options, and the data URI's subtype.
IMAGE_FORMATS: dict[str, tuple[str, dict, str]] = {
    "png": ("PNG", {"optimize": True}, "png"),
    "jpeg": ("JPEG", {"quality": 85}, "jpeg"),
    "webp": ("WEBP", {"quality": 85, "method": 6}, "webp"),
    "webp-lossless": ("WEBP", {"lossless": True, "quality": 100, "method": 6}, "webp"),
}


def image_uri(img: np.ndarray, fmt: str = "png") -> str:
    """A [H, W, 3] uint8 array as a data URI: "png" or "webp-lossless" (exact pixels; WebP
    takes about a fifth fewer bytes), "jpeg" (quality 85) or "webp" (quality 85, about a
    third fewer bytes than that JPEG) for photographs (chapter 04)."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image format must be one of {sorted(IMAGE_FORMATS)}, got {fmt!r}")
    pil_format, options, subtype = IMAGE_FORMATS[fmt]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format=pil_format, **options)
    return f"data:image/{subtype};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def shown_at(x: torch.Tensor, px: int) -> torch.Tensor:
    """Images [..., C, H, W] resized to px × px for display: enlarged without smoothing (the
    pixels stay visible), reduced by area averaging (chapter 11)."""
    lead = x.shape[:-3]
    flat = x.reshape(-1, *x.shape[-3:]).float()
    mode = "nearest" if px >= x.shape[-1] else "area"
    return torch.nn.functional.interpolate(flat, size=(px, px), mode=mode).reshape(
        *lead, x.shape[-3], px, px)


def pattern_panels(
    image: torch.Tensor, pattern: torch.Tensor, maps: Mapping[str, torch.Tensor] | None = None,
    cmap: str = "viridis", ranges: Sequence[tuple[float, float]] | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """Panels of one face: input, MP as RGB, its three channels (coloured), handcrafted maps
    (chapter 11).

    ``image`` and ``pattern`` are [3, H, W] in [0, 1]; ``maps`` maps a name to a [3, H, W]
    handcrafted map (shown as RGB). Channel c is coloured over [0, 1], or over ``ranges[c]``
    (one fixed range per channel for a whole explorer, so pictures stay comparable while a
    narrow range of values is spread over the colour map). Returns (uint8 panels, titles).
    """
    if pattern.dim() != 3 or pattern.shape[0] != 3:
        raise ValueError(f"pattern must be [3, H, W], got {list(pattern.shape)}")
    panels = [to_uint8(image), to_uint8(pattern)]
    titles = ["input", "MP (as RGB)"]
    for c in range(3):
        lo, hi = ranges[c] if ranges is not None else (0.0, 1.0)
        panels.append(to_uint8((pattern[c] - lo) / max(hi - lo, 1e-8), cmap=cmap))
        titles.append(f"MP ch. {c + 1}" + (f" ({lo:.2f}–{hi:.2f})" if ranges else ""))
    for name, m in (maps or {}).items():
        panels.append(to_uint8(m))
        titles.append(name)
    return panels, titles


@torch.no_grad()
def patterns_for_states(
    make_extractor: Callable[[], nn.Module],
    states: Sequence[Mapping[str, torch.Tensor]],
    images: torch.Tensor,
) -> torch.Tensor:
    """Φ(images) for each saved state dict of Φ, in eval mode: [n_states, B, 3, H, W]
    (chapter 11)."""
    out = []
    for state in states:
        phi = make_extractor()
        phi.load_state_dict(state)
        phi.eval()
        out.append(phi(images))
    return torch.stack(out)


def _check_stack(images: np.ndarray, slider: Sequence[str], dropdown: Sequence[str],
                 panels: Sequence[str]) -> None:
    if images.ndim != 6 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"explorer images must be uint8 [slider, dropdown, panel, H, W, 3], "
            f"got {images.dtype} {list(images.shape)}"
        )
    want = (len(slider), len(dropdown), len(panels))
    if images.shape[:3] != want:
        raise ValueError(
            f"explorer images have shape {list(images.shape[:3])} for "
            f"(slider, dropdown, panel) but {list(want)} labels were given"
        )


def frame_slider(labels: Sequence[str], name: str, active: int = 0, **extra: Any) -> dict:
    """A plotly slider whose step ``label`` shows the animation frame of that name at once;
    ``extra`` sets or overrides its layout keys (``x``, ``len``, ``pad``...)."""
    args = {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
            "transition": {"duration": 0}}
    steps = [{"label": str(lab), "method": "animate", "args": [[str(lab)], args]}
             for lab in labels]
    return {"active": active, "currentvalue": {"prefix": f"{name}: "}, "pad": {"t": 40},
            "steps": steps, **extra}


def _choice_menu(labels: Sequence[str], name: str, n_panels: int) -> dict:
    """The dropdown of :func:`grid_explorer`: choice d shows traces d * n_panels .. + n_panels."""
    n = len(labels) * n_panels
    buttons = [{"label": f"{name}: {lab}", "method": "restyle",
                "args": [{"visible": [k // n_panels == d for k in range(n)]}]}
               for d, lab in enumerate(labels)]
    return {"type": "dropdown", "buttons": buttons, "active": 0, "x": 0.0, "xanchor": "left",
            "y": 0.0, "yanchor": "top", "showactive": True, "direction": "up", "pad": {"t": 8}}


def _bare_axes(fig: go.Figure, n_panels: int, rows: int, cols: int) -> None:
    """Image panels without ticks or grid, small titles, the last row's empty cells hidden."""
    for ann in fig.layout.annotations:
        ann.font = {"size": 10}
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    for p in range(n_panels, rows * cols):
        fig.update_xaxes(visible=False, row=p // cols + 1, col=p % cols + 1)
        fig.update_yaxes(visible=False, row=p // cols + 1, col=p % cols + 1)


def grid_explorer(
    images: ExplorerImages,
    slider_labels: Sequence[str],
    dropdown_labels: Sequence[str],
    panel_titles: Sequence[str],
    slider_name: str = "iteration",
    dropdown_name: str = "sample",
    title: str | None = None,
    width_px: int = 760,
    cols: int | None = None,
    active: int = 0,
    fmt: str = "png",
    static_panels: Sequence[int] = (),
) -> go.Figure:
    """A plotly figure: a grid of image panels, a slider and a dropdown, no kernel needed
    (chapter 11).

    ``images[s, d, p]`` is panel p of dropdown choice d at slider position s. The slider
    switches animation frames (one per slider position, carrying every dropdown choice's
    pictures); the dropdown switches which choice's traces are visible. Both controls are
    independent because frames never touch visibility. Panels fill rows of ``cols`` (default:
    one row); the slider starts at position ``active``; pictures are embedded as ``fmt``
    (a format of :func:`image_uri`). Panels listed in ``static_panels`` do not
    depend on the slider (e.g. the input): they are embedded once, not in every frame. The
    menu opens upwards, over the panels, so its entries stay inside the figure. The figure
    fills its container's width (``width_px`` only sets the height, for panels of about
    ``width_px / cols``).
    """
    _check_stack(images, slider_labels, dropdown_labels, panel_titles)
    n_s, n_d, n_p = images.shape[:3]
    if not 0 <= active < n_s:
        raise ValueError(f"active slider position {active} is outside 0..{n_s - 1}")
    n_c = min(cols or n_p, n_p)
    n_r = -(-n_p // n_c)
    fig = make_subplots(rows=n_r, cols=n_c, subplot_titles=list(panel_titles),
                        horizontal_spacing=0.01, vertical_spacing=0.06 if n_r > 1 else 0.0)

    if any(not 0 <= p < n_p for p in static_panels):
        raise ValueError(f"static panels {list(static_panels)} outside 0..{n_p - 1}")
    moving = [p for p in range(n_p) if p not in static_panels]

    def traces(s: int, panels: Sequence[int] = range(n_p)) -> list[go.Image]:
        return [
            go.Image(source=image_uri(images[s, d, p], fmt), hoverinfo="skip",
                     name=f"{dropdown_labels[d]} | {panel_titles[p]}")
            for d in range(n_d)
            for p in panels
        ]

    for i, tr in enumerate(traces(active)):
        d, p = divmod(i, n_p)
        tr.visible = d == 0
        fig.add_trace(tr, row=p // n_c + 1, col=p % n_c + 1)
    fig.frames = [go.Frame(name=str(lab), data=traces(s, moving),
                           traces=[d * n_p + p for d in range(n_d) for p in moving])
                  for s, lab in enumerate(slider_labels)]
    # the menu sits below the panels and the slider below the menu, full width, so neither
    # covers the other or the panel titles whatever the labels' lengths
    # plotly centres a step's label on its tick: the rail leaves room for half of each end
    # label (about 6 px a character at the default 12 px font) so they are not clipped
    ends = {"l": 3 * len(str(slider_labels[0])), "r": 3 * len(str(slider_labels[-1]))}
    fig.update_layout(
        title={"text": title or "", "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        height=int(n_r * width_px / n_c * images.shape[3] / images.shape[4]) + 200,
        autosize=True,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        sliders=[frame_slider(slider_labels, slider_name, active, pad={"t": 56, **ends},
                              x=0.02, len=0.96, y=0.0, yanchor="top")],
        updatemenus=[_choice_menu(dropdown_labels, dropdown_name, n_p)],
    )
    _bare_axes(fig, n_p, n_r, n_c)
    return fig


#: Class of the ``<script type="application/json">`` that holds what a figure shows only
#: after a slider or menu moves (see :func:`html`); ``book/_ext/deferred_frames.py`` moves it
#: into a file of its own.
DEFERRED_CLASS = "mpfas-deferred"
# Adds the deferred part to the figure: at once from the inline JSON (JupyterLab), or, when
# the book's build moved it to a file (data-src), by loading that file the first time the
# figure comes near the screen. The file calls window.mpfasDeferred[id](payload). A slider
# moved before that is replayed once the frames are there.
_LOAD_DEFERRED = (
    "(function(gd,box){if(!gd||!box)return;var pending=null;"
    "function apply(p){gd.dataset.deferred='adding';Plotly.addFrames(gd,p.frames)"
    ".then(function(){return p.traces.length?Plotly.restyle(gd,{source:p.sources},p.traces)"
    ":null;}).then(function(){gd.dataset.deferred='loaded';"
    "if(pending)Plotly.animate(gd,pending[0],pending[1]);});}"
    "gd.on('plotly_sliderchange',function(e){if(gd.dataset.deferred!=='loaded')"
    "pending=e.step.args;});"
    "if(!box.dataset.src){apply(JSON.parse(box.textContent));return;}"
    "(window.mpfasDeferred=window.mpfasDeferred||{})[gd.id]=apply;"
    "gd.dataset.deferred='waiting';"
    "function load(){if(gd.dataset.deferred!=='waiting')return;gd.dataset.deferred='loading';"
    "var s=document.createElement('script');s.src=box.dataset.src;s.onerror=function(){"
    "console.error('could not load '+box.dataset.src);};document.head.appendChild(s);}"
    "if(!window.IntersectionObserver){load();return;}"
    "new IntersectionObserver(function(es,ob){if(es.some(function(e){return e.isIntersecting;}))"
    "{ob.disconnect();load();}},{rootMargin:'200px 0px'}).observe(gd);})"
    "(document.getElementById('{plot_id}'),"
    "document.querySelector('script." + DEFERRED_CLASS + "[data-plot=\"{plot_id}\"]'));"
)
# plotly's JSON writes every "/" as \u002f (six characters; base64 pictures are full of
# them). "<" stays escaped, so no "</script>" can appear. An escaped backslash is kept.
_ESCAPED_SLASH = re.compile(r"(?<!\\)((?:\\\\)*)\\u002f")


def _unescape_slashes(text: str) -> str:
    return _ESCAPED_SLASH.sub(r"\1/", text)


@functools.cache
def _placeholder(width: int, height: int) -> str:
    """A light grey PNG data URI of that size (a hidden picture's stand-in until loaded)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (238, 238, 238)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _uri_size(uri: str) -> tuple[int, int]:
    """(width, height) of a base64 picture data URI."""
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size


def deferred_parts(fig: go.Figure) -> tuple[go.Figure, dict | None]:
    """The figure as first shown, and what it shows only after a control moves (chapter 11).

    The first is ``fig`` without its animation frames, and with every hidden picture (an
    image trace with ``visible=False``: another menu choice) replaced by a grey stand-in of
    the same size, so plotly lays out the same axes. The second, ``None`` when nothing
    waits, holds the frames and the hidden pictures: ``{"frames", "traces", "sources"}``.
    """
    hidden = [i for i, tr in enumerate(fig.data)
              if tr.type == "image" and tr.visible is False and tr.source]
    if not fig.frames and not hidden:
        return fig, None
    first = go.Figure(fig.to_dict())
    first.frames = []
    sources = [fig.data[i].source for i in hidden]
    for i, src in zip(hidden, sources, strict=True):
        first.data[i].source = _placeholder(*_uri_size(src))
    frames = [f.to_plotly_json() for f in fig.frames]
    return first, {"frames": frames, "traces": hidden, "sources": sources}


def html(fig: go.Figure, div_id: str | None = None):
    """The figure as an HTML output that works offline in the static book and in JupyterLab
    (chapter 04).

    plotly.js (about 5 MB) is embedded inline the first time this is called in a kernel,
    so a notebook carries it once and needs no CDN; later figures reuse it. The book's build
    replaces that copy by one shared ``_static/plotly.min.js`` (``book/_ext/shared_plotlyjs``).
    The figure is drawn in its first state; its frames and hidden pictures
    (:func:`deferred_parts`) follow in a JSON block of class :data:`DEFERRED_CLASS`, added
    at once in JupyterLab; the book's build moves them into a file that the page loads when
    the figure is first shown (``book/_ext/deferred_frames.py``).
    """
    global _PLOTLYJS_EMBEDDED
    include = not _PLOTLYJS_EMBEDDED
    _PLOTLYJS_EMBEDDED = True
    div_id = div_id or f"mpfas-{uuid.uuid4().hex[:12]}"
    first, later = deferred_parts(fig)
    scripts = [_REDRAW_WHEN_SHOWN] + ([_LOAD_DEFERRED] if later is not None else [])
    out = first.to_html(full_html=False, include_plotlyjs=include, div_id=div_id,
                        auto_play=False, post_script=scripts,
                        config={"displayModeBar": False, "responsive": True})
    bundle = _plotlyjs() if include else ""
    head, _, tail = out.partition(bundle) if bundle else ("", "", out)
    block = ""
    if later is not None:
        payload = _unescape_slashes(pio.json.to_json_plotly(later))
        block = (f'<script type="application/json" class="{DEFERRED_CLASS}" '
                 f'data-plot="{div_id}">{payload}</script>')
    # the block comes first: the loader runs as soon as the figure is drawn
    return HTML(block + _unescape_slashes(head) + bundle + _unescape_slashes(tail))


@functools.cache
def _plotlyjs() -> str:
    """plotly.js (about 4 MB), read once per process."""
    return get_plotlyjs()


def widget_explorer(
    images: ExplorerImages,
    slider_labels: Sequence[str],
    dropdown_labels: Sequence[str],
    panel_titles: Sequence[str],
    slider_name: str = "iteration",
    dropdown_name: str = "sample",
):
    """The same exploration with ipywidgets (live only with a running kernel, e.g. JupyterLab)
    (chapter 11).

    Returns a VBox holding a slider, a dropdown and one ``ipywidgets.Image`` per panel; its
    ``.update()`` attribute redraws the panels for the current control values.
    """
    _check_stack(images, slider_labels, dropdown_labels, panel_titles)
    slider = w.SelectionSlider(options=list(slider_labels), description=slider_name,
                               continuous_update=False)
    dropdown = w.Dropdown(options=list(dropdown_labels), description=dropdown_name)
    pictures = [w.Image(format="png", width=128, height=128) for _ in panel_titles]
    boxes = [w.VBox([w.Label(t), pic]) for t, pic in zip(panel_titles, pictures, strict=True)]

    def update(*_: Any) -> None:
        s = list(slider_labels).index(slider.value)
        d = list(dropdown_labels).index(dropdown.value)
        for p, pic in enumerate(pictures):
            pic.value = base64.b64decode(png_uri(images[s, d, p]).split(",", 1)[1])

    slider.observe(update, names="value")
    dropdown.observe(update, names="value")
    update()
    box = w.VBox([w.HBox([slider, dropdown]), w.HBox(boxes)])
    box.update = update  # type: ignore[attr-defined]
    box.controls = (slider, dropdown)  # type: ignore[attr-defined]
    box.pictures = pictures  # type: ignore[attr-defined]
    return box
