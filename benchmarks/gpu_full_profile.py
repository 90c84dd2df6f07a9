"""Full-profile training speed on one GPU: ResNet-50 streams, 256 px, 24 images per batch.

Runs Algorithm 1 (paper, K = 4) and ERM for a few hundred iterations each on random
domain-balanced batches (compute only: 3 source domains x 4 genuine + 4 spoof = 24 images),
with bf16 autocast and channels_last, and prints images/s, peak GPU memory and the achieved
FLOP/s (one iteration's FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode``) against
the card's dense bf16 peak. Sized to finish well under 8 minutes on an H100.

    python benchmarks/gpu_full_profile.py --iterations 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mpfas_lib.helptext import DocstringFormatter  # noqa: E402
from mpfas_lib.training.config import build_config  # noqa: E402
from mpfas_lib.training.methods import build_models  # noqa: E402
from mpfas_lib.training.timing import timed_steps  # noqa: E402
from mpfas_lib.training.trainer import Trainer  # noqa: E402

# dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}


class DeviceBatches:
    """Random k genuine + k spoof images per domain, generated on the GPU."""

    def __init__(self, size: int, k: int, device: torch.device) -> None:
        self.size, self.k, self.device = size, k, device
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.images = 0

    def batch(self, domains):
        n = 2 * self.k * len(domains)
        self.images += n
        labels = torch.tensor(([1] * self.k + [0] * self.k) * len(domains), device=self.device)
        x = torch.rand(n, 3, self.size, self.size, generator=self.gen, device=self.device)
        return x, labels


def peak_flops(name: str) -> float | None:
    """The card's dense bf16 peak, if known."""
    for key, value in PEAKS.items():
        if key in name:
            return value
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(algorithm: str, iterations: int, device: torch.device, amp: bool,
          profile: str = "full") -> dict:
    """Time one algorithm: warm-up, FLOP count of one iteration, timed loop."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = build_config(method="mp" if algorithm == "mp" else "erm", profile=profile, amp=amp,
                       channels_last=True, overrides={"pretrained": "none"})  # speed only
    torch.manual_seed(0)
    phi, theta = build_models(cfg.method, cfg.profile)
    batches = DeviceBatches(cfg.profile.image_size, cfg.profile.batch_per_class, device)
    trainer = Trainer(cfg, phi, theta, batches, ["C", "I", "O"], device=device)
    for _ in range(min(5, iterations)):
        trainer.step()
    counter = FlopCounterMode(display=False)
    flops_images = batches.images
    with counter:
        trainer.step()
    flops = counter.get_total_flops()
    flops_images = batches.images - flops_images
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    batches.images = 0
    timing = timed_steps(trainer, iterations, sync=lambda: _sync(device))
    wall, inner, theta_s = timing.wall_seconds, timing.inner_seconds, timing.theta_seconds
    # FLOPs per image of the counted iteration times images/s (the split size varies)
    achieved = flops / flops_images * batches.images / wall
    return {
        "algorithm": algorithm, "iterations": iterations, "seconds": wall,
        "ms_per_iteration": 1000 * wall / iterations,
        "images_per_second": batches.images / wall,
        "peak_memory_gib": (torch.cuda.max_memory_allocated(device) / 2**30
                            if device.type == "cuda" else float("nan")),
        "flops_per_iteration": flops, "achieved_tflops": achieved / 1e12,
        "inner_fraction": inner / (inner + theta_s),
    }


def main() -> int:
    """Benchmark Algorithm 1 and ERM on the GPU and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--no-amp", action="store_true", help="fp32 instead of bf16 autocast")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test)")
    parser.add_argument("--profile", default="full", help="full (default) or quick (smoke test)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (or --device cpu)", file=sys.stderr)
        return 1
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = peak_flops(name)
    start = time.perf_counter()
    rows = [bench(a, args.iterations, device, not args.no_amp, args.profile)
            for a in ("mp", "erm")]
    print(f"device: {name}; torch {torch.__version__}; bf16 autocast: {not args.no_amp}")
    for r in rows:
        util = f"{100 * r['achieved_tflops'] * 1e12 / peak:.1f}% of peak" if peak else "peak ?"
        r["peak_fraction"] = r["achieved_tflops"] * 1e12 / peak if peak else None
        print(f"{r['algorithm']:4} {r['ms_per_iteration']:7.1f} ms/it  "
              f"{r['images_per_second']:7.1f} img/s  peak mem {r['peak_memory_gib']:5.2f} GiB  "
              f"{r['flops_per_iteration'] / 1e12:6.2f} TFLOP/it  "
              f"{r['achieved_tflops']:6.1f} TFLOP/s ({util})  "
              f"inner {100 * r['inner_fraction']:.0f}%")
    print(f"Algorithm 1 / ERM time per iteration: "
          f"{rows[0]['ms_per_iteration'] / rows[1]['ms_per_iteration']:.2f}x; "
          f"total {time.perf_counter() - start:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps({"device": name, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
