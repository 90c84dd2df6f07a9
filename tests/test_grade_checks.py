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


# ---- 2.3: each split's subjects recomputed from the benchmark -------------------------

def _subjects(domain: str = "O", part=lambda v: v.split("/")[1]) -> dict:
    from mpfas_lib.data import from_profile
    from mpfas_lib.profile import get_profile

    bench = from_profile(get_profile())
    return {s: {part(r.video_id) for r in bench.dataset(domain, s).records}
            for s in ("train", "val", "test")}


def _pairs(subjects: dict, how=set.intersection) -> dict:
    return {(a, b): how(subjects[a], subjects[b])
            for a, b in (("train", "val"), ("train", "test"), ("val", "test"))}


def test_subject_overlap() -> None:
    right = _subjects()
    assert evaluate("nb02-3", (right, _pairs(right))) == (True, "correct")
    empty = {pair: set() for pair in _pairs(right)}
    assert "one set of subject ids per split" in _hint("nb02-3", ({}, empty))
    videos = _subjects(part=lambda v: v)
    assert "whole video ids" in _hint("nb02-3", (videos, _pairs(videos)))
    domain = _subjects(part=lambda v: v.split("/")[0])
    assert "starts with its domain" in _hint("nb02-3", (domain, _pairs(domain)))
    other = _subjects("I", part=lambda v: "/".join(v.split("/")[:2]))
    assert "domain O" in _hint("nb02-3", (other, _pairs(other)))
    prefixed = _subjects(part=lambda v: "/".join(v.split("/")[:2]))
    assert evaluate("nb02-3", (prefixed, _pairs(prefixed))) == (True, "correct")
    assert "occur in both" in _hint("nb02-3", (right, _pairs(right, set.union)))
    assert "three pairs" in _hint("nb02-3", (right, dict(list(_pairs(right).items())[:2])))


# ---- 6.2: the ERM step rebuilt from the starter's fresh model and batches -------------

def _erm_rows(lr: float = 0.005, steps: int = 1, seed: int = 0, phi_too: bool = True,
              batches: int = 3) -> list:
    import torch.nn.functional as F

    from mpfas_lib.data import DomainBalancedBatches, build_protocol
    from mpfas_lib.profile import get_profile
    from mpfas_lib.training import Pipeline, erm_step
    from mpfas_lib.viz import ParameterTrace

    protocol = build_protocol("MICO:OCI-M", source="synthetic", profile=get_profile())
    source = DomainBalancedBatches(protocol.sources, k=2, seed=batches)

    def sample(names):
        x, y, _ = source.batch(names)
        return F.interpolate(x, size=16, mode="area"), y

    torch.manual_seed(seed)
    phi, theta = build_extractor("conv2"), HFN(backbone="resnet18-w16", fusion_channels=16)
    model, trace = Pipeline(phi, theta), ParameterTrace(phi, theta)
    opt = torch.optim.SGD(model.parameters() if phi_too else theta.parameters(), lr=lr,
                          momentum=0.9)
    traced = trace.wrap(sample)
    for _ in range(steps):
        erm_step(model, hfn_loss, traced if _ == 0 else sample, opt, sorted(protocol.sources))
    traced(sorted(protocol.sources))
    return trace.rows


def test_erm_moves() -> None:
    lr = {"LR": 0.005}
    assert evaluate("nb06-2", _erm_rows(), lr) == (True, "correct")
    assert "only one part moved" in _hint("nb06-2", _erm_rows(phi_too=False), lr)
    assert "two steps" in _hint("nb06-2", _erm_rows(steps=2), lr)
    assert "step size" in _hint("nb06-2", _erm_rows(lr=0.01), lr)
    assert "fresh erm_phi" in _hint("nb06-2", _erm_rows(seed=1), lr)
    assert "fresh erm_phi" in _hint("nb06-2", _erm_rows(batches=0), lr)
    typed = [{"|Φ−Φ0|": 0.0, "|Θ−Θ0|": 0.0}, {"|Φ−Φ0|": 0.1, "|Θ−Θ0|": 0.2}]
    assert "fresh erm_phi" in _hint("nb06-2", typed, lr)
    assert "start row" in _hint("nb06-2", _erm_rows()[:1], lr)


# ---- 8.2 and 9.2: recomputed from the chapter's runs and rows -------------------------

def _run(protocol: str, method: str, seed: int, rng: np.random.Generator) -> dict:
    level = lambda: {"hter_source": float(rng.uniform(5, 40)),  # noqa: E731
                     "hter_target_eer": float(rng.uniform(5, 40)),
                     "auc": float(rng.uniform(60, 99))}
    config = {"protocol": protocol, "method": method, "data": "synthetic"}
    return {"provenance": {"config": config, "profile": "study", "iterations": 100,
                           "seed": seed},
            "selection": "source_val",
            "metrics": {"source_val": {"iteration": 100,
                                       "target": {"video": level(), "frame": level()}}}}


