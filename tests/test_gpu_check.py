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
SECTIONS = ("environment", "methods", "flops", "ratio", "resume", "ddp_smoke", "ddp_gloo",
            "notebooks")
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
