"""Self-checks of the chapters' coding exercises: ``check("nb06-1", answer)``.

A check prints "correct" or "not yet: <hint>" (shape, range, a known misconception),
never the solution and never a traceback for a wrong answer. Each check is registered
under its exercise's label with an optional *probe* (run where the answer lives: it turns a
network or a function into data) and the names of chapter variables it needs as
*context*. What a check judges is always the data copy of the answer
(:mod:`mpfas_lib.exercises.answers`), in the notebook and in the grader alike: the grader
(:mod:`mpfas_lib.exercises.grade`) receives that data from the student's kernel and judges it
in its own process. Where the answer is a deterministic function of the library or of the
chapter's context, the check recomputes it; the answers are not written here.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpfas_lib.exercises.answers import MIME, AnswerError, dumps, loads

Judge = Callable[..., "str | None"]  # None when correct, else a hint


@dataclass(frozen=True)
class Check:
    """One exercise's check: the judge, the probe that makes the answer data, its context."""

    judge: Judge
    probe: Callable[..., Any] | None = None
    context: tuple[str, ...] = ()
    probe_context: tuple[str, ...] = ()  # chapter variables the probe needs besides the answer


CHECKS: dict[str, Check] = {}
STRICT = "MPFAS_STRICT_CHECKS"  # set by `make test` and `make book`: the book's answers must pass
UNANSWERED = "not yet: replace the `...` in the starter cell with your answer"


def register(label: str, probe: Callable[..., Any] | None = None,
             context: Sequence[str] = (), probe_context: Sequence[str] = ()
             ) -> Callable[[Judge], Judge]:
    """Register the judge of exercise ``label`` (e.g. ``ex-nb06-1``).

    The judge gets the answer's data copy (and ``context``, a dict of the named chapter
    variables, when it names any); ``probe`` runs first, on the live answer (and on a dict
    of the chapter variables named by ``probe_context``, live too, when it names any).
    """

    def add(fn: Judge) -> Judge:
        CHECKS[label] = Check(fn, probe, tuple(context), tuple(probe_context))
        return fn

    return add


def normalise(label: str) -> str:
    """``nb06-1`` and ``ex-nb06-1`` name the same exercise."""
    return label if label.startswith("ex-") else f"ex-{label}"


def _unanswered(answer: Any) -> bool:
    """The starter's ``...`` (or None), alone or in the tuple of a multi-part answer."""
    parts = answer if isinstance(answer, tuple) else (answer,)
    return any(part is None or part is Ellipsis for part in parts)


def as_data(label: str, answer: Any, namespace: Mapping[str, Any] | None = None) -> dict:
    """The JSON text of what the judge of ``label`` reads: the probed answer and its context.

    Runs where the answer lives (the student's kernel); raises AnswerError for an answer that
    is not data.
    """
    entry = CHECKS.get(normalise(label))
    if entry is not None and entry.probe is not None and not _unanswered(answer):
        answer = entry.probe(answer, _chapter_variables(entry.probe_context, namespace)) \
            if entry.probe_context else entry.probe(answer)
    context = {}
    names = entry.context if entry and not _unanswered(answer) else ()
    for name, value in _chapter_variables(names, namespace).items():
        context[name] = dict(value.state_dict()) if hasattr(value, "state_dict") else value
    return {"answer": dumps(answer), "context": dumps(context)}


def _chapter_variables(names: Sequence[str], namespace: Mapping[str, Any] | None) -> dict:
    """The chapter's variables ``names`` from ``namespace``; an AnswerError for a missing one."""
    found = {}
    for name in names:
        if namespace is None or name not in namespace:
            raise AnswerError(f"the chapter's variable {name!r} is not defined: run the "
                              "chapter's cells above first")
        found[name] = namespace[name]
    return found


def judge(label: str, data: Mapping[str, str]) -> tuple[bool, str]:
    """(correct, message) of an answer's data copy (:func:`as_data`); never raises."""
    label = normalise(label)
    if label not in CHECKS:
        return False, f"not yet: there is no check for {label!r}"
    entry = CHECKS[label]
    try:
        if "error" in data:
            return False, f"not yet: {data['error']}"
        answer = loads(data["answer"])
        context = loads(data["context"]) if entry.context else {}
    except (AnswerError, KeyError, TypeError) as err:
        return False, f"not yet: your answer could not be read ({err})"
    if _unanswered(answer):
        return False, UNANSWERED
    try:
        hint = entry.judge(answer, context) if entry.context else entry.judge(answer)
    except Exception as err:  # a malformed answer is a hint, not a traceback
        hint = f"could not read your answer ({type(err).__name__}: {err})"
    return (True, "correct") if hint is None else (False, f"not yet: {hint}")


def _data_or_error(label: str, answer: Any, namespace: Mapping[str, Any] | None) -> dict:
    try:
        return as_data(label, answer, namespace)
    except Exception as err:  # a probe on a wrong object, or an object that is not data
        return {"error": f"could not read your answer ({type(err).__name__}: {err})"}


def evaluate(label: str, answer: Any,
             context: Mapping[str, Any] | None = None) -> tuple[bool, str]:
    """(correct, message) of a live answer, judged on its data copy as the grader does."""
    return judge(label, _data_or_error(label, answer, context))


def check(label: str, answer: Any) -> None:
    """Print whether ``answer`` solves exercise ``label`` ("correct" or a hint)."""
    ok, message = evaluate(label, answer, sys._getframe(1).f_globals)
    print(message)
    if not ok and os.environ.get(STRICT) == "1":
        raise AssertionError(f"{normalise(label)}: the book's answer fails its check: {message}")


def export(label: str, answer: Callable[[], Any]) -> None:
    """The grader's cell in the student's kernel: show the answer's data copy (MIME output).

    ``answer`` is a function returning the answer, so that a name the student never defined
    becomes a message instead of an error.
    """
    from IPython.display import display

    namespace = sys._getframe(1).f_globals
    try:
        value = answer()
    except Exception as err:
        data = {"error": f"your answer is not defined where the check runs "
                         f"({type(err).__name__}: {err})"}
    else:
        data = _data_or_error(label, value, namespace)
    display({MIME: {"label": normalise(label), **data}}, raw=True)


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


def _all_close(a: list[float], b: list[float], **tolerance: float) -> bool:
    """Same length and every pair close (math.isclose)."""
    return len(a) == len(b) and all(
        math.isclose(x, y, **tolerance) for x, y in zip(a, b, strict=True))


def _profile():
    from mpfas_lib.profile import get_profile

    return get_profile()


# ---- chapter 01: getting started -----------------------------------------------------

def _pixel_map_truth(name: str) -> tuple[int, int]:
    """Exercise 1.1 recomputed from a profile: (cells of the pixel map, patch side)."""
    from mpfas_lib.profile import get_profile

    p = get_profile(name)
    return p.map_size**2, p.image_size // p.map_size


@register("ex-nb01-1")
def _pixel_map_cells(answer: Any) -> str | None:
    got = _mapping(answer, 'a dict {"quick": (cells, patch side), "full": (...)}')
    if not {"quick", "full"} <= set(got):
        return "give both profiles, quick and full"
    truth = {name: _pixel_map_truth(name) for name in ("quick", "full")}
    for name, other in (("quick", "full"), ("full", "quick")):
        pair = tuple(_number(v) for v in got[name])
        cells, side = truth[name]
        if pair == (cells, side):
            continue
        if pair == (side, cells):
            return f"{name}: give (number of cells, patch side), in that order"
        if pair == truth[other]:
            return f"{name}: these are the numbers of the {other} profile: read each by its name"
        if pair[0] ** 2 == cells:
            return f"{name}: the map is a square: count all its cells, not those along one side"
        if pair[1] == side**2:
            return f"{name}: give the patch's side in pixels, not its area"
        return (f"{name}: read the profile's image size and map size (get_profile(name)); "
                "the map is taken at stride 8")
    return None


@register("ex-nb01-2")
def _faces_per_iteration(answer: Any) -> str | None:
    from mpfas_lib.profile import get_profile
    from mpfas_lib.training import get_method

    got = {str(k).lower(): _number(v) for k, v in
           _mapping(answer, 'a dict {"official": ..., "paper": ..., "erm": ...}').items()}
    if not {"official", "paper", "erm"} <= set(got):
        return "give the faces per iteration of official mode, paper mode and ERM"
    k, K = get_profile("full").batch_per_class, get_method("mp").inner_steps
    faces = lambda n_phi: 2 * k * (K * n_phi + 3 - n_phi)  # noqa: E731
    if got["erm"] != 2 * k * 3:
        return ("ERM takes one batch of all three domains: k genuine and k spoof faces each"
                if got["erm"] != k * 3 else "a batch holds k genuine *and* k spoof faces")
    if got["official"] != faces(1):
        if got["official"] == 2 * k * 3:
            return "D_φ is seen K times (K inner steps), D_θ once"
        if got["official"] == faces(1) // 2:
            return "a batch holds k genuine *and* k spoof faces per domain"
        return "official mode: one domain in D_φ (K batches), two in D_θ (one batch)"
    if math.isclose(got["paper"], faces(2), abs_tol=0.5):
        return "paper mode puts one or two domains in D_φ, each half of the time: average"
    if not math.isclose(got["paper"], (faces(1) + faces(2)) / 2, abs_tol=1.5):
        return "paper mode: average the count over the sizes of D_φ that split_domains draws"
    return None


@register("ex-nb01-3")
def _momentum_steps(answer: Any) -> str | None:
    steps = [_number(s) for s in answer]
    if len(steps) < 30:
        return "take more steps (about 60): momentum needs a few tens of steps to build up"
    if steps[0] <= 0:
        return "record each step as w before − w after: with gradient 1, SGD moves w down"
    ratios = [s / steps[0] for s in steps]
    plain = [(1 - 0.9 ** (t + 1)) / (1 - 0.9) for t in range(len(steps))]
    nesterov = [(1 + 0.9 * b) / 1.9 for b in plain]
    close = lambda a, b: _all_close(a, b, rel_tol=1e-3)  # noqa: E731
    if close(ratios, [1.0] * len(steps)):
        return "the steps do not grow: use momentum=0.9 (and leave dampening at 0)"
    if close(ratios, nesterov):
        return "these are Nesterov steps: use plain momentum (nesterov=False)"
    if close(ratios, list(itertools.accumulate(plain))):
        return ("these are how far w has gone from its start: record the length of each "
                "step on its own")
    if not close(ratios, plain):
        return ("the steps do not grow as momentum predicts: keep the gradient at 1 and the "
                "learning rate fixed, and record one step per optimiser step")
    return None


# ---- chapter 02: datasets and protocols ---------------------------------------------

def _class_counts(records: Sequence[Any], per_video: bool = False) -> tuple[int, int]:
    """(genuine, spoof) frames of a set's records, or videos with ``per_video``."""
    if per_video:
        records = list({r.video_id: r for r in records}.values())
    genuine = sum(r.label == 1 for r in records)
    return genuine, len(records) - genuine


