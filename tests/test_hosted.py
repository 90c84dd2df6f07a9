"""Launch buttons, offline: the notebook opening on a simulated Colab, the release it installs
(mpfas_lib/release.py, scripts/pin_release.py, book/_ext/release_pin.py), Binder's postBuild."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import yaml

from mpfas_lib import hosted, release
from mpfas_lib.release import RELEASE_LINE

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


def test_bootstrap_installs_the_release_it_is_given() -> None:
    calls: list[list[str]] = []
    hosted.bootstrap(run=lambda command, check: calls.append(command), runtime="colab",
                     requirements=lambda: [], log=lambda line: None, release="v1.0")
    assert calls[0][-1] == "git+https://github.com/mpfas/mpfas@v1.0" and len(calls) == 1


@pytest.mark.parametrize("release", ["main", "v1.0"])
def test_notebook_opening_on_a_simulated_colab(tmp_path: Path, release: str) -> None:
    """The opening cells, run where mpfas_lib is missing and google.colab exists (pip mocked).

    The hidden bootstrap fetches hosted.py at the notebook's RELEASE and installs that ref;
    ``v1.0`` is the cell as scripts/pin_release.py writes it for a release.
    """
    from test_consistency import PY_SOURCES, _opening_cells

    (bootstrap, _), (setup, _) = _opening_cells(PY_SOURCES[0])
    pinned = RELEASE_LINE.sub(lambda m: f'{m["head"]}"{release}"', bootstrap)
    assert pinned.count(f'"{release}"') == 1
    cell = f"{pinned}\n{setup}"
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
    raw = f"https://raw.githubusercontent.com/mpfas/mpfas/{release}/mpfas_lib/hosted.py"
    assert record["urls"] == [raw]
    first, second = record["calls"]
    assert first[-2:] == ["--no-deps", f"git+https://github.com/mpfas/mpfas@{release}"]
    assert "facenet-pytorch==2.5.3" in second and "myst-nb>=1,<2" in second
    assert not any(c.startswith(("torch", "numpy")) for c in second)
    out = done.stdout.splitlines()
    assert out[0].startswith("colab: installing mpfas_lib") and "profile=quick" in done.stdout
    assert f"@{release} without dependencies" in out[0]


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


def _chapters(tmp_path: Path) -> Path:
    """Copies of the chapter notebooks (both files of each pair) and their jupytext pairing."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for path in ROOT.glob("notebooks/[0-9][0-9]_*"):
        shutil.copy2(path, notebooks / path.name)
    config = (ROOT / "pyproject.toml").read_text()
    section = config[config.index("[tool.jupytext]"):].split("\n\n")[0]
    (tmp_path / "pyproject.toml").write_text(section + "\n")
    return notebooks


def test_every_chapter_names_the_same_valid_release() -> None:
    ref = release.book_release(ROOT / "notebooks")
    assert release.check_ref(ref) == ref and release.BRANCH == hosted.BRANCH


def test_pin_writes_the_release_into_every_chapter(tmp_path: Path) -> None:
    notebooks = _chapters(tmp_path)
    sources = sorted(notebooks.glob("*.py"))
    changed = release.pin(notebooks, "v1.0")
    assert changed == sources and release.book_release(notebooks) == "v1.0"
    assert release.pin(notebooks, "v1.0") == []  # already pinned
    release.pin(notebooks, "main")
    assert [p.read_text() for p in sources] == [
        (ROOT / "notebooks" / p.name).read_text().replace(
            f'RELEASE = "{release.book_release(ROOT / "notebooks")}"', 'RELEASE = "main"')
        for p in sources]


@pytest.mark.parametrize("ref", ["", "v1 .0", "-v1", "v1..0", "v1/", "v1.lock", 'v"1'])
def test_a_ref_git_would_refuse_is_an_error(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ValueError, match="not a git tag or branch name"):
        release.pin(_chapters(tmp_path), ref)


def test_notebooks_that_disagree_are_named(tmp_path: Path) -> None:
    notebooks = _chapters(tmp_path)
    first = sorted(notebooks.glob("*.py"))[0]
    release.pin(notebooks, "v1.0")
    first.write_text(first.read_text().replace('RELEASE = "v1.0"', 'RELEASE = "v0.9"'))
    with pytest.raises(ValueError, match=f"{first.name}: v0.9.*run scripts/pin_release.py"):
        release.book_release(notebooks)
    first.write_text(first.read_text().replace('    RELEASE = "v0.9"', ""))
    with pytest.raises(ValueError, match=f"{first.name}: expected one RELEASE"):
        release.book_release(notebooks)


def test_the_launch_buttons_open_the_release(tmp_path: Path) -> None:
    """book/_ext/release_pin.py sets the theme's launch ref to the notebooks' release."""
    from sphinx.errors import ExtensionError

    spec = importlib.util.spec_from_file_location("release_pin",
                                                  ROOT / "book" / "_ext" / "release_pin.py")
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    notebooks = _chapters(tmp_path)
    release.pin(notebooks, "v1.0")
    config = types.SimpleNamespace(html_theme_options={"repository_branch": "main"})
    extension._pin_launch_buttons(types.SimpleNamespace(srcdir=str(tmp_path)), config)
    assert config.html_theme_options["repository_branch"] == "v1.0"
    (notebooks / "01_getting_started.py").write_text("# no bootstrap cell\n")
    with pytest.raises(ExtensionError, match="01_getting_started.py: expected one RELEASE"):
        extension._pin_launch_buttons(types.SimpleNamespace(srcdir=str(tmp_path)), config)
    assert "release_pin: book/_ext" in (ROOT / "_config.yml").read_text()


def _pin_release(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "pin_release.py"), *args,
                           "--notebooks", str(cwd / "notebooks")], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pin_release_script_pins_the_pairs_and_checks_the_tag(tmp_path: Path) -> None:
    notebooks = _chapters(tmp_path)
    done = _pin_release("v1.0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("release v1.0: 11 notebooks changed")
    for pair in notebooks.glob("*.ipynb"):  # jupytext --sync carried it into every .ipynb
        assert '\\"RELEASE\\": RELEASE' in pair.read_text()
        assert 'RELEASE = \\"v1.0\\"' in pair.read_text()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false",
           "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "Release v1.0"], check=True)
    untagged = _pin_release("--check", cwd=tmp_path)
    assert untagged.returncode == 0 and "release: v1.0" in untagged.stdout
    assert "git knows no 'v1.0' yet" in untagged.stdout
    subprocess.run([*git, "tag", "v1.0"], check=True)
    assert _pin_release("--check", cwd=tmp_path).returncode == 0
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "later"], check=True)
    moved = _pin_release("--check", cwd=tmp_path)
    assert moved.returncode == 1 and "would launch the code of another commit" in moved.stderr
    assert _pin_release("v1 0", cwd=tmp_path).returncode == 2
