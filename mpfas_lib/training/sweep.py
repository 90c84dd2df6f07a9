"""``python -m mpfas_lib sweep PLAN``: many runs (protocol × method × seed) from a plan file.

A plan is a TOML file (``mpfas_lib/training/plans/<name>.toml`` is found by name)::

    description = "what the plan answers"
    profile = "study"            # the scale of every run; results go to results/<profile>/
    [set]                        # settings applied to every run (as --set)
    threads = 1
    [[runs]]                     # one or more blocks: the product of their lists
    protocols = ["MICO:OCI-M"]
    methods = ["mp", "erm"]
    seeds = [0, 1, 2]
    shifts = [0.0, 1.0]          # optional: the synthetic benchmark's domain-shift dial

Two optional keys: ``data = "real"`` (the plan's runs read prepared datasets: ``--root DIR`` or
``$MPFAS_DATA``) and ``paper = ["I", "II"]`` (the paper's tables its report sets beside ours).
``--data`` and ``--set key=value`` (repeatable, as for ``train``) change every run of a plan,
except the keys its blocks own. Before any work a real-data sweep checks that every dataset
folder its runs read is prepared at the profile's image size, naming each one that is not.
``--list`` shows each run's state and its estimated time on this device (or ``--device-name``),
from the seconds per iteration measured in ``results/gpu/*.json``.

The sweep builds and validates every run's configuration before any work, generates the
synthetic data once, then trains the runs with ``--workers`` processes (seed 0 of every run
first, so a partial sweep is already balanced). Finished runs are skipped, interrupted ones
resume from their checkpoint, so the sweep can be stopped (Ctrl-C, a kill) and started again
at any time. One sweep at a time may write to an output folder (a lock file says so).
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from mpfas_lib.data.protocols import protocol_domains
from mpfas_lib.data.synthetic import from_profile
from mpfas_lib.errors import UserError, os_error_line, report_error
from mpfas_lib.evaluation.selection import headline
from mpfas_lib.files import atomic_write_text
from mpfas_lib.models.backbones import PretrainedWeightsError, check_pretrained
from mpfas_lib.paths import results_dir
from mpfas_lib.profile import Profile
from mpfas_lib.training.artefacts import run_folder
from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.estimates import current_device, print_list
from mpfas_lib.training.loop import load_or_train, run_training
from mpfas_lib.training.plan import (
    Plan,
    add_plan_arguments,
    check_prepared,
    plan_from_args,
    read_plan,
)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.sweep.lock`` for the sweep's lifetime; refuse if another sweep holds it,
    or if the folder cannot be written (one line naming it)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / ".sweep.lock").open("a+")
    except OSError as error:
        raise UserError(f"the sweep's output folder {folder} cannot be used: "
                        f"{os_error_line(error)}; choose another with --out (or out= in "
                        "plan_runs)", exit_code=1) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another sweep is writing to {folder} (lock {handle.name})"
                               ) from None
        yield
    finally:
        handle.close()


def prepare_data(plan: Plan, workers: int) -> None:
    """Generate the synthetic videos of every protocol once, before the runs share them."""
    by_seed: dict[tuple, set[str]] = {}
    for c in plan.configs:
        if c.data == "synthetic":
            sources, target = protocol_domains(c.protocol)
            key = (c.profile, c.data_seed, c.shift)
            by_seed.setdefault(key, set()).update((*sources, target))
    for (profile, data_seed, shift), domains in by_seed.items():
        bench = from_profile(profile, seed=data_seed, shift=shift)
        specs = [s for d in sorted(domains) for s in bench.videos(d)]
        bench.ensure(specs, workers=workers)


def _train(config: dict[str, Any], out: str, resume: bool, force: bool = False
           ) -> dict[str, Any]:
    """Worker-process entry: train one run and return its headline (or its error)."""
    cfg = RunConfig.from_dict(config)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    try:
        results = run_training(cfg, out=out, resume=resume, log=lambda *_: None, force=force)
    except Exception as error:  # reported by the sweep, which goes on with the other runs
        try:
            done = run_folder(cfg, out).finished(cfg)
        except ValueError:  # stale or unreadable: not this run's results
            done = None
        if done is not None:  # another process (a killed sweep's worker) finished it meanwhile
            return {"run": cfg.name(), "status": "completed", "seconds":
                    time.perf_counter() - start, **headline(done)}
        return {"run": cfg.name(), "status": "failed", "error": f"{type(error).__name__}: "
                f"{error}", "seconds": time.perf_counter() - start}
    return {"run": cfg.name(), "status": results["status"], "seconds":
            time.perf_counter() - start, **headline(results)}


def run_sweep(plan: Plan, out: Path, workers: int = 1, limit: int | None = None,
              log: Any = print, force: bool = False) -> list[dict[str, Any]]:
    """Train every unfinished run of a plan; returns one record per run attempted.

    A finished run made with other settings (or on another benchmark version) is never
    overwritten silently: the sweep stops before any work unless ``force`` retrains it.
    """
    with folder_lock(out):
        states = {c.name(): run_folder(c, out).state(c) for c in plan.configs}
        stale = sorted(name for name, state in states.items() if state == "stale")
        if stale and not force:
            raise RuntimeError(
                f"{len(stale)} finished run(s) in {out} were made with other settings or "
                f"another benchmark version (e.g. {stale[0]}): move them away, use another "
                "--out, or pass --force to train them again")
        todo = [c for c in plan.configs if states[c.name()] != "done"][:limit]
        done = len(plan.configs) - sum(s != "done" for s in states.values())
        log(f"plan {plan.name}: {len(plan.configs)} runs, {done} done, {len(todo)} to train "
            f"({sum(states[c.name()] == 'partial' for c in todo)} resumed) in {out.resolve()}")
        if not todo:
            return []
        check_prepared(plan)
        for c in {(c.profile.pretrained, c.profile.backbone): c for c in todo}.values():
            check_pretrained(c.profile.pretrained, c.profile.backbone)  # before any data
        prepare_data(plan, workers)
        started = time.time()
        records = _train_all(todo, states, out, workers, log)
        _append_log(out, plan, started, records, workers)
        return records


def _train_all(todo: list[RunConfig], states: dict[str, str], out: Path, workers: int,
               log: Any) -> list[dict[str, Any]]:
    """Train the runs with ``workers`` processes, never more queued than running.

    A run is handed to a process only when one is free, so Ctrl-C stops at once: the running
    runs resume from their checkpoints next time and nothing queued starts.
    """
    records: list[dict[str, Any]] = []
    queue = list(todo)
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    bar = tqdm(total=len(todo), desc="sweep", unit="run", file=sys.stderr)
    with ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=1,
                             initializer=_die_with_parent) as pool:
        running: dict[Future, RunConfig] = {}
        try:
            while queue or running:
                while queue and len(running) < workers:
                    c = queue.pop(0)
                    # a stale run (or an unreadable one) is moved aside by its worker
                    force = (states[c.name()] != "partial"
                             and run_folder(c, out).results.exists())
                    running[pool.submit(_train, c.to_dict(), str(out),
                                        states[c.name()] == "partial", force)] = c
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for job in finished:
                    running.pop(job)
                    record = job.result()
                    records.append(record)
                    bar.update(1)
                    bar.set_postfix_str(f"{record['run']} {record['status']}")
                    if record["status"] != "completed":
                        log(f"{record['run']}: {record.get('error')}")
        except KeyboardInterrupt:
            # stop the running runs too (a signal to this process alone leaves them running)
            # and wait for them, so the folder's lock is held until no worker writes to it;
            # the pool has no public handle on its processes
            workers_running = list((getattr(pool, "_processes", None) or {}).values())
            for process in workers_running:
                process.terminate()  # its run resumes from its last checkpoint
            pool.shutdown(wait=True, cancel_futures=True)
            log("interrupted: finished runs are kept, started ones resume next time")
            raise
        finally:
            bar.close()
    return records


def _die_with_parent() -> None:
    """A sweep's worker ends with the sweep (Linux: SIGTERM when the parent dies)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _append_log(out: Path, plan: Plan, started: float, records: list[dict], workers: int
                ) -> None:
    """Add this session of the sweep to ``out/sweeps.json`` (wall time, runs, failures)."""
    path = out / "sweeps.json"
    try:
        sessions = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except (OSError, ValueError):
        sessions = []
    sessions.append({"plan": plan.name, "started": time.strftime(
        "%Y-%m-%dT%H:%M:%S", time.localtime(started)), "wall_seconds": time.time() - started,
        "workers": workers, "runs": len(records),
        "failed": [r["run"] for r in records if r["status"] != "completed"]})
    atomic_write_text(json.dumps(sessions, indent=2), path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sweep`` command's flags."""
    parser.add_argument("plan", help="plan file, or the name of one in mpfas_lib/training/plans")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel training processes (default 1; one per spare core)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: the plan's out, inside the results "
                             "folder); a relative --out is taken from the current folder")
    parser.add_argument("--limit", type=int, default=None, help="train at most N runs now")
    parser.add_argument("--list", action="store_true", help="show each run's state and exit")
    parser.add_argument("--force", action="store_true",
                        help="retrain finished runs whose settings differ from the plan's")
    add_plan_arguments(parser)
    parser.add_argument("--device-name", default=None,
                        help="with --list: estimate for this GPU (e.g. \"NVIDIA H200\"; "
                             "default: this machine's)")


