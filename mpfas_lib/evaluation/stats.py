"""Uncertainty of target metrics over training seeds, target subjects and the source threshold.

A number such as "HTER 12.3 %" from one protocol carries three sources of chance: the training
seed (initialisation, sampling order), the finite set of target subjects it was measured on,
and the finite source-validation set its threshold was chosen on. The design is *crossed*:
every seed and every method of a setting is scored on the same target videos and thresholded
on the same source-validation videos, so a hard video is hard for all of them. The interval
resamples what is independent, once per replicate, and shares the draw:

1. **Subjects** (Davison & Hinkley 1997, *Bootstrap Methods and their Application*, Sec. 3.8;
   Owen 2007, "The pigeonhole bootstrap", *Ann. Appl. Stat.*): the target subjects are drawn
   with replacement, stratified by the labels their videos carry, and the same draw weights
   the videos of every seed and every method. Where a video id does not name its subject
   (:func:`subject_of`), each video is its own cluster.
2. **Threshold**: where the run stored its source-validation video scores, the source subjects
   are drawn the same way and the EER threshold is re-estimated on them in every replicate
   (:func:`mpfas_lib.evaluation.metrics.threshold_at_eer`, weighted); older results fall back
   to the stored threshold, held fixed, and every summary says which was done.
3. **Seeds**: with k seeds the seed-to-seed variance is known from k - 1 degrees of freedom
   only, so the seed level enters as Student's t (a bootstrap over three seeds has ten
   distinct draws and is far too narrow). The variance of the seed mean splits as
   ``Var = s^2 / k + C``: ``s^2`` is the sample variance of the per-seed values (it contains
   each seed's own video noise), ``C`` the part of the video variance that every seed shares,
   estimated by the covariance between different seeds' replicates under the shared draws.
   Replicate r is ``mean + lambda * (video deviation)_r + s / sqrt(k) * T_r`` with
   ``T_r ~ t(k - 1)`` and lambda scaling the video deviations of the seed mean to variance C.
   With one seed only the video level is resampled, and the output says so.

The interval is the percentile interval of the replicates (Efron & Tibshirani 1993, *An
Introduction to the Bootstrap*, Ch. 13), the p-value two-sided from the same replicates:
``2 min(P(R <= 0), P(R >= 0))``. A difference whose interval excludes 0 is "better" or "worse"
in the direction of the metric, otherwise "not distinguishable"; several such verdicts are
adjusted together by :func:`holm`. Two methods are compared *paired* (same seeds, same videos,
same draws); several settings are pooled as the mean of their differences, each setting with
its own independent draws (:func:`paired_difference` with one mapping per side).

Scores and labels follow :mod:`mpfas_lib.evaluation.metrics` (probability of genuine;
1 genuine, 0 spoof; rates in percent). Each run stores, per model-selection rule, in
``results["scores"][rule]``: ``video_ids``, ``labels``, ``scores``, ``source_threshold`` and
(since the threshold is re-estimated) ``source_val = {"video_ids", "labels", "scores"}``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mpfas_lib.evaluation.metrics import as_scores_labels, auc, eer, hter

__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "N_BOOT",
    "Replicates",
    "RunScores",
    "Videos",
    "difference_of",
    "holm",
    "metric_value",
    "paired_difference",
    "pooled_of",
    "replicates",
    "run_scores",
    "seed_summary",
    "subject_of",
    "summary_of",
    "verdict_text",
    "weighted_values",
]

#: Metric names and what they measure (all in percent).
METRICS = {
    "hter_source": "HTER at the source-validation EER threshold",
    "hter_target_eer": "HTER at the target EER threshold",
    "auc": "AUC",
}
#: Direction of each metric: True where a lower value is better.
LOWER_IS_BETTER = {"hter_source": True, "hter_target_eer": True, "auc": False}
#: Default number of bootstrap replicates.
N_BOOT = 10_000

_SHORT = {"hter_source": "HTER at the source threshold",
          "hter_target_eer": "HTER at the target EER threshold", "auc": "AUC"}
_CHUNK = 1 << 15  # replicate weights (videos x replicates) held at once: fits a CPU cache
#: How a video id names its subject: the synthetic benchmark, then the real datasets' layouts
#: (Replay-Attack and MSU-MFSD "client001", OULU-NPU "P_S_U_F", CASIA-FASD and ROSE-YOUTU
#: folders). The first segment of an id is its domain.
_SUBJECT_PATTERNS = (
    re.compile(r"/s(\d+)/v\d+"),
    re.compile(r"client(\d+)"),
    re.compile(r"/\d_\d_(\d+)_\d+$"),
    re.compile(r"_release/(\d+)/"),
    re.compile(r"/(?:train|test|dev|devel)/\D*(\d+)/"),
)


def subject_of(video_id: str) -> str | None:
    """The subject a video id names, as "<domain>/<subject>", or None when it names none."""
    for pattern in _SUBJECT_PATTERNS:
        found = pattern.search(video_id)
        if found:
            return f"{video_id.split('/', 1)[0]}/{int(found.group(1))}"
    return None


@dataclass(frozen=True, eq=False)
class Videos:
    """Video-level scores of one set (ids, labels, scores), validated and read-only."""

    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    where: str = "videos"

    def __post_init__(self) -> None:
        """Validate and freeze the arrays; every error names ``where``."""
        try:
            s, y = as_scores_labels(self.scores, self.labels)
        except ValueError as exc:
            raise ValueError(f"{self.where}: malformed scores: {exc}") from exc
        ids = np.asarray([str(v) for v in np.asarray(self.ids).reshape(-1).tolist()])
        if len(ids) != len(s):
            raise ValueError(f"{self.where}: {len(ids)} video_ids but {len(s)} scores")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"{self.where}: duplicate video_ids (expected one score per video)")
        for arr in (ids, s, y):
            arr.setflags(write=False)
        for field, value in (("ids", ids), ("scores", s), ("labels", y)):
            object.__setattr__(self, field, value)

    def ordered_as(self, ids: np.ndarray) -> Videos:
        """The same videos in the order of ``ids`` (the same set)."""
        where = {v: k for k, v in enumerate(self.ids.tolist())}
        order = np.array([where[v] for v in ids.tolist()], dtype=np.int64)
        return Videos(self.ids[order], self.labels[order], self.scores[order], self.where)


@dataclass(frozen=True, eq=False)
class RunScores:
    """Video-level target scores of one run's selected checkpoint (validated, read-only).

    ``source_val`` holds the source-validation video scores the threshold was chosen on
    (a :class:`Videos` or a mapping with "video_ids", "labels", "scores"), or None for
    results stored before they were kept: the threshold is then held fixed.
    """

    video_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    source_threshold: float | None
    seed: int
    run: str = "<unnamed run>"
    source_val: Any = None

    def __post_init__(self) -> None:
        """Validate and freeze the arrays; every error names the run."""
        where = f"run {self.run!r}"
        target = Videos(self.video_ids, self.labels, self.scores, f"{where}: target")
        source = self.source_val
        if source is not None and not isinstance(source, Videos):
            if not isinstance(source, Mapping):
                raise ValueError(f"{where}: source_val is not an object")
            missing = [k for k in ("video_ids", "labels", "scores") if k not in source]
            if missing:
                raise ValueError(f"{where}: source_val lacks {missing}")
            source = Videos(source["video_ids"], source["labels"], source["scores"],
                            f"{where}: source_val")
        t = self.source_threshold
        if t is not None:
            try:
                t = float(t)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: source_threshold {t!r} is not a number") from exc
            if not math.isfinite(t):
                raise ValueError(f"{where}: source_threshold is {t}")
        if source is not None:
            estimated = eer(source.scores, source.labels)[1]
            if t is not None and not math.isclose(t, estimated, rel_tol=0, abs_tol=1e-12):
                raise ValueError(f"{where}: source_threshold {t!r} is not the EER threshold "
                                 f"{estimated!r} of its source_val scores")
            t = estimated
        try:
            seed = int(self.seed)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: seed {self.seed!r} is not an integer") from exc
        for field, value in (("video_ids", target.ids), ("scores", target.scores),
                             ("labels", target.labels), ("source_threshold", t),
                             ("seed", seed), ("source_val", source)):
            object.__setattr__(self, field, value)

    @property
    def n_genuine(self) -> int:
        """Number of genuine target videos."""
        return int(self.labels.sum())

    @property
    def n_spoof(self) -> int:
        """Number of spoof target videos."""
        return int(len(self.labels) - self.labels.sum())


def run_scores(results: Mapping[str, Any], rule: str = "source_val") -> RunScores:
    """The stored video-level scores of one run (``results.json``) for one rule (chapter 08)."""
    name = str(results.get("run", "<unnamed run>"))
    where = f"run {name!r}"
    stored = results.get("scores")
    if not isinstance(stored, Mapping) or not stored:
        raise ValueError(f"{where}: no stored target scores (results['scores'] is missing); "
                         "it was trained before scores were saved, or it failed")
    if rule not in stored:
        raise ValueError(f"{where}: no scores for selection rule {rule!r}; "
                         f"stored rules: {sorted(stored)}")
    entry = stored[rule]
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: results['scores'][{rule!r}] is not an object")
    missing = [k for k in ("video_ids", "labels", "scores") if k not in entry]
    if missing:
        raise ValueError(f"{where}: results['scores'][{rule!r}] lacks {missing}")
    prov = results.get("provenance") or {}
    seed = (prov.get("config") or {}).get("seed", prov.get("seed"))
    if seed is None:
        raise ValueError(f"{where}: no seed in results['provenance']['config']")
    return RunScores(video_ids=np.asarray(entry["video_ids"]), labels=np.asarray(entry["labels"]),
                     scores=np.asarray(entry["scores"]),
                     source_threshold=entry.get("source_threshold"), seed=seed, run=name,
                     source_val=entry.get("source_val"))


def _check_name(name: str) -> None:
    """Refuse an unknown metric name."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of {list(METRICS)}")


