"""The sections of the GPU check in order, the JSON report they fill and its table."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpfas_lib.files import atomic_write_text
from mpfas_lib.gpu.check import METHODS, Check, environment, last_line
from mpfas_lib.gpu.launch import ddp_gloo_section, ddp_smoke_section, notebooks_section
from mpfas_lib.gpu.resume import resume_section
from mpfas_lib.gpu.speed import flops_section, free_memory, methods_section, ratio_section
from mpfas_lib.gpu.trace import profile_section

#: (name, required, section): a required section that fails fails the check
SECTIONS: list[tuple[str, bool, Callable[[Check], dict]]] = [
    ("environment", True, environment),
    ("methods", True, methods_section),
    ("flops", True, flops_section),
    ("ratio", True, ratio_section),
    ("profile", True, profile_section),
    ("resume", True, resume_section),
    ("ddp_smoke", True, ddp_smoke_section),
    ("ddp_gloo", True, ddp_gloo_section),
    ("notebooks", True, notebooks_section),
]


def skip_reason(check: Check, name: str) -> str | None:
    """Why a section does not run (an option or the time budget), else None."""
    if name == "notebooks" and check.options.skip_notebooks:
        return "skipped: --skip-notebooks"
    if name == "ddp_gloo" and check.options.ddp_gloo_procs < 2:
        return "skipped: --ddp-gloo-procs < 2"
    if name != "environment" and (left := check.remaining()) is not None and left <= 0:
        return "skipped: over the time budget"
    return None


def run_section(check: Check, name: str, required: bool, fn: Callable[[Check], dict]) -> None:
    """Run one section, recording its result, its failure or why it was skipped."""
    start = time.perf_counter()
    skip = skip_reason(check, name)
    if skip:
        check.report[name] = {"status": "skipped", "required": required, "reason": skip}
        return
    print(f"[{check.elapsed():6.1f} s] {name} ...", file=sys.stderr, flush=True)
    free_memory(check)  # children of later sections use the GPU too
    try:
        data = fn(check)
        if "skipped" in data:
            entry = {"status": "skipped", "reason": f"skipped: {data.pop('skipped')}", **data}
        else:
            passed = bool(data.pop("passed", True))
            entry = {"status": "passed" if passed else "failed", **data}
    except Exception as error:
        traceback.print_exc()
        entry = {"status": "failed", "error": last_line(error)}
    entry.update(required=required, section_seconds=round(time.perf_counter() - start, 2))
    check.report[name] = entry


def run_sections(check: Check, invocation: dict) -> dict:
    """Every section in order, then the verdict: the whole report of one check."""
    report = check.report
    report["invocation"] = invocation
    try:
        for name, required, fn in SECTIONS:
            run_section(check, name, required, fn)
    finally:
        shutil.rmtree(check.tmp, ignore_errors=True)
    failed = [n for n, e in report.items() if e.get("required") and e["status"] == "failed"]
    report["overall"] = "failed: " + ", ".join(failed) if failed else "passed"
    report["failed_sections"] = failed
    report["wall_seconds"] = round(check.elapsed(), 1)
    report["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return report


def slug(text: str) -> str:
    """A file-name friendly form of a device name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def report_path(folder: str | Path, report: dict, device: str) -> Path:
    """``<folder>/<device-slug>-<YYYY-MM-DD>.json``."""
    name = report.get("environment", {}).get("device_name", device)
    return Path(folder) / f"{slug(name)}-{dt.date.today().isoformat()}.json"


def write_json_atomic(data: dict, path: Path) -> None:
    """Write JSON through a temporary file in the same folder and an atomic rename."""
    atomic_write_text(json.dumps(data, indent=2, default=str) + "\n", path)


def _fmt(value: Any, scale: float = 1.0, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value / scale:.{digits}g}" if isinstance(value, float) else str(value)


def _method_rows(methods: dict) -> list[tuple[str, dict | None]]:
    """(label, row) of every eager method, then of each compiled one (``mp [mode]``)."""
    out: list[tuple[str, dict | None]] = [(n, methods.get("rows", {}).get(n)) for n in METHODS]
    for mode, rows in methods.get("compiled", {}).items():
        out += [(f"{name} [{mode}]", row) for name, row in rows.items()]
    errors = methods.get("errors", {})
    out += [(key, None) for key in errors if "[" in key and key not in dict(out)]
    return out


