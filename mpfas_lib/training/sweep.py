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
import tomllib
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from mpfas_lib.data.datasets import MANIFEST
from mpfas_lib.data.prepare import DONE, read_done, read_manifest_rows
from mpfas_lib.data.protocols import protocol_domains
from mpfas_lib.data.synthetic import from_profile
from mpfas_lib.errors import UserError, os_error_line, report_error
from mpfas_lib.evaluation.selection import headline
from mpfas_lib.files import atomic_write_text
from mpfas_lib.models.pretrained import PretrainedWeightsError, check_pretrained
from mpfas_lib.paths import data_dir, results_dir
from mpfas_lib.profile import Profile, get_profile
from mpfas_lib.training.artefacts import RunFolder, StaleResultsError
from mpfas_lib.training.config import DATA_SOURCES, RunConfig, build_config, parse_overrides
from mpfas_lib.training.loop import load_or_train, run_training

PLAN_DIR = Path(__file__).resolve().parent / "plans"
PLAN_KEYS = {"description", "profile", "set", "runs", "out", "data", "paper"}
BLOCK_KEYS = {"protocols", "methods", "seeds", "shifts"}  # shifts: optional, the dial
BLOCK_OWNED = {"profile", "method", "protocol", "seed", "run_name", "shift"}  # not in [set]
# every sweep run: no bar per run (the sweep has one), no TensorBoard, no checkpoint once done
RUN_DEFAULTS = {"progress": False, "tensorboard": False, "keep_checkpoint": False}
GPU_RESULTS = Path(__file__).resolve().parents[2] / "results" / "gpu"  # measured s/iteration


@dataclass(frozen=True)
class Plan:
    """A parsed plan: its name, profile, shared settings and the runs' configurations."""

    name: str
    path: Path
    description: str
    profile: str
    out: str
    configs: tuple[RunConfig, ...]
    data: str = "synthetic"  # where its runs' videos come from: "synthetic" or "real"
    paper: tuple[str, ...] = ()  # the paper's tables its report sets beside ours
    options: tuple[str, ...] = ()  # --data/--root/--set as given: the command to go on

    def command(self, verb: str = "sweep") -> str:
        """The command line that trains (``sweep``) or reports (``report``) this plan."""
        return " ".join(["python -m mpfas_lib", verb, self.name, *self.options])


def find_plan(name: str | os.PathLike) -> Path:
    """A plan file by path, or by name among the library's plans."""
    path = Path(name)
    for candidate in (path, PLAN_DIR / path, PLAN_DIR / f"{path}.toml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in PLAN_DIR.glob("*.toml"))
    raise FileNotFoundError(f"plan {name} not found (a file, or one of {known})")


def _list(block: dict, key: str, where: str, kind: type | tuple[type, ...]) -> list:
    value = block.get(key)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = all(isinstance(v, kinds) and not isinstance(v, bool) for v in value or [None])
    if not isinstance(value, list) or not value or not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"{where}: {key} must be a non-empty list of {names}")
    return value


