"""The shared trainer, and the evaluation loop, model selection and seed aggregation it feeds."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from standins import TinyPhi, TinyTheta, tiny_config, tiny_loss, tiny_score
from torch import nn

from mpfas_lib.evaluation.scoring import Scores, evaluate_scores, score_dataset
from mpfas_lib.evaluation.selection import select
from mpfas_lib.training.algorithm1 import NonFiniteLossError
from mpfas_lib.training.methods import METHODS, get_method
from mpfas_lib.training.trainer import Trainer

DOMAINS = ["C", "I", "O"]



class Batches:
    """Stand-in for DomainBalancedBatches: k genuine + k spoof per domain, seeded."""

    def __init__(self, k: int = 2, seed: int = 0) -> None:
        self.k, self.gen = k, torch.Generator().manual_seed(seed)
        self.calls: list[list[str]] = []

    def batch(self, domains):
        self.calls.append(list(domains))
        n = 2 * self.k * len(domains)
        y = torch.tensor([1] * self.k + [0] * self.k).repeat(len(domains))
        x = torch.rand(n, 3, 8, 8, generator=self.gen) * (0.5 + 0.5 * y.view(-1, 1, 1, 1))
        return x, y, [d for d in domains for _ in range(2 * self.k)]


class Frames(torch.utils.data.Dataset):
    def __init__(self, n_videos: int = 8, frames: int = 2, seed: int = 1) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for v in range(n_videos):
            label = v % 2
            for _ in range(frames):
                x = torch.rand(3, 8, 8, generator=g) * (0.5 + 0.5 * label)
                self.items.append((x, label, "M", f"M/v{v}"))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def make(algorithm="algorithm1", mode="paper", seed=0, k=2):
    torch.manual_seed(seed)
    return Trainer(tiny_config(algorithm, mode, k=k, seed=seed), TinyPhi(), TinyTheta(),
                   Batches(seed=seed), DOMAINS, loss_fn=tiny_loss)


@pytest.mark.parametrize("algorithm,mode", [("algorithm1", "paper"), ("algorithm1", "official"),
                                            ("erm", "paper")])
def test_trainer_steps_and_learns(algorithm, mode):
    trainer = make(algorithm, mode)
    phi0 = copy.deepcopy(trainer.phi.state_dict())
    losses = [trainer.step().theta_loss for _ in range(20)]
    assert trainer.iteration == 20
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert any((trainer.phi.state_dict()[k] != v).any() for k, v in phi0.items())
    calls = trainer.batches.source.calls
    if algorithm == "algorithm1":
        assert len(calls) == 20 * 3  # K = 2 inner batches + 1 Θ batch per iteration
    else:
        assert calls == [DOMAINS] * 20


def test_trainer_erm_with_fixed_map_trains_theta_only():
    class FixedMap(nn.Module):
        def forward(self, x):
            return 1 - x

    torch.manual_seed(0)
    trainer = Trainer(tiny_config("erm"), FixedMap(), TinyTheta(), Batches(), DOMAINS,
                      loss_fn=tiny_loss)
    before = copy.deepcopy(trainer.theta.state_dict())
    trainer.step()
    assert (trainer.theta.conv1.weight != before["conv1.weight"]).any()
    with pytest.raises(ValueError, match="trainable extractor"):
        Trainer(tiny_config(), FixedMap(), TinyTheta(), Batches(), DOMAINS, loss_fn=tiny_loss)


def test_trainer_rgb_only_without_phi():
    torch.manual_seed(0)
    trainer = Trainer(tiny_config("erm"), None, TinyTheta(), Batches(), DOMAINS, loss_fn=tiny_loss)
    trainer.step()
    scores = score_dataset(None, trainer.theta, Frames(), tiny_score)
    assert scores.scores.shape == (16,)


def test_trainer_state_dict_continues_identically():
    a = make()
    for _ in range(3):
        a.step()
    state = copy.deepcopy(a.state_dict())
    torch_state = torch.get_rng_state()
    rest_a = [a.step().to_dict() for _ in range(3)]
    b = make()  # fresh, same seed: the batch log is replayed
    b.load_state_dict(state)
    torch.set_rng_state(torch_state)
    rest_b = [b.step().to_dict() for _ in range(3)]
    for x, y in zip(rest_a, rest_b, strict=True):
        assert x["phi_domains"] == y["phi_domains"]
        assert x["theta_loss"] == pytest.approx(y["theta_loss"], abs=0)
    for k, v in a.theta.state_dict().items():
        torch.testing.assert_close(v, b.theta.state_dict()[k], rtol=0, atol=0)


def test_nan_is_reported_with_iteration_and_loss():
    trainer = make()
    trainer.step()
    trainer.loss_fn = lambda out, y: tiny_loss(out, y) + float("inf")
    with pytest.raises(NonFiniteLossError, match="iteration 2: inner loss"):
        trainer.step()
    assert trainer.iteration == 1


def test_score_dataset_restores_modes_and_is_deterministic():
    trainer = make()
    trainer.step()
    trainer.phi.train()
    trainer.theta.train()
    s1 = score_dataset(trainer.phi, trainer.theta, Frames(), tiny_score, batch_size=5)
    s2 = score_dataset(trainer.phi, trainer.theta, Frames(), tiny_score, batch_size=16)
    assert trainer.theta.training and trainer.phi.training
    np.testing.assert_allclose(s1.scores, s2.scores, rtol=1e-5)
    assert s1.video_ids[:2] == ["M/v0", "M/v0"] and s1.labels.tolist()[:4] == [0, 0, 1, 1]


def test_evaluate_scores_levels_and_thresholds():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 0, 1, 0, 1], 2)
    target = Scores(rng.random(12) * 0.5 + 0.5 * labels, labels, [f"v{i // 2}" for i in range(12)])
    src = Scores(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]), ["a", "b", "c", "d"])
    out = evaluate_scores(target, src)
    assert out["frame"]["n_samples"] == 12 and out["video"]["n_samples"] == 6
    for level in ("frame", "video"):
        for key in ("auc", "eer", "hter_target_eer", "hter_source", "hter_0.5", "apcer",
                    "bpcer", "acer"):
            assert key in out[level]
    assert "hter_source" not in evaluate_scores(target)["video"]


def _record(it, src_eer, tgt_hter):
    return {"iteration": it, "source_val": {"eer": src_eer, "auc": 100 - src_eer},
            "target": {"video": {"hter_target_eer": tgt_hter}}}


def test_model_selection_rules():
    history = [_record(10, 5.0, 30.0), _record(20, 2.0, 25.0), _record(30, 4.0, 10.0),
               _record(40, 2.0, 20.0)]
    assert select(history, "last")["iteration"] == 40
    assert select(history, "source_val")["iteration"] == 40  # tie on EER and AUC: later one
    assert select(history, "target_oracle")["iteration"] == 30
    with pytest.raises(ValueError, match="selection"):
        select(history, "best")


def test_method_registry():
    for name in ("mp", "erm", "colorlbp", "rgb", "mp-concat", "mp-cdc2", "mp-official",
                 "albedo", "depth", "reflectance", "mp-k8"):
        assert name in METHODS
    assert get_method("erm").algorithm == "erm" and get_method("mp").algorithm == "algorithm1"
    assert get_method("colorlbp").phi == "map" and get_method("rgb").streams == "rgb"
    assert get_method("mp-k2").inner_steps == 2 and get_method("mp").inner_steps == 4
    with pytest.raises(ValueError, match="unknown method"):
        get_method("nope")
