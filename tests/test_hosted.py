"""Launch buttons, offline: the notebook opening on a simulated Colab, and Binder's postBuild."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mpfas_lib import hosted

ROOT = Path(__file__).resolve().parent.parent
PINS = ["torch==2.14.1", "torchvision==0.29.1", "facenet-pytorch==2.5.3", "numpy==2.4.6",
        'ruff==0.17.6; extra == "test"']


def test_repository_matches_the_book_config() -> None:
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert hosted.REPOSITORY == repo["url"] and hosted.BRANCH == repo["branch"]


def test_colab_is_detected_by_its_module_or_variable() -> None:
    assert hosted.hosted_runtime({"google.colab": object()}, {}) == "colab"
    assert hosted.hosted_runtime({}, {"COLAB_RELEASE_TAG": "release-colab"}) == "colab"
    assert hosted.hosted_runtime({}, {}) is None  # google.colab is not installed here


def test_missing_requirements_keep_torch_and_skip_extras() -> None:
    present = {"numpy"}
    missing = hosted.missing_requirements(PINS, lambda r: hosted.requirement_name(r) in present)
    assert missing == ["facenet-pytorch==2.5.3"]
    assert hosted.is_importable("numpy==2.4.6") and hosted.is_importable("pillow==13.0.0")
    assert not hosted.is_importable("not-a-module-here==1.0")


def test_bootstrap_off_a_hosted_runtime_installs_nothing() -> None:
    calls: list = []
    with pytest.raises(ModuleNotFoundError, match="pip install -e ."):
        hosted.bootstrap(run=lambda *a, **k: calls.append(a), runtime=None)
    assert calls == []


def test_bootstrap_installs_the_library_then_the_missing(monkeypatch) -> None:
    calls: list[list[str]] = []
    constraints: list[str] = []
    lines: list[str] = []

    def run(command, check):
        calls.append(command)
        if "-c" in command:
            constraints.append(Path(command[command.index("-c") + 1]).read_text())

    monkeypatch.setattr(hosted, "is_importable", lambda r: not r.startswith("facenet"))
    hosted.bootstrap(run=run, runtime="colab", requirements=lambda: PINS, log=lines.append)
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    assert calls[0] == [*pip, "--no-deps", "git+https://github.com/mpfas/mpfas@main"]
    assert calls[1][:6] == [*pip, "facenet-pytorch==2.5.3"] and len(calls) == 2
    assert constraints[0].startswith("torch==") and "torchvision==" in constraints[0]
    assert lines[0].startswith("colab: installing mpfas_lib from git+") and "keeping" in lines[0]
    assert lines[1] == "installing the missing dependencies: facenet-pytorch==2.5.3"


def test_notebook_opening_on_a_simulated_colab(tmp_path: Path) -> None:
    """The first cell, run where mpfas_lib is missing and google.colab exists (pip mocked)."""
    from test_consistency import PY_SOURCES, _first_code_cell

    cell = _first_code_cell(PY_SOURCES[0])
    (tmp_path / "google" / "colab").mkdir(parents=True)
    (tmp_path / "google" / "colab" / "__init__.py").write_text("")
    log = tmp_path / "pip.json"
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import importlib.abc, json, subprocess, sys, urllib.request
        repo, cell = {str(ROOT)!r}, {cell!r}

        absent = {{"mpfas_lib", "facenet_pytorch", "myst_nb"}}  # not on Colab

        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in absent:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, Hide())
        calls, urls = [], []

        class Response:
            def read(self):
                return open(repo + "/mpfas_lib/hosted.py", "rb").read()

        def urlopen(url):
            urls.append(url)
            return Response()

        def run(command, check=False):
            calls.append(command)
            if "--no-deps" in command:  # pip installed the library: it can be imported now
                absent.discard("mpfas_lib")
                sys.path.insert(0, repo)

        urllib.request.urlopen = urlopen
        subprocess.run = run
        namespace = {{"__name__": "__main__"}}
        exec(cell, namespace)
        assert namespace["S"].profile.name == "quick"
        json.dump({{"calls": calls, "urls": urls}}, open({str(log)!r}, "w"))
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "MPFAS_PROFILE": "quick",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(driver)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(log.read_text())
    raw = "https://raw.githubusercontent.com/mpfas/mpfas/main/mpfas_lib/hosted.py"
    assert record["urls"] == [raw]
    first, second = record["calls"]
    assert first[-2:] == ["--no-deps", "git+https://github.com/mpfas/mpfas@main"]
    assert "facenet-pytorch==2.5.3" in second and "myst-nb>=1,<2" in second
    assert not any(c.startswith(("torch", "numpy")) for c in second)
    out = done.stdout.splitlines()
    assert out[0].startswith("colab: installing mpfas_lib") and "profile=quick" in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_binder_postbuild_installs_the_copied_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "binder").mkdir(parents=True)
    shutil.copy2(ROOT / "binder" / "postBuild", repo / "binder" / "postBuild")
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pip").write_text('#!/bin/bash\necho "$PWD $*" >> "$PIP_LOG"\n')
    (fake / "pip").chmod(0o755)
    log = tmp_path / "pip.log"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "PIP_LOG": str(log)}
    done = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK), "repo2docker runs it directly"
    assert log.read_text().splitlines() == [f"{repo} install --no-deps -e ."]
