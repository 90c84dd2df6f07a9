"""One training run end to end: config, data, models, loop, evaluation, checkpoints, results.

``run_training(config, out)`` writes ``<out>/<run_name>/``: ``results.json`` (provenance,
metrics and video scores), ``checkpoint.pt`` (everything needed by ``resume=True``, written
atomically every ``checkpoint_every`` iterations), ``model_best.pt`` (Φ and Θ at the
source-validation-selected evaluation), ``phi.pt`` (a learnt Φ at iteration 0 and every
evaluation), ``trace.json`` (per-iteration Algorithm 1 trace) and ``tb/`` (TensorBoard logs).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mpfas_lib.data.loader import LoaderBatches
from mpfas_lib.data.protocols import Protocol, build_protocol
from mpfas_lib.data.sampling import DomainBalancedBatches, evaluation_frames
from mpfas_lib.evaluation.scoring import (
    evaluate_scores,
    score_dataset,
    score_domains,
    source_val_metrics,
)
from mpfas_lib.evaluation.selection import SELECTIONS, flatten, select
from mpfas_lib.files import FolderLock, remove_orphans, writable_dir
from mpfas_lib.models.losses import hfn_loss
from mpfas_lib.models.pretrained import check_pretrained
from mpfas_lib.paths import results_dir
from mpfas_lib.provenance import git_commit
from mpfas_lib.profile import Profile
from mpfas_lib.runtime import device_name, pick_device, seed_everything
from mpfas_lib.training.algorithm1 import NonFiniteLossError, trainable
from mpfas_lib.training.checkpoints import (
    atomic_save,
    atomic_write_text,
    capture_rng_states,
    load_checkpoint,
    restore_rng_states,
)
from mpfas_lib.training.config import RunConfig, build_config
from mpfas_lib.training.methods import build_phi, build_theta, get_method
from mpfas_lib.training.trainer import Trainer, request_plan

RESULTS_FORMAT = 2  # 2: nested profile/method config and per-rule video scores
# settings a resumed run may change (more iterations, another device, logging)
# (run_name is free too: the checkpoint was found in the folder the name points to)
RESUME_FREE = {"iterations", "device", "threads", "loader_workers", "progress", "tensorboard",
               "eval_batch_size", "root", "keep_checkpoint", "save_best", "layers", "run_name"}

def _finite(tree: Any) -> Any:
    """NaN and infinities as None: strict JSON readers refuse bare ``NaN``."""
    if isinstance(tree, float) and not math.isfinite(tree):
        return None
    if isinstance(tree, dict):
        return {k: _finite(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_finite(v) for v in tree]
    return tree


def _jsonable(tree: Any) -> Any:
    return _finite(json.loads(json.dumps(tree, default=float)))


def build_models(config: RunConfig) -> tuple[torch.nn.Module | None, torch.nn.Module]:
    """Φ and Θ of a config: the method's builders at the profile's backbone."""
    phi = build_phi(config.method)
    theta = build_theta(config.method, config.profile.backbone, config.profile.pretrained)
    return phi, theta


def build_trainer(config: RunConfig, phi: torch.nn.Module | None, theta: torch.nn.Module,
                  batches: Any, domains: list[str], device: torch.device | str = "cpu",
                  dist: Any = None) -> Trainer:
    """The trainer of a config: the method's algorithm with the profile's optimiser settings."""
    prof, method = config.profile, config.method
    return Trainer(
        phi, theta, batches, domains, hfn_loss, algorithm=method.algorithm, mode=method.mode,
        inner_steps=method.inner_steps, lr=prof.lr, momentum=prof.momentum,
        weight_decay=method.weight_decay, theta_loss_scale=method.theta_loss_scale,
        hflip=method.hflip, seed=config.seed, device=device, amp=config.amp,
        channels_last=config.channels_last, dist=dist,
    )


def loader_workers(config: RunConfig, device: torch.device, world_size: int = 1) -> int:
    """Image-loading processes of a run: the setting, else several per GPU, none on the CPU.

    A machine setting, not a profile number: the batches and so the results are the same for
    every value (tests/test_loader.py), and the right count depends on the host's cores.
    """
    if config.loader_workers is not None:
        return config.loader_workers
    if device.type != "cuda":
        return 0
    return min(8, max(1, (os.cpu_count() or 1) // world_size))


def build_batches(config: RunConfig, protocol: Protocol, device: torch.device, rank: int = 0,
                  world_size: int = 1) -> DomainBalancedBatches | LoaderBatches:
    """The trainer's batch source: in-process sampling, or workers loading the planned batches."""
    batches = DomainBalancedBatches(protocol.sources, k=config.profile.batch_per_class,
                                    seed=config.seed, rank=rank, world_size=world_size)
    workers = loader_workers(config, device, world_size)
    if workers == 0:
        return batches
    method = config.method

    def plan():
        return request_plan(sorted(protocol.sources), method.algorithm, method.mode,
                            method.inner_steps, config.seed)

    return LoaderBatches(batches, plan, workers, pin_memory=device.type == "cuda",
                         seed=config.seed)


