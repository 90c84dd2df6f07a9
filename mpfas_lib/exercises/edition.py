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

from mpfas_lib.errors import report_error
from mpfas_lib.files import atomic_write, atomic_write_text
from mpfas_lib.paths import REPO_ROOT

STARTER, CHECK, ANSWER = "starter", "check", "answer"
HEADING = "### Exercise {}"  # filled with the number (and points) once the chapter is parsed
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
    # points written once in the chapter source, in the metadata of the cell that opens the
    # exercise: ``points`` for the check, ``answer_points`` for the written answer
    metadata: dict = field(default_factory=dict)

    @property
    def points(self) -> float:
        """Points of the check (0 without one; 1 unless the chapter says otherwise)."""
        return float(self.metadata.get("points", 1)) if self.checks else 0.0

    @property
    def answer_points(self) -> float:
        """Points of the written answer, marked by the teacher (0 without an answer cell)."""
        has_answer = any(line.strip() for line in self.solution_prose)
        return float(self.metadata.get("answer_points", 1)) if has_answer else 0.0

    @property
    def heading(self) -> str:
        """The student edition's heading, with the exercise's points."""
        total = self.points + self.answer_points
        return f"### Exercise {self.number} ({total:g} point{'s' if total != 1 else ''})"

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
                self._markdown(cell.source.splitlines(), index, cell.get("metadata", {}))
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

    def _markdown(self, lines: list[str], index: int, metadata: dict) -> None:
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
            self._directive(kind, edge, argument, block, kept, index, metadata)
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
                   kept: list[str], index: int, metadata: dict) -> None:
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
            points = {k: metadata[k] for k in ("points", "answer_points") if k in metadata}
            if not all(isinstance(v, (int, float)) and v >= 0 for v in points.values()):
                raise ValueError(f"{where}: points must be numbers >= 0, got {points}")
            self.exercises[self.label] = Exercise(self.label, number, metadata=points)
            self.state = "exercise"
            kept.append(HEADING.format(self.label))
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


def role_of(cell: nbformat.NotebookNode) -> tuple[str, str] | None:
    """(exercise label, role) of a student-edition cell: its ``mpfas`` metadata, if any."""
    meta = cell.get("metadata", {}).get("mpfas")
    if isinstance(meta, dict) and isinstance(meta.get("exercise"), str) \
            and meta.get("role") in (ANSWER, STARTER, CHECK):
        return meta["exercise"], meta["role"]
    return None


def _answer_cells(ex: Exercise, stem: str) -> list[nbformat.NotebookNode]:
    def meta(role: str, *tags: str) -> dict:
        return {**({"tags": list(tags)} if tags else {}),
                "mpfas": {"exercise": ex.label, "role": role}}

    cells = []
    if any(line.strip() for line in ex.solution_prose):
        cells.append(nbformat.v4.new_markdown_cell(ANSWER_PROMPT, metadata=meta(ANSWER)))
    if ex.kind == "coding":
        starter = "\n".join(c.source for c in ex.starter).strip()
        if YOUR_CODE not in starter:
            starter = f"{YOUR_CODE}\n{starter}".strip()
        cells.append(nbformat.v4.new_code_cell(starter, metadata=meta(STARTER, STARTER)))
        for check in ex.checks:
            cells.append(nbformat.v4.new_code_cell(check.source, metadata=meta(CHECK, CHECK)))
    for n, cell in enumerate(cells):
        cell.id = _cell_id(stem, ex.label, n)
    return cells


# What JupyterLab writes when it saves a notebook run by the project's Python 3.11 kernel, so
# that opening and saving the student edition leaves it unchanged.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3", "version": "3.11.7"}


def grading_note(exercises: dict[str, Exercise]) -> str:
    """The student edition's "how you are graded, how to submit" cell of one chapter."""
    rows = [f"| {ex.number} | {ex.points:g} | {ex.answer_points:g} |"
            for ex in exercises.values()]
    total = sum(ex.points + ex.answer_points for ex in exercises.values())
    return "\n".join([
        "## How you are graded, how to submit",
        "",
        f"This notebook's exercises are worth {total:g} points:",
        "",
        "| exercise | checked by the grader | written answer, read by your teacher |",
        "|---|---|---|",
        *rows,
        "",
        "- **Checked points.** Each check cell (it calls `check(...)`) tells you \"correct\" "
        "or gives a hint. The grader runs your notebook from top to bottom in a fresh "
        "kernel, with a time limit, and judges the same answer in the same way at the place "
        "of the check cell: what you see there is what you get, as long as the notebook runs "
        "from the top. Keep the check cells where they are; code you add to one is kept.",
        "- **Written answers.** Write them in the cells marked *Your answer*; your teacher "
        "reads and marks them.",
        "- **Before you submit**, choose *Kernel → Restart Kernel and Run All Cells* and "
        "check that the check cells say \"correct\" where you expect it. Then save and hand "
        "in this `.ipynb` file (renaming it is fine) with any files it reads, the way your "
        "teacher asks (one folder per student).",
    ])


def _headings(lines: list[str], exercises: dict[str, Exercise]) -> list[str]:
    prefix = HEADING.format("")
    return [exercises[line[len(prefix):]].heading
            if line.startswith(prefix) and line[len(prefix):] in exercises else line
            for line in lines]


def student_notebook(path: Path | str) -> nbformat.NotebookNode:
    """The student edition of one chapter notebook: solutions out, answer cells in."""
    path = Path(path)
    source = nbformat.read(path, as_version=4)
    parsed = _Parser(source, chapter_number(path), path.name)
    cells = []
    for n, (kind, item) in enumerate(parsed.items):
        if kind == "md":
            text = "\n".join(_headings(item, parsed.exercises)).strip("\n")
            if text.strip():
                cells.append(nbformat.v4.new_markdown_cell(text, id=_cell_id(path.stem, n)))
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(item.source, id=_cell_id(path.stem, n))
            if _tags(item):
                cell.metadata["tags"] = _tags(item)
            cells.append(cell)
        else:
            cells.extend(_answer_cells(parsed.exercises[item], path.stem))
    if parsed.exercises:
        note = nbformat.v4.new_markdown_cell(grading_note(parsed.exercises),
                                             id=_cell_id(path.stem, "grading"))
        cells.insert(1 if cells and cells[0].cell_type == "markdown" else 0, note)
    metadata = {k: v for k, v in source.metadata.items() if k not in ("jupytext", "kernelspec")}
    metadata.update(kernelspec=KERNELSPEC, language_info=LANGUAGE_INFO)
    metadata["mpfas"] = {"edition": "student", "chapter": path.stem}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def write_edition(out: Path = DEFAULT_OUT, sources: Path = SOURCE_DIR,
                  zip_path: Path | None = None) -> list[Path]:
    """Write the student notebook of every chapter into ``out`` (and a zip of them)."""
    src, dst = sources.resolve(), out.resolve()
    if dst == src or dst.is_relative_to(src) or src.is_relative_to(dst):
        raise ValueError(f"--out {out} is, contains or lies inside --sources {sources}: the "
                         "student edition would overwrite the chapters; choose another folder")
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
        report_error(err)
        return 2
    print(f"student: {len(written)} notebooks in {args.out}"
          + (f", zip {args.zip}" if args.zip else ""))
    return 0
