"""Generation speed of the synthetic benchmark (images per second, one process, no cache).

Usage: ``python benchmarks/bench_synthetic.py [--sizes 64 256] [--subjects 2]``.
"""

from __future__ import annotations

import argparse
import time

from mpfas_lib.data.synthetic import DOMAINS, SyntheticBenchmark, split_sizes, video_specs
from mpfas_lib.helptext import DocstringFormatter


def bench(size: int, subjects: int, frames: int) -> tuple[int, float]:
    """Render every video of ``subjects`` subjects in all five domains; (images, seconds)."""
    b = SyntheticBenchmark(size, max(subjects, 2), frames)
    t = time.perf_counter()
    n = 0
    for d in DOMAINS:
        for s in range(subjects):
            for spec in video_specs(d, s):
                n += len(b._render(spec))
    return n, time.perf_counter() - t


def main() -> None:
    """Print images/s per image size and the projected time of a full benchmark."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    p.add_argument("--sizes", type=int, nargs="*", default=[64, 256])
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--frames", type=int, default=4)
    a = p.parse_args()
    per_subject = sum(len(video_specs(d, 0)) for d in DOMAINS)
    for size in a.sizes:
        n, dt = bench(size, a.subjects, a.frames)
        rate = n / dt
        print(f"{size:4d} px: {n} images in {dt:.1f} s = {rate:.1f} images/s "
              f"(render {2 * size} px inside)")
        for subjects, frames, name in ((8, 4, "quick"), (30, 8, "full")):
            total = per_subject * subjects * frames
            print(f"        a {name}-profile benchmark ({subjects} subjects x {frames} frames, "
                  f"{total} images; splits {split_sizes(subjects)}) takes ~{total / rate:.0f} s")


if __name__ == "__main__":
    main()
