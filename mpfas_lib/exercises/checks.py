"""Self-checks of the chapters' coding exercises: ``check("nb06-1", answer)``.

A check prints "correct" or "not yet: <hint>" (shape, range, a known misconception),
never the solution and never a traceback for a wrong answer. Each check is registered
under its exercise's label; the grader (``mpfas_lib.exercises.grade``) scores with the
same registry. Where the answer is a deterministic function of the library, the check
recomputes it; where it depends on the chapter's data, it checks what can be verified.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], "str | None"]  # None when correct, else a hint
CHECKS: dict[str, Check] = {}
GRADE_LOG = "MPFAS_GRADE_LOG"  # set by the grader: where check() records each result
STRICT = "MPFAS_STRICT_CHECKS"  # set by `make test` and `make book`: the book's answers must pass


def register(label: str) -> Callable[[Check], Check]:
    """Register the check of exercise ``label`` (e.g. ``ex-nb06-1``)."""

    def add(fn: Check) -> Check:
        CHECKS[label] = fn
        return fn

    return add


def normalise(label: str) -> str:
    """``nb06-1`` and ``ex-nb06-1`` name the same exercise."""
    return label if label.startswith("ex-") else f"ex-{label}"


def evaluate(label: str, answer: Any) -> tuple[bool, str]:
    """(correct, message) of an answer; a wrong or malformed answer never raises."""
    label = normalise(label)
    if label not in CHECKS:
        return False, f"not yet: there is no check for {label!r}"
    if answer is None or answer is Ellipsis:
        return False, "not yet: replace the `...` in the starter cell with your answer"
    try:
        hint = CHECKS[label](answer)
    except Exception as err:  # a malformed answer is a hint, not a traceback
        hint = f"could not read your answer ({type(err).__name__}: {err})"
    return (True, "correct") if hint is None else (False, f"not yet: {hint}")


def check(label: str, answer: Any) -> None:
    """Print whether ``answer`` solves exercise ``label`` ("correct" or a hint)."""
    ok, message = evaluate(label, answer)
    print(message)
    log = os.environ.get(GRADE_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"label": normalise(label), "correct": ok}) + "\n")
    if not ok and os.environ.get(STRICT) == "1":
        raise AssertionError(f"{normalise(label)}: the book's own answer fails its check")


# ---- helpers -------------------------------------------------------------------------

def _number(x: Any) -> float:
    """A plain float from a number, a 0-d tensor or array."""
    return float(x.item() if hasattr(x, "item") else x)


def _mapping(answer: Any, what: str) -> dict:
    if hasattr(answer, "to_dict") and not hasattr(answer, "columns"):  # a pandas Series
        answer = answer.to_dict()
    if not isinstance(answer, Mapping):
        raise TypeError(f"expected {what}, got {type(answer).__name__}")
    return dict(answer)


def _int_answer(answer: Any, truth: int, slips: dict[int, str]) -> str | None:
    value = _number(answer)
    if isinstance(answer, bool) or value != int(value):
        return "the answer is one whole number"
    if value == truth:
        return None
    return slips.get(int(value), "recount: write the count as a sum, one term per layer")


def _profile():
    from mpfas_lib.profile import get_profile

    return get_profile()


# ---- chapter 02: datasets and protocols ---------------------------------------------

@register("ex-nb02-1")
def _frames_per_domain(answer: Any) -> str | None:
    from mpfas_lib.data.protocols import build_protocol

    two = build_protocol("TWO:MI-C", "synthetic", _profile())
    sets = [*two.sources.values(), two.target]
    truth = sorted((sum(ds.labels), len(ds) - sum(ds.labels)) for ds in sets)
    if not hasattr(answer, "values") or getattr(answer, "ndim", 0) != 2:
        return "give a table (DataFrame) with one row per set and columns genuine, spoof"
    got = sorted(tuple(int(v) for v in row) for row in answer.values)
    if len(got) != len(truth):
        return f"there are {len(truth)} sets: each source domain's training set and the target"
    if got == truth:
        return None
    if got == sorted((s, g) for g, s in truth):
        return "genuine and spoof are swapped: genuine frames have label 1"
    if all(len(row) == 2 for row in got) and [sum(r) for r in got] == [sum(r) for r in truth]:
        return "the totals are right but the genuine/spoof split is not"
    return "the counts differ: use the protocol's source training sets and its target set"


@register("ex-nb02-2")
def _unseen_attacks(answer: Any) -> str | None:
    from mpfas_lib.data.protocols import PROTOCOLS
    from mpfas_lib.data.synthetic import from_profile

    attacks = {c["domain"]: set(c["attacks"]) for c in from_profile(_profile()).catalogue()}
    sources, target = PROTOCOLS["MICY:ICM-Y"]
    truth = attacks[target] - set().union(*(attacks[d] for d in sources))
    got = {answer} if isinstance(answer, str) else set(answer)
    if got == truth:
        return None
    if got >= truth:
        return "some of these attack types also occur in a source domain"
    return f"give a set of {len(truth)} attack type name(s) of the target domain"


@register("ex-nb02-3")
def _subject_overlap(answer: Any) -> str | None:
    pairs = _mapping(answer, "a dict {(split_a, split_b): shared subjects}")
    if len(pairs) != 3:
        return "compare the three pairs of splits: train/val, train/test, val/test"
    if any(len(shared) for shared in pairs.values()):
        return ("some pair shares subjects: compare subject ids (the second part of the "
                "video id), not whole video ids")
    return None


# ---- chapter 03: handcrafted features ------------------------------------------------

@register("ex-nb03-1")
def _lbp_invariance(answer: Any) -> str | None:
    values = [_number(v) for v in _mapping(answer, "a dict {transform: % unchanged}").values()]
    if len(values) != 3:
        return "give one value per transform (2 g, 0.5 g + 20, g^2 / 255), in that order"
    scale = 100.0 if max(values) > 1.0 else 1.0
    if not all(0 <= v <= scale for v in values):
        return "give the share of unchanged interior codes, between 0 and 100 %"
    if values[0] != scale:
        return ("doubling is exact in floating point, so every interior code should stay: "
                "did you leave out the one-pixel border?")
    if min(values) == scale:
        return "no code changed at all: apply the transforms to the grey levels before LBP"
    return None


@register("ex-nb03-2")
def _code_histograms(answer: Any) -> str | None:
    import torch

    hists = torch.as_tensor(answer, dtype=torch.float64)
    if hists.ndim != 2 or hists.shape[-1] != 256:
        return f"expected one row of 256 bins per frame, got shape {tuple(hists.shape)}"
    if (hists < 0).any():
        return "a histogram cannot have negative bins"
    if not torch.allclose(hists.sum(dim=1), torch.ones(len(hists), dtype=torch.float64)):
        return "normalise each histogram so that its bins sum to 1 before comparing them"
    return None


@register("ex-nb03-3")
def _domain_spread(answer: Any) -> str | None:
    import torch

    from mpfas_lib.data.datasets import to_tensor
    from mpfas_lib.data.synthetic import from_profile
    from mpfas_lib.features import build_map

    got = {str(k).lower(): _number(v) for k, v in _mapping(answer, "a dict {map: spread}").items()}
    names = ["rgb", "colorlbp", "hsv", "ycrcb"]
    if not set(names) <= set(got):
        return f"give a spread for each of {names}"
    if any(v < 0 for v in got.values()):
        return "a standard deviation is never negative"
    bench = from_profile(_profile())
    live = torch.stack([to_tensor(bench.render_video(d, 0, "live")[0])
                        for d in ["M", "I", "C", "O", "Y"]])
    truth = {"rgb": live.mean(dim=(1, 2, 3)).std().item()}
    for name in names[1:]:
        truth[name] = build_map(name)(live).mean(dim=(1, 2, 3)).std().item()
    wrong = [n for n in names if not math.isclose(got[n], truth[n], rel_tol=0.02, abs_tol=1e-6)]
    if not wrong:
        return None
    return (f"the spread of {', '.join(wrong)} differs: take the mean of each map over channels "
            "and pixels per domain (genuine frame of subject 0), then the standard deviation "
            "over the five domains")


# ---- chapter 04: the Meta Pattern extractor ------------------------------------------

@register("ex-nb04-1")
def _conv3_parameters(answer: Any) -> str | None:
    from mpfas_lib.models import build_extractor, count_parameters

    truth = count_parameters(build_extractor("conv3"))
    return _int_answer(answer, truth, {
        663: "the batch normalisations have parameters too (a weight and a bias per channel)",
        truth - 15: "each convolution has a bias: one per output channel",
        truth - 30 - 15: "add the biases and the batch normalisations' weights and biases",
    })


@register("ex-nb04-2")
def _cdc_constant(answer: Any) -> str | None:
    import torch

    out = torch.as_tensor(answer.detach() if hasattr(answer, "detach") else answer)
    if out.ndim != 4 or out.shape[-1] < 3 or out.shape[-2] < 3:
        return "give the layer's output, an [N, C, H, W] tensor of at least 3×3 pixels"
    if out[..., 1:-1, 1:-1].abs().max() > 1e-5:
        return ("the interior is not zero: use a constant image and cdc_theta=1.0 "
                "(θ = 1 subtracts the full central term)")
    if out.abs().max() <= 1e-5:
        return "the border should not vanish: keep the layer's zero padding"
    return None


@register("ex-nb04-3")
def _receptive_fields(answer: Any) -> str | None:
    got = {str(k).lower(): int(_number(v)) for k, v in
           _mapping(answer, "a dict {extractor: receptive field}").items()}
    sides = {"conv1": 3, "conv2": 5, "conv3": 7}
    if not set(sides) <= set(got):
        return "give the receptive field of conv1, conv2 and conv3"
    if all(got[n] == s for n, s in sides.items()) or all(got[n] == s * s for n, s in sides.items()):
        return None
    if got["conv1"] in (3, 9):
        return "each extra 3×3 convolution widens the field by one pixel on every side"
    return "a single 3×3 convolution sees a 3×3 neighbourhood: start from there"


# ---- chapter 05: hierarchical fusion -------------------------------------------------

@register("ex-nb05-1")
def _hfm_parameters(answer: Any) -> str | None:
    lateral = 2 * 256 * (512 + 1024 + 2048 + 3)
    top_down = 2 * (256 * 256 * 9 + 256)
    return _int_answer(answer, lateral + top_down, {
        lateral: "add the two 3×3 convolutions on the fused maps",
        top_down: "add the 1×1 alignment convolutions of both streams",
        (lateral + top_down) // 2: "there are two streams, each with its own convolutions",
        lateral - 2 * 3 * 256 + top_down - 2 * 256: "the convolutions carry biases",
    })


@register("ex-nb05-2")
def _map_sides(answer: Any) -> str | None:
    got = {int(k): int(_number(v)) for k, v in
           _mapping(answer, "a dict {input side: pixel-map side}").items()}
    if not {64, 96, 128} <= set(got):
        return "measure the inputs of 64, 96 and 128 pixels"
    wrong = [n for n, side in got.items() if side != n // 8]
    if wrong:
        return f"the side for {wrong} is not what the network produces: read pixel_map.shape[-1]"
    return None


@register("ex-nb05-3")
def _redundant_parameters(answer: Any) -> str | None:
    per_conv = 256 * 256 * 9 + 256
    return _int_answer(answer, 2 * per_conv, {
        4 * per_conv: "only one conv of each pair can go: the other one must stay",
        per_conv: "there are two levels of 3×3 convolutions",
        2 * 256 * 256 * 9: "count the biases too",
    })


@register("ex-nb05-4")
def _rgb_only(answer: Any) -> str | None:
    from mpfas_lib.models import build_hfn, count_parameters

    if not hasattr(answer, "parameters"):
        return "give the RGB-only network you built (a torch module)"
    truth = count_parameters(build_hfn(_profile(), streams="rgb"))
    both = count_parameters(build_hfn(_profile()))
    got = count_parameters(answer)
    if got == truth:
        return None
    if got == both:
        return "this network still has both streams: pass streams=\"rgb\""
    return "build it for the current profile (S.profile) with build_hfn"


# ---- chapter 06: Algorithm 1 ----------------------------------------------------------

@register("ex-nb06-1")
def _split_counts(answer: Any) -> str | None:
    counts = {k: int(_number(v)) for k, v in _mapping(answer, "a Counter of splits").items()}
    total = sum(counts.values())
    if len(counts) == 3:
        return "(D_φ, D_θ) is ordered: which group is D_φ matters"
    if len(counts) > 6:
        return "both groups must be non-empty (and each split counted once)"
    if len(counts) != 6:
        return f"found {len(counts)} different splits; count them over many draws"
    if total < 600:
        return "draw more often (3000 draws) to see how often each split appears"
    if any(abs(c - total / 6) > 0.2 * total / 6 for c in counts.values()):
        return "the counts are far from equal: draw with split_domains, a fresh split each time"
    return None


@register("ex-nb06-2")
def _erm_moves(answer: Any) -> str | None:
    import pandas as pd

    rows = pd.DataFrame(getattr(answer, "rows", answer))
    needed = ["|Φ−Φ0|", "|Θ−Θ0|"]
    if not set(needed) <= set(rows.columns) or len(rows) < 2:
        return "give the trace's rows (a start row and a row after the step)"
    last = rows.iloc[-1]
    if last[needed[0]] == 0 and last[needed[1]] == 0:
        return "nothing moved: call erm_step once, then record the state once more"
    if last[needed[0]] == 0 or last[needed[1]] == 0:
        return "only one part moved: the optimiser should hold the whole Pipeline's parameters"
    return None


# ---- chapter 07: evaluation ----------------------------------------------------------

@register("ex-nb07-1")
def _ranking_metrics(answer: Any) -> str | None:
    if not hasattr(answer, "iloc") or answer.shape != (3, 2):
        return "give a 3×2 table: rows AUC, EER, HTER@0.5; columns original, transformed"
    values = [[_number(v) for v in row] for row in answer.values]
    if any(not math.isclose(a, b, abs_tol=1e-9) for a, b in values[:2]):
        return "AUC or EER changed: the transformation must be strictly increasing"
    if math.isclose(values[2][0], values[2][1], abs_tol=1e-12):
        return "the HTER at 0.5 did not change: threshold the transformed scores"
    return None


@register("ex-nb07-2")
def _oracle_without_shift(answer: Any) -> str | None:
    table = answer.T if "mean" in getattr(answer, "index", []) else answer
    if not hasattr(table, "columns") or "mean" not in table.columns or len(table) != 3:
        return ("give the table of means and standard deviations (rows: target-EER oracle, "
                "min over thresholds, source threshold's true error)")
    oracle, minimum, true = (_number(v) for v in table["mean"])
    if not (0 <= min(oracle, minimum, true) and max(oracle, minimum, true) <= 100):
        return "HTERs are percentages between 0 and 100"
    if minimum > oracle + 1e-9:
        return "the minimum over thresholds can never exceed the HTER at any one threshold"
    if not minimum < true:
        return "repeat the draw many times (200) with 20 target videos per class"
    return None


@register("ex-nb07-3")
def _hter_acer(answer: Any) -> str | None:
    hter, acer = (_number(v) for v in answer)
    slips = {16.0: "ACER takes the worst attack type's APCER, not their mean",
             17.5: "HTER pools all spoofs: average the two FARs first"}
    if math.isclose(hter, 10.5) and math.isclose(acer, 17.5):
        return None
    if not math.isclose(hter, 10.5):
        return slips.get(hter, "HTER = (pooled FAR + FRR) / 2, in %")
    return slips.get(acer, "ACER = (max APCER over attack types + BPCER) / 2, in %")


# ---- chapter 09: ablations -----------------------------------------------------------

@register("ex-nb09-1")
def _extractor_parameters(answer: Any) -> str | None:
    from mpfas_lib.models import build_extractor, count_parameters
    from mpfas_lib.models.extractor import EXTRACTOR_NAMES

    got = {str(k).lower(): _number(v) for k, v in
           _mapping(answer, "a dict {extractor: parameters}").items()}
    missing = [n for n in EXTRACTOR_NAMES if n not in got]
    if missing:
        return f"count the parameters of every extractor, also {missing}"
    wrong = [n for n in EXTRACTOR_NAMES if got[n] != count_parameters(build_extractor(n))]
    if wrong:
        return f"the counts of {wrong} are off: use count_parameters(build_extractor(name))"
    return None


@register("ex-nb09-2")
def _spread_over_k(answer: Any) -> str | None:
    values = [_number(v) for v in _mapping(answer, "a Series {K variant: mean HTER}").values()]
    if len(values) != 4:
        return "give the mean HTER (over seeds) of each of the four values of K"
    if not all(0 <= v <= 100 for v in values):
        return "HTERs are percentages between 0 and 100"
    return None
