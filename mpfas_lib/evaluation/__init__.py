"""Evaluation: scores (Eq. 11), metrics, model selection, seed statistics, the paper's tables.

Seeds and comparisons: :func:`seed_summary` (one method over seeds), :func:`paired_difference`
(two methods, or pooled over settings), :func:`holm` (a family of p-values); from results
folders, :func:`seed_table` (per setting), :func:`pooled_table` (over settings),
:func:`selection_table` (under each selection rule; its text form :func:`selection_cells`,
who wins under which rule :func:`selection_wins`) and :func:`verdicts` (read in words).
"""

from mpfas_lib.evaluation.metrics import (
    auc,
    bpcer_at_apcer,
    det,
    eer,
    hter,
    iso_metrics,
    min_hter,
    pad_metrics,
    roc,
    source_val_metrics,
    threshold_at_eer,
    video_scores,
)
from mpfas_lib.evaluation.paper import CITATION, SETTING_TO_PROTOCOL, TABLES, paper_rows
from mpfas_lib.evaluation.scoring import (
    Scores,
    evaluate_scores,
    score_dataset,
    score_domains,
)
from mpfas_lib.evaluation.selection import SELECTIONS, headline, select
from mpfas_lib.evaluation.stats import (
    RunScores,
    holm,
    paired_difference,
    run_scores,
    seed_summary,
)
from mpfas_lib.evaluation.tables import (
    PAPER_NAMES,
    RULE_NAMES,
    beside_paper,
    late_gains,
    learning_curves,
    load_runs,
    pooled_table,
    run_rows,
    run_shift,
    seed_table,
    selection_cells,
    selection_table,
    selection_wins,
    shift_table,
    training_losses,
    verdicts,
)

__all__ = [
    "SELECTIONS",
    "RULE_NAMES",
    "RunScores",
    "Scores",
    "beside_paper",
    "evaluate_scores",
    "headline",
    "holm",
    "paired_difference",
    "pooled_table",
    "run_scores",
    "score_dataset",
    "score_domains",
    "seed_summary",
    "run_shift",
    "seed_table",
    "shift_table",
    "select",
    "selection_cells",
    "selection_table",
    "selection_wins",
    "source_val_metrics",
    "CITATION",
    "PAPER_NAMES",
    "SETTING_TO_PROTOCOL",
    "TABLES",
    "auc",
    "bpcer_at_apcer",
    "det",
    "eer",
    "pad_metrics",
    "hter",
    "iso_metrics",
    "late_gains",
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
