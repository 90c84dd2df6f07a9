"""Result figures for the book: ROC curves, score histograms, ablation bars, result tables,
and the parameter-change trace of one Algorithm 1 iteration (paper Sec. III-A, IV-E)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from torch import nn

from mpfas_lib.evaluation.metrics import det, roc

__all__ = [
    "ParameterTrace",
    "ablation_bars",
    "parameter_trace_plot",
    "roc_curves",
    "score_histograms",
    "style_results",
]

# Colour per role, reused across chapters so that "ours" always looks the same.
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """The given axes, or a fresh figure's."""
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def roc_curves(
    curves: Mapping[str, tuple[Any, Any]],
    ax: Axes | None = None,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    title: str | None = None,
) -> Axes:
    """ROC curves (FAR on x, 1 − FRR on y) of named (scores, labels) pairs (Sec. IV-A) (chapter 07).

    ``thresholds[name] = {label: threshold}`` marks operating points on curve ``name``
    (e.g. the target-EER threshold and a source-fixed one).
    """
    if not curves:
        raise ValueError("roc_curves needs at least one (scores, labels) pair")
    ax = _axes(ax, (4.2, 4.0))
    markers = "os^Dv<>"
    for i, (name, (scores, labels)) in enumerate(curves.items()):
        fpr, tpr, _ = roc(scores, labels)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(fpr * 100, tpr * 100, color=color, lw=1.8, label=name)
        s = np.asarray(scores, dtype=float)
        y = np.asarray(labels).astype(int)
        for j, (label, t) in enumerate((thresholds or {}).get(name, {}).items()):
            far = float((s[y == 0] >= t).mean() * 100)
            gar = float((s[y == 1] >= t).mean() * 100)
            ax.plot(far, gar, markers[j % len(markers)], color=color, mec="black", ms=7,
                    label=f"{name}: {label} ({t:.2f})")
    ax.plot([0, 100], [100, 0], ":", color="grey", lw=1, label="FAR = FRR (EER line)")
    ax.set_xlabel("FAR (% of spoofs accepted)")
    ax.set_ylabel("1 − FRR (% of genuine faces accepted)")
    ax.set_xlim(-1, 101)
    ax.set_ylim(-1, 101)
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _probit(percent: Any) -> np.ndarray:
    """Normal deviate of percentages (the DET curve's axis scale)."""
    return np.array([NormalDist().inv_cdf(p / 100.0) for p in np.ravel(percent)])