@pytest.fixture(scope="module")
def runs() -> list:
    rng = np.random.default_rng(0)
    return [_run(p, m, s, rng) for p in ("MICO:OCI-M", "MICO:OCM-I")
            for m in ("mp", "erm", "mp-k1", "mp-k2", "mp-k8") for s in range(3)]


def _levels(runs: list, frame: str = "frame", video: str = "video",
            hter: str = "hter_source", how: str = "mean") -> pd.DataFrame:
    from mpfas_lib.evaluation import run_rows

    by = lambda lvl: run_rows(runs, level=lvl).groupby("method")[[hter, "auc"]].agg(how) \
        .set_axis(["hter_source", "auc"], axis=1)  # noqa: E731
    return pd.concat({"frame": by(frame), "video": by(video)}, axis=1)


def test_frame_or_video(runs: list) -> None:
    ctx = {"runs": runs}
    assert evaluate("nb08-2", _levels(runs), ctx) == (True, "correct")
    assert "identical" in _hint("nb08-2", _levels(runs, frame="video"), ctx)
    assert "swapped" in _hint("nb08-2", _levels(runs, frame="video", video="frame"), ctx)
    assert "target's own EER" in _hint("nb08-2", _levels(runs, hter="hter_target_eer"), ctx)
    assert "mean over all runs" in _hint("nb08-2", _levels(runs, how="median"), ctx)
    assert "one row per method" in _hint("nb08-2", _levels(runs).iloc[:2], ctx)
    typed = _levels(runs).round(0)
    assert "mean over all runs" in _hint("nb08-2", typed, ctx)


KS = {"mp-k1": "K=1", "mp-k2": "K=2", "mp": "K=4", "mp-k8": "K=8"}


def _over_k(rows: pd.DataFrame, protocol: str | None = "MICO:OCI-M",
            metric: str = "hter_source", how: str = "mean") -> tuple:
    if protocol:
        rows = rows[rows["protocol"] == protocol]
    seeds = rows[rows["method"] == "mp"][metric]
    return seeds, rows[rows["method"].isin(KS)].groupby("method")[metric].agg(how)


def test_spread_over_k(runs: list) -> None:
    from mpfas_lib.evaluation import run_rows

    rows = run_rows(runs)
    ctx = {"rows": rows, "KS": KS}
    assert evaluate("nb09-2", _over_k(rows), ctx) == (True, "correct")
    seeds, over_k = _over_k(rows)
    assert evaluate("nb09-2", (seeds, over_k.rename(KS)), ctx) == (True, "correct")
    assert "one protocol" in _hint("nb09-2", _over_k(rows, protocol=None), ctx)
    assert "own EER threshold" in _hint("nb09-2", _over_k(rows, metric="hter_target_eer"), ctx)
    assert "mean over seeds" in _hint("nb09-2", _over_k(rows, how="median"), ctx)
    assert "four values of K" in _hint("nb09-2", (seeds, over_k.iloc[:3]), ctx)
    typed = (seeds, pd.Series({k: 20.0 for k in KS}))
    assert "mean over seeds" in _hint("nb09-2", typed, ctx)


# ---- 11.1 and 11.3: recomputed from the chapter's patterns, snapshots and faces -------

def test_channel_gaps() -> None:
    torch.manual_seed(0)
    patterns = torch.rand(3, 8, 3, 8, 8)
    ctx = {"patterns": patterns}
    domains = ["C", "I", "O", "M"]

    def gap(snapshot=-1, sign=1.0, order=domains) -> pd.DataFrame:
        per_face = patterns[snapshot].mean(dim=(-2, -1))
        per_face = per_face.mean(dim=0) if per_face.ndim == 3 else per_face
        table = pd.DataFrame(sign * (per_face[0::2] - per_face[1::2]).numpy(), index=domains)
        return table.loc[order]

    assert evaluate("nb11-1", gap(), ctx) == (True, "correct")
    assert evaluate("nb11-1", gap(order=domains[::-1]), ctx) == (True, "correct")
    assert "reversed" in _hint("nb11-1", gap(sign=-1.0), ctx)
    assert "first snapshot" in _hint("nb11-1", gap(snapshot=0), ctx)
    assert "every snapshot" in _hint("nb11-1", gap(snapshot=slice(None)), ctx)
    shuffled = gap().iloc[[1, 0, 2, 3]].reset_index(drop=True)
    assert "another order" in _hint("nb11-1", shuffled, ctx)
    assert "not the gaps" in _hint("nb11-1", pd.DataFrame(np.full((4, 3), 0.01)), ctx)
    assert "4 domains × 3 channels" in _hint("nb11-1", gap().T, ctx)


