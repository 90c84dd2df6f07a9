"""Runs, configs, results.json, exact resume after SIGKILL, NaN stop and the CLIs (tiny runs)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mpfas_lib.evaluation.selection import SELECTIONS
from mpfas_lib.training import cli, evaluate_cli
from mpfas_lib.training.artefacts import load_checkpoint
from mpfas_lib.training.config import build_config
from mpfas_lib.training.loop import run_training

REPO = Path(__file__).resolve().parent.parent
TINY = {
    "image_size": "32", "synth_subjects": "4", "synth_frames": "2", "iterations": "12",
    "eval_every": "4", "checkpoint_every": "2", "threads": "1", "tensorboard": "false",
    "progress": "false",
}



def tiny_args(out: Path, *extra: str) -> list[str]:
    args = ["train", "--protocol", "MICO:OCI-M", "--method", "mp", "--profile", "quick",
            "--seed", "3", "--out", str(out)]
    for key, value in TINY.items():
        args += ["--set", f"{key}={value}"]
    return args + list(extra)


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mpfas_lib"]
    full = subprocess.run(command + tiny_args(tmp_path / "a"), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr
    run_b = tmp_path / "b" / "MICO_OCI-M-mp-s3"
    proc = subprocess.Popen(command + tiny_args(tmp_path / "b"), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not (run_b / "checkpoint.pt").exists() and time.time() < deadline:
            assert proc.poll() is None, "run ended before its first checkpoint"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(run_b / "checkpoint.pt")["trainer"]["iteration"]
    assert killed_at < 12 and not (run_b / "results.json").exists()
    resumed = subprocess.run(command + tiny_args(tmp_path / "b", "--resume"), cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "a" / "MICO_OCI-M-mp-s3" / "results.json").read_text())
    b = json.loads((run_b / "results.json").read_text())
    assert b["provenance"]["resumed_from"] == killed_at
    assert a["metrics"] == b["metrics"] and a["history"] == b["history"]
    ta = load_checkpoint(tmp_path / "a" / "MICO_OCI-M-mp-s3" / "checkpoint.pt")["trainer"]
    tb = load_checkpoint(run_b / "checkpoint.pt")["trainer"]
    for part in ("phi", "theta"):
        for key, value in ta[part].items():
            assert torch.equal(value, tb[part][key]), f"{part}.{key} differs after resume"
    # provenance and the evaluate command on the written checkpoint
    prov = a["provenance"]
    for key in ("git_commit", "config", "profile", "device", "seed", "wall_seconds",
                "iterations", "torch"):
        assert key in prov
    assert prov["iterations"] == 12 and prov["seed"] == 3
    assert prov["config"]["profile"]["image_size"] == 32 and prov["method"] == "mp"
    assert a["format"] == 2 and set(a["scores"]) == set(SELECTIONS)
    snapshots = load_checkpoint(tmp_path / "a" / "MICO_OCI-M-mp-s3" / "phi.pt")
    assert snapshots["iterations"] == [0, 4, 8, 12] and snapshots["selected"] in (4, 8, 12)
    assert not torch.equal(snapshots["states"][0]["encoder.0.weight"],
                           snapshots["states"][-1]["encoder.0.weight"])
    scores = a["scores"]["source_val"]
    assert len(scores["video_ids"]) == len(scores["scores"]) == len(scores["labels"]) > 0
    assert set(a["metrics"]) == set(SELECTIONS)
    video = a["metrics"]["last"]["target"]["video"]
    for key in ("auc", "eer", "hter_target_eer", "hter_source", "hter_0.5", "acer"):
        assert key in video
    trace = json.loads((tmp_path / "a" / "MICO_OCI-M-mp-s3" / "trace.json").read_text())
    assert len(trace) == 12 and all(len(t["inner_losses"]) == 4 for t in trace)
    parser = argparse.ArgumentParser()
    evaluate_cli.add_arguments(parser)
    out_json = tmp_path / "eval.json"
    args = parser.parse_args(["--checkpoint", str(run_b / "checkpoint.pt"), "--out",
                              str(out_json)])
    assert evaluate_cli.main(args) == 0
    evaluated = json.loads(out_json.read_text())
    for level in ("frame", "video"):
        ours, theirs = evaluated["target"][level], a["history"][-1]["target"][level]
        # a new process may pick other CPU kernels: scores agree to float rounding only
        assert ours["n_samples"] == theirs["n_samples"]
        assert ours["auc"] == pytest.approx(theirs["auc"], abs=1.0)


def test_nan_stops_run_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    import mpfas_lib.training.build as build

    real = build.hfn_loss
    calls = {"n": 0}

    def flaky(out, labels):
        calls["n"] += 1
        loss = real(out, labels)
        return loss * float("nan") if calls["n"] > 5 * 5 else loss  # breaks in iteration 6

    monkeypatch.setattr(build, "hfn_loss", flaky)
    cfg = build_config(profile="quick", overrides=TINY)
    from mpfas_lib.training.algorithm1 import NonFiniteLossError

    with pytest.raises(NonFiniteLossError, match="iteration 6: inner loss"):
        run_training(cfg, out=tmp_path, log=lambda *_: None)
    run = tmp_path / "MICO_OCI-M-mp-s0"
    result = json.loads((run / "results.json").read_text())
    assert result["status"] == "failed" and "iteration 6" in result["error"]
    assert load_checkpoint(run / "checkpoint.pt")["trainer"]["iteration"] == 4
    changed = build_config(profile="quick", overrides={**TINY, "lr": "0.5"})
    with pytest.raises(ValueError, match=r"settings differ.*profile.lr"):
        run_training(changed, out=tmp_path, resume=True, log=lambda *_: None)


def test_cli_reports_bad_settings(capsys):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--set", "nope=1"])
    assert cli.main(args) == 2
    assert "unknown setting 'nope'" in capsys.readouterr().err


def test_finished_run_can_drop_its_checkpoints(tmp_path):
    overrides = {**TINY, "iterations": "2", "eval_every": "2", "keep_checkpoint": "false",
                 "save_best": "false"}
    result = run_training(build_config(profile="quick", method="rgb", overrides=overrides),
                          out=tmp_path, log=lambda *_: None)
    run = tmp_path / "MICO_OCI-M-rgb-s0"
    assert result["status"] == "completed" and (run / "results.json").is_file()
    assert not list(run.glob("*.pt"))