def det_curves(
    curves: Mapping[str, tuple[Any, ...]], ax: Axes | None = None, title: str | None = None
) -> Axes:
    """DET curves (ISO/IEC 30107-3): APCER against BPCER on normal-deviate axes (chapter 07).

    ``curves[name] = (scores, labels)`` or ``(scores, labels, attack_types)`` (worst species).
    """
    if not curves:
        raise ValueError("det_curves needs at least one (scores, labels) pair")
    ax = _axes(ax, (4.2, 4.0))
    lim = (0.1, 60.0)
    for i, (name, args) in enumerate(curves.items()):
        apcer, bpcer = det(*args)
        keep = (apcer > 0) & (bpcer > 0)  # 0 % is at minus infinity on a probit axis
        ax.plot(_probit(np.clip(apcer[keep], *lim)), _probit(np.clip(bpcer[keep], *lim)),
                color=PALETTE[i % len(PALETTE)], lw=1.8, label=name)
    ticks = [0.1, 0.5, 1, 2, 5, 10, 20, 40]
    ax.set_xticks(_probit(ticks), [f"{t:g}" for t in ticks])
    ax.set_yticks(_probit(ticks), [f"{t:g}" for t in ticks])
    ax.set_xlim(*_probit(lim))
    ax.set_ylim(*_probit(lim))
    ax.set_xlabel("APCER (%)")
    ax.set_ylabel("BPCER (%)")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def score_histograms(
    scores: Any,
    labels: Any,
    thresholds: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    bins: int = 40,
) -> Axes:
    """Histograms of genuine and spoof scores with named vertical threshold lines (chapter 07)."""
    ax = _axes(ax, (5.0, 3.0))
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels).astype(int)
    edges = np.linspace(min(0.0, s.min()), max(1.0, s.max()), bins + 1)
    ax.hist(s[y == 1], bins=edges, alpha=0.6, color=PALETTE[2], label="genuine (1)")
    ax.hist(s[y == 0], bins=edges, alpha=0.6, color=PALETTE[3], label="spoof (0)")
    styles = ("--", "-.", ":", "-")
    for i, (name, t) in enumerate((thresholds or {}).items()):
        ax.axvline(t, color="black", ls=styles[i % len(styles)], lw=1.3, label=f"{name} = {t:.2f}")
    ax.set_xlabel("score = P(genuine)")
    ax.set_ylabel("count")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def ablation_bars(
    data: pd.DataFrame,
    group: str,
    variant: str,
    value: str = "hter",
    error: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "HTER (%)",
    order: Sequence[str] | None = None,
    interval: tuple[str, str] | None = None,
) -> Axes:
    """Grouped bar chart as in the paper's Fig. 6-9: one group per setting, one bar per variant
    (chapter 08).

    ``data`` is long format with columns ``group`` (e.g. the protocol), ``variant`` (e.g.
    "hfm"/"concat") and ``value``; ``error`` names an optional column of error-bar half-widths,
    ``interval`` a pair of columns (low, high) of a confidence interval drawn as error bars.
    Bars carry their value on top (lower is better for HTER).
    """
    for col in (group, variant, value) + ((error,) if error else ()) + tuple(interval or ()):
        if col not in data.columns:
            raise ValueError(f"ablation_bars: column {col!r} not in {list(data.columns)}")
    groups = list(dict.fromkeys(data[group]))
    variants = list(order) if order is not None else list(dict.fromkeys(data[variant]))
    ax = _axes(ax, (min(8.0, max(4.0, 0.45 * len(groups) * max(1, len(variants)) + 1.5)), 3.4))
    width = 0.8 / max(1, len(variants))
    x = np.arange(len(groups))
    for i, v in enumerate(variants):
        sub = data[data[variant] == v].set_index(group)
        heights = [float(sub[value].get(g, np.nan)) if g in sub.index else np.nan for g in groups]
        errs = None
        if error:
            errs = [float(sub[error].get(g, 0.0)) if g in sub.index else 0.0 for g in groups]
        elif interval:
            lo = [float(sub[interval[0]].get(g, np.nan)) if g in sub.index else np.nan
                  for g in groups]
            hi = [float(sub[interval[1]].get(g, np.nan)) if g in sub.index else np.nan
                  for g in groups]
            errs = np.nan_to_num([np.subtract(heights, lo), np.subtract(hi, heights)])
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(pos, heights, width, yerr=errs, capsize=2, color=PALETTE[i % len(PALETTE)],
                      label=str(v), edgecolor="black", linewidth=0.4)
        ax.bar_label(bars, labels=["" if np.isnan(h) else f"{h:.1f}" for h in heights],
                     fontsize=7, padding=1)
    ax.set_xticks(x, [str(g) for g in groups])
    ax.set_ylabel(ylabel)
    ax.margins(y=0.15)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False,
              ncols=min(len(variants), 4))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def shift_curves(table: pd.DataFrame, ylabel: str = "target HTER (%)",
                 title: str | None = None) -> plt.Figure:
    """One panel per setting: each method's mean over seeds against the domain-shift dial,
    with its 95 % interval as a band and the seeds as dots (chapter 08).

    ``table`` is :func:`mpfas_lib.evaluation.shift_table`'s: columns "shift", "setting",
    "method", "mean", "ci_low", "ci_high" and "values".
    """
    missing = {"shift", "setting", "method", "mean", "ci_low", "ci_high", "values"} - set(
        table.columns)
    if missing:
        raise ValueError(f"shift_curves: columns {sorted(missing)} missing")
    settings = list(dict.fromkeys(table["setting"]))
    fig, axes = plt.subplots(1, max(1, len(settings)), figsize=(3.6 * max(1, len(settings)), 3.2),
                             sharey=True, squeeze=False)
    for ax, setting in zip(axes[0], settings, strict=False):
        part = table[table["setting"] == setting]
        for i, (method, rows) in enumerate(part.groupby("method", sort=False)):
            rows = rows.sort_values("shift")
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(rows["shift"], rows["mean"], marker="o", color=colour, label=method)
            ax.fill_between(rows["shift"], rows["ci_low"], rows["ci_high"], color=colour,
                            alpha=0.2, linewidth=0)
            for x, values in zip(rows["shift"], rows["values"], strict=True):
                ax.scatter([x] * len(values), values, s=8, color=colour, alpha=0.5)
        ax.set_title(setting, fontsize=10)
        ax.set_xlabel("domain-shift dial")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def style_results(df: pd.DataFrame, source_col: str = "source", digits: int = 2):
    """A pandas Styler for results tables: our rows shaded, floats rounded, index kept
    (chapter 08)."""

    def shade(row: pd.Series) -> list[str]:
        ours = source_col in row.index and str(row[source_col]).startswith("ours")
        return ["background-color: #fff3cd" if ours else "" for _ in row]

    styler = df.style.apply(shade, axis=1)
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    if floats:
        styler = styler.format({c: f"{{:.{digits}f}}" for c in floats}, na_rep="–")
    return styler


