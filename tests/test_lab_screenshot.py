"""JupyterLab as a student opens it: compatible extensions, and scripts/lab_screenshot.py finding
a heading of any level (and the book's exercise numbers)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mpfas_lib.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    "lab_screenshot", REPO_ROOT / "scripts" / "lab_screenshot.py")
lab_screenshot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_screenshot)


def test_every_heading_level_and_exercise_titles_are_searched() -> None:
    selectors = {s.strip() for s in lab_screenshot.HEADINGS.split(",")}
    assert {f".jp-MarkdownCell h{level}" for level in range(1, 7)} <= selectors
    assert ".jp-MarkdownCell .myst-exercise-title" in selectors


def test_the_books_exercise_number_is_the_notebooks_own() -> None:
    texts = lab_screenshot.heading_texts
    assert texts("Exercise 6.2", "06_algorithm1.ipynb") == ["Exercise 6.2", "Exercise 2"]
    assert texts("Exercise  11.10", "notebooks/11_mp_explorer.ipynb") == [
        "Exercise 11.10", "Exercise 10"]
    assert texts("Exercise 6.2", "07_evaluation.ipynb") == ["Exercise 6.2"]  # another chapter
    assert texts("A worked 3×3 example", "03_handcrafted_features.ipynb") == [
        "A worked 3×3 example"]


def test_the_probe_matches_whole_numbers_only() -> None:
    script = lab_screenshot.PROBE_JS % {"texts": '["Exercise 2"]', "selector": '"h2"',
                                        "raw": "[]"}
    assert "(?![0-9.])" in script and "scrollIntoView" in script


@pytest.mark.skipif(shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None,
                    reason="needs the book extras (JupyterLab)")
def test_jupyterlab_reports_every_extension_compatible() -> None:
    """The pinned JupyterLab and jupyterlab-myst share their packages (pyproject.toml)."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    done = subprocess.run([jupyter, "labextension", "list"], capture_output=True, text=True,
                          timeout=120)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colours
    assert done.returncode == 0 and "not compatible" not in listing, listing
    assert re.search(r"jupyterlab-myst v\S+ enabled OK", listing), listing
