"""Reading training runs' results, and our results beside the paper's Tables I-IV.

This is the one place where run results are read. Every training run writes
``<out>/<run>/results.json`` (``mpfas_lib.training.runs.run_training``) with

- ``run``, ``status`` ("completed" or "failed"), ``error``;
- ``provenance``: ``config`` (protocol, data, ..., with ``profile`` and ``method`` nested;
  results written before format 2 hold a flat config with their names), ``profile``,
  ``method``, ``iterations``, ``seed``, ``device``, ``wall_seconds``, git commit, ...;
- ``selection``: the run's default model-selection rule;
- ``metrics``: {rule: {"iteration", "target": {"frame": {...}, "video": {...}},
  "source_val": {...}}} for every rule of ``selection.SELECTIONS``, with the
  target metrics of mpfas_lib.evaluation.metrics.pad_metrics in percent;
- ``scores``: {rule: video-level target scores} of the selected evaluations (format 2; read by
  :func:`mpfas_lib.evaluation.stats.run_scores`);
- ``history``: every evaluation.

:func:`load_runs` reads them, :func:`run_rows` makes one table row per run and
:func:`comparison_entries` turns those rows into entries for :func:`comparison_table`, which
labels our rows so that they are never mistaken for the paper's; :func:`seed_table` gives
the mean over seeds with confidence intervals and the paired differences between methods.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mpfas_lib.evaluation.paper import SETTING_TO_PROTOCOL, paper_table
from mpfas_lib.evaluation.stats import compare_table, run_scores

__all__ = [
    "PAPER_NAMES",
    "THRESHOLDS",
    "comparison_entries",
    "comparison_table",
    "load_runs",
    "row_label",
    "run_rows",
]

#: Threshold names: EER of the target test set (oracle), held-out source validation, fixed 0.5.
THRESHOLDS = ("target_eer", "source", "0.5")
_PROTOCOL_TO_SETTING = {p: s for s, p in SETTING_TO_PROTOCOL.items()}
_DASH = "–"

#: Our method keys (mpfas_lib.training.methods) -> the paper's row names where one exists.
PAPER_NAMES = {"mp": "HFN+MP", "colorlbp": "HFN+ColorLBP", "albedo": "HFN+Albedo",
               "depth": "HFN+Depth", "reflectance": "HFN+Reflectance",
               "erm": "HFN+MP w/o OA (ERM)", "rgb": "RGB only (ERM)"}


def _run_problem(data: Any) -> str | None:
    """Why ``data`` is not a usable run result, or None when it is one."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    missing = [k for k in ("provenance", "metrics") if k not in data]
    if missing:
        return f"missing key(s) {missing}"
    if not isinstance(data["metrics"], dict):
        return "'metrics' is not an object"
    if not data["metrics"]:
        return f"no metrics (status {data.get('status')!r})"
    return None


def load_runs(folder: Any, pattern: str = "*/results.json") -> list[dict[str, Any]]:
    """The ``results.json`` of every training run under ``folder`` (sorted; [] if none).

    Each run gets a ``"file"`` key with its path. Files that are not valid JSON, or not the
    results of a run with metrics, are skipped with a warning naming them.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.glob(pattern)):
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.warn(f"skipping {path}: not readable JSON ({exc})", stacklevel=2)
            continue
        problem = _run_problem(data)
        if problem:
            warnings.warn(f"skipping {path}: not a run's results ({problem})", stacklevel=2)
            continue
        runs.append({**data, "file": str(path)})
    return runs


def _name(entry: Any) -> str:
    """The name of a config's profile or method: nested (format 2) or flat (before)."""
    return entry["name"] if isinstance(entry, dict) else str(entry)


def run_rows(runs: Sequence[dict[str, Any]], rule: str | None = None, level: str = "video"
             ) -> pd.DataFrame:
    """One row per training run: protocol, method, both HTERs, AUC, selection, provenance.

    ``rule`` picks the evaluation of each run ("source_val", "last" or "target_oracle";
    default: the run's own selection); ``level`` is "video" or "frame".
    """
    rows = []
    for r in runs:
        cfg, prov = r["provenance"]["config"], r["provenance"]
        sel = rule or r.get("selection", "source_val")
        chosen = r["metrics"][sel]
        m = chosen["target"][level]
        rows.append({
            "protocol": cfg["protocol"], "method": _name(cfg["method"]), "data": cfg["data"],
            "profile": prov["profile"], "iterations": prov["iterations"],
            "selection": sel, "level": level, "evaluated at": chosen["iteration"],
            "hter_source": m.get("hter_source", np.nan), "hter_target_eer": m["hter_target_eer"],
            "auc": m["auc"], "seed": prov.get("seed"), "device": prov.get("device"),
            "wall_seconds": prov.get("wall_seconds"),
        })
    return pd.DataFrame(rows)


