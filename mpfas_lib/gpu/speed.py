"""How fast each method trains on the device: seconds per iteration, images/s, FLOP/s, MFU and
peak memory (sections ``methods``, ``flops`` and ``ratio``)."""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from mpfas_lib.data.protocols import Protocol
from mpfas_lib.gpu.check import METHODS, Check, last_line
from mpfas_lib.models.losses import hfn_loss
from mpfas_lib.runtime import seed_everything
from mpfas_lib.training.build import build_data, build_trainer
from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.trainer import Trainer

RATIO_GOAL = 1.6  # seconds per iteration of Algorithm 1 over ERM (reported, not enforced)
FAST_METHODS = ("mp", "erm")  # timed again with each --compile mode
MOST_WARMUP = 30  # iterations at most to meet every size of D_φ


class CountingBatches:
    """A batch source that counts the images it hands out."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.images = 0

    def batch(self, domains: list[str]):
        """The source's next batch of the named domains."""
        out = self.source.batch(domains)
        self.images += len(out[1])
        return out


def speed_config(check: Check, method: str, mode: str = "none") -> RunConfig:
    """The check's config of a method, sampling its batches in this process (no workers)."""
    return check.config(method, loader_workers=0, compile=mode)


def warm_up(trainer: Trainer, steps: int) -> list[Any]:
    """At least ``steps`` iterations, and until every batch size the run will meet was met
    (each size of D_φ in Algorithm 1's paper form): compiled passes then have all their
    graphs, so no later iteration compiles."""
    settings, n = trainer.settings, len(trainer.domains)
    if settings is None:
        sizes = {0}
    else:
        sizes = set(range(1, n)) if settings.mode == "paper" else {1}
    seen: set[int] = set()
    done = []
    while len(done) < steps or (not sizes <= seen and len(done) < MOST_WARMUP):
        done.append(trainer.step())
        seen.add(len(done[-1].phi_domains))
    return done


def make_trainer(check: Check, config: RunConfig,
                 protocol: Protocol) -> tuple[Trainer, CountingBatches]:
    """A Trainer built as a run builds it, on the check's device, counting the images it uses."""
    seed_everything(config.seed)
    trainer = build_trainer(config, protocol, check.device)
    batches = CountingBatches(trainer.batches.source)
    trainer.batches.source = batches
    return trainer, batches


def free_memory(check: Check, reset_peak: bool = False) -> None:
    """Hand cached GPU memory back (and start a new peak): the last models must not count."""
    if check.cuda:
        gc.collect()
        torch.cuda.empty_cache()
        if reset_peak:
            torch.cuda.reset_peak_memory_stats(check.device)


@dataclass
class Timed:
    """What the iterations of one method measured."""

    losses: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    images: int = 0
    inner_seconds: float = 0.0
    theta_seconds: float = 0.0
    flops: int | None = None
    flop_images: int | None = None
    warmup: int = 0  # untimed iterations (the FLOP-counted one included)

    def add_losses(self, stats: Any) -> None:
        """The K inner losses and the Θ loss of one step."""
        self.losses += [*stats.inner_losses, stats.theta_loss]


def time_iterations(check: Check, trainer: Trainer, batches: CountingBatches,
                    bar: Any) -> Timed:
    """Warm up, count the FLOPs of one iteration (eager only), then time ``check.iterations``."""
    timed = Timed()
    for stats in warm_up(trainer, check.warmup):
        timed.add_losses(stats)
        timed.warmup += 1
        bar.update(1)
    if trainer.compile == "none":  # a compiled pass would recompile under the counting mode
        counter = FlopCounterMode(display=False)
        before = batches.images
        with counter:
            timed.add_losses(trainer.step())
        timed.flops, timed.flop_images = counter.get_total_flops(), batches.images - before
        timed.warmup += 1
        bar.update(1)
    for _ in range(check.iterations):
        before = batches.images
        check.sync()
        start = time.perf_counter()
        stats = trainer.step()
        check.sync()
        timed.times.append(time.perf_counter() - start)
        timed.images += batches.images - before
        timed.inner_seconds += stats.inner_seconds
        timed.theta_seconds += stats.theta_seconds
        timed.add_losses(stats)
        bar.update(1)
        bar.set_postfix(loss=f"{stats.theta_loss:.3f}")
    return timed


def method_row(check: Check, method: str, config: RunConfig, trainer: Trainer, timed: Timed,
               data_seconds: float, flops_per_image: float | None = None) -> dict:
    """One row of the ``methods`` section from what the iterations measured (a compiled run
    takes ``flops_per_image`` from the eager run of its method: the same math)."""
    times, total = timed.times, sum(timed.times)
    images_per_second = timed.images / total if total > 0 else None
    if timed.flops and timed.flop_images:
        flops_per_image = timed.flops / timed.flop_images
    split = timed.inner_seconds + timed.theta_seconds
    achieved = (flops_per_image * images_per_second
                if flops_per_image and images_per_second else None)
    _, peak = check.peak()
    return {
        "method": method,
        "compile": config.compile,
        "algorithm": config.method.algorithm,
        "backbone": config.profile.backbone,
        "image_size": config.profile.image_size,
        "amp_bf16": trainer.amp,
        "channels_last": trainer.channels_last,
        "iterations": len(times),
        "warmup_iterations": timed.warmup,
        "losses_finite": all(math.isfinite(v) for v in timed.losses),
        "last_loss": timed.losses[-1] if timed.losses else None,
        "seconds_per_iteration": statistics.median(times) if times else None,
        "seconds_per_iteration_mean": total / len(times) if times else None,
        "images_per_iteration": timed.images / len(times) if times else None,
        "images_per_second": images_per_second,
        "inner_fraction": (timed.inner_seconds / split
                           if config.method.meta_learned and split > 0 else None),
        "flops_per_image": flops_per_image,
        "model_flops_per_second": achieved,
        "peak_memory_gib": (torch.cuda.max_memory_allocated(check.device) / 2**30
                            if check.cuda else None),
        "data_seconds": data_seconds,
        "mfu": achieved / peak if peak and achieved else None,
    }


