"""Reading training runs' results: tables per run, over seeds, between methods, beside the paper.

This is the one place where run results are read. Every training run writes
``<out>/<run>/results.json`` (``mpfas_lib.training.loop.run_training``) with

- ``run``, ``status`` ("completed" or "failed"), ``error``;
- ``provenance``: ``config`` (protocol, data, ..., with ``profile`` and ``method`` nested;
  results written before format 2 hold a flat config with their names), ``profile``,
  ``method``, ``iterations``, ``seed``, ``device``, ``wall_seconds``, git commit, ...;
- ``selection``: the run's default model-selection rule;
- ``metrics``: {rule: {"iteration", "target": {"frame": {...}, "video": {...}},
  "source_val": {...}}} for every rule of ``selection.SELECTIONS``, with the
  target metrics of mpfas_lib.evaluation.metrics.pad_metrics in percent;
- ``scores``: {rule: video-level target scores, and the source-validation ones} of the
  selected evaluations (read by :func:`mpfas_lib.evaluation.stats.run_scores`);
- ``history``: every evaluation.

One function per table: :func:`load_runs` reads them and :func:`run_rows` makes one row per
run; :func:`seed_table` gives, per setting, every method's mean over seeds with its interval
and its paired difference to a reference with interval, nominal and Holm-adjusted p-values
(:mod:`mpfas_lib.evaluation.stats`); :func:`pooled_table` asks the same once per method,
pooled over the settings; :func:`selection_table` puts that pooled question under each
model-selection rule side by side; :func:`verdicts` reads a comparison table in the
reference's voice; :func:`beside_paper` sets our rows beside the paper's Tables I-IV, labelled
so that they are never mistaken for the paper's.
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
from mpfas_lib.evaluation.selection import SELECTIONS, select
from mpfas_lib.evaluation.stats import (
    METRICS,
    N_BOOT,
    RunScores,
    difference_of,
    holm,
    pooled_of,
    replicates,
    run_scores,
    summary_of,
)

__all__ = [
    "PAPER_NAMES",
    "RULE_NAMES",
    "THRESHOLDS",
    "beside_paper",
    "learning_curves",
    "late_gains",
    "load_runs",
    "pooled_table",
    "row_label",
    "run_rows",
    "seed_table",
    "selection_table",
    "training_losses",
    "verdicts",
]

#: Threshold names: EER of the target test set (oracle), held-out source validation, fixed 0.5.
THRESHOLDS = ("target_eer", "source", "0.5")
_PROTOCOL_TO_SETTING = {p: s for s, p in SETTING_TO_PROTOCOL.items()}
_DASH = "–"

#: Our method keys (mpfas_lib.training.methods) -> the paper's row names where one exists.
PAPER_NAMES = {"mp": "HFN+MP", "colorlbp": "HFN+ColorLBP", "albedo": "HFN+Albedo",
               "depth": "HFN+Depth", "reflectance": "HFN+Reflectance",
               "erm": "HFN+MP w/o OA (ERM)", "rgb": "RGB only (ERM)"}
#: The model-selection rules as the tables name them, in the order they are shown.
RULE_NAMES = {"source_val": "source validation", "last": "last",
              "target_frame_min_hter": "target frame min HTER (authors' code)",
              "target_oracle": "target EER (oracle)"}
assert set(RULE_NAMES) == set(SELECTIONS)


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
    """The ``results.json`` of every training run under ``folder`` (sorted; [] if none)
    (chapter 08).

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
    """One row per training run: protocol, method, both HTERs, AUC, selection, provenance
    (chapter 08).

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


def _entries(rows: pd.DataFrame, profile_label: str | None,
             thresholds: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of :func:`run_rows` as our entries of a paper table, one per threshold."""
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