def _flat(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """All tensors as one detached float vector (an empty vector for none)."""
    if not params:
        return torch.zeros(0)
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in params])


def _bn_stats(module: nn.Module) -> list[torch.Tensor]:
    """The BatchNorm running means and variances of a module (buffers, not parameters)."""
    return [
        buf
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for buf in (m.running_mean, m.running_var)
        if buf is not None
    ]


class ParameterTrace:
    """Record ‖Φ − Φ_0‖ and ‖Θ − Θ_0‖ at every batch request of one Algorithm 1 iteration
    (chapter 06).

    Wrap the batch source with :meth:`wrap`; ``meta_pattern_step`` asks for a batch right
    before each of its K inner steps and before the Θ step, so the state seen at request
    j + 1 is the state after step j. Call :meth:`finish` after the step returns to record
    the state after the outer (Θ) step. Rows: ``after`` ("start", "inner step k=1", ...,
    "outer Θ step"), the batch's domains, the change norms of the parameters (weights and
    biases) from the start and from the previous row, and the change of the BatchNorm
    running statistics (buffers, not parameters) from the start, for Φ and Θ.
    """

    def __init__(self, phi: nn.Module, theta: nn.Module) -> None:
        self.phi_params = [p for p in phi.parameters() if p.requires_grad]
        self.theta_params = [p for p in theta.parameters() if p.requires_grad]
        self.phi_bn, self.theta_bn = _bn_stats(phi), _bn_stats(theta)
        self.start = self._state()
        self.phi0, self.theta0 = self.start[0], self.start[1]
        self.prev = self.start
        self.rows: list[dict[str, Any]] = []
        self.requests: list[list[str]] = []

    def _state(self) -> tuple[torch.Tensor, ...]:
        return (_flat(self.phi_params), _flat(self.theta_params), _flat(self.phi_bn),
                _flat(self.theta_bn))

    def _record(self, after: str, domains: Sequence[str] | None) -> None:
        now = self._state()
        phi, theta, phi_bn, theta_bn = now
        self.rows.append(
            {
                "after": after,
                "batch from": ",".join(domains) if domains else "",
                "|Φ−Φ0|": float((phi - self.phi0).norm()),
                "|Θ−Θ0|": float((theta - self.theta0).norm()),
                "|ΔΦ| this step": float((phi - self.prev[0]).norm()),
                "|ΔΘ| this step": float((theta - self.prev[1]).norm()),
                "|BN stats Φ − start|": float((phi_bn - self.start[2]).norm()),
                "|BN stats Θ − start|": float((theta_bn - self.start[3]).norm()),
            }
        )
        self.prev = now

    def wrap(self, sample: Callable[[Sequence[str]], Any]) -> Callable[[Sequence[str]], Any]:
        """A batch source that records the parameters before handing out each batch."""

        def traced(domains: Sequence[str]) -> Any:
            n = len(self.requests)
            after = "start" if n == 0 else f"inner step k={n}"
            self._record(after, self.requests[-1] if n else None)
            self.requests.append(list(domains))
            return sample(domains)

        return traced

    def finish(self, inner_steps: int) -> pd.DataFrame:
        """Record the state after the Θ step and return the trace as a table."""
        if len(self.requests) != inner_steps + 1:
            raise ValueError(
                f"expected {inner_steps + 1} batch requests (K inner + 1 outer), "
                f"saw {len(self.requests)}"
            )
        self._record("outer Θ step", self.requests[-1])
        return pd.DataFrame(self.rows)

    @staticmethod
    def snapshot(module: nn.Module) -> nn.Module:
        """A frozen deep copy of a module (to compare before and after)."""
        return copy.deepcopy(module).eval()


def parameter_trace_plot(trace: pd.DataFrame, ax: Axes | None = None, title: str | None = None
                         ) -> Axes:
    """Bar chart of the per-step parameter change of Φ and Θ from a :class:`ParameterTrace`
    (chapter 06)."""
    ax = _axes(ax, (6.0, 3.0))
    steps = trace[trace["after"] != "start"].reset_index(drop=True)
    x = np.arange(len(steps))
    ax.bar(x - 0.2, steps["|ΔΦ| this step"], 0.4, color=PALETTE[0], label="‖ΔΦ‖ (extractor)")
    ax.bar(x + 0.2, steps["|ΔΘ| this step"], 0.4, color=PALETTE[1], label="‖ΔΘ‖ (HFN)")
    labels = [f"{a}\n[{d}]" for a, d in zip(steps["after"], steps["batch from"], strict=True)]
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("parameter change (L2)")
    ax.set_yscale("symlog", linthresh=1e-6)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