def bench_method(check: Check, method: str, mode: str = "none",
                 flops_per_image: float | None = None) -> dict:
    """Warm up, count one iteration's FLOPs (eager), then time N iterations of one method."""
    config = speed_config(check, method, mode)
    t0 = time.perf_counter()
    protocol = build_data(config)
    data_seconds = time.perf_counter() - t0
    free_memory(check, reset_peak=True)
    trainer, batches = make_trainer(check, config, protocol)
    label = method if mode == "none" else f"{method} [{mode}]"
    bar = tqdm(total=check.warmup + 1 + check.iterations, desc=f"{label:12}", leave=False,
               file=sys.stderr, disable=check.options.no_progress)
    try:
        timed = time_iterations(check, trainer, batches, bar)
    finally:
        bar.close()
    row = method_row(check, method, config, trainer, timed, data_seconds, flops_per_image)
    del trainer, batches
    free_memory(check)
    return row


def compiled_rows(check: Check, rows: dict[str, dict], errors: dict[str, str]) -> dict:
    """FAST_METHODS again with each ``--compile`` mode: {mode: {method: row}}, with the
    speed-up over the eager row; failures go to ``errors`` as ``method [mode]``."""
    out: dict[str, dict] = {}
    for mode in check.options.compile:
        out[mode] = {}
        for method in FAST_METHODS:
            key, left = f"{method} [{mode}]", check.remaining()
            if left is not None and left <= 0:
                errors[key] = "skipped: over the time budget"
                continue
            eager = rows.get(method, {})
            try:
                torch._dynamo.reset()  # each run compiles its own graphs
                row = bench_method(check, method, mode, eager.get("flops_per_image"))
            except Exception as error:
                errors[key] = last_line(error)
                traceback.print_exc()
                continue
            if eager.get("seconds_per_iteration") and row["seconds_per_iteration"]:
                row["speedup"] = eager["seconds_per_iteration"] / row["seconds_per_iteration"]
            out[mode][method] = row
    return out


def methods_section(check: Check) -> dict:
    """Every method's speed, memory and loss finiteness."""
    rows: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for method in METHODS:
        left = check.remaining()
        if left is not None and left <= 0:
            errors[method] = "skipped: over the time budget"
            continue
        try:
            rows[method] = bench_method(check, method)
        except Exception as error:  # one method's failure must not hide the others
            errors[method] = last_line(error)
            traceback.print_exc()
    compiled = compiled_rows(check, rows, errors)
    every = [*rows.values(), *(r for by in compiled.values() for r in by.values())]
    passed = not errors and all(r["losses_finite"] for r in every)
    return {"passed": passed, "rows": rows, "compiled": compiled, "errors": errors,
            "note": "times include loading the batches through the library's data pipeline "
                    "(DomainBalancedBatches on the CPU), as in a training run"}


def median_seconds(check: Check, step: Callable[[], None], reps: int, warmup: int = 3) -> float:
    """The median wall time of ``reps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(reps):
        check.sync()
        start = time.perf_counter()
        step()
        check.sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flops_section(check: Check) -> dict:
    """FLOPs of one Θ training step (forward + backward), its time and the MFU."""
    config = speed_config(check, "mp")
    protocol = build_data(config)
    trainer, _ = make_trainer(check, config, protocol)
    phi, theta = trainer.phi, trainer.theta
    phi.train()
    theta.train()
    images, labels = trainer.sample(sorted(protocol.sources))  # 3 domains x (k + k) images
    with torch.no_grad(), trainer.autocast():
        pattern = phi(images)

    def theta_step() -> None:
        trainer.optimizer.zero_grad(set_to_none=True)
        with trainer.autocast():
            loss = hfn_loss(theta(images, pattern), labels)
        loss.backward()

    counter = FlopCounterMode(display=False)
    with counter:
        theta_step()
    flops = counter.get_total_flops()
    reps = 3 if check.tiny else 20
    seconds = median_seconds(check, theta_step, reps)
    achieved = flops / seconds
    key, peak = check.peak()
    return {
        "passed": flops > 0 and math.isfinite(achieved),
        "step": "Θ forward + backward (bf16 autocast, channels_last on CUDA)",
        "batch_images": int(images.shape[0]),
        "image_size": config.profile.image_size,
        "backbone": config.profile.backbone,
        "flops": flops,
        "seconds": seconds,
        "repetitions": reps,
        "flops_per_second": achieved,
        "peak_key": key,
        "peak_bf16_flops": peak,
        "mfu": achieved / peak if peak else None,
    }


def ratio_section(check: Check) -> dict:
    """Seconds per iteration of Algorithm 1 over ERM (goal <= 1.6, reported only)."""
    rows = check.report.get("methods", {}).get("rows", {})
    if "mp" not in rows or "erm" not in rows:
        raise RuntimeError("needs the mp and erm rows of the methods section")
    mp, erm = rows["mp"]["seconds_per_iteration"], rows["erm"]["seconds_per_iteration"]
    ratio = mp / erm
    return {"passed": True, "mp_seconds_per_iteration": mp, "erm_seconds_per_iteration": erm,
            "ratio": ratio, "goal": RATIO_GOAL, "meets_goal": ratio <= RATIO_GOAL}
