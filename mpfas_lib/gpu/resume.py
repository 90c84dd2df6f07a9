"""Does a stopped and resumed run end where a straight one does (section ``resume``)?"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from mpfas_lib.evaluation.selection import flatten
from mpfas_lib.gpu.check import Check
from mpfas_lib.training.loop import run_training

RESUME_TOLERANCE_CUDA = 0.05  # largest metric difference accepted on CUDA (see resume_section)
CUDA_NOTE = (
    "bf16 autocast and cuDNN's convolution algorithms can differ from run to run; this "
    "check ran with torch.use_deterministic_algorithms(True, warn_only=True), "
    "CUBLAS_WORKSPACE_CONFIG=:4096:8, cudnn.deterministic=True and cudnn.benchmark="
    "False, so remaining differences come from the operations listed in "
    "nondeterministic_ops (CUDA kernels without a deterministic version); the "
    "metrics may differ by at most {tolerance}"
)


@contextmanager
def deterministic(enabled: bool) -> Iterator[list[str]]:
    """Deterministic algorithms and cuDNN for a block; yields the nondeterminism warnings seen."""
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    seen: list[str] = []
    if not enabled:
        yield seen
        return
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield seen
        for w in caught:
            text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
            if "determinis" in text and text not in seen:
                seen.append(text)
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2:]


def numbers(history: list[dict]) -> dict[str, float]:
    """The numeric leaves of a run's history, by dotted key (``2.target.video.auc``)."""
    return {k: float(v) for k, v in flatten(history, lists=True).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def max_difference(a: dict[str, float], b: dict[str, float]) -> tuple[float, str | None]:
    """The largest difference of two sets of numbers and its key (NaN == NaN; inf if unlike)."""
    if set(a) != set(b):
        return math.inf, "different keys"
    worst, where = 0.0, None
    for key in a:
        x, y = a[key], b[key]
        if math.isnan(x) and math.isnan(y):
            continue
        both = math.isfinite(x) and math.isfinite(y)
        diff = abs(x - y) if both else (0.0 if x == y else math.inf)
        if diff > worst:
            worst, where = diff, key
    return worst, where


def _weights(run_dir: Path) -> dict[str, Any]:
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    trainer = state["trainer"]
    return {**{f"phi.{k}": v for k, v in trainer["phi"].items()},
            **{f"theta.{k}": v for k, v in trainer["theta"].items()}}


def weight_difference(one: Path, other: Path) -> float:
    """The largest difference of the floating-point weights of two runs' last checkpoints."""
    a, b = _weights(one), _weights(other)
    if set(a) != set(b):
        return math.inf
    return max((float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0)
               for k in a if a[k].is_floating_point())


def resume_section(check: Check) -> dict:
    """A 6-iteration run against one stopped at 3 and resumed to 6: same final metrics."""
    quiet = {"log": lambda *_: None}
    straight, resumed = check.tmp / "resume_straight", check.tmp / "resume_resumed"
    with deterministic(check.cuda) as nondeterministic:
        full = run_training(check.config("mp", iterations=6, eval_every=3), out=straight, **quiet)
        run_training(check.config("mp", iterations=3, eval_every=3), out=resumed, **quiet)
        again = run_training(check.config("mp", iterations=6, eval_every=3), out=resumed,
                             resume=True, **quiet)
    run = full["run"]
    metrics_diff, metrics_where = max_difference(numbers(full["history"]),
                                                 numbers(again["history"]))
    weights_diff = weight_difference(straight / run, resumed / run)
    identical = metrics_diff == 0.0 and weights_diff == 0.0
    tolerance = RESUME_TOLERANCE_CUDA if check.cuda else 0.0
    resumed_from = again["provenance"]["resumed_from"]
    passed = (resumed_from == 3 and again["provenance"]["iterations"] == 6
              and full["status"] == again["status"] == "completed"
              and (identical if not check.cuda else metrics_diff <= tolerance))
    out: dict[str, Any] = {
        "passed": passed,
        "method": "mp",
        "iterations": 6,
        "eval_every": 3,
        "resumed_from": resumed_from,
        "identical": identical,
        "max_metric_difference": metrics_diff,
        "worst_metric": metrics_where,
        "max_weight_difference": weights_diff,
        "tolerance": tolerance,
        "deterministic_mode": check.cuda,
        "final_video_hter_target_eer": {
            "straight": full["history"][-1]["target"]["video"]["hter_target_eer"],
            "resumed": again["history"][-1]["target"]["video"]["hter_target_eer"],
        },
    }
    if check.cuda:
        out.update(note=CUDA_NOTE.format(tolerance=tolerance),
                   nondeterministic_ops=nondeterministic,
                   cublas_workspace_config=os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
        torch.cuda.empty_cache()
    return out
