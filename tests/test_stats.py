"""Tests of mpfas_lib.evaluation.stats on synthetic video-level scores (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpfas_lib.evaluation.metrics import auc, eer, hter
from mpfas_lib.evaluation.stats import (
    LOWER_IS_BETTER,
    METRICS,
    RunScores,
    compare_table,
    metric_value,
    paired_difference,
    resample_values,
    run_scores,
    seed_summary,
    verdict_text,
)

NAMES = tuple(METRICS)
N_BOOT = 400


def _run(seed: int, shift: float = 0.0, n: int = 120, frac_gen: float = 0.3,
         noise: int = 0, threshold: float | None = 0.5, ties: bool = False,
         name: str | None = None) -> RunScores:
    """Synthetic run: logit scores N(+1 + shift, 1) for genuine and N(-1 - shift, 1) for spoof."""
    rng = np.random.default_rng([seed, noise, n])
    n_gen = max(1, round(n * frac_gen))
    y = np.r_[np.ones(n_gen, int), np.zeros(n - n_gen, int)]
    z = rng.normal(np.where(y == 1, 1.0 + shift, -1.0 - shift), 1.0)
    s = 1.0 / (1.0 + np.exp(-z))
    if ties:
        s = np.round(s, 1)
    ids = np.array([f"vid{i:04d}" for i in range(n)])
    return RunScores(video_ids=ids, labels=y, scores=s, source_threshold=threshold, seed=seed,
                     run=name or f"synthetic-s{seed}-x{shift}-n{noise}")


def _group(shift: float, noise: int, seeds=(0, 1, 2), **kw) -> list[RunScores]:
    """One run per seed of a synthetic method."""
    return [_run(s, shift=shift, noise=noise, **kw) for s in seeds]


def _results(run: RunScores, rule: str = "source_val") -> dict:
    """A results.json-like dict holding the run's scores."""
    return {
        "run": run.run,
        "provenance": {"config": {"seed": run.seed}, "seed": run.seed},
        "scores": {rule: {"video_ids": run.video_ids.tolist(), "labels": run.labels.tolist(),
                          "scores": run.scores.tolist(),
                          "source_threshold": run.source_threshold}},
    }


# --- reading stored scores -------------------------------------------------------------------

def test_run_scores_round_trip():
    r = _run(3)
    back = run_scores(_results(r))
    assert back.seed == 3 and back.run == r.run and back.source_threshold == 0.5
    np.testing.assert_array_equal(back.scores, r.scores)
    np.testing.assert_array_equal(back.labels, r.labels)
    assert list(back.video_ids) == list(r.video_ids)
    assert not back.scores.flags.writeable


def test_run_scores_without_source_threshold():
    res = _results(_run(0))
    res["scores"]["source_val"]["source_threshold"] = None
    assert run_scores(res).source_threshold is None


@pytest.mark.parametrize("break_it, message", [
    (lambda d: d.pop("scores"), "no stored target scores"),
    (lambda d: d["scores"].__setitem__("last", d["scores"].pop("source_val")),
     r"no scores for selection rule 'source_val'; stored rules: \['last'\]"),
    (lambda d: d["scores"]["source_val"].pop("labels"), "lacks"),
    (lambda d: d["scores"]["source_val"]["scores"].pop(), "length mismatch"),
    (lambda d: d["scores"]["source_val"]["video_ids"].pop(), "video_ids"),
    (lambda d: d["scores"]["source_val"]["labels"].__setitem__(0, 2), "must be 1"),
    (lambda d: d["scores"]["source_val"]["scores"].__setitem__(5, float("nan")), "NaN"),
    (lambda d: d["scores"]["source_val"]["scores"].__setitem__(5, float("inf")), "NaN/inf"),
    (lambda d: d["scores"]["source_val"].__setitem__("labels", [1] * 120), "single-class"),
    (lambda d: d["scores"]["source_val"]["video_ids"].__setitem__(1, "vid0000"), "duplicate"),
    (lambda d: d["scores"]["source_val"].__setitem__("source_threshold", float("nan")),
     "source_threshold"),
    (lambda d: d.__setitem__("provenance", {}), "no seed"),
])
def test_run_scores_malformed_names_the_run(break_it, message):
    res = _results(_run(0, name="proto-x_erm_s0"))
    break_it(res)
    with pytest.raises(ValueError, match=message) as err:
        run_scores(res)
    assert "proto-x_erm_s0" in str(err.value)