def _two_source_counts(sources: str = "train", target: str | None = None,
                       per_video: bool = False) -> list[tuple[int, int]]:
    """Exercise 2.1 recomputed: the sorted (genuine, spoof) counts of TWO:MI-C's sets.

    By default the protocol's own sets; ``sources`` and ``target`` name other splits of the
    same domains (the slips of taking a wrong split).
    """
    from mpfas_lib.data.protocols import build_protocol
    from mpfas_lib.data.synthetic import from_profile

    two = build_protocol("TWO:MI-C", "synthetic", _profile())
    bench = from_profile(_profile())
    sets = [two.sources[d].records if sources == "train" else
            bench.dataset(d, sources).records for d in sorted(two.sources)]
    sets.append(two.target.records if target is None else
                bench.dataset(two.target_domain, target).records)
    return sorted(_class_counts(records, per_video) for records in sets)


@register("ex-nb02-1")
def _frames_per_domain(answer: Any) -> str | None:
    if not hasattr(answer, "values") or getattr(answer, "ndim", 0) != 2:
        return "give a table (DataFrame) with one row per set and columns genuine, spoof"
    truth = _two_source_counts()
    got = sorted(tuple(int(v) for v in row) for row in answer.values)
    if len(got) != len(truth):
        return f"there are {len(truth)} sets: each source domain's training set and the target"
    if got == truth:
        return None
    if got == sorted((s, g) for g, s in truth):
        return "genuine and spoof are swapped: genuine frames have label 1"
    if got == _two_source_counts(per_video=True):
        return "these count videos: the sampler draws frames, count those"
    if got == _two_source_counts(target="train"):
        return ("the target row: a protocol evaluates on the target domain's test videos, "
                "the set it calls its target")
    if any(got == _two_source_counts(sources=split) for split in ("val", "test")):
        return "the source rows: take each source domain's training set"
    if all(len(row) == 2 for row in got) and [sum(r) for r in got] == [sum(r) for r in truth]:
        return "the totals are right but the genuine/spoof split is not"
    return "the counts differ: use the protocol's source training sets and its target set"


@register("ex-nb02-2")
def _unseen_attacks(answer: Any) -> str | None:
    from mpfas_lib.data.protocols import PROTOCOLS
    from mpfas_lib.data.synthetic import from_profile

    catalogue = {c["domain"]: c["attacks"] for c in from_profile(_profile()).catalogue()}
    attacks = {d: set(kinds) for d, kinds in catalogue.items()}
    sources, target = PROTOCOLS["MICY:ICM-Y"]
    seen = set().union(*(attacks[d] for d in sources))
    truth = attacks[target] - seen
    got = {answer} if isinstance(answer, str) else {str(a) for a in answer}
    if got == truth:
        return None
    if got and got <= seen - attacks[target]:
        return "the other way round: the target's attack types that no source domain has"
    instruments = {i for kinds in catalogue.values() for found in kinds.values() for i in found}
    if got and got <= instruments - set().union(*attacks.values()):
        return ("these name the instruments (printers, screens): compare the attack types "
                "themselves, the catalogue's keys")
    if got > truth:
        return "some of these attack types also occur in a source domain"
    if got < truth or not got:
        return "some attack type of the target occurs in no source domain: look again"
    return "compare the target's attack types with those of every source domain"


_SPLITS = ("train", "val", "test")


def _split_subjects(domain: str, part: Callable[[str], str]) -> dict[str, set[str]]:
    """{split: {part(video id)}} of one domain of the synthetic benchmark."""
    from mpfas_lib.data.synthetic import from_profile

    bench = from_profile(_profile())
    return {split: {part(r.video_id) for r in bench.dataset(domain, split).records}
            for split in _SPLITS}


@register("ex-nb02-3")
def _subject_overlap(answer: Any) -> str | None:
    subjects, overlap = answer
    subjects = {str(k): {str(v) for v in vs} for k, vs in
                _mapping(subjects, "subjects: a dict {split: set of subject ids}").items()}
    if any(v.count("/") == 1 for vs in subjects.values() for v in vs):  # "O/s000" names one too
        if any(not v.startswith("O/") for vs in subjects.values() for v in vs):
            return "subjects: take the splits of domain O"
        subjects = {k: {v.split("/")[1] for v in vs} for k, vs in subjects.items()}
    if set(subjects) != set(_SPLITS):
        return f"subjects: one set of subject ids per split, keyed {list(_SPLITS)}"
    subject_of = lambda video: video.split("/")[1]  # noqa: E731
    truth = _split_subjects("O", subject_of)
    if subjects != truth:
        if subjects == _split_subjects("O", lambda video: video):
            return ("subjects: a subject recorded several videos, so whole video ids never "
                    "repeat across splits: keep only the part that names the subject")
        if all(len(vs) == 1 for vs in subjects.values()):
            return "subjects: a video id starts with its domain; which part names the person?"
        return "subjects: collect the subject of every record of domain O's three splits"
    pairs = {tuple(str(s) for s in k): {str(v) for v in vs} for k, vs in
             _mapping(overlap, "overlap: a dict {(split_a, split_b): shared subjects}").items()}
    expected = {(a, b) for i, a in enumerate(_SPLITS) for b in _SPLITS[i + 1:]}
    if {tuple(sorted(k, key=_SPLITS.index)) for k in pairs} != expected or len(pairs) != 3:
        return "overlap: compare the three pairs of splits: train/val, train/test, val/test"
    for (a, b), shared in pairs.items():
        if shared != truth[a] & truth[b]:
            return (f"overlap[({a!r}, {b!r})]: the subjects that occur in both splits, "
                    "from the sets you collected")
    return None


# ---- chapter 03: handcrafted features ------------------------------------------------

_CODE_KINDS = ("live", "print", "replay", "mask")  # chapter 03's frames of subject 0 in Y


def _chapter03_frames() -> Any:
    """Chapter 03's frames: the first frame of subject 0's videos of each kind in domain Y."""
    import torch

    from mpfas_lib.data.datasets import to_tensor
    from mpfas_lib.data.synthetic import from_profile

    bench = from_profile(_profile())
    return torch.stack([to_tensor(bench.render_video("Y", 0, k)[0]) for k in _CODE_KINDS])


def _unchanged_codes(frames: Any, frame: int = 0, channel: int = 0, scale: float = 255.0,
                     border: bool = False) -> list[float]:
    """Exercise 3.1 recomputed: % of LBP codes kept by 2 g, 0.5 g + 20 and g² / 255."""
    from mpfas_lib.features import local_binary_pattern

    grey = frames[frame, channel].double() * scale
    inner = (lambda c: c) if border else (lambda c: c[1:-1, 1:-1])  # noqa: E731
    codes = lambda g: inner(local_binary_pattern(g[None, None])[0, 0])  # noqa: E731
    base = codes(grey)
    return [100 * (codes(f(grey)) == base).double().mean().item()
            for f in (lambda g: 2 * g, lambda g: 0.5 * g + 20, lambda g: g**2 / 255)]


@register("ex-nb03-1")
def _lbp_invariance(answer: Any) -> str | None:
    values = [_number(v) for v in _mapping(answer, "a dict {transform: % unchanged}").values()]
    if len(values) != 3:
        return "give one value per transform (2 g, 0.5 g + 20, g^2 / 255), in that order"
    if not all(0 <= v <= 100 for v in values):
        return "give the share of unchanged interior codes, between 0 and 100 %"
    frames = _chapter03_frames()
    close = lambda truth: _all_close(values, truth, abs_tol=1e-6)  # noqa: E731
    truth = _unchanged_codes(frames)
    if close(truth):
        return None
    if close([v / 100 for v in truth]):
        return "give percentages (0 to 100), not fractions"
    if close([100 - v for v in truth]):
        return "these are the shares of codes that changed: give those that stayed"
    if sorted(values) == sorted(truth):
        return "keep the order asked: 2 g, 0.5 g + 20, g^2 / 255"
    slips = [(dict(border=True), "leave out the one-pixel border, where the zero padding "
              "is not transformed"),
             (dict(scale=1.0), "the transforms act on grey levels from 0 to 255, not on "
              "values in [0, 1]"),
             (dict(channel=1), "take the red channel"), (dict(channel=2), "take the red channel"),
             *((dict(frame=k), "take the genuine frame") for k in range(1, len(frames)))]
    for options, hint in slips:
        if close(_unchanged_codes(frames, **options)):
            return hint
    if min(values) == 100:
        return "no code changed at all: apply the transforms to the grey levels before LBP"
    return ("these are not the shares of the chapter's genuine frame: the red channel's "
            "interior codes, before and after each transform")


def _green_histograms(channel: int = 1, scale: float = 255.0) -> Any:
    """Exercise 3.2 recomputed: normalised 256-bin histograms of one channel's LBP codes."""
    import torch

    from mpfas_lib.features import build_map

    frames = _chapter03_frames()
    codes = torch.round(build_map("colorlbp")(frames) * scale)[:, channel].long()
    hists = torch.stack([torch.bincount(c.flatten(), minlength=256).double() for c in codes])
    return hists / hists.sum(dim=1, keepdim=True)


def _chi2(a: Any, b: Any) -> float:
    return float(((a - b) ** 2 / (a + b).clamp_min(1e-12)).sum())


@register("ex-nb03-2")
def _code_histograms(answer: Any) -> str | None:
    import torch

    if not isinstance(answer, tuple) or len(answer) != 2:
        return "give (hists, distance): one row of 256 bins per frame, and the χ² distance"
    hists, distance = answer
    hists = torch.as_tensor(hists, dtype=torch.float64)
    if hists.ndim != 2 or hists.shape[-1] != 256:
        return f"expected one row of 256 bins per frame, got shape {tuple(hists.shape)}"
    if (hists < 0).any():
        return "a histogram cannot have negative bins"
    if not torch.allclose(hists.sum(dim=1), torch.ones(len(hists), dtype=torch.float64)):
        return "normalise each histogram so that its bins sum to 1 before comparing them"
    if len(hists) not in (2, 4):
        return "one histogram per frame: the genuine and the replay frame (or all four)"
    rows = [0, 2] if len(hists) == 2 else [0, 1, 2, 3]
    same = lambda truth: torch.allclose(hists, truth[rows], atol=1e-9)  # noqa: E731
    truth = _green_histograms()
    if not same(truth):
        if same(_green_histograms(channel=0)) or same(_green_histograms(channel=2)):
            return "these are the codes of another colour channel: the exercise asks for green"
        if same(_green_histograms(scale=1.0)):
            return "the map stores each code scaled into [0, 1]: bring back the 8-bit code"
        return ("these are not the green channel's code histograms of the chapter's frames "
                "(genuine, print, replay, mask, in that order)")
    distance, expected = _number(distance), _chi2(truth[0], truth[2])
    if math.isclose(distance, expected, rel_tol=1e-6):
        return None
    if math.isclose(distance, expected / 2, rel_tol=1e-6):
        return "the distance is half the expected one: the book's χ² lies between 0 and 2"
    if math.isclose(distance, _chi2(truth[0], truth[1]), rel_tol=1e-6):
        return "the distance compares the genuine with the print frame: take the replay frame"
    return "the χ² distance between the genuine and the replay histogram is off"


