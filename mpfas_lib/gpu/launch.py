"""Child processes of the GPU check: ``mpfas_lib train`` under torchrun and the notebooks
under nbmake (sections ``ddp_smoke``, ``ddp_gloo`` and ``notebooks``)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from mpfas_lib.gpu.check import DATA, PROTOCOL, Check
from mpfas_lib.paths import REPO_ROOT

DDP_NOTE = (
    "with WORLD_SIZE=1 `mpfas_lib train` joins no process group (cli.main calls "
    "init_distributed only when WORLD_SIZE > 1) and Trainer wraps DistributedDataParallel only "
    "when world_size > 1: this smoke checks the torchrun launch, not DDP itself (ddp_gloo does)"
)
SMOKE_NOTE = (
    "the notebooks run under MPFAS_PROFILE=full-smoke: the full profile's networks and image "
    "size with few iterations and identities (mpfas_lib.profile)"
)
NOTEBOOK_STATUS = re.compile(r"([\w.-]+\.ipynb)\S* (PASSED|FAILED|ERROR|SKIPPED)")


def tail(text: str, lines: int = 15) -> str:
    """The last lines of a process's output."""
    return "\n".join(text.strip().splitlines()[-lines:])


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this repository first on PYTHONPATH."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


def run_process(cmd: list[str], env: dict[str, str], timeout: float | None,
                cwd: Path = REPO_ROOT) -> tuple[int | None, str, float]:
    """Run a command in its own process group; kill that group on timeout (rc None)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        rc = None
    return rc, out or "", time.perf_counter() - start


def torchrun(check: Check, procs: int, device: str, profile: str, name: str) -> dict:
    """``mpfas_lib train`` under torchrun for 2 iterations; passed when results.json is sane."""
    out_dir = check.tmp / name
    sets = [f"{k}={v}" for k, v in {**DATA, "eval_every": 2, "tensorboard": "false",
                                     "save_best": "false"}.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={procs}", "-m", "mpfas_lib", "train", "--protocol", PROTOCOL,
           "--method", "mp", "--profile", profile, "--iterations", "2", "--device", device,
           "--out", str(out_dir), "--no-progress"]
    for item in sets:
        cmd += ["--set", item]
    left = check.remaining()
    timeout = 300.0 if left is None else max(30.0, min(300.0, left))
    rc, output, seconds = run_process(cmd, child_env(PYTHONUNBUFFERED="1"), timeout)
    found = sorted(out_dir.glob("*/results.json"))
    results = json.loads(found[0].read_text()) if found else None
    prov = results["provenance"] if results else {}
    passed = (rc == 0 and results is not None and results["status"] == "completed"
              and prov.get("iterations") == 2 and prov.get("world_size") == procs)
    return {
        "passed": passed,
        "command": " ".join(["python", *cmd[1:]]),
        "returncode": rc,
        "timed_out": rc is None,
        "seconds": seconds,
        "world_size": prov.get("world_size"),
        "device": prov.get("device"),
        "iterations": prov.get("iterations"),
        "output_tail": tail(output),
    }


def ddp_smoke_section(check: Check) -> dict:
    """torchrun with one process on the check's device (the launch path; no DDP at size 1)."""
    out = torchrun(check, 1, str(check.device), check.profile, "ddp1")
    out.update(ddp_wrapped=False, note=DDP_NOTE)
    return out


def ddp_gloo_section(check: Check) -> dict:
    """torchrun with 2 CPU processes (gloo, quick profile): DistributedDataParallel runs."""
    out = torchrun(check, check.options.ddp_gloo_procs, "cpu", "quick", "ddp_gloo")
    out.update(ddp_wrapped=True, backend="gloo")
    return out


def notebook_statuses(names: list[str], output: str, junit: Path,
                      timed_out: bool) -> dict[str, dict]:
    """Pass/fail (time, error) per notebook from pytest's verbose output and its JUnit file."""
    per: dict[str, dict] = {name: {"status": "not run"} for name in names}
    # the verbose lines survive a kill at the time limit; the JUnit file adds times and errors
    for match in NOTEBOOK_STATUS.finditer(output):
        status = {"PASSED": "passed", "SKIPPED": "skipped"}.get(match.group(2), "failed")
        per.setdefault(match.group(1), {})["status"] = status
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            found = re.search(r"[\w.-]+\.ipynb", f"{case.get('file')} {case.get('name')} "
                              f"{case.get('classname')}")
            if found is None:
                continue
            record = per.setdefault(found.group(0), {})
            record.update(status="passed", seconds=float(case.get("time") or 0.0))
            for tag in ("failure", "error", "skipped"):
                node = case.find(tag)
                if node is not None:
                    record["status"] = "skipped" if tag == "skipped" else "failed"
                    message = (node.get("message") or node.text or "").strip().splitlines()
                    record["error"] = message[-1][:300] if message else tag
    if timed_out:
        running = next((n for n, r in per.items() if r["status"] == "not run"), None)
        if running is not None:
            per[running]["status"] = "timed out"
            per[running]["error"] = "killed at the time budget"
    return per


def notebooks_section(check: Check) -> dict:
    """``pytest --nbmake notebooks -x`` at the smoke scale; pass/fail per notebook."""
    if importlib.util.find_spec("nbmake") is None:
        return {"skipped": "nbmake not installed"}
    notebooks = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))
    junit = check.tmp / "notebooks.xml"
    profile = "quick" if check.tiny else "full-smoke"
    cmd = [sys.executable, "-m", "pytest", "--nbmake", "notebooks", "-x", "-v",
           "-p", "no:cacheprovider", f"--nbmake-timeout={check.options.notebook_timeout}",
           f"--junitxml={junit}", "-o", "addopts="]
    left = check.remaining()
    timeout = None if left is None else max(10.0, left)
    env = child_env(MPFAS_PROFILE=profile, PYTHONUNBUFFERED="1")
    rc, output, seconds = run_process(cmd, env, timeout)
    per = notebook_statuses(notebooks, output, junit, timed_out=rc is None)
    failed = [n for n, r in per.items() if r["status"] == "failed"]
    passed = rc == 0 and not failed and all(r["status"] == "passed" for r in per.values())
    return {
        "passed": passed,
        "profile": profile,
        "smoke": True,
        "smoke_note": SMOKE_NOTE,
        "returncode": rc,
        "timed_out": rc is None,
        "seconds": seconds,
        "cell_timeout_s": check.options.notebook_timeout,
        "notebooks": per,
        "output_tail": tail(output),
    }
