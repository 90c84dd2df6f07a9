"""How long a plan's runs take on a device, from the seconds per iteration that the GPU check
measured (``results/gpu/*.json``): ``sweep --list`` and the report's estimates (chapter 08).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mpfas_lib.training.artefacts import run_folder
from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.plan import Plan, prepared_problems

GPU_RESULTS = Path(__file__).resolve().parents[2] / "results" / "gpu"  # measured s/iteration


def measured_speeds(device: str, folder: Path = GPU_RESULTS) -> dict[tuple, float]:
    """Seconds per iteration measured on ``device`` (a GPU's name), by (method, image size,
    backbone), from the GPU checks in ``folder`` (the newest file wins)."""
    speeds: dict[tuple, float] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            if report["environment"]["device_name"] != device:
                continue
            rows = report["methods"]["rows"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for m, row in rows.items():
            try:
                speeds[(m, int(row["image_size"]), row["backbone"])] = float(
                    row["seconds_per_iteration"])
            except (KeyError, TypeError, ValueError):
                continue
    return speeds


def estimate_seconds(config: RunConfig, speeds: dict[tuple, float]) -> float | None:
    """A run's training time from the measured seconds per iteration (None: not measured)."""
    p = config.profile
    per = speeds.get((config.method.name, p.image_size, p.backbone))
    return None if per is None else per * p.iterations


def hours(seconds: float | None) -> str:
    """"1.4 h", "12 min" or "unknown"."""
    if seconds is None:
        return "unknown"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def current_device() -> str:
    """The name this machine's GPU check would record (the GPU model, or ``cpu``)."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def plan_estimate(plan: Plan, out: Path, device: str) -> tuple[list[tuple], float | None, int]:
    """(state, run name, estimated seconds) per run; the total over the runs left to train and
    measured (None: none is), and how many of those are not measured."""
    speeds = measured_speeds(device)
    rows = [(run_folder(c, out).state(c), c.name(), estimate_seconds(c, speeds))
            for c in plan.configs]
    left = [s for state, _, s in rows if state != "done"]
    measured = [s for s in left if s is not None]
    total = sum(measured) if measured or not left else None
    return rows, total, len(left) - len(measured)


def print_list(plan: Plan, out: Path, device: str) -> None:
    """``--list``: each run's state and estimated time on ``device``, and the plan's total."""
    rows, total, unknown = plan_estimate(plan, out, device)
    for state, name, seconds in rows:
        print(f"{state:8} {hours(seconds):>9}  {name}")
    left = sum(state != "done" for state, _, _ in rows)
    print(f"plan {plan.name}: {len(rows)} runs, {left} to train in {out}; estimated "
          f"{hours(total)} on {device} for the measured ones"
          + (f", {unknown} not measured on it (unknown)" if unknown else "")
          + " (training steps, from results/gpu/; evaluations add to it)")
    for problem in prepared_problems(plan):
        print(f"not prepared: {problem}")
