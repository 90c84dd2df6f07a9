"""One frozen, typed description of a run: the profile, the method and the run's own settings.

:func:`build_config` applies its layers once, in this order, each later layer winning:

1. the named profile (``--profile``, else ``$MPFAS_PROFILE``, else by CUDA);
2. the named method (``--method``, from :data:`mpfas_lib.training.methods.METHODS`);
3. a config file (``--config``, JSON or TOML; ``configs/<name>`` is searched too);
4. the command's arguments (``seed=``, ``iterations=``, ...);
5. ``--set key=value`` overrides.

Every key belongs to exactly one object: sizes to the :class:`~mpfas_lib.profile.Profile`,
what is trained to the :class:`~mpfas_lib.training.methods.Method`, the rest to the
:class:`RunConfig`. The keys ``profile`` and ``method`` (in a file, the arguments or
``--set``) choose the named objects before any other key is applied. An unknown key, a value of
the wrong type or an inconsistent combination is refused with one line naming the key and the
layer it came from. ``RunConfig.layers`` records which layers set which keys (provenance).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from mpfas_lib.data.protocols import SCOPES
from mpfas_lib.data.synthetic import DEFAULT_SHIFT, check_shift
from mpfas_lib.paths import data_dir
from mpfas_lib.profile import Profile, get_profile, profile_from_env
from mpfas_lib.training.algorithm1 import ALGORITHM1
from mpfas_lib.training.methods import Method, get_method

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
_LEGACY_ALGORITHMS = {"mp": ALGORITHM1}  # results written before the names said one thing
DATA_SOURCES = ("synthetic", "real")
# settings a resumed run may change (more iterations, another device, logging)
# (run_name is free too: the checkpoint was found in the folder the name points to)
RESUME_FREE = {"iterations", "device", "threads", "loader_workers", "progress", "tensorboard",
               "eval_batch_size", "root", "keep_checkpoint", "save_best", "layers", "run_name",
               "compile"}  # compile: the same math, another speed
# torch.compile of the training step's passes (the same math; training.compiled): inductor's
# modes, or the "cudagraphs" backend (captured, unfused kernels); the last two need CUDA
COMPILE_MODES = ("none", "default", "max-autotune", "reduce-overhead", "cudagraphs")


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one run: its profile and method as objects, plus the run's own."""

    profile: Profile
    method: Method
    protocol: str = "MICO:OCI-M"
    data: str = "synthetic"  # "synthetic" or "real"
    root: str | None = None  # prepared real datasets (real data only)
    # "splits": sources' train splits, source validation, target's test split (ours);
    # "all": every video of each source and of the target (the authors' data lists)
    scope: str = "splits"
    seed: int = 0  # training seed (initialisation, batches, domain splits)
    data_seed: int = 0  # synthetic benchmark seed (the same data for every training seed)
    shift: float = DEFAULT_SHIFT  # the synthetic benchmark's domain-shift dial (chapter 08)
    checkpoint_every: int = 0  # 0: at every evaluation
    keep_checkpoint: bool = True  # False: delete checkpoint.pt once the run completed
    save_best: bool = True  # write model_best.pt (Φ, Θ at the source-val selection)
    eval_batch_size: int = 64
    device: str | None = None
    threads: int = 0  # torch CPU threads (0: leave torch's default)
    # image-loading processes: 0 loads in the training process; None: min(8, CPUs) on CUDA, else 0
    loader_workers: int | None = None
    amp: bool = True  # bf16 autocast, CUDA only
    channels_last: bool = True  # CUDA only
    compile: str = "none"  # one of COMPILE_MODES ("none": eager); see training.compiled
    tensorboard: bool = True
    progress: bool = True
    run_name: str | None = None
    layers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (layer, keys it set), provenance

    def name(self) -> str:
        """The run's folder name: protocol, method and seed."""
        if self.run_name:
            return self.run_name
        dial = f"-shift{self.shift:g}" if self.shift != DEFAULT_SHIFT else ""
        return f"{self.protocol.replace(':', '_')}-{self.method.name}{dial}-s{self.seed}"

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some run settings changed (validated)."""
        config = dataclasses.replace(self, **changes)
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse inconsistent settings with a clear message."""
        self.profile.validate()
        self.method.validate()
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {list(DATA_SOURCES)}, got {self.data!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {list(SCOPES)}, got {self.scope!r}")
        if self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {list(COMPILE_MODES)}, got "
                             f"{self.compile!r}")
        if self.data == "real" and not self.root:
            raise ValueError("data='real' needs the prepared datasets: --root DIR or $MPFAS_DATA")
        if self.data == "synthetic" and self.root:
            raise ValueError(f"root={self.root!r} is for data='real' (prepared datasets); the "
                             "synthetic benchmark is cached under $MPFAS_CACHE: drop --root")
        if self.run_name is not None:
            check_run_name(self.run_name)
        check_shift(self.shift)
        for key in ("seed", "data_seed"):  # numpy's generators take 0 <= seed < 2**32
            if not 0 <= getattr(self, key) < 2**32:
                raise ValueError(f"{key} must be >= 0 and < 2**32, got {getattr(self, key)}")
        if self.data == "real" and self.shift != DEFAULT_SHIFT:
            raise ValueError(f"shift={self.shift} is the synthetic benchmark's domain-shift "
                             "dial; real data has the shift it has: drop shift")
        for key in ("checkpoint_every", "threads", "loader_workers"):
            if (getattr(self, key) or 0) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        most = max(64, 4 * (os.cpu_count() or 1))  # beyond this torch only wastes memory
        for key in ("threads", "loader_workers"):
            if (getattr(self, key) or 0) > most:
                raise ValueError(f"{key} must be at most {most} on this machine "
                                 f"({os.cpu_count()} cores), got {getattr(self, key)}")
        fewest = 4 if self.scope == "splits" else 1
        if self.data == "synthetic" and self.profile.synth_subjects < fewest:
            raise ValueError(f"synth_subjects must be >= {fewest} with scope={self.scope!r} "
                             "(each domain needs identities to train on, one to validate on "
                             f"and one to test on), got {self.profile.synth_subjects}")
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {self.eval_batch_size}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: the run's settings with ``profile`` and ``method`` nested."""
        out = asdict(self)
        out["layers"] = {layer: list(keys) for layer, keys in self.layers}
        return out

    def changes_since(self, saved: dict[str, Any]) -> list[str]:
        """The settings that differ from a saved config's, as ``key (theirs -> mine)``; those
        a resumed run may change (:data:`RESUME_FREE`) are left out.

        A setting the saved config lacks was added later: the run used its default then.
        """
        if not (isinstance(saved.get("profile"), dict) and isinstance(saved.get("method"), dict)):
            return ["the whole config (saved before format 2: not comparable)"]
        mine = _flat(self.to_dict())
        try:  # rebuilt under today's names, with defaults for settings added since
            rebuilt = RunConfig._from_nested(saved).to_dict()
        except (TypeError, ValueError, KeyError):  # a config this version cannot rebuild
            rebuilt = {**saved, "method": upgrade_method_dict(saved["method"])}
        theirs = _flat(rebuilt)
        return [f"{k} ({theirs.get(k)!r} -> {v!r})" for k, v in sorted(mine.items())
                if not {k.split(".")[0], k.split(".")[-1]} & RESUME_FREE
                and theirs.get(k, v) != v]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Rebuild a config from :meth:`to_dict`, or from a flat config of results before v2."""
        data = dict(data)
        if isinstance(data.get("profile"), dict) and isinstance(data.get("method"), dict):
            return cls._from_nested(data)
        # a flat TrainConfig of older results.json: route each key to its owner
        profile = get_profile(str(data.pop("profile", "quick")))
        method = get_method(str(data.pop("method", "mp")))
        legacy = {"theta_loss_scale": None}  # None meant "the mode's default" before v2
        values = {k: v for k, v in data.items() if legacy.get(k, ...) is not v}
        return _apply(profile, method, [("results.json (flat, before v2)", values)],
                      strict=False)

    @classmethod
    def _from_nested(cls, data: dict[str, Any]) -> RunConfig:
        """A config from :meth:`to_dict`'s nested form (defaults for settings added since)."""
        data = dict(data)
        for part, kind in (("profile", Profile), ("method", Method)):
            newer = sorted(set(data[part]) - {f.name for f in fields(kind)})
            if newer:
                raise ValueError(f"saved with a newer version of mpfas_lib: unknown {part} "
                                 f"settings {newer}; update the library to read it")
        profile = Profile(**data.pop("profile"))
        method = Method(**upgrade_method_dict(data.pop("method")))
        layers = tuple((k, tuple(v)) for k, v in (data.pop("layers", None) or {}).items())
        known = {f.name for f in fields(cls)}
        return cls(profile, method, layers=layers, **{k: v for k, v in data.items() if k in known})


