"""Anti-spoofing metrics: ROC, AUC, EER, HTER, ISO/IEC 30107-3 (paper Sec. IV-A, REFERENCE 5).

Conventions used throughout:

- ``scores`` are probabilities of *genuine* (higher = more genuine, paper Eq. 11);
- ``labels`` are 1 for genuine (bona fide) and 0 for spoof (attack);
- a sample is *accepted* as genuine iff ``score >= threshold``;
- FAR (false acceptance rate) = spoof samples accepted / spoof samples = FPR, pooled over
  attack types (ISO/IEC 30107-3's APCER is the same ratio per PAI species);
- FRR (false rejection rate) = genuine samples rejected / genuine samples = 1 - TPR (the
  BPCER of ISO/IEC 30107-3);
- every returned rate is in percent (AUC included); thresholds stay on the score scale.

Inputs may be numpy arrays, Python lists or torch tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_scores_labels",
    "auc",
    "bpcer_at_apcer",
    "det",
    "eer",
    "hter",
    "iso_metrics",
    "min_hter",
    "pad_metrics",
    "roc",
    "threshold_at_eer",
    "video_scores",
]


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Convert a list, numpy array or torch tensor to a 1-D numpy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name}: cannot be read as a 1-D array ({exc})") from exc
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got shape {arr.shape}")
    return arr


def as_scores_labels(
    scores: Any, labels: Any, need_both_classes: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert (scores, labels) to float64 / int64 numpy arrays."""
    s = _to_numpy(scores, "scores")
    y = _to_numpy(labels, "labels")
    if len(s) != len(y):
        raise ValueError(f"length mismatch: {len(s)} scores but {len(y)} labels")
    if len(s) == 0:
        raise ValueError("empty input: no scores given")
    try:
        s = s.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores: not numeric ({exc})") from exc
    if not np.all(np.isfinite(s)):
        bad = np.flatnonzero(~np.isfinite(s))
        raise ValueError(f"scores: {len(bad)} NaN/inf value(s), first at index {bad[0]}")
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"labels: not numeric ({exc}); use 1 = genuine, 0 = spoof") from exc
    if not np.all((yf == 0) | (yf == 1)):
        bad = sorted({v for v in yf[(yf != 0) & (yf != 1)].tolist()}, key=str)[:5]
        raise ValueError(f"labels: must be 1 (genuine) or 0 (spoof), found {bad}")
    y = yf.astype(np.int64)
    if need_both_classes:
        n_gen = int(y.sum())
        if n_gen == 0 or n_gen == len(y):
            only = "genuine (1)" if n_gen else "spoof (0)"
            raise ValueError(
                f"single-class input: all {len(y)} labels are {only}; "
                "AUC/EER/HTER need both genuine and spoof samples"
            )
    return s, y


def roc(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve (fpr, tpr, thresholds) as fractions, thresholds decreasing, first = +inf.

    Point i accepts every sample with ``score >= thresholds[i]``; the first point
    (threshold +inf) accepts nothing. Tied scores give a single point, so this equals
    ``sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)``.
    """
    s, y = as_scores_labels(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # last index of each run of equal scores = one ROC vertex per distinct score
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (len(y) - y.sum())]
    thresholds = np.r_[np.inf, s_sorted[last]]
    return fpr, tpr, thresholds


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve in percent (ties count one half, trapezoidal rule) (chapter 07)."""
    fpr, tpr, _ = roc(scores, labels)
    return float(np.trapezoid(tpr, fpr) * 100.0)


def eer(scores: Any, labels: Any) -> tuple[float, float]:
    """Equal error rate in percent and the threshold that comes closest to it (chapter 07).

    The EER is where FAR = FRR on the ROC curve, linearly interpolated between the two
    ROC vertices that bracket the crossing (FAR - FRR changes sign there). Only ROC
    vertices are achievable operating points, so the returned threshold is that of the
    bracketing vertex with the smaller |FAR - FRR| (a finite one on ties): the HTER at
    this threshold is therefore the achievable operating point nearest the EER.
    """
    fpr, tpr, thr = roc(scores, labels)
    fnr = 1.0 - tpr
    d = fpr - fnr  # -1 at the first vertex (accept nothing), +1 at the last (accept all)
    j = int(np.flatnonzero(d >= 0)[0])  # exists: d[-1] == 1
    if d[j] == 0:
        value = fpr[j]
    else:
        i = j - 1  # d[i] < 0 < d[j]
        alpha = d[i] / (d[i] - d[j])
        value = fpr[i] + alpha * (fpr[j] - fpr[i])
        if abs(d[i]) < abs(d[j]) and np.isfinite(thr[i]):
            j = i
    return float(value * 100.0), float(thr[j])


