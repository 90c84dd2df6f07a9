"""One training run end to end: config, data, models, loop, evaluation, checkpoints, results.

``run_training(config, out)`` writes ``<out>/<run_name>/``: ``results.json`` (provenance and
metrics), ``checkpoint.pt`` (everything needed by ``resume=True``, written atomically every
``checkpoint_every`` iterations), ``model_best.pt`` (Φ and Θ at the source-validation-selected
evaluation), ``trace.json`` (per-iteration Algorithm 1 trace) and ``tb/`` (TensorBoard logs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mpfas_lib.paths import REPO_ROOT, data_dir, results_dir
from mpfas_lib.profile import Profile, get_profile
from mpfas_lib.training.algorithm1 import NonFiniteLossError
from mpfas_lib.training.checkpoints import (
    atomic_save,
    atomic_write_text,
    capture_rng_states,
    load_checkpoint,
    restore_rng_states,
)
from mpfas_lib.training.methods import Method, build_phi, build_theta, get_method
from mpfas_lib.training.trainer import (
    SELECTIONS,
    Scores,
    Trainer,
    evaluate_scores,
    score_dataset,
    select,
    source_val_metrics,
)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
# settings a resumed run may change (more iterations, another device, logging)
RESUME_FREE = {"iterations", "device", "threads", "progress", "tensorboard", "eval_batch_size",
               "root", "keep_checkpoint", "save_best"}
PROFILE_FIELDS = (
    "image_size", "backbone", "iterations", "batch_per_class", "inner_steps", "lr", "momentum",
    "eval_frames", "synth_subjects", "synth_frames", "eval_every",
)


@dataclass
class TrainConfig:
    """Every setting of one run (profile numbers + method + overrides)."""

    protocol: str = "MICO:OCI-M"
    method: str = "mp"
    data: str = "synthetic"  # "synthetic" or "real"
    root: str | None = None  # prepared real datasets (real data only)
    profile: str = "quick"
    seed: int = 0  # training seed (initialisation, batches, domain splits)
    data_seed: int = 0  # synthetic benchmark seed (the same data for every training seed)
    # from the profile
    image_size: int = 64
    backbone: str = "resnet18-w16"
    iterations: int = 120
    batch_per_class: int = 4
    inner_steps: int = 4  # K of Algorithm 1
    lr: float = 0.01  # alpha
    momentum: float = 0.9
    eval_frames: int = 2
    synth_subjects: int = 8
    synth_frames: int = 4
    eval_every: int = 40
    # method
    algorithm: str = "mp"  # "mp" (Algorithm 1) or "erm"
    mode: str = "paper"  # Algorithm 1 as in the paper or "official" (authors' code)
    phi: str = "extractor"  # "extractor", "map" or "none"
    phi_name: str = "conv2"
    fusion: str = "hfm"
    streams: str = "both"
    rgb_norm: str = "imagenet"  # "none" feeds raw [0, 1] RGB (the authors' code)
    map_norm: str = "imagenet"
    pretrained: str | None = None
    theta_loss_scale: float | None = None  # None: 1 (paper) or 0.5 (official)
    weight_decay: float = 0.0
    # run mechanics
    selection: str = "source_val"  # which evaluation results.json reports first
    checkpoint_every: int = 0  # 0: at every evaluation
    keep_checkpoint: bool = True  # False: delete checkpoint.pt once the run completed
    save_best: bool = True  # write model_best.pt (Φ, Θ at the source-val selection)
    eval_batch_size: int = 64
    device: str | None = None
    threads: int = 0  # torch CPU threads (0: leave torch's default)
    amp: bool = True  # bf16 autocast, CUDA only
    channels_last: bool = True  # CUDA only
    tensorboard: bool = True
    progress: bool = True
    run_name: str | None = None

    def profile_object(self) -> Profile:
        """The profile with this config's sizes (what data and model builders read)."""
        base = get_profile(self.profile)
        return base.replace(**{name: getattr(self, name) for name in PROFILE_FIELDS})

    def name(self) -> str:
        """The run's folder name: protocol, method and seed."""
        if self.run_name:
            return self.run_name
        return f"{self.protocol.replace(':', '_')}-{self.method}-s{self.seed}"

    def validate(self) -> None:
        """Refuse inconsistent settings with a clear message."""
        if self.data not in ("synthetic", "real"):
            raise ValueError(f"data must be 'synthetic' or 'real', got {self.data!r}")
        if self.data == "real" and not self.root:
            raise ValueError(
                "data='real' needs the prepared datasets: --root DIR or $MPFAS_DATA"
            )
        if self.algorithm not in ("mp", "erm"):
            raise ValueError(f"algorithm must be 'mp' or 'erm', got {self.algorithm!r}")
        if self.mode not in ("paper", "official"):
            raise ValueError(f"mode must be 'paper' or 'official', got {self.mode!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        for name in ("iterations", "eval_every", "batch_per_class", "inner_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def _coerce(field: dataclasses.Field, value: Any, where: str) -> Any:
    """Convert a string/JSON value to the type of a TrainConfig field."""
    kind = str(field.type)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if "None" in kind:
            return None
        if value is None:
            raise ValueError(f"{where}: {field.name} cannot be None")
    try:
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except ValueError as error:
        raise ValueError(f"{where}: bad value {value!r} for {field.name} ({kind})") from error


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON or TOML file of TrainConfig fields."""
    path = Path(path)
    if not path.is_file():
        candidate = CONFIG_DIR / path
        if candidate.is_file():
            path = candidate
        else:
            raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"config file {path}: cannot parse ({error})") from error
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
    protocol: str = "MICO:OCI-M",
    method: str = "mp",
    profile: str | None = None,
    config_file: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    **settings: Any,
) -> TrainConfig:
    """TrainConfig from, in order: profile, ``configs/<profile>.json``, method, file, settings."""
    prof = get_profile(profile)
    spec: Method = get_method(method)
    values: dict[str, Any] = {name: getattr(prof, name) for name in PROFILE_FIELDS}
    values.update(protocol=protocol, method=method, profile=prof.name)
    profile_file = CONFIG_DIR / f"{prof.name}.json"
    layers: list[tuple[str, dict[str, Any]]] = []
    if profile_file.is_file():
        layers.append((str(profile_file), read_config_file(profile_file)))
    layers.append((f"method {method}", {
        "algorithm": spec.algorithm, "phi": spec.phi, "phi_name": spec.phi_name,
        "fusion": spec.fusion, "streams": spec.streams, **spec.config,
    }))
    if config_file is not None:
        layers.append((str(config_file), read_config_file(config_file)))
    layers.append(("arguments", {k: v for k, v in settings.items() if v is not None}))
    layers.append(("--set", dict(overrides or {})))
    known = {f.name: f for f in fields(TrainConfig)}
    for where, layer in layers:
        for key, value in layer.items():
            if key not in known:
                raise ValueError(f"{where}: unknown setting {key!r}; known: {sorted(known)}")
            values[key] = _coerce(known[key], value, where)
    if values.get("data") == "real" and not values.get("root") and data_dir() is not None:
        values["root"] = str(data_dir())
    config = TrainConfig(**values)
    config.validate()
    return config


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the repository, or None."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _jsonable(tree: Any) -> Any:
    return json.loads(json.dumps(tree, default=float))


def build_models(config: TrainConfig) -> tuple[torch.nn.Module | None, torch.nn.Module]:
    """Φ and Θ of a config (method registry + overrides)."""
    spec = dataclasses.replace(
        get_method(config.method), algorithm=config.algorithm, phi=config.phi,
        phi_name=config.phi_name, fusion=config.fusion, streams=config.streams,
    )
    phi = build_phi(spec)
    theta = build_theta(
        spec, config.backbone, rgb_norm=config.rgb_norm, map_norm=config.map_norm,
        pretrained=config.pretrained,
    )
    return phi, theta


def build_data(config: TrainConfig):
    """The protocol (sources, source validation, target) of a config."""
    from mpfas_lib.data.protocols import build_protocol

    return build_protocol(
        config.protocol, source=config.data, profile=config.profile_object(),
        root=config.root, seed=config.data_seed,
    )


def score_sources(phi, theta, datasets: dict, **kw: Any) -> Scores:
    """Eq. 11 scores of every source-validation domain, video ids prefixed by the domain."""
    from mpfas_lib.models.losses import genuine_score

    parts = [(d, score_dataset(phi, theta, ds, genuine_score, **kw))
             for d, ds in sorted(datasets.items())]
    return Scores(
        np.concatenate([p.scores for _, p in parts]),
        np.concatenate([p.labels for _, p in parts]),
        [f"{d}/{v}" for d, p in parts for v in p.video_ids],
    )


def evaluate_models(phi, theta, protocol, config: TrainConfig, device: torch.device,
                    iteration: int = 0) -> dict:
    """Target metrics (frame and video level) and source-validation criterion of Φ, Θ."""
    from mpfas_lib.models.losses import genuine_score

    kw = {"device": device, "batch_size": config.eval_batch_size, "amp": config.amp,
          "channels_last": config.channels_last}
    from mpfas_lib.data.sampling import evaluation_frames

    # the field's test-time sampling: eval_frames evenly spaced frames per video
    source = None
    if protocol.source_val:
        val = {d: evaluation_frames(ds, config.eval_frames)
               for d, ds in protocol.source_val.items()}
        source = score_sources(phi, theta, val, **kw)
    target_frames = evaluation_frames(protocol.target, config.eval_frames)
    target = score_dataset(phi, theta, target_frames, genuine_score, **kw)
    for name, scores in (("target", target), ("source validation", source)):
        if scores is not None and not np.isfinite(scores.scores).all():
            raise NonFiniteLossError(iteration, f"{name} scores (Eq. 11)", math.nan)
    out = {"target": evaluate_scores(target, source)}
    if source is not None:
        out["source_val"] = source_val_metrics(source)
    return _jsonable(out)


def _writer(run_dir: Path, enabled: bool, purge_step: int | None):
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(run_dir / "tb"), purge_step=purge_step)


def run_training(
    config: TrainConfig,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    dist: Any = None,
    log: Any = print,
) -> dict:
    """Train one run (Algorithm 1 or ERM), evaluating and checkpointing; returns results.json."""
    from mpfas_lib.data.sampling import DomainBalancedBatches
    from mpfas_lib.models.losses import hfn_loss
    from mpfas_lib.runtime import device_name, pick_device, seed_everything

    config.validate()
    rank = dist.rank if dist is not None else 0
    world = dist.world_size if dist is not None else 1
    main = rank == 0
    run_dir = Path(out) if out is not None else results_dir() / "runs"
    run_dir = run_dir / config.name()
    ckpt_path = run_dir / "checkpoint.pt"
    device = dist.device if dist is not None else pick_device(config.device)

    if config.threads > 0 and device.type == "cpu":
        torch.set_num_threads(config.threads)
    protocol = build_data(config)
    # seed after building the data: rendering or loading it must not shift the model's init
    seed_everything(config.seed)
    phi, theta = build_models(config)
    batches = DomainBalancedBatches(
        protocol.sources, k=config.batch_per_class, seed=config.seed, rank=rank, world_size=world
    )
    loss_fn = hfn_loss
    trainer = Trainer(
        phi, theta, batches, sorted(protocol.sources), loss_fn, algorithm=config.algorithm,
        mode=config.mode, inner_steps=config.inner_steps, lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, theta_loss_scale=config.theta_loss_scale,
        seed=config.seed, device=device, amp=config.amp, channels_last=config.channels_last,
        dist=dist,
    )
    history: list[dict] = []
    trace: list[dict] = []
    elapsed = 0.0
    resumed_from = None
    if resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        changed = sorted(
            key for key, value in asdict(config).items()
            if key not in RESUME_FREE and state["config"].get(key, value) != value
        )
        if changed:
            raise ValueError(
                f"cannot resume {ckpt_path}: settings differ from the checkpoint's: "
                + ", ".join(f"{k} ({state['config'].get(k)!r} -> {getattr(config, k)!r})"
                            for k in changed)
            )
        trainer.load_state_dict(state["trainer"])
        history, trace = list(state["history"]), list(state["trace"])
        elapsed = float(state["wall_seconds"])
        restore_rng_states(state["rng"])
        resumed_from = trainer.iteration
        if main:
            log(f"resumed {run_dir} at iteration {trainer.iteration}")
    every_ckpt = config.checkpoint_every or config.eval_every
    writer = _writer(run_dir, config.tensorboard and main, resumed_from) if main else None
    bar = None
    if config.progress and main:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.iterations, initial=trainer.iteration, desc=config.name(),
                   leave=False, file=sys.stderr)
    start = time.perf_counter()
    failure: NonFiniteLossError | None = None
    try:
        while trainer.iteration < config.iterations:
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
            if it % config.eval_every == 0 or it == config.iterations:
                record = {"iteration": it, **evaluate_models(
                    trainer.phi, trainer.theta, protocol, config, device, it)}
                history.append(record)
                if writer is not None:
                    video = record["target"]["video"]
                    writer.add_scalar("target/hter_target_eer", video["hter_target_eer"], it)
                    writer.add_scalar("target/auc", video["auc"], it)
                    if "source_val" in record:
                        writer.add_scalar("source_val/eer", record["source_val"]["eer"], it)
                if main and config.save_best and select(history, "source_val") is record:
                    atomic_save({"config": asdict(config), **trainer.model_state(),
                                 "iteration": it}, run_dir / "model_best.pt")
            if main and (it % every_ckpt == 0 or it == config.iterations):
                atomic_save({
                    "format": 1,
                    "config": asdict(config),
                    "trainer": trainer.state_dict(),
                    "rng": capture_rng_states(),
                    "history": history,
                    "trace": trace,
                    "wall_seconds": elapsed + time.perf_counter() - start,
                }, ckpt_path)
    except NonFiniteLossError as error:
        failure = error
        if main:
            log(f"stopped: {failure}; last good checkpoint kept at {ckpt_path}")
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    wall = elapsed + time.perf_counter() - start
    results = {
        "run": config.name(),
        "status": "failed" if failure else "completed",
        "error": str(failure) if failure else None,
        "provenance": {
            "git_commit": git_commit(),
            "config": asdict(config),
            "profile": config.profile_object().name,
            "device": device_name(device),
            "world_size": world,
            "seed": config.seed,
            "wall_seconds": wall,
            "iterations": trainer.iteration,
            "resumed_from": resumed_from,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
        "selection": config.selection,
        "metrics": {rule: select(history, rule) for rule in SELECTIONS} if history else {},
        "history": history,
    }
    if main:
        atomic_write_text(json.dumps(_jsonable(results), indent=2), run_dir / "results.json")
        atomic_write_text(json.dumps(_jsonable(trace)), run_dir / "trace.json")
    if failure is not None:
        raise failure
    if main and not config.keep_checkpoint and ckpt_path.is_file():
        ckpt_path.unlink()  # a finished run needs only its results (small artefacts)
    return results


def headline(results: dict, rule: str | None = None, level: str = "video") -> dict[str, float]:
    """HTER (source threshold and target EER threshold) and AUC of the selected evaluation."""
    rule = rule or results.get("selection", "source_val")
    metrics = results["metrics"][rule]["target"][level]
    return {
        "hter_source": metrics.get("hter_source", math.nan),
        "hter_target_eer": metrics["hter_target_eer"],
        "auc": metrics["auc"],
        "iteration": results["metrics"][rule]["iteration"],
    }


def summarize_seeds(results: list[dict], rule: str | None = None,
                    level: str = "video") -> dict[str, dict]:
    """Mean ± std over several seeds' results.json of the headline metrics (honest report)."""
    from mpfas_lib.training.trainer import aggregate_seeds

    heads = [headline(r, rule, level) for r in results]
    return aggregate_seeds(heads, keys=["hter_source", "hter_target_eer", "auc"])

