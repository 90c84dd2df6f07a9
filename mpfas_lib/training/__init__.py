"""Training: Algorithm 1 (Meta Pattern learning), ERM baselines, runs, checkpoints, DDP.

- :func:`meta_pattern_step` — one outer iteration of the paper's Algorithm 1;
- :func:`erm_step` — end-to-end ERM ("without OA") and the fixed-map baselines;
- :class:`Trainer` — Φ, Θ, optimisers and batches; :data:`METHODS` — the method registry;
- :func:`build_config` / :class:`RunConfig` — one run's settings (profile, method, run);
- :func:`run_training` — a whole run writing ``results.json``.

Scoring, thresholds, model selection and seed statistics live in :mod:`mpfas_lib.evaluation`.
"""

from mpfas_lib.training.algorithm1 import (
    MetaStepStats,
    NonFiniteLossError,
    meta_pattern_step,
    split_domains,
)
from mpfas_lib.training.config import RunConfig, build_config
from mpfas_lib.training.erm import Pipeline, erm_step
from mpfas_lib.training.methods import METHODS, Method, get_method
from mpfas_lib.training.runs import load_or_train, run_training
from mpfas_lib.training.trainer import Trainer

__all__ = [
    "METHODS",
    "Method",
    "MetaStepStats",
    "NonFiniteLossError",
    "Pipeline",
    "RunConfig",
    "Trainer",
    "build_config",
    "erm_step",
    "get_method",
    "load_or_train",
    "meta_pattern_step",
    "run_training",
    "split_domains",
]