def comparison_entries(rows: pd.DataFrame, profile_label: str | None = None,
                       thresholds: Sequence[str] = ("source", "target_eer")
                       ) -> list[dict[str, Any]]:
    """Rows of :func:`run_rows` as entries for :func:`comparison_table`.

    Methods get the paper's row names (:data:`PAPER_NAMES`); ``profile_label`` replaces the
    profile name (e.g. "quick, 3 it.") so the label says how small the run was.
    """
    out = []
    for r in rows.itertuples(index=False):
        for t in thresholds:
            out.append({
                "protocol": r.protocol, "method": PAPER_NAMES.get(r.method, r.method),
                "hter": getattr(r, f"hter_{t}"), "auc": r.auc, "threshold": t,
                "data": r.data, "profile": profile_label or r.profile,
            })
    return out


def row_label(entry: dict[str, Any]) -> str:
    """Label of one of our rows, e.g. "MP (ours, synthetic, quick, thr=source)"."""
    return (
        f"{entry['method']} (ours, {entry['data']}, {entry['profile']}, "
        f"thr={entry['threshold']})"
    )


def _check_entry(entry: dict[str, Any], k: int) -> None:
    """Raise a ValueError naming what is wrong with ``ours[k]``."""
    missing = [key for key in ("protocol", "method", "hter", "threshold", "data", "profile")
               if key not in entry]
    if missing:
        raise ValueError(f"ours[{k}]: missing key(s) {missing}")
    if entry["threshold"] not in THRESHOLDS:
        raise ValueError(
            f"ours[{k}]: threshold {entry['threshold']!r} is not one of {THRESHOLDS}"
        )
    if entry["data"] not in ("synthetic", "real"):
        raise ValueError(f"ours[{k}]: data {entry['data']!r} is not 'synthetic' or 'real'")


def _num(x: Any) -> float:
    """Float value, NaN for None."""
    return math.nan if x is None else float(x)


def _fmt(mean: float, std: float, n: int) -> str:
    """"12.34" or "12.34±0.56" (std shown when several runs were averaged)."""
    if math.isnan(mean):
        return _DASH
    return f"{mean:.2f}" if n <= 1 or math.isnan(std) else f"{mean:.2f}±{std:.2f}"


def comparison_table(
    ours: Sequence[dict[str, Any]], table: str, numeric: bool = False
) -> pd.DataFrame:
    """The paper's Table ``table`` with our rows appended (repeated runs averaged, ± std).

    ``numeric=False``: one row per method, one "HTER / AUC" string column per setting
    ("OCI-M", ...), plus a "source" column ("paper (real data)" or "ours").
    ``numeric=True``: long format, one row per (row, setting) with float hter/auc columns
    and the standard deviation and number of runs for our rows; the paper's rows carry
    threshold "not stated" (the paper does not name it), data "real" and profile "paper".
    Entries of ``ours`` whose
    protocol is not in this table are left out.
    """
    t = paper_table(table)
    records: list[dict[str, Any]] = []
    for method, cells in t.rows.items():
        for setting, (h, a) in zip(t.settings, cells, strict=True):
            records.append(
                {"row": method, "source": "paper (real data)", "method": method,
                 "setting": setting, "protocol": SETTING_TO_PROTOCOL[setting],
                 "hter": h, "auc": _num(a), "threshold": "not stated", "data": "real",
                 "profile": "paper", "run": 0}
            )
    for k, entry in enumerate(ours):
        _check_entry(entry, k)
        protocol = str(entry["protocol"])
        setting = _PROTOCOL_TO_SETTING.get(protocol, protocol)
        if setting not in t.settings:
            continue
        records.append(
            {"row": row_label(entry), "source": "ours", "method": entry["method"],
             "setting": setting, "protocol": SETTING_TO_PROTOCOL[setting],
             "hter": _num(entry["hter"]), "auc": _num(entry.get("auc")),
             "threshold": entry["threshold"], "data": entry["data"],
             "profile": entry["profile"], "run": k}
        )
    df = pd.DataFrame.from_records(records)
    keys = ["row", "source", "method", "setting", "protocol", "threshold", "data", "profile"]
    long = (
        df.groupby(keys, sort=False, dropna=False)
        .agg(hter=("hter", "mean"), hter_std=("hter", "std"), auc=("auc", "mean"),
             auc_std=("auc", "std"), n=("run", "size"))
        .reset_index()
    )
    long.insert(0, "table", t.name)
    if numeric:
        return long
    long["cell"] = [
        f"{_fmt(r.hter, r.hter_std, r.n)} / {_fmt(r.auc, r.auc_std, r.n)}"
        for r in long.itertuples()
    ]
    wide = long.pivot(index="row", columns="setting", values="cell")
    order = list(dict.fromkeys(long["row"]))
    wide = wide.reindex(index=order, columns=list(t.settings)).fillna(f"{_DASH} / {_DASH}")
    wide.insert(0, "source", long.drop_duplicates("row").set_index("row")["source"])
    wide.index.name = "method"
    wide.columns.name = None
    return wide


