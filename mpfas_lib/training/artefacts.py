"""What a run leaves in its folder: results with provenance, checkpoints, Φ snapshots, trace,
TensorBoard logs (and, beside them, the progress bar: :class:`Monitor`).

``<out>/<run_name>/`` holds ``results.json`` (provenance, metrics and video scores),
``checkpoint.pt`` (everything needed by ``resume=True``, written atomically every
``checkpoint_every`` iterations), ``model_best.pt`` (Φ and Θ at the source-validation-selected
evaluation), ``phi.pt`` (a learnt Φ at iteration 0 and every evaluation), ``trace.json``
(per-iteration Algorithm 1 trace) and ``tb/`` (TensorBoard logs). A folder belongs to one
configuration: :func:`check_resumable` refuses to continue or reuse another's. Checkpoints
hold state dicts only, written atomically and loaded with ``weights_only=True``: everything a
resumed run needs (models, optimisers, RNG states, the sampler state, the metric history) is
tensors and plain Python containers, so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from mpfas_lib.data.synthetic import GENERATOR_VERSION
from mpfas_lib.errors import UserError, load_failure
from mpfas_lib.evaluation.selection import SELECTIONS, select
from mpfas_lib.files import (
    FolderLock,
    atomic_save,
    atomic_write_text,
    remove_orphans,
    writable_dir,
)
from mpfas_lib.paths import results_dir
from mpfas_lib.provenance import git_commit, software
from mpfas_lib.runtime import capture_rng_states, restore_rng_states
from mpfas_lib.training.algorithm1 import StepStats
from mpfas_lib.training.config import RunConfig

REPLACED = ".replaced"  # where --force moves an earlier run (hidden from load_runs' */)
RESULTS_FORMAT = 2  # 2: nested profile/method config and per-rule video scores
def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) with a clear error naming the file."""
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"checkpoint {path} is a folder: pass {path / 'model_best.pt'} "
                                f"(the source-validation choice) or {path / 'checkpoint.pt'} "
                                "(the last iteration)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # corrupt or foreign file: say which and why, in one line
        reason = load_failure(path, error, "a checkpoint of this library")
        raise ValueError(f"cannot load checkpoint {path}: {reason}") from None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a file apart from its replacement: inode, size and modification time."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class StaleResultsError(ValueError):
    """A run folder holds another configuration's run (or another benchmark version's)."""


