"""The training loop of one run: resume, step, evaluate and snapshot, checkpoint (chapter 08).

``run_training(config, out)`` trains the run built by :func:`~.build.build_run` into
``<out>/<run_name>/`` (files: :mod:`mpfas_lib.training.artefacts`); ``load_or_train`` loads a
finished run, resumes an interrupted one or trains a new one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mpfas_lib.data.datasets import evaluation_frames
from mpfas_lib.data.protocols import Protocol
from mpfas_lib.evaluation.metrics import source_val_metrics
from mpfas_lib.evaluation.scoring import (
    evaluate_scores,
    score_dataset,
    score_domains,
)
from mpfas_lib.files import writable_dir
from mpfas_lib.models.backbones import check_pretrained
from mpfas_lib.paths import cache_dir
from mpfas_lib.runtime import pick_device
from mpfas_lib.training.algorithm1 import NonFiniteLossError
from mpfas_lib.training.artefacts import Monitor, Progress, RunFolder, provenance, run_folder
from mpfas_lib.training.build import Evaluation, Run, build_run
from mpfas_lib.training.config import RunConfig

# a last check of a run on its device, e.g. the CLI's question before a days-long CPU run
Confirm = Callable[[RunConfig, torch.device], None]


def evaluate_models(phi: torch.nn.Module | None, theta: torch.nn.Module, protocol: Protocol,
                    evaluation: Evaluation, device: torch.device, iteration: int = 0) -> dict:
    """Target metrics (frame and video level), source-validation criterion and video scores."""
    kw = {"device": device, "batch_size": evaluation.batch_size, "amp": evaluation.amp,
          "channels_last": evaluation.channels_last}
    frames, spacing = evaluation.frames, evaluation.spacing
    val = {d: evaluation_frames(ds, frames, spacing) for d, ds in protocol.source_val.items()}
    test = evaluation_frames(protocol.target, frames, spacing)
    source = score_domains(phi, theta, val, **kw) if val else None
    target = score_dataset(phi, theta, test, **kw)
    for name, scores in (("target", target), ("source validation", source)):
        if scores is not None and not np.isfinite(scores.scores).all():
            raise NonFiniteLossError(iteration, f"{name} scores (Eq. 11)", math.nan)
    out: dict[str, Any] = {"target": evaluate_scores(target, source)}
    if source is not None:
        out["source_val"] = source_val_metrics(source.scores, source.labels, source.video_ids)
    # video-level target scores, for bootstrap intervals over videos (evaluation.stats), and
    # the source-validation video scores, so a bootstrap can re-estimate the threshold
    out["target_scores"] = {**target.videos(),
                            "source_threshold": out["target"]["video"].get("source_threshold"),
                            "source_val": source.videos() if source is not None else None}
    return out


def check_run(config: RunConfig, out: str | os.PathLike | None = None, resume: bool = False,
              dist: Any = None, force: bool = False, confirm: Confirm | None = None
              ) -> tuple[RunFolder, torch.device, dict | None]:
    """Every check before any work (settings, device, weights, --out, --resume, then
    ``confirm(config, device)``, which may refuse with a ``UserError``); makes nothing.

    Returns the run's folder, its device and, with ``resume``, the checkpoint to continue
    (read and checked here, so a wrong one is refused before the data is built).

    A refused run raises ``ValueError``, ``FileNotFoundError``, ``UserError`` or
    ``PretrainedWeightsError`` with one line naming the setting or file. A folder holding a
    finished run is never trained over without ``force`` (which moves that run aside first).
    """
    config.validate()
    device = dist.device if dist is not None else pick_device(config.device)
    check_pretrained(config.profile.pretrained, config.profile.backbone)  # before any data
    if config.data == "synthetic":
        cache_dir()  # $MPFAS_CACHE usable, before any folder of the run is made
    folder = run_folder(config, out)
    writable_dir(folder.path.parent, "--out", create=False)
    saved = folder.resume_state(config) if resume else None
    if not resume and not force:
        folder.refuse_overwrite(config)
    if confirm is not None:
        confirm(config, device)
    return folder, device, saved


def run_training(config: RunConfig, out: str | os.PathLike | None = None, resume: bool = False,
                 dist: Any = None, log: Any = print, force: bool = False,
                 confirm: Confirm | None = None) -> dict:
    """Train one run (Algorithm 1 or ERM), evaluating and checkpointing; returns results.json.

    ``force`` trains over a folder that holds a finished run: that run is moved aside first
    (to ``<out>/.replaced/``), so two runs' files never mix in one folder.
    """
    folder, device, saved = check_run(config, out, resume, dist, force, confirm)
    main = dist is None or dist.rank == 0
    with folder.locked(writer=main):
        if force and not resume and main:
            moved = folder.move_aside()
            if moved is not None:
                log(f"moved the earlier run in {folder.path} to {moved}")
        run = build_run(config, device, dist)
        return _train(run, folder, saved, main, log)


def _train(run: Run, folder: RunFolder, saved: dict | None, main: bool, log: Any) -> dict:
    """Resume, then step, evaluate and snapshot, checkpoint; finally write the results."""
    trainer, schedule, config = run.trainer, run.schedule, run.config
    progress = Progress(config.method.name, trainer.phi)
    if saved is not None:
        progress.restore(saved, trainer)
        if main:
            log(f"resumed {folder.path} at iteration {trainer.iteration}")
    monitor = Monitor(config, folder, schedule.iterations, trainer.iteration, main,
                      progress.resumed_from)
    start, failure = time.perf_counter(), None
    try:
        while trainer.iteration < schedule.iterations:
            stats = trainer.step()
            progress.trace.append(stats.to_dict())
            monitor.step(stats)
            it, best = trainer.iteration, None
            if schedule.evaluates(it):
                record = {"iteration": it, **evaluate_models(
                    trainer.phi, trainer.theta, run.protocol, run.evaluation, run.device, it)}
                monitor.evaluated(record)
                best = progress.evaluated(record, trainer.phi)
            if main:
                elapsed = progress.elapsed + time.perf_counter() - start
                folder.save(config, trainer, progress, best, schedule.checkpoints(it), elapsed)
    except NonFiniteLossError as error:
        failure = error
    finally:
        run.close()
        monitor.close()
    wall = progress.elapsed + time.perf_counter() - start
    origin = provenance(config, run.device_label, run.world_size, wall, progress.resumed_from)
    results = folder.finish(config, progress, origin, failure, write=main, log=log)
    if failure is not None:
        raise failure
    return results


def load_or_train(config: RunConfig, out: str | os.PathLike, log: Any = print) -> dict:
    """Load a finished run's results.json, resume an interrupted one, or train it (chapter 08).

    The results of another profile, method or data never stand in for this config's: a
    results.json whose recorded settings differ is an error naming the differences.
    """
    folder = run_folder(config, out)
    results = folder.finished(config)
    if results is not None:
        return results
    resume = folder.checkpoint.is_file()
    if resume:
        log(f"resuming {folder.path}")
    return run_training(config, out=out, resume=resume, log=log)
