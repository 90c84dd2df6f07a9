"""Coverage of the paired intervals of mpfas_lib.evaluation.stats on a crossed simulation.

Every simulated study is crossed the way the committed runs are: three methods, three seeds
each, all scored on the same target videos and thresholded on the same source-validation
videos. Per video and run the score is a logit margin

    z = o + (2y - 1) (mu_method + a) + v_method(video) + e_run(video)

with a run's seed effects ``a`` (separation) and ``o`` (target offset: the source threshold
lands off on the target), a video effect ``v`` whose correlation between two methods is 0.7
(it holds a subject effect: videos of one subject share part of it), and the run's own noise
``e`` of the same variance, so that a video's margin correlates 0.5 between two seeds of a
method. 26 target subjects and 21 source subjects of 2 genuine and 3 spoof videos each, as in
the study; HTER about 17 % with a seed-to-seed spread of about 5 points, as there.

MP has a larger margin than the baseline, whose true excess HTER (expected over seeds,
subjects and threshold draws) is computed from the model; the "twin" equals MP, so its true
difference is 0. Monte Carlo error: with N = 1000 studies a coverage near 95 % is known to
+-0.7 points (one standard error, sqrt(0.95 * 0.05 / N)); the bounds 93-97 % lie about 3
standard errors away. Each study uses 400 replicates (the library's default is 10,000): the
percentile ends then carry a little extra noise, which can only lower the coverage measured.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.stats import norm

from mpfas_lib.evaluation.stats import RunScores, difference_of, replicates

N_STUDIES, N_BOOT, N_SEEDS = 1000, 400, 3
TARGET_SUBJECTS, SOURCE_SUBJECTS, GENUINE, SPOOF = 26, 21, 2, 3
MU_BASE, MU_GAIN = 0.6, 0.25           # margins: baseline, and MP's (and the twin's) gain
VIDEO_SD, SEED_SD, OFFSET_SD = 0.6, 0.15, 0.3
ACROSS_METHODS, SUBJECT_SHARE = 0.7, 0.3
MU = {"mp": MU_BASE + MU_GAIN, "base": MU_BASE, "twin": MU_BASE + MU_GAIN}


def _labels(subjects: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and subject of each video: 2 genuine then 3 spoof per subject."""
    y = np.tile(np.r_[np.ones(GENUINE), np.zeros(SPOOF)], subjects).astype(int)
    return y, np.repeat(np.arange(subjects), GENUINE + SPOOF)


def _video_effects(rng: np.random.Generator, subjects: int, methods: int,
                   studies: int = 1) -> np.ndarray:
    """Video effects (studies, methods, videos): 0.7 correlated across methods, per subject."""
    _, subject = _labels(subjects)
    n = len(subject)
    shared = (math.sqrt(SUBJECT_SHARE) * rng.normal(size=(studies, 1, subjects))[..., subject]
              + math.sqrt(1 - SUBJECT_SHARE) * rng.normal(size=(studies, 1, n)))
    own = rng.normal(size=(studies, methods, n))
    return VIDEO_SD * (math.sqrt(ACROSS_METHODS) * shared + math.sqrt(1 - ACROSS_METHODS) * own)


def _study(rng: np.random.Generator) -> dict[str, list[RunScores]]:
    """One simulated study: every method's runs over the seeds, crossed."""
    y_t, s_t = _labels(TARGET_SUBJECTS)
    y_s, s_s = _labels(SOURCE_SUBJECTS)
    ids_t = np.array([f"M/s{s:03d}/v{i}" for i, s in enumerate(s_t)])
    source_ids = np.array([f"O/O/s{s:03d}/v{i}" for i, s in enumerate(s_s)])
    v_t = _video_effects(rng, TARGET_SUBJECTS, len(MU))[0]
    v_s = _video_effects(rng, SOURCE_SUBJECTS, len(MU))[0]
    groups = {}
    for k, (method, mu) in enumerate(MU.items()):
        groups[method] = []
        for seed in range(N_SEEDS):
            a, o = rng.normal(0, SEED_SD), rng.normal(0, OFFSET_SD)
            z_t = o + (2 * y_t - 1) * (mu + a) + v_t[k] + rng.normal(0, VIDEO_SD, len(y_t))
            z_s = (2 * y_s - 1) * (mu + a) + v_s[k] + rng.normal(0, VIDEO_SD, len(y_s))
            groups[method].append(RunScores(
                ids_t, y_t, z_t, None, seed, f"{method}-s{seed}",
                {"video_ids": source_ids, "labels": y_s, "scores": z_s}))
    return groups


def _eer_thresholds(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """metrics.eer's threshold of every row of ``z`` (continuous scores, labels ``y``)."""
    order = np.argsort(-z, axis=1)
    ordered, labels = np.take_along_axis(z, order, 1), y[order]
    tp, fp = np.cumsum(labels, 1), np.cumsum(1 - labels, 1)
    d = fp / fp[:, -1:] - (1 - tp / tp[:, -1:])
    rows = np.arange(len(z))
    j = np.argmax(d >= 0, 1)
    d_j, d_i = d[rows, j], np.where(j > 0, d[rows, np.maximum(j - 1, 0)], -1.0)
    return ordered[rows, np.where((j > 0) & (d_j != 0) & (np.abs(d_i) < np.abs(d_j)), j - 1, j)]


def _true_excess_hter(runs: int = 100_000, chunk: int = 10_000) -> float:
    """E[HTER(baseline) - HTER(MP)] of one run: threshold from a fresh source draw, target HTER
    from the model's marginal score distribution (common random numbers for both methods)."""
    rng = np.random.default_rng(12345)
    y_s, _ = _labels(SOURCE_SUBJECTS)
    spread = VIDEO_SD * math.sqrt(2)  # video effect and run noise, on the target
    total = 0.0
    for _ in range(runs // chunk):
        a, o = rng.normal(0, SEED_SD, (chunk, 1)), rng.normal(0, OFFSET_SD, chunk)
        noise = (_video_effects(rng, SOURCE_SUBJECTS, 1, chunk)[:, 0]
                 + rng.normal(0, VIDEO_SD, (chunk, len(y_s))))
        hters = []
        for mu in (MU["base"], MU["mp"]):
            t = _eer_thresholds((2 * y_s - 1) * (mu + a) + noise, y_s)
            m = mu + a[:, 0]
            far, frr = norm.sf((t - o + m) / spread), norm.cdf((t - o - m) / spread)
            hters.append((far + frr) / 2 * 100)
        total += float(np.sum(hters[0] - hters[1]))
    return total / runs


def test_intervals_cover_the_true_difference_and_rarely_resolve_zero():
    start = time.perf_counter()
    truth = _true_excess_hter()
    covered = resolved_zero = 0
    for k in range(N_STUDIES):
        reps = replicates(_study(np.random.default_rng([2027, k])), "hter_source", N_BOOT, k)
        assert reps.resampled == "subjects" and reps.threshold == "re-estimated"
        effect, zero = difference_of(reps, "base", "mp"), difference_of(reps, "twin", "mp")
        covered += effect["ci_low"] <= truth <= effect["ci_high"]
        resolved_zero += zero["verdict"] != "not distinguishable"
    coverage, false_rate = covered / N_STUDIES, resolved_zero / N_STUDIES
    print(f"true excess HTER {truth:.2f} points; coverage {coverage:.3f}, zero resolved "
          f"{false_rate:.3f} over {N_STUDIES} studies ({time.perf_counter() - start:.1f} s)")
    assert 2.0 < truth < 10.0  # a real effect, not swamped by the seed spread
    assert 0.93 <= coverage <= 0.97
    assert false_rate <= 0.06
