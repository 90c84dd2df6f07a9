"""How far apart are the same runs trained twice? Two folders of one plan's runs, compared.

Pairs the runs of ``--a`` and ``--b`` by name (same configuration: each pair is checked), and
prints for each metric (video level, evaluation selected on source validation) the median and
largest absolute difference between the two trainings of a run, beside the same between two
seeds of one setting and method (every pair of seeds in ``--a``). Runs
made on one machine with one library version are bit-identical; across machines or thread
counts floating-point differences move each trajectory, and this measures by how much
(chapter 08). Usage: ``python benchmarks/rerun_agreement.py --a results/study
--b results/study-rerun --json results/benchmarks/rerun_agreement.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from mpfas_lib.errors import UserError
from mpfas_lib.evaluation.tables import load_runs, run_rows
from mpfas_lib.files import atomic_write_text, writable_dir
from mpfas_lib.helptext import DocstringFormatter

METRICS = ("hter_source", "hter_target_eer", "auc")


def paired(a: Path, b: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-run rows of both folders, paired by run name (a ValueError names a mismatch)."""
    runs_a = {Path(r["file"]).parent.name: r for r in load_runs(a)}
    runs_b = {Path(r["file"]).parent.name: r for r in load_runs(b)}
    names = sorted(set(runs_a) & set(runs_b))
    if not names:
        raise ValueError(f"no run is in both {a} and {b}")
    for name in names:
        ca, cb = (dict(r["provenance"]["config"]) for r in (runs_a[name], runs_b[name]))
        ca.pop("layers", None), cb.pop("layers", None)
        if ca != cb:
            raise ValueError(f"{name}: {a} and {b} hold runs of different configurations")
    rows_a = run_rows([runs_a[n] for n in names], rule="source_val").assign(run=names)
    rows_b = run_rows([runs_b[n] for n in names], rule="source_val").assign(run=names)
    return rows_a.set_index("run"), rows_b.set_index("run")


def seed_differences(rows: pd.DataFrame, metric: str) -> pd.Series:
    """|difference| between every two seeds of one setting and method (two draws of a run)."""
    out = []
    for _, group in rows.groupby(["protocol", "method"]):
        values = group[metric].to_numpy()
        out.extend(abs(values[i] - values[j]) for i in range(len(values))
                   for j in range(i + 1, len(values)))
    return pd.Series(out, dtype=float)


def agreement(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> pd.DataFrame:
    """Per metric: median and largest |a − b| over the runs, beside the same for two seeds."""
    out = []
    for metric in METRICS:
        diff = (rows_a[metric] - rows_b[metric]).abs()
        seeds = seed_differences(rows_a, metric)
        out.append({"metric": metric, "runs": len(diff), "identical": int((diff == 0).sum()),
                    "median |a-b|": diff.median(), "max |a-b|": diff.max(),
                    "seed pairs": len(seeds), "median |seed-seed|": seeds.median(),
                    "max |seed-seed|": seeds.max()})
    return pd.DataFrame(out).set_index("metric")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--a", required=True, type=Path, help="a folder of runs")
    parser.add_argument("--b", required=True, type=Path, help="the same runs trained again")
    parser.add_argument("--json", type=Path, default=None, help="write the table here too")
    args = parser.parse_args(argv)
    for folder in (args.a, args.b):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder of runs", file=sys.stderr)
            return 2
    try:
        if args.json is not None:
            writable_dir(args.json.parent, "--json", create=False)
        rows_a, rows_b = paired(args.a, args.b)
    except (ValueError, UserError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = agreement(rows_a, rows_b)
    devices = sorted({str(d) for d in (*rows_a["device"], *rows_b["device"])})
    print(f"{len(rows_a)} runs in both {args.a} and {args.b} (devices: {', '.join(devices)})")
    print(table.round(2).to_string())
    if args.json is not None:
        record = {"a": str(args.a), "b": str(args.b), "table": table.round(4).reset_index()
                  .to_dict(orient="records"), "per_run": {
                      n: {m: [float(rows_a.at[n, m]), float(rows_b.at[n, m])] for m in METRICS}
                      for n in rows_a.index}}
        atomic_write_text(json.dumps(record, indent=1), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