def main(args: argparse.Namespace) -> int:
    """Validate the plan and arguments, then train what is left of it."""
    try:
        if args.workers < 1 or (args.limit is not None and args.limit < 1):
            raise ValueError("--workers and --limit must be >= 1")
        plan, out = plan_from_args(args)
    except (ValueError, FileNotFoundError) as error:
        report_error(error)
        return 2
    if args.list:
        print_list(plan, out, args.device_name or current_device())
        return 0
    try:
        records = run_sweep(plan, out, args.workers, args.limit, force=args.force)
    except UserError as error:
        report_error(error)
        return error.exit_code
    except (RuntimeError, OSError, PretrainedWeightsError) as error:
        report_error(error, os_error_line(error) if isinstance(error, OSError) else None)
        return 2
    except KeyboardInterrupt:
        return 130
    failed = [r for r in records if r["status"] != "completed"]
    print(json.dumps({"plan": plan.name, "trained": len(records), "failed": len(failed)}))
    return 1 if failed else 0


def plan_runs(plan: str | os.PathLike, profile: Profile, out: str | os.PathLike | None = None,
              seeds: Sequence[int] | None = None, log: Any = print) -> list[dict[str, Any]]:
    """Every run of a plan at ``profile``: loaded, resumed or trained (``load_or_train``).

    What chapters 08 and 09 call: the plan fixes protocols, methods and seeds, the profile the
    scale (the full profile trains on a GPU; a tiny profile gives a labelled fallback).
    Results go to ``out`` (default ``results/<profile>``), one writer at a time.
    """
    configs = [c.replace(profile=profile, progress=True) for c in read_plan(plan).configs
               if seeds is None or c.seed in seeds]
    folder = Path(out) if out is not None else results_dir() / profile.name
    with folder_lock(folder):
        return [{**load_or_train(c, folder, log), "file": str(run_folder(c, folder).results)}
                for c in tqdm(configs, desc=f"{Path(plan).stem} at {profile.name}", unit="run")]