_SPREAD_MAPS = ("rgb", "colorlbp", "hsv", "ycrcb")


def _domain_spread_truth(kind: str = "live", ddof: int = 1, relative: bool = False
                         ) -> dict[str, float]:
    """Exercise 3.3 recomputed: the spread over the five domains of each map's mean."""
    import torch

    from mpfas_lib.data.datasets import to_tensor
    from mpfas_lib.data.synthetic import from_profile
    from mpfas_lib.features import build_map

    bench = from_profile(_profile())
    frames = torch.stack([to_tensor(bench.render_video(d, 0, kind)[0])
                          for d in ["M", "I", "C", "O", "Y"]])
    means = {name: (frames if name == "rgb" else build_map(name)(frames)).mean(dim=(1, 2, 3))
             for name in _SPREAD_MAPS}
    spread = {n: m.std(correction=ddof) for n, m in means.items()}
    return {n: float(s / means[n].mean() if relative else s) for n, s in spread.items()}


@register("ex-nb03-3")
def _domain_spread(answer: Any) -> str | None:
    if hasattr(answer, "columns") and "std over domains" in answer.columns:
        answer = answer["std over domains"]  # the chapter's table: one row per map
    got = {str(k).lower(): _number(v) for k, v in _mapping(answer, "a dict {map: spread}").items()}
    names = list(_SPREAD_MAPS)
    if not set(names) <= set(got):
        return f"give a spread for each of {names}"
    if any(v < 0 for v in got.values()):
        return "a standard deviation is never negative"
    close = lambda truth, n: math.isclose(got[n], truth[n], rel_tol=0.02,  # noqa: E731
                                          abs_tol=1e-6)
    truth = _domain_spread_truth()
    wrong = [n for n in names if not close(truth, n)]
    if not wrong:
        return None
    slips = [(dict(ddof=0), "use the sample standard deviation (ddof = 1, torch's and "
              "pandas' default), as over any small sample"),
             (dict(relative=True), "give the standard deviation itself, not relative to the "
              "map's mean"),
             (dict(kind="replay"), "take the genuine frames")]
    for options, hint in slips:
        if all(close(_domain_spread_truth(**options), n) for n in names):
            return hint
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


def _cdc_parts(answer: Any) -> dict:
    """(layer, image, out) as data: the layer's weights and settings, the image, the output."""
    if not isinstance(answer, tuple) or len(answer) != 3:
        return {"parts": False}
    layer, image, out = answer
    weight = getattr(layer, "weight", None)
    settings = None
    if hasattr(weight, "shape") and hasattr(layer, "cdc_theta"):
        bias = getattr(layer, "bias", None)
        settings = {"weight": weight, "bias": bias, "theta": float(layer.cdc_theta),
                    "stride": [int(s) for s in layer.stride]}
    return {"parts": True, "layer": settings, "image": image, "out": out}


def _cdc_response(layer: dict, image: Any) -> Any:
    """Exercise 4.2 recomputed: the library's CDC layer with the answer's weights, on its image."""
    import torch

    from mpfas_lib.models import CDConv2d

    weight = torch.as_tensor(layer["weight"]).double()
    bias = layer["bias"]
    out_ch, in_ch, k, _ = weight.shape
    conv = CDConv2d(in_ch, out_ch, k, padding=k // 2, stride=layer["stride"][0],
                    bias=bias is not None, cdc_theta=layer["theta"]).double()
    state = {"weight": weight, **({} if bias is None else {"bias": torch.as_tensor(bias)})}
    conv.load_state_dict(state)
    with torch.no_grad():
        return conv(image)


@register("ex-nb04-2", probe=_cdc_parts)
def _cdc_constant(answer: Any) -> str | None:
    import torch

    if not isinstance(answer, dict) or not answer.get("parts"):
        return "give (cdc1, const, out): the CDC layer, the constant image and its output"
    layer = answer["layer"]
    if layer is None:
        return "cdc1: give the CDC layer itself (a CDConv2d)"
    image = torch.as_tensor(answer["image"]).double()
    out = torch.as_tensor(answer["out"]).double()
    if image.ndim != 4 or image.shape[1] != torch.as_tensor(layer["weight"]).shape[1]:
        return "const: an image batch [N, C, H, W] with the layer's input channels"
    if out.ndim != 4 or out.shape[-1] < 3 or out.shape[-2] < 3:
        return "out: the layer's output, an [N, C, H, W] tensor of at least 3×3 pixels"
    if not torch.equal(image.amax(dim=(-2, -1)), image.amin(dim=(-2, -1))):
        return "const: a constant image has the same value at every pixel"
    truth = _cdc_response(layer, image)
    if out.shape != truth.shape or not torch.allclose(out, truth, rtol=1e-4, atol=1e-5):
        return "out is not the output of the layer you give on the image you give"
    if layer["theta"] != 1.0:
        return "with this θ the central term stays in part: the exercise asks for θ = 1"
    if image.abs().max() == 0:
        return "an all-zero image gives zero everywhere: take a constant that is not zero"
    interior = out[..., 1:-1, 1:-1]
    if layer["bias"] is not None and interior.abs().max() > 1e-5:
        return ("the interior holds the bias, which is added everywhere: build the layer "
                "without one to see the central differences alone")
    if out.abs().max() <= 1e-5:
        return "the border should not vanish: keep the layer's zero padding"
    return None


