"""``python -m mpfas_lib report PLAN``: a plan's results beside the paper's (Tables I-IV).

The report reads the finished runs of the plan's folder (give the same ``--out``, ``--data``,
``--root`` and ``--set`` as to its sweep) and writes ``report.md`` and ``report.csv`` there
(atomically). Per setting and method: our mean over seeds with its 95 % interval over seeds and
target subjects (:func:`mpfas_lib.evaluation.tables.seed_table`; a setting with one method by
:func:`mpfas_lib.evaluation.stats.seed_summary`), at each run's own model-selection rule, for
the HTER at the source-validation threshold, the HTER at the target's EER threshold (an oracle)
and the AUC; the paper's rows of the plan's tables beside them. A run not finished is "not run",
with the command that trains it and its estimated time.
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from mpfas_lib.errors import UserError, report_error
from mpfas_lib.evaluation.paper import CITATION, paper_table
from mpfas_lib.evaluation.stats import METRICS, N_BOOT, run_scores, seed_summary
from mpfas_lib.evaluation.tables import PAPER_NAMES, RULE_NAMES, load_runs, row_label, seed_table
from mpfas_lib.files import atomic_write_text, writable_dir
from mpfas_lib.training.estimates import current_device, hours, plan_estimate
from mpfas_lib.training.plan import Plan, add_plan_arguments, plan_from_args

NOT_RUN = "not run"
THRESHOLD_OF = {"hter_source": "source", "hter_target_eer": "target_eer"}
CSV_COLUMNS = ["section", "row", "source", "method", "setting", "protocol", "metric", "value",
               "ci_low", "ci_high", "n_seeds", "selection", "threshold", "status", "command"]


def finished_runs(plan: Plan, out: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The results of the plan's finished runs in ``out``, and every run's state by name."""
    rows, _, _ = plan_estimate(plan, out, "")
    states = {name: state for state, name, _ in rows}
    runs = [r for r in load_runs(out) if states.get(Path(r["file"]).parent.name) == "done"]
    return runs, states


def summaries(runs: list[dict[str, Any]], n_boot: int = N_BOOT, seed: int = 0
              ) -> pd.DataFrame:
    """Per (protocol, method, metric): mean, 95 % interval, seeds and the paired difference to
    MP where a setting has MP and another method (seed_table), else the method alone."""
    parts = [seed_table(runs, "mp", n_boot=n_boot, seed=seed)] if runs else []
    covered = set() if not parts else set(zip(parts[0]["protocol"], parts[0]["method"],
                                              strict=True))
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        cfg = r["provenance"]["config"]
        method = cfg["method"]["name"] if isinstance(cfg["method"], dict) else cfg["method"]
        if (cfg["protocol"], method) not in covered:
            groups.setdefault((cfg["protocol"], method), []).append(r)
    rows = []
    for (protocol, method), group in sorted(groups.items()):
        scores = [run_scores(r, r.get("selection", "source_val")) for r in group]
        for metric in METRICS:
            s = seed_summary(scores, metric, n_boot, seed)
            rows.append({"protocol": protocol, "method": method, "metric": metric,
                         **{k: s[k] for k in ("n_seeds", "mean", "ci_low", "ci_high",
                                              "resampled", "threshold")}})
    parts.append(pd.DataFrame(rows))
    return pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(
        columns=["protocol", "method", "metric", "mean", "ci_low", "ci_high", "n_seeds"])],
        ignore_index=True)