def beside_paper(
    ours: pd.DataFrame | Sequence[dict[str, Any]], table: str, numeric: bool = False,
    profile_label: str | None = None, thresholds: Sequence[str] = ("source", "target_eer"),
) -> pd.DataFrame:
    """The paper's Table ``table`` with our rows appended (repeated runs averaged, ± std)
    (chapter 08).

    ``ours`` is a table of :func:`run_rows` (or its means over seeds), whose methods get the
    paper's row names (:data:`PAPER_NAMES`) and one row per threshold of ``thresholds``, with
    ``profile_label`` in place of the profile name (e.g. "quick, 3 it."); or a list of
    entries with "protocol", "method", "hter", "auc", "threshold", "data" and "profile".
    ``numeric=False``: one row per method, one "HTER / AUC" string column per setting
    ("OCI-M", ...), plus a "source" column ("paper (real data)" or "ours").
    ``numeric=True``: long format, one row per (row, setting) with float hter/auc columns
    and the standard deviation and number of runs for our rows; the paper's rows carry
    threshold "not stated" (the paper does not name it), data "real" and profile "paper".
    Our rows whose protocol is not in this table are left out.
    """
    if isinstance(ours, pd.DataFrame):
        ours = _entries(ours, profile_label, thresholds)
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




def _seed(run: dict[str, Any]) -> int | None:
    """The training seed of a run's results."""
    prov = run["provenance"]
    return (prov.get("config") or {}).get("seed", prov.get("seed"))


