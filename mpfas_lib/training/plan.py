"""A plan: the runs (protocol × method × seed, optionally × shift) that a sweep trains and a
report reads (chapter 08); the file format is in :mod:`mpfas_lib.training.sweep`.

Reading a plan builds and checks every run's configuration, so a sweep or report with a bad
plan stops before any work, in one line naming the plan file and the key.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpfas_lib.data.datasets import MANIFEST
from mpfas_lib.data.prepare import DONE, read_done, read_manifest_rows
from mpfas_lib.data.protocols import protocol_domains
from mpfas_lib.errors import UserError
from mpfas_lib.paths import data_dir, results_dir
from mpfas_lib.profile import get_profile
from mpfas_lib.training.config import DATA_SOURCES, RunConfig, build_config, parse_overrides

PLAN_DIR = Path(__file__).resolve().parent / "plans"
PLAN_KEYS = {"description", "profile", "set", "runs", "out", "data", "paper"}
BLOCK_KEYS = {"protocols", "methods", "seeds", "shifts"}  # shifts: optional, the dial
BLOCK_OWNED = {"profile", "method", "protocol", "seed", "run_name", "shift"}  # not in [set]
# every sweep run: no bar per run (the sweep has one), no TensorBoard, no checkpoint once done
RUN_DEFAULTS = {"progress": False, "tensorboard": False, "keep_checkpoint": False}




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


def _read_table(path: Path) -> dict[str, Any]:
    """The plan file's TOML table, its top-level keys checked."""
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
    shared = data.get("set", {})
    if not isinstance(shared, dict):
        raise ValueError(f"plan {path}: [set] must be a table of settings")
    owned = sorted(set(shared) & BLOCK_OWNED)
    if owned:  # a shared setting would override every block's lists, or collapse the runs
        raise ValueError(f"plan {path}: [set] may not set {owned[0]} (the plan's profile and "
                         "its blocks' protocols, methods and seeds say which runs there are)")
    out = data.get("out", get_profile(data.get("profile", "study")).name)
    if (not isinstance(out, str) or not out or Path(out).is_absolute()
            or ".." in Path(out).parts):
        raise ValueError(f"plan {path}: out must be a folder name inside the results folder "
                         f"(e.g. \"study\"), got {out!r}")
    if data.get("data", "synthetic") not in DATA_SOURCES:
        raise ValueError(f"plan {path}: data must be one of {list(DATA_SOURCES)}, got "
                         f"{data['data']!r}")
    paper = data.get("paper", [])
    if not isinstance(paper, list) or not all(isinstance(t, str) for t in paper):
        raise ValueError(f"plan {path}: paper must be a list of the paper's table names "
                         f"(e.g. [\"I\"]), got {paper!r}")
    if not isinstance(data.get("runs"), list) or not data["runs"]:
        raise ValueError(f"plan {path}: needs at least one [[runs]] block")
    return data


def _block_configs(path: Path, profile: str, blocks: list, settings: dict[str, Any],
                   overrides: dict[str, str]) -> list[RunConfig]:
    """Every run of the plan's ``[[runs]]`` blocks, seed 0 of every run first; no two runs
    share a folder."""
    configs: dict[str, RunConfig] = {}
    for i, block in enumerate(blocks, 1):
        where = f"plan {path}, [[runs]] block {i}"
        if not isinstance(block, dict) or set(block) - BLOCK_KEYS:
            raise ValueError(f"{where}: expected only the keys {sorted(BLOCK_KEYS)}")
        seeds = _list(block, "seeds", where, int)
        shifts = _list(block, "shifts", where, (int, float)) if "shifts" in block else [None]
        product = [(seed, protocol, method, shift) for seed in seeds
                   for protocol in _list(block, "protocols", where, str)
                   for method in _list(block, "methods", where, str) for shift in shifts]
        for seed, protocol, method, shift in product:
            dial = {} if shift is None else {"shift": shift}
            try:
                config = build_config(protocol=protocol, method=method, profile=profile,
                                      seed=seed, overrides={**settings, **dial, **overrides})
                protocol_domains(protocol)
            except ValueError as error:
                mine = "--set" in str(error) and any(k in str(error) for k in overrides)
                raise ValueError(str(error) if mine else f"{where}: {error}") from None
            twin = configs.setdefault(config.name(), config)
            if twin.to_dict() != config.to_dict():  # e.g. one run_name for every run
                raise ValueError(f"{where}: two different runs would share the folder "
                                 f"{config.name()!r}; give each run its own name")
    return sorted(configs.values(), key=lambda c: c.seed)  # stable: plan order per seed


def read_plan(name: str | os.PathLike, data: str | None = None, root: str | None = None,
              overrides: dict[str, str] | None = None) -> Plan:
    """Parse and validate a plan; every run's configuration is built (and checked) here
    (chapter 08).

    ``data``, ``root`` and ``overrides`` (``--data``, ``--root``, ``--set``) change every run.
    """
    path, overrides = find_plan(name), dict(overrides or {})
    owned = sorted(set(overrides) & BLOCK_OWNED)
    if owned:
        raise ValueError(f"--set {owned[0]}=...: the plan's profile and its blocks' protocols, "
                         "methods, seeds and shifts say which runs there are; write another "
                         "plan (or use train) to change it")
    table = _read_table(path)
    profile = get_profile(table.get("profile", "study")).name
    source = data_source_of(table.get("data", "synthetic"), data, root)
    if source == "real" and not root and data_dir() is None:
        raise ValueError(f"plan {path.stem} trains on the real datasets: give --root DIR (the "
                         "prepared datasets, DIR/<M|I|C|O|Y>) or set $MPFAS_DATA")
    settings = {**RUN_DEFAULTS, **table.get("set", {}), "data": source,
                **({"root": str(root)} if root else {})}
    configs = _block_configs(path, profile, table["runs"], settings, overrides)
    options = ([f"--data {data}"] if data else []) + ([f"--root {root}"] if root else []) + [
        f"--set {k}={v}" for k, v in overrides.items()]
    return Plan(path.stem, path, str(table.get("description", "")), profile,
                table.get("out", profile), tuple(configs), source,
                tuple(table.get("paper", [])), tuple(options))


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
