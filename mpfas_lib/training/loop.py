"""The training loop of one run: resume, step, evaluate and snapshot, checkpoint (chapter 08).

``run_training(config, out)`` trains the run built by :func:`~.build.build_run` into
``<out>/<run_name>/`` (files: :mod:`mpfas_lib.training.artefacts`); ``load_or_train`` loads a
finished run, resumes an interrupted one or trains a new one.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mpfas_lib.data.protocols import Protocol
from mpfas_lib.data.sampling import evaluation_frames
from mpfas_lib.evaluation.scoring import (
    evaluate_scores,
    score_dataset,
    score_domains,
    source_val_metrics,
)
from mpfas_lib.files import writable_dir
from mpfas_lib.models.pretrained import check_pretrained
from mpfas_lib.paths import cache_dir, results_dir
from mpfas_lib.runtime import pick_device
from mpfas_lib.training.algorithm1 import NonFiniteLossError, StepStats
from mpfas_lib.training.artefacts import Progress, RunFolder, provenance
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
        out["source_val"] = source_val_metrics(source)
    # video-level target scores, for bootstrap intervals over videos (evaluation.stats), and
    # the source-validation video scores, so a bootstrap can re-estimate the threshold
    out["target_scores"] = {**target.videos(),
                            "source_threshold": out["target"]["video"].get("source_threshold"),
                            "source_val": source.videos() if source is not None else None}
    return out


class Monitor:
    """What a person watches: a progress bar and TensorBoard curves (rank 0 only)."""

    def __init__(self, run: Run, folder: RunFolder, main: bool, resumed_from: int | None):
        config, it = run.config, run.trainer.iteration
        self.bar = self.writer = None
        if config.progress and main:
            self.bar = tqdm(total=run.schedule.iterations, initial=it, desc=config.name(),
                            leave=False, file=sys.stderr)
        if config.tensorboard and main:
            try:
                from torch.utils.tensorboard import SummaryWriter  # optional and slow to import
            except ImportError:
                return
            self.writer = SummaryWriter(str(folder.path / "tb"), purge_step=resumed_from)

    def step(self, stats: StepStats) -> None:
        """One training step: its losses."""
        if self.writer is not None:
            self.writer.add_scalar("loss/theta", stats.theta_loss, stats.iteration)
            for k, value in enumerate(stats.inner_losses):
                self.writer.add_scalar(f"loss/inner_{k + 1}", value, stats.iteration)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{stats.theta_loss:.3f}")

    def evaluated(self, record: dict) -> None:
        """One evaluation: the target's HTER and AUC, the source-validation EER."""
        if self.writer is None:
            return
        it, video = record["iteration"], record["target"]["video"]
        self.writer.add_scalar("target/hter_target_eer", video["hter_target_eer"], it)
        self.writer.add_scalar("target/auc", video["auc"], it)
        if "source_val" in record:
            self.writer.add_scalar("source_val/eer", record["source_val"]["eer"], it)

    def close(self) -> None:
        """Close the bar and flush the logs."""
        for part in (self.bar, self.writer):
            if part is not None:
                part.close()


def check_run(config: RunConfig, out: str | os.PathLike | None = None, resume: bool = False,
              dist: Any = None, force: bool = False, confirm: Confirm | None = None
              ) -> tuple[RunFolder, torch.device]:
    """Every check before any work (settings, weights, device, --out, --resume, then
    ``confirm(config, device)``, which may refuse with a ``UserError``); makes nothing.

    A refused run raises ``ValueError``, ``FileNotFoundError``, ``UserError`` or
    ``PretrainedWeightsError`` with one line naming the setting or file. A folder holding a
    finished run is never trained over without ``force`` (which moves that run aside first).
    """
    config.validate()
    check_pretrained(config.profile.pretrained, config.profile.backbone)  # before any data
    device = dist.device if dist is not None else pick_device(config.device)
    if config.data == "synthetic":
        cache_dir()  # $MPFAS_CACHE usable, before any folder of the run is made
    root = Path(out) if out is not None else results_dir() / "runs"
    writable_dir(root, "--out", create=False)
    folder = RunFolder(root / config.name())
    if resume and not folder.checkpoint.is_file():
        raise FileNotFoundError(
            f"--resume: no checkpoint at {folder.checkpoint} (check --out, --seed, --protocol, "
            "--method and run_name); run without --resume to start this run from scratch")
    if not resume and not force:
        folder.refuse_overwrite(config)
    if confirm is not None:
        confirm(config, device)
    return folder, device


def run_training(config: RunConfig, out: str | os.PathLike | None = None, resume: bool = False,
                 dist: Any = None, log: Any = print, force: bool = False,
                 confirm: Confirm | None = None) -> dict:
    """Train one run (Algorithm 1 or ERM), evaluating and checkpointing; returns results.json.

    ``force`` trains over a folder that holds a finished run: that run is moved aside first
    (to ``<out>/.replaced/``), so two runs' files never mix in one folder.
    """
    folder, device = check_run(config, out, resume, dist, force, confirm)
    main = dist is None or dist.rank == 0
    with folder.locked(writer=main):
        if force and not resume and main:
            moved = folder.move_aside()
            if moved is not None:
                log(f"moved the earlier run in {folder.path} to {moved}")
        run = build_run(config, device, dist)
        return _train(run, folder, resume, main, log)


def _train(run: Run, folder: RunFolder, resume: bool, main: bool, log: Any) -> dict:
    """Resume, then step, evaluate and snapshot, checkpoint; finally write the results."""
    trainer, schedule, config = run.trainer, run.schedule, run.config
    progress = Progress(config.method.name, trainer.phi)
    if resume:
        progress.restore(folder.load_checkpoint(), config, trainer, folder.checkpoint)
        if main:
            log(f"resumed {folder.path} at iteration {trainer.iteration}")
    monitor = Monitor(run, folder, main, progress.resumed_from)
    start, failure = time.perf_counter(), None
    try:
        while trainer.iteration < schedule.iterations:
            stats = trainer.step()
            progress.trace.append(stats.to_dict())
            monitor.step(stats)
            it = trainer.iteration
            if schedule.evaluates(it):
                record = {"iteration": it, **evaluate_models(
                    trainer.phi, trainer.theta, run.protocol, run.evaluation, run.device, it)}
                monitor.evaluated(record)
                best = progress.evaluated(record, trainer.phi)
                if main:
                    folder.save_selected(config, trainer, progress.snapshots, best)
            if main and schedule.checkpoints(it):
                elapsed = progress.elapsed + time.perf_counter() - start
                folder.save_checkpoint(progress.checkpoint(config, trainer, elapsed))
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
    folder = RunFolder(Path(out) / config.name())
    results = folder.finished(config)
    if results is not None:
        return results
    resume = folder.checkpoint.is_file()
    if resume:
        log(f"resuming {folder.path}")
    return run_training(config, out=out, resume=resume, log=log)