def threshold_at_eer(scores: Any, labels: Any, video_ids: Any = None) -> float:
    """Threshold at the EER of (source-validation) data, optionally after video averaging
    (chapter 07)."""
    if video_ids is not None:
        scores, labels, _ = video_scores(scores, labels, video_ids)
    return eer(scores, labels)[1]


def _far_frr(s: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """FAR and FRR (fractions) when genuine is accepted iff score >= threshold."""
    accepted = s >= threshold
    far = float(accepted[y == 0].mean())
    frr = float((~accepted[y == 1]).mean())
    return far, frr


def _check_threshold(threshold: Any) -> float:
    """Return the threshold as a float, refusing NaN."""
    t = float(threshold)
    if np.isnan(t):
        raise ValueError("threshold is NaN")
    return t


def hter(scores: Any, labels: Any, threshold: float) -> float:
    """Half total error rate (FAR + FRR) / 2 in percent; genuine accepted iff score >= threshold
    (chapter 07)."""
    s, y = as_scores_labels(scores, labels)
    far, frr = _far_frr(s, y, _check_threshold(threshold))
    return (far + frr) / 2.0 * 100.0


def min_hter(scores: Any, labels: Any) -> tuple[float, float]:
    """Lowest HTER (percent) over all thresholds and the threshold reaching it (an oracle)
    (chapter 07)."""
    fpr, tpr, thr = roc(scores, labels)
    h = (fpr[1:] + (1.0 - tpr[1:])) / 2.0  # skip the +inf vertex (always 50 %)
    k = int(np.argmin(h))
    return float(h[k] * 100.0), float(thr[1:][k])


def iso_metrics(
    scores: Any, labels: Any, threshold: float, attack_types: Any = None
) -> dict[str, Any]:
    """ISO/IEC 30107-3 APCER, BPCER and ACER in percent at a fixed threshold (chapter 07).

    APCER = spoof samples accepted (score >= threshold) / spoof samples; BPCER = genuine
    samples rejected / genuine samples; ACER = (APCER + BPCER) / 2 (the OULU-NPU protocol's
    summary, not defined by the published standard). With ``attack_types`` (one entry per
    sample, ignored for genuine samples) APCER is computed per attack type (PAI species) and
    the maximum is reported; the per-type values are returned under "apcer_per_attack".
    """
    s, y = as_scores_labels(scores, labels)
    t = _check_threshold(threshold)
    accepted = s >= t
    bpcer = float((~accepted[y == 1]).mean()) * 100.0
    out: dict[str, Any] = {}
    a = _attack_types(attack_types, len(s))
    if a is None:
        apcer = float(accepted[y == 0].mean()) * 100.0
    else:
        per = {
            str(k): float(accepted[(y == 0) & (a == k)].mean()) * 100.0
            for k in sorted(set(a[y == 0].tolist()), key=str)
        }
        apcer = max(per.values())
        out["apcer_per_attack"] = per
    return {"apcer": apcer, "bpcer": bpcer, "acer": (apcer + bpcer) / 2.0, **out}


def _attack_types(attack_types: Any, n: int) -> np.ndarray | None:
    """The PAI species of each of ``n`` samples as an array (None when not given)."""
    if attack_types is None:
        return None
    a = _to_numpy(attack_types, "attack_types")
    if len(a) != n:
        raise ValueError(f"length mismatch: {n} scores but {len(a)} attack_types")
    return a


def _apcer_curve(s: np.ndarray, y: np.ndarray, a: np.ndarray | None, thr: np.ndarray):
    """Worst-species APCER (fraction) at each threshold of ``thr`` (accept iff s >= t)."""
    spoof = s[y == 0]
    groups = [spoof] if a is None else [spoof[a[y == 0] == k] for k in set(a[y == 0].tolist())]
    worst = np.zeros(len(thr))
    for g in groups:
        g = np.sort(g)
        worst = np.maximum(worst, (len(g) - np.searchsorted(g, thr, side="left")) / len(g))
    return worst


def bpcer_at_apcer(
    scores: Any, labels: Any, apcer: float, attack_types: Any = None
) -> tuple[float, float]:
    """ISO/IEC 30107-3's BPCER at a fixed APCER: (BPCER %, threshold) (chapter 07).

    The threshold is the lowest one whose APCER (worst PAI species when ``attack_types`` is
    given) is at most ``apcer`` percent; e.g. ``apcer=5`` gives the usual "BPCER20".
    """
    s, y = as_scores_labels(scores, labels)
    if not 0 <= apcer <= 100:
        raise ValueError(f"apcer must be a percentage in [0, 100], got {apcer}")
    a = _attack_types(attack_types, len(s))
    thr = np.r_[np.unique(s), np.inf]
    ok = _apcer_curve(s, y, a, thr) <= apcer / 100.0 + 1e-12
    t = float(thr[np.argmax(ok)])  # thresholds ascend, so the first admissible is the lowest
    bpcer = float((s[y == 1] < t).mean()) * 100.0
    return bpcer, t


def det(scores: Any, labels: Any, attack_types: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """DET curve: (APCER, BPCER) in percent at every threshold (worst species if given)."""
    s, y = as_scores_labels(scores, labels)
    a = _attack_types(attack_types, len(s))
    thr = np.r_[np.unique(s), np.inf]
    bpcer = np.searchsorted(np.sort(s[y == 1]), thr, side="left") / (y == 1).sum()
    return _apcer_curve(s, y, a, thr) * 100.0, bpcer * 100.0


def video_scores(
    scores: Any, labels: Any, video_ids: Any
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Average frame scores per video; returns (scores, labels, ids) in first-seen order
    (chapter 07)."""
    s, y = as_scores_labels(scores, labels, need_both_classes=False)
    v = _to_numpy(video_ids, "video_ids")
    if len(v) != len(s):
        raise ValueError(f"length mismatch: {len(s)} scores but {len(v)} video_ids")
    ids = [str(x) for x in v.tolist()]
    uniq, first, inverse = np.unique(np.asarray(ids, dtype=object), return_index=True,
                                     return_inverse=True)
    sums = np.bincount(inverse, weights=s, minlength=len(uniq))
    counts = np.bincount(inverse, minlength=len(uniq))
    pos = np.bincount(inverse, weights=y, minlength=len(uniq))
    mixed = np.flatnonzero((pos > 0) & (pos < counts))
    if len(mixed):
        names = ", ".join(repr(str(uniq[k])) for k in mixed[:5])
        raise ValueError(f"video(s) {names} mix genuine and spoof frames; one label per video")
    order = np.argsort(first, kind="mergesort")
    return (
        (sums / counts)[order],
        (pos > 0).astype(np.int64)[order],
        [str(uniq[k]) for k in order],
    )


def pad_metrics(
    scores: Any,
    labels: Any,
    video_ids: Any = None,
    source_threshold: float | None = None,
    level: str = "video",
    attack_types: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """All metrics of one test set, every HTER named after its threshold (percent) (chapter 07).

    Keys: "auc", "eer", "threshold_target_eer" and "hter_target_eer" (threshold chosen at
    the EER of this very target set: the field's protocol, an oracle), "hter_min" and
    "threshold_min" (best threshold on the target, the authors' code; also an oracle),
    "hter_source" and "source_threshold" (threshold fixed beforehand on held-out source
    validation data: the honest number, only when ``source_threshold`` is given),
    "hter_0.5", "apcer", "bpcer", "acer" (at the source threshold when given, else 0.5;
    which one is named by "iso_threshold"), "level", "n_samples", "n_genuine", "n_spoof".
    With ``level="video"`` and ``video_ids`` the frame scores are first averaged per video;
    without ``video_ids`` the scores are used as given and the level is reported as "frame".
    ``attack_types`` (per sample, frame level only) adds a per-attack APCER.
    """
    if level not in ("video", "frame"):
        raise ValueError(f"level must be 'video' or 'frame', got {level!r}")
    if level == "video" and video_ids is not None:
        if attack_types is not None:
            raise ValueError("attack_types are only supported at frame level")
        scores, labels, _ = video_scores(scores, labels, video_ids)
    else:
        level = "frame"
    s, y = as_scores_labels(scores, labels)
    e, t_eer = eer(s, y)
    h_min, t_min = min_hter(s, y)
    out: dict[str, Any] = {
        "auc": auc(s, y),
        "eer": e,
        "threshold_target_eer": t_eer,
        "hter_target_eer": hter(s, y, t_eer),
        "hter_min": h_min,
        "threshold_min": t_min,
        "hter_0.5": hter(s, y, 0.5),
    }
    if source_threshold is not None:
        t_src = _check_threshold(source_threshold)
        out["source_threshold"] = t_src
        out["hter_source"] = hter(s, y, t_src)
        iso_t, iso_name = t_src, "source"
    else:
        iso_t, iso_name = 0.5, "0.5"
    out.update(iso_metrics(s, y, iso_t, attack_types))
    out["iso_threshold"] = iso_name
    out.update(level=level, n_samples=len(s), n_genuine=int(y.sum()), n_spoof=int((1 - y).sum()))
    return out


def source_val_metrics(scores: Any, labels: Any, video_ids: Sequence[str]) -> dict[str, float]:
    """Source-validation AUC/EER (video level), the criterion of ``source_val`` selection."""
    s, y, _ = video_scores(scores, labels, video_ids)
    return {"auc": auc(s, y), "eer": eer(s, y)[0]}