def _groups(runs: Sequence[dict[str, Any]], reference: str, methods: Sequence[str] | None
            ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Runs by protocol and method, reference first, on the seeds all methods there share.

    Only matched settings are kept: a protocol with the reference and another method.
    """
    by: dict[str, dict[str, list]] = {}
    for r in runs:
        method = _name(r["provenance"]["config"]["method"])
        if methods is not None and method not in methods and method != reference:
            continue
        by.setdefault(r["provenance"]["config"]["protocol"], {}).setdefault(method, []).append(r)
    out = {}
    for protocol, groups in sorted(by.items()):
        if reference not in groups or len(groups) < 2:
            continue
        # pair on the seeds every method of this setting has (a sweep may be unfinished)
        common = set.intersection(*({_seed(r) for r in rs} for rs in groups.values()))
        rank = {m: k for k, m in enumerate(methods or sorted(groups))}
        order = [reference, *sorted((m for m in groups if m != reference),
                                    key=lambda m: (rank.get(m, len(rank)), m))]
        out[protocol] = {m: sorted((r for r in groups[m] if _seed(r) in common), key=_seed)
                         for m in order}
    return out


def _scores(groups: dict[str, list[dict[str, Any]]], rule: str | None
            ) -> dict[str, list[RunScores]]:
    """The stored scores of each run for ``rule`` (default: the run's own selection)."""
    return {m: [run_scores(r, rule or r.get("selection", "source_val")) for r in rs]
            for m, rs in groups.items()}


_COLUMNS = ["protocol", "setting", "method", "metric", "n_seeds", "seeds", "values", "mean",
            "std", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high", "p", "p_holm",
            "verdict", "resampled", "threshold", "note"]


def _setting_rows(protocol: str, scores: dict[str, list[RunScores]], reference: str,
                  name: str, n_boot: int, seed: int, level: float) -> list[dict[str, Any]]:
    """Rows of :func:`seed_table` for one setting and metric."""
    nan = math.nan
    base = {"protocol": protocol, "setting": protocol.split(":")[-1], "metric": name}
    try:
        reps = replicates(scores, name, n_boot, (seed, protocol))
    except ValueError as exc:
        if "no source threshold" not in str(exc):
            raise
        return [{**base, "method": m, "n_seeds": len(rs), "seeds": [r.seed for r in rs],
                 "values": [], "mean": nan, "std": nan, "ci_low": nan, "ci_high": nan,
                 "diff": nan, "diff_ci_low": nan, "diff_ci_high": nan, "p": nan,
                 "verdict": "reference" if m == reference else "", "resampled": "",
                 "threshold": "", "note": str(exc)} for m, rs in scores.items()]
    rows = []
    for m in scores:
        s = summary_of(reps, m, level)
        row = {**base, "method": m, **{k: s[k] for k in ("n_seeds", "seeds", "values", "mean",
                                                           "std", "ci_low", "ci_high")},
               "diff": nan, "diff_ci_low": nan, "diff_ci_high": nan, "p": nan,
               "verdict": "reference", "resampled": s["resampled"],
               "threshold": s["threshold"], "note": ""}
        if m != reference:
            d = difference_of(reps, m, reference, level)
            row.update(diff=d["diff"], diff_ci_low=d["ci_low"], diff_ci_high=d["ci_high"],
                       p=d["p"], verdict=d["verdict"])
        rows.append(row)
    return rows


def _with_holm(table: pd.DataFrame, by: str = "metric") -> pd.DataFrame:
    """``table`` with "p_holm": Holm over its comparisons (reference rows excluded), per ``by``."""
    table = table.copy()
    table["p_holm"] = math.nan
    compared = table["verdict"] != "reference"
    for _, part in table[compared].groupby(by, sort=False):
        table.loc[part.index, "p_holm"] = holm(part["p"].to_numpy(dtype=float))
    return table


def seed_table(runs: Sequence[dict[str, Any]], reference: str = "mp",
               methods: Sequence[str] | None = None, rule: str | None = None,
               metrics: Sequence[str] = tuple(METRICS), n_boot: int = N_BOOT, seed: int = 0,
               level: float = 0.95) -> pd.DataFrame:
    """Per setting and method: mean over seeds with its interval, and the paired difference
    to ``reference`` (method - reference) with interval, p-values and verdict (chapter 08).

    Intervals and p-values come from :mod:`mpfas_lib.evaluation.stats` (subjects drawn once
    per replicate for every seed and method, threshold re-estimated where source-validation
    scores are stored, Student-t seed level). "p" is nominal; "p_holm" is Holm-adjusted over
    the table's comparisons of the same metric; "verdict" says whether the nominal interval
    excludes 0 ("better" / "worse": the *method* against the reference). Only matched
    settings are compared (the reference and another method), on the seeds all methods there
    share; ``methods`` (default: all) limits the comparison, and the selection ``rule``
    defaults to each run's own (``results["selection"]``).
    """
    rows = []
    for protocol, groups in _groups(runs, reference, methods).items():
        scores = _scores(groups, rule)
        for name in metrics:
            rows.extend(_setting_rows(protocol, scores, reference, name, n_boot, seed, level))
    return _with_holm(pd.DataFrame(rows, columns=_COLUMNS))


def run_shift(run: dict[str, Any]) -> float | None:
    """The domain-shift dial of a run's synthetic data; None for real data or runs made
    before the dial existed (chapter 08)."""
    prov = run["provenance"]
    if prov.get("data", "synthetic") != "synthetic":
        return None
    shift = (prov.get("config") or {}).get("shift")
    return None if shift is None else float(shift)


def shift_table(runs: Sequence[dict[str, Any]], reference: str = "mp",
                methods: Sequence[str] | None = None, metric: str = "hter_source",
                n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """:func:`seed_table` at each value of the domain-shift dial: the runs of each setting and
    dial value compared among themselves, with a "shift" column (chapter 08).

    Holm's adjustment runs over every comparison of the table (all dial values together).
    """
    by_shift: dict[float, list[dict[str, Any]]] = {}
    for r in runs:
        shift = run_shift(r)
        if shift is not None:
            by_shift.setdefault(shift, []).append(r)
    parts = []
    for shift, group in sorted(by_shift.items()):
        part = seed_table(group, reference, methods, metrics=[metric], n_boot=n_boot,
                          seed=seed, level=level)
        parts.append(part.assign(shift=shift))
    if not parts:
        return pd.DataFrame(columns=["shift", *_COLUMNS])
    table = pd.concat(parts, ignore_index=True)
    return _with_holm(table[["shift", *[c for c in table.columns if c != "shift"]]])


def pooled_table(runs: Sequence[dict[str, Any]], reference: str = "mp",
                 methods: Sequence[str] | None = None, rule: str | None = None,
                 metric: str = "hter_source", n_boot: int = N_BOOT, seed: int = 0,
                 level: float = 0.95) -> pd.DataFrame:
    """Each method against ``reference``, tested once, pooled over the settings (chapter 08).

    One row per method: "diff" is the mean over the matched settings of the paired difference
    (method - reference), with its interval, nominal "p" and "p_holm" (Holm over the table's
    methods); each setting keeps the draws it has in :func:`seed_table`.
    """
    groups = _groups(runs, reference, methods)
    reps = {p: replicates(_scores(g, rule), metric, n_boot, (seed, p)) for p, g in groups.items()}
    found = [m for g in groups.values() for m in g if m != reference]
    rows = []
    for m in dict.fromkeys(found):
        settings = [p for p, g in groups.items() if m in g]
        d = pooled_of([reps[p] for p in settings], m, reference, level)
        rows.append({"method": m, "reference": reference, "metric": metric,
                     "settings": ", ".join(p.split(":")[-1] for p in settings),
                     **{k: d[k] for k in ("n_settings", "n_seeds", "diff", "ci_low", "ci_high",
                                          "p", "verdict", "resampled", "threshold")},
                     "note": ""})
    columns = ["method", "reference", "metric", "settings", "n_settings", "n_seeds", "diff",
               "ci_low", "ci_high", "p", "verdict", "resampled", "threshold", "note"]
    return _with_holm(pd.DataFrame(rows, columns=columns))


def _point_rows(runs: Sequence[dict[str, Any]], reference: str, methods: Sequence[str] | None,
                rule: str, metric: str) -> pd.DataFrame:
    """Pooled paired differences without interval, from the metrics of the selected
    evaluations (for results that did not store this rule's scores)."""
    groups = _groups(runs, reference, methods)

    def value(r: dict[str, Any]) -> float:
        try:
            chosen = r["metrics"].get(rule) or select(r["history"], rule)
            return float(chosen["target"]["video"].get(metric, math.nan))
        except (KeyError, TypeError, ValueError):
            return math.nan

    found = [m for g in groups.values() for m in g if m != reference]
    rows = []
    for m in dict.fromkeys(found):
        per = [np.mean([value(a) - value(b) for a, b in zip(g[m], g[reference], strict=True)])
               for g in groups.values() if m in g]
        rows.append({"method": m, "reference": reference, "metric": metric,
                     "n_settings": len(per), "diff": float(np.mean(per)), "ci_low": math.nan,
                     "ci_high": math.nan, "p": math.nan, "p_holm": math.nan, "verdict": "",
                     "note": f"no stored scores for rule {rule!r} (results made before they "
                             "were kept): point estimate only"})
    return pd.DataFrame(rows)


def selection_table(runs: Sequence[dict[str, Any]], reference: str = "mp",
                    methods: Sequence[str] | None = None,
                    rules: Sequence[str] = tuple(RULE_NAMES), metric: str = "hter_source",
                    n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95,
                    numeric: bool = False) -> pd.DataFrame:
    """:func:`pooled_table` under each model-selection rule, side by side (chapter 08).

    Does an advantage appear only when the target informs the choice of checkpoint? Rules
    that read target labels are oracles (REFERENCE section 5). ``numeric=True``: long format,
    one row per (rule, method); else one row per method and one text column per rule
    (:data:`RULE_NAMES`): the difference in the reference's voice (reference - method), its
    nominal p and the p Holm-adjusted over that rule's methods. A rule whose scores the
    results did not store gives the point estimate only, and says so in "note".
    """
    parts = []
    for rule in rules:
        if rule not in RULE_NAMES:
            raise ValueError(f"unknown selection rule {rule!r}: choose from {list(RULE_NAMES)}")
        try:
            part = pooled_table(runs, reference, methods, rule, metric, n_boot, seed, level)
        except ValueError as exc:
            if "no scores for selection rule" not in str(exc):
                raise
            part = _point_rows(runs, reference, methods, rule, metric)
        parts.append(part.assign(rule=rule, rule_name=RULE_NAMES[rule]))
    long = pd.concat(parts, ignore_index=True)
    return long if numeric else selection_cells(long)


def selection_cells(long: pd.DataFrame) -> pd.DataFrame:
    """:func:`selection_table`'s text form from its numeric one: a row per method, a column
    per rule, each cell in the reference's voice (chapter 08)."""
    cells = long.assign(cell=[_voice(r) for r in long.itertuples()])
    wide = cells.pivot(index="method", columns="rule_name", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(cells["method"])),
                        columns=list(dict.fromkeys(cells["rule_name"])))
    wide.index.name, wide.columns.name = f"{cells['reference'].iloc[0]} against", None
    return wide


def selection_wins(long: pd.DataFrame) -> dict[str, list[str]]:
    """Per rule (by name), the methods that the reference beats after Holm's adjustment, in
    :func:`selection_table`'s numeric table (chapter 08)."""
    wins = long[(long["p_holm"] < 0.05) & (long["diff"] > 0)]
    return {name: list(wins.loc[wins["rule_name"] == name, "method"])
            for name in dict.fromkeys(long["rule_name"])}


_TURN = {"better": "worse", "worse": "better", "not distinguishable": "not distinguishable"}


def _voice(row: Any) -> str:
    """One comparison in the reference's voice: verdict, reference - method, p, Holm p."""
    if not np.isfinite(row.diff):
        return "n/a"
    if not np.isfinite(row.p):
        return f"{-row.diff:+.1f} (point estimate; no interval)"
    return (f"{_TURN.get(row.verdict, 'n/a')} ({-row.diff:+.1f}; p {row.p:.2g}, "
            f"Holm {row.p_holm:.2g})")


def verdicts(table: pd.DataFrame, metric: str = "hter_source") -> pd.DataFrame:
    """Setting × method: is the reference better, worse or not distinguishable (chapter 08)?

    ``table`` is :func:`seed_table`'s (or several concatenated: one family) or
    :func:`pooled_table`'s (one row, "pooled", over the settings it lists). Each cell reads
    the nominal verdict of the paired interval turned round to speak of the reference, its
    difference (reference - method, in points), the nominal p and the p Holm-adjusted over
    the comparisons shown; a setting where a method was not compared shows a dash.
    """
    rows = table[(table["metric"] == metric) & (table["verdict"] != "reference")]
    rows = rows.assign(p_holm=holm(rows["p"].to_numpy(dtype=float)))
    if "setting" not in rows:
        rows = rows.assign(setting="pooled")
    rows = rows.assign(text=[_voice(r) for r in rows.itertuples()])
    cells = rows.pivot(index="setting", columns="method", values="text")
    return cells.reindex(columns=list(dict.fromkeys(rows["method"]))).fillna(_DASH)


def learning_curves(runs: Sequence[dict[str, Any]], value: str = "hter_source",
                    level: str = "video") -> pd.DataFrame:
    """Mean over seeds of a target metric at every evaluation: (setting, method) × iteration
    (chapter 08)."""
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


def late_gains(runs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per run, how much the video AUC still moved late in training: the mean over the last
    third of the evaluations minus the mean over the middle third, on the source validation
    (the selection criterion) and on the target (chapter 08: were the runs long enough?)."""
    rows = []
    for r in runs:
        history = [h for h in r["history"] if "source_val" in h]
        third = len(history) // 3
        if third == 0:
            continue
        cfg = r["provenance"]["config"]
        row = {"setting": cfg["protocol"].split(":")[-1], "method": _name(cfg["method"]),
               "seed": cfg.get("seed")}
        for name, auc in (("source_val", lambda h: h["source_val"]["auc"]),
                          ("target", lambda h: h["target"]["video"]["auc"])):
            values = np.array([_num(auc(h)) for h in history])
            row[f"{name}_gain"] = values[-third:].mean() - values[third:2 * third].mean()
        rows.append(row)
    return pd.DataFrame(rows, columns=["setting", "method", "seed", "source_val_gain",
                                       "target_gain"])


def training_losses(runs: Sequence[dict[str, Any]], window: int = 25) -> pd.DataFrame:
    """Θ-step loss over iterations (trace.json beside each results.json), smoothed, per method
    and averaged over settings and seeds (chapter 08)."""
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