def build_data(config: RunConfig) -> Protocol:
    """The protocol (sources, source validation, target) of a config, in its data scope.

    With ``method.train_frames`` only that many evenly spaced frames of each source video
    are trained on (the authors' code: 2).
    """
    protocol = build_protocol(config.protocol, source=config.data, profile=config.profile,
                              root=config.root, seed=config.data_seed, scope=config.scope)
    method = config.method
    if method.train_frames:
        protocol.sources = {d: evaluation_frames(ds, method.train_frames, method.frame_spacing)
                            for d, ds in protocol.sources.items()}
    return protocol


def evaluate_models(phi: torch.nn.Module | None, theta: torch.nn.Module, protocol: Protocol,
                    config: RunConfig, device: torch.device, iteration: int = 0) -> dict:
    """Target metrics (frame and video level), source-validation criterion and video scores."""
    kw = {"device": device, "batch_size": config.eval_batch_size, "amp": config.amp,
          "channels_last": config.channels_last}
    # the field's test-time sampling: eval_frames evenly spaced frames per video
    frames, spacing = config.profile.eval_frames, config.method.frame_spacing
    source = None
    if protocol.source_val:
        val = {d: evaluation_frames(ds, frames, spacing) for d, ds in protocol.source_val.items()}
        source = score_domains(phi, theta, val, **kw)
    target = score_dataset(phi, theta, evaluation_frames(protocol.target, frames, spacing), **kw)
    for name, scores in (("target", target), ("source validation", source)):
        if scores is not None and not np.isfinite(scores.scores).all():
            raise NonFiniteLossError(iteration, f"{name} scores (Eq. 11)", math.nan)
    out: dict[str, Any] = {"target": evaluate_scores(target, source)}
    if source is not None:
        out["source_val"] = source_val_metrics(source)
    # video-level target scores, for bootstrap intervals over videos (evaluation.stats)
    # and the source-validation video scores, so a bootstrap can re-estimate the threshold
    out["target_scores"] = {**target.videos(),
                            "source_threshold": out["target"]["video"].get("source_threshold"),
                            "source_val": source.videos() if source is not None else None}
    return _jsonable(out)


def _copy_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state dict (a snapshot that training cannot change)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _writer(run_dir: Path, enabled: bool, purge_step: int | None):
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional and slow to import
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tb"), purge_step=purge_step)


def _check_resumable(config: RunConfig, saved: dict, ckpt_path: Path) -> None:
    """Refuse to continue (or reuse) a run made with other settings, naming each one.

    A setting the saved config lacks was added later: the run used its default then.
    """
    mine, theirs = flatten(config.to_dict()), flatten(saved)
    try:
        theirs = {**flatten(RunConfig.from_dict(saved).to_dict()), **theirs}
    except (TypeError, ValueError, KeyError):  # a config this version cannot rebuild
        pass
    changed = sorted(k for k, v in mine.items()
                     if not {k.split(".")[0], k.split(".")[-1]} & RESUME_FREE
                     and theirs.get(k, v) != v)
    if changed:
        raise ValueError(
            f"cannot use {ckpt_path}: settings differ from this run's: "
            + ", ".join(f"{k} ({theirs.get(k)!r} -> {mine[k]!r})" for k in changed)
        )


def results_of(config: RunConfig, history: list[dict], trace_len: int, provenance: dict,
               failure: Exception | None) -> dict:
    """The content of results.json: status, provenance, metrics and scores per selection."""
    chosen = {rule: select(history, rule) for rule in SELECTIONS} if history else {}
    return {
        "format": RESULTS_FORMAT,
        "run": config.name(),
        "status": "failed" if failure else "completed",
        "error": str(failure) if failure else None,
        "provenance": {**provenance, "iterations": trace_len},
        "selection": config.method.selection,
        "metrics": {rule: {k: v for k, v in h.items() if k != "target_scores"}
                    for rule, h in chosen.items()},
        "scores": {rule: h["target_scores"] for rule, h in chosen.items() if "target_scores" in h},
        "history": [{k: v for k, v in h.items() if k != "target_scores"} for h in history],
    }


