"""Static figures for the book: tensor-to-image helpers, image grids, the HFN diagram (Fig. 2)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from mpfas_lib.data.datasets import to_tensor
from mpfas_lib.data.synthetic import ATTACK_TYPES, DOMAIN_NAMES

ImageLike = torch.Tensor | np.ndarray


def to_image(x: ImageLike, normalize: bool = False) -> np.ndarray:
    """An image tensor or array ([3,H,W], [1,H,W], [H,W] or [H,W,3]) as an [H,W,3] float array.

    Values are clipped to [0, 1]; ``normalize=True`` first stretches the array's own min-max
    range to [0, 1] (for maps that are not probabilities, e.g. feature maps).
    """
    channel_first = isinstance(x, torch.Tensor)  # torch layout; arrays may be either
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float32).numpy()
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3) and (channel_first or a.shape[-1] not in (1, 3)):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(
            f"to_image expects [3,H,W], [1,H,W], [H,W] or [H,W,3]; got shape {list(np.shape(x))}"
        )
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if normalize:
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.clip(a, 0.0, 1.0)


def image_grid(
    images: Sequence[Sequence[ImageLike | None]],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    cell: float = 1.5,
    normalize: bool = False,
) -> Figure:
    """A grid figure: ``images[r][c]`` in row r, column c (None leaves the cell blank) (chapter 03).

    Row labels go on the left of each row, column labels above the first row.
    """
    rows = len(images)
    if rows == 0 or any(len(r) == 0 for r in images):
        raise ValueError("image_grid needs at least one row and one image per row")
    cols = max(len(r) for r in images)
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"image_grid: {len(row_labels)} row labels for {rows} rows")
    if col_labels is not None and len(col_labels) != cols:
        raise ValueError(f"image_grid: {len(col_labels)} column labels for {cols} columns")
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols + 0.6, cell * rows + 0.4),
                             squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            img = images[r][c] if c < len(images[r]) else None
            if img is not None:
                ax.imshow(to_image(img, normalize=normalize), interpolation="nearest")
            if r == 0 and col_labels is not None:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=9, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def channel_grid(x: ImageLike, title: str | None = None, cell: float = 1.5) -> Figure:
    """The channels of one [C,H,W] map side by side (each min-max normalised), in grey
    (chapter 03)."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 3:
        raise ValueError(f"channel_grid expects a [C,H,W] map, got shape {list(a.shape)}")
    return image_grid([list(a)], col_labels=[f"channel {i}" for i in range(a.shape[0])],
                      title=title, cell=cell, normalize=True)


def draw_detection(ax: Axes, image: ImageLike, box: Sequence[float],
                   landmarks: np.ndarray | None = None, label: str | None = None) -> Axes:
    """Show an image with a face box (x1, y1, x2, y2) and optional [5, 2] landmarks (chapter 02)."""
    raw = isinstance(image, np.ndarray) and image.dtype == np.uint8
    ax.imshow(image if raw else to_image(image))
    x1, y1, x2, y2 = (float(v) for v in box)
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="#e6550d",
                           linewidth=2))
    if landmarks is not None:
        pts = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)
        ax.scatter(pts[:, 0], pts[:, 1], s=14, c="#31a354", zorder=3)
    if label:
        ax.text(x1, y1 - 4, label, color="#e6550d", fontsize=8, va="bottom")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# --- The Hierarchical Fusion Network, drawn (paper Fig. 2) -------------------------------------

