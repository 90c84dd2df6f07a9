"""Seconds per training iteration, eager against compiled (the run setting ``compile``).

For each method a fresh subprocess builds one trainer per compile mode: the profile's Φ and Θ
(the same random initialisation) on random domain-balanced batches (compute only, no data
loading; the same seed for every mode). Each trainer is warmed up (compiling: at least
``--warmup`` iterations and until every size of D_φ was met, so every graph exists), then the
modes' iterations are timed in turn (eager, compiled, eager, ...), so that a machine busy with
other work slows each mode alike. The table gives the median seconds per iteration, the
speed-up over eager, the warm-up's time (compiling included) and how far the losses are from
the eager run's: the first loss (the same weights and batch, so float rounding only) and the
largest over the run (Algorithm 1 amplifies rounding: on the quick profile a change of 1e-7 in
one weight of Φ grows to about 1e-3 in four eager inner steps, so this one measures the
dynamics, not the step; ``tests/test_compile.py`` holds compiled to eager step by step).

    python benchmarks/bench_compile.py                                  # quick profile, CPU
    python benchmarks/bench_compile.py --methods mp --modes none default max-autotune
    python benchmarks/bench_compile.py --device cuda --profile full --json compile.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mpfas_lib.helptext import DocstringFormatter  # noqa: E402

DOMAINS = ["C", "I", "O"]
MODES = ("none", "default", "max-autotune", "reduce-overhead", "cudagraphs")


def build(method: str, mode: str, args: argparse.Namespace):
    """A trainer of one method and compile mode on random batches (seed 0, like every mode)."""
    import torch

    from mpfas_lib.training.config import build_config
    from mpfas_lib.training.methods import build_models
    from mpfas_lib.training.timing import RandomBatches
    from mpfas_lib.training.trainer import Trainer

    config = build_config(method=method, profile=args.profile, overrides={
        "pretrained": "none", "compile": mode, "device": args.device})
    torch.manual_seed(0)
    phi, theta = build_models(config.method, config.profile)
    prof = config.profile
    batches = RandomBatches(prof.image_size, prof.batch_per_class, seed=0, device=args.device)
    return Trainer(config, phi, theta, batches, DOMAINS, device=args.device)


def measure(method: str, args: argparse.Namespace) -> list[dict]:
    """Every mode of one method in this process: warm each up (compiling), then time their
    iterations in turn, so that a busy machine slows every mode alike."""
    import torch

    from mpfas_lib.gpu.speed import warm_up

    if args.threads and args.device == "cpu":
        torch.set_num_threads(args.threads)

    def timed(trainer) -> tuple[float, object]:
        if args.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        stats = trainer.step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, stats

    trainers, rows = {}, {}
    for mode in args.modes:
        trainers[mode] = build(method, mode, args)
        start = time.perf_counter()
        warm = warm_up(trainers[mode], args.warmup)  # every size of D_φ: all graphs compiled
        rows[mode] = {"warmup_seconds": time.perf_counter() - start,
                      "warmup_iterations": len(warm), "times": [],
                      "losses": [v for s in warm for v in (*s.inner_losses, s.theta_loss)]}
        print(f"  {method} compile={mode}: {len(warm)} warm-up iterations in "
              f"{rows[mode]['warmup_seconds']:.1f} s", file=sys.stderr, flush=True)
    for i in range(args.iterations):
        for mode, trainer in trainers.items():
            seconds, stats = timed(trainer)
            rows[mode]["times"].append(seconds)
            rows[mode]["losses"] += [*stats.inner_losses, stats.theta_loss]
        print(f"  {method}: iteration {i + 1}/{args.iterations} " + ", ".join(
            f"{m} {r['times'][-1]:.3f} s" for m, r in rows.items()), file=sys.stderr, flush=True)
    prof = trainers[args.modes[0]]
    return [row_of(method, mode, rows[mode], prof, args) for mode in args.modes]


def row_of(method: str, mode: str, measured: dict, trainer, args: argparse.Namespace) -> dict:
    """One (method, mode) row of the table and the JSON."""
    import torch

    times = measured.pop("times")
    return {
        "method": method, "compile": mode, "profile": args.profile, "device": args.device,
        "K": trainer.settings.inner_steps if trainer.settings else None,
        "iterations": len(times), **measured,
        "seconds_per_iteration": statistics.median(times),
        "seconds_per_iteration_mean": sum(times) / len(times),
        "seconds_per_iteration_min": min(times), "seconds_per_iteration_max": max(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "load_average": os.getloadavg(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--methods", nargs="+", default=["mp", "mp-official", "erm"],
                        help="methods to time (default mp mp-official erm)")
    parser.add_argument("--modes", nargs="+", default=["none", "default"], choices=MODES,
                        metavar="MODE", help=f"compile modes, of {', '.join(MODES)}; 'none' "
                        "(eager) is always measured first (default none default)")
    parser.add_argument("--profile", default="quick", help="profile of the sizes (default quick)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--iterations", type=int, default=10,
                        help="timed iterations per run (default 10)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed iterations first, compiling included, more until every "
                             "size of D_φ was met (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the rows here")
    parser.add_argument("--single", metavar="METHOD", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 1:
        parser.error("--iterations and --warmup must be >= 1 (the first warm-up compiles)")
    args.modes = ["none", *[m for m in args.modes if m != "none"]]
    return args


def child(method: str, args: argparse.Namespace) -> list[dict]:
    """Every mode of one method measured in its own process (its own caches and memory)."""
    command = [sys.executable, __file__, "--single", method, "--modes", *args.modes,
               "--profile", args.profile, "--device", args.device, "--iterations",
               str(args.iterations), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        return [{"method": method, "compile": mode, "error": f"exit code {done.returncode} "
                 "(its error is printed above)"} for mode in args.modes]
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(rows: list[dict]) -> None:
    """Speed-up over eager and the largest loss difference from eager, per row."""
    eager = {r["method"]: r for r in rows if r["compile"] == "none" and "error" not in r}
    for row in rows:
        base = eager.get(row["method"])
        if "error" in row or base is None:
            continue
        row["speedup"] = base["seconds_per_iteration"] / row["seconds_per_iteration"]
        pairs = list(zip(row["losses"], base["losses"], strict=False))
        row["first_loss_difference"] = abs(pairs[0][0] - pairs[0][1])
        row["max_loss_difference"] = max((abs(a - b) for a, b in pairs), default=0.0)
        row["losses_finite"] = all(math.isfinite(a) for a, _ in pairs)


def table(rows: list[dict]) -> str:
    """The rows as a plain-text table."""
    lines = [f"{'method':12} {'compile':16} {'s/it (med)':>10} {'speed-up':>8} "
             f"{'warm-up s':>9} {'|Δloss| 1st':>11} {'max':>9} {'RSS MiB':>8}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['method']:12} {r['compile']:16} {r['error']}")
            continue
        lines.append(f"{r['method']:12} {r['compile']:16} {r['seconds_per_iteration']:10.4f} "
                     f"{r['speedup']:8.2f} {r['warmup_seconds']:9.1f} "
                     f"{r['first_loss_difference']:11.2e} {r['max_loss_difference']:9.2e} "
                     f"{r['peak_rss_mib']:8.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every (method, mode) in its own process, print the table, write the JSON."""
    args = parse_args(argv)
    if args.single:
        print(json.dumps(measure(args.single, args)))
        return 0
    rows = []
    for i, method in enumerate(args.methods):
        print(f"[{i + 1}/{len(args.methods)}] {method}: compile {', '.join(args.modes)} ...",
              file=sys.stderr, flush=True)
        rows += child(method, args)
    compare(rows)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        print(f"rows: {args.json}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
