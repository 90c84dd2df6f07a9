"""Exercise 6.5: Algorithm 1 written by the student, checked against meta_pattern_step.

The solution of chapter 06 passes, other correct ways of writing it pass, the starter's
skeleton is "not yet", and each typical slip gets its own hint.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
import torch

from mpfas_lib.exercises import evaluate
from mpfas_lib.exercises.checks import UNANSWERED
from mpfas_lib.exercises.edition import parse
from mpfas_lib.models import hfn_loss
from mpfas_lib.profile import get_profile
from mpfas_lib.training import get_method, meta_pattern_step
from mpfas_lib.training.book import (
    PreDrawn,
    library_steps,
    predrawn_iterations,
    replay_iterations,
    student_steps,
    tiny_models,
)

CHAPTER = Path(__file__).resolve().parent.parent / "notebooks" / "06_algorithm1.ipynb"
LR = 0.005
K = get_method("mp").inner_steps


def _chapter_cell(role: str):
    """The function that exercise 6.5's solution (or starter) cell defines."""
    ex = parse(CHAPTER)["ex-nb06-5"]
    source = ex.solution_code[0] if role == "solution" else ex.starter[0].source
    namespace = {"copy": copy, "torch": torch, "hfn_loss": hfn_loss}
    exec(compile(source, f"{CHAPTER.name}:{role}", "exec"), namespace)
    return namespace["algorithm1_step"]


def _step(*, sign: float = 1.0, skip_first: bool = False, restore_theta: bool = True,
          restore_phi: bool = True, theta_on_phi_batch: bool = False,
          theta_in_inner: bool = False, step_theta: bool = True, use_sgd: bool = False):
    """A student's algorithm1_step, right by default, with one slip switched on."""

    def algorithm1_step(phi, theta, theta_opt, phi_batches, theta_batch, lr):
        phi.train(), theta.train()
        kept = copy.deepcopy(theta.state_dict())
        phi_opt = torch.optim.SGD(phi.parameters(), lr=lr) if use_sgd else None
        for x, y in phi_batches[1:] if skip_first else phi_batches:
            loss = hfn_loss(theta(x, phi(x)), y)
            grads = torch.autograd.grad(loss, list(phi.parameters()), retain_graph=True)
            if theta_in_inner:  # Θ stepped with the inner loss as well
                theta_opt.zero_grad()
                loss.backward()
                theta_opt.step()
            if phi_opt is not None:
                for p, g in zip(phi.parameters(), grads, strict=True):
                    p.grad = g
                phi_opt.step()
                continue
            with torch.no_grad():
                for p, g in zip(phi.parameters(), grads, strict=True):
                    p.add_(g, alpha=-sign * lr)
        if restore_theta:
            theta.load_state_dict(kept)
        x, y = phi_batches[-1] if theta_on_phi_batch else theta_batch
        phi_stats = copy.deepcopy(phi.state_dict())
        with torch.no_grad():
            pattern = phi(x)
        if restore_phi:
            phi.load_state_dict(phi_stats)
        theta_opt.zero_grad()
        hfn_loss(theta(x, pattern), y).backward()
        if step_theta:
            theta_opt.step()

    return algorithm1_step


def test_the_chapter_solution_is_correct() -> None:
    assert evaluate("nb06-5", _chapter_cell("solution")) == (True, "correct")


@pytest.mark.parametrize("form", ["add_ with alpha", "SGD optimiser for Φ"])
def test_other_correct_forms_pass(form: str) -> None:
    """Rounding differs from the library's `p -= lr * g`; the check allows it."""
    step = _step(use_sgd=form == "SGD optimiser for Φ")
    assert evaluate("nb06-5", step) == (True, "correct")


def test_the_starter_skeleton_is_not_yet() -> None:
    assert evaluate("nb06-5", _chapter_cell("starter")) == (False, UNANSWERED)


@pytest.mark.parametrize(
    ("slip", "hint"),
    [
        ({"sign": -1.0}, "went up its gradient"),
        ({"skip_first": True}, "K − 1 inner steps"),
        ({"restore_theta": False}, "Θ's BatchNorm running statistics moved"),
        ({"restore_phi": False}, "Φ's BatchNorm running statistics changed"),
        ({"theta_on_phi_batch": True}, "updated on a D_φ batch"),
        ({"theta_in_inner": True}, "Θ unchanged"),
        ({"sign": 0.0}, "Φ did not move"),
        ({"step_theta": False}, "Θ did not move"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else "",
)
def test_typical_slips_get_their_hint(slip: dict, hint: str) -> None:
    ok, message = evaluate("nb06-5", _step(**slip))
    assert not ok and message.startswith("not yet: ") and hint in message, message


def test_an_answer_that_is_not_a_function() -> None:
    ok, message = evaluate("nb06-5", {"phi": 1})
    assert not ok and "give your function" in message


def test_replay_uses_the_drawn_batches_and_split() -> None:
    """The library step on pre-drawn batches equals its own draw with the same generator."""
    drawn = predrawn_iterations(get_profile(), 2, K)
    replayed = replay_iterations(library_steps(get_method("mp").meta_settings(LR)), drawn, LR)
    queue = [b for it in drawn for b in (*it.phi_batches, it.theta_batch)]
    phi, theta = tiny_models(0)
    opt = torch.optim.SGD(theta.parameters(), lr=LR, momentum=0.9)
    domains = sorted(drawn[0].phi_domains + drawn[0].theta_domains)
    for t in range(2):  # the split of iteration t is split_domains(domains, Random(t))
        meta_pattern_step(phi, theta, hfn_loss, lambda _names: queue.pop(0), opt, domains,
                          random.Random(t), get_method("mp").meta_settings(LR))
    assert not queue
    for name, value in theta.state_dict().items():
        assert torch.equal(value, replayed[-1]["theta"][name]), name
    ours = replay_iterations(student_steps(_chapter_cell("solution"), LR), drawn, LR)
    assert all(torch.equal(v, replayed[-1]["phi"][k]) for k, v in ours[-1]["phi"].items())


def test_a_replay_refuses_a_batch_of_other_domains() -> None:
    it = predrawn_iterations(get_profile(), 1, K)[0]
    sample = it.sample()
    with pytest.raises(ValueError, match="was drawn"):
        sample(it.theta_domains)
    wrong = PreDrawn(it.phi_domains, it.phi_domains, it.phi_batches, it.theta_batch)
    with pytest.raises(ValueError, match="disjoint"):
        library_steps(get_method("mp").meta_settings(LR))(*tiny_models(0), torch.optim.SGD(
            tiny_models(0)[1].parameters(), lr=LR), wrong)