# --- metrics on resamples --------------------------------------------------------------------

@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("case", range(6))
def test_identity_resample_agrees_with_metrics_module(case, ties):
    r = _run(case, n=[7, 20, 55, 120, 201, 33][case], ties=ties, threshold=0.4 + 0.05 * case)
    s, y = r.scores, r.labels
    expected = {"auc": auc(s, y), "hter_target_eer": hter(s, y, eer(s, y)[1]),
                "hter_source": hter(s, y, r.source_threshold)}
    identity = np.arange(len(s))[None, :]
    for name in NAMES:
        assert metric_value(r, name) == pytest.approx(expected[name], abs=1e-12)
        assert resample_values(r, name, identity)[0] == pytest.approx(expected[name], abs=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_vectorised_resamples_agree_with_metrics_module(ties):
    r = _run(11, n=40, ties=ties)
    rng = np.random.default_rng(5)
    idx = rng.integers(0, len(r.labels), (60, len(r.labels)))
    idx = idx[[0 < r.labels[row].sum() < len(row) for row in idx]]
    for name in NAMES:
        fast = resample_values(r, name, idx)
        slow = np.array([metric_value(r, name, row) for row in idx])
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_chunked_resamples_equal_unchunked(monkeypatch):
    import mpfas_lib.evaluation.stats as stats

    r = _run(2, n=30)
    rng = np.random.default_rng(1)
    gen, spoof = np.flatnonzero(r.labels == 1), np.flatnonzero(r.labels == 0)
    idx = np.concatenate([gen[rng.integers(0, len(gen), (25, len(gen)))],
                          spoof[rng.integers(0, len(spoof), (25, len(spoof)))]], axis=1)
    whole = {name: resample_values(r, name, idx) for name in NAMES}
    monkeypatch.setattr(stats, "_CHUNK", 70)  # two rows per chunk
    for name in NAMES:
        np.testing.assert_array_equal(resample_values(r, name, idx), whole[name])


def test_single_class_resample_refused():
    r = _run(0, name="one-class-check")
    genuine_only = np.flatnonzero(r.labels == 1)[None, :]
    with pytest.raises(ValueError, match="one-class-check"):
        resample_values(r, "auc", genuine_only)
    with pytest.raises(ValueError, match="one-class-check"):
        metric_value(r, "auc", genuine_only[0])


def test_hter_source_refused_without_threshold():
    r = _run(0, threshold=None, name="no-val-run")
    with pytest.raises(ValueError, match="no-val-run.*no source threshold"):
        metric_value(r, "hter_source")
    with pytest.raises(ValueError, match="no source threshold"):
        seed_summary([r], "hter_source", n_boot=10)
    assert math.isfinite(metric_value(r, "hter_target_eer"))


def test_unknown_metric_refused():
    with pytest.raises(ValueError, match="unknown metric"):
        metric_value(_run(0), "eer")


# --- seed summary ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_summary_ci_contains_estimate(name):
    runs = _group(0.0, noise=0)
    s = seed_summary(runs, name, n_boot=N_BOOT)
    values = [metric_value(r, name) for r in runs]
    assert s["values"] == values
    assert s["mean"] == pytest.approx(np.mean(values))
    assert s["std"] == pytest.approx(np.std(values, ddof=1))
    assert s["n_seeds"] == 3 and s["seeds"] == [0, 1, 2]
    assert s["ci_low"] <= s["mean"] <= s["ci_high"]
    assert s["ci_low"] < s["ci_high"]


def test_summary_single_seed_has_zero_std():
    s = seed_summary([_run(4)], "auc", n_boot=N_BOOT)
    assert s["std"] == 0.0 and s["n_seeds"] == 1
    assert s["ci_low"] <= s["mean"] <= s["ci_high"]


@pytest.mark.parametrize("name", NAMES)
def test_summary_ci_narrows_with_more_videos(name):
    small = seed_summary(_group(0.0, 0, n=40), name, n_boot=N_BOOT)
    large = seed_summary(_group(0.0, 0, n=1000), name, n_boot=N_BOOT)
    assert large["ci_high"] - large["ci_low"] < 0.6 * (small["ci_high"] - small["ci_low"])


def test_summary_deterministic_and_order_free():
    runs = _group(0.0, 0)
    a = seed_summary(runs, "hter_target_eer", n_boot=N_BOOT, seed=7)
    b = seed_summary(runs[::-1], "hter_target_eer", n_boot=N_BOOT, seed=7)
    c = seed_summary(runs, "hter_target_eer", n_boot=N_BOOT, seed=8)
    assert a == b
    assert (a["ci_low"], a["ci_high"]) != (c["ci_low"], c["ci_high"])


def test_summary_refuses_duplicate_seed_and_bad_arguments():
    with pytest.raises(ValueError, match="share seed 0"):
        seed_summary([_run(0, name="first"), _run(0, noise=1, name="second")], "auc")
    with pytest.raises(ValueError, match="no runs"):
        seed_summary([], "auc")
    with pytest.raises(ValueError, match="level"):
        seed_summary([_run(0)], "auc", level=95)
    with pytest.raises(ValueError, match="n_boot"):
        seed_summary([_run(0)], "auc", n_boot=0)


# --- paired differences ----------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_paired_difference_with_itself_is_zero(name):
    runs = _group(0.0, 0)
    d = paired_difference(runs, runs, name, n_boot=N_BOOT)
    assert d["diff"] == 0.0 and d["diffs"] == [0.0, 0.0, 0.0]
    assert d["ci_low"] == 0.0 and d["ci_high"] == 0.0
    assert d["verdict"] == "not distinguishable"


@pytest.mark.parametrize("name", NAMES)
def test_clearly_better_method_wins_in_the_metric_direction(name):
    good, bad = _group(1.0, noise=1), _group(0.0, noise=2)
    d = paired_difference(good, bad, name, n_boot=N_BOOT)
    assert d["verdict"] == "better"
    if LOWER_IS_BETTER[name]:
        assert d["diff"] < 0 and d["ci_high"] < 0
    else:
        assert d["diff"] > 0 and d["ci_low"] > 0
    assert d["diff"] == pytest.approx(d["mean_a"] - d["mean_b"])
    reverse = paired_difference(bad, good, name, n_boot=N_BOOT)
    assert reverse["verdict"] == "worse"
    assert reverse["diff"] == pytest.approx(-d["diff"])


def test_similar_methods_are_not_distinguishable():
    d = paired_difference(_group(0.0, noise=1), _group(0.0, noise=2), "hter_target_eer",
                          n_boot=N_BOOT)
    assert d["verdict"] == "not distinguishable"
    assert d["ci_low"] < 0 < d["ci_high"]


def test_paired_difference_deterministic():
    a, b = _group(0.3, 1), _group(0.0, 2)
    first = paired_difference(a, b, "auc", n_boot=N_BOOT, seed=3)
    assert first == paired_difference(a, b, "auc", n_boot=N_BOOT, seed=3)
    assert first != paired_difference(a, b, "auc", n_boot=N_BOOT, seed=4)


def test_paired_difference_aligns_video_order():
    a, b = _group(0.5, 1), _group(0.0, 2)
    perm = np.random.default_rng(0).permutation(len(b[0].labels))
    shuffled = [RunScores(r.video_ids[perm], r.labels[perm], r.scores[perm],
                          r.source_threshold, r.seed, r.run) for r in b]
    for name in NAMES:
        assert (paired_difference(a, b, name, n_boot=50)
                == paired_difference(a, shuffled, name, n_boot=50))


def test_paired_difference_refuses_different_seeds():
    a = _group(0.0, 1, seeds=(0, 1, 2))
    b = _group(0.0, 2, seeds=(0, 1, 5))
    with pytest.raises(ValueError, match=r"different seeds.*only in first: \[2\]"):
        paired_difference(a, b, "auc")


def test_paired_difference_refuses_different_videos_naming_runs():
    a = [_run(0, name="mp-seed0")]
    other = _run(0, noise=2)
    ids = other.video_ids.copy()
    ids[3] = "elsewhere"
    b = [RunScores(ids, other.labels, other.scores, 0.5, 0, "erm-seed0")]
    with pytest.raises(ValueError, match="'mp-seed0' and 'erm-seed0'.*different target videos"):
        paired_difference(a, b, "auc")
    flipped = other.labels.copy()
    flipped[[0, -1]] = flipped[[-1, 0]]
    c = [RunScores(other.video_ids, flipped, other.scores, 0.5, 0, "erm-seed0")]
    with pytest.raises(ValueError, match="erm-seed0.*different labels"):
        paired_difference(a, c, "auc")


def test_verdict_text():
    d = {"metric": "hter_source", "diff": -3.14, "ci_low": -5.02, "ci_high": -1.2,
         "level": 0.95, "n_seeds": 3, "verdict": "better"}
    assert verdict_text(d, "MP", "ERM") == (
        "MP is better than ERM on HTER at the source threshold "
        "(\u22123.1 points, 95 % CI \u22125.0 to \u22121.2; 3 paired seeds)")
    d.update(metric="auc", diff=-0.01, ci_low=-0.5, ci_high=0.4, n_seeds=1,
             verdict="not distinguishable")
    assert verdict_text(d, "MP", "ERM") == (
        "MP and ERM are not distinguishable on AUC (0.0 points, 95 % CI \u22120.5 to 0.4; "
        "1 paired seed)")


# --- comparison table ------------------------------------------------------------------------

def test_compare_table_rows():
    groups = {"erm": _group(0.0, 2), "mp": _group(1.0, 1)}
    rows = compare_table(groups, reference="erm", n_boot=100)
    assert [(r["method"], r["metric"]) for r in rows] == [
        (m, n) for m in ("erm", "mp") for n in NAMES]
    for r in rows:
        assert r["ci_low"] <= r["mean"] <= r["ci_high"]
        if r["method"] == "erm":
            assert r["verdict"] == "reference" and math.isnan(r["diff"])
        else:
            assert r["verdict"] == "better"
            summary = paired_difference(groups["mp"], groups["erm"], r["metric"], n_boot=100)
            assert r["diff"] == summary["diff"] and r["diff_ci_low"] == summary["ci_low"]


def test_compare_table_without_source_threshold_gives_nan_and_note():
    groups = {"erm": _group(0.0, 2, threshold=None), "mp": _group(1.0, 1, threshold=None)}
    rows = compare_table(groups, reference="erm", n_boot=50)
    src = [r for r in rows if r["metric"] == "hter_source"]
    assert all(math.isnan(r["mean"]) and "no source threshold" in r["note"] for r in src)
    assert all(r["note"] == "" and math.isfinite(r["mean"])
               for r in rows if r["metric"] != "hter_source")


def test_compare_table_refuses_unknown_reference_and_unpaired_groups():
    with pytest.raises(ValueError, match="reference"):
        compare_table({"mp": _group(0.0, 1)}, reference="erm")
    with pytest.raises(ValueError, match="different seeds"):
        compare_table({"erm": _group(0.0, 2), "mp": _group(1.0, 1, seeds=(0, 1))},
                      reference="erm", n_boot=20)