def _source_threshold(run: RunScores) -> float:
    """The run's source threshold, or a clear refusal when the protocol has none."""
    if run.source_threshold is None:
        raise ValueError(f"run {run.run!r} has no source threshold (no held-out source "
                         "validation data in its protocol): hter_source is undefined; "
                         "use hter_target_eer")
    return run.source_threshold


def metric_value(run: RunScores, name: str, idx: Any = None) -> float:
    """One metric (percent) of a run, on all its target videos or on the videos ``idx``."""
    _check_name(name)
    s, y = run.scores, run.labels
    if idx is not None:
        idx = np.asarray(idx, dtype=np.int64)
        s, y = s[idx], y[idx]
    try:
        if name == "auc":
            return auc(s, y)
        if name == "hter_target_eer":
            return hter(s, y, eer(s, y)[1])
        return hter(s, y, _source_threshold(run))
    except ValueError as exc:
        if str(exc).startswith(f"run {run.run!r}"):
            raise
        raise ValueError(f"run {run.run!r}: {exc}") from exc


# --- weighted metrics: one row of video weights per replicate ------------------------------

@dataclass(frozen=True)
class _Curve:
    """Weighted ROC vertices of many replicates: one row per distinct score, descending.

    Arrays are (distinct scores, replicates), so that cumulative sums run down contiguous rows.
    """

    values: np.ndarray  # (U,) distinct scores, descending
    gen: np.ndarray     # (U, B) genuine weight at each distinct score
    tp: np.ndarray      # (U, B) genuine weight at or above each distinct score
    fp: np.ndarray      # (U, B) spoof weight at or above each distinct score

    @property
    def n_gen(self) -> np.ndarray:
        """Total genuine weight of each replicate."""
        return self.tp[-1]

    @property
    def n_spoof(self) -> np.ndarray:
        """Total spoof weight of each replicate."""
        return self.fp[-1]