def read_plan(name: str | os.PathLike, data: str | None = None, root: str | None = None,
              overrides: dict[str, str] | None = None) -> Plan:
    """Parse and validate a plan; every run's configuration is built (and checked) here
    (chapter 08).

    ``data``, ``root`` and ``overrides`` (``--data``, ``--root``, ``--set``) change every run.
    """
    path, given = find_plan(name), data
    overrides = dict(overrides or {})
    owned = sorted(set(overrides) & BLOCK_OWNED)
    if owned:
        raise ValueError(f"--set {owned[0]}=...: the plan's profile and its blocks' protocols, "
                         "methods, seeds and shifts say which runs there are; write another "
                         "plan (or use train) to change it")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"plan {path}: cannot read or parse ({error})") from error
    unknown = set(data) - PLAN_KEYS
    if unknown:
        raise ValueError(f"plan {path}: unknown key(s) {sorted(unknown)}; known: "
                         f"{sorted(PLAN_KEYS)}")
    if not isinstance(data.get("profile", "study"), str):
        raise ValueError(f"plan {path}: profile must be the name of a profile, got "
                         f"{data['profile']!r}")
    profile = get_profile(data.get("profile", "study")).name
    shared = data.get("set", {})
    if not isinstance(shared, dict):
        raise ValueError(f"plan {path}: [set] must be a table of settings")
    owned = sorted(set(shared) & BLOCK_OWNED)
    if owned:  # a shared setting would override every block's lists, or collapse the runs
        raise ValueError(f"plan {path}: [set] may not set {owned[0]} (the plan's profile and "
                         "its blocks' protocols, methods and seeds say which runs there are)")
    out = data.get("out", profile)
    if (not isinstance(out, str) or not out or Path(out).is_absolute()
            or ".." in Path(out).parts):
        raise ValueError(f"plan {path}: out must be a folder name inside the results folder "
                         f"(e.g. \"study\"), got {out!r}")
    plan_data = data.get("data", "synthetic")
    if plan_data not in DATA_SOURCES:
        raise ValueError(f"plan {path}: data must be one of {list(DATA_SOURCES)}, got "
                         f"{plan_data!r}")
    data_source = data_source_of(plan_data, given, root)
    paper = data.get("paper", [])
    if not isinstance(paper, list) or not all(isinstance(t, str) for t in paper):
        raise ValueError(f"plan {path}: paper must be a list of the paper's table names "
                         f"(e.g. [\"I\"]), got {paper!r}")
    if data_source == "real" and not root and data_dir() is None:
        raise ValueError(f"plan {path.stem} trains on the real datasets: give --root DIR (the "
                         "prepared datasets, DIR/<M|I|C|O|Y>) or set $MPFAS_DATA")
    source = {"data": data_source, **({"root": str(root)} if root else {})}
    blocks = data.get("runs")
    if not isinstance(blocks, list) or not blocks:
        raise ValueError(f"plan {path}: needs at least one [[runs]] block")
    configs: dict[str, RunConfig] = {}
    for i, block in enumerate(blocks, 1):
        where = f"plan {path}, [[runs]] block {i}"
        if not isinstance(block, dict) or set(block) - BLOCK_KEYS:
            raise ValueError(f"{where}: expected only the keys {sorted(BLOCK_KEYS)}")
        seeds = _list(block, "seeds", where, int)
        shifts = _list(block, "shifts", where, (int, float)) if "shifts" in block else [None]
        product = [(seed, protocol, method, shift) for seed in seeds  # seed 0 of every run first
                   for protocol in _list(block, "protocols", where, str)
                   for method in _list(block, "methods", where, str) for shift in shifts]
        for seed, protocol, method, shift in product:
            dial = {} if shift is None else {"shift": shift}
            try:
                config = build_config(protocol=protocol, method=method, profile=profile,
                                      seed=seed, overrides={**RUN_DEFAULTS, **shared, **dial,
                                                            **source, **overrides})
                protocol_domains(protocol)
            except ValueError as error:
                mine = "--set" in str(error) and any(k in str(error) for k in overrides)
                raise ValueError(str(error) if mine else f"{where}: {error}") from None
            twin = configs.setdefault(config.name(), config)
            if twin.to_dict() != config.to_dict():  # e.g. one run_name for every run
                raise ValueError(f"{where}: two different runs would share the folder "
                                 f"{config.name()!r}; give each run its own name")
    ordered = sorted(configs.values(), key=lambda c: c.seed)  # stable: plan order per seed
    options = ([f"--data {given}"] if given else []) + ([f"--root {root}"] if root else []) + [
        f"--set {k}={v}" for k, v in overrides.items()]
    return Plan(path.stem, path, str(data.get("description", "")), profile, out,
                tuple(ordered), data_source, tuple(paper), tuple(options))


def data_source_of(planned: str, given: str | None, root: str | None) -> str:
    """The runs' data: ``--data``, else real when ``--root`` is given, else the plan's."""
    if given is not None and given not in DATA_SOURCES:
        raise ValueError(f"--data must be one of {list(DATA_SOURCES)}, got {given!r}")
    if root and given == "synthetic":
        raise ValueError(f"--root {root} is for --data real (prepared datasets); drop it")
    return given or ("real" if root else planned)


def prepared_problems(plan: Plan) -> list[str]:
    """Each dataset folder the plan's real-data runs read that is not prepared for them."""
    needed: dict[Path, set[int]] = {}
    for c in plan.configs:
        if c.data == "real":
            for domain in (*protocol_domains(c.protocol)[0], protocol_domains(c.protocol)[1]):
                needed.setdefault(Path(str(c.root)) / domain, set()).add(c.profile.image_size)
    problems = []
    for folder, sizes in sorted(needed.items()):
        if not (folder / MANIFEST).is_file():
            problems.append(f"{folder} (no {MANIFEST})")
            continue
        rows = read_manifest_rows(folder / MANIFEST)
        done = next((read_done(folder / v / DONE) for v, r in rows.items()
                     if r.get("status") == "ok"), None)
        size = ((done or {}).get("settings") or {}).get("size")
        if size not in sizes:
            problems.append(f"{folder} (prepared at {size or '?'} px, the runs need "
                            f"{'/'.join(map(str, sorted(sizes)))} px)")
    return problems


def check_prepared(plan: Plan) -> None:
    """Refuse, in one line naming each, the dataset folders a real-data plan lacks."""
    problems = prepared_problems(plan)
    if problems:
        size = plan.configs[0].profile.image_size
        raise UserError(f"plan {plan.name}: {len(problems)} dataset folder(s) not prepared for "
                        f"its runs: {'; '.join(problems)}; run `python -m mpfas_lib prepare "
                        f"--dataset D --root RAW --out ROOT/D --size {size}` for each",
                        exit_code=2)


