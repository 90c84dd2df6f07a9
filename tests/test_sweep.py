"""The sweep command: plans validated up front, runs trained once, resumed, locked, logged."""

from __future__ import annotations

import json

import pytest

from mpfas_lib.training import plan as plans
from mpfas_lib.training import sweep
from mpfas_lib.training.artefacts import RunFolder

TINY_SET = """
[set]
image_size = 32
synth_subjects = 4
synth_frames = 2
iterations = 4
eval_every = 2
threads = 1
"""


def write_plan(tmp_path, methods='["rgb", "colorlbp"]', extra=""):
    path = tmp_path / "tiny.toml"
    path.write_text(f'description = "tiny"\nprofile = "quick"\n{TINY_SET}\n[[runs]]\n'
                    f'protocols = ["MICO:OCI-M"]\nmethods = {methods}\nseeds = [0, 1]\n{extra}')
    return path


def test_shipped_plans_are_valid():
    main = plans.read_plan("study-main")
    assert len(main.configs) == 4 * 4 * 10 and main.profile == "study"
    assert [c.seed for c in main.configs[:16]] == [0] * 16  # seed 0 of every run first
    assert all(c.threads == 1 and not c.progress for c in main.configs)
    ablations = plans.read_plan("study-ablations")
    assert {c.method.name for c in ablations.configs} >= {"mp-official", "mp-k8", "mp-cdc3"}
    assert len(plans.read_plan("quick").configs) == 16
    shift = plans.read_plan("study-shift")
    assert len(shift.configs) == 36 and {c.shift for c in shift.configs} == {0.0, 1.5, 3.0}
    # its own folder: its runs at the default dial value never mix with study-main's
    assert shift.out == "study-shift" and main.out == "study"


def test_a_plan_never_collapses_different_runs_into_one_folder(tmp_path):
    bad = write_plan(tmp_path, extra="")
    bad.write_text(bad.read_text().replace("threads = 1", 'threads = 1\nrun_name = "same"'))
    with pytest.raises(ValueError, match=r"\[set\] may not set run_name"):
        plans.read_plan(bad)
    shifts = write_plan(tmp_path, methods='["rgb"]', extra="shifts = [0, 2.5]\n")
    names = [c.name() for c in plans.read_plan(shifts).configs]
    assert names == ["MICO_OCI-M-rgb-shift0-s0", "MICO_OCI-M-rgb-shift2.5-s0",
                     "MICO_OCI-M-rgb-shift0-s1", "MICO_OCI-M-rgb-shift2.5-s1"]
    shifts.write_text(shifts.read_text().replace("shifts = [0, 2.5]", "shifts = [-1]"))
    with pytest.raises(ValueError, match="shift"):
        plans.read_plan(shifts)


def test_bad_plans_are_refused_before_any_work(tmp_path):
    bad = write_plan(tmp_path, methods='["mp", "nope"]')
    with pytest.raises(ValueError, match=r"block 1: unknown method 'nope'"):
        plans.read_plan(bad)
    bad.write_text('profile = "quick"\n[[runs]]\nprotocols = ["MICO:XYZ-M"]\nmethods = ["mp"]\n'
                   "seeds = [0]\n")
    with pytest.raises(ValueError, match="block 1"):
        plans.read_plan(bad)
    bad.write_text('profile = "quick"\nworkers = 3\n')
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['workers'\]"):
        plans.read_plan(bad)
    with pytest.raises(FileNotFoundError, match="study-main"):
        plans.find_plan("no-such-plan")


