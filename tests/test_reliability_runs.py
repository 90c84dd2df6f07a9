"""Reliability, second pass, for runs and plans: one configuration per folder, nothing stale
stands in for a changed plan, every check before any work (issue 21; one test per item)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_reliability import TINY, one_error_line, tiny

from mpfas_lib.__main__ import main as cli
from mpfas_lib.training import plan as plans
from mpfas_lib.training.artefacts import RunFolder


def _results(out: Path, name: str = "MICO_OCI-M-mp-s0") -> dict:
    return json.loads((out / name / "results.json").read_text())


def test_item_r1_a_finished_run_is_never_trained_over_without_force(tmp_path, capsys):
    out = tmp_path / "runs"
    assert cli(tiny(out=out)) == 0
    first = _results(out)
    capsys.readouterr()
    # another setting on the same folder: refused before any work, the run untouched
    assert cli(tiny("--set", "lr=1e30", out=out)) == 2
    one_error_line(capsys.readouterr().err, "finished run with other settings", "lr", "--force")
    assert _results(out) == first and not (out / ".replaced").exists()
    # the same settings again: refused too (nothing overwrites a finished run silently)
    assert cli(tiny(out=out)) == 2
    one_error_line(capsys.readouterr().err, "already finished", "--force")
    # --force moves the earlier run aside, whole, and trains the new one alone in the folder
    assert cli(tiny("--set", "lr=0.002", "--force", out=out)) == 0
    moved = list((out / ".replaced").iterdir())
    assert len(moved) == 1 and json.loads((moved[0] / "results.json").read_text()) == first
    assert {p.name for p in moved[0].iterdir()} >= {"results.json", "model_best.pt", "phi.pt"}
    assert _results(out)["provenance"]["config"]["profile"]["lr"] == 0.002


def test_item_r1_a_failure_while_extending_keeps_the_finished_results(tmp_path, monkeypatch):
    import mpfas_lib.training.build as build
    from mpfas_lib.training import NonFiniteLossError, build_config, run_training

    out = tmp_path / "runs"
    config = build_config(profile="quick", overrides=TINY)
    run_training(config, out=out, log=lambda *_: None)
    first = _results(out)
    real = build.hfn_loss
    monkeypatch.setattr(build, "hfn_loss", lambda o, y: real(o, y) * float("nan"))
    longer = config.replace(profile=config.profile.replace(iterations=8))
    with pytest.raises(NonFiniteLossError):
        run_training(longer, out=out, resume=True, log=lambda *_: None)
    assert _results(out) == first  # the finished run's results stand
    failed = json.loads((out / "MICO_OCI-M-mp-s0" / "results.failed.json").read_text())
    assert failed["status"] == "failed" and "iteration 5" in failed["error"]


def test_item_r2_plans_refuse_what_collapses_or_mislabels_runs(tmp_path):
    def plan(set_lines: str, block: str = "") -> Path:
        path = tmp_path / "p.toml"
        path.write_text('profile = "quick"\n[set]\nthreads = 1\n' + set_lines + "\n[[runs]]\n"
                        'protocols = ["MICO:OCI-M"]\nmethods = ["mp", "erm"]\nseeds = [0, 1]\n'
                        + block)
        return path

    for key, value in (("method", '"erm"'), ("profile", '"full"'), ("seed", "3"),
                       ("protocol", '"MICO:OMI-C"'), ("run_name", '"same"')):
        with pytest.raises(ValueError, match=rf"p.toml.*\[set\] may not set {key}"):
            plans.read_plan(plan(f"{key} = {value}"))
    with pytest.raises(ValueError, match=r"q.toml.*seed must be >= 0"):
        plans.read_plan(_write(tmp_path, plan("").read_text().replace("[0, 1]", "[-1]")))
    with pytest.raises(ValueError, match="profile must be the name of a profile"):
        plans.read_plan(_write(tmp_path, plan("").read_text().replace('"quick"', "3")))
    for bad in ("42", '"/tmp/elsewhere"', '"../outside"'):
        text = plan("").read_text().replace('profile = "quick"', f'profile = "quick"\nout = {bad}')
        with pytest.raises(ValueError, match="out must be a folder name inside"):
            plans.read_plan(_write(tmp_path, text))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.toml"
    path.write_text(text)
    return path


def test_item_r3_numbers_out_of_range_are_one_line_before_any_folder(tmp_path, capsys):
    out = tmp_path / "runs"
    for setting, needle in (("threads=100000", "threads must be at most"),
                            ("synth_subjects=1", "synth_subjects must be >= 4"),
                            ("seed=-1", "seed must be >= 0")):
        assert cli(tiny("--set", setting, out=out)) == 2
        one_error_line(capsys.readouterr().err, needle)
    assert not out.exists()


def test_item_r4_an_unusable_cache_is_refused_before_the_run_folder(tmp_path, monkeypatch,
                                                                     capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MPFAS_CACHE", str(blocker))
    out = tmp_path / "runs"
    assert cli(tiny(out=out)) == 2
    one_error_line(capsys.readouterr().err, "$MPFAS_CACHE")
    assert not out.exists()


def _sweep_process(tmp_path: Path, iterations: int = 40):
    import os
    import subprocess
    import sys

    plan = tmp_path / "slow.toml"
    plan.write_text('profile = "quick"\n[set]\nimage_size = 32\nsynth_subjects = 4\n'
                    f"synth_frames = 2\niterations = {iterations}\neval_every = 10\n"
                    "threads = 1\n[[runs]]\nprotocols = [\"MICO:OCI-M\"]\n"
                    'methods = ["mp"]\nseeds = [0, 1]\n')
    env = {**os.environ, "MPFAS_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "mpfas_lib", "sweep", str(plan), "--out",
                             str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, plan, out, env


def _wait_for(predicate, seconds: float = 120.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _worker_holds(run: Path) -> bool:
    from mpfas_lib.errors import UserError
    from mpfas_lib.files import FolderLock

    if not run.is_dir():
        return False
    try:
        FolderLock(run, "run folder").acquire().release()
    except UserError:
        return True
    return False


def _sweep_holds(out: Path) -> bool:
    import fcntl

    with (out / ".sweep.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def test_item_r5_a_killed_sweep_takes_its_workers_with_it(tmp_path):
    import signal

    proc, plan, out, env = _sweep_process(tmp_path)
    run = out / "MICO_OCI-M-mp-s0"
    assert _wait_for(lambda: _worker_holds(run)), proc.communicate()
    proc.send_signal(signal.SIGKILL)  # the sweep's main process only
    proc.wait()
    assert _wait_for(lambda: not _worker_holds(run), 20), "the worker outlived its sweep"


def test_item_r5_ctrl_c_stops_the_sweep_without_starting_queued_runs(tmp_path):
    import signal

    proc, plan, out, env = _sweep_process(tmp_path)
    run = out / "MICO_OCI-M-mp-s0"
    assert _wait_for(lambda: _worker_holds(run)), proc.communicate()
    proc.send_signal(signal.SIGINT)  # the sweep's main process only, as a scheduler may
    while proc.poll() is None:  # one writer: no worker writes once the folder's lock is free
        free = not _sweep_holds(out)  # first: a worker that stops after this is no violation
        assert not (free and _worker_holds(run)), "the sweep let go of its folder while a " \
            "worker still trains"
        time.sleep(0.1)
    assert not _worker_holds(run)
    assert not (out / "MICO_OCI-M-mp-s1").exists()  # the queued run never started
    states = {c.name(): RunFolder(out / c.name()).state(c) for c in plans.read_plan(plan).configs}
    assert states["MICO_OCI-M-mp-s1"] == "new"


class _Payload:
    """Runs code when unpickled: what a hostile checkpoint would carry."""

    def __reduce__(self):
        return (print, ("payload ran",))


def test_item_r6_broken_checkpoints_are_one_line_and_never_run(tmp_path, capsys):
    import torch

    empty, hostile = tmp_path / "empty.pt", tmp_path / "hostile.pt"
    empty.write_bytes(b"")
    torch.save({"config": _Payload()}, hostile)
    for path, needle in ((empty, "the file is empty"), (hostile, "nothing in it ran")):
        assert cli(["evaluate", "--checkpoint", str(path)]) == 2
        captured = capsys.readouterr()
        one_error_line(captured.err, str(path), needle)
        assert "payload ran" not in captured.out + captured.err
        assert "weights_only=False" not in captured.err


def test_item_r6_phi_snapshots_and_newer_checkpoints_are_named(tmp_path, capsys):
    out = tmp_path / "runs"
    assert cli(tiny(out=out)) == 0
    run = out / "MICO_OCI-M-mp-s0"
    capsys.readouterr()
    assert cli(["evaluate", "--checkpoint", str(run / "phi.pt")]) == 2
    one_error_line(capsys.readouterr().err, "phi.pt", "model_best.pt")
    import torch

    saved = torch.load(run / "model_best.pt", weights_only=True)
    saved["config"]["profile"]["warp_drive"] = 3  # a setting of a later version
    torch.save(saved, tmp_path / "newer.pt")
    assert cli(["evaluate", "--checkpoint", str(tmp_path / "newer.pt")]) == 2
    one_error_line(capsys.readouterr().err, "newer version", "warp_drive")


def test_item_r6_a_wrong_resume_checkpoint_is_refused_before_any_data(tmp_path, capsys,
                                                                      monkeypatch):
    import os
    import shutil

    import mpfas_lib.training.build as build
    from mpfas_lib.errors import UserError
    from mpfas_lib.training import build_config

    out = tmp_path / "runs"
    assert cli(tiny(out=out)) == 0
    run = out / "MICO_OCI-M-mp-s0"
    kept = (run / "checkpoint.pt").read_bytes()
    capsys.readouterr()

    def no_data(config):
        raise AssertionError("data built before the checkpoint was checked")

    monkeypatch.setattr(build, "build_data", no_data)
    # another configuration's checkpoint: refused naming the setting, before the data
    assert cli(tiny("--set", "lr=0.5", "--resume", out=out)) == 2
    one_error_line(capsys.readouterr().err, "settings differ", "profile.lr")
    # a file that is no training checkpoint (a model_best.pt in its place)
    shutil.copy(run / "model_best.pt", run / "checkpoint.pt")
    assert cli(tiny("--resume", out=out)) == 2
    one_error_line(capsys.readouterr().err, str(run / "checkpoint.pt"),
                   "not a training checkpoint", "trainer")
    # a checkpoint replaced between the check and the lock is never continued
    (run / "checkpoint.pt").write_bytes(kept)
    folder = RunFolder(run)
    folder.resume_state(build_config(profile="quick", overrides=TINY))
    (run / "other.pt").write_bytes(kept)
    os.replace(run / "other.pt", run / "checkpoint.pt")
    with pytest.raises(UserError, match="changed after it was checked"):
        with folder.locked():
            raise AssertionError("the lock let a replaced checkpoint through")
    with RunFolder(run).locked():  # a folder read afresh is usable again
        pass


def test_item_r7_the_full_profile_on_a_cpu_is_measured_and_needs_yes(tmp_path, monkeypatch,
                                                                    capsys):
    import mpfas_lib.training.cli as train_cli

    monkeypatch.setattr(train_cli, "seconds_per_iteration", lambda config, device: 36.0)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    out = tmp_path / "runs"
    assert cli(["train", "--profile", "full", "--device", "cpu", "--out", str(out),
                "--set", "pretrained=none"]) == 2
    one_error_line(capsys.readouterr().err, "would take about 200 h", "--yes")
    assert not out.exists()


def test_item_r8_the_student_edition_never_overwrites_the_chapters(tmp_path, capsys):
    import shutil

    sources = tmp_path / "notebooks"
    sources.mkdir()
    chapter = Path(__file__).resolve().parent.parent / "notebooks" / "01_getting_started.ipynb"
    shutil.copy(chapter, sources)
    before = (sources / chapter.name).read_bytes()
    for out in (sources, sources / "inside", tmp_path):
        assert cli(["student", "--sources", str(sources), "--out", str(out)]) == 2
        one_error_line(capsys.readouterr().err, "--sources", "overwrite the chapters")
    assert (sources / chapter.name).read_bytes() == before
    assert not (sources / "inside").exists()


def test_item_r9_the_cache_trusts_only_what_its_writer_made(tmp_path):
    import numpy as np

    from mpfas_lib.data import synthetic

    bench = synthetic.SyntheticBenchmark(16, 2, 2, seed=0, root=tmp_path)
    specs = bench.videos("M")[:3]
    bench.ensure(specs, progress=False)
    good = [np.load(bench.video_path(s))["frames"] for s in specs]
    # replaced by all-black frames and its sidecar removed: not trusted
    black = bench.video_path(specs[0])
    np.savez(black, frames=np.zeros_like(good[0]))
    synthetic.sidecar(black).unlink()
    # frames of the wrong shape behind a sidecar forged to match them: not trusted either
    small = bench.video_path(specs[1])
    wrong = np.zeros((2, 8, 8, 3), np.uint8)
    np.savez(small, frames=wrong)
    synthetic.sidecar(small).write_text(f"{synthetic.frames_digest(wrong)} "
                                        f"{small.stat().st_size}\n")
    synthetic._VERIFIED.clear()  # a new process
    fresh = synthetic.SyntheticBenchmark(16, 2, 2, seed=0, root=tmp_path)
    assert [fresh.is_cached(s) for s in specs] == [False, False, True]
    fresh.ensure(specs, progress=False)
    for spec, frames in zip(specs, good, strict=True):
        np.testing.assert_array_equal(np.load(fresh.video_path(spec))["frames"], frames)


def test_item_r9_a_folder_in_the_caches_way_is_named(tmp_path):
    from mpfas_lib.data import synthetic
    from mpfas_lib.errors import UserError

    bench = synthetic.SyntheticBenchmark(16, 2, 2, seed=0, root=tmp_path)
    spec = bench.videos("M")[0]
    bench.video_path(spec).mkdir(parents=True)
    with pytest.raises(UserError, match=rf"{bench.video_path(spec)} is a folder"):
        bench.ensure([spec], progress=False)
    assert not list(bench.video_path(spec).parent.glob("*.tmp.npz"))


def test_item_r10_weights_that_do_not_load_stop_the_run_before_any_data(tmp_path, capsys,
                                                                        monkeypatch):
    import mpfas_lib.training.build as build

    def no_data(config):
        raise AssertionError("data built before the weights were checked")

    monkeypatch.setattr(build, "build_data", no_data)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not weights at all")
    assert cli(tiny("--set", f"pretrained={junk}", out=tmp_path / "runs")) == 2
    one_error_line(capsys.readouterr().err, str(junk))