def run_training(
    config: RunConfig,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    dist: Any = None,
    log: Any = print,
) -> dict:
    """Train one run (Algorithm 1 or ERM), evaluating and checkpointing; returns results.json."""
    config.validate()
    check_pretrained(config.profile.pretrained, config.profile.backbone)  # before any data
    main = dist is None or dist.rank == 0
    run_dir = Path(out) if out is not None else results_dir() / "runs"
    run_dir = run_dir / config.name()
    ckpt_path = run_dir / "checkpoint.pt"
    device = dist.device if dist is not None else pick_device(config.device)
    if resume and not ckpt_path.is_file():
        raise FileNotFoundError(
            f"--resume: no checkpoint at {ckpt_path} (check --out, --seed, --protocol, "
            "--method and run_name); run without --resume to start this run from scratch")
    lock = None
    if main:  # one writer per run folder; a killed writer frees it, so --resume works
        lock = FolderLock(writable_dir(run_dir, "run folder"), "run folder").acquire()
        remove_orphans(run_dir)  # .checkpoint.pt.*.tmp of a killed atomic write
    try:
        return _run_locked(config, run_dir, ckpt_path, device, resume, dist, log)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(config: RunConfig, run_dir: Path, ckpt_path: Path, device: torch.device,
                resume: bool, dist: Any, log: Any) -> dict:
    """The body of :func:`run_training`, run while holding the run folder's lock."""
    prof, method = config.profile, config.method
    rank = dist.rank if dist is not None else 0
    world = dist.world_size if dist is not None else 1
    main = rank == 0

    if config.threads > 0 and device.type == "cpu":
        torch.set_num_threads(config.threads)
    protocol = build_data(config)
    # seed after building the data: rendering or loading it must not shift the model's init
    seed_everything(config.seed)
    phi, theta = build_models(config)
    batches = build_batches(config, protocol, device, rank, world)
    trainer = build_trainer(config, phi, theta, batches, sorted(protocol.sources), device, dist)
    history: list[dict] = []
    trace: list[dict] = []
    elapsed = 0.0
    resumed_from = None
    learnt_phi = trainable(trainer.phi)
    phi_snapshots: dict[str, Any] = {"method": method.name, "iterations": [], "states": [],
                                     "selected": None}
    if learnt_phi:
        phi_snapshots["iterations"].append(0)
        phi_snapshots["states"].append(_copy_state(trainer.phi))
    if resume:
        state = load_checkpoint(ckpt_path)
        _check_resumable(config, state["config"], ckpt_path)
        trainer.load_state_dict(state["trainer"])
        history, trace = list(state["history"]), list(state["trace"])
        phi_snapshots = state.get("phi_snapshots", phi_snapshots)
        elapsed = float(state["wall_seconds"])
        restore_rng_states(state["rng"])
        resumed_from = trainer.iteration
        if main:
            log(f"resumed {run_dir} at iteration {trainer.iteration}")
    every_ckpt = config.checkpoint_every or prof.eval_every
    writer = _writer(run_dir, config.tensorboard and main, resumed_from) if main else None
    bar = None
    if config.progress and main:
        bar = tqdm(total=prof.iterations, initial=trainer.iteration, desc=config.name(),
                   leave=False, file=sys.stderr)
    start = time.perf_counter()
    failure: NonFiniteLossError | None = None
    try:
        while trainer.iteration < prof.iterations:
            stats = trainer.step()
            it = trainer.iteration
            trace.append(stats.to_dict())
            if writer is not None:
                writer.add_scalar("loss/theta", stats.theta_loss, it)
                for k, value in enumerate(stats.inner_losses):
                    writer.add_scalar(f"loss/inner_{k + 1}", value, it)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{stats.theta_loss:.3f}")
            if it % prof.eval_every == 0 or it == prof.iterations:
                record = {"iteration": it, **evaluate_models(
                    trainer.phi, trainer.theta, protocol, config, device, it)}
                history.append(record)
                if writer is not None:
                    video = record["target"]["video"]
                    writer.add_scalar("target/hter_target_eer", video["hter_target_eer"], it)
                    writer.add_scalar("target/auc", video["auc"], it)
                    if "source_val" in record:
                        writer.add_scalar("source_val/eer", record["source_val"]["eer"], it)
                best = select(history, "source_val") is record
                if main and best and config.save_best:
                    atomic_save({"config": config.to_dict(), **trainer.model_state(),
                                 "iteration": it}, run_dir / "model_best.pt")
                if main and learnt_phi:  # Φ is tiny: its history is kept with the results
                    phi_snapshots["iterations"].append(it)
                    phi_snapshots["states"].append(_copy_state(trainer.phi))
                    if best:
                        phi_snapshots["selected"] = it
                    atomic_save(phi_snapshots, run_dir / "phi.pt")
            if main and (it % every_ckpt == 0 or it == prof.iterations):
                atomic_save({
                    "format": RESULTS_FORMAT,
                    "config": config.to_dict(),
                    "trainer": trainer.state_dict(),
                    "rng": capture_rng_states(),
                    "history": history,
                    "trace": trace,
                    "phi_snapshots": phi_snapshots,
                    "wall_seconds": elapsed + time.perf_counter() - start,
                }, ckpt_path)
    except NonFiniteLossError as error:
        failure = error
        if main:
            kept = (f"last good checkpoint kept at {ckpt_path}" if ckpt_path.is_file()
                    else "no checkpoint had been written yet")
            log(f"stopped: {failure}; {kept}")
    finally:
        if isinstance(batches, LoaderBatches):
            batches.close()
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    provenance = {
        "git_commit": git_commit(),
        "config": config.to_dict(),
        "profile": prof.name,
        "method": method.name,
        "data": config.data,
        "device": device_name(device),
        "world_size": world,
        "seed": config.seed,
        "wall_seconds": elapsed + time.perf_counter() - start,
        "resumed_from": resumed_from,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    results = _jsonable(results_of(config, history, trainer.iteration, provenance, failure))
    if main:
        atomic_write_text(json.dumps(results, indent=2, allow_nan=False),
                          run_dir / "results.json")
        atomic_write_text(json.dumps(_jsonable(trace), allow_nan=False), run_dir / "trace.json")
    if failure is not None:
        raise failure
    if main and not config.keep_checkpoint and ckpt_path.is_file():
        ckpt_path.unlink()  # a finished run needs only its results (small artefacts)
    return results


def load_or_train(config: RunConfig, out: str | os.PathLike, log: Any = print) -> dict:
    """Load a finished run's results.json, resume an interrupted one, or train it (chapter 08).

    The results of another profile, method or data never stand in for this config's: a
    results.json whose recorded settings differ is an error naming the differences.
    """
    run_dir = Path(out) / config.name()
    results_file = run_dir / "results.json"
    if results_file.is_file():
        try:
            results = json.loads(results_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{results_file}: not readable JSON ({error}); delete it to "
                             "train the run again") from None
        if results.get("status") == "completed":
            if results.get("format") == RESULTS_FORMAT:
                _check_resumable(config, results["provenance"]["config"], results_file)
            return results
    resume = (run_dir / "checkpoint.pt").is_file()
    if resume:
        log(f"resuming {run_dir}")
    return run_training(config, out=out, resume=resume, log=log)


def phi_snapshots(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The learnt Φ of a run at iteration 0 and every evaluation (``phi.pt``), or None."""
    path = Path(run_dir) / "phi.pt"
    if not path.is_file():
        return None
    return load_checkpoint(path)


STUDY_RUN = "MICO_OCI-M-mp-s0"


def trained_phi(results: str | os.PathLike, profile: Profile, cache: str | os.PathLike,
                run: str = STUDY_RUN) -> tuple[torch.nn.Module, str]:
    """A trained Φ in eval mode and a label saying where it comes from (chapters 04, 06, 11).

    The study run's selected Φ (``results/study/<run>/phi.pt``) when it is there, else a short
    Algorithm 1 run at ``profile`` (24 iterations, trained once and cached), so a reader always
    sees what training produced, and the label says which.
    """
    snaps = phi_snapshots(Path(results) / "study" / run)
    label = f"study run {run}"
    if snaps is None:
        config = build_config(method="mp", progress=False, tensorboard=False).replace(
            profile=profile.replace(iterations=24, eval_every=8))
        load_or_train(config, Path(cache) / "short_runs", log=lambda *_: None)
        snaps = phi_snapshots(Path(cache) / "short_runs" / config.name())
        label = f"{profile.name} profile, 24 iterations"
    assert snaps is not None
    chosen = snaps["selected"] if snaps["selected"] is not None else snaps["iterations"][-1]
    phi = build_phi(get_method(snaps["method"]))
    assert phi is not None
    phi.load_state_dict(snaps["states"][snaps["iterations"].index(chosen)])
    return phi.eval(), f"{label}, iteration {chosen}, synthetic"


def trained_models(results: str | os.PathLike, run: str = STUDY_RUN
                   ) -> tuple[torch.nn.Module, torch.nn.Module, str] | None:
    """Φ and Θ of a study run's selected model, in eval mode, with a label (chapters 05, 11).

    Reads the committed ``results/study/explorer/<run>.pt`` (both networks at the evaluation
    selected on source validation); None when it is missing.
    """
    path = Path(results) / "study" / "explorer" / f"{run}.pt"
    if not path.is_file():
        return None
    saved = load_checkpoint(path)
    phi, theta = build_models(RunConfig.from_dict(saved["config"]))
    if phi is None:
        raise ValueError(f"{path}: run {run} has no learnt extractor Φ")
    phi.load_state_dict(saved["phi"])
    theta.load_state_dict(saved["theta"])
    label = f"study run {run}, iteration {saved['iteration']}, synthetic"
    return phi.eval(), theta.eval(), label