def test_sweep_trains_once_skips_done_runs_and_holds_a_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("MPFAS_CACHE", str(tmp_path / "cache"))
    plan = plans.read_plan(write_plan(tmp_path))
    out = tmp_path / "out"
    records = sweep.run_sweep(plan, out, workers=1, limit=3, log=lambda *_: None)
    assert [r["status"] for r in records] == ["completed"] * 3
    states = {c.name(): RunFolder(out / c.name()).state(c) for c in plan.configs}
    assert sorted(states.values()) == ["done", "done", "done", "new"]
    run = out / "MICO_OCI-M-rgb-s0"
    assert (run / "results.json").is_file() and not (run / "checkpoint.pt").exists()
    records = sweep.run_sweep(plan, out, workers=1, log=lambda *_: None)
    assert [r["run"] for r in records] == ["MICO_OCI-M-colorlbp-s1"]
    assert sweep.run_sweep(plan, out, workers=1, log=lambda *_: None) == []
    log = json.loads((out / "sweeps.json").read_text())
    assert [s["runs"] for s in log] == [3, 1] and all(s["wall_seconds"] > 0 for s in log)
    with sweep.folder_lock(out), pytest.raises(RuntimeError, match="another sweep"):
        sweep.run_sweep(plan, out, workers=1, log=lambda *_: None)
    # a changed plan never finds its old results "done": stopped before any work, or --force
    longer = write_plan(tmp_path)
    longer.write_text(longer.read_text().replace("iterations = 4", "iterations = 6"))
    changed = plans.read_plan(longer)
    assert {RunFolder(out / c.name()).state(c) for c in changed.configs} == {"stale"}
    with pytest.raises(RuntimeError, match="4 finished run.*--force"):
        sweep.run_sweep(changed, out, workers=1, log=lambda *_: None)
    records = sweep.run_sweep(changed, out, workers=1, limit=1, force=True, log=lambda *_: None)
    assert records[0]["status"] == "completed"
    assert json.loads((out / records[0]["run"] / "results.json").read_text()
                      )["provenance"]["iterations"] == 6


def test_load_or_train_loads_resumes_and_refuses_other_settings(tmp_path, monkeypatch):
    from mpfas_lib.training import build_config, load_or_train

    monkeypatch.setenv("MPFAS_CACHE", str(tmp_path / "cache"))
    tiny = {"image_size": 32, "synth_subjects": 4, "synth_frames": 2, "iterations": 2,
            "eval_every": 2, "progress": False, "tensorboard": False}
    cfg = build_config(method="rgb", profile="quick", overrides=tiny)
    first = load_or_train(cfg, tmp_path, log=lambda *_: None)
    stamp = (tmp_path / cfg.name() / "results.json").stat().st_mtime_ns
    again = load_or_train(cfg, tmp_path, log=lambda *_: None)
    assert again == first and (tmp_path / cfg.name() / "results.json").stat().st_mtime_ns == stamp
    other = build_config(method="rgb", profile="quick", overrides={**tiny, "image_size": 40})
    with pytest.raises(ValueError, match=r"settings differ.*profile.image_size"):
        load_or_train(other, tmp_path, log=lambda *_: None)


def test_plan_runs_trains_then_loads_at_the_given_profile(tmp_path, monkeypatch):
    from mpfas_lib.profile import get_profile

    monkeypatch.setenv("MPFAS_CACHE", str(tmp_path / "cache"))
    plan = write_plan(tmp_path, methods='["rgb"]')
    # the chapters' full-profile path, at a size a CPU test can afford
    smoke = get_profile("full-smoke").replace(image_size=32, backbone="resnet18-w16")
    first = sweep.plan_runs(plan, smoke, out=tmp_path / "out", seeds=[1], log=lambda *_: None)
    assert [r["run"] for r in first] == ["MICO_OCI-M-rgb-s1"]
    assert first[0]["provenance"]["profile"] == "full-smoke"
    stamp = (tmp_path / "out" / "MICO_OCI-M-rgb-s1" / "results.json").stat().st_mtime_ns
    again = sweep.plan_runs(plan, smoke, out=tmp_path / "out", seeds=[1], log=lambda *_: None)
    assert again == first
    assert (tmp_path / "out" / "MICO_OCI-M-rgb-s1" / "results.json").stat().st_mtime_ns == stamp
