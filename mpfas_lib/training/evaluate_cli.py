"""Evaluate a checkpoint (checkpoint.pt or model_best.pt) on a protocol's target domain.

Prints frame- and video-level AUC, EER, HTER at the target-EER threshold, at the threshold
fixed on source validation (honest) and at 0.5, and APCER/BPCER/ACER (paper Eq. 11 scores).
The protocol defaults to the one the checkpoint was trained on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from mpfas_lib.errors import UserError, report_error
from mpfas_lib.files import atomic_write_text, writable_file
from mpfas_lib.runtime import pick_device
from mpfas_lib.training.artefacts import jsonable, load_checkpoint
from mpfas_lib.training.build import build_data, evaluation_of
from mpfas_lib.training.config import RunConfig
from mpfas_lib.training.loop import evaluate_models
from mpfas_lib.training.methods import build_models


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``evaluate`` command's flags."""
    parser.add_argument("--checkpoint", required=True, help="checkpoint.pt or model_best.pt")
    parser.add_argument("--protocol", default=None, help="default: the training protocol")
    parser.add_argument("--data", default=None, choices=["synthetic", "real"])
    parser.add_argument("--root", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=None, help="write the metrics to this JSON file")


def evaluate_checkpoint(path: str | Path, protocol: str | None = None, data: str | None = None,
                        root: str | None = None, device: str | None = None) -> dict:
    """Load Φ and Θ from a checkpoint (weights_only) and evaluate them on a protocol."""
    state = load_checkpoint(path)
    if "config" not in state:
        if {"iterations", "states", "selected"} <= set(state):
            raise ValueError(f"{path} holds the learnt Φ's snapshots (phi.pt), not a model: "
                             "evaluate model_best.pt or checkpoint.pt of the same run folder")
        raise ValueError(f"checkpoint {path} has no config: not written by mpfas_lib training")
    config = RunConfig.from_dict(state["config"])
    changes: dict = {k: v for k, v in (("protocol", protocol), ("data", data), ("root", root))
                     if v}
    if data == "synthetic":
        changes["root"] = None  # a real-data run evaluated on the synthetic benchmark
    config = config.replace(**changes)
    models = state["trainer"] if "trainer" in state else state
    phi, theta = build_models(config.method, config.profile)
    if phi is not None and models.get("phi"):
        phi.load_state_dict(models["phi"])
    theta.load_state_dict(models["theta"])
    dev = pick_device(device or config.device)
    if config.threads > 0 and dev.type == "cpu":
        torch.set_num_threads(config.threads)  # same kernels as training: same scores
    phi = phi.to(dev) if phi is not None else None
    theta = theta.to(dev)
    out = jsonable(evaluate_models(phi, theta, build_data(config), evaluation_of(config), dev))
    return {"checkpoint": str(path), "protocol": config.protocol, "method": config.method.name,
            "iteration": int(models.get("iteration", state.get("iteration", 0))), **out}


def main(args: argparse.Namespace) -> int:
    """Evaluate and print (and optionally save) the metrics as JSON."""
    try:
        pick_device(args.device)
        if args.out:
            writable_file(args.out, "--out")
    except (UserError, ValueError) as error:
        report_error(error)
        return 2
    try:
        result = evaluate_checkpoint(args.checkpoint, args.protocol, args.data, args.root,
                                     args.device)
    except (ValueError, FileNotFoundError) as error:
        report_error(error)
        return 2
    text = json.dumps(result, indent=2)
    if args.out:
        atomic_write_text(text, args.out)
    print(text)
    return 0
