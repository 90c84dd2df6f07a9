"""Algorithm 1 (paper Sec. III-C) and the ERM baseline, pinned on tiny stand-in models."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from standins import TinyPhi, TinyTheta, tiny_loss

from mpfas_lib.training.algorithm1 import (
    MetaSettings,
    NonFiniteLossError,
    meta_pattern_step,
    phi_optimizer_for,
    preserved_batchnorm_stats,
    split_domains,
)
from mpfas_lib.training.erm import Pipeline, erm_step
from mpfas_lib.training.methods import get_method

DOMAINS = ["C", "I", "O"]
ALPHA = 0.05



class Recorder:
    """A reproducible stand-in batch source that remembers what it handed out."""

    def __init__(self, seed: int = 0, k: int = 2, size: int = 8) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.k, self.size = k, size
        self.log: list[tuple[list[str], torch.Tensor, torch.Tensor]] = []

    def __call__(self, domains):
        n = 2 * self.k * len(domains)
        x = torch.rand(n, 3, self.size, self.size, generator=self.gen)
        y = torch.tensor([1, 0] * (n // 2))
        x[y == 1] *= 0.5  # something learnable
        self.log.append((list(domains), x, y))
        return x, y


def models(seed: int = 0):
    torch.manual_seed(seed)
    return TinyPhi(), TinyTheta()


def run_step(mode: str = "paper", k: int = 3, seed: int = 0):
    phi, theta = models(seed)
    phi0, theta0 = copy.deepcopy(phi), copy.deepcopy(theta)
    rec = Recorder(seed)
    opt = torch.optim.SGD(theta.parameters(), lr=ALPHA, momentum=0.9)
    method = get_method("mp-official" if mode == "official" else "mp").replace(inner_steps=k)
    settings = method.meta_settings(ALPHA)
    phi_opt = phi_optimizer_for(phi, settings, 0.9) if mode == "official" else None
    rng = random.Random(seed)
    stats = meta_pattern_step(phi, theta, tiny_loss, rec, opt, DOMAINS, rng, settings,
                              phi_optimizer=phi_opt)
    return phi0, theta0, phi, theta, rec, stats


@pytest.mark.parametrize("seed", range(4))
def test_phi_equals_k_manual_sgd_steps_and_theta_grad_at_phi_k(seed):
    k = 3
    phi0, theta0, phi, theta, rec, stats = run_step(k=k, seed=seed)
    assert len(rec.log) == k + 1
    assert all(d == stats.phi_domains for d, _, _ in rec.log[:k])
    assert rec.log[k][0] == stats.theta_domains
    # replicate Φ_k = Φ_{k-1} - α ∇_Φ L by hand
    man_phi, man_theta = copy.deepcopy(phi0), copy.deepcopy(theta0)
    theta_bn_before = copy.deepcopy(man_theta.bn.state_dict())
    for _, x, y in rec.log[:k]:
        loss = tiny_loss(man_theta(x, man_phi(x)), y)
        grads = torch.autograd.grad(loss, list(man_phi.parameters()))
        with torch.no_grad():
            for p, g in zip(man_phi.parameters(), grads, strict=True):
                p -= ALPHA * g
    man_theta.bn.load_state_dict(theta_bn_before)  # paper mode: Θ's BN stats untouched
    for a, b in zip(phi.state_dict().values(), man_phi.state_dict().values(), strict=True):
        torch.testing.assert_close(a.float(), b.float())
    # the Θ step uses ∇_Θ at Φ̂ = Φ_K; first momentum-SGD step is Θ - α g
    _, x, y = rec.log[k]
    with torch.no_grad():
        pattern = man_phi(x)
    loss = tiny_loss(man_theta(x, pattern), y)
    grads = torch.autograd.grad(loss, list(man_theta.parameters()))
    for p, p0, g in zip(theta.parameters(), theta0.parameters(), grads, strict=True):
        torch.testing.assert_close(p, p0 - ALPHA * g)
    assert stats.theta_loss == pytest.approx(float(loss.detach()))
    # Θ's BN saw exactly one batch (the Θ step) in paper mode
    torch.testing.assert_close(theta.bn.running_mean, man_theta.bn.running_mean)
    assert int(theta.bn.num_batches_tracked) == 1


def test_theta_gets_no_gradient_in_inner_loop():
    phi, theta = models()
    rng = random.Random(0)
    opt = torch.optim.SGD(theta.parameters(), lr=0.0, momentum=0.0)  # Θ frozen by lr 0
    before = copy.deepcopy(theta.state_dict())
    meta_pattern_step(phi, theta, tiny_loss, Recorder(), opt, DOMAINS, rng,
                      MetaSettings(2, 0.1, "paper", 1.0))
    assert all(p.grad is None for p in theta.parameters())
    for name, value in theta.state_dict().items():
        if "running" not in name and "num_batches" not in name:
            torch.testing.assert_close(value, before[name])


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_split_is_disjoint_nonempty_and_covers_sources(mode):
    rng = random.Random(1)
    domains = ["C", "I", "M", "O"]
    sizes = set()
    for _ in range(200):
        a, b = split_domains(domains, rng, mode)
        assert a and b and not set(a) & set(b)
        assert sorted(a + b) == sorted(domains)
        sizes.add(len(a))
    assert sizes == ({1, 2, 3} if mode == "paper" else {1})


def test_split_is_seeded_and_rejects_bad_input():
    runs = [[split_domains(DOMAINS, r, "paper") for _ in range(10)]
            for r in (random.Random(3), random.Random(3))]
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="at least 2"):
        split_domains(["M"], random.Random(0))
    with pytest.raises(ValueError, match="mode"):
        split_domains(DOMAINS, random.Random(0), "nope")


def test_official_mode_bn_and_optimiser():
    k = 2
    phi0, theta0, phi, theta, rec, stats = run_step("official", k=k)
    assert len(stats.phi_domains) == 1 and len(stats.theta_domains) == 2
    # Θ's BN statistics were updated by the K inner batches and the Θ batch
    assert int(theta.bn.num_batches_tracked) == k + 1
    # Φ follows its own momentum SGD with lr = α·K
    man_phi, man_theta = copy.deepcopy(phi0), copy.deepcopy(theta0)
    opt = torch.optim.SGD(man_phi.parameters(), lr=ALPHA * k, momentum=0.9)
    for _, x, y in rec.log[:k]:
        opt.zero_grad()
        tiny_loss(man_theta(x, man_phi(x)), y).backward()
        opt.step()
    for a, b in zip(phi.parameters(), man_phi.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    # Θ-step loss of mp-official is (MSE + CE) / 2, i.e. half the loss
    _, x, y = rec.log[k]
    man_theta.train()
    with torch.no_grad():
        full = tiny_loss(man_theta(x, man_phi(x)), y)
    assert stats.theta_loss == pytest.approx(0.5 * float(full), rel=1e-5)


def test_paper_mode_needs_no_phi_optimizer_official_does():
    phi, theta = models()
    opt = torch.optim.SGD(theta.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="phi_optimizer"):
        meta_pattern_step(phi, theta, tiny_loss, Recorder(), opt, DOMAINS, random.Random(0),
                          MetaSettings(4, 0.1, "official", 1.0))


def test_preserved_batchnorm_stats_restores():
    _, theta = models()
    before = copy.deepcopy(theta.state_dict())
    with preserved_batchnorm_stats(theta):
        theta(torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8))
        assert int(theta.bn.num_batches_tracked) == 1
    for name, value in theta.state_dict().items():
        torch.testing.assert_close(value, before[name])


def test_nan_loss_stops_before_update():
    phi, theta = models()
    before = copy.deepcopy(phi.state_dict())

    def bad_loss(out, y):
        return tiny_loss(out, y) * float("nan")

    opt = torch.optim.SGD(theta.parameters(), lr=0.1)
    with pytest.raises(NonFiniteLossError, match=r"iteration 7: inner loss \(k=1"):
        meta_pattern_step(phi, theta, bad_loss, Recorder(), opt, DOMAINS, random.Random(0),
                          MetaSettings(4, 0.1, "paper", 1.0), iteration=7)
    for name, value in phi.named_parameters():  # parameters untouched (BN stats may move)
        torch.testing.assert_close(value, before[name])


def test_erm_updates_phi_and_theta_together():
    phi, theta = models()
    phi0, theta0 = copy.deepcopy(phi), copy.deepcopy(theta)
    model = Pipeline(phi, theta)
    opt = torch.optim.SGD(model.parameters(), lr=ALPHA, momentum=0.9)
    rec = Recorder()
    stats = erm_step(model, tiny_loss, rec, opt, DOMAINS)
    assert len(rec.log) == 1 and rec.log[0][0] == DOMAINS  # one batch from all sources
    _, x, y = rec.log[0]
    ref = Pipeline(phi0, theta0)
    loss = tiny_loss(ref(x), y)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    for p, p0, g in zip(model.parameters(), ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p, p0 - ALPHA * g)
    assert any((a - b).abs().sum() > 0 for a, b in zip(phi.parameters(), phi0.parameters(),
                                                       strict=True))
    assert stats.algorithm == "erm" and stats.phi_domains == []
