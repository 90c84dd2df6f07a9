"""Training: Algorithm 1 (Meta Pattern learning), ERM baselines, runs, checkpoints, DDP.

- :func:`meta_pattern_step` with :class:`MetaSettings`: one outer iteration of Algorithm 1;
  :func:`algorithm1_stages` records it stage by stage (chapter 06);
- :func:`erm_step`: end-to-end ERM ("without OA") and the fixed-map baselines;
- :data:`METHODS` / :func:`get_method`: the method registry; :func:`build_models`: Φ and Θ;
- :func:`build_config` / :class:`RunConfig`: one run's settings (profile, method, run);
- :class:`Trainer`: Φ, Θ, optimisers and batches, built from a config;
- :func:`run_training` / :func:`load_or_train`: a whole run writing ``results.json``;
- the chapters' shortcuts (:mod:`mpfas_lib.training.book`): :func:`trained_phi`,
  :func:`trained_models`, :func:`study_snapshots`, :func:`study_runs`, :func:`stand_in`.

Scoring, thresholds, model selection and seed statistics live in :mod:`mpfas_lib.evaluation`.
"""

from mpfas_lib.training.algorithm1 import (
    MetaSettings,
    NonFiniteLossError,
    StepStats,
    meta_pattern_step,
    phi_optimizer_for,
    split_domains,
)
from mpfas_lib.training.artefacts import phi_snapshots
from mpfas_lib.training.book import (
    STUDY_RUN,
    library_steps,
    predrawn_iterations,
    replay_iterations,
    retrain_committed,
    stand_in,
    student_steps,
    study_runs,
    study_snapshots,
    tiny_models,
    trained_models,
    trained_phi,
)
from mpfas_lib.training.build import build_data
from mpfas_lib.training.config import RunConfig, build_config
from mpfas_lib.training.erm import Pipeline, erm_step
from mpfas_lib.training.loop import load_or_train, run_training
from mpfas_lib.training.methods import METHODS, Method, build_models, get_method
from mpfas_lib.training.plan import read_plan
from mpfas_lib.training.report import build_report
from mpfas_lib.training.stages import Algorithm1Stages, algorithm1_stages
from mpfas_lib.training.sweep import plan_runs
from mpfas_lib.training.trainer import Trainer

__all__ = [
    "METHODS",
    "STUDY_RUN",
    "Algorithm1Stages",
    "MetaSettings",
    "Method",
    "NonFiniteLossError",
    "Pipeline",
    "RunConfig",
    "StepStats",
    "Trainer",
    "algorithm1_stages",
    "build_config",
    "build_data",
    "build_models",
    "build_report",
    "erm_step",
    "get_method",
    "library_steps",
    "load_or_train",
    "meta_pattern_step",
    "phi_optimizer_for",
    "phi_snapshots",
    "plan_runs",
    "predrawn_iterations",
    "read_plan",
    "replay_iterations",
    "retrain_committed",
    "run_training",
    "split_domains",
    "stand_in",
    "student_steps",
    "study_runs",
    "study_snapshots",
    "tiny_models",
    "trained_models",
    "trained_phi",
]
