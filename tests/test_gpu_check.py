"""scripts/gpu_check.py on the CPU at tiny sizes: every section runs and the report is sound."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpfas_lib.gpu.check import peak_flops
from mpfas_lib.gpu.report import slug, write_json_atomic

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "gpu_check.py"
SECTIONS = ("environment", "methods", "flops", "ratio", "profile", "resume", "ddp_smoke",
            "ddp_gloo", "notebooks")
METHODS = ("mp", "mp-official", "erm", "rgb", "colorlbp")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess,
                                                               dict, list[Path]]:
    """One run of ``gpu_check.py --device cpu --tiny --skip-notebooks`` and its JSON report."""
    out = tmp_path_factory.mktemp("gpu_check_out")
    env = dict(os.environ, OMP_NUM_THREADS="1",
               MPFAS_CACHE=str(tmp_path_factory.mktemp("gpu_check_cache")))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--skip-notebooks",
         "--no-progress", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    files = sorted(out.glob("*.json"))
    report = json.loads(files[0].read_text()) if files else {}
    return done, report, files


def test_exit_code_and_one_report(tiny_run) -> None:
    done, report, files = tiny_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert [f.name[:4] for f in files] == ["cpu-"]
    assert files[0].name.endswith(".json") and not list(files[0].parent.glob(".*.tmp"))
    assert report["overall"] == "passed" and report["failed_sections"] == []
    assert "overall: passed" in done.stdout and "Algorithm 1 / ERM" in done.stdout


def test_every_section_present(tiny_run) -> None:
    _, report, _ = tiny_run
    for name in SECTIONS:
        assert name in report, name
        assert report[name]["status"] in ("passed", "skipped"), (name, report[name])
    assert report["notebooks"]["status"] == "skipped"
    assert report["ddp_gloo"]["status"] == "skipped"  # default on the CPU: 0 gloo processes
    env = report["environment"]
    for key in ("device_name", "torch", "cuda", "cudnn", "python", "git_commit"):
        assert key in env
    assert env["device_name"] == "cpu" and env["profile"] == "quick" and env["tiny"]
    assert env["compile_modes"] == [] and report["methods"]["compiled"] == {}  # cpu: eager


def test_environment_commit_is_the_librarys(monkeypatch: pytest.MonkeyPatch) -> None:
    import mpfas_lib.gpu.check as check

    monkeypatch.setattr(check, "git_commit", lambda: "0123abc+dirty")
    env = check.environment(check.Check(check.CheckOptions(device="cpu", tiny=True)))
    assert env["git_commit"] == "0123abc+dirty"  # the one function results.json uses too


def test_profile_of_one_iteration(tiny_run) -> None:
    done, report, _ = tiny_run
    profile = report["profile"]
    assert profile["status"] == "passed" and profile["errors"] == {}
    assert sorted(profile["rows"]) == ["erm [none]", "mp [none]"]
    calls = {key: {name: part["calls"] for name, part in row["regions"].items()}
             for key, row in profile["rows"].items()}
    assert calls == {"mp [none]": {"data": 5, "phi_inner_step": 4, "theta_step": 1},
                     "erm [none]": {"data": 1, "erm_step": 1}}  # K = 4 inner steps
    for row in profile["rows"].values():
        named = sum(part["host_ms"] for part in row["regions"].values())
        assert 0 < named <= row["iteration_ms"] and row["other_host_ms"] >= 0
        assert all(part["device_ms"] is None for part in row["regions"].values())
        assert row["kernel_launches"] is None and row["operator_calls"] > 100
        assert row["top"] and all(t["name"].startswith("aten::") and t["ms"] > 0
                                  for t in row["top"])
    assert "one profiled iteration" in done.stdout and "mp [none]" in done.stdout


@pytest.mark.parametrize("mode,line", [
    ("reduce-overhead", "compile='reduce-overhead' captures CUDA graphs and needs a CUDA "
                        "device, not cpu: use compile='default' or 'none' here"),
    ("fast", "compile must be one of ['none', 'default', 'max-autotune', 'reduce-overhead', "
             "'cudagraphs'], got 'fast'")])
def test_compile_mode_refused_before_any_section(tmp_path: Path, mode: str, line: str) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny",
                           "--compile", f"default,{mode}", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == "" and not list(tmp_path.iterdir())
    assert done.stderr.strip().splitlines()[-1] == f"error: --compile {mode}: {line}"


def test_methods_losses_finite_and_timed(tiny_run) -> None:
    _, report, _ = tiny_run
    rows = report["methods"]["rows"]
    assert sorted(rows) == sorted(METHODS) and report["methods"]["errors"] == {}
    for row in rows.values():
        assert row["losses_finite"] and math.isfinite(row["last_loss"])
        assert row["seconds_per_iteration"] > 0 and row["images_per_second"] > 0
        assert row["image_size"] == 64 and row["peak_memory_gib"] is None
        assert row["flops_per_image"] > 0
    assert rows["mp"]["images_per_iteration"] > rows["erm"]["images_per_iteration"]
    flops = report["flops"]
    assert flops["flops"] > 0 and flops["flops_per_second"] > 0 and flops["mfu"] is None
    assert report["ratio"]["ratio"] > 0 and report["ratio"]["goal"] == 1.6


def test_resume_identical_on_cpu(tiny_run) -> None:
    _, report, _ = tiny_run
    resume = report["resume"]
    assert resume["resumed_from"] == 3 and resume["identical"] is True
    assert resume["max_metric_difference"] == 0.0 and resume["max_weight_difference"] == 0.0


def test_ddp_smoke_passed(tiny_run) -> None:
    _, report, _ = tiny_run
    ddp = report["ddp_smoke"]
    assert ddp["status"] == "passed" and ddp["returncode"] == 0
    assert ddp["world_size"] == 1 and ddp["iterations"] == 2 and ddp["ddp_wrapped"] is False
    assert "--nproc_per_node=1" in ddp["command"] and "WORLD_SIZE=1" in ddp["note"]


def test_peak_table_by_device_name() -> None:
    peak = peak_flops
    assert peak("NVIDIA H100 80GB HBM3") == ("H100 SXM", 989.4e12)
    assert peak("NVIDIA H100 PCIe") == ("H100 PCIe", 756e12)
    assert peak("NVIDIA H200") == ("H200", 989.4e12)
    assert peak("NVIDIA A100-SXM4-80GB") == ("A100", 312e12)
    assert peak("NVIDIA GeForce RTX 4090") == (None, None)
    assert peak("cpu") == (None, None)


def test_atomic_json_and_slug(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "report.json"
    write_json_atomic({"a": 1.5}, target)
    assert json.loads(target.read_text()) == {"a": 1.5}
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]
    assert slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_out_file_refused_before_any_section(tmp_path: Path) -> None:
    taken = tmp_path / "report.json"
    taken.write_text("x")
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny",
                           "--out", str(taken)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"error: --out {taken} is a file, not a folder: choose a folder"]
    assert taken.read_text() == "x"
