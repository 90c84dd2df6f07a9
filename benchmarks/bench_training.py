"""Cost of one Algorithm 1 iteration vs one ERM iteration (paper Sec. III-C, Algorithm 1).

For each profile (quick, and full at a reduced iteration count) and each algorithm, a fresh
subprocess builds the profile's Φ and Θ, feeds random domain-balanced batches (compute only, no
data loading), runs a few iterations after a warm-up and reports: seconds per iteration, images
per second (every image that goes through Θ, inner passes included), peak resident memory
(``ru_maxrss``) and, for Algorithm 1, the time split between the K inner passes and the Θ step.

    python benchmarks/bench_training.py                 # quick (10 its) and full (2 its)
    python benchmarks/bench_training.py --profiles quick --iterations 20
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mpfas_lib.helptext import DocstringFormatter  # noqa: E402


def measure(profile: str, algorithm: str, iterations: int, warmup: int, threads: int) -> dict:
    """Time ``iterations`` steps of one algorithm in this process."""
    import torch

    from mpfas_lib.training.config import build_config
    from mpfas_lib.training.methods import build_models
    from mpfas_lib.training.timing import RandomBatches, timed_steps
    from mpfas_lib.training.trainer import Trainer

    if threads:
        torch.set_num_threads(threads)
    method = "mp" if algorithm == "mp" else "erm"
    cfg = build_config(method=method, profile=profile,
                       overrides={"pretrained": "none"})  # the initialisation costs no time
    torch.manual_seed(0)
    phi, theta = build_models(cfg.method, cfg.profile)
    batches = RandomBatches(cfg.profile.image_size, cfg.profile.batch_per_class)
    trainer = Trainer(cfg, phi, theta, batches, ["C", "I", "O"])
    for _ in range(warmup):
        trainer.step()
    batches.images = 0
    timing = timed_steps(trainer, iterations)
    wall, inner, theta_s = timing.wall_seconds, timing.inner_seconds, timing.theta_seconds
    return {
        "profile": profile, "algorithm": algorithm, "iterations": iterations,
        "image_size": cfg.profile.image_size, "backbone": cfg.profile.backbone,
        "K": cfg.method.inner_steps,
        "seconds_per_iteration": wall / iterations,
        "images_per_second": batches.images / wall,
        "images_per_iteration": batches.images / iterations,
        "inner_fraction": inner / (inner + theta_s) if algorithm == "mp" else 0.0,
        "theta_fraction": theta_s / (inner + theta_s),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def main() -> int:
    """Run every (profile, algorithm) pair in its own process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--profiles", nargs="+", default=["quick", "full"])
    parser.add_argument("--iterations", type=int, default=None,
                        help="timed iterations (default 10 quick, 2 full)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    parser.add_argument("--single", nargs=2, metavar=("PROFILE", "ALGORITHM"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        profile, algorithm = args.single
        its = args.iterations or (10 if profile == "quick" else 2)
        print(json.dumps(measure(profile, algorithm, its, 1 if profile == "full" else 2,
                                 args.threads)))
        return 0
    rows = []
    for profile in args.profiles:
        for algorithm in ("mp", "erm"):
            cmd = [sys.executable, __file__, "--single", profile, algorithm,
                   "--threads", str(args.threads)]
            if args.iterations:
                cmd += ["--iterations", str(args.iterations)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'profile':8} {'algo':4} {'s/it':>8} {'img/s':>8} {'img/it':>7} "
          f"{'inner%':>7} {'theta%':>7} {'peakRSS MiB':>12}")
    for r in rows:
        print(f"{r['profile']:8} {r['algorithm']:4} {r['seconds_per_iteration']:8.3f} "
              f"{r['images_per_second']:8.1f} {r['images_per_iteration']:7.1f} "
              f"{100 * r['inner_fraction']:7.1f} {100 * r['theta_fraction']:7.1f} "
              f"{r['peak_rss_mib']:12.0f}")
    for profile in args.profiles:
        by = {r["algorithm"]: r for r in rows if r["profile"] == profile}
        ratio = by["mp"]["seconds_per_iteration"] / by["erm"]["seconds_per_iteration"]
        per_image = by["erm"]["images_per_second"] / by["mp"]["images_per_second"]
        print(f"{profile}: one Algorithm 1 iteration costs {ratio:.2f}x one ERM iteration "
              f"({per_image:.2f}x per image); K inner passes take "
              f"{100 * by['mp']['inner_fraction']:.0f}% of it, the Θ step "
              f"{100 * by['mp']['theta_fraction']:.0f}%")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