def upgrade_method_dict(data: dict[str, Any]) -> dict[str, Any]:
    """A saved method's settings under today's names (``algorithm="mp"`` became ``algorithm1``)."""
    algorithm = data.get("algorithm")
    if algorithm in _LEGACY_ALGORITHMS:
        return {**data, "algorithm": _LEGACY_ALGORITHMS[algorithm]}
    return dict(data)


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict's settings by dotted key (``profile.lr``, ``method.inner_steps``, ``seed``)."""
    return {f"{k}.{key}" if isinstance(v, dict) else k: value
            for k, v in config.items()
            for key, value in (v.items() if isinstance(v, dict) else [(None, v)])}


def check_run_name(name: str) -> None:
    """A run name is one folder inside ``--out``: no separators, no ``..``, not empty."""
    bad = (not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0")
           or name.startswith("."))
    if bad:
        raise ValueError(f"run_name {name!r} must be a plain folder name inside --out (letters, "
                         "digits, '-', '_'; no '/', no '..', not hidden)")


PROFILE_KEYS = frozenset(f.name for f in fields(Profile)) - {"name"}
METHOD_KEYS = frozenset(f.name for f in fields(Method)) - {"name", "description"}
RUN_KEYS = frozenset(f.name for f in fields(RunConfig)) - {"profile", "method", "layers"}
CHOOSERS = ("profile", "method")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(key: str, kind: Any, value: Any, where: str) -> Any:
    """Convert a string/JSON/TOML value to the declared type of a setting."""
    args = typing.get_args(kind)
    optional = type(None) in args
    if optional:
        kind = next(a for a in args if a is not type(None))
    spelled_none = isinstance(value, str) and value.lower() in ("none", "null")
    if value is None or (optional and spelled_none):
        if optional:
            return None
        raise ValueError(f"{where}: {key} cannot be None")
    bad = ValueError(f"{where}: bad value {value!r} for {key} ({getattr(kind, '__name__', kind)})")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise bad
    if kind in (int, float):
        fraction = kind is int and isinstance(value, float) and not value.is_integer()
        if isinstance(value, bool) or fraction:
            raise bad
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise ValueError(f"{where}: bad value {value!r} for {key} (a finite number)")
        return number
    if kind is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise bad
        return str(value)
    if isinstance(kind, types.GenericAlias):  # tuples: only set programmatically
        raise ValueError(f"{where}: {key} cannot be set here")
    raise bad


