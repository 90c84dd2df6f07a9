"""Uncertainty of a method's target metrics over training seeds and target videos.

A number such as "HTER 12.3 %" from one protocol carries two sources of chance: the
training seed (initialisation, sampling order) and the finite set of target videos it was
measured on. Both are resampled here by a two-level (hierarchical) nonparametric bootstrap
(Davison & Hinkley 1997, *Bootstrap Methods and their Application*, Sec. 3.8): each
replicate draws the seeds with replacement, then, within every drawn seed, the target
videos with replacement *stratified by label* (the genuine and spoof counts are kept, so
every resample has both classes), computes the metric and averages it over the drawn
seeds. The confidence interval is the percentile interval of the replicates (Efron &
Tibshirani 1993, *An Introduction to the Bootstrap*, Ch. 13).

Two methods are compared *paired* (the same seeds and the same target videos): every
replicate applies the same seed and video indices to both, so what is shared (an easy or a
hard video, a lucky seed) cancels in the difference. A difference whose interval excludes 0
is reported as "better" or "worse" in the direction of the metric, otherwise as "not
distinguishable". With a single seed only the video level is resampled, and the interval
says nothing about seed-to-seed variation; with few seeds (three, say) the seed level is
resampled from very few values and the interval tends to be too narrow, so always report
the number of seeds beside it.

Scores and labels follow :mod:`mpfas_lib.evaluation.metrics` (probability of genuine;
1 genuine, 0 spoof; rates in percent). Each training run stores, per model-selection
rule, the video-level target scores of its selected checkpoint in ``results.json`` under
``results["scores"][rule] = {"video_ids", "labels", "scores", "source_threshold"}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mpfas_lib.evaluation.metrics import as_scores_labels, auc, eer, hter

__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "RunScores",
    "compare_table",
    "metric_value",
    "paired_difference",
    "resample_values",
    "run_scores",
    "seed_summary",
    "verdict_text",
]

#: Metric names and what they measure (all in percent).
METRICS = {
    "hter_source": "HTER at the source-validation EER threshold",
    "hter_target_eer": "HTER at the target EER threshold",
    "auc": "AUC",
}
#: Direction of each metric: True where a lower value is better.
LOWER_IS_BETTER = {"hter_source": True, "hter_target_eer": True, "auc": False}

_SHORT = {"hter_source": "HTER at the source threshold",
          "hter_target_eer": "HTER at the target EER threshold", "auc": "AUC"}
_CHUNK = 2_000_000  # resampled scores held at once by the vectorised metrics


@dataclass(frozen=True, eq=False)
class RunScores:
    """Video-level target scores of one run's selected checkpoint (validated, read-only)."""

    video_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    source_threshold: float | None
    seed: int
    run: str = "<unnamed run>"

    def __post_init__(self) -> None:
        """Validate and freeze the arrays; every error names the run."""
        where = f"run {self.run!r}"
        try:
            s, y = as_scores_labels(self.scores, self.labels)
        except ValueError as exc:
            raise ValueError(f"{where}: malformed target scores: {exc}") from exc
        ids = np.asarray([str(v) for v in np.asarray(self.video_ids).reshape(-1).tolist()])
        if len(ids) != len(s):
            raise ValueError(f"{where}: {len(ids)} video_ids but {len(s)} scores")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"{where}: duplicate video_ids (expected one score per video)")
        t = self.source_threshold
        if t is not None:
            try:
                t = float(t)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: source_threshold {t!r} is not a number") from exc
            if not math.isfinite(t):
                raise ValueError(f"{where}: source_threshold is {t}")
        try:
            seed = int(self.seed)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: seed {self.seed!r} is not an integer") from exc
        for arr in (ids, s, y):
            arr.setflags(write=False)
        for field, value in (("video_ids", ids), ("scores", s), ("labels", y),
                             ("source_threshold", t), ("seed", seed)):
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
    """The stored video-level target scores of one run (``results.json``) for one rule."""
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
                     source_threshold=entry.get("source_threshold"), seed=seed, run=name)


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


