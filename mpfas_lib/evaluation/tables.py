"""Our results beside the paper's Tables I-IV, labelled so they are never mistaken for the paper's.

Results JSON files (written by the training/evaluation commands) are read by
:func:`load_results`. Each file holds one result dict (or a list of them) with at least

- ``protocol``: protocol name such as "MICO:OCI-M" (see mpfas_lib.data.protocols);
- ``method``: what was trained, e.g. "MP", "ColorLBP", "MP w/o OA";
- ``profile``: "quick" or "full"; ``data``: "synthetic" or "real";
- ``metrics``: {name: value} as returned by mpfas_lib.evaluation.metrics.evaluate, in percent
  ("auc", "hter_target_eer", optionally "hter_source", "hter_0.5", ...);

plus any metadata (seed, iteration, git commit, device, ...), which is kept as is.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mpfas_lib.evaluation.paper import SETTING_TO_PROTOCOL, paper_table

__all__ = [
    "REQUIRED_RESULT_KEYS",
    "THRESHOLDS",
    "comparison_table",
    "load_results",
    "ours_from_results",
    "row_label",
]

REQUIRED_RESULT_KEYS = ("protocol", "method", "profile", "data", "metrics")
#: Threshold names: EER of the target test set (oracle), held-out source validation, fixed 0.5.
THRESHOLDS = ("target_eer", "source", "0.5")
_PROTOCOL_TO_SETTING = {p: s for s, p in SETTING_TO_PROTOCOL.items()}
_DASH = "–"


def _result_problem(obj: Any) -> str | None:
    """Why ``obj`` is not a results dict, or None when it is one."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    missing = [k for k in REQUIRED_RESULT_KEYS if k not in obj]
    if missing:
        return f"missing key(s) {missing}"
    if not isinstance(obj["metrics"], dict):
        return "'metrics' is not an object"
    return None


def load_results(folder: str | Path, pattern: str = "**/*.json") -> list[dict[str, Any]]:
    """Read every results JSON under ``folder`` (sorted); warn about and skip other files."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"results folder {root} does not exist or is not a directory")
    results: list[dict[str, Any]] = []
    for path in sorted(root.glob(pattern)):
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.warn(f"skipping {path}: not readable JSON ({exc})", stacklevel=2)
            continue
        items = data if isinstance(data, list) else [data]
        for k, item in enumerate(items):
            where = f"{path}[{k}]" if isinstance(data, list) else str(path)
            problem = _result_problem(item)
            if problem:
                warnings.warn(f"skipping {where}: not a results file ({problem})", stacklevel=2)
                continue
            results.append({**item, "file": where})
    return results


def ours_from_results(
    results: Iterable[dict[str, Any]], thresholds: Sequence[str] = THRESHOLDS
) -> list[dict[str, Any]]:
    """Turn loaded results into comparison rows, one per available threshold."""
    unknown = [t for t in thresholds if t not in THRESHOLDS]
    if unknown:
        raise ValueError(f"unknown threshold(s) {unknown}; choose from {THRESHOLDS}")
    rows = []
    for r in results:
        m = r["metrics"]
        for t in thresholds:
            if f"hter_{t}" in m:
                rows.append(
                    {
                        "protocol": r["protocol"],
                        "method": r["method"],
                        "hter": m[f"hter_{t}"],
                        "auc": m.get("auc"),
                        "threshold": t,
                        "data": r["data"],
                        "profile": r["profile"],
                    }
                )
    return rows


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
    threshold "target_eer", data "real" and profile "paper". Entries of ``ours`` whose
    protocol is not in this table are left out.
    """
    t = paper_table(table)
    records: list[dict[str, Any]] = []
    for method, cells in t.rows.items():
        for setting, (h, a) in zip(t.settings, cells, strict=True):
            records.append(
                {"row": method, "source": "paper (real data)", "method": method,
                 "setting": setting, "protocol": SETTING_TO_PROTOCOL[setting],
                 "hter": h, "auc": _num(a), "threshold": "target_eer", "data": "real",
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