def _method_lines(report: dict) -> list[str]:
    """One line per method (and compiled method): speed, memory, FLOP/s, inner share, finite."""
    lines = [f"{'method':24} {'s/it (med)':>10} {'img/s':>8} {'img/it':>7} {'peak GiB':>9} "
             f"{'TFLOP/s':>8} {'inner%':>7} {'finite':>7} {'speed-up':>8}"]
    methods = report.get("methods", {})
    for name, row in _method_rows(methods):
        if row is None:
            error = methods.get("errors", {}).get(name, methods.get("reason", "not run"))
            lines.append(f"{name:24} {error}")
            continue
        inner = row["inner_fraction"]
        lines.append(
            f"{name:24} {_fmt(row['seconds_per_iteration'], digits=4):>10} "
            f"{_fmt(row['images_per_second'], digits=4):>8} "
            f"{_fmt(row['images_per_iteration']):>7} {_fmt(row['peak_memory_gib']):>9} "
            f"{_fmt(row['model_flops_per_second'], 1e12):>8} "
            f"{'-' if inner is None else f'{100 * inner:.0f}':>7} "
            f"{'yes' if row['losses_finite'] else 'NO':>7} "
            f"{_fmt(row.get('speedup')):>8}")
    return lines


def _profile_lines(report: dict) -> list[str]:
    """One line per profiled iteration: its time, launches and where the time went."""
    section = report.get("profile", {})
    if not section.get("rows") and not section.get("errors"):
        return []
    lines = ["", "one profiled iteration (ms on the host; launches: kernels + CUDA graphs):"]
    for key, row in section.get("rows", {}).items():
        parts = ", ".join(f"{name} {entry['host_ms']:.1f} ({entry['calls']}x)"
                          for name, entry in row["regions"].items())
        launches = ("-" if row["kernel_launches"] is None
                    else f"{row['kernel_launches']} + {row['graph_launches']}")
        top = row["top"][0]["name"] if row["top"] else "-"
        lines.append(f"{key:24} {row['iteration_ms']:8.1f} ms, launches {launches}, "
                     f"{row['operator_calls']} ops; {parts}; top: {top[:40]}")
    lines += [f"{key:24} {error}" for key, error in section.get("errors", {}).items()]
    return lines


def _check_lines(report: dict) -> list[str]:
    """One line each for the Θ step's FLOPs, the ratio, the resume check, torchrun, notebooks."""
    lines = []
    flops = report.get("flops", {})
    if "flops" in flops:
        mfu = flops.get("mfu")
        lines += ["", f"Θ step (fwd+bwd, {flops['batch_images']} images): "
                  f"{flops['flops'] / 1e12:.3f} TFLOP in {1000 * flops['seconds']:.1f} ms = "
                  f"{flops['flops_per_second'] / 1e12:.2f} TFLOP/s; MFU "
                  + (f"{100 * mfu:.1f}% of {flops['peak_key']} "
                     f"{flops['peak_bf16_flops'] / 1e12:.0f} TFLOP/s" if mfu is not None
                     else "- (peak unknown)")]
    ratio = report.get("ratio", {})
    if "ratio" in ratio:
        lines.append(f"Algorithm 1 / ERM seconds per iteration: {ratio['ratio']:.2f}x "
                     f"(goal <= {ratio['goal']}: {'met' if ratio['meets_goal'] else 'not met'})")
    resume = report.get("resume", {})
    if "identical" in resume:
        lines.append(
            f"resume 3 -> 6 vs straight 6: identical={resume['identical']}, max metric diff "
            f"{_fmt(resume['max_metric_difference'])}, max weight diff "
            f"{_fmt(resume['max_weight_difference'])} (tolerance {resume['tolerance']})")
    for name in ("ddp_smoke", "ddp_gloo"):
        entry = report.get(name, {})
        if "world_size" in entry:
            lines.append(f"{name}: rc {entry['returncode']}, world size {entry['world_size']}, "
                         f"{entry['seconds']:.1f} s")
    notebooks = report.get("notebooks", {})
    if "notebooks" in notebooks:
        counts: dict[str, int] = {}
        for r in notebooks["notebooks"].values():
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        lines.append("notebooks: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return lines


def table(report: dict) -> str:
    """The report as a readable plain-text table."""
    env = report.get("environment", {})
    lines = [
        f"mpfas GPU check: {env.get('device_name', '?')} | torch {env.get('torch')} | "
        f"CUDA {env.get('cuda')} | cuDNN {env.get('cudnn')} | Python {env.get('python')} | "
        f"commit {env.get('git_commit')}",
        f"profile {env.get('profile')} ({'tiny' if env.get('tiny') else 'full size'}), "
        f"{env.get('iterations')} timed iterations after {env.get('warmup_iterations')} "
        "warm-up + 1 FLOP-counted",
        "",
        *_method_lines(report),
        *_profile_lines(report),
        *_check_lines(report),
        "",
        f"{'section':12} {'status':8} {'seconds':>8}  note",
    ]
    for name, _, _ in SECTIONS:
        entry = report.get(name, {})
        note = entry.get("error") or entry.get("reason") or ""
        lines.append(f"{name:12} {entry.get('status', '-'):8} "
                     f"{_fmt(entry.get('section_seconds'), digits=4):>8}  {note}")
    lines.append(f"overall: {report.get('overall', '?')} in {report.get('wall_seconds', 0):.0f} s")
    return "\n".join(lines)