def _owner(key: str) -> str:
    for owner, keys in (("profile", PROFILE_KEYS), ("method", METHOD_KEYS), ("run", RUN_KEYS)):
        if key in keys:
            return owner
    return ""


def _apply(profile: Profile, method: Method, layers: list[tuple[str, dict[str, Any]]],
           strict: bool = True) -> RunConfig:
    """Apply key layers in order, each key to its owner; validate once with provenance."""
    types_of = {"profile": _field_types(Profile), "method": _field_types(Method),
                "run": _field_types(RunConfig)}
    changes: dict[str, dict[str, Any]] = {"profile": {}, "method": {}, "run": {}}
    origin: dict[str, str] = {}
    record: list[tuple[str, tuple[str, ...]]] = []
    for where, layer in layers:
        keys = []
        for key, value in layer.items():
            if key in CHOOSERS:
                continue
            owner = _owner(key)
            if not owner:
                if not strict:
                    continue
                known = sorted(PROFILE_KEYS | METHOD_KEYS | RUN_KEYS | set(CHOOSERS))
                raise ValueError(f"{where}: unknown setting {key!r}; known: {', '.join(known)}")
            changes[owner][key] = _coerce(key, types_of[owner][key], value, where)
            origin[key] = where
            keys.append(key)
        if keys:
            record.append((where, tuple(keys)))
    run = changes["run"]
    if run.get("data", "synthetic") == "real" and not run.get("root") and data_dir() is not None:
        run["root"] = str(data_dir())
        origin["root"] = "$MPFAS_DATA"
    config = RunConfig(profile.replace(**changes["profile"]),
                       method.replace(**changes["method"]), layers=tuple(record), **run)
    try:
        config.validate()
    except ValueError as error:
        involved = [f"{k} from {origin[k]}" for k in sorted(origin) if k in str(error)]
        where = f" (set: {'; '.join(involved)})" if involved else ""
        raise ValueError(f"{error}{where}") from None
    return config


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON or TOML file of settings (``configs/<name>`` of the library is searched too)."""
    path = Path(path)
    if not path.is_file():
        candidate = CONFIG_DIR / path
        if not candidate.is_file():
            raise FileNotFoundError(f"config file {path} does not exist (nor {candidate})")
        path = candidate
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"config file {path}: cannot read or parse ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"config file {path}: expected a table/object of settings")
    return data


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``key=value`` strings (from ``--set``) to a dict."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def build_config(
    protocol: str | None = None,
    method: str | None = None,
    profile: str | None = None,
    config_file: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    **settings: Any,
) -> RunConfig:
    """The run's config from profile, method, file, arguments and ``--set`` (module docstring)
    (chapter 10)."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        layers.append((f"config file {config_file}", read_config_file(config_file)))
    named = {"protocol": protocol, "method": method, "profile": profile}
    layers.append(("arguments", {k: v for k, v in {**named, **settings}.items()
                                 if v is not None}))
    layers.append(("--set", dict(overrides or {})))
    chosen: dict[str, str | None] = {key: None for key in CHOOSERS}
    for where, layer in layers:
        for key in CHOOSERS:
            if layer.get(key) is not None:
                if not isinstance(layer[key], str):
                    raise ValueError(f"{where}: {key} must be a name, got {layer[key]!r}")
                chosen[key] = layer[key]
    prof = get_profile(chosen["profile"] or profile_from_env())
    spec = get_method(chosen["method"] or "mp")
    config = _apply(prof, spec, layers)
    named_layers = ((f"profile {prof.name}", ()), (f"method {spec.name}", ()))
    return dataclasses.replace(config, layers=named_layers + config.layers)
