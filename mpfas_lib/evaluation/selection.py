"""Model selection over a run's evaluations, and a run's headline numbers.

A run evaluates every ``eval_every`` iterations; which evaluation it reports is a choice with
consequences (REFERENCE section 5): ``last``; ``source_val``, the lowest EER on held-out
*source* subjects (honest: no target label is used); ``target_oracle``, the lowest video-level
target HTER at the target's own EER threshold (the field's usual oracle);
``target_frame_min_hter``, the lowest *frame-level minimum* HTER over thresholds on the target,
the first such evaluation on ties (the rule by which the authors' code keeps its "best"
checkpoint; also an oracle). Summaries over seeds, with intervals, are
:func:`mpfas_lib.evaluation.stats.seed_summary` and :func:`mpfas_lib.evaluation.seed_table`.
"""

from __future__ import annotations

import math
from typing import Any

SELECTIONS = ("last", "source_val", "target_oracle", "target_frame_min_hter")


def select(history: list[dict], rule: str = "source_val") -> dict:
    """Pick one evaluation from the history by a rule of :data:`SELECTIONS` (module docstring)
    (chapter 10)."""
    if rule not in SELECTIONS:
        raise ValueError(f"unknown model selection {rule!r}: choose one of {SELECTIONS}")
    if not history:
        raise ValueError("no evaluation in the history to select from")
    if rule == "last":
        return history[-1]
    if rule == "source_val":
        usable = [h for h in history if h.get("source_val")]
        if not usable:
            return history[-1]
        # lowest source-val EER, ties to higher AUC then to the later iteration
        return min(
            reversed(usable),
            key=lambda h: (h["source_val"]["eer"], -h["source_val"]["auc"]),
        )
    if rule == "target_frame_min_hter":
        # the code replaces its best only on a strict improvement: the earliest minimum wins
        return min(history, key=lambda h: h["target"]["frame"]["hter_min"])
    return min(reversed(history), key=lambda h: h["target"]["video"]["hter_target_eer"])


def headline(results: dict, rule: str | None = None, level: str = "video") -> dict[str, float]:
    """HTER (source threshold and target EER threshold) and AUC of the selected evaluation."""
    rule = rule or results.get("selection", "source_val")
    metrics = results["metrics"][rule]["target"][level]
    return {
        "hter_source": metrics.get("hter_source", math.nan),
        "hter_target_eer": metrics["hter_target_eer"],
        "auc": metrics["auc"],
        "iteration": results["metrics"][rule]["iteration"],
    }


def flatten(tree: dict | list, prefix: str = "", lists: bool = False) -> dict[str, Any]:
    """A nested dict as one level of dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``).

    With ``lists`` a list is entered too, its items keyed by index (``[{"b": 1}]`` -> ``0.b``).
    """
    flat: dict[str, Any] = {}
    for key, value in (enumerate(tree) if isinstance(tree, list) else tree.items()):
        if isinstance(value, dict) or (lists and isinstance(value, list)):
            flat.update(flatten(value, f"{prefix}{key}.", lists))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
