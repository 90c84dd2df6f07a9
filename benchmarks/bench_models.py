"""CPU/GPU time of one forward + backward of Phi + Theta (HFN) per profile (Section III-B).

Usage: python benchmarks/bench_models.py [--case full-official full-hfm quick-hfm]
       [--batch 24] [--repeats 1] [--threads N] [--device cpu]
On a small shared CPU, --threads 1 avoids oversubscription (often 10x faster).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from mpfas_lib.helptext import DocstringFormatter  # noqa: E402
from mpfas_lib.models import HFN, MetaPatternExtractor, count_parameters, hfn_loss  # noqa: E402

CASES: dict[str, tuple[str, str, int]] = {
    "full-official": ("resnet50", "official", 256),
    "full-hfm": ("resnet50", "hfm", 256),
    "quick-hfm": ("resnet18-w16", "hfm", 64),
    "quick-official": ("resnet18-w16", "official", 64),
}


def time_step(backbone: str, fusion: str, size: int, batch: int, repeats: int,
              device: torch.device) -> tuple[float, int]:
    """Seconds per forward+backward of hfn(x, phi(x)) with the Eq. 10 loss; parameter count."""
    torch.manual_seed(0)
    phi = MetaPatternExtractor().to(device)
    hfn = HFN(backbone, fusion=fusion).to(device)
    x = torch.rand(batch, 3, size, size, device=device)
    labels = (torch.arange(batch, device=device) % 2).long()
    times = []
    for _ in range(repeats + 1):  # the first call warms up allocators and kernels
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        hfn_loss(hfn(x, phi(x)), labels).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
        phi.zero_grad(set_to_none=True)
        hfn.zero_grad(set_to_none=True)
    timed = times[1:] if repeats > 0 else times
    return min(timed), count_parameters(hfn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--case", nargs="+", choices=sorted(CASES), metavar="CASE",
                        default=["full-official", "full-hfm", "quick-hfm"],
                        help=f"one or more of {', '.join(sorted(CASES))}")
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs after one warm-up")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch} "
          f"torch={torch.__version__}")
    for case in args.case:
        backbone, fusion, size = CASES[case]
        seconds, n_params = time_step(backbone, fusion, size, args.batch, args.repeats, device)
        print(f"{case:15s} backbone={backbone:12s} fusion={fusion:8s} input={size}px "
              f"params={n_params:,}  forward+backward: {seconds:.2f} s")


if __name__ == "__main__":
    main()
