"""Images/s of the batch loader next to the images/s one training step consumes.

For a profile (quick by default), the synthetic protocol's source domains are loaded in the
order Algorithm 1 asks for them, in the training process (``loader_workers=0``) and with worker
processes; then Algorithm 1 steps are timed on batches already in memory. The loader keeps the
device busy when its rate exceeds the step's.

    python benchmarks/bench_loader.py --workers 0 2 --batches 60 --steps 10
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from mpfas_lib.data.loader import LoaderBatches  # noqa: E402
from mpfas_lib.data.sampling import DomainBalancedBatches  # noqa: E402
from mpfas_lib.helptext import DocstringFormatter  # noqa: E402
from mpfas_lib.runtime import pick_device  # noqa: E402
from mpfas_lib.training.algorithm1 import request_plan  # noqa: E402
from mpfas_lib.training.build import build_data  # noqa: E402
from mpfas_lib.training.config import build_config  # noqa: E402
from mpfas_lib.training.methods import build_models  # noqa: E402
from mpfas_lib.training.trainer import Trainer  # noqa: E402


def loader_rate(config, protocol, workers: int, batches: int, device) -> float:
    """Images/s delivered by the batch source with ``workers`` processes (0: in process)."""
    domains = sorted(protocol.sources)
    settings = config.method.meta_settings(config.profile.lr)

    def plan():
        return request_plan(domains, settings, config.seed)

    sampler = DomainBalancedBatches(protocol.sources, k=config.profile.batch_per_class)
    source = (sampler if workers == 0 else
              LoaderBatches(sampler, plan, workers, pin_memory=device.type == "cuda"))
    requests = plan()
    source.batch(next(requests))  # workers started, first batch in
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        x = source.batch(next(requests))[0].to(device, non_blocking=True)
        images += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if isinstance(source, LoaderBatches):
        source.close()
    return images / seconds


class Preloaded:
    """Batches already in memory (the step's rate without any loading)."""

    def __init__(self, sampler: DomainBalancedBatches, device) -> None:
        self.sampler, self.device, self.cache = sampler, device, {}

    def batch(self, domains):
        key = ",".join(domains)
        if key not in self.cache:
            x, y, names = self.sampler.batch(domains)
            self.cache[key] = (x.to(self.device), y.to(self.device), names)
        return self.cache[key]


def step_rate(config, protocol, steps: int, device) -> float:
    """Images/s consumed by Algorithm 1 steps (each step reads K+1 batches)."""
    phi, theta = build_models(config.method, config.profile)
    sampler = DomainBalancedBatches(protocol.sources, k=config.profile.batch_per_class)
    trainer = Trainer(config, phi, theta, Preloaded(sampler, device), sorted(protocol.sources),
                      device=device)
    counted = {"images": 0}
    sample = trainer.sample

    def counting(domains):
        x, y = sample(domains)
        counted["images"] += x.shape[0]
        return x, y

    trainer.sample = counting
    trainer.step()  # warm-up (and the in-memory batches of every split seen)
    counted["images"] = 0
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return counted["images"] / (time.perf_counter() - start)


def main() -> None:
    """Print the loader's images/s per worker count and the step's images/s."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    config = build_config(method="mp", profile=args.profile, overrides={"pretrained": "none"})
    protocol = build_data(config)
    prof = config.profile
    print(f"profile={prof.name} image_size={prof.image_size} backbone={prof.backbone} "
          f"device={device} torch_threads={torch.get_num_threads()}")
    for workers in args.workers:
        rate = loader_rate(config, protocol, workers, args.batches, device)
        print(f"loader  workers={workers}: {rate:8.1f} images/s")
    print(f"training step (Algorithm 1, data in memory): "
          f"{step_rate(config, protocol, args.steps, device):8.1f} images/s")


if __name__ == "__main__":
    main()
