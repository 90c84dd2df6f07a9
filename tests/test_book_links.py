"""Book <-> library links: each name a chapter imports names its chapter (as d2l's library does).

The notebooks are only parsed, never run: every ``from mpfas_lib... import NAMES`` of
notebooks/NN_topic.py is resolved in the library, and each function or class it brings in must
say in its docstring which chapter introduces it, as ``(chapter 05)`` or ``(chapters 08 and
09)``, naming a chapter that exists and that imports it. Chapters import through the package
fronts, whose every exported name resolves.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
CHAPTERS = {p.name[:2] for p in SOURCES}
FRONTS = ("data", "features", "models", "training", "evaluation", "viz")
# The exercise harness: every chapter calls `check`, none introduces it; the grading guide
# (book/instructors.md) documents it.
HARNESS = ("mpfas_lib.exercises",)
# "chapter 05", "chapters 08 and 09", "chapters 03, 04, 06 and 11", "chapters 03-06"
REFERENCE = re.compile(r"\bchapters?\s+(\d\d(?:\s*(?:,\s*(?:and\s+)?|and|or|-|–)\s*\d\d)*)")


def chapters_named(doc: str) -> set[str]:
    """The two-digit chapter numbers a docstring names (ranges such as 03-06 expanded)."""
    named: set[str] = set()
    for group in REFERENCE.findall(" ".join(doc.split())):
        for first, last in re.findall(r"(\d\d)(?:\s*[-–]\s*(\d\d))?", group):
            named.update(f"{n:02d}" for n in range(int(first), int(last or first) + 1))
    return named


def imports() -> dict[tuple[str, str], set[str]]:
    """(module, name) -> the chapters importing ``name`` from that ``mpfas_lib`` module."""
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source in SOURCES:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.split(".")[0] == "mpfas_lib"):
                for alias in node.names:
                    found[(node.module, alias.name)].add(source.name[:2])
    return found


IMPORTS = imports()


def introduced(module: str, name: str) -> bool:
    """Whether the name is a function or class of the book's library, which names its chapter.

    Left out: the exercise harness (:data:`HARNESS`), and values (dicts, tuples, strings),
    which have no docstring of their own (they would show their type's): the module that
    defines one documents it.
    """
    if module.startswith(HARNESS):
        return False
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return True  # the test then reports the failing import
    return inspect.isroutine(obj) or inspect.isclass(obj)


INTRODUCED = sorted(key for key in IMPORTS if introduced(*key))


def test_chapters_named_reads_lists_and_ranges() -> None:
    assert chapters_named("Eq. 9 (chapter 05).") == {"05"}
    assert chapters_named("runs (chapters 08 and 09)") == {"08", "09"}
    assert chapters_named("a label (chapters 03, 04, 06 and\n    11).") == {"03", "04", "06", "11"}
    assert chapters_named("chapters 03-06") == {"03", "04", "05", "06"}
    assert chapters_named("section 3 of the paper, 2022") == set()


def test_the_chapters_import_from_the_library() -> None:
    assert SOURCES and len(IMPORTS) > 50, "no chapter imports found: is notebooks/ there?"
    assert len(INTRODUCED) > 40, "the chapters' imports were left out of the check"


@pytest.mark.parametrize(("module", "name"), INTRODUCED,
                         ids=[f"{m}:{n}" for m, n in INTRODUCED])
def test_imported_name_names_its_chapter(module: str, name: str) -> None:
    obj = getattr(importlib.import_module(module), name)
    chapters = sorted(IMPORTS[(module, name)])
    where = f"{obj.__module__}.{obj.__qualname__}"
    doc = obj.__doc__ or ""  # its own docstring: inspect.getdoc would inherit a base class's
    named = chapters_named(doc)
    assert named, (f"{where}, imported by chapter(s) {', '.join(chapters)}, has no docstring "
                   f"naming its chapter: add '(chapter {chapters[0]})'")
    assert named <= CHAPTERS, f"{where}'s docstring names missing chapter(s) {named - CHAPTERS}"
    assert named & set(chapters), (f"{where}'s docstring names chapter(s) {sorted(named)}, "
                                   f"but it is imported by {chapters}")


def test_chapters_import_through_the_fronts() -> None:
    deep = sorted(f"{chapter}: from {module} import {name}"
                  for (module, name), chapters in IMPORTS.items() for chapter in chapters
                  if len(parts := module.split(".")) > 2 and parts[1] in FRONTS)
    assert not deep, ("import these from the package front (mpfas_lib.<package>):\n"
                      + "\n".join(deep))


@pytest.mark.parametrize("front", FRONTS)
def test_every_name_a_front_exports_resolves(front: str) -> None:
    package = importlib.import_module(f"mpfas_lib.{front}")
    assert package.__all__, f"mpfas_lib.{front} exports nothing"
    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert not missing, f"mpfas_lib.{front}.__all__ names what it lacks: {missing}"