def _auc_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUC (percent) of every row by the Mann-Whitney rank sum, ties at average rank."""
    n = x.shape[1]
    order = np.argsort(x, axis=1, kind="stable")
    v = np.take_along_axis(x, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    pos = np.arange(n)
    start = np.ones_like(v, dtype=bool)
    start[:, 1:] = v[:, 1:] != v[:, :-1]
    end = np.ones_like(start)
    end[:, :-1] = start[:, 1:]
    first = np.maximum.accumulate(np.where(start, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(end, pos, n)[:, ::-1], axis=1)[:, ::-1]
    rank_sum = np.where(ys, (first + last) / 2.0 + 1.0, 0.0).sum(axis=1)
    n_gen = ys.sum(axis=1)
    n_spoof = n - n_gen
    return (rank_sum - n_gen * (n_gen + 1) / 2.0) / (n_gen * n_spoof) * 100.0


def _hter_rows(x: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
    """HTER (percent) of every row at one threshold (genuine accepted iff score >= it)."""
    accepted = x >= threshold
    n_gen = y.sum(axis=1)
    far = (accepted & ~y).sum(axis=1) / (y.shape[1] - n_gen)
    frr = (~accepted & y).sum(axis=1) / n_gen
    return (far + frr) / 2.0 * 100.0


def _hter_eer_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """HTER (percent) of every row at its own EER threshold, chosen as metrics.eer does."""
    m, n = x.shape
    rows = np.arange(m)
    pos = np.arange(n)
    order = np.argsort(-x, axis=1, kind="stable")
    v = np.take_along_axis(x, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    tp = np.cumsum(ys, axis=1)
    fp = (pos + 1) - tp
    n_gen = tp[:, -1:]
    n_spoof = n - n_gen
    # ROC vertices: accepting everything down to the last of a run of tied scores
    vertex = np.ones_like(ys)
    vertex[:, :-1] = v[:, :-1] != v[:, 1:]
    d = fp / n_spoof - (1.0 - tp / n_gen)
    j = np.argmax(vertex & (d >= 0), axis=1)  # the last vertex has d = 1, so one exists
    prev_vertex = np.maximum.accumulate(np.where(vertex, pos, -1), axis=1)
    i = np.where(j > 0, prev_vertex[rows, np.maximum(j - 1, 0)], -1)  # -1: accept nothing
    d_j = d[rows, j]
    d_i = d[rows, np.maximum(i, 0)]
    k = np.where((i >= 0) & (d_j != 0) & (np.abs(d_i) < np.abs(d_j)), i, j)
    far = fp[rows, k] / n_spoof[:, 0]
    frr = (n_gen[:, 0] - tp[rows, k]) / n_gen[:, 0]
    return (far + frr) / 2.0 * 100.0


def resample_values(run: RunScores, name: str, idx: Any) -> np.ndarray:
    """The metric (percent) on many resamples at once: one per row of the index matrix ``idx``.

    Vectorised equivalent of ``[metric_value(run, name, row) for row in idx]``; every row
    must contain both genuine and spoof videos.
    """
    _check_name(name)
    idx = np.asarray(idx, dtype=np.int64)
    if idx.ndim != 2:
        raise ValueError(f"idx: expected a 2-D matrix of video indices, got shape {idx.shape}")
    out = np.empty(len(idx))
    step = max(1, _CHUNK // max(1, idx.shape[1]))
    for start in range(0, len(idx), step):
        part = idx[start:start + step]
        x, y = run.scores[part], run.labels[part].astype(bool)
        n_gen = y.sum(axis=1)
        if np.any((n_gen == 0) | (n_gen == y.shape[1])):
            raise ValueError(f"run {run.run!r}: a resample has a single class; "
                             "the metrics need both genuine and spoof videos")
        if name == "auc":
            out[start:start + step] = _auc_rows(x, y)
        elif name == "hter_target_eer":
            out[start:start + step] = _hter_eer_rows(x, y)
        else:
            out[start:start + step] = _hter_rows(x, y, _source_threshold(run))
    return out


def _check_boot(n_boot: int, level: float) -> None:
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


def _bootstrap(groups: Sequence[Sequence[RunScores]], name: str, n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """Seed-averaged metric of each group on ``n_boot`` two-level resamples: (groups, n_boot).

    ``groups`` hold runs paired position by position (same seed, same video order); each
    replicate applies the same seed draw and the same video draw to every group.
    """
    k = len(groups[0])
    drawn = rng.integers(0, k, size=(n_boot, k)).ravel()
    values = np.empty((len(groups), drawn.size))
    for r in range(k):
        slots = np.flatnonzero(drawn == r)
        if not len(slots):
            continue
        labels = groups[0][r].labels
        gen, spoof = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
        step = max(1, _CHUNK // len(labels))
        for start in range(0, len(slots), step):
            part = slots[start:start + step]
            idx = np.concatenate([gen[rng.integers(0, len(gen), (len(part), len(gen)))],
                                  spoof[rng.integers(0, len(spoof), (len(part), len(spoof)))]],
                                 axis=1)
            for g, runs in enumerate(groups):
                values[g, part] = resample_values(runs[r], name, idx)
    return values.reshape(len(groups), n_boot, k).mean(axis=2)


def _interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates."""
    lo, hi = np.quantile(replicates, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def seed_summary(runs: Sequence[RunScores], name: str, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> dict[str, Any]:
    """Mean and spread of a metric over seeds, with a two-level bootstrap interval.

    Returns "metric", "mean", "std" (over seeds, ddof=1; 0 for one seed), "n_seeds",
    "seeds", "values" (per seed), "ci_low", "ci_high", "level", "n_boot",
    "lower_is_better" and "n_genuine"/"n_spoof" (target videos per run).
    """
    _check_name(name)
    _check_boot(n_boot, level)
    runs = _by_seed(runs, f"seed_summary({name})")
    values = np.array([metric_value(r, name) for r in runs])
    reps = _bootstrap([runs], name, int(n_boot), np.random.default_rng(seed))[0]
    lo, hi = _interval(reps, level)
    return {
        "metric": name,
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "n_seeds": len(runs),
        "seeds": [r.seed for r in runs],
        "values": values.tolist(),
        "ci_low": lo,
        "ci_high": hi,
        "level": level,
        "n_boot": int(n_boot),
        "lower_is_better": LOWER_IS_BETTER[name],
        "n_genuine": [r.n_genuine for r in runs],
        "n_spoof": [r.n_spoof for r in runs],
    }


def _pair(runs_a: Sequence[RunScores], runs_b: Sequence[RunScores],
          name: str) -> tuple[list[RunScores], list[RunScores]]:
    """Runs of a and b paired by seed, b's videos put in a's order; refuse what cannot pair."""
    a = _by_seed(runs_a, f"paired_difference({name}), first group")
    b = _by_seed(runs_b, f"paired_difference({name}), second group")
    seeds_a, seeds_b = [r.seed for r in a], [r.seed for r in b]
    if seeds_a != seeds_b:
        raise ValueError(
            f"paired_difference({name}): the groups have different seeds "
            f"({seeds_a} vs {seeds_b}; only in first: {sorted(set(seeds_a) - set(seeds_b))}, "
            f"only in second: {sorted(set(seeds_b) - set(seeds_a))}); pairing needs the same "
            "seeds")
    aligned = []
    for ra, rb in zip(a, b, strict=True):
        if set(ra.video_ids.tolist()) != set(rb.video_ids.tolist()):
            only_a = sorted(set(ra.video_ids.tolist()) - set(rb.video_ids.tolist()))
            only_b = sorted(set(rb.video_ids.tolist()) - set(ra.video_ids.tolist()))
            raise ValueError(
                f"paired_difference({name}): runs {ra.run!r} and {rb.run!r} (seed {ra.seed}) "
                f"scored different target videos ({len(only_a)} only in the first, e.g. "
                f"{only_a[:3]}; {len(only_b)} only in the second, e.g. {only_b[:3]})")
        where = {v: k for k, v in enumerate(rb.video_ids.tolist())}
        order = np.array([where[v] for v in ra.video_ids.tolist()], dtype=np.int64)
        rb = replace(rb, video_ids=rb.video_ids[order], labels=rb.labels[order],
                     scores=rb.scores[order])
        if not np.array_equal(ra.labels, rb.labels):
            bad = ra.video_ids[ra.labels != rb.labels][:3].tolist()
            raise ValueError(f"paired_difference({name}): runs {ra.run!r} and {rb.run!r} give "
                             f"different labels to the same video(s), e.g. {bad}")
        aligned.append(rb)
    return a, aligned


def _verdict(lo: float, hi: float, lower_is_better: bool) -> str:
    """'better', 'worse' or 'not distinguishable' for a difference a - b and its interval."""
    if (hi < 0 and lower_is_better) or (lo > 0 and not lower_is_better):
        return "better"
    if (lo > 0 and lower_is_better) or (hi < 0 and not lower_is_better):
        return "worse"
    return "not distinguishable"


def paired_difference(runs_a: Sequence[RunScores], runs_b: Sequence[RunScores], name: str,
                      n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Difference a - b of a metric over seed-paired runs, with a paired two-level bootstrap.

    Returns "metric", "diff" (mean over seeds of a - b), "ci_low", "ci_high", "diffs" (per
    seed), "seeds", "n_seeds", "mean_a", "mean_b", "level", "n_boot", "lower_is_better" and
    "verdict": "better" / "worse" when the interval excludes 0 in a's / b's favour, else
    "not distinguishable".
    """
    _check_name(name)
    _check_boot(n_boot, level)
    a, b = _pair(runs_a, runs_b, name)
    va = np.array([metric_value(r, name) for r in a])
    vb = np.array([metric_value(r, name) for r in b])
    reps = _bootstrap([a, b], name, int(n_boot), np.random.default_rng(seed))
    lo, hi = _interval(reps[0] - reps[1], level)
    return {
        "metric": name,
        "diff": float((va - vb).mean()),
        "ci_low": lo,
        "ci_high": hi,
        "diffs": (va - vb).tolist(),
        "seeds": [r.seed for r in a],
        "n_seeds": len(a),
        "mean_a": float(va.mean()),
        "mean_b": float(vb.mean()),
        "level": level,
        "n_boot": int(n_boot),
        "lower_is_better": LOWER_IS_BETTER[name],
        "verdict": _verdict(lo, hi, LOWER_IS_BETTER[name]),
    }


def _num(x: float, digits: int) -> str:
    """A signed number with a typographic minus and no negative zero."""
    text = f"{x:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


def verdict_text(result: Mapping[str, Any], a: str, b: str, digits: int = 1) -> str:
    """A one-sentence reading of a :func:`paired_difference` result for methods ``a`` and ``b``."""
    metric = _SHORT.get(result["metric"], result["metric"])
    detail = (f"{_num(result['diff'], digits)} points, {result['level'] * 100:g} % CI "
              f"{_num(result['ci_low'], digits)} to {_num(result['ci_high'], digits)}; "
              f"{result['n_seeds']} paired seed{'s' if result['n_seeds'] != 1 else ''}")
    verdict = result["verdict"]
    if verdict == "not distinguishable":
        return f"{a} and {b} are not distinguishable on {metric} ({detail})"
    return f"{a} is {verdict} than {b} on {metric} ({detail})"


def compare_table(groups: Mapping[str, Sequence[RunScores]], reference: str,
                  names: Sequence[str] = ("hter_source", "hter_target_eer", "auc"),
                  n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> list[dict[str, Any]]:
    """One row per (method, metric): mean and interval, and the paired difference to ``reference``.

    Row keys: "method", "metric", "n_seeds", "mean", "std", "ci_low", "ci_high", "diff",
    "diff_ci_low", "diff_ci_high", "verdict" ("reference" on the reference's rows) and
    "note". A metric a group cannot give (hter_source without a source threshold) yields
    NaN values and the reason in "note"; unpairable groups are refused.
    ``pandas.DataFrame(rows)`` makes it a table.
    """
    if reference not in groups:
        raise ValueError(f"reference {reference!r} is not one of the groups {list(groups)}")
    for name in names:
        _check_name(name)
    nan = float("nan")
    rows = []
    for method, runs in groups.items():
        for name in names:
            row: dict[str, Any] = {"method": method, "metric": name, "n_seeds": len(runs),
                                   "mean": nan, "std": nan, "ci_low": nan, "ci_high": nan,
                                   "diff": nan, "diff_ci_low": nan, "diff_ci_high": nan,
                                   "verdict": "reference" if method == reference else "",
                                   "note": ""}
            try:
                s = seed_summary(runs, name, n_boot=n_boot, seed=seed, level=level)
                row.update(mean=s["mean"], std=s["std"], ci_low=s["ci_low"],
                           ci_high=s["ci_high"])
                if method != reference:
                    d = paired_difference(runs, groups[reference], name, n_boot=n_boot,
                                          seed=seed, level=level)
                    row.update(diff=d["diff"], diff_ci_low=d["ci_low"],
                               diff_ci_high=d["ci_high"], verdict=d["verdict"])
            except ValueError as exc:
                if "no source threshold" not in str(exc):
                    raise
                row["note"] = str(exc)
            rows.append(row)
    return rows