def _curve(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, what: str) -> _Curve:
    """The weighted ROC of one set of videos for every column of ``weights`` (videos, B)."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    w = weights[order]
    gen = w * labels[order, None]
    steps = np.diff(s)
    if not steps.all():  # tied scores: one row per distinct score
        starts = np.r_[0, np.flatnonzero(steps) + 1]
        s, gen, w = s[starts], np.add.reduceat(gen, starts), np.add.reduceat(w, starts)
    tp, fp = np.cumsum(gen, axis=0), np.cumsum(w - gen, axis=0)
    if np.any((tp[-1] == 0) | (fp[-1] == 0)):
        raise ValueError(f"{what}: a resample has a single class; "
                         "the metrics need both genuine and spoof videos")
    return _Curve(s, gen, tp, fp)


def _auc_of(c: _Curve) -> np.ndarray:
    """AUC (percent) of every replicate: P(genuine > spoof) + P(tie) / 2."""
    spoof = np.diff(c.fp, axis=0, prepend=0.0)
    return (spoof * (c.tp - 0.5 * c.gen)).sum(axis=0) / (c.n_gen * c.n_spoof) * 100.0


def _eer_vertex(c: _Curve) -> np.ndarray:
    """Index of the distinct score that metrics.eer returns as threshold, per replicate."""
    cols = np.arange(c.tp.shape[1])
    pos = np.arange(len(c.values))[:, None]
    d = c.fp / c.n_spoof - (1.0 - c.tp / c.n_gen)
    present = np.diff(c.fp, axis=0, prepend=0.0) + c.gen > 0  # a vertex of this resample
    j = np.argmax(present & (d >= 0), axis=0)  # the last present vertex has d = 1
    last_present = np.maximum.accumulate(np.where(present, pos, -1), axis=0)
    i = np.where(j > 0, last_present[np.maximum(j - 1, 0), cols], -1)  # -1: accept nothing
    d_j, d_i = d[j, cols], np.where(i >= 0, d[np.maximum(i, 0), cols], -1.0)
    return np.where((i >= 0) & (d_j != 0) & (np.abs(d_i) < np.abs(d_j)), i, j)


def _hter_at(c: _Curve, thresholds: np.ndarray) -> np.ndarray:
    """HTER (percent) of every replicate at its threshold (genuine accepted iff score >= it)."""
    cols = np.arange(c.tp.shape[1])
    accepted = np.searchsorted(-c.values, -np.asarray(thresholds, dtype=float), side="right")
    k = np.maximum(accepted - 1, 0)
    tp = np.where(accepted > 0, c.tp[k, cols], 0.0)
    fp = np.where(accepted > 0, c.fp[k, cols], 0.0)
    return (fp / c.n_spoof + (1.0 - tp / c.n_gen)) / 2.0 * 100.0


def _values(run: RunScores, name: str, w: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
    """:func:`weighted_values` on weights laid out (videos, replicates)."""
    where = f"run {run.run!r}"
    c = _curve(run.scores, run.labels, w, where)
    if name == "auc":
        return _auc_of(c)
    if name == "hter_target_eer":
        return _hter_at(c, c.values[_eer_vertex(c)])
    if sw is None:
        return _hter_at(c, np.full(w.shape[1], _source_threshold(run)))
    src = _curve(run.source_val.scores, run.source_val.labels, sw, f"{where}: source_val")
    return _hter_at(c, src.values[_eer_vertex(src)])


def weighted_values(run: RunScores, name: str, weights: Any,
                    source_weights: Any = None) -> np.ndarray:
    """The metric (percent) under many video weightings at once: one per row of ``weights``.

    Row r weighs the run's target videos (in its ``video_ids`` order) by ``weights[r]``, e.g.
    how often a resample drew each; integer weights give exactly the metric of that resample.
    For hter_source, ``source_weights`` (rows over ``run.source_val``'s videos) re-estimate
    the EER threshold per row; without them the stored threshold is used.
    """
    _check_name(name)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(run.labels):
        raise ValueError(f"weights: expected shape (replicates, {len(run.labels)}), "
                         f"got {w.shape}")
    sw = None
    if source_weights is not None and name == "hter_source":
        if run.source_val is None:
            raise ValueError(f"run {run.run!r}: source_weights given but no source_val "
                             "scores stored")
        sw = np.asarray(source_weights, dtype=float)
        if sw.shape != (len(w), len(run.source_val.labels)):
            raise ValueError(f"source_weights: expected shape ({len(w)}, "
                             f"{len(run.source_val.labels)}), got {sw.shape}")
        sw = np.ascontiguousarray(sw.T)
    return _values(run, name, np.ascontiguousarray(w.T), sw)


# --- the shared draws ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Clusters:
    """Resampling units of a set of videos shared by several runs: subjects, else videos."""

    keys: tuple[str, ...]
    strata: tuple[np.ndarray, ...]  # cluster indices of each stratum
    of: Mapping[str, int]           # video id -> cluster index
    unit: str                       # "subjects" or "videos"

    @classmethod
    def of_videos(cls, sets: Sequence[Videos]) -> _Clusters:
        """The clusters of the union of ``sets``; strata by the labels a cluster holds."""
        label: dict[str, int] = {}
        for v in sets:
            for vid, y in zip(v.ids.tolist(), v.labels.tolist(), strict=True):
                if label.setdefault(vid, y) != y:
                    raise ValueError(f"{v.where} gives video {vid!r} another label than "
                                     "another run of the comparison")
        subjects = {vid: subject_of(vid) for vid in label}
        unit = "subjects" if all(subjects.values()) else "videos"
        cluster = subjects if unit == "subjects" else {vid: vid for vid in label}
        keys = tuple(sorted(set(cluster.values())))
        index = {k: i for i, k in enumerate(keys)}
        held: dict[int, set[int]] = {}
        for vid, y in label.items():
            held.setdefault(index[cluster[vid]], set()).add(y)
        kinds: dict[tuple[int, ...], list[int]] = {}
        for c in range(len(keys)):
            kinds.setdefault(tuple(sorted(held[c])), []).append(c)
        strata = tuple(np.array(kinds[k]) for k in sorted(kinds))
        return cls(keys, strata, {vid: index[cluster[vid]] for vid in label}, unit)

    def draw(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """How often each cluster is drawn in each replicate: (clusters, n_boot)."""
        counts = np.zeros((len(self.keys), n_boot), dtype=np.int32)
        rows = np.arange(n_boot)[:, None]
        for members in self.strata:
            n = len(members)
            picks = rng.integers(0, n, size=(n_boot, n)) + rows * n
            counts[members] = np.bincount(picks.ravel(), minlength=n_boot * n).reshape(
                n_boot, n).T
        return counts

    def columns(self, videos: Videos) -> np.ndarray:
        """The cluster index of each of ``videos``."""
        return np.array([self.of[v] for v in videos.ids.tolist()], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Replicates:
    """A metric of seed-paired runs of several methods on one setting, and its replicates.

    ``values[m]`` holds method m's metric per seed, ``boot[m]`` the same on every replicate
    of the shared subject (and source-threshold) draws, shape (seeds, replicates), and ``t``
    the replicates' Student-t draws of the seed level (zeros for one seed).
    """

    metric: str
    seeds: tuple[int, ...]
    runs: Mapping[str, tuple[RunScores, ...]]
    values: Mapping[str, np.ndarray]
    boot: Mapping[str, np.ndarray]
    t: np.ndarray
    resampled: str
    threshold: str

    def distribution(self, method: str, other: str | None = None) -> tuple[float, np.ndarray]:
        """Estimate and replicates of a method's seed mean, or of ``method - other``."""
        values, boot = self.values[method], self.boot[method]
        if other is not None:
            values, boot = values - self.values[other], boot - self.boot[other]
        return _spread(values, boot, self.t)

    def info(self) -> dict[str, Any]:
        """What was resampled and how, for the summaries."""
        k = len(self.seeds)
        return {"n_seeds": k, "seeds": list(self.seeds), "n_boot": len(self.t),
                "resampled": self.resampled, "threshold": self.threshold,
                "seed_level": "Student t" if k > 1 else "none (one seed)"}


def _spread(values: np.ndarray, boot: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """The seed mean and its replicates: shared video part plus a Student-t seed part."""
    est = float(values.mean())
    dev = boot - boot.mean(axis=1, keepdims=True)
    k = len(values)
    if k == 1:
        return est, est + dev[0]
    mean_dev = dev.mean(axis=0)
    total = float(mean_dev @ mean_dev) / len(mean_dev)
    cov = dev @ dev.T / dev.shape[1]
    shared = (cov.sum() - np.trace(cov)) / (k * (k - 1))
    scale = math.sqrt(min(max(shared, 0.0), total) / total) if total > 0 else 0.0
    seed_sd = float(values.std(ddof=1))
    return est, est + scale * mean_dev + seed_sd / math.sqrt(k) * t


def _check_boot(n_boot: int, level: float = 0.95) -> None:
    """Refuse a bootstrap size or confidence level that makes no sense."""
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")


def _by_seed(runs: Sequence[RunScores], what: str) -> list[RunScores]:
    """Runs sorted by seed, refusing an empty list and a seed that appears twice."""
    runs = list(runs)
    if not runs:
        raise ValueError(f"{what}: no runs given")
    for r in runs:
        if not isinstance(r, RunScores):
            raise TypeError(f"{what}: expected RunScores (see run_scores), got {type(r).__name__}")
    seen: dict[int, str] = {}
    for r in runs:
        if r.seed in seen:
            raise ValueError(f"{what}: runs {seen[r.seed]!r} and {r.run!r} share seed {r.seed}; "
                             "each seed should appear once")
        seen[r.seed] = r.run
    return sorted(runs, key=lambda r: r.seed)


def _align(first: RunScores, other: RunScores, what: str) -> RunScores:
    """``other`` with its target videos in ``first``'s order; refuse other videos or labels."""
    ids_a, ids_b = set(first.video_ids.tolist()), set(other.video_ids.tolist())
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)
        raise ValueError(
            f"{what}: runs {first.run!r} and {other.run!r} (seed {other.seed}) scored different "
            f"target videos ({len(only_a)} only in the first, e.g. {only_a[:3]}; "
            f"{len(only_b)} only in the second, e.g. {only_b[:3]})")
    same_order = np.array_equal(first.video_ids, other.video_ids)
    v = Videos(other.video_ids, other.labels, other.scores)
    v = v if same_order else v.ordered_as(first.video_ids)
    if not np.array_equal(first.labels, v.labels):
        bad = first.video_ids[first.labels != v.labels][:3].tolist()
        raise ValueError(f"{what}: runs {first.run!r} and {other.run!r} give different labels "
                         f"to the same video(s), e.g. {bad}")
    if same_order:
        return other
    return replace(other, video_ids=v.ids, labels=v.labels, scores=v.scores)


def _rng(seed: Any) -> np.random.Generator:
    """A generator from an int, or from (int, setting name) for independent settings."""
    if isinstance(seed, tuple):
        seed = [int(seed[0]), *(zlib.crc32(str(s).encode()) for s in seed[1:])]
    return np.random.default_rng(seed)


def replicates(groups: Mapping[str, Sequence[RunScores]], name: str, n_boot: int = N_BOOT,
               seed: Any = 0) -> Replicates:
    """Every method's metric per seed on ``n_boot`` shared draws of subjects and threshold.

    ``groups`` maps a method to its runs on one setting, one per seed; all must have the same
    seeds and the same target videos (refused otherwise, naming the runs). ``seed`` is an int
    or a tuple (int, setting) that makes each setting's draws its own.
    """
    _check_name(name)
    _check_boot(n_boot)
    if not groups:
        raise ValueError(f"replicates({name}): no groups given")
    ordered = {m: _by_seed(runs, f"{name} of {m!r}") for m, runs in groups.items()}
    first_method = next(iter(ordered))
    seeds = [r.seed for r in ordered[first_method]]
    for m, runs in ordered.items():
        mine = [r.seed for r in runs]
        if mine != seeds:
            raise ValueError(
                f"paired comparison ({name}): {first_method!r} and {m!r} have different seeds "
                f"({seeds} vs {mine}; only in first: {sorted(set(seeds) - set(mine))}, "
                f"only in second: {sorted(set(mine) - set(seeds))}); pairing needs the same "
                "seeds")
    anchor = ordered[first_method][0]
    runs = {m: tuple(_align(anchor, r, f"paired comparison ({name})") for r in rs)
            for m, rs in ordered.items()}
    every = [r for rs in runs.values() for r in rs]
    values = {m: np.array([metric_value(r, name) for r in rs]) for m, rs in runs.items()}
    resample_source = name == "hter_source" and all(r.source_val is not None for r in every)
    rng = _rng(seed)
    target = _Clusters.of_videos([Videos(anchor.video_ids, anchor.labels, anchor.scores,
                                         f"run {anchor.run!r}")])
    counts = target.draw(n_boot, rng)
    source = src_counts = None
    if resample_source:
        source = _Clusters.of_videos([r.source_val for r in every])
        src_counts = source.draw(n_boot, rng)
    t = rng.standard_t(len(seeds) - 1, n_boot) if len(seeds) > 1 else np.zeros(n_boot)
    cols = target.columns(Videos(anchor.video_ids, anchor.labels, anchor.scores))
    src_cols = {id(r): source.columns(r.source_val) for r in every} if source else {}
    step = max(1, _CHUNK // max(1, len(cols)))
    boot = {m: np.empty((len(seeds), n_boot)) for m in runs}
    for start in range(0, n_boot, step):
        part = slice(start, start + step)
        w = counts[cols, part].astype(float)
        for m, rs in runs.items():
            for s, r in enumerate(rs):
                sw = src_counts[src_cols[id(r)], part].astype(float) if source else None
                boot[m][s, part] = _values(r, name, w, sw)
    if name != "hter_source":
        threshold = "none"
    elif resample_source:
        threshold = "re-estimated"
    else:
        threshold = "fixed (no source-validation scores stored)"
    unit = target.unit if source is None or source.unit == target.unit else "subjects/videos"
    return Replicates(name, tuple(seeds), runs, values, boot, t, unit, threshold)


def _interval(reps: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates."""
    lo, hi = np.quantile(reps, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def _p_value(reps: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": 2 min(P(R <= 0), P(R >= 0))."""
    below, above = int((reps <= 0).sum()), int((reps >= 0).sum())
    return min(1.0, 2.0 * (min(below, above) + 1) / (len(reps) + 1))


def _verdict(lo: float, hi: float, lower_is_better: bool) -> str:
    """'better', 'worse' or 'not distinguishable' for a difference a - b and its interval."""
    if (hi < 0 and lower_is_better) or (lo > 0 and not lower_is_better):
        return "better"
    if (lo > 0 and lower_is_better) or (hi < 0 and not lower_is_better):
        return "worse"
    return "not distinguishable"


def summary_of(reps: Replicates, method: str, level: float = 0.95) -> dict[str, Any]:
    """Mean, spread and interval of one method of a :class:`Replicates` (see seed_summary)."""
    est, dist = reps.distribution(method)
    lo, hi = _interval(dist, level)
    lo, hi = max(lo, 0.0), min(hi, 100.0)  # the t seed level can reach past a rate's range
    values = reps.values[method]
    runs = reps.runs[method]
    return {"metric": reps.metric, "mean": est,
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "values": values.tolist(), "ci_low": lo, "ci_high": hi, "level": level,
            **reps.info(), "lower_is_better": LOWER_IS_BETTER[reps.metric],
            "n_genuine": [r.n_genuine for r in runs], "n_spoof": [r.n_spoof for r in runs]}


def _difference(metric: str, est: float, dist: np.ndarray, level: float) -> dict[str, Any]:
    """Interval, nominal p-value and verdict of a difference from its replicates."""
    lo, hi = _interval(dist, level)
    return {"metric": metric, "diff": est, "ci_low": lo, "ci_high": hi, "p": _p_value(dist),
            "level": level, "lower_is_better": LOWER_IS_BETTER[metric],
            "verdict": _verdict(lo, hi, LOWER_IS_BETTER[metric])}


def difference_of(reps: Replicates, a: str, b: str, level: float = 0.95) -> dict[str, Any]:
    """The paired difference a - b of a :class:`Replicates` (see paired_difference)."""
    est, dist = reps.distribution(a, b)
    va, vb = reps.values[a], reps.values[b]
    return {**_difference(reps.metric, est, dist, level), "diffs": (va - vb).tolist(),
            "mean_a": float(va.mean()), "mean_b": float(vb.mean()), **reps.info()}


def pooled_of(reps: Sequence[Replicates], a: str, b: str, level: float = 0.95
              ) -> dict[str, Any]:
    """a - b pooled over independent settings: the mean of their paired differences."""
    if not reps:
        raise ValueError("pooled difference: no settings given")
    parts = [r.distribution(a, b) for r in reps]
    est = float(np.mean([e for e, _ in parts]))
    dist = np.mean([d for _, d in parts], axis=0)
    infos = [r.info() for r in reps]
    return {**_difference(reps[0].metric, est, dist, level),
            "diffs": [e for e, _ in parts], "n_settings": len(reps),
            "n_seeds": min(i["n_seeds"] for i in infos), "n_boot": len(dist),
            "resampled": "/".join(sorted({i["resampled"] for i in infos})),
            "threshold": "/".join(sorted({i["threshold"] for i in infos}))}


def seed_summary(runs: Sequence[RunScores], name: str, n_boot: int = N_BOOT, seed: int = 0,
                 level: float = 0.95) -> dict[str, Any]:
    """Mean and spread of a metric over seeds, with its interval (module docstring).

    Returns "metric", "mean", "std" (over seeds, ddof=1; 0 for one seed), "values" (per
    seed), "ci_low", "ci_high", "level", "n_seeds", "seeds", "n_boot", "resampled"
    ("subjects" or "videos"), "threshold" (how hter_source's threshold was treated),
    "seed_level", "lower_is_better" and "n_genuine"/"n_spoof" (target videos per run).
    """
    _check_boot(n_boot, level)
    return summary_of(replicates({"runs": runs}, name, n_boot, seed), "runs", level)


def paired_difference(runs_a: Sequence[RunScores] | Mapping[str, Sequence[RunScores]],
                      runs_b: Sequence[RunScores] | Mapping[str, Sequence[RunScores]],
                      name: str, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95
                      ) -> dict[str, Any]:
    """Difference a - b of a metric over seed-paired runs, with interval and p (chapter 08).

    Returns "metric", "diff" (mean over seeds of a - b), "ci_low", "ci_high", "p" (two-sided,
    nominal), "diffs" (per seed), "seeds", "n_seeds", "mean_a", "mean_b", "level", "n_boot",
    "resampled", "threshold", "lower_is_better" and "verdict": "better" / "worse" when the
    interval excludes 0 in a's / b's favour, else "not distinguishable". Given two mappings
    {setting: runs}, the difference is pooled over the settings (their mean; "diffs" then
    holds one per setting), each setting with its own draws.
    """
    _check_boot(n_boot, level)
    if isinstance(runs_a, Mapping) or isinstance(runs_b, Mapping):
        if not (isinstance(runs_a, Mapping) and isinstance(runs_b, Mapping)):
            raise ValueError("paired_difference: give runs for both sides, or settings for both")
        if sorted(runs_a) != sorted(runs_b):
            raise ValueError(f"paired_difference: the sides have different settings "
                             f"({sorted(runs_a)} vs {sorted(runs_b)})")
        reps = [replicates({"a": runs_a[s], "b": runs_b[s]}, name, n_boot, (seed, s))
                for s in sorted(runs_a)]
        return {**pooled_of(reps, "a", "b", level), "settings": sorted(runs_a)}
    return difference_of(replicates({"a": runs_a, "b": runs_b}, name, n_boot, seed),
                         "a", "b", level)


def holm(p: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979, *Scand. J. Statist.*); NaN stays NaN
    (chapter 09).

    Rejecting where the adjusted p is below alpha keeps the family-wise error rate at alpha.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(steps, 1.0)
    return out


def _num(x: float, digits: int) -> str:
    """A signed number with a typographic minus and no negative zero."""
    text = f"{x:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


def verdict_text(result: Mapping[str, Any], a: str, b: str, digits: int = 1) -> str:
    """A one-sentence reading of a :func:`paired_difference` result for methods ``a`` and ``b``."""
    metric = _SHORT.get(result["metric"], result["metric"])
    p = f", nominal p = {result['p']:.3g}" if "p" in result else ""
    detail = (f"{_num(result['diff'], digits)} points, {result['level'] * 100:g} % CI "
              f"{_num(result['ci_low'], digits)} to {_num(result['ci_high'], digits)}{p}; "
              f"{result['n_seeds']} paired seed{'s' if result['n_seeds'] != 1 else ''}")
    verdict = result["verdict"]
    if verdict == "not distinguishable":
        return f"{a} and {b} are not distinguishable on {metric} ({detail})"
    return f"{a} is {verdict} than {b} on {metric} ({detail})"
