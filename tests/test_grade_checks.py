"""The checks that used to pass wrong answers: each with its right answer and typical slips."""

from __future__ import annotations

import copy
import random
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from mpfas_lib.evaluation import auc, eer, hter, min_hter, threshold_at_eer
from mpfas_lib.evaluation import pad_metrics as metrics
from mpfas_lib.exercises import evaluate
from mpfas_lib.models import HFN, build_extractor, hfn_loss
from mpfas_lib.training import split_domains


def _hint(label: str, answer, context=None) -> str:
    ok, message = evaluate(label, answer, context)
    assert not ok, f"{label}: a slip passed"
    return message


# ---- 6.1: counts recomputed from the starter's generator ------------------------------

DOMAINS = ["C", "I", "O"]


def _counts(mode: str, seed: int = 0, ordered: bool = True) -> Counter:
    rng = random.Random(seed)
    draws = [tuple(map("".join, split_domains(DOMAINS, rng, mode))) for _ in range(3000)]
    return Counter(d if ordered else tuple(sorted(d, key=len)) for d in draws)


def test_split_counts() -> None:
    context = {"domains": DOMAINS}
    assert evaluate("nb06-1", _counts("paper"), context) == (True, "correct")
    assert "authors' code" in _hint("nb06-1", _counts("official"), context)
    assert "is ordered" in _hint("nb06-1", _counts("paper", ordered=False), context)
    typed = {k: 500 for k in _counts("paper")}
    assert "random.Random(0)" in _hint("nb06-1", typed, context)
    assert "random.Random(0)" in _hint("nb06-1", _counts("paper", seed=1), context)


# ---- 6.4: the Θ gradients recomputed from the chapter's tiny model --------------------

@pytest.fixture(scope="module")
def tiny() -> dict:
    torch.manual_seed(0)
    phi, theta = build_extractor("conv2"), HFN(backbone="resnet18-w16", fusion_channels=16)
    x = torch.rand(8, 3, 16, 16)
    y = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0])
    return {"phi": phi, "theta": theta, "x_b": x, "y_b": y, "LR": 0.005}


def _steps(ctx: dict, sign: float = 1.0) -> tuple:
    phi, theta, x, y, lr = (ctx[k] for k in ("phi", "theta", "x_b", "y_b", "LR"))
    moved = copy.deepcopy(phi)
    g = torch.autograd.grad(hfn_loss(theta(x, moved(x)), y), list(moved.parameters()))
    with torch.no_grad():
        for q, gq in zip(moved.parameters(), g, strict=True):
            q -= sign * lr * gq
    at = lambda p: torch.autograd.grad(hfn_loss(theta(x, p(x).detach()), y),  # noqa: E731
                                       list(theta.parameters()))
    return at(moved), at(phi)


def test_alternating_gradient(tiny: dict) -> None:
    alt, old = _steps(tiny)
    assert evaluate("nb06-4", (alt, old), tiny) == (True, "correct")
    assert "went up its gradient" in _hint("nb06-4", (_steps(tiny, -1.0)[0], old), tiny)
    assert "are equal" in _hint("nb06-4", (old, old), tiny)
    assert "swapped" in _hint("nb06-4", (old, alt), tiny)
    typed = [torch.ones_like(g) for g in old]
    assert "not that of the loss" in _hint("nb06-4", (typed, typed), tiny)


# ---- 7.1: the metrics recomputed from the chapter's target scores ---------------------

@pytest.fixture(scope="module")
def scores() -> dict:
    rng = np.random.default_rng(0)
    s = np.r_[rng.beta(4, 4, 100), rng.beta(1.5, 5, 100)]
    return {"tgt_s": s, "tgt_y": np.r_[np.ones(100, int), np.zeros(100, int)]}


def _ranking(s, y, f=lambda v: v**3, e=lambda s, y: eer(s, y)[0]) -> pd.DataFrame:
    c = f(s)
    return pd.DataFrame({"original": [auc(s, y), e(s, y), hter(s, y, 0.5)],
                         "cubed": [auc(c, y), e(c, y), hter(c, y, 0.5)]},
                        index=["AUC", "EER", "HTER@0.5"])


def test_ranking_metrics(scores: dict) -> None:
    s, y = scores["tgt_s"], scores["tgt_y"]
    assert evaluate("nb07-1", _ranking(s, y), scores) == (True, "correct")
    assert "label 1 is genuine" in _hint("nb07-1", _ranking(s, 1 - y), scores)
    assert "threshold" in _hint("nb07-1", _ranking(s, y, e=lambda s, y: eer(s, y)[1]), scores)
    assert "strictly increasing" in _hint("nb07-1", _ranking(s, y, f=lambda v: -v), scores)
    typed = pd.DataFrame({"o": [0.9, 0.1, 0.2], "c": [0.9, 0.1, 0.3]})
    assert "not the chapter's metrics" in _hint("nb07-1", typed, scores)


# ---- 7.2: the repetition experiment simulated again -----------------------------------

def _oracle(n: int = 20, on_target: bool = False, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def draw(k):
        return np.r_[rng.beta(8, 2, k), rng.beta(2, 6, k)], np.r_[np.ones(k, int),
                                                                   np.zeros(k, int)]

    pop_s, pop_y = draw(20000)
    rows = []
    for _ in range(200):
        s_s, s_y = draw(150)
        t_s, t_y = draw(n)
        thr = threshold_at_eer(s_s, s_y)
        rows.append({"target-EER": metrics(t_s, t_y)["hter_target_eer"],
                     "min over thresholds": min_hter(t_s, t_y)[0],
                     "source threshold, true error": hter(t_s, t_y, thr) if on_target
                     else hter(pop_s, pop_y, thr)})
    return pd.DataFrame(rows).agg(["mean", "std"]).T


def test_oracle_without_shift() -> None:
    right = _oracle()
    assert evaluate("nb07-2", right) == (True, "correct")
    assert "whole population" in _hint("nb07-2", _oracle(on_target=True))
    assert "percentages" in _hint("nb07-2", right / 100)
    assert "order asked" in _hint("nb07-2", right.iloc[[2, 0, 1]])
    made_up = right.assign(mean=[10.0, 8.0, 12.0])
    assert "200 repetitions" in _hint("nb07-2", made_up)
    assert "spread" in _hint("nb07-2", _oracle(n=100))


# ---- 7.3: HTER and ACER recomputed with the library's metrics -------------------------

@pytest.mark.parametrize(("answer", "hint"), [
    ((10.5, 10.5), "worst attack type"),
    ((17.5, 17.5), "pools all spoofs"),
    ((16.0, 17.5), "HTER: first"),
    ((10.5, 16.0), "which APCER"),
    ((0.105, 0.175), "in %"),
])
def test_hter_acer(answer, hint: str) -> None:
    assert evaluate("nb07-3", (10.5, 17.5)) == (True, "correct")
    message = _hint("nb07-3", answer)
    assert hint in message
    assert "=" not in message and "max" not in message, "a hint must not state the formula"
