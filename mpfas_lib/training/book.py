"""The chapters' shortcuts to trained models: the committed study, else short stand-in runs.

Every chapter that shows what training produced loads the committed study-scale results in
``results/study/`` (made by ``python -m mpfas_lib sweep study-main`` and ``study-ablations``);
without them it trains a short stand-in run here, once, and the label says which.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mpfas_lib.data.synthetic import DEFAULT_SHIFT
from mpfas_lib.evaluation.tables import load_runs, run_shift
from mpfas_lib.profile import Profile
from mpfas_lib.training.artefacts import load_checkpoint, phi_snapshots
from mpfas_lib.training.config import RunConfig, build_config
from mpfas_lib.training.loop import load_or_train
from mpfas_lib.training.methods import build_models, build_phi, get_method
from mpfas_lib.training.sweep import plan_runs, read_plan

STUDY_RUN = "MICO_OCI-M-mp-s0"  # the study run whose Φ and Θ chapters 03-06 and 11 show
SNAPSHOT_RUN = (24, 8)  # iterations and evaluation interval of the stand-in for STUDY_RUN
TINY_RUN = (2, 2)  # the stand-in for whole plans: a run that only proves the code runs


def stand_in(profile: Profile, iterations: int, eval_every: int, name: str | None = None
             ) -> Profile:
    """A profile shortened to a few iterations: the one way chapters shorten runs (chapter 08)."""
    return profile.replace(name=name or profile.name, iterations=iterations,
                           eval_every=eval_every)


def study_snapshots(results: str | os.PathLike, profile: Profile, cache: str | os.PathLike,
                    run: str = STUDY_RUN) -> tuple[dict[str, Any], str]:
    """Φ of a study run at iteration 0 and every evaluation, and where it comes from (chapter 11).

    The committed ``results/study/<run>/phi.pt`` when it is there, else a short Algorithm 1
    run at ``profile`` (:data:`SNAPSHOT_RUN`), trained once into ``cache`` and reused.
    """
    snaps = phi_snapshots(Path(results) / "study" / run)
    if snaps is not None:
        return snaps, f"study run {run}"
    iterations, every = SNAPSHOT_RUN
    config = build_config(method="mp", progress=False, tensorboard=False).replace(
        profile=stand_in(profile, iterations, every))
    load_or_train(config, Path(cache) / "short_runs", log=lambda *_: None)
    snaps = phi_snapshots(Path(cache) / "short_runs" / config.name())
    if snaps is None:
        raise RuntimeError(f"the stand-in run in {cache} wrote no phi.pt")
    return snaps, f"{profile.name} profile, {iterations} iterations"


def trained_phi(results: str | os.PathLike, profile: Profile, cache: str | os.PathLike,
                run: str = STUDY_RUN) -> tuple[torch.nn.Module, str]:
    """A trained Φ in eval mode, the one source validation selected, and its label (ch. 04).

    From :func:`study_snapshots`, so a reader always sees what training produced, and the
    label says which (chapters 03, 04, 06 and 11).
    """
    snaps, label = study_snapshots(results, profile, cache, run)
    chosen = snaps["selected"] if snaps["selected"] is not None else snaps["iterations"][-1]
    phi = build_phi(get_method(snaps["method"]))
    if phi is None:
        raise ValueError(f"run {run}: method {snaps['method']} has no learnt extractor Φ")
    phi.load_state_dict(snaps["states"][snaps["iterations"].index(chosen)])
    return phi.eval(), f"{label}, iteration {chosen}, synthetic"


def trained_models(results: str | os.PathLike, run: str = STUDY_RUN
                   ) -> tuple[torch.nn.Module, torch.nn.Module, str] | None:
    """Φ and Θ of a study run's selected model, in eval mode, with a label (chapter 05).

    Reads the committed ``results/study/explorer/<run>.pt`` (both networks at the evaluation
    selected on source validation); None when it is missing.
    """
    path = Path(results) / "study" / "explorer" / f"{run}.pt"
    if not path.is_file():
        return None
    saved = load_checkpoint(path)
    config = RunConfig.from_dict(saved["config"])
    phi, theta = build_models(config.method, config.profile)
    if phi is None:
        raise ValueError(f"{path}: run {run} has no learnt extractor Φ")
    phi.load_state_dict(saved["phi"])
    theta.load_state_dict(saved["theta"])
    label = f"study run {run}, iteration {saved['iteration']}, synthetic"
    return phi.eval(), theta.eval(), label


def study_runs(plans: Sequence[str], profile: Profile, results: str | os.PathLike,
               cache: str | os.PathLike, seeds: Sequence[int] | None = None,
               shift: float | None = DEFAULT_SHIFT) -> tuple[list[dict[str, Any]], str]:
    """The runs of study plans and their label (chapters 08 and 09).

    Under a full profile (a GPU) each run is loaded, resumed or trained at that scale. Else
    the committed study results are loaded from each plan's folder (``results/<out>``, e.g.
    ``results/study``); without them a tiny stand-in of each plan
    (:data:`TINY_RUN`, seed 0) is trained so the chapter still runs, labelled ``tiny``.
    Only runs at the dial value ``shift`` are returned (runs made before the dial count as
    the default); ``shift=None`` returns every value (the dial's own section).
    """
    if profile.name.startswith("full"):
        runs = [r for p in plans for r in plan_runs(p, profile, seeds=seeds)]
        label = profile.name
    else:
        folders = dict.fromkeys(read_plan(p).out for p in plans)
        runs = [r for out in folders for r in load_runs(Path(results) / out)]
        label = "study"
        if not runs:
            tiny = stand_in(profile, *TINY_RUN, name="tiny")
            runs = [r for p in plans for r in plan_runs(p, tiny, out=Path(cache) / "tiny",
                                                          seeds=[0])]
            label = "tiny"
    if shift is not None:
        runs = [r for r in runs if run_shift(r) in (None, shift)]
    return runs, label
