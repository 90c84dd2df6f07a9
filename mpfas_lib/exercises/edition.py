"""``python -m mpfas_lib student``: derive the student edition of the chapter notebooks.

Each chapter notebook is the single source of its exercises and their solutions
(sphinx-exercise gated directives). The student edition keeps the chapter and the
exercise texts, drops every solution (prose and code) and puts in its place: a
markdown answer cell where the solution has prose, the starter cell (tag ``starter``,
with ``# Your code here``) where it has code, and the check cell (tag ``check``) that
calls :func:`mpfas_lib.exercises.check`. Starter and check cells are written once, inside
the solution block of the source; the book hides the starter with ``remove-cell``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mpfas_lib.files import atomic_write, atomic_write_text
from mpfas_lib.paths import REPO_ROOT

STARTER, CHECK = "starter", "check"
YOUR_CODE = "# Your code here"
ANSWER_PROMPT = "**Your answer:** *(double-click this cell and write here)*"
SOURCE_DIR = REPO_ROOT / "notebooks"
DEFAULT_OUT = REPO_ROOT / "student"
ZIP_NAME = "mpfas-student-edition.zip"

# A gated directive's opening line, e.g. "```{solution-start} ex-nb06-1".
_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{(exercise|solution)-(start|end)\}\s*(\S*)\s*$")
_LABEL = re.compile(r"^:label:\s*(\S+)\s*$")


@dataclass
class Exercise:
    """One exercise of a chapter: its label, number and the parts of its solution."""

    label: str
    number: str
    text: list[str] = field(default_factory=list)  # the exercise's markdown lines
    solution_prose: list[str] = field(default_factory=list)
    solution_code: list[str] = field(default_factory=list)  # sources of untagged code cells
    starter: list[nbformat.NotebookNode] = field(default_factory=list)
    checks: list[nbformat.NotebookNode] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """"coding" when the solution has code, else "reflection"."""
        return "coding" if self.solution_code or self.starter else "reflection"


def chapter_number(path: Path | str) -> int | None:
    """The chapter number of ``NN_topic.ipynb`` (06 -> 6), or None for other names."""
    match = re.match(r"(\d+)_", Path(path).name)
    return int(match.group(1)) if match else None


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


class _Parser:
    """Split a notebook's cells into chapter text, exercises and solutions (one pass)."""

    def __init__(self, nb: nbformat.NotebookNode, chapter: int | str | None, where: str) -> None:
        self.chapter, self.where = chapter, where
        self.exercises: dict[str, Exercise] = {}
        # ("md", lines), ("code", cell) or ("answer", label), in order
        self.items: list[tuple[str, object]] = []
        self.state, self.label = "body", ""
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                self._markdown(cell.source.splitlines(), index)
            elif self.state == "solution":
                self._solution_code(cell)
            else:
                if STARTER in _tags(cell) or CHECK in _tags(cell):
                    raise ValueError(f"{where}: cell {index} is tagged {_tags(cell)} outside a "
                                     "solution block")
                self.items.append(("code", cell))
        if self.state != "body":
            raise ValueError(f"{where}: the {self.state} of {self.label} is never closed")

    def _solution_code(self, cell: nbformat.NotebookNode) -> None:
        ex = self.exercises[self.label]
        tags = _tags(cell)
        if STARTER in tags:
            ex.starter.append(cell)
        elif CHECK in tags:
            ex.checks.append(cell)
        elif cell.cell_type == "code":
            ex.solution_code.append(cell.source)

    def _markdown(self, lines: list[str], index: int) -> None:
        kept: list[str] = []
        i = 0
        while i < len(lines):
            match = _DIRECTIVE.match(lines[i].strip())
            if not match:
                self._line(lines[i], kept)
                i += 1
                continue
            fence, kind, edge, argument = match.groups()
            block = [lines[i]]
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                block.append(lines[i])
                i += 1
            block.append(lines[i] if i < len(lines) else fence)
            i += 1
            self._directive(kind, edge, argument, block, kept, index)
        if kept:
            self.items.append(("md", kept))

    def _line(self, line: str, kept: list[str]) -> None:
        if self.state == "solution":
            self.exercises[self.label].solution_prose.append(line)
            return
        kept.append(line)
        if self.state == "exercise":
            self.exercises[self.label].text.append(line)

    def _directive(self, kind: str, edge: str, argument: str, block: list[str],
                   kept: list[str], index: int) -> None:
        where = f"{self.where}, cell {index}"
        expected = {"body": ("exercise", "start"), "exercise": ("exercise", "end"),
                    "solution": ("solution", "end")}[self.state]
        if (kind, edge) not in (expected, ("solution", "start")) or (
            (kind, edge) == ("solution", "start") and self.state != "body"
        ):
            raise ValueError(f"{where}: {{{kind}-{edge}}} where {expected[0]}-{expected[1]} "
                             "was expected")
        if (kind, edge) == ("exercise", "start"):
            labels = [m.group(1) for line in block if (m := _LABEL.match(line.strip()))]
            if not labels:
                raise ValueError(f"{where}: an exercise-start without :label:")
            self.label = labels[0]
            number = f"{self.chapter}.{len(self.exercises) + 1}" if self.chapter is not None \
                else str(len(self.exercises) + 1)
            self.exercises[self.label] = Exercise(self.label, number)
            self.state = "exercise"
            kept.append(f"### Exercise {number}")
        elif (kind, edge) == ("exercise", "end"):
            self.state = "body"
        elif (kind, edge) == ("solution", "start"):
            if argument not in self.exercises:
                raise ValueError(f"{where}: solution for unknown exercise {argument!r}")
            self.label, self.state = argument, "solution"
            self.items.append(("md", list(kept)))
            kept.clear()
            self.items.append(("answer", argument))
        else:
            self.state = "body"