def _cell(stats: pd.DataFrame, protocol: str, method: str, metric: str) -> dict[str, Any]:
    """One of our numbers (mean, interval, seeds), or NaN when no run of it finished."""
    hit = stats[(stats["protocol"] == protocol) & (stats["method"] == method)
                & (stats["metric"] == metric)]
    if hit.empty:
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_seeds": 0}
    row = hit.iloc[0]
    return {"value": row["mean"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
            "n_seeds": int(row["n_seeds"])}


def _text(cell: dict[str, Any]) -> str:
    """"12.34 [10.10, 14.50]", or "not run"."""
    if not cell["n_seeds"] or math.isnan(cell["value"]):
        return NOT_RUN
    return f"{cell['value']:.2f} [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}]"


def _seeds_note(cell: dict[str, Any], planned: int) -> str:
    """" (n=2 of 3)" when some of the planned seeds have not finished."""
    return "" if cell["n_seeds"] >= planned else f" (n={cell['n_seeds']} of {planned})"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _methods(plan: Plan) -> list[str]:
    return list(dict.fromkeys(c.method.name for c in plan.configs))


def _seeds(plan: Plan, protocol: str, method: str) -> int:
    return sum(c.protocol == protocol and c.method.name == method for c in plan.configs)


def paper_section(plan: Plan, name: str, stats: pd.DataFrame, records: list[dict[str, Any]]
                  ) -> str:
    """The paper's Table ``name`` (HTER % / AUC %) with our rows of the plan's methods."""
    table = paper_table(name)
    planned = {c.protocol for c in plan.configs}
    rows = [[m, *[f"{h:.2f} / {'–' if a is None else f'{a:.2f}'}" for h, a in cells]]
            for m, cells in table.rows.items()]
    for m, cells in table.rows.items():
        for protocol, (h, a) in zip(table.protocols, cells, strict=True):
            for metric, value in (("hter", h), ("auc", a)):
                records.append({"section": f"Table {name}", "row": m, "source": "paper",
                                "method": m, "setting": protocol.split(":")[-1],
                                "protocol": protocol, "metric": metric,
                                "value": math.nan if value is None else value})
    ours = [m for m in _methods(plan) if PAPER_NAMES.get(m) in table.rows]
    for method in ours:
        for metric, threshold in THRESHOLD_OF.items():
            label = row_label({"method": PAPER_NAMES[method], "data": plan.data,
                               "profile": plan.profile, "threshold": threshold})
            texts = []
            for protocol in table.protocols:
                if protocol not in planned:
                    texts.append("–")
                    continue
                n = _seeds(plan, protocol, method)
                hter, auc = (_cell(stats, protocol, method, k) for k in (metric, "auc"))
                texts.append(NOT_RUN if not hter["n_seeds"] else
                             f"{_text(hter)} / {_text(auc)}{_seeds_note(hter, n)}")
                for k, cell in ((metric, hter), ("auc", auc)):
                    records.append({"section": f"Table {name}", "row": label, "source": "ours",
                                    "method": method, "setting": protocol.split(":")[-1],
                                    "protocol": protocol, "metric": k, **cell,
                                    "threshold": threshold if k != "auc" else "",
                                    "status": "done" if cell["n_seeds"] else NOT_RUN,
                                    "command": "" if cell["n_seeds"] else plan.command()})
            rows.append([label, *texts])
    return (f"## Table {table.name}: {table.caption}\n\nHTER % / AUC %; ours: mean "
            "[95 % interval] over seeds and target subjects.\n\n"
            + _markdown(["", *table.headers], rows))


def ablation_section(plan: Plan, stats: pd.DataFrame, records: list[dict[str, Any]]) -> str:
    """Every method against MP per setting (the paper shows these ablations as figures only)."""
    protocols = list(dict.fromkeys(c.protocol for c in plan.configs))
    rows = []
    for method in _methods(plan):
        texts = []
        for protocol in protocols:
            n = _seeds(plan, protocol, method)
            cell = _cell(stats, protocol, method, "hter_source")
            hit = stats[(stats["protocol"] == protocol) & (stats["method"] == method)
                        & (stats["metric"] == "hter_source")]
            diff = hit.iloc[0].get("diff", math.nan) if not hit.empty else math.nan
            extra = ("" if pd.isna(diff) else f"; {diff:+.2f} vs MP "
                     f"[{hit.iloc[0]['diff_ci_low']:+.2f}, {hit.iloc[0]['diff_ci_high']:+.2f}]")
            texts.append(_text(cell) + extra + _seeds_note(cell, n) if n else "–")
            records.append({"section": "ablations", "row": method, "source": "ours",
                            "method": method, "setting": protocol.split(":")[-1],
                            "protocol": protocol, "metric": "hter_source", **cell,
                            "threshold": "source",
                            "status": "done" if cell["n_seeds"] else NOT_RUN,
                            "command": "" if cell["n_seeds"] else plan.command()})
        rows.append([method, *texts])
    return ("## Ablations (the paper's Figs. 6-9)\n\nHTER % at the source-validation threshold: "
            "mean [95 % interval] over seeds and target subjects, and the paired difference to "
            "MP (method - MP) with its interval. The paper shows these as figures, without "
            "numbers to set beside ours.\n\n"
            + _markdown(["method", *(p.split(":")[-1] for p in protocols)], rows))


def build_report(plan: Plan, out: Path, n_boot: int = N_BOOT, device: str | None = None
                 ) -> tuple[str, pd.DataFrame]:
    """The report of ``plan``'s runs in ``out``: Markdown text and the CSV's table
    (chapter 08)."""
    runs, states = finished_runs(plan, out)
    stats = summaries(runs, n_boot)
    records: list[dict[str, Any]] = []
    sections = [paper_section(plan, t, stats, records) for t in plan.paper]
    if not plan.paper:
        sections.append(ablation_section(plan, stats, records))
    rules = sorted({r.get("selection", "source_val") for r in runs}
                   or {c.method.selection for c in plan.configs})
    for r in records:
        if r["source"] == "ours":
            r["selection"] = "/".join(rules)
    device = device or current_device()
    _, left, unknown = plan_estimate(plan, out, device)
    missing = [name for name, state in states.items() if state != "done"]
    done = len(states) - len(missing)
    iterations = sorted({r["provenance"]["iterations"] for r in runs})
    head = [f"# {plan.name}", "", plan.description, "",
            f"- Runs: {done} of {len(states)} finished in `{out}` (profile {plan.profile}, "
            f"data {plan.data}" + (f", {'/'.join(map(str, iterations))} iterations"
                                   if iterations else "") + ").",
            "- Model selection: each run's own rule, "
            + ", ".join(f"{r} ({RULE_NAMES[r]})" for r in rules) + ".",
            "- Thresholds: `thr=source` is the HTER at the EER threshold of the sources' "
            "held-out validation videos; `thr=target_eer` the HTER at the target's own EER "
            "threshold (an oracle: it reads the target's labels); the AUC needs none.",
            f"- Intervals: 95 %, bootstrap over target subjects ({n_boot} replicates) and "
            "Student-t over seeds (mpfas_lib.evaluation.stats).",
            f"- The paper's numbers: {CITATION} Its HTER threshold is not stated."]
    if missing:
        head.append(f"- {NOT_RUN}: {len(missing)} run(s) ({', '.join(missing[:6])}"
                    + (", ..." if len(missing) > 6 else "") + f"); to train them: "
                    f"`{plan.command()}` (time on {device}: {hours(left)}"
                    + (f", {unknown} run(s) not measured there" if unknown else "") + ").")
    text = "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    table = pd.DataFrame(records, columns=CSV_COLUMNS)
    return text, table.astype({"n_seeds": "Int64"})


def write_report(plan: Plan, out: Path, n_boot: int = N_BOOT, device: str | None = None
                 ) -> tuple[Path, Path]:
    """Write ``out/report.md`` and ``out/report.csv`` atomically; their paths."""
    text, table = build_report(plan, out, n_boot, device)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    md, csv = out / "report.md", out / "report.csv"
    atomic_write_text(buffer.getvalue(), csv)
    atomic_write_text(text, md)
    return md, csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report`` command's flags."""
    parser.add_argument("plan", help="plan file, or the name of one in mpfas_lib/training/plans")
    parser.add_argument("--out", default=None,
                        help="the plan's runs (default results/<plan's out>); the report goes "
                             "there too")
    add_plan_arguments(parser)
    parser.add_argument("--boot", type=int, default=N_BOOT, help="bootstrap replicates")
    parser.add_argument("--device-name", default=None,
                        help="estimate the runs not made for this GPU (default: this machine's)")


def main(args: argparse.Namespace) -> int:
    """Check the arguments, then write the report."""
    try:
        if args.boot < 100:
            raise ValueError(f"--boot {args.boot}: must be >= 100 replicates")
        plan, out = plan_from_args(args)
        writable_dir(out, "--out")
        md, csv = write_report(plan, out, args.boot, args.device_name)
    except (ValueError, FileNotFoundError, UserError) as error:
        report_error(error)
        return getattr(error, "exit_code", 2)
    print(f"report of {plan.name}: {md} and {csv}")
    return 0
