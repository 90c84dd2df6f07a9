"""Tests of mpfas_lib.evaluation.metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from mpfas_lib.evaluation.metrics import (
    auc,
    bpcer_at_apcer,
    det,
    eer,
    hter,
    iso_metrics,
    min_hter,
    pad_metrics,
    roc,
    threshold_at_eer,
    video_scores,
)

SEEDS = list(range(12))


def _random_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random scores/labels; odd seeds have heavy ties (few distinct score values)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1  # both classes present
    s = rng.random(n) * 0.6 + 0.4 * y  # overlapping classes
    if seed % 2:
        s = np.round(s, 1)  # many equal scores
    return s, y


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_matches_sklearn(seed: int) -> None:
    s, y = _random_case(seed)
    fpr, tpr, thr = roc(s, y)
    ref_fpr, ref_tpr, ref_thr = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    assert np.isinf(thr[0]) and thr[0] > 0
    np.testing.assert_allclose(thr[1:], ref_thr[1:])


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_matches_sklearn(seed: int) -> None:
    s, y = _random_case(seed)
    assert auc(s, y) == pytest.approx(100 * roc_auc_score(y, s), abs=1e-9)


def test_auc_hand_made_with_ties() -> None:
    # all scores equal: the ROC is the diagonal
    assert auc([0.3] * 6, [1, 0, 1, 0, 1, 0]) == pytest.approx(50.0)
    # one genuine/spoof pair tied, the other three pairs correctly ordered: (3 + 0.5) / 4
    assert auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(87.5)
    assert auc([0.1, 0.9], [1, 0]) == pytest.approx(0.0)


def test_inputs_list_numpy_torch_agree() -> None:
    s, y = _random_case(3)
    ref = auc(s, y)
    assert auc(s.tolist(), y.tolist()) == pytest.approx(ref)
    assert auc(torch.tensor(s, dtype=torch.float32), torch.tensor(y)) == pytest.approx(ref)
    assert auc(torch.tensor(s).reshape(-1, 1), y.astype(bool)) == pytest.approx(ref)


def test_eer_exact_vertex() -> None:
    # sorted: .9g .8g .7s .6g .4s .3g .2s .1s -> at threshold 0.6, FAR = FRR = 1/4
    s = [0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1]
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    value, thr = eer(s, y)
    assert value == pytest.approx(25.0)
    assert thr == pytest.approx(0.6)
    assert hter(s, y, thr) == pytest.approx(25.0)


def test_eer_interpolated_between_vertices() -> None:
    # genuine .9 .8 .3, spoof .5 .1. ROC vertices (FAR, FRR): (0, 1/3) at thr .8 and
    # (1/2, 1/3) at thr .5; FRR stays 1/3 along that segment, so the EER is 1/3.
    s = [0.9, 0.8, 0.3, 0.5, 0.1]
    y = [1, 1, 1, 0, 0]
    value, thr = eer(s, y)
    assert value == pytest.approx(100 / 3)
    # |FAR - FRR| is 1/3 at .8 and 1/6 at .5: the threshold is .5 (the field's criterion)
    assert thr == pytest.approx(0.5)
    assert hter(s, y, thr) == pytest.approx((50 + 100 / 3) / 2)
    # the oracle minimum HTER is elsewhere: threshold .8, (0 + 1/3) / 2
    h, t = min_hter(s, y)
    assert h == pytest.approx(100 / 6)
    assert t == pytest.approx(0.8)


def test_eer_separable_and_all_tied() -> None:
    assert eer([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])[0] == pytest.approx(0.0)
    value, thr = eer([0.4, 0.4, 0.4, 0.4], [1, 0, 1, 0])
    assert value == pytest.approx(50.0)
    assert thr == pytest.approx(0.4)  # never +inf
    assert eer([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])[0] == pytest.approx(100.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_eer_properties_on_sklearn_roc(seed: int) -> None:
    s, y = _random_case(seed)
    fpr, tpr, thr_ref = roc_curve(y, s, drop_intermediate=False)
    fnr = 1 - tpr
    value, thr = eer(s, y)
    # the FAR = FRR crossing lies between min and max of (FAR, FRR) at every ROC vertex
    assert np.max(np.minimum(fpr, fnr)) * 100 - 1e-9 <= value
    assert value <= np.min(np.maximum(fpr, fnr)) * 100 + 1e-9
    # the threshold is the finite vertex with the smallest |FAR - FRR|
    finite = np.isfinite(thr_ref)
    best = np.min(np.abs(fpr - fnr)[finite])
    k = int(np.flatnonzero(thr_ref == thr)[0])
    assert abs(fpr[k] - fnr[k]) == pytest.approx(best)
    assert threshold_at_eer(s, y) == thr


def test_hter_by_hand_and_boundary_convention() -> None:
    s = [0.9, 0.6, 0.4, 0.7, 0.2, 0.1]
    y = [1, 1, 1, 0, 0, 0]
    assert hter(s, y, 0.5) == pytest.approx(100 / 3)  # FRR 1/3 (0.4), FAR 1/3 (0.7)
    assert hter(s, y, 0.65) == pytest.approx(50.0)  # FRR 2/3, FAR 1/3
    assert hter(s, y, 0.0) == pytest.approx(50.0)  # accept all: FAR 1, FRR 0
    # a score equal to the threshold is accepted as genuine
    assert hter([0.5, 0.2], [1, 0], 0.5) == pytest.approx(0.0)
    assert hter([0.5, 0.2], [1, 0], 0.5 + 1e-9) == pytest.approx(50.0)


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_hter_matches_confusion_matrix(seed: int) -> None:
    s, y = _random_case(seed)
    for t in (0.3, 0.5, 0.7):
        tn, fp, fn, tp = confusion_matrix(y, (s >= t).astype(int), labels=[0, 1]).ravel()
        expected = (fp / (fp + tn) + fn / (fn + tp)) / 2 * 100
        assert hter(s, y, t) == pytest.approx(expected)


def test_min_hter_is_minimum_over_thresholds() -> None:
    s, y = _random_case(5)
    h, t = min_hter(s, y)
    grid = [hter(s, y, u) for u in np.unique(s)]
    assert h == pytest.approx(min(grid))
    assert hter(s, y, t) == pytest.approx(h)


def test_iso_metrics_by_hand() -> None:
    genuine = [0.9, 0.4]
    printed = [0.6, 0.2]
    replay = [0.7, 0.8, 0.1, 0.55]
    s = genuine + printed + replay
    y = [1, 1] + [0] * 6
    attack = ["bona fide"] * 2 + ["print"] * 2 + ["replay"] * 4
    out = iso_metrics(s, y, 0.5)
    assert out["apcer"] == pytest.approx(400 / 6)  # 4 of 6 attacks accepted
    assert out["bpcer"] == pytest.approx(50.0)  # 0.4 rejected
    assert out["acer"] == pytest.approx((400 / 6 + 50) / 2)
    typed = iso_metrics(s, y, 0.5, attack_types=attack)
    assert typed["apcer_per_attack"] == pytest.approx({"print": 50.0, "replay": 75.0})
    assert typed["apcer"] == pytest.approx(75.0)  # the worst attack type
    assert typed["acer"] == pytest.approx(62.5)


def test_bpcer_at_apcer_by_hand() -> None:
    genuine = [0.9, 0.4, 0.65, 0.3]
    printed = [0.6, 0.2]
    replay = [0.7, 0.8, 0.1, 0.55]
    s = genuine + printed + replay
    y = [1] * 4 + [0] * 6
    attack = ["bona fide"] * 4 + ["print"] * 2 + ["replay"] * 4
    # pooled APCER <= 1/6 first at t just above 0.7 (only 0.8 accepted): t = 0.8, BPCER 3/4
    assert bpcer_at_apcer(s, y, 100 / 6) == pytest.approx((75.0, 0.8))
    # worst species APCER <= 25 %: replay accepts only 0.8 at t = 0.8 -> same point
    assert bpcer_at_apcer(s, y, 25.0, attack_types=attack) == pytest.approx((75.0, 0.8))
    # APCER <= 50 % pooled: t = 0.6 accepts 0.6, 0.7, 0.8 (3/6); genuine 0.4, 0.3 rejected
    assert bpcer_at_apcer(s, y, 50.0) == pytest.approx((50.0, 0.6))
    # worst species <= 50 %: t = 0.6 gives print 1/2, replay 2/4 -> admissible
    assert bpcer_at_apcer(s, y, 50.0, attack_types=attack)[1] == pytest.approx(0.6)
    assert bpcer_at_apcer(s, y, 0.0) == pytest.approx((75.0, 0.9))  # no spoof reaches 0.9
    with pytest.raises(ValueError, match="apcer must be a percentage"):
        bpcer_at_apcer(s, y, 120)


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_det_is_the_roc_in_error_rates(seed: int) -> None:
    s, y = _random_case(seed)
    apcer, bpcer = det(s, y)
    for t, a, b in zip(np.r_[np.unique(s), np.inf], apcer, bpcer, strict=True):
        assert a == pytest.approx(float((s[y == 0] >= t).mean() * 100))
        assert b == pytest.approx(float((s[y == 1] < t).mean() * 100))
    assert np.all(np.diff(apcer) <= 0) and np.all(np.diff(bpcer) >= 0)
    with pytest.raises(ValueError, match="length mismatch"):
        det(s, y, attack_types=["print"])


def test_video_scores() -> None:
    s = [0.2, 0.4, 0.9, 0.7, 0.8, 0.1]
    y = [0, 0, 1, 1, 1, 0]
    ids = ["b", "b", "a", "a", "a", "c"]
    vs, vy, vid = video_scores(s, y, ids)
    assert vid == ["b", "a", "c"]  # first-seen order
    np.testing.assert_allclose(vs, [0.3, 0.8, 0.1])
    np.testing.assert_array_equal(vy, [0, 1, 0])
    vs2, _, vid2 = video_scores(torch.tensor(s), torch.tensor(y), torch.tensor([2, 2, 1, 1, 1, 3]))
    assert vid2 == ["2", "1", "3"]
    np.testing.assert_allclose(vs2, vs)


def test_video_scores_mixed_labels_error() -> None:
    with pytest.raises(ValueError, match="'v1'.*mix genuine and spoof"):
        video_scores([0.1, 0.2, 0.3], [1, 0, 0], ["v1", "v1", "v2"])


def test_pad_metrics_video_level_and_thresholds() -> None:
    rng = np.random.default_rng(0)
    n_videos, frames = 20, 3
    y_video = np.arange(n_videos) % 2
    y = np.repeat(y_video, frames)
    s = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.2, len(y)), 0, 1)
    ids = [f"v{k}" for k in np.repeat(np.arange(n_videos), frames)]
    out = pad_metrics(s, y, video_ids=ids, source_threshold=0.6)
    vs, vy, _ = video_scores(s, y, ids)
    e, t = eer(vs, vy)
    assert out["level"] == "video" and out["n_samples"] == n_videos
    assert out["n_genuine"] == 10 and out["n_spoof"] == 10
    assert out["auc"] == pytest.approx(100 * roc_auc_score(vy, vs))
    assert out["eer"] == pytest.approx(e)
    assert out["threshold_target_eer"] == pytest.approx(t)
    assert out["hter_target_eer"] == pytest.approx(hter(vs, vy, t))
    assert out["hter_source"] == pytest.approx(hter(vs, vy, 0.6))
    assert out["hter_0.5"] == pytest.approx(hter(vs, vy, 0.5))
    assert out["hter_min"] <= out["hter_target_eer"] + 1e-9
    assert out["iso_threshold"] == "source"
    assert out["acer"] == pytest.approx(out["hter_source"])  # no attack types: ACER = HTER
    frame = pad_metrics(s, y, video_ids=ids, level="frame")
    assert frame["level"] == "frame" and frame["n_samples"] == len(y)
    assert "hter_source" not in frame and frame["iso_threshold"] == "0.5"
    assert frame["acer"] == pytest.approx(frame["hter_0.5"])
    assert pad_metrics(s, y)["auc"] == pytest.approx(frame["auc"])


def test_source_threshold_from_source_validation() -> None:
    rng = np.random.default_rng(1)
    y = np.arange(40) % 2
    src = 0.3 + 0.4 * y + rng.normal(0, 0.1, 40)
    tgt = 0.2 + 0.3 * y + rng.normal(0, 0.15, 40)
    t = threshold_at_eer(src, y)
    out = pad_metrics(tgt, y, source_threshold=t)
    assert out["source_threshold"] == t
    assert out["hter_source"] == pytest.approx(hter(tgt, y, t))


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2, 0.3], [1, 1, 1], "single-class input: all 3 labels are genuine"),
        ([0.1, 0.2], [0, 0], "single-class input: all 2 labels are spoof"),
        ([], [], "empty input"),
        ([0.1, float("nan")], [1, 0], "NaN/inf"),
        ([0.1, 0.2, 0.3], [1, 0], "length mismatch: 3 scores but 2 labels"),
        ([0.1, 0.2], [1, 2], "must be 1 .genuine. or 0 .spoof."),
        (np.zeros((2, 2)), [1, 0], "expected a 1-D sequence"),
    ],
)
def test_bad_inputs_raise_clear_errors(scores: object, labels: object, message: str) -> None:
    for fn in (auc, eer, roc, min_hter, pad_metrics, lambda s, y: hter(s, y, 0.5)):
        with pytest.raises(ValueError, match=message):
            fn(scores, labels)


def test_bad_level_and_threshold() -> None:
    with pytest.raises(ValueError, match="level must be"):
        pad_metrics([0.1, 0.9], [0, 1], level="clip")
    with pytest.raises(ValueError, match="threshold is NaN"):
        hter([0.1, 0.9], [0, 1], float("nan"))
    with pytest.raises(ValueError, match="length mismatch: 2 scores but 3 video_ids"):
        video_scores([0.1, 0.9], [0, 1], ["a", "b", "c"])