def _receptive_side(name: str, size: int = 15, draws: int = 3) -> int:
    """Exercise 4.3 recomputed: columns of the input that reach the centre output pixel."""
    import torch

    from mpfas_lib.models import build_extractor

    touched = torch.zeros(size, dtype=torch.bool)
    with torch.random.fork_rng(devices=[]):  # the student's random state stays as it was
        torch.manual_seed(0)
        for _ in range(draws):  # several draws, so that no dead unit hides a column
            net = build_extractor(name).eval()
            inp = torch.rand(1, 3, size, size, requires_grad=True)
            net(inp)[0, :, size // 2, size // 2].sum().backward()
            touched |= (inp.grad.abs().sum(dim=1)[0] > 0).any(dim=0)
    return int(touched.sum())


@register("ex-nb04-3")
def _receptive_fields(answer: Any) -> str | None:
    got = {str(k).lower(): int(_number(v)) for k, v in
           _mapping(answer, "a dict {extractor: receptive field}").items()}
    names = ("conv1", "conv2", "conv3")
    if not set(names) <= set(got):
        return "give the receptive field of conv1, conv2 and conv3"
    sides = {n: _receptive_side(n) for n in names}
    values = [got[n] for n in names]
    if all(got[n] == s for n, s in sides.items()):
        return None
    if all(got[n] == s * s for n, s in sides.items()):
        return "give the side of the square (the columns it spans), not its number of pixels"
    if len(set(values)) == 1 and values[0] > max(sides.values()):
        return ("every pixel seems to matter: in training mode batch normalisation mixes all "
                "pixels of the batch; measure in evaluation mode")
    if all(got[n] == s // 2 for n, s in sides.items()):
        return "give the side of the square, not how far it reaches from the centre"
    if all(got[n] == s - 1 for n, s in sides.items()):
        return "count the columns the field spans, the centre column included"
    return ("a 3×3 convolution reaches past its centre on both sides: count how far the "
            "field grows with each one")


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


def _pixel_map_sides(sides: Sequence[int]) -> dict[int, int]:
    """Exercise 5.2 recomputed: the side of the quick backbone's pixel map per input side."""
    import torch

    from mpfas_lib.models import HFN

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        net = HFN(backbone="resnet18-w16").eval()
        out = {n: net(torch.zeros(1, 3, n, n), torch.zeros(1, 3, n, n)).pixel_map
               for n in sides}
    return {n: int(value.shape[-1]) for n, value in out.items()}


@register("ex-nb05-2")
def _map_sides(answer: Any) -> str | None:
    got = {int(k): _number(v) for k, v in
           _mapping(answer, "a dict {input side: pixel-map side}").items()}
    if not {64, 96, 128} <= set(got):
        return "measure the inputs of 64, 96 and 128 pixels"
    truth = _pixel_map_sides(sorted(got))
    if got == truth:
        return None
    if all(got[n] == side**2 for n, side in truth.items()):
        return "give the map's side, not its number of cells"
    if all(got[n] == n for n in truth):
        return "these are the input sides: give the side of the pixel map the network returns"
    wrong = [n for n, side in truth.items() if got[n] != side]
    return (f"the side for {wrong} is not what the network produces: measure the pixel map "
            "of the network's output")


@register("ex-nb05-3")
def _redundant_parameters(answer: Any) -> str | None:
    per_conv = 256 * 256 * 9 + 256
    return _int_answer(answer, 2 * per_conv, {
        4 * per_conv: "only one conv of each pair can go: the other one must stay",
        per_conv: "there are two levels of 3×3 convolutions",
        2 * 256 * 256 * 9: "count the biases too",
    })


def _parameter_shapes(module: Any) -> dict:
    """A network as data: the name and shape of each of its parameters."""
    if not hasattr(module, "named_parameters"):
        return {"module": False}
    return {"module": True,
            "shapes": {name: list(p.shape) for name, p in module.named_parameters()}}


def _hfn_shapes(profile: Any, **overrides: Any) -> dict[str, list[int]]:
    """The parameter shapes of build_hfn(profile, **overrides), built without touching the RNG."""
    import torch

    from mpfas_lib.models import build_hfn

    with torch.random.fork_rng(devices=[]):
        return _parameter_shapes(build_hfn(profile, **overrides))["shapes"]


@register("ex-nb05-4", probe=_parameter_shapes)
def _rgb_only(answer: Any) -> str | None:
    from mpfas_lib.profile import PROFILES

    if not isinstance(answer, dict) or not answer.get("module"):
        return "give the RGB-only network you built (a torch module)"
    got = {str(name): [int(n) for n in shape] for name, shape in answer["shapes"].items()}
    profile = _profile()
    if got == _hfn_shapes(profile, streams="rgb"):
        return None
    if got == _hfn_shapes(profile):
        return "this network still has both streams: ask build_hfn for the RGB stream alone"
    if got == _hfn_shapes(profile, streams="map"):
        return "this network keeps the MP stream and drops the RGB one: the other way round"
    backbones = {p.backbone: p for p in PROFILES.values() if p.backbone != profile.backbone}
    if any(got == _hfn_shapes(p, streams="rgb") for p in backbones.values()):
        return "this is the network of another profile: build it for the current one (S.profile)"
    return "build it for the current profile (S.profile) with build_hfn"


# ---- chapter 06: Algorithm 1 ----------------------------------------------------------

def _split_key(key: Any) -> tuple[str, str]:
    """A split (D_φ, D_θ), written as strings or as lists of domains, as two sorted strings."""
    if not isinstance(key, tuple) or len(key) != 2:
        raise TypeError("each key is a pair (D_φ, D_θ)")
    return tuple("".join(sorted(part if isinstance(part, str) else "".join(part)))
                 for part in key)


def _split_counts_of(domains: list[str], mode: str, draws: int = 3000) -> dict:
    import random
    from collections import Counter

    from mpfas_lib.training import split_domains

    rng = random.Random(0)
    return dict(Counter(_split_key(tuple(split_domains(domains, rng, mode)))
                        for _ in range(draws)))


@register("ex-nb06-1", context=("domains",))
def _split_counts(answer: Any, context: dict) -> str | None:
    got: dict = {}
    for key, value in _mapping(answer, "a Counter of splits").items():
        key = _split_key(key)
        got[key] = got.get(key, 0) + int(_number(value))
    got = {k: v for k, v in got.items() if v}
    domains = list(context["domains"])
    if any(not a or not b for a, b in got):
        return "both groups must be non-empty"
    paper, official = _split_counts_of(domains, "paper"), _split_counts_of(domains, "official")
    if got == paper:
        return None
    if got == official:
        return ("only the splits with one domain in D_φ occur: that is how the authors' code "
                "draws; the paper leaves the size of D_φ to chance as well")
    if len(got) < len(paper):
        return ("(D_φ, D_θ) is ordered: which group is D_φ matters, and the paper does not "
                "fix how many domains it holds")
    if sum(got.values()) != 3000:
        return "count 3000 draws, each split once"
    return ("these are not the counts of 3000 draws from random.Random(0) (the starter's "
            "generator): draw every split with split_domains from that one generator")


_ERM_SEED = 3  # the starter's batch source: tiny_batches(3)
_MOVED = ("|Φ−Φ0|", "|Θ−Θ0|")


def _erm_moves_truth(lr: float, steps: int = 1, phi_too: bool = True) -> tuple[float, float]:
    """Exercise 6.2 rebuilt: how far ERM steps move the starter's fresh tiny Φ and Θ."""
    import torch
    import torch.nn.functional as F

    from mpfas_lib.data import DomainBalancedBatches, build_protocol
    from mpfas_lib.models import HFN, build_extractor, hfn_loss
    from mpfas_lib.training import Pipeline, erm_step

    protocol = build_protocol("MICO:OCI-M", source="synthetic", profile=_profile())
    source = DomainBalancedBatches(protocol.sources, k=2, seed=_ERM_SEED)

    def sample(names: Sequence[str]) -> tuple:
        x, y, _ = source.batch(names)
        return F.interpolate(x, size=16, mode="area"), y

    torch.manual_seed(0)
    phi, theta = build_extractor("conv2"), HFN(backbone="resnet18-w16", fusion_channels=16)
    start = [p.detach().clone() for p in (*phi.parameters(), *theta.parameters())]
    model = Pipeline(phi, theta)
    opt = torch.optim.SGD(model.parameters() if phi_too else theta.parameters(), lr=lr,
                          momentum=0.9)
    for _ in range(steps):
        erm_step(model, hfn_loss, sample, opt, sorted(protocol.sources))
    n_phi = len(list(phi.parameters()))
    now = [p.detach() for p in (*phi.parameters(), *theta.parameters())]
    norm = lambda a, b: float(torch.cat([(x - y).flatten() for x, y in zip(a, b)]).norm())  # noqa: E731,B905
    return norm(now[:n_phi], start[:n_phi]), norm(now[n_phi:], start[n_phi:])


@register("ex-nb06-2", probe=lambda trace: getattr(trace, "rows", trace), context=("LR",))
def _erm_moves(answer: Any, context: dict) -> str | None:
    import pandas as pd

    rows = pd.DataFrame(answer)
    if not set(_MOVED) <= set(rows.columns) or len(rows) < 2:
        return "give the trace's rows (a start row and a row after the step)"
    got = [_number(v) for v in rows.iloc[-1][list(_MOVED)]]
    if got == [0.0, 0.0]:
        return "nothing moved: call erm_step once, then record the state once more"
    if 0.0 in got:
        return "only one part moved: in ERM, Φ and Θ are trained together as one network"
    lr = _number(context["LR"])
    same = lambda truth: _all_close(got, list(truth), rel_tol=1e-4, abs_tol=1e-9)  # noqa: E731
    truth = _erm_moves_truth(lr)
    if same(truth):
        return None
    if same(_erm_moves_truth(lr, steps=2)):
        return "the last row is after two steps: trace one ERM step"
    if math.isclose(got[0] / got[1], truth[0] / truth[1], rel_tol=1e-4):
        return "both parts moved by the right proportion but not the right amount: the step size"
    return ("these are not the moves of one ERM step of the starter's fresh erm_phi and "
            "erm_theta on the first batch of erm_batches (all source domains)")


# The scalar toy of chapter 06: L(θ, φ; x, y) = (θφx − y)², one point per split.
_TOY = {"theta": 0.8, "phi": 0.5, "alpha": 0.1, "phi_point": (1.0, 1.0), "theta_point": (2.0, 0.5)}


def _toy_outer(theta: float, steps: int, through: bool = True) -> float:
    """L_θ after ``steps`` inner steps of Φ on D_φ; ``through=False`` freezes Φ_k at θ0."""
    (x1, y1), (x2, y2), alpha = _TOY["phi_point"], _TOY["theta_point"], _TOY["alpha"]
    inner_theta = theta if through else _TOY["theta"]
    p = _TOY["phi"]
    for _ in range(steps):
        p -= alpha * 2 * (inner_theta * p * x1 - y1) * inner_theta * x1
    return (theta * p * x2 - y2) ** 2


def _toy_gradient(steps: int, through: bool = True, h: float = 1e-5) -> float:
    """d L_θ / dΘ of the toy by central differences (independent of the chain rule)."""
    t = _TOY["theta"]
    return (_toy_outer(t + h, steps, through) - _toy_outer(t - h, steps, through)) / (2 * h)


@register("ex-nb06-3")
def _hypergradient_k2(answer: Any) -> str | None:
    by_autograd, by_hand = (_number(v) for v in answer)
    truth = _toy_gradient(2)
    slips = {
        _toy_gradient(1): "this is the gradient through one inner step: take K = 2",
        _toy_gradient(2, through=False): ("this is the first-order term alone: Φ₂ must stay a "
                                          "function of Θ (create_graph=True in both inner "
                                          "steps; add dΦ₂/dΘ · ∂_Φ L_θ by hand)"),
    }
    for value, where in ((by_autograd, "autograd"), (by_hand, "by hand")):
        if math.isclose(value, truth, rel_tol=1e-6, abs_tol=1e-8):
            continue
        for wrong, hint in slips.items():
            if math.isclose(value, wrong, rel_tol=1e-6, abs_tol=1e-8):
                return f"{where}: {hint}"
        if where == "by hand":
            return ("by hand: carry dΦ_k/dΘ through both inner steps; the second step depends "
                    "on Θ directly and through Φ₁, and its terms are taken at Φ₁")
        return "autograd: differentiate L_θ(Θ, Φ₂) with respect to Θ, for the toy above"
    return None


def _gradient_list(grads: Any, what: str) -> list:
    import torch

    grads = [torch.as_tensor(g).detach() for g in grads]
    if not grads:
        raise ValueError(f"{what} is empty")
    return grads


def _alternating_truth(context: dict, sign: float = 1.0) -> tuple[list, list]:
    """Exercise 6.4 recomputed from the chapter's tiny model and batch: (at Φ', at Φ)."""
    import copy

    import torch

    from mpfas_lib.models import HFN, build_extractor, hfn_loss

    phi, theta = build_extractor("conv2"), HFN(backbone="resnet18-w16", fusion_channels=16)
    phi.load_state_dict(context["phi"])
    theta.load_state_dict(context["theta"])
    x, y, lr = torch.as_tensor(context["x_b"]), torch.as_tensor(context["y_b"]), context["LR"]
    moved = copy.deepcopy(phi)
    grads = torch.autograd.grad(hfn_loss(theta(x, moved(x)), y), list(moved.parameters()))
    with torch.no_grad():
        for q, g in zip(moved.parameters(), grads, strict=True):
            q -= sign * lr * g
    at = lambda p: torch.autograd.grad(  # noqa: E731
        hfn_loss(theta(x, p(x).detach()), y), list(theta.parameters()))
    return list(at(moved)), list(at(phi))


def _same_gradients(a: list, b: list) -> bool:
    import torch

    if [g.shape for g in a] != [g.shape for g in b]:
        return False
    pairs = zip(a, b, strict=True)
    gap = math.sqrt(sum(float(((x.double() - y.double()) ** 2).sum()) for x, y in pairs))
    size = math.sqrt(sum(float((y.double() ** 2).sum()) for y in b))
    return gap <= 1e-4 * size + 1e-9 and all(torch.isfinite(x).all() for x in a)


@register("ex-nb06-4", context=("phi", "theta", "x_b", "y_b", "LR"))
def _alternating_gradient(answer: Any, context: dict) -> str | None:
    at_new, at_old = answer
    at_new = _gradient_list(at_new, "the gradient at Φ'")
    at_old = _gradient_list(at_old, "the gradient at Φ")
    if [g.shape for g in at_new] != [g.shape for g in at_old]:
        return "both are gradients with respect to Θ's parameters: the same list of shapes"
    truth_new, truth_old = _alternating_truth(context)
    if [g.shape for g in at_old] != [g.shape for g in truth_old]:
        return "give the gradients with respect to Θ's parameters, one per parameter, in order"
    if not _same_gradients(at_old, truth_old):
        if _same_gradients(at_old, truth_new) and _same_gradients(at_new, truth_old):
            return "the two are swapped: the first is taken after the Φ step"
        return ("the gradient at Φ is not that of the loss on the batch (x_b, y_b) with "
                "respect to Θ, with the pattern of the unchanged Φ")
    if _same_gradients(at_new, truth_old):
        return ("the two gradients are equal: take one after the Φ step (at Φ'), the other at "
                "the old Φ")
    if _same_gradients(at_new, _alternating_truth(context, sign=-1.0)[0]):
        return "the Φ step went up its gradient: a descent step moves against it"
    if not _same_gradients(at_new, truth_new):
        return ("the gradient at Φ' is off: one plain gradient step of Φ with the learning "
                "rate LR on the same batch, then Θ's gradient with Φ' fixed")
    return None


# ---- chapter 07: evaluation ----------------------------------------------------------

def _ranking_truth(scores: Any, labels: Any) -> list[float]:
    from mpfas_lib.evaluation import auc, eer, hter

    return [auc(scores, labels), eer(scores, labels)[0], hter(scores, labels, 0.5)]


@register("ex-nb07-1", context=("tgt_s", "tgt_y"))
def _ranking_metrics(answer: Any, context: dict) -> str | None:
    import numpy as np

    if not hasattr(answer, "iloc") or answer.shape != (3, 2):
        return "give a 3×2 table: rows AUC, EER, HTER@0.5; columns original, transformed"
    values = answer.to_numpy(dtype=float)
    s, y = np.asarray(context["tgt_s"], dtype=float), np.asarray(context["tgt_y"])
    truth = _ranking_truth(s, y)
    original = list(values[:, 0])
    if _all_close(original, _ranking_truth(s, 1 - y), abs_tol=1e-6):
        return "label 1 is genuine: pass tgt_y itself, as the chapter's metrics expect"
    if _all_close(original, [1 - truth[0], *truth[1:]], abs_tol=1e-6) or truth[0] > 0.5 > \
            original[0]:
        return "an AUC below one half means the ranking is reversed: check which way you score"
    from mpfas_lib.evaluation import eer

    if math.isclose(original[1], eer(s, y)[1], abs_tol=1e-9):
        return "the EER row holds a threshold: eer gives the error rate and where it is reached"
    if not _all_close(original, truth, abs_tol=1e-6):
        return ("the original column is not the chapter's metrics of tgt_s and tgt_y: AUC, "
                "EER and the HTER at the threshold 0.5, as the chapter computes them")
    if not math.isclose(values[0, 1], truth[0], abs_tol=1e-9):
        return "the AUC changed: a strictly increasing transformation keeps every comparison"
    if not math.isclose(values[1, 1], truth[1], abs_tol=1e-9):
        return ("the EER changed: give the error rate at the equal-error point (not its "
                "threshold), and transform with a strictly increasing function")
    if math.isclose(values[2, 0], values[2, 1], abs_tol=1e-12):
        return "the HTER at 0.5 did not change: threshold the transformed scores"
    return None


_ORACLE_ROWS = ("target-EER", "min over thresholds", "source threshold, true error")


def _oracle_simulation(reps: int = 200, seed: int = 12345) -> Any:
    """Chapter 07's repetition without a domain shift, recomputed (means and stds)."""
    import numpy as np
    import pandas as pd

    from mpfas_lib.evaluation import hter, min_hter, pad_metrics, threshold_at_eer

    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple:
        return np.r_[rng.beta(8, 2, n), rng.beta(2, 6, n)], np.r_[np.ones(n, int),
                                                                   np.zeros(n, int)]

    pop_s, pop_y = draw(20000)
    rows = []
    for _ in range(reps):
        s_s, s_y = draw(150)
        t_s, t_y = draw(20)
        thr = threshold_at_eer(s_s, s_y)
        rows.append([pad_metrics(t_s, t_y)["hter_target_eer"], min_hter(t_s, t_y)[0],
                     hter(pop_s, pop_y, thr)])
    return pd.DataFrame(rows, columns=list(_ORACLE_ROWS)).agg(["mean", "std"]).T


@register("ex-nb07-2")
def _oracle_without_shift(answer: Any) -> str | None:
    table = answer.T if "mean" in getattr(answer, "index", []) else answer
    if not hasattr(table, "columns") or not {"mean", "std"} <= set(table.columns) \
            or len(table) != 3:
        return ("give the table of means and standard deviations (rows: target-EER oracle, "
                "min over thresholds, source threshold's true error)")
    means = [_number(v) for v in table["mean"]]
    stds = [_number(v) for v in table["std"]]
    if not all(math.isfinite(v) for v in means + stds):
        return "a mean or a standard deviation is missing (NaN)"
    if max(means) <= 1:
        return "HTERs are percentages between 0 and 100"
    if not (0 <= min(means) and max(means) <= 100):
        return "HTERs are percentages between 0 and 100"
    truth = _oracle_simulation()
    order = sorted(range(3), key=lambda i: means[i])
    if [str(i).lower() for i in table.index] != [r.lower() for r in _ORACLE_ROWS] and \
            order != sorted(range(3), key=lambda i: truth["mean"].iloc[i]):
        return "keep the rows in the order asked: target-EER, min over thresholds, true error"
    for i, name in enumerate(_ORACLE_ROWS):
        mean, std = truth["mean"].iloc[i], truth["std"].iloc[i]
        if i == 2 and stds[2] > 2 * std + 0.5:
            return ("the true error varies far too much between repetitions: it is the "
                    "error of the source threshold on the whole population, not on the "
                    "small target sample")
        if abs(means[i] - mean) > 4 * (std + stds[i]) / math.sqrt(200) + 0.3:
            return (f"the mean of {name!r} is not what 200 repetitions with 20 target videos "
                    "per class and no shift give: draw the target like the source validation")
        if not (0.5 * std <= stds[i] <= 2 * std + 0.5):
            return f"the spread of {name!r} does not match 200 repetitions of the experiment"
    return None


def _hter_acer_truth() -> tuple[float, float, float]:
    """Exercise 7.3's detector as scores: (HTER, ACER, ACER with all spoofs pooled)."""
    import numpy as np

    from mpfas_lib.evaluation import hter, iso_metrics

    n, apcer, bpcer = 100, {"print": 2, "replay": 30}, 5  # the exercise's statement, in %
    scores, labels, kinds = [], [], []
    for kind, rate in apcer.items():
        scores += [1.0] * rate + [0.0] * (n - rate)
        labels += [0] * n
        kinds += [kind] * n
    scores += [0.0] * bpcer + [1.0] * (n - bpcer)
    labels += [1] * n
    kinds += ["genuine"] * n
    s, y, a = np.array(scores), np.array(labels), np.array(kinds)
    pooled = iso_metrics(s, y, 0.5)
    return hter(s, y, 0.5), iso_metrics(s, y, 0.5, a)["acer"], pooled["acer"]


@register("ex-nb07-3")
def _hter_acer(answer: Any) -> str | None:
    hter, acer = (_number(v) for v in answer)
    truth_hter, truth_acer, pooled = _hter_acer_truth()
    if max(hter, acer) <= 1 and min(truth_hter, truth_acer) > 1:
        return "give both in %, not as fractions"
    if math.isclose(hter, truth_hter) and math.isclose(acer, truth_acer):
        return None
    if math.isclose(acer, pooled) and not math.isclose(pooled, truth_acer):
        return "ACER: OULU-NPU's APCER is that of the worst attack type, not of all spoofs"
    if math.isclose(hter, truth_acer):
        return "HTER pools all spoofs into one FAR: it does not single out an attack type"
    if not math.isclose(hter, truth_hter):
        return "HTER: first the error rate on all spoofs together, then the half total error"
    return "ACER: which APCER does OULU-NPU's definition take when there are several?"


# ---- chapter 09: ablations -----------------------------------------------------------

@register("ex-nb09-1")
def _extractor_parameters(answer: Any) -> str | None:
    import torch

    from mpfas_lib.models import build_extractor, count_parameters
    from mpfas_lib.models.extractor import EXTRACTOR_NAMES

    got = {str(k).lower(): _number(v) for k, v in
           _mapping(answer, "a dict {extractor: parameters}").items()}
    missing = [n for n in EXTRACTOR_NAMES if n not in got]
    if missing:
        return f"count the parameters of every extractor, also {missing}"
    with torch.random.fork_rng(devices=[]):
        nets = {n: build_extractor(n) for n in EXTRACTOR_NAMES}
    ways = {"truth": count_parameters,
            "state": lambda net: sum(int(t.numel()) for t in net.state_dict().values()),
            "tensors": lambda net: len(list(net.parameters())),
            "weights": lambda net: sum(p.numel() for p in net.parameters() if p.ndim > 1)}
    counted = {way: [count(nets[n]) for n in EXTRACTOR_NAMES] for way, count in ways.items()}
    values = [got[n] for n in EXTRACTOR_NAMES]
    if values == counted["truth"]:
        return None
    if values == counted["state"]:
        return ("these include the batch normalisations' running statistics: those are "
                "buffers, not trainable parameters")
    if values == counted["tensors"]:
        return "these count the parameter tensors: count the numbers they hold"
    if values == counted["weights"]:
        return "the biases and the batch normalisations' scales and shifts are parameters too"
    wrong = [n for n, v, t in zip(EXTRACTOR_NAMES, values, counted["truth"], strict=True)
             if v != t]
    return f"the counts of {wrong} are off: count the trainable parameters of each network"


_K_PROTOCOL = "MICO:OCI-M"


def _k_truth(rows: Any, ks: Sequence[str], protocol: str | None = _K_PROTOCOL,
             metric: str = "hter_source") -> tuple[list[float], dict[str, float]]:
    """Exercise 9.2 from the chapter's rows: MP's HTERs over seeds, the mean HTER per K."""
    if protocol is not None:
        rows = rows[rows["protocol"] == protocol]
    seeds = sorted(float(v) for v in rows[rows["method"] == "mp"][metric])
    by_k = rows[rows["method"].isin(list(ks))].groupby("method")[metric].mean()
    return seeds, {str(k): float(v) for k, v in by_k.items()}


@register("ex-nb09-2", context=("rows", "KS"))
def _spread_over_k(answer: Any, context: dict) -> str | None:
    over_seeds, over_k = answer
    ks = {str(k): str(v) for k, v in context["KS"].items()}
    got_k = {str(k): _number(v) for k, v in
             _mapping(over_k, "over_k: a Series {K variant: mean HTER}").items()}
    got_k = {next((k for k, v in ks.items() if v == name), name): v for name, v in got_k.items()}
    if set(got_k) != set(ks):
        return "over_k: give the mean HTER (over seeds) of each of the four values of K"
    seeds = sorted(_number(v) for v in (over_seeds.values() if isinstance(over_seeds, Mapping)
                                        else over_seeds))
    if (hint := _percentages([*seeds, *got_k.values()], "HTER")):
        return hint
    rows = context["rows"]
    close = lambda a, b: _all_close(a, b, rel_tol=1e-9, abs_tol=1e-9)  # noqa: E731
    keyed = lambda d: [d[k] for k in ks]  # noqa: E731
    truth = _k_truth(rows, ks)
    slips = {"protocol": _k_truth(rows, ks, protocol=None),
             "threshold": _k_truth(rows, ks, metric="hter_target_eer")}
    part_of = lambda pair, pick: pair[0] if pick == 0 else keyed(pair[1])  # noqa: E731
    for pick, (part, got) in enumerate((("over_seeds", seeds), ("over_k", keyed(got_k)))):
        if close(got, part_of(truth, pick)):
            continue
        if close(got, part_of(slips["protocol"], pick)):
            return f"{part}: keep to the runs of one protocol, {_K_PROTOCOL}"
        if close(got, part_of(slips["threshold"], pick)):
            return (f"{part}: this HTER is taken at the target's own EER threshold; compare "
                    "the one at the threshold fixed on source data")
        return (f"{part}: one HTER per seed of MP's runs" if pick == 0 else
                f"{part}: the mean over seeds of each variant's HTER, from the rows above")
    return None


# ---- chapter 08: training runs -------------------------------------------------------

def _percentages(values: list[float], what: str) -> str | None:
    if not all(math.isfinite(v) for v in values):
        return f"a {what} is missing (NaN): check the runs you averaged"
    if not all(0 <= v <= 100 for v in values):
        return f"{what}s are percentages between 0 and 100"
    return None


_RULES = ("source_val", "last", "target_oracle")


def _rule_means(runs: list, method: str | None = "mp", metric: str = "hter_target_eer",
                level: str = "video") -> dict[str, float]:
    """Exercise 8.1 recomputed from the chapter's runs: a method's mean HTER per rule."""
    from mpfas_lib.evaluation import run_rows

    means = {}
    for rule in _RULES:
        rows = run_rows(runs, rule=rule, level=level)
        means[rule] = float((rows if method is None else rows[rows["method"] == method])
                            [metric].mean())
    return means


@register("ex-nb08-1", context=("runs",))
def _selection_rules(answer: Any, context: dict) -> str | None:
    got = {str(k): _number(v) for k, v in _mapping(answer, "a dict {rule: mean HTER}").items()}
    if set(got) != set(_RULES):
        return f"give one mean HTER per rule: {list(_RULES)}"
    if (hint := _percentages(list(got.values()), "HTER")) is not None:
        return hint
    runs = list(context["runs"])
    close = lambda truth: _all_close([got[r] for r in _RULES],  # noqa: E731
                                     [truth[r] for r in _RULES], rel_tol=1e-9, abs_tol=1e-9)
    truth = _rule_means(runs)
    if close(truth):
        return None
    if close({r: v / 100 for r, v in truth.items()}):
        return "give the HTERs in %, as the runs record them"
    slips = [(dict(metric="hter_source"), "this HTER is taken at the threshold fixed on "
              "source data: the exercise compares the one at the target's EER threshold"),
             (dict(method=None), "keep to MP's runs"),
             (dict(level="frame"), "take the video-level HTERs, as the chapter's tables do")]
    for options, hint in slips:
        if close(_rule_means(runs, **options)):
            return hint
    if got["target_oracle"] > min(got["source_val"], got["last"]) + 1e-9:
        return ("the oracle picks each run's evaluation with the lowest HTER at the target-EER "
                "threshold, so its mean of that HTER cannot be higher")
    wrong = [r for r in _RULES if not math.isclose(got[r], truth[r], abs_tol=1e-9)]
    return (f"{', '.join(wrong)}: the mean over MP's runs of the HTER at the target-EER "
            "threshold, with each run's evaluation picked by that rule")


_LEVEL_METRICS = ("hter_source", "auc")


def _level_means(runs: list, level: str, metrics: Sequence[str] = _LEVEL_METRICS) -> Any:
    """Mean of each metric over the runs of each method, at one level (chapter 08's rows)."""
    from mpfas_lib.evaluation import run_rows

    return run_rows(runs, level=level).groupby("method")[list(metrics)].mean()


@register("ex-nb08-2", context=("runs",))
def _frame_or_video(answer: Any, context: dict) -> str | None:
    import numpy as np

    columns = getattr(answer, "columns", None)
    if getattr(columns, "nlevels", 1) != 2:
        return ("give a table with two-level columns (level, metric): frame and video, each "
                "with hter_source and auc, one row per method")
    needed = [(lvl, m) for lvl in ("frame", "video") for m in _LEVEL_METRICS]
    if not set(needed) <= set(columns):
        return f"the columns need {sorted(needed)}"
    runs = list(context["runs"])
    truth = {lvl: _level_means(runs, lvl) for lvl in ("frame", "video")}
    methods = sorted(truth["video"].index)
    if sorted(str(i) for i in answer.index) != methods:
        return f"give one row per method, indexed by the method's name: {methods}"
    got = answer.copy()
    got.index = [str(i) for i in got.index]
    got = {lvl: got[lvl][list(_LEVEL_METRICS)].loc[methods].to_numpy(dtype=float)
           for lvl in ("frame", "video")}
    if (hint := _percentages([*got["frame"].ravel(), *got["video"].ravel()], "metric")):
        return hint
    same = lambda a, b: np.allclose(a, b.loc[methods].to_numpy(dtype=float),  # noqa: E731
                                    rtol=1e-6, atol=1e-6)
    if np.allclose(got["frame"], got["video"]):
        return ("the two levels are identical: compute one of them with "
                'run_rows(runs, level="frame")')
    if same(got["frame"], truth["video"]) and same(got["video"], truth["frame"]):
        return "the two levels are swapped"
    for lvl in ("frame", "video"):
        if same(got[lvl], truth[lvl]):
            continue
        oracle = _level_means(runs, lvl, ("hter_target_eer", "auc"))
        if same(got[lvl], oracle):
            return (f"{lvl}: this HTER is taken at the target's own EER threshold: the "
                    "exercise compares the one at the threshold fixed on source data")
        return f"{lvl}: the mean over all runs of each method, from the runs of the chapter"
    return None


def _seed_table(rows: Any, protocol: str | None, metric: str = "hter_source") -> Any:
    """Exercise 8.3's by_seed from the chapter's rows: one protocol, a row per seed."""
    if protocol is not None:
        rows = rows[rows["protocol"] == protocol]
    rows = rows[rows["method"].isin(["mp", "erm"])]
    return rows.pivot_table(index="seed", columns="method", values=metric, aggfunc="mean")


def _by_seed_hint(by_seed: Any, rows: Any) -> str | None:
    """None when by_seed is one protocol's table of the chapter's rows, else a hint."""
    import numpy as np

    got = by_seed[["mp", "erm"]].astype(float).sort_index()
    same = lambda table: got.shape == table[["mp", "erm"]].shape and np.allclose(  # noqa: E731
        got.to_numpy(), table[["mp", "erm"]].sort_index().to_numpy(), rtol=1e-9, atol=1e-9)
    protocols = sorted(rows["protocol"].unique())
    if any(same(_seed_table(rows, p)) for p in protocols):
        return None
    if any(same(_seed_table(rows, p, "hter_target_eer")) for p in protocols):
        return ("by_seed: this HTER is taken at the target's own EER threshold; the exercise "
                "pairs hter_source, at the threshold fixed on source data")
    if len(protocols) > 1 and same(_seed_table(rows, None)):
        return "by_seed: these average the protocols: keep to the rows of one protocol"
    return "by_seed: one protocol's hter_source from rows, one row per seed, columns mp and erm"


@register("ex-nb08-3", context=("rows",))
def _paired_difference(answer: Any, context: dict) -> str | None:
    by_seed, paired, unpaired_sd = answer
    if not hasattr(by_seed, "columns") or not {"mp", "erm"} <= set(by_seed.columns):
        return "by_seed: a table with one row per seed and columns mp and erm"
    mp, erm = by_seed["mp"].astype(float), by_seed["erm"].astype(float)
    if len(by_seed) < 2 or not by_seed.index.is_unique:
        return "by_seed: one row per seed of one protocol (at least two seeds)"
    if (hint := _percentages([*mp, *erm], "HTER")) is not None:
        return hint
    if (hint := _by_seed_hint(by_seed, context["rows"])) is not None:
        return hint
    diff = [_number(v) for v in paired]
    close = lambda a, b: _all_close(a, b, abs_tol=1e-9)  # noqa: E731
    if close(diff, list(erm - mp)):
        return "paired: the difference is MP − ERM, seed by seed (negative favours MP)"
    if not close(diff, list(mp - erm)):
        return "paired: subtract ERM's HTER from MP's of the same seed"
    sd = _number(unpaired_sd)
    if math.isclose(sd, mp.std() + erm.std(), rel_tol=1e-9):
        return "unpaired_sd: add the variances, not the standard deviations, then take the root"
    if math.isclose(sd, math.sqrt(mp.var(ddof=0) + erm.var(ddof=0)), rel_tol=1e-9) and len(mp) > 1:
        return "unpaired_sd: use the sample variances (ddof = 1, pandas' default)"
    if not math.isclose(sd, math.sqrt(mp.var() + erm.var()), rel_tol=1e-9):
        return "unpaired_sd: combine MP's and ERM's standard deviations over seeds as √(s₁² + s₂²)"
    return None


_DIAL_KEYS = ("source_auc", "target_auc", "gap")


def _dial_row(results: Mapping, evaluation: str = "last", level: str = "video") -> list[float]:
    """Exercise 8.4 recomputed from one run's results: source and target AUC, and the gap."""
    chosen = results["metrics"][evaluation]
    source, target = chosen["source_val"]["auc"], chosen["target"][level]["auc"]
    return [float(source), float(target), float(source - target)]


def _dial_run_hint(shift: float, results: Any) -> str | None:
    """None when ``results`` is a finished run of exercise 8.4's setting at dial ``shift``."""
    from mpfas_lib.data import DEFAULT_SHIFT

    if not isinstance(results, Mapping) or "metrics" not in results \
            or "last" not in results["metrics"]:
        return f"trained[{shift}]: the run's results, as load_or_train returns them"
    config = results["provenance"]["config"]
    name = config["method"]["name"] if isinstance(config["method"], Mapping) \
        else config["method"]
    if config["protocol"] != "MICO:OCI-M" or name != "rgb":
        return f"trained[{shift}]: an RGB-only run (method rgb) on OCI-M"
    recorded = float(config.get("shift", DEFAULT_SHIFT))
    if not math.isclose(recorded, shift):
        return f"trained[{shift}]: this run was trained at dial {recorded:g}, not {shift:g}"
    return None


@register("ex-nb08-4")
def _moved_dial(answer: Any) -> str | None:
    from mpfas_lib.data import DEFAULT_SHIFT

    if not isinstance(answer, tuple) or len(answer) != 2:
        return "give (gaps, trained): the table of AUCs and the two runs' results"
    table = {_number(k): v for k, v in _mapping(answer[0], "gaps").items()}
    trained = {_number(k): v for k, v in _mapping(answer[1], "trained").items()}
    if len(table) != 2:
        return "gaps: one entry per dial value you trained at (two of them), keyed by the value"
    if 0 not in table:
        return "train one of the two runs with the nuisances of every domain alike"
    if set(table) != {0, DEFAULT_SHIFT}:
        return "train the other run at the benchmark's default dial value, DEFAULT_SHIFT"
    if set(trained) != set(table):
        return "trained: the results of the two runs, keyed by the same dial values as gaps"
    for shift in sorted(table):
        if (hint := _dial_run_hint(shift, trained[shift])) is not None:
            return hint
        row = _mapping(table[shift], f"gaps[{shift:g}]")
        if set(row) != set(_DIAL_KEYS):
            return f"gaps[{shift:g}]: the keys source_auc, target_auc and gap"
        got = [_number(row[k]) for k in _DIAL_KEYS]
        if (hint := _percentages(got[:2], "AUC")) is not None:
            return hint
        if (hint := _dial_gap_hint(shift, got, trained)) is not None:
            return hint
    return None


def _dial_gap_hint(shift: float, got: list[float], trained: dict) -> str | None:
    """The hint for one row of exercise 8.4's gaps, judged against the run's results."""
    close = lambda truth: _all_close(got, truth, rel_tol=1e-9, abs_tol=1e-9)  # noqa: E731
    truth = _dial_row(trained[shift])
    if close(truth):
        return None
    other = next(s for s in trained if s != shift)
    if close(_dial_row(trained[other])):
        return "gaps: the rows of the two dial values are swapped"
    if _all_close(got[:2], truth[:2], abs_tol=1e-9):
        return ("gap: how much is lost from the seen domains to the unseen one"
                if math.isclose(got[2], -truth[2], abs_tol=1e-9) else
                "gap: compare the two AUCs of the same run")
    if close([v / 100 for v in truth]):
        return "give the AUCs in %, as the runs record them"
    if close(_dial_row(trained[shift], level="frame")):
        return "target_auc: take the video-level AUC, as the chapter's tables do"
    if close(_dial_row(trained[shift], evaluation="source_val")):
        return "these are of the evaluation picked on source validation: take the last one"
    return (f"gaps[{shift:g}]: the source-validation AUC and the target AUC of the run's last "
            "evaluation, from the results you trained")


# ---- chapter 10: the paper and the authors' code -------------------------------------

def _lateral_weights(model: Any) -> dict | None:
    """The weights of an official HFN's lateral 1×1 convolutions per stream and level."""
    lateral = getattr(getattr(model, "fusion", None), "lateral", None)
    if lateral is None:
        return None
    return {k: [conv.weight for conv in lateral[k]] for k in ("rgb", "map")}


def _laterals(answer: Any, chapter: dict) -> dict:
    """(model, diff) as data: the model's and official's laterals, and both networks' pixel
    maps on the chapter's x and mp (computed where the networks live)."""
    import copy

    import torch

    model, diff = answer
    lateral = _lateral_weights(model)
    if lateral is None:
        return {"lateral": None, "diff": diff}
    official, x, mp = (chapter[name] for name in ("official", "x", "mp"))
    outputs = {}
    with torch.no_grad():
        for name, net in (("copy", model), ("official", official)):
            net = copy.deepcopy(net) if net.training else net  # its BN statistics stay as they are
            outputs[name] = net(x, mp).pixel_map
    return {"lateral": lateral, "original": _lateral_weights(official), "outputs": outputs,
            "diff": diff}


def _lateral_diff_hint(outputs: dict, diff: float) -> str | None:
    """Exercise 10.1's difference recomputed from both networks' outputs: None when right."""
    import torch

    gap = torch.as_tensor(outputs["copy"]).double() - torch.as_tensor(outputs["official"]).double()
    near = lambda value: math.isclose(diff, float(value), rel_tol=1e-4, abs_tol=1e-9)  # noqa: E731
    if near(gap.abs().max()):
        return None
    if diff < 1e-5:
        return ("that is float rounding, what averaging the 3×3 convs gives: did you compare "
                "the modified copy's pixel map with the unmodified network's, on the same input?")
    if near(gap.max()) or near(gap.min().abs()):
        return "diff: the largest difference in absolute value, whatever its sign"
    if near(gap.abs().mean()):
        return "diff: the largest absolute difference, not the mean one"
    return "diff: the largest absolute difference of the two pixel maps on x and mp"


@register("ex-nb10-1", probe=_laterals, probe_context=("official", "x", "mp"))
def _lateral_average(answer: Any) -> str | None:
    import torch

    lateral, diff = answer["lateral"], answer["diff"]
    if lateral is None:
        return ("give the modified copy of the official HFN (with .fusion.lateral) and the "
                "difference")
    rgb, mp = lateral["rgb"], lateral["map"]
    averaged = [lvl for lvl in range(len(rgb)) if torch.equal(rgb[lvl], mp[lvl])]
    if not averaged:
        return "no level's RGB and MP laterals share their weights: copy their average into both"
    original = answer["original"]
    level = averaged[0]
    if torch.equal(original["rgb"][level], original["map"][level]):
        return ("official's own laterals are shared now: you changed the network itself; "
                "work on a copy (copy.deepcopy) and keep official as it was")
    if not torch.allclose(rgb[level], (original["rgb"][level] + original["map"][level]) / 2,
                          rtol=1e-5, atol=1e-7):
        if any(torch.equal(rgb[level], w[level]) for w in original.values()):
            return "one lateral's weights were copied onto the other: give both their average"
        return "the shared weights are not the average of the two laterals' weights"
    diff = _number(diff)
    if not math.isfinite(diff) or diff < 0:
        return "give the largest absolute difference of the pixel maps (a number ≥ 0)"
    return _lateral_diff_hint(answer["outputs"], diff)


@register("ex-nb10-2")
def _first_step_ratio(answer: Any) -> str | None:
    from mpfas_lib.training import get_method

    ratio, K = _number(answer), get_method("mp").inner_steps
    if math.isclose(ratio, K, rel_tol=1e-3):
        return None
    if math.isclose(ratio, 1 / K, rel_tol=1e-3):
        return "the ratio is the official step over the paper's, not the other way round"
    if math.isclose(ratio, 1, rel_tol=1e-3):
        return "both steps are equal: build the official one with phi_optimizer_for(phi, lr, K)"
    if ratio > K:
        return "compare the first step only: from the second on, momentum adds 0.9× the last update"
    return "take one gradient of the same loss for both, and compare the norms of the two steps"


_SCALE_RUNS = {"base": (1.0, 0.01), "again": (1.0, 0.01), "half_lr": (1.0, 0.005),
               "half_loss": (0.5, 0.01)}


def _scale_runs(answer: Any) -> dict:
    """A function as data: the weights it returns for the arguments the check compares."""
    if not callable(answer):
        return {"callable": False}
    return {"callable": True, **{name: answer(*args) for name, args in _SCALE_RUNS.items()}}


@register("ex-nb10-3", probe=_scale_runs)
def _loss_scale(answer: Any) -> str | None:
    import torch

    if not isinstance(answer, dict) or not answer.get("callable"):
        return "give your function sgd_steps(loss_scale, lr) that returns the weights"
    runs = {name: torch.as_tensor(answer[name]).double() for name in _SCALE_RUNS}
    base, half_lr, half_loss = runs["base"], runs["half_lr"], runs["half_loss"]
    if not torch.equal(base, runs["again"]):
        return "two runs with the same arguments differ: seed the model and the data inside"
    if torch.equal(base, half_lr):
        return "the learning rate has no effect: pass lr to the optimiser"
    if torch.allclose(half_loss, half_lr):
        return None
    if torch.equal(base, half_loss):
        return ("the loss scale has no effect: multiply the loss by loss_scale before "
                "backward(), and use torch.optim.SGD (an adaptive optimiser such as Adam "
                "cancels a constant scale)")
    return ("halving the loss and halving the learning rate give different weights: which "
            "part of your update is not proportional to the loss's gradient (an adaptive "
            "optimiser such as Adam, weight decay)?")


# ---- chapter 11: the Meta Pattern explorer -------------------------------------------

_EXPLORER_PROTOCOL = "MICO:OCI-M"  # chapter 11's faces: a genuine and a spoof per domain


def _gaps(patterns: Any, snapshot: Any = -1) -> Any:
    """Genuine minus spoof mean pattern per domain and channel ([domain, channel])."""
    per_face = patterns[snapshot].mean(dim=(-2, -1))
    if per_face.ndim == 3:  # every snapshot: average them
        per_face = per_face.mean(dim=0)
    return per_face[0::2] - per_face[1::2]


@register("ex-nb11-1", context=("patterns",))
def _channel_gaps(answer: Any, context: dict) -> str | None:
    import torch

    from mpfas_lib.data.protocols import PROTOCOLS

    if not hasattr(answer, "to_numpy") or answer.ndim != 2:
        return "give a table: one row per domain, one column per MP channel"
    values = torch.tensor(answer.to_numpy(dtype=float))  # a copy: the answer is read-only
    if values.shape != (4, 3):
        return (f"expected 4 domains × 3 channels, got {tuple(values.shape)}: one value per "
                "domain and channel")
    sources, target = PROTOCOLS[_EXPLORER_PROTOCOL]
    domains = [*sorted(sources), target]
    index = [str(i) for i in answer.index]
    if sorted(index) == sorted(domains):
        values = values[[index.index(d) for d in domains]]
    patterns = torch.as_tensor(context["patterns"]).double()
    close = lambda truth: torch.allclose(values, truth, rtol=1e-4, atol=1e-5)  # noqa: E731
    truth = _gaps(patterns)
    if close(truth):
        return None
    if close(-truth):
        return "the sign is reversed: the gap is genuine minus spoof"
    if close(_gaps(patterns, 0)):
        return "this is the first snapshot (iteration 0): the exercise asks for the last"
    if close(_gaps(patterns, slice(None))):
        return "this averages every snapshot: the exercise asks for the last one"
    if sorted(index) != sorted(domains) and any(
            close(truth[list(p)]) for p in itertools.permutations(range(4))):
        return f"the rows are in another order: label them by domain ({domains})"
    return ("these are not the gaps of the last snapshot's patterns: the mean over each "
            "face's pixels per channel, then the genuine face against the spoof face of its "
            "domain")


def _exposure_truth(context: dict, factor: float = 0.7, state: int = -1, train: bool = False,
                    signed: bool = False) -> list[float]:
    """Exercise 11.2 recomputed: mean change of the RGB input, the MP and ColorLBP."""
    import torch

    from mpfas_lib.features import build_map
    from mpfas_lib.models import build_extractor

    phi = build_extractor("conv2")
    phi.load_state_dict(context["saved"]["states"][state])
    phi.train(train)
    faces = torch.as_tensor(context["faces"]).float()
    dark = faces * factor
    change = (lambda a, b: float((a - b).mean())) if signed else (  # noqa: E731
        lambda a, b: float((a - b).abs().mean()))
    lbp = build_map("colorlbp")
    with torch.no_grad():
        return [change(dark, faces), change(phi(dark), phi(faces)), change(lbp(dark), lbp(faces))]


@register("ex-nb11-2", context=("saved", "faces"))
def _exposure_change(answer: Any, context: dict) -> str | None:
    import torch

    got = {str(k).lower(): _number(v) for k, v in
           _mapping(answer, "a dict {map: mean |change|}").items()}
    keys = {name: [k for k in got if name in k] for name in ("rgb", "mp", "lbp")}
    if any(len(found) != 1 for found in keys.values()) or len(got) != 3:
        return "give three changes: the RGB input, the MP (last snapshot) and ColorLBP"
    values = [got[keys[name][0]] for name in ("rgb", "mp", "lbp")]
    if not all(math.isfinite(v) for v in values):
        return "a change is missing (NaN)"
    close = lambda truth: _all_close(values, truth, rel_tol=1e-4, abs_tol=1e-6)  # noqa: E731
    truth = _exposure_truth(context)
    if close(truth):
        return None
    if any(close([truth[i] for i in order]) for order in itertools.permutations(range(3))):
        return "the values stand under the wrong names: RGB input, MP, ColorLBP"
    every, mp = slice(None), slice(1, 2)
    slips = [(dict(factor=0.3), every, "darken by the factor 0.7: the faces times 0.7"),
             (dict(signed=True), every, "the mean absolute change: a darker pixel changes by "
              "a negative amount"),
             (dict(train=True), mp, "MP: run Φ in evaluation mode, with its running statistics"),
             (dict(state=0), mp, "MP: this is Φ at iteration 0: load the last snapshot")]
    for options, part, hint in slips:
        if _all_close(values[part], _exposure_truth(context, **options)[part], rel_tol=1e-4,
                      abs_tol=1e-6):
            return hint
    dark = float(_number((torch.as_tensor(context["faces"]).float() * 0.7).mean()))
    if math.isclose(values[0], dark, rel_tol=1e-4):
        return "RGB input: measure how much the image changed, not the darkened image itself"
    wrong = [name for name, v, t in zip(("RGB input", "MP", "ColorLBP"), values, truth,
                                        strict=True) if not math.isclose(v, t, rel_tol=1e-4,
                                                                         abs_tol=1e-6)]
    return (f"{', '.join(wrong)}: the mean absolute change after darkening the eight faces by "
            "0.7, with the last snapshot's Φ for the MP")


def _bn_modes_truth(context: dict, state: int = -1, train_first: bool = False) -> tuple:
    """Exercise 11.3 recomputed: the MP of the faces in evaluation and in training mode."""
    import torch

    from mpfas_lib.models import build_extractor

    phi = build_extractor("conv2")
    phi.load_state_dict(context["saved"]["states"][state])
    faces = torch.as_tensor(context["faces"])
    with torch.no_grad():
        if train_first:
            train_mp = phi.train()(faces)
            return phi.eval()(faces), train_mp
        return phi.eval()(faces), phi.train()(faces)


@register("ex-nb11-3", context=("saved", "faces"))
def _batchnorm_modes(answer: Any, context: dict) -> str | None:
    import torch

    eval_mp, train_mp = (torch.as_tensor(t).detach().float() for t in answer)
    if eval_mp.ndim != 4 or eval_mp.shape != train_mp.shape:
        return "give both patterns of the same faces, each an [N, 3, H, W] tensor"
    if torch.equal(eval_mp, train_mp):
        return ("the two patterns are identical: call .eval() for one pass and .train() for "
                "the other")
    truth = _bn_modes_truth(context)
    if eval_mp.shape != truth[0].shape:
        return f"give the pattern of the eight faces: shape {tuple(truth[0].shape)}"
    same = lambda a, b: torch.allclose(a, b.float(), rtol=1e-4, atol=1e-5)  # noqa: E731
    pair = lambda t: same(eval_mp, t[0]) and same(train_mp, t[1])  # noqa: E731
    if pair(truth):
        return None
    if pair(truth[::-1]):
        return "the two are swapped: the first is the evaluation-mode pattern"
    if same(train_mp, truth[1]) and pair(_bn_modes_truth(context, train_first=True)):
        return ("the evaluation-mode pattern was taken after a training-mode pass, which "
                "updated the running statistics it uses")
    if pair(_bn_modes_truth(context, state=0)):
        return "this is Φ at iteration 0: load the last snapshot"
    return ("these are not Φ's patterns of the eight faces for the last snapshot "
            "(saved[\"states\"]) in the two modes")


# Chapter 06: Algorithm 1 written by the student

_A1_LR = 0.005  # the chapter's α for the tiny model
_A1_TOLERANCE = 1e-6  # relative; one iteration's rounding differences stay below 1e-9 in float64
_A1_PARTS = ("phi", "theta")


def _a1_fingerprint(state: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per tensor: its norm and a fixed projection, in float64 (a checksum that tolerates
    rounding), so that the answer stays small data."""
    import torch

    out = {}
    for name, value in state.items():
        t = value.detach().double().flatten()
        weights = torch.cos(1.618 * torch.arange(t.numel(), dtype=torch.float64) + 0.5)
        out[name] = [float(t.norm()), float((t * weights).sum())]
    return out


def _a1_run(step_on: Callable, drawn: list | None = None) -> dict[str, dict[str, list[float]]]:
    """One Algorithm 1 iteration of ``step_on`` on fresh float64 tiny models, fingerprinted."""
    import torch

    from mpfas_lib.training import get_method
    from mpfas_lib.training.book import predrawn_iterations, replay_iterations

    if drawn is None:
        drawn = predrawn_iterations(_profile(), 1, get_method("mp").inner_steps)
    states = replay_iterations(step_on, drawn, _A1_LR, dtype=torch.float64)[-1]
    return {part: _a1_fingerprint(states[part]) for part in _A1_PARTS}


def _holds_ellipsis(code: Any) -> bool:
    """Whether a function's code (or a function nested in it) still holds the starter's ``...``."""
    return any(c is Ellipsis or (hasattr(c, "co_consts") and _holds_ellipsis(c))
               for c in code.co_consts)


def _a1_probe(answer: Any) -> Any:
    """The student's step as data: the fingerprints after one iteration on fresh models."""
    from mpfas_lib.training.book import student_steps

    if not callable(answer):
        return {"callable": False}
    try:
        return {"callable": True, **_a1_run(student_steps(answer, _A1_LR))}
    except Exception:
        code = getattr(answer, "__code__", None)
        if code is not None and _holds_ellipsis(code):
            return ...  # the starter's skeleton, not filled in yet
        raise


def _a1_gap(got: Mapping, truth: Mapping, names: set[str]) -> float:
    """The fingerprints' difference over the tensors ``names``, relative to their size."""
    gap = size = 0.0
    for name in names:
        (norm_a, proj_a), (norm_b, proj_b) = got[name], truth[name]
        gap += max(abs(norm_a - norm_b), abs(proj_a - proj_b)) ** 2
        size += norm_b**2
    return math.sqrt(gap / max(size, 1e-24))


def _a1_parts() -> dict[str, tuple[set[str], set[str]]]:
    """The names of the parameters and of the saved buffers of the tiny Φ and Θ."""
    from mpfas_lib.training.book import tiny_models

    parts = {}
    for part, net in zip(_A1_PARTS, tiny_models(), strict=True):
        params = {n for n, _ in net.named_parameters()}
        parts[part] = (params, set(net.state_dict()) - params)
    return parts


def _a1_same(got: Mapping, truth: Mapping, part: str, which: int) -> bool:
    names = _a1_parts()[part][which]
    return _a1_gap(got[part], truth[part], names) <= _A1_TOLERANCE


def _a1_variant(change: str) -> dict:
    """The library's iteration with one typical slip, fingerprinted (for the hints)."""
    import dataclasses

    from mpfas_lib.training import get_method
    from mpfas_lib.training.book import library_steps, predrawn_iterations

    settings = get_method("mp").meta_settings(_A1_LR)
    K = settings.inner_steps
    it = predrawn_iterations(_profile(), 1, K)[0]
    if change == "sign":
        return _a1_run(library_steps(dataclasses.replace(settings, lr=-_A1_LR)), [it])
    if change in ("first K-1", "last K-1"):
        kept = it.phi_batches[:-1] if change == "first K-1" else it.phi_batches[1:]
        fewer = dataclasses.replace(settings, inner_steps=K - 1)
        return _a1_run(library_steps(fewer), [dataclasses.replace(it, phi_batches=kept)])
    if change == "theta on D_phi":
        return _a1_run(library_steps(settings),
                       [dataclasses.replace(it, theta_batch=it.phi_batches[-1])])
    raise ValueError(f"unknown slip {change!r}")


def _a1_initial() -> dict:
    """The fingerprints of the fresh tiny models (nothing moved)."""
    import torch

    from mpfas_lib.training.book import tiny_models

    return {part: _a1_fingerprint(net.to(torch.float64).state_dict())
            for part, net in zip(_A1_PARTS, tiny_models(), strict=True)}


def _a1_phi_hint(got: Mapping) -> str:
    if _a1_same(got, _a1_initial(), "phi", 0):
        return ("Φ did not move: each inner step is Φ ← Φ − α ∇_Φ L on one D_φ batch "
                "(lines 9-12)")
    if _a1_same(got, _a1_variant("sign"), "phi", 0):
        return "Φ went up its gradient: the inner step (Eq. 7) moves against ∇_Φ L"
    if any(_a1_same(got, _a1_variant(c), "phi", 0) for c in ("first K-1", "last K-1")):
        return "Φ took K − 1 inner steps: one step per batch of phi_batches, K in all"
    return ("Φ_K differs from Algorithm 1's: K steps, one per D_φ batch, each with the "
            "gradient of that batch's loss with respect to Φ only, Θ unchanged (lines 9-12)")


def _a1_theta_hint(got: Mapping) -> str:
    if _a1_same(got, _a1_initial(), "theta", 0):
        return "Θ did not move: line 16 takes one step of theta_opt"
    if _a1_same(got, _a1_variant("theta on D_phi"), "theta", 0):
        return "Θ was updated on a D_φ batch: line 16 uses the D_θ batch (theta_batch)"
    return ("Θ's step is off: the loss of the D_θ batch with the pattern of Φ̂ (training "
            "mode, no gradient into Φ), Θ's gradients zeroed, one theta_opt.step() (line 16)")


@register("ex-nb06-5", probe=_a1_probe)
def _algorithm1_by_hand(answer: Any) -> str | None:
    from mpfas_lib.training import get_method
    from mpfas_lib.training.book import library_steps

    if not isinstance(answer, dict) or not answer.get("callable"):
        return ("give your function algorithm1_step(phi, theta, theta_opt, phi_batches, "
                "theta_batch, lr)")
    if any(not isinstance(answer.get(part), Mapping) for part in _A1_PARTS):
        return "the answer could not be read: give the function itself"
    truth = _a1_run(library_steps(get_method("mp").meta_settings(_A1_LR)))
    if not _a1_same(answer, truth, "phi", 0):
        return _a1_phi_hint(answer)
    if not _a1_same(answer, truth, "phi", 1):
        return ("Φ's BatchNorm running statistics changed in the Θ step: Φ̂ is fixed there "
                "(line 14), so put its statistics back after computing the pattern")
    if not _a1_same(answer, truth, "theta", 0):
        return _a1_theta_hint(answer)
    if not _a1_same(answer, truth, "theta", 1):
        return ("Θ's BatchNorm running statistics moved during the inner loop: Θ is fixed in "
                "lines 9-12, so save them before the loop and put them back after it")
    return None
