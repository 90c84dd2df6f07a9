"""Tests of mpfas_lib.evaluation.stats on synthetic video-level scores (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpfas_lib.evaluation.metrics import auc, eer, hter, threshold_at_eer
from mpfas_lib.evaluation.stats import (
    LOWER_IS_BETTER,
    METRICS,
    RunScores,
    holm,
    metric_value,
    paired_difference,
    replicates,
    run_scores,
    seed_summary,
    subject_of,
    verdict_text,
    weighted_values,
)

NAMES = tuple(METRICS)
N_BOOT = 400


def _run(seed: int, shift: float = 0.0, n: int = 120, frac_gen: float = 0.3,
         noise: int = 0, threshold: float | None = 0.5, ties: bool = False,
         name: str | None = None, subjects: bool = False,
         source: RunScores | None = None) -> RunScores:
    """Synthetic run: logit scores N(+1 + shift, 1) for genuine and N(-1 - shift, 1) for spoof.

    ``subjects``: ids name a subject per five videos, as the synthetic benchmark's do;
    ``source``: a run whose videos become the source-validation set.
    """
    rng = np.random.default_rng([seed, noise, n])
    n_gen = max(1, round(n * frac_gen))
    y = np.r_[np.ones(n_gen, int), np.zeros(n - n_gen, int)]
    z = rng.normal(np.where(y == 1, 1.0 + shift, -1.0 - shift), 1.0)
    s = 1.0 / (1.0 + np.exp(-z))
    if ties:
        s = np.round(s, 1)
    ids = np.array([f"M/s{i % (n // 5):03d}/v{i}" if subjects else f"vid{i:04d}"
                    for i in range(n)])
    val = None if source is None else {"video_ids": [f"O/{v}" for v in source.video_ids],
                                       "labels": source.labels, "scores": source.scores}
    return RunScores(video_ids=ids, labels=y, scores=s, source_threshold=threshold, seed=seed,
                     run=name or f"synthetic-s{seed}-x{shift}-n{noise}", source_val=val)


def _group(shift: float, noise: int, seeds=(0, 1, 2), **kw) -> list[RunScores]:
    """One run per seed of a synthetic method."""
    return [_run(s, shift=shift, noise=noise, **kw) for s in seeds]


def _results(run: RunScores, rule: str = "source_val") -> dict:
    """A results.json-like dict holding the run's scores."""
    v = run.source_val
    source = {} if v is None else {"source_val": {"video_ids": v.ids.tolist(),
                                                  "labels": v.labels.tolist(),
                                                  "scores": v.scores.tolist()}}
    return {
        "run": run.run,
        "provenance": {"config": {"seed": run.seed}, "seed": run.seed},
        "scores": {rule: {"video_ids": run.video_ids.tolist(), "labels": run.labels.tolist(),
                          "scores": run.scores.tolist(),
                          "source_threshold": run.source_threshold, **source}},
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

def _weights(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of n videos appears in each row of an index matrix."""
    return np.stack([np.bincount(row, minlength=n) for row in np.atleast_2d(idx)])


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("case", range(6))
def test_unit_weights_agree_with_metrics_module(case, ties):
    r = _run(case, n=[7, 20, 55, 120, 201, 33][case], ties=ties, threshold=0.4 + 0.05 * case)
    s, y = r.scores, r.labels
    expected = {"auc": auc(s, y), "hter_target_eer": hter(s, y, eer(s, y)[1]),
                "hter_source": hter(s, y, r.source_threshold)}
    ones = np.ones((1, len(s)))
    for name in NAMES:
        assert metric_value(r, name) == pytest.approx(expected[name], abs=1e-12)
        assert weighted_values(r, name, ones)[0] == pytest.approx(expected[name], abs=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_resamples_agree_with_metrics_module(ties):
    r = _run(11, n=40, ties=ties)
    rng = np.random.default_rng(5)
    idx = rng.integers(0, len(r.labels), (60, len(r.labels)))
    idx = idx[[0 < r.labels[row].sum() < len(row) for row in idx]]
    for name in NAMES:
        fast = weighted_values(r, name, _weights(idx, len(r.labels)))
        slow = np.array([metric_value(r, name, row) for row in idx])
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_threshold_re_estimated_on_each_source_resample(ties):
    source = _run(21, n=50, ties=ties)
    r = _run(3, n=40, ties=ties, threshold=None, source=source)
    assert r.source_threshold == threshold_at_eer(source.scores, source.labels)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 40, (30, 40))
    src_idx = rng.integers(0, 50, (30, 50))
    keep = [0 < r.labels[a].sum() < 40 and 0 < source.labels[b].sum() < 50
            for a, b in zip(idx, src_idx, strict=True)]
    idx, src_idx = idx[keep], src_idx[keep]
    fast = weighted_values(r, "hter_source", _weights(idx, 40), _weights(src_idx, 50))
    slow = [hter(r.scores[a], r.labels[a],
                 threshold_at_eer(source.scores[b], source.labels[b]))
            for a, b in zip(idx, src_idx, strict=True)]
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
    fixed = weighted_values(r, "hter_source", _weights(idx, 40))
    np.testing.assert_allclose(fixed, [metric_value(r, "hter_source", a) for a in idx], atol=1e-9)


def test_single_class_resample_refused():
    r = _run(0, name="one-class-check")
    genuine_only = (r.labels == 1).astype(float)[None, :]
    with pytest.raises(ValueError, match="one-class-check"):
        weighted_values(r, "auc", genuine_only)
    with pytest.raises(ValueError, match="one-class-check"):
        metric_value(r, "auc", np.flatnonzero(r.labels == 1))
    with pytest.raises(ValueError, match=r"weights: expected shape \(replicates, 120\)"):
        weighted_values(r, "auc", np.ones((2, 7)))


@pytest.mark.parametrize("video_id, subject", [
    ("M/s042/v3-replay-ipad_air-android-l0", "M/42"),
    ("O/O/s010/v0-live-none-laptop-l0", "O/10"),
    ("I/test/attack/fixed/attack_highdef_client020_session01_highdef_photo_adverse", "I/20"),
    ("M/scene01/real/real_client001_android_SD_scene01", "M/1"),
    ("O/Test_files/1_2_36_4", "O/36"),
    ("C/test_release/3/HR_2", "C/3"),
    ("Y/test/_13/G_NT_HS_g_E_13_1", "Y/13"),
    ("vid0007", None),
])
def test_subject_of_reads_the_id_formats(video_id, subject):
    assert subject_of(video_id) == subject


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


# --- the design: shared draws, threshold, seeds -----------------------------------------------

def test_replicates_share_one_draw_across_seeds_and_methods():
    a, b = _group(0.5, 1, subjects=True), _group(0.0, 2, subjects=True)
    reps = replicates({"a": a, "b": b}, "auc", n_boot=300)
    assert reps.resampled == "subjects" and reps.threshold == "none"
    assert reps.boot["a"].shape == (3, 300) and reps.t.shape == (300,)
    # the same draw for every run: a method against itself differs by exactly 0
    same = replicates({"a": a, "again": a}, "auc", n_boot=300)
    np.testing.assert_array_equal(same.boot["a"], same.boot["again"])
    assert replicates({"a": _group(0.5, 1)}, "auc", n_boot=10).resampled == "videos"


def test_subjects_are_drawn_whole(monkeypatch):
    import mpfas_lib.evaluation.stats as stats

    seen = []
    real = stats._values

    def spy(run, name, w, sw):
        seen.append(w)
        return real(run, name, w, sw)

    monkeypatch.setattr(stats, "_values", spy)
    r = _run(0, n=60, subjects=True)
    replicates({"a": [r]}, "auc", n_boot=50)
    w = seen[0]  # (videos, replicates): the five videos of a subject always share a weight
    for subject in range(12):
        rows = [i for i, v in enumerate(r.video_ids) if v.startswith(f"M/s{subject:03d}/")]
        assert np.all(w[rows] == w[rows[0]])
    assert np.all(w.sum(axis=0) == 60)


def test_threshold_re_estimated_or_fixed_and_said_so():
    source = _run(9, n=80)
    fresh = [_run(s, threshold=None, source=source, subjects=True) for s in range(3)]
    old = [_run(s, threshold=fresh[s].source_threshold, subjects=True) for s in range(3)]
    new_s = seed_summary(fresh, "hter_source", n_boot=300)
    old_s = seed_summary(old, "hter_source", n_boot=300)
    assert new_s["threshold"] == "re-estimated"
    assert old_s["threshold"].startswith("fixed (no source-validation scores stored)")
    assert new_s["mean"] == old_s["mean"]  # the same point estimate, wider uncertainty
    assert seed_summary(fresh, "auc", n_boot=10)["threshold"] == "none"


def test_stored_threshold_must_match_source_scores():
    source = _run(9, n=80)
    with pytest.raises(ValueError, match="'bad-run'.*not the EER threshold"):
        _run(0, threshold=0.123, source=source, name="bad-run")
    res = _results(_run(0, threshold=None, source=source))
    assert run_scores(res).source_val is not None
    res["scores"]["source_val"]["source_val"]["labels"] = [1] * 80
    with pytest.raises(ValueError, match="source_val: malformed scores"):
        run_scores(res)


def test_seed_level_widens_with_seed_spread():
    calm = [_run(s, noise=0, n=200, subjects=True) for s in range(3)]
    shaky = [_run(s, shift=0.6 * (s - 1), noise=0, n=200, subjects=True) for s in range(3)]
    w_calm = seed_summary(calm, "auc", n_boot=2000)
    w_shaky = seed_summary(shaky, "auc", n_boot=2000)
    assert (w_shaky["ci_high"] - w_shaky["ci_low"]) > 2 * (w_calm["ci_high"] - w_calm["ci_low"])
    assert w_shaky["seed_level"] == "Student t"
    assert seed_summary(calm[:1], "auc", n_boot=100)["seed_level"] == "none (one seed)"


def test_chunked_replicates_equal_unchunked(monkeypatch):
    import mpfas_lib.evaluation.stats as stats

    source = _run(9, n=50)
    a = [_run(s, 0.4, noise=1, threshold=None, source=source, subjects=True) for s in range(3)]
    b = [_run(s, 0.0, noise=2, threshold=None, source=source, subjects=True) for s in range(3)]
    whole = paired_difference(a, b, "hter_source", n_boot=200)
    monkeypatch.setattr(stats, "_CHUNK", 500)  # a few replicates per chunk
    assert paired_difference(a, b, "hter_source", n_boot=200) == whole


# --- p-values, pooling, Holm -------------------------------------------------------------------

def test_p_value_agrees_with_the_interval():
    good, bad = _group(1.0, noise=1), _group(0.0, noise=2)
    clear = paired_difference(good, bad, "auc", n_boot=2000)
    assert clear["verdict"] == "better" and clear["p"] < 0.05
    assert clear["p"] >= 2 / 2001  # never 0: (count + 1) / (B + 1)
    unclear = paired_difference(_group(0.0, 1), _group(0.0, 2), "auc", n_boot=2000)
    assert unclear["verdict"] == "not distinguishable" and unclear["p"] > 0.05
    assert paired_difference(good, good, "auc", n_boot=50)["p"] == 1.0


def test_pooled_difference_is_the_mean_over_settings():
    settings_a = {"X": _group(1.0, 1), "Y": _group(0.2, 3)}
    settings_b = {"X": _group(0.0, 2), "Y": _group(0.0, 4)}
    pooled = paired_difference(settings_a, settings_b, "hter_target_eer", n_boot=500)
    each = [paired_difference(settings_a[k], settings_b[k], "hter_target_eer", n_boot=500)
            for k in ("X", "Y")]
    assert pooled["diff"] == pytest.approx(np.mean([e["diff"] for e in each]))
    assert pooled["diffs"] == pytest.approx([e["diff"] for e in each])
    assert pooled["settings"] == ["X", "Y"] and pooled["n_settings"] == 2
    assert pooled["ci_low"] < pooled["diff"] < pooled["ci_high"]
    with pytest.raises(ValueError, match="different settings"):
        paired_difference(settings_a, {"X": settings_b["X"]}, "auc")
    with pytest.raises(ValueError, match="settings for both"):
        paired_difference(settings_a, settings_b["X"], "auc")


def test_holm_adjusts_step_down():
    p = [0.01, 0.04, 0.03, np.nan, 0.5]
    adjusted = holm(p)
    # sorted 0.01, 0.03, 0.04, 0.5 over m = 4: 0.04, 0.09, 0.09 (monotone), 0.5
    np.testing.assert_allclose(adjusted[[0, 2, 1, 4]], [0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[3])
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]
    assert holm([]).size == 0 and np.isnan(holm([np.nan])).all()