def measured_speeds(device: str, folder: Path = GPU_RESULTS) -> dict[tuple, float]:
    """Seconds per iteration measured on ``device`` (a GPU's name), by (method, image size,
    backbone), from the GPU checks in ``folder`` (the newest file wins)."""
    speeds: dict[tuple, float] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            if report["environment"]["device_name"] != device:
                continue
            rows = report["methods"]["rows"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for m, row in rows.items():
            try:
                speeds[(m, int(row["image_size"]), row["backbone"])] = float(
                    row["seconds_per_iteration"])
            except (KeyError, TypeError, ValueError):
                continue
    return speeds


def estimate_seconds(config: RunConfig, speeds: dict[tuple, float]) -> float | None:
    """A run's training time from the measured seconds per iteration (None: not measured)."""
    p = config.profile
    per = speeds.get((config.method.name, p.image_size, p.backbone))
    return None if per is None else per * p.iterations


def hours(seconds: float | None) -> str:
    """"1.4 h", "12 min" or "unknown"."""
    if seconds is None:
        return "unknown"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def current_device() -> str:
    """The name this machine's GPU check would record (the GPU model, or ``cpu``)."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def plan_estimate(plan: Plan, out: Path, device: str) -> tuple[list[tuple], float | None, int]:
    """(state, run name, estimated seconds) per run; the total over the runs left to train and
    measured (None: none is), and how many of those are not measured."""
    speeds = measured_speeds(device)
    rows = [(run_state(out / c.name(), c), c.name(), estimate_seconds(c, speeds))
            for c in plan.configs]
    left = [s for state, _, s in rows if state != "done"]
    measured = [s for s in left if s is not None]
    total = sum(measured) if measured or not left else None
    return rows, total, len(left) - len(measured)


def print_list(plan: Plan, out: Path, device: str) -> None:
    """``--list``: each run's state and estimated time on ``device``, and the plan's total."""
    rows, total, unknown = plan_estimate(plan, out, device)
    for state, name, seconds in rows:
        print(f"{state:8} {hours(seconds):>9}  {name}")
    left = sum(state != "done" for state, _, _ in rows)
    print(f"plan {plan.name}: {len(rows)} runs, {left} to train in {out}; estimated "
          f"{hours(total)} on {device} for the measured ones"
          + (f", {unknown} not measured on it (unknown)" if unknown else "")
          + " (training steps, from results/gpu/; evaluations add to it)")
    for problem in prepared_problems(plan):
        print(f"not prepared: {problem}")


def run_state(run_dir: Path, config: RunConfig) -> str:
    """``done`` (this config's completed results), ``stale`` (completed with other settings or
    on another version of the benchmark), ``partial`` (a checkpoint to resume) or ``new``."""
    try:
        if RunFolder(run_dir).finished(config) is not None:
            return "done"
    except StaleResultsError:
        return "stale"
    except ValueError:
        pass  # unreadable: train it again (the checkpoint, if any, resumes it)
    return "partial" if (run_dir / "checkpoint.pt").is_file() else "new"


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
            done = RunFolder(Path(out) / cfg.name()).finished(cfg)
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
        states = {c.name(): run_state(out / c.name(), c) for c in plan.configs}
        stale = sorted(name for name, state in states.items() if state == "stale")
        if stale and not force:
            raise RuntimeError(
                f"{len(stale)} finished run(s) in {out} were made with other settings or "
                f"another benchmark version (e.g. {stale[0]}): move them away, use another "
                "--out, or pass --force to train them again")
        todo = [c for c in plan.configs if states[c.name()] != "done"][:limit]
        done = len(plan.configs) - sum(s != "done" for s in states.values())
        log(f"plan {plan.name}: {len(plan.configs)} runs, {done} done, {len(todo)} to train "
            f"({sum(states[c.name()] == 'partial' for c in todo)} resumed) in {out}")
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
                             and (out / c.name() / "results.json").exists())
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
            pool.shutdown(wait=False, cancel_futures=True)
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
    parser.add_argument("--out", default=None, help="output folder (default results/<profile>)")
    parser.add_argument("--limit", type=int, default=None, help="train at most N runs now")
    parser.add_argument("--list", action="store_true", help="show each run's state and exit")
    parser.add_argument("--force", action="store_true",
                        help="retrain finished runs whose settings differ from the plan's")
    add_plan_arguments(parser)
    parser.add_argument("--device-name", default=None,
                        help="with --list: estimate for this GPU (e.g. \"NVIDIA H200\"; "
                             "default: this machine's)")


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that change a plan's runs (``sweep`` and ``report``)."""
    parser.add_argument("--data", default=None, choices=DATA_SOURCES,
                        help="the runs' data (default: the plan's; real with --root)")
    parser.add_argument("--root", default=None,
                        help="prepared real datasets, ROOT/<M|I|C|O|Y> (default $MPFAS_DATA)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every run (repeatable), as for train")


def plan_from_args(args: argparse.Namespace) -> tuple[Plan, Path]:
    """The plan and its output folder from the command's arguments (checked)."""
    plan = read_plan(args.plan, args.data, args.root, parse_overrides(args.set))
    out = Path(args.out) if args.out else results_dir() / plan.out
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    return plan, out


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
        return [{**load_or_train(c, folder, log), "file": str(folder / c.name() / "results.json")}
                for c in tqdm(configs, desc=f"{Path(plan).stem} at {profile.name}", unit="run")]