@pytest.fixture(scope="module")
def snapshots() -> dict:
    torch.manual_seed(0)
    phi = build_extractor("conv2")
    first = copy.deepcopy(phi.state_dict())
    with torch.no_grad():
        for p in phi.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for _ in range(3):  # running statistics that differ from any one batch's
            phi.train()(torch.rand(8, 3, 16, 16) * 2)
    faces = torch.rand(8, 3, 16, 16)
    return {"saved": {"states": [first, copy.deepcopy(phi.state_dict())]}, "faces": faces}


def _modes(ctx: dict, state: int = -1, train_first: bool = False) -> tuple:
    phi = build_extractor("conv2")
    phi.load_state_dict(ctx["saved"]["states"][state])
    with torch.no_grad():
        if train_first:
            train_mp = phi.train()(ctx["faces"])
            return phi.eval()(ctx["faces"]), train_mp
        return phi.eval()(ctx["faces"]), phi.train()(ctx["faces"])


def test_batchnorm_modes(snapshots: dict) -> None:
    eval_mp, train_mp = _modes(snapshots)
    assert evaluate("nb11-3", (eval_mp, train_mp), snapshots) == (True, "correct")
    assert "identical" in _hint("nb11-3", (eval_mp, eval_mp.clone()), snapshots)
    assert "swapped" in _hint("nb11-3", (train_mp, eval_mp), snapshots)
    assert "after a training-mode pass" in _hint("nb11-3", _modes(snapshots, train_first=True),
                                                 snapshots)
    assert "iteration 0" in _hint("nb11-3", _modes(snapshots, state=0), snapshots)
    assert "not Φ's patterns" in _hint("nb11-3", (eval_mp, eval_mp.flip(0)), snapshots)


# ---- 3.2: the code histograms recomputed from the chapter's frames --------------------

def _code_hists(channel: int = 1, scale: float = 255.0, normalise: bool = True):
    from mpfas_lib.data import from_profile
    from mpfas_lib.data.datasets import to_tensor
    from mpfas_lib.features import build_map
    from mpfas_lib.profile import get_profile

    bench = from_profile(get_profile())
    frames = torch.stack([to_tensor(bench.render_video("Y", 0, k)[0])
                          for k in ("live", "print", "replay", "mask")])
    codes = torch.round(build_map("colorlbp")(frames) * scale)[:, channel].long()
    h = torch.stack([torch.bincount(c.flatten(), minlength=256).double() for c in codes])
    return h / h.sum(dim=1, keepdim=True) if normalise else h


def _chi2(a, b) -> float:
    return float(((a - b) ** 2 / (a + b).clamp_min(1e-12)).sum())


def test_code_histograms() -> None:
    h = _code_hists()
    right = _chi2(h[0], h[2])
    assert evaluate("nb03-2", (h, right)) == (True, "correct")
    assert evaluate("nb03-2", (h[[0, 2]], right)) == (True, "correct")
    assert "another colour channel" in _hint("nb03-2", (_code_hists(channel=0), right))
    assert "8-bit code" in _hint("nb03-2", (_code_hists(scale=1.0), right))
    assert "normalise" in _hint("nb03-2", (_code_hists(normalise=False), right))
    assert "half the expected" in _hint("nb03-2", (h, right / 2))
    assert "print frame" in _hint("nb03-2", (h, _chi2(h[0], h[1])))
    assert "chapter's frames" in _hint("nb03-2", (h[[2, 1, 0, 3]], right))
    uniform = torch.full((4, 256), 1 / 256, dtype=torch.float64)
    assert "chapter's frames" in _hint("nb03-2", (uniform, 0.5))


# ---- answers recomputed from the library: counts and ratios ---------------------------

COUNTED = {
    "nb01-2": ({"official": 48, "paper": 60.2, "erm": 24},
               [({"official": 48, "paper": 60, "erm": 12}, "k genuine *and* k spoof"),
                ({"official": 24, "paper": 60, "erm": 24}, "K times"),
                ({"official": 48, "paper": 72, "erm": 24}, "average")]),
    "nb04-1": (693, [(663, "batch normalisations"), (678, "has a bias"),
                     (648, "add the biases")]),
    "nb05-1": (3_016_704, [(1_836_544, "3×3 convolutions"), (1_180_160, "1×1 alignment"),
                           (1_508_352, "two streams"), (3_014_656, "carry biases")]),
    "nb05-3": (1_180_160, [(2_360_320, "only one conv"), (590_080, "two levels"),
                           (1_179_648, "biases too")]),
    "nb10-2": (4.0, [(0.25, "not the other way round"), (1.0, "both steps are equal"),
                     (7.6, "first step only")]),
}


@pytest.mark.parametrize("label", sorted(COUNTED))
def test_counted_answers(label: str) -> None:
    right, slips = COUNTED[label]
    assert evaluate(label, right) == (True, "correct")
    assert len(slips) >= 3
    for answer, hint in slips:
        assert hint in _hint(label, answer), (label, answer)
