"""Evaluation: anti-spoofing metrics, the paper's tables as data, comparison tables."""

from mpfas_lib.evaluation.metrics import (
    auc,
    eer,
    evaluate,
    hter,
    iso_metrics,
    min_hter,
    roc,
    threshold_at_eer,
    video_scores,
)
from mpfas_lib.evaluation.paper import CITATION, SETTING_TO_PROTOCOL, TABLES, paper_rows
from mpfas_lib.evaluation.tables import comparison_table, load_results, ours_from_results

__all__ = [
    "CITATION",
    "SETTING_TO_PROTOCOL",
    "TABLES",
    "auc",
    "comparison_table",
    "eer",
    "evaluate",
    "hter",
    "iso_metrics",
    "load_results",
    "min_hter",
    "ours_from_results",
    "paper_rows",
    "roc",
    "threshold_at_eer",
    "video_scores",
]