_COLOURS = {
    "input": "#f2f2f2",
    "extractor": "#f6c48f",
    "rgb": "#9ecae1",
    "map": "#a1d99b",
    "hfm": "#fdd0a2",
    "head": "#dadaeb",
    "loss": "#fcbba1",
}


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, kind: str,
         fontsize: float = 8) -> tuple[float, float, float, float]:
    """A rounded, labelled box centred at (x, y); returns its (left, right, bottom, top)."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=_COLOURS[kind], edgecolor="#333333", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return x - w / 2, x + w / 2, y - h / 2, y + h / 2


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float],
           style: str = "-|>", dashed: bool = False, colour: str = "#333333") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9,
                                 linewidth=1.0, color=colour,
                                 linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0))


def hfn_diagram(
    channels: Sequence[int] = (512, 1024, 2048),
    sizes: Sequence[int] = (32, 16, 8),
    image_size: int = 256,
    ax: Axes | None = None,
) -> Figure:
    """Draw the two-stream HFN with its three HFMs (paper Fig. 2) using matplotlib patches
    (chapter 05).

    ``channels`` and ``sizes`` label the stream taps of hierarchies i = 3, 2, 1 (layer2, layer3,
    layer4: shallow first), as in the ResNet-50 defaults at 256 px input.
    """
    if len(channels) != 3 or len(sizes) != 3:
        raise ValueError("hfn_diagram expects three taps (layer2, layer3, layer4)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 5.2))
    else:
        fig = ax.figure
    ax.set_xlim(0, 12.4)
    ax.set_ylim(0, 6.6)
    ax.set_axis_off()

    y_rgb, y_map, y_hfm = 5.8, 1.2, 3.5
    # Inputs and the extractor.
    _box(ax, 0.7, y_rgb, 1.1, 0.7, f"RGB\n{image_size}×{image_size}", "input")
    _box(ax, 0.7, 3.5, 1.1, 0.8, "Meta Pattern\nExtractor Φ", "extractor")
    _box(ax, 0.7, y_map, 1.1, 0.7, f"MP\n{image_size}×{image_size}", "input")
    _arrow(ax, (0.7, y_rgb - 0.35), (0.7, 3.9))
    _arrow(ax, (0.7, 3.1), (0.7, y_map + 0.35))

    # Streams: stem + layer1, then the three tapped stages (hierarchies i = 3, 2, 1).
    xs = [2.2, 4.0, 5.8, 7.6]
    names = ["stem+RM1", "RM2", "RM3", "RM4"]
    for y, kind, src in ((y_rgb, "rgb", "RGB stream"), (y_map, "map", "MP stream")):
        ax.text(xs[0] - 0.6, y + 0.62, src, fontsize=8, style="italic")
        _arrow(ax, (1.25, y), (xs[0] - 0.55, y))
        for j, (x, name) in enumerate(zip(xs, names, strict=True)):
            label = name if j == 0 else f"{name}\n{channels[j - 1]}ch {sizes[j - 1]}²"
            _box(ax, x, y, 1.1, 0.75, label, kind, fontsize=7.5)
            if j:
                _arrow(ax, (xs[j - 1] + 0.55, y), (x - 0.55, y))

    # HFMs: F_1 at layer4 (deepest), F_3 at layer2; fused maps flow right-to-left (top-down).
    hfm_x = {1: xs[3], 2: xs[2], 3: xs[1]}
    for i, x in hfm_x.items():
        _box(ax, x, y_hfm, 1.1, 0.75, f"HFM $F_{i}$\n$m_{i}$", "hfm")
        _arrow(ax, (x, y_rgb - 0.375), (x, y_hfm + 0.375), colour="#3182bd")
        _arrow(ax, (x, y_map + 0.375), (x, y_hfm - 0.375), colour="#31a354")
    _arrow(ax, (hfm_x[1] + 1.05, y_hfm), (hfm_x[1] + 0.55, y_hfm), dashed=True)
    ax.text(hfm_x[1] + 1.08, y_hfm, "$m_0=0$", fontsize=8, va="center")
    _arrow(ax, (hfm_x[1] - 0.55, y_hfm), (hfm_x[2] + 0.55, y_hfm))
    _arrow(ax, (hfm_x[2] - 0.55, y_hfm), (hfm_x[3] + 0.55, y_hfm))
    ax.text((hfm_x[1] + hfm_x[2]) / 2, y_hfm + 0.2, "U[C(·)]", fontsize=7, ha="center")
    ax.text((hfm_x[2] + hfm_x[3]) / 2, y_hfm + 0.2, "U[C(·)]", fontsize=7, ha="center")

    # Heads: pixel map from m_3, binary vector from the ends of both streams.
    _box(ax, 2.2, y_hfm, 1.15, 0.75, f"pixel map\n{sizes[0]}×{sizes[0]}", "head")
    _arrow(ax, (hfm_x[3] - 0.55, y_hfm), (2.2 + 0.575, y_hfm))
    _box(ax, 2.2, 2.35, 1.15, 0.5, "$L_{MSE}$", "loss")
    _arrow(ax, (2.2, y_hfm - 0.375), (2.2, 2.6))
    _box(ax, 10.1, y_hfm, 1.2, 0.75, "pool + FC\nbinary vector", "head")
    _arrow(ax, (xs[3] + 0.55, y_rgb), (10.1, y_hfm + 0.375), colour="#3182bd")
    _arrow(ax, (xs[3] + 0.55, y_map), (10.1, y_hfm - 0.375), colour="#31a354")
    _box(ax, 11.75, y_hfm, 0.9, 0.5, "$L_{BCE}$", "loss")
    _arrow(ax, (10.7, y_hfm), (11.3, y_hfm))
    ax.text(6.2, 0.2, "Eq. 9:  $m_i = C(m^t_i) + C(m^b_i) + U[C(m_{i-1})]$,  i = 1, 2, 3",
            ha="center", fontsize=9)
    return fig


def benchmark_gallery(bench, subject: int = 1, frame: int = 0, title: str | None = None,
                      cell: float = 1.45) -> Figure:
    """One frame per synthetic domain (rows) and attack type (columns); blank where absent
    (chapter 02)."""
    attacks = {entry["domain"]: set(entry["attacks"]) | {"live"} for entry in bench.catalogue()}
    grid = [[to_tensor(bench.render_video(d, subject, a)[frame]) if a in attacks[d] else None
             for a in ATTACK_TYPES] for d in DOMAIN_NAMES]
    return image_grid(grid, row_labels=[f"domain {d}" for d in DOMAIN_NAMES],
                      col_labels=["genuine" if a == "live" else a for a in ATTACK_TYPES],
                      title=title, cell=cell)