def seed_table(runs: Sequence[dict[str, Any]], reference: str = "mp",
               methods: Sequence[str] | None = None, rule: str | None = None,
               metrics: Sequence[str] = ("hter_source", "hter_target_eer", "auc"),
               n_boot: int = 2000) -> pd.DataFrame:
    """Per setting and method: mean over seeds, bootstrap 95 % CI, and the paired difference
    to ``reference`` with its CI and verdict (:mod:`mpfas_lib.evaluation.stats`).

    Runs are grouped by protocol; a protocol without the reference method is skipped, and
    ``methods`` (default: all) limits the comparison. The selection ``rule`` defaults to each
    run's own (``results["selection"]``).
    """
    by_protocol: dict[str, dict[str, list]] = {}
    for r in runs:
        protocol = r["provenance"]["config"]["protocol"]
        method = _name(r["provenance"]["config"]["method"])
        if methods is not None and method not in methods and method != reference:
            continue
        chosen = rule or r.get("selection", "source_val")
        by_protocol.setdefault(protocol, {}).setdefault(method, []).append(
            run_scores(r, chosen))
    rows = []
    for protocol, groups in sorted(by_protocol.items()):
        if reference not in groups:
            continue
        # pair on the seeds every method of this setting has (a sweep may be unfinished)
        common = set.intersection(*({s.seed for s in runs_} for runs_ in groups.values()))
        groups = {m: [s for s in runs_ if s.seed in common] for m, runs_ in groups.items()}
        for row in compare_table(groups, reference, names=tuple(metrics), n_boot=n_boot):
            rows.append({"protocol": protocol, "setting": protocol.split(":")[-1], **row})
    return pd.DataFrame(rows)


def verdicts(table: pd.DataFrame, metric: str = "hter_source", reference: str = "mp"
             ) -> pd.DataFrame:
    """Setting × method: is ``reference`` better, worse or not distinguishable (paired CI)?

    ``table`` is :func:`seed_table`'s; its verdicts say how each *method* compares with the
    reference, so they are turned round here to speak of the reference.
    """
    turn = {"better": "worse", "worse": "better", "not distinguishable": "not distinguishable"}
    rows = table[(table["metric"] == metric) & (table["method"] != reference)]
    cells = rows.assign(verdict=rows["verdict"].map(turn).fillna("n/a"),
                        text=lambda d: d["verdict"] + d["diff"].map(
                            lambda x: f" ({-x:+.1f})" if np.isfinite(x) else ""))
    return cells.pivot(index="setting", columns="method", values="text")


def learning_curves(runs: Sequence[dict[str, Any]], value: str = "hter_source",
                    level: str = "video") -> pd.DataFrame:
    """Mean over seeds of a target metric at every evaluation: (setting, method) × iteration."""
    rows = []
    for r in runs:
        cfg = r["provenance"]["config"]
        for h in r["history"]:
            rows.append({"setting": cfg["protocol"].split(":")[-1], "method": _name(cfg["method"]),
                         "iteration": h["iteration"],
                         value: h["target"][level].get(value, np.nan)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.groupby(["setting", "method", "iteration"])[value].mean().reset_index()


def training_losses(runs: Sequence[dict[str, Any]], window: int = 25) -> pd.DataFrame:
    """Θ-step loss over iterations (trace.json beside each results.json), smoothed, per method
    and averaged over settings and seeds."""
    rows = []
    for r in runs:
        if "file" not in r or not Path(r["file"]).with_name("trace.json").is_file():
            continue
        trace = json.loads(Path(r["file"]).with_name("trace.json").read_text(encoding="utf-8"))
        loss = pd.Series([t["theta_loss"] for t in trace])
        smooth = loss.rolling(window, min_periods=1).mean()
        method = _name(r["provenance"]["config"]["method"])
        rows.extend({"method": method, "iteration": i + 1, "loss": v}
                    for i, v in enumerate(smooth))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.groupby(["method", "iteration"])["loss"].mean().unstack("method")
