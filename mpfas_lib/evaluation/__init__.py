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
from mpfas_lib.evaluation.tables import (
    PAPER_NAMES,
    comparison_entries,
    comparison_table,
    load_runs,
    run_rows,
)

__all__ = [
    "CITATION",
    "PAPER_NAMES",
    "SETTING_TO_PROTOCOL",
    "TABLES",
    "auc",
    "comparison_entries",
    "comparison_table",
    "eer",
    "evaluate",
    "hter",
    "iso_metrics",
    "load_runs",
    "min_hter",
    "paper_rows",
    "roc",
    "run_rows",
    "threshold_at_eer",
    "video_scores",
]
