"""Evaluation: scores (Eq. 11), metrics, model selection, seed statistics, the paper's tables."""

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
from mpfas_lib.evaluation.scoring import (
    Scores,
    evaluate_scores,
    score_dataset,
    score_domains,
    source_val_metrics,
)
from mpfas_lib.evaluation.selection import (
    SELECTIONS,
    aggregate_seeds,
    headline,
    select,
    summarize_seeds,
)
from mpfas_lib.evaluation.tables import (
    PAPER_NAMES,
    comparison_entries,
    comparison_table,
    learning_curves,
    load_runs,
    run_rows,
    seed_table,
    training_losses,
    verdicts,
)

__all__ = [
    "SELECTIONS",
    "Scores",
    "aggregate_seeds",
    "evaluate_scores",
    "headline",
    "score_dataset",
    "score_domains",
    "seed_table",
    "select",
    "source_val_metrics",
    "summarize_seeds",
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
    "learning_curves",
    "load_runs",
    "min_hter",
    "paper_rows",
    "roc",
    "run_rows",
    "threshold_at_eer",
    "training_losses",
    "verdicts",
    "video_scores",
]
