"""Training: Algorithm 1 (Meta Pattern learning), ERM baselines, runs, checkpoints, DDP.

- :func:`meta_pattern_step` — one outer iteration of the paper's Algorithm 1;
- :func:`erm_step` — end-to-end ERM ("without OA") and the fixed-map baselines;
- :class:`Trainer` — Φ, Θ, optimisers and batches; :data:`METHODS` — the method registry;
- :func:`run_training` / :func:`build_config` — a whole run writing ``results.json``.
"""

from mpfas_lib.training.algorithm1 import (
    MetaStepStats,
    NonFiniteLossError,
    meta_pattern_step,
    split_domains,
)
from mpfas_lib.training.erm import Pipeline, erm_step
from mpfas_lib.training.methods import METHODS, Method, get_method
from mpfas_lib.training.runs import TrainConfig, build_config, run_training
from mpfas_lib.training.trainer import Trainer, aggregate_seeds, evaluate_scores, score_dataset

__all__ = [
    "METHODS",
    "Method",
    "MetaStepStats",
    "NonFiniteLossError",
    "Pipeline",
    "TrainConfig",
    "Trainer",
    "aggregate_seeds",
    "build_config",
    "erm_step",
    "evaluate_scores",
    "get_method",
    "meta_pattern_step",
    "run_training",
    "score_dataset",
    "split_domains",
]