def parse(path: Path | str) -> dict[str, Exercise]:
    """The exercises of one chapter notebook (``.ipynb``), in order, keyed by label."""
    path = Path(path)
    return _Parser(nbformat.read(path, as_version=4), chapter_number(path), path.name).exercises


def _cell_id(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:12]


def _answer_cells(ex: Exercise, stem: str) -> list[nbformat.NotebookNode]:
    cells = []
    if any(line.strip() for line in ex.solution_prose):
        cells.append(nbformat.v4.new_markdown_cell(ANSWER_PROMPT))
    if ex.kind == "coding":
        starter = "\n".join(c.source for c in ex.starter).strip()
        if YOUR_CODE not in starter:
            starter = f"{YOUR_CODE}\n{starter}".strip()
        cells.append(nbformat.v4.new_code_cell(starter, metadata={"tags": [STARTER]}))
        for check in ex.checks:
            cells.append(nbformat.v4.new_code_cell(check.source, metadata={"tags": [CHECK]}))
    for n, cell in enumerate(cells):
        cell.id = _cell_id(stem, ex.label, n)
    return cells


def student_notebook(path: Path | str) -> nbformat.NotebookNode:
    """The student edition of one chapter notebook: solutions out, answer cells in."""
    path = Path(path)
    source = nbformat.read(path, as_version=4)
    parsed = _Parser(source, chapter_number(path), path.name)
    cells = []
    for n, (kind, item) in enumerate(parsed.items):
        if kind == "md":
            text = "\n".join(item).strip("\n")
            if text.strip():
                cells.append(nbformat.v4.new_markdown_cell(text, id=_cell_id(path.stem, n)))
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(item.source, id=_cell_id(path.stem, n))
            if _tags(item):
                cell.metadata["tags"] = _tags(item)
            cells.append(cell)
        else:
            cells.extend(_answer_cells(parsed.exercises[item], path.stem))
    metadata = {k: v for k, v in source.metadata.items() if k != "jupytext"}
    metadata["mpfas"] = {"edition": "student", "chapter": path.stem}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def write_edition(out: Path = DEFAULT_OUT, sources: Path = SOURCE_DIR,
                  zip_path: Path | None = None) -> list[Path]:
    """Write the student notebook of every chapter into ``out`` (and a zip of them)."""
    chapters = sorted(sources.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        raise ValueError(f"{sources}: no chapter notebooks (NN_topic.ipynb) found")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters:
        target = out / chapter.name
        atomic_write_text(nbformat.writes(student_notebook(chapter)) + "\n", target)
        written.append(target)
    if zip_path is not None:
        def write_zip(handle) -> None:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in written:
                    # A fixed date keeps the archive identical for identical notebooks.
                    info = zipfile.ZipInfo(f"mpfas-student/{path.name}", (2022, 1, 1, 0, 0, 0))
                    archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)

        atomic_write(zip_path, write_zip)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m mpfas_lib student``."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for the student notebooks (default: student/)")
    parser.add_argument("--zip", type=Path, default=None,
                        help=f"also write a zip of them here (e.g. _build/{ZIP_NAME})")
    parser.add_argument("--sources", type=Path, default=SOURCE_DIR,
                        help="folder of the chapter notebooks (default: notebooks/)")


def main(args: argparse.Namespace) -> int:
    """Write the student edition; one line per problem, no traceback."""
    try:
        written = write_edition(args.out, args.sources, args.zip)
    except (ValueError, OSError) as err:
        print(f"student: {err}")
        return 2
    print(f"student: {len(written)} notebooks in {args.out}"
          + (f", zip {args.zip}" if args.zip else ""))
    return 0
