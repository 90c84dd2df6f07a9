"""The worker-process loader yields the trainer's batches: same results, resumable either way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mpfas_lib.data.loader import LoaderBatches
from mpfas_lib.data.sampling import DomainBalancedBatches
from mpfas_lib.training.algorithm1 import MetaSettings, request_plan
from mpfas_lib.training.build import loader_workers
from mpfas_lib.training.config import build_config
from mpfas_lib.training.loop import run_training
from mpfas_lib.training.methods import build_models
from mpfas_lib.training.trainer import Trainer

TINY = {"image_size": "32", "synth_subjects": "4", "synth_frames": "2", "iterations": "8",
        "eval_every": "4", "threads": "1", "tensorboard": "false", "progress": "false"}


class Recorder:
    """A batch source that records the requested domains (random images)."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def batch(self, domains):
        self.asked.append(list(domains))
        n = 2 * len(domains)
        return torch.rand(n, 3, 32, 32), torch.arange(n) % 2


@pytest.mark.parametrize("method", ["mp", "mp-official", "erm"])
def test_request_plan_is_what_the_trainer_asks_for(method: str) -> None:
    config = build_config(method=method, profile="quick", overrides={**TINY, "seed": "5"})
    phi, theta = build_models(config.method, config.profile)
    source = Recorder()
    domains = ["C", "I", "O"]
    trainer = Trainer(config, phi, theta, source, domains)
    for _ in range(3):
        trainer.step()
    plan = request_plan(domains, trainer.settings, seed=5)
    assert source.asked == [next(plan) for _ in source.asked]


def test_loader_yields_the_sampler_batches_and_refuses_others() -> None:
    from test_sampling import _sources

    settings = MetaSettings(2, 1e-3, "paper", 1.0)
    plan = lambda: request_plan(["A", "B", "C"], settings, seed=1)  # noqa: E731
    loader = LoaderBatches(DomainBalancedBatches(_sources(), k=2, seed=0), plan, workers=2)
    direct = DomainBalancedBatches(_sources(), k=2, seed=0)
    requests = plan()
    for _ in range(7):
        domains = next(requests)
        got, want = loader.batch(domains), direct.batch(domains)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
        assert got[2] == want[2]
    with pytest.raises(RuntimeError, match="plan diverged"):
        loader.batch(["A", "B", "C"])
    loader.close()


def test_workers_change_nothing_and_resume_across_settings(tmp_path: Path) -> None:
    def run(out: str, workers: int, iterations: int = 8, resume: bool = False) -> dict:
        config = build_config(method="mp", profile="quick", overrides={
            **TINY, "loader_workers": str(workers), "iterations": str(iterations)})
        return run_training(config, out=tmp_path / out, resume=resume, log=lambda *_: None)

    main = run("main", 0)
    workers = run("workers", 2)
    run("resumed", 2, iterations=4)
    resumed = run("resumed", 0, resume=True)
    assert resumed["provenance"]["resumed_from"] == 4
    for other in (workers, resumed):
        assert other["history"] == main["history"] and other["metrics"] == main["metrics"]
    model = "MICO_OCI-M-mp-s0/checkpoint.pt"
    a = torch.load(tmp_path / "main" / model, weights_only=True)["trainer"]["theta"]
    b = torch.load(tmp_path / "resumed" / model, weights_only=True)["trainer"]["theta"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_default_workers_follow_the_device() -> None:
    config = build_config(profile="full", overrides={"pretrained": "none"})
    assert loader_workers(config, torch.device("cpu")) == 0
    assert 1 <= loader_workers(config, torch.device("cuda")) <= 8
    assert loader_workers(config.replace(loader_workers=3), torch.device("cpu")) == 3
    with pytest.raises(ValueError, match="loader_workers"):
        build_config(profile="quick", overrides={"loader_workers": "-1"})
