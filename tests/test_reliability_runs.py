"""Reliability, second pass, for runs and plans: one configuration per folder, nothing stale
stands in for a changed plan, every check before any work (issue 21; one test per item)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_reliability import TINY, one_error_line, tiny

from mpfas_lib.__main__ import main as cli
from mpfas_lib.training import sweep


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
            sweep.read_plan(plan(f"{key} = {value}"))
    with pytest.raises(ValueError, match=r"q.toml.*seed must be >= 0"):
        sweep.read_plan(_write(tmp_path, plan("").read_text().replace("[0, 1]", "[-1]")))
    with pytest.raises(ValueError, match="profile must be the name of a profile"):
        sweep.read_plan(_write(tmp_path, plan("").read_text().replace('"quick"', "3")))
    for bad in ("42", '"/tmp/elsewhere"', '"../outside"'):
        text = plan("").read_text().replace('profile = "quick"', f'profile = "quick"\nout = {bad}')
        with pytest.raises(ValueError, match="out must be a folder name inside"):
            sweep.read_plan(_write(tmp_path, text))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.toml"
    path.write_text(text)
    return path
