"""A ``torch.profiler`` summary of one training iteration, eager and compiled (section
``profile``): its top kernels, how many kernels the host launched, and where the time went
between loading the batches (``data``), Φ's K inner steps (``phi_inner_step``) and Θ's step
(``theta_step``; ``erm_step`` for ERM), the names the trainer's step gives its parts."""

from __future__ import annotations

import time
import traceback
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from mpfas_lib.gpu.check import Check, last_line
from mpfas_lib.gpu.speed import FAST_METHODS, free_memory, make_trainer, speed_config, warm_up
from mpfas_lib.training.build import build_data

REGIONS = ("data", "phi_inner_step", "theta_step", "erm_step")
# the host calls that start work on the GPU: one kernel each, or a whole CUDA graph
KERNEL_LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx")
GRAPH_LAUNCHES = ("cudaGraphLaunch",)
TOP = 10


def _microseconds(row: Any, kind: str) -> float:
    """A key_averages row's self time on ``kind`` ("cpu" or "device"), in microseconds."""
    if kind == "cpu":
        return float(row.self_cpu_time_total)
    return float(getattr(row, "self_device_time_total", 0.0) or 0.0)


def top_kernels(rows: list[Any], cuda: bool) -> list[dict]:
    """The ``TOP`` kernels (CUDA) or operators (CPU) by self time."""
    kind = "device" if cuda else "cpu"
    named = [r for r in rows if r.key not in REGIONS and not r.key.startswith("ProfilerStep")
             and (cuda or r.key.startswith(("aten::", "Torch-Compiled", "CompiledFunction")))
             and _microseconds(r, kind) > 0]
    named.sort(key=lambda r: _microseconds(r, kind), reverse=True)
    return [{"name": r.key[:120], "calls": int(r.count), "ms": _microseconds(r, kind) / 1000}
            for r in named[:TOP]]


def regions(events: list[Any], cuda: bool) -> dict:
    """Calls and milliseconds of each named part of the step, on the host and on the GPU."""
    out = {name: {"calls": 0, "host_ms": 0.0, "device_ms": 0.0 if cuda else None}
           for name in REGIONS}
    for event in events:
        if event.name not in out:
            continue
        entry = out[event.name]
        if str(getattr(event, "device_type", "")).endswith("CPU"):
            entry["calls"] += 1
            entry["host_ms"] += event.cpu_time_total / 1000
        else:  # the GPU's span of the same annotation
            entry["device_ms"] += event.time_range.elapsed_us() / 1000
    return {name: entry for name, entry in out.items() if entry["calls"]}


def summary(prof: Any, cuda: bool, wall: float) -> dict:
    """What one profiled iteration did, from the profiler's events."""
    rows = list(prof.key_averages())
    counts = {r.key: int(r.count) for r in rows}
    parts = regions(list(prof.events()), cuda)
    named = sum(entry["host_ms"] for entry in parts.values())
    return {
        "iteration_ms": 1000 * wall,
        "regions": parts,
        "other_host_ms": 1000 * wall - named,  # the step's own Python, zero_grad, ...
        "top": top_kernels(rows, cuda),
        "top_by": "GPU self time (kernels)" if cuda else "CPU self time (operators)",
        "kernel_launches": sum(counts.get(n, 0) for n in KERNEL_LAUNCHES) if cuda else None,
        "graph_launches": sum(counts.get(n, 0) for n in GRAPH_LAUNCHES) if cuda else None,
        "operator_calls": sum(c for k, c in counts.items() if k.startswith("aten::")),
    }


def profile_iteration(check: Check, method: str, mode: str) -> dict:
    """Warm up (compiling every graph), then profile one iteration of a method."""
    config = speed_config(check, method, mode)
    protocol = build_data(config)
    free_memory(check)
    torch._dynamo.reset()
    trainer, _ = make_trainer(check, config, protocol)
    warm_up(trainer, check.warmup)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if check.cuda else [])
    check.sync()
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        trainer.step()
        check.sync()
        wall = time.perf_counter() - start
    del trainer
    free_memory(check)
    return {"method": method, "compile": mode, **summary(prof, check.cuda, wall)}


def profile_section(check: Check) -> dict:
    """One profiled iteration of each of FAST_METHODS, eager and with each ``--compile`` mode."""
    rows: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for method in FAST_METHODS:
        for mode in ("none", *check.options.compile):
            key, left = f"{method} [{mode}]", check.remaining()
            if left is not None and left <= 0:
                errors[key] = "skipped: over the time budget"
                continue
            try:
                rows[key] = profile_iteration(check, method, mode)
            except Exception as error:  # one failure must not hide the others
                errors[key] = last_line(error)
                traceback.print_exc()
    return {"passed": not errors, "rows": rows, "errors": errors,
            "note": "one iteration after the warm-up, under torch.profiler (its own overhead "
                    "included); data: sampling and copying the batches; phi_inner_step: "
                    "forward, gradient and update of one of Φ's K inner steps; theta_step: "
                    "Θ's forward, backward and optimiser step"}
