"""Repository consistency: notebook pairs, pins, table of contents."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PY_SOURCES = sorted(NOTEBOOKS.glob("*.py"))
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))


def _cells(notebook) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def test_every_notebook_is_a_pair() -> None:
    assert PY_SOURCES, "no notebooks found"
    assert {p.stem for p in PY_SOURCES} == {p.stem for p in IPYNBS}, (
        "each notebooks/NN_topic.py needs its NN_topic.ipynb pair (run `make sync`)"
    )


@pytest.mark.parametrize("source", PY_SOURCES, ids=lambda p: p.name)
def test_pair_in_sync(source: Path) -> None:
    from_py = jupytext.read(source)
    from_ipynb = jupytext.read(source.with_suffix(".ipynb"))
    assert _cells(from_py) == _cells(from_ipynb), (
        f"{source.name} and its .ipynb differ: run `jupytext --sync {source}`"
    )


@pytest.mark.parametrize("notebook", IPYNBS, ids=lambda p: p.name)
def test_ipynb_committed_without_outputs(notebook: Path) -> None:
    data = json.loads(notebook.read_text())
    for i, cell in enumerate(data["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{notebook.name} cell {i} carries outputs"
            assert cell.get("execution_count") is None, f"{notebook.name} cell {i} was executed"
    assert data["metadata"].get("kernelspec", {}).get("name") == "python3"


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*([=<>!~].*)", req)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2).replace(" ", "")
    return pins


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_environment_yml_matches_pyproject(path: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted.update(_pins(extra))
    env = yaml.safe_load((ROOT / path).read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    if path == "environment.yml":
        assert "-e ." in pip_block, "environment.yml must install the package itself"
    else:  # Binder builds it before the repository is copied in: binder/postBuild installs it
        assert "-e ." not in pip_block, f"{path} must not install the package (postBuild does)"
    assert _pins(pip_block) == wanted, f"{path} and pyproject.toml pin different versions"
    assert "python=3.11" in env["dependencies"]


def _opening_cells(source: Path) -> list[tuple[str, list[str]]]:
    """The first two code cells (source, tags): the hosted bootstrap, then the setup."""
    code = [c for c in jupytext.read(source).cells if c.cell_type == "code"][:2]
    return [(c.source, list(c.metadata.get("tags", []))) for c in code]


def test_every_notebook_opens_with_the_same_cells() -> None:
    """The bootstrap runs but is hidden from the book (remove-cell); the setup shows."""
    openings = {p.name: _opening_cells(p) for p in PY_SOURCES}
    first = openings[PY_SOURCES[0].name]
    assert all(cells == first for cells in openings.values()), "opening code cells differ"
    (bootstrap, tags), (setup, setup_tags) = first
    assert tags == ["remove-cell"] and setup_tags == []
    assert setup.startswith("from mpfas_lib.runtime import setup") and len(setup.splitlines()) <= 6
    assert "import mpfas_lib" in bootstrap and "setup" not in bootstrap
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    raw = repo["url"].replace("https://github.com/", "https://raw.githubusercontent.com/")
    assert f'RAW = "{raw}"' in bootstrap and '"{RAW}/{RELEASE}/mpfas_lib/hosted.py"' in bootstrap


def _toc_files(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        if "root" in node:
            found.append(node["root"])
        for value in node.values():
            found += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += _toc_files(item)
    return found


def test_toc_lists_every_notebook_and_existing_files() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = _toc_files(toc)
    for name in files:
        candidates = [ROOT / f"{name}{ext}" for ext in ("", ".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml names {name}, which does not exist"
    for notebook in IPYNBS:
        assert f"notebooks/{notebook.stem}" in files, f"{notebook.name} is missing from _toc.yml"
