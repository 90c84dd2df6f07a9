"""Two gloo processes on the CPU train the same tiny models and end with identical parameters."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from standins import TinyPhi, TinyTheta, tiny_config, tiny_loss

from mpfas_lib.training.distributed import DistInfo, init_distributed
from mpfas_lib.training.trainer import Trainer

DOMAINS = ["C", "I", "O"]
SETTINGS = [("algorithm1", "paper"), ("algorithm1", "official"), ("erm", "paper")]


class RankBatches:
    """Balanced batches that differ per rank (as DomainBalancedBatches(rank=...) does)."""

    def __init__(self, rank: int) -> None:
        self.gen = torch.Generator().manual_seed(100 + rank)

    def batch(self, domains):
        y = torch.tensor([1, 1, 0, 0] * len(domains))
        x = torch.rand(len(y), 3, 8, 8, generator=self.gen)
        return x * (0.5 + 0.5 * y.view(-1, 1, 1, 1)), y


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        info = DistInfo(rank, world, 0, torch.device("cpu"))
        results = {}
        for algorithm, mode in SETTINGS:
            torch.manual_seed(rank)  # different init per rank: rank 0's is broadcast
            config = tiny_config(algorithm, mode, k=2, seed=7)
            trainer = Trainer(config, TinyPhi(), TinyTheta(), RankBatches(rank), DOMAINS,
                              loss_fn=tiny_loss, dist=info)
            splits = [trainer.step().phi_domains for _ in range(4)]
            state = {f"phi.{k}": v for k, v in trainer.phi.state_dict().items()}
            state.update({f"theta.{k}": v for k, v in trainer.theta.state_dict().items()})
            results[f"{algorithm}-{mode}"] = {"state": state, "splits": splits}
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_end_identical(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    torch.manual_seed(0)
    fresh = {f"theta.{k}": v for k, v in TinyTheta().state_dict().items()}
    for name in r0:
        assert r0[name]["splits"] == r1[name]["splits"]  # same D_φ/D_θ on every rank
        for key, value in r0[name]["state"].items():
            if "running" in key or "num_batches" in key:
                continue  # BN statistics stay local to each rank's batches
            torch.testing.assert_close(value, r1[name]["state"][key], rtol=0, atol=0,
                                       msg=f"{name}: {key} differs between ranks")
        assert not torch.equal(r0[name]["state"]["theta.conv1.weight"], fresh["theta.conv1.weight"])


def test_init_distributed_single_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = init_distributed("cpu")
    assert info.rank == 0 and info.world_size == 1 and info.is_main and not info.enabled