def _finite(tree: Any) -> Any:
    """NaN and infinities as None: strict JSON readers refuse bare ``NaN``."""
    if isinstance(tree, float) and not math.isfinite(tree):
        return None
    if isinstance(tree, dict):
        return {k: _finite(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_finite(v) for v in tree]
    return tree


def jsonable(tree: Any) -> Any:
    """Plain JSON values (numpy numbers as floats, non-finite numbers as None)."""
    return _finite(json.loads(json.dumps(tree, default=float)))


def check_resumable(config: RunConfig, saved: dict, path: Path) -> None:
    """Refuse to continue (or reuse) a run made with other settings, naming each one."""
    changed = config.changes_since(saved)
    if changed:
        raise StaleResultsError(f"cannot use {path}: settings differ from this run's: "
                                + ", ".join(changed))


def _copy_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state dict (a snapshot that training cannot change)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


class Progress:
    """A run's history (evaluations), trace (steps) and Φ snapshots: what a checkpoint keeps."""

    def __init__(self, method: str, phi: torch.nn.Module | None) -> None:
        self.history: list[dict] = []
        self.trace: list[dict] = []
        self.elapsed = 0.0
        self.resumed_from: int | None = None
        self.snapshots: dict[str, Any] | None = None  # only for a learnt Φ
        if phi is not None and any(p.requires_grad for p in phi.parameters()):
            self.snapshots = {"method": method, "iterations": [0], "states": [_copy_state(phi)],
                              "selected": None}

    def evaluated(self, record: dict, phi: torch.nn.Module | None) -> bool:
        """Keep an evaluation (and Φ's state then); True when source validation selects it."""
        record = jsonable(record)
        self.history.append(record)
        best = select(self.history, "source_val") is record
        if self.snapshots is not None and phi is not None:  # Φ is tiny: all of it is kept
            self.snapshots["iterations"].append(record["iteration"])
            self.snapshots["states"].append(_copy_state(phi))
            if best:
                self.snapshots["selected"] = record["iteration"]
        return best

    def checkpoint(self, config: RunConfig, trainer: Any, elapsed: float) -> dict:
        """Everything ``resume=True`` needs to continue exactly."""
        return {"format": RESULTS_FORMAT, "config": config.to_dict(),
                "trainer": trainer.state_dict(), "rng": capture_rng_states(),
                "history": self.history, "trace": self.trace,
                "phi_snapshots": self.snapshots, "wall_seconds": elapsed}

    def restore(self, state: dict, trainer: Any) -> None:
        """Continue from a checkpoint written by :meth:`checkpoint`, whose settings
        :meth:`RunFolder.resume_state` has checked against the run's."""
        trainer.load_state_dict(state["trainer"])
        self.history, self.trace = list(state["history"]), list(state["trace"])
        self.snapshots = state.get("phi_snapshots", self.snapshots)
        self.elapsed = float(state["wall_seconds"])
        restore_rng_states(state["rng"])
        self.resumed_from = trainer.iteration


def provenance(config: RunConfig, device: str, world_size: int, wall_seconds: float,
               resumed_from: int | None) -> dict:
    """Where a result came from: commit, configuration, device, seed, time and software."""
    generator = GENERATOR_VERSION if config.data == "synthetic" else None
    return {"git_commit": git_commit(), "config": config.to_dict(), "generator": generator,
            "profile": config.profile.name, "method": config.method.name, "data": config.data,
            "device": device, "world_size": world_size, "seed": config.seed,
            "wall_seconds": wall_seconds, "resumed_from": resumed_from, **software()}


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


class RunFolder:
    """One run's folder and the files in it, written atomically by its one writer."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoint = self.path / "checkpoint.pt"
        self.results = self.path / "results.json"
        self._read: tuple[int, int, int] | None = None  # the checkpoint resume_state read

    @contextmanager
    def locked(self, writer: bool = True) -> Iterator[RunFolder]:
        """Hold the folder's lock (one writer; a killed writer frees it, so resume works)."""
        if not writer:  # DDP ranks other than 0 write nothing
            yield self
            return
        lock = FolderLock(writable_dir(self.path, "run folder"), "run folder").acquire()
        try:
            if self._read is not None and _stamp(self.checkpoint) != self._read:
                raise UserError(f"{self.checkpoint} changed after it was checked for --resume "
                                "(another process wrote this run meanwhile): run the command "
                                "again")
            remove_orphans(self.path)  # .checkpoint.pt.*.tmp of a killed atomic write
            yield self
        finally:
            lock.release()

    def resume_state(self, config: RunConfig) -> dict:
        """The checkpoint that ``--resume`` continues, checked before any work: it must exist,
        load, and hold a run of ``config``'s settings (others are refused, naming each)."""
        if not self.checkpoint.is_file():
            raise FileNotFoundError(
                f"--resume: no checkpoint at {self.checkpoint} (check --out, --seed, --protocol, "
                "--method and run_name); run without --resume to start this run from scratch")
        stamp = _stamp(self.checkpoint)
        state = load_checkpoint(self.checkpoint)
        needed = {"config", "trainer", "rng", "history", "trace", "wall_seconds"}
        missing = needed - set(state) if isinstance(state, dict) else needed
        if missing:
            raise ValueError(f"cannot resume from {self.checkpoint}: not a training checkpoint "
                             f"of this library (no {', '.join(sorted(missing))}); move it away "
                             "and run without --resume")
        check_resumable(config, state["config"], self.checkpoint)
        self._read = stamp
        return state

    def save(self, config: RunConfig, trainer: Any, progress: Progress, best: bool | None,
             checkpoint: bool, elapsed: float) -> None:
        """What an iteration leaves: after an evaluation (``best`` not None) ``model_best.pt``
        when source validation selects it and ``phi.pt``; ``checkpoint.pt`` (what
        :meth:`Progress.restore` reads back) when ``checkpoint`` is due."""
        files: dict[Path, Any] = {}
        if best and config.save_best:
            files[self.path / "model_best.pt"] = {"config": config.to_dict(),
                                                  **trainer.model_state(),
                                                  "iteration": trainer.iteration}
        if best is not None and progress.snapshots is not None:
            files[self.path / "phi.pt"] = progress.snapshots
        if checkpoint:
            files[self.checkpoint] = progress.checkpoint(config, trainer, elapsed)
        for path, obj in files.items():  # in this order: the checkpoint is written last
            atomic_save(obj, path)

    def write_results(self, results: dict, trace: list[dict]) -> None:
        """``results.json`` and ``trace.json``, strict JSON."""
        atomic_write_text(json.dumps(results, indent=2, allow_nan=False), self.results)
        atomic_write_text(json.dumps(jsonable(trace), allow_nan=False),
                          self.path / "trace.json")

    def finish(self, config: RunConfig, progress: Progress, origin: dict,
               failure: Exception | None, write: bool = True, log: Any = print) -> dict:
        """The run's results; written (with its trace) also for a failed run.

        A completed run's checkpoint is removed unless ``keep_checkpoint``; a failed run keeps
        its last good one, and the log line says whether there is one.
        """
        iterations = len(progress.trace)
        results = jsonable(results_of(config, progress.history, iterations, origin, failure))
        if not write:
            return results
        if failure is not None and self.completed():
            # extending a finished run failed: its results stay, the failure goes beside them
            atomic_write_text(json.dumps(results, indent=2, allow_nan=False),
                              self.path / "results.failed.json")
        else:
            self.write_results(results, progress.trace)
        if failure is not None:
            kept = (f"last good checkpoint kept at {self.checkpoint}"
                    if self.checkpoint.is_file() else "no checkpoint had been written yet")
            log(f"stopped: {failure}; {kept}")
        elif not config.keep_checkpoint and self.checkpoint.is_file():
            self.checkpoint.unlink()  # a finished run needs only its results (small artefacts)
        return results

    def completed(self) -> bool:
        """Whether ``results.json`` is a completed run's (whatever its settings)."""
        try:
            return json.loads(self.results.read_text(encoding="utf-8"))["status"] == "completed"
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def refuse_overwrite(self, config: RunConfig) -> None:
        """Refuse to start a run in a folder that already holds a finished or started run."""
        if not (self.results.is_file() or self.checkpoint.is_file()):
            return
        try:
            done = self.finished(config)
        except StaleResultsError as error:
            what = f"holds a finished run with other settings ({error})"
        except ValueError:
            what = "holds an unreadable results.json"
        else:
            if done is not None:
                what = "holds this run already finished"
            elif self.checkpoint.is_file():
                what = "holds a started run (checkpoint.pt): continue it with --resume"
            else:
                what = "holds a run that stopped before its first checkpoint"
        raise UserError(f"{self.path} {what}; use another --out or run_name, or --force to "
                        f"move it aside to {self.path.parent / REPLACED}/ and train anew")

    def move_aside(self) -> Path | None:
        """Move this folder's run to ``<out>/.replaced/<name>-<time>/`` (``--force``)."""
        if not self.path.is_dir() or not any(p.name != ".lock" for p in self.path.iterdir()):
            return None
        target = self.path.parent / REPLACED / f"{self.path.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        target.mkdir(parents=True)
        for item in self.path.iterdir():
            if item.name != ".lock":  # the lock stays: this writer holds it
                item.rename(target / item.name)
        return target

    def state(self, config: RunConfig) -> str:
        """``done`` (this config's completed results), ``stale`` (completed with other settings
        or on another version of the benchmark), ``partial`` (a checkpoint to resume) or
        ``new``."""
        try:
            if self.finished(config) is not None:
                return "done"
        except StaleResultsError:
            return "stale"
        except ValueError:
            pass  # unreadable: train it again (the checkpoint, if any, resumes it)
        return "partial" if self.checkpoint.is_file() else "new"

    def finished(self, config: RunConfig) -> dict | None:
        """The completed results of this config, None when not finished; another's is refused.

        The results of another profile, method or data never stand in for this config's.
        """
        if not self.results.is_file():
            return None
        try:
            results = json.loads(self.results.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{self.results}: not readable JSON ({error}); delete it to "
                             "train the run again") from None
        if results.get("status") != "completed":
            return None
        if results.get("format") == RESULTS_FORMAT:
            check_resumable(config, results["provenance"]["config"], self.results)
        trained = results.get("provenance", {}).get("iterations")
        if trained is not None and trained != config.profile.iterations:
            # a resumed run may extend, but finished results never stand in for a longer run
            raise StaleResultsError(f"{self.results}: trained for {trained} iterations, this "
                                    f"run asks for {config.profile.iterations}")
        made = results.get("provenance", {}).get("generator")
        if config.data == "synthetic" and made != GENERATOR_VERSION:
            raise StaleResultsError(f"{self.results}: made on synthetic benchmark version {made} "
                             f"(None: before versions were recorded), this run needs version "
                             f"{GENERATOR_VERSION}: move the folder away to train it again")
        return results


def run_folder(config: RunConfig, out: str | os.PathLike | None = None) -> RunFolder:
    """The folder of a config's run: ``<out>/<run name>/``, by default in ``results/runs/``
    (``$MPFAS_RESULTS``)."""
    root = Path(out) if out is not None else results_dir() / "runs"
    return RunFolder(root / config.name())


class Monitor:
    """What a person watches: a progress bar and TensorBoard curves (rank 0 only)."""

    def __init__(self, config: RunConfig, folder: RunFolder, iterations: int, start: int,
                 main: bool, resumed_from: int | None) -> None:
        self.bar = self.writer = None
        if config.progress and main:
            self.bar = tqdm(total=iterations, initial=start, desc=config.name(),
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


def phi_snapshots(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The learnt Φ of a run at iteration 0 and every evaluation (``phi.pt``), or None."""
    path = Path(run_dir) / "phi.pt"
    if not path.is_file():
        return None
    return load_checkpoint(path)
