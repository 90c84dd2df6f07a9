"""``python -m mpfas_lib grade SUBMISSIONS --out FOLDER``: score submitted notebooks.

SUBMISSIONS holds one folder per student (their notebooks and any files they need) or
notebooks directly (the student is then the file name). A submission is untrusted code, and
scoring never trusts it: each notebook runs in a fresh temporary copy of its folder, in a
kernel started so that nothing in that folder can shadow an installed package (and, where
bubblewrap works, in a sandbox without network that can write only its copy). At the place of
each check cell (found by its cell id or metadata, never by its text) the grader puts its own
export cell, which hands the answer out as data (JSON, no pickle); the checks then judge that
data in this process, from the installed library. A student's edited check cell is kept and
the row says so. FOLDER receives the scores, a roster, one feedback file per student, the
written answers to mark, and gradebook files for Canvas and Moodle (see
:mod:`mpfas_lib.exercises.report`).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mpfas_lib.errors import UserError, report_error
from mpfas_lib.exercises import report, sandbox
from mpfas_lib.exercises.checks import STRICT, judge, normalise
from mpfas_lib.exercises.edition import (
    ANSWER,
    ANSWER_PROMPT,
    CHECK,
    SOURCE_DIR,
    _Parser,
    chapter_number,
    role_of,
    student_notebook,
)
from mpfas_lib.exercises.runner import KERNEL_NAME
from mpfas_lib.files import atomic_write_text

MAX_NOTEBOOK_BYTES = 50 * 2**20
STARTUP_S = 60.0  # allowed on top of --timeout for starting and stopping the kernel
_STEM = re.compile(r"\d\d_[A-Za-z0-9_]+")


class HarnessError(RuntimeError):
    """The grader cannot run notebooks at all (no library in the kernel, no kernel)."""


@dataclass(frozen=True)
class Graded:
    """One exercise of a chapter: its points and where its cells are in the student edition."""

    label: str
    number: str
    points: float  # of the check; 0 for an exercise without one
    answer_points: float  # of the written answer, marked by the teacher
    check_source: str = ""
    answer_expr: str = ""  # what the book's check cell passes to check()
    ids: dict[str, str] = field(default_factory=dict)  # cell id -> role


@dataclass(frozen=True)
class Chapter:
    """A chapter's graded exercises, read from its source notebook."""

    stem: str
    exercises: tuple[Graded, ...]

    @property
    def checked(self) -> tuple[Graded, ...]:
        """The exercises with a check."""
        return tuple(g for g in self.exercises if g.check_source)


def _answer_expr(source: str, label: str) -> str:
    """The answer argument of the ``check(label, answer)`` call in a check cell's source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check" \
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) \
                and normalise(str(node.args[0].value)) == label:
            return ast.get_source_segment(source, node.args[1]) or ""
    raise ValueError(f"the check cell of {label} does not call check({label!r}, answer)")


def load_chapter(path: Path) -> Chapter:
    """The graded exercises of a chapter notebook (points, check cells, answer cells)."""
    parsed = _Parser(nbformat.read(path, as_version=4), chapter_number(path), path.name)
    ids: dict[str, dict[str, str]] = {}
    for cell in student_notebook(path).cells:
        if (found := role_of(cell)) is not None:
            ids.setdefault(found[0], {})[cell.id] = found[1]
    exercises = []
    for ex in parsed.exercises.values():
        source = "\n\n".join(c.source for c in ex.checks)
        exercises.append(Graded(ex.label, ex.number, ex.points, ex.answer_points, source,
                                _answer_expr(source, ex.label) if source else "",
                                ids.get(ex.label, {})))
    return Chapter(path.stem, tuple(exercises))


def graded_exercises(source: Path) -> list[Graded]:
    """The exercises of a chapter that have a check cell, in order."""
    return list(load_chapter(source).checked)


def export_source(label: str, expr: str) -> str:
    """The grader's export cell: the answer ``expr`` of exercise ``label`` as data."""
    return ("import mpfas_lib.exercises.checks as _mpfas_checks\n"
            f"_mpfas_checks.export({label!r}, lambda: ({expr}))")


@dataclass
class Prepared:
    """A submission made ready to run: the notebook, its export cells and what was noticed."""

    nb: nbformat.NotebookNode
    exports: dict[int, str]  # cell index -> exercise label
    notes: list[str]
    written: dict[str, str]  # exercise label -> the student's written answer


def _find(nb: nbformat.NotebookNode, chapter: Chapter, role: str) -> dict[str, int]:
    """Label -> index of each exercise's cell of ``role``: by cell id, else by metadata."""
    by_id = {cid: g.label for g in chapter.exercises for cid, r in g.ids.items() if r == role}
    found: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        label = by_id.get(cell.get("id", ""))
        if label is not None and label not in found:
            found[label] = index
    taken = set(found.values())
    for index, cell in enumerate(nb.cells):
        meta = role_of(cell)
        if meta and meta[1] == role and meta[0] not in found and index not in taken:
            found[meta[0]] = index
            taken.add(index)
    return found


def prepare(nb: nbformat.NotebookNode, chapter: Chapter) -> Prepared:
    """Put the grader's export cell at each check cell; keep a student's edits to them."""
    checks = _find(nb, chapter, CHECK)
    answers = _find(nb, chapter, ANSWER)
    notes, written = [], {}
    for g in chapter.exercises:
        if g.answer_points and g.label in answers:
            text = nb.cells[answers[g.label]].source.strip()
            written[g.label] = "" if text == ANSWER_PROMPT else text
    cells, exports = [], {}
    at_check = {index: label for label, index in checks.items()}
    by_label = {g.label: g for g in chapter.checked}
    for index, cell in enumerate(nb.cells):
        label = at_check.get(index)
        if label is None or label not in by_label:
            cells.append(cell)
            continue
        g = by_label[label]
        if cell.cell_type != "code" or cell.source.strip() != g.check_source.strip():
            cells.append(cell)  # the student's code runs; the answer is read right after it
            notes.append(f"check cell edited: {g.number}")
        exports[len(cells)] = label
        cells.append(nbformat.v4.new_code_cell(export_source(label, g.answer_expr)))
    for g in chapter.checked:
        if g.label not in checks:
            notes.append(f"check cell missing: {g.number} (checked at the end)")
            exports[len(cells)] = g.label
            cells.append(nbformat.v4.new_code_cell(export_source(g.label, g.answer_expr)))
    out = nbformat.v4.new_notebook(cells=cells, metadata={})
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return Prepared(out, exports, notes, written)


def find_chapter(nb: nbformat.NotebookNode, path: Path, chapters: dict[str, Chapter]) -> str:
    """The source chapter of a submission (its metadata, else its file name), or a UserError."""
    meta = nb.metadata.get("mpfas", {})
    named = meta.get("chapter") if isinstance(meta, dict) else None
    for stem in (named, path.stem):
        if isinstance(stem, str) and stem in chapters:
            return stem
    shown = named if isinstance(named, str) else path.stem
    raise UserError(f"no chapter {shown[:80]!r} in the book's sources")


def _copy_tree(source: Path, target: Path) -> list[str]:
    """Copy the regular files and folders of ``source``; the names of what was skipped."""
    skipped = []
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            if entry.name not in (".ipynb_checkpoints", "__pycache__"):
                skipped += _copy_tree(Path(entry.path), target / entry.name)
        elif stat.S_ISREG(mode):
            shutil.copy2(entry.path, target / entry.name, follow_symlinks=False)
        else:  # a link, a named pipe, a socket, a device: never followed, never opened
            skipped.append(entry.name)
    return skipped


def _read_notebook(path: Path) -> nbformat.NotebookNode:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise UserError("not a regular file")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise UserError(f"notebook too large ({info.st_size // 2**20} MiB)")
    try:
        return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as err:
        raise UserError(f"unreadable notebook ({type(err).__name__})") from None


@dataclass(frozen=True)
class Settings:
    """How every notebook of one grading run is executed."""

    timeout: float
    isolation: str  # "bwrap" or "none"


def kernel_argv() -> list[str]:
    """The kernel's command: this Python, never the notebook's folder on its path (``-P``)."""
    return [sys.executable, "-P", "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != STRICT and not k.startswith(("JUPYTER", "IPYTHON", "JPY_"))}
    kernels = home / "jupyter" / "kernels" / KERNEL_NAME
    kernels.mkdir(parents=True)
    spec = {"argv": kernel_argv(), "display_name": "mpfas grade", "language": "python",
            "env": {"PYTHONSAFEPATH": "1"}}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    for sub in ("tmp", "ipython", "runtime", "mpl"):
        (home / sub).mkdir()
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), IPYTHONDIR=str(home / "ipython"),
               JUPYTER_PATH=str(home / "jupyter"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_CONFIG_DIR=str(home / "jupyter"), MPLCONFIGDIR=str(home / "mpl"),
               PYTHONSAFEPATH="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _mirror(source: Path, target: Path) -> None:
    """``target``: the folders of ``source`` and links to its files (a writable view)."""
    for folder, _, files in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.symlink(Path(folder) / name, here / name)


def _sandbox_folders(env: dict[str, str], home: Path) -> None:
    """Writable views of the data cache and the results inside the sandbox's own folder.

    The sandbox sees the machine read-only; the library wants both folders writable, and a
    submission must not change what the next one reads, so each gets links to the files.
    """
    from mpfas_lib.paths import cache_dir, results_dir

    for variable, source in (("MPFAS_CACHE", cache_dir()), ("MPFAS_RESULTS", results_dir())):
        view = home / variable.lower()
        _mirror(source, view)
        env[variable] = str(view)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def execute(nb: nbformat.NotebookNode, exports: dict[int, str], workdir: Path | None,
            relative: Path, settings: Settings) -> tuple[dict, list[str]]:
    """Run a prepared notebook in a temporary copy of ``workdir``: the runner's report."""
    with tempfile.TemporaryDirectory(prefix="mpfas-grade-") as tmp:
        root = Path(tmp)
        work = root / "work"
        skipped = _copy_tree(workdir, work) if workdir is not None else []
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        atomic_write_text(nbformat.writes(nb), target)
        env = _environment(root / "home")
        if settings.isolation == "bwrap":
            _sandbox_folders(env, root / "home")
        secret = secrets.token_hex(16)
        job = {"secret": secret, "notebook": str(target), "export_cells": sorted(exports),
               "timeout": settings.timeout}
        command = [sys.executable, "-P", "-m", "mpfas_lib.exercises.runner"]
        if settings.isolation == "bwrap":
            command = sandbox.wrap(command, writable=root)
        process = subprocess.Popen(command, cwd=root, env=env, start_new_session=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            out, err = process.communicate(json.dumps(job) + "\n",
                                           timeout=settings.timeout + STARTUP_S)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            return {"status": "timeout", "answers": {}, "errors": {}}, skipped
        finally:
            _kill(process)
        for line in reversed(out.splitlines()):
            if line.startswith(secret):
                return json.loads(line[len(secret):]), skipped
        last = (err.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
        return {"status": f"runner failed ({last[:200]})", "answers": {}, "errors": {}}, skipped


def check_harness(settings: Settings) -> None:
    """Run a one-cell notebook as a submission would run; a HarnessError if that fails."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(export_source(
        "ex-harness", "1"))])
    result, _ = execute(nb, {0: "ex-harness"}, None, Path("harness.ipynb"), settings)
    got = result.get("answers", {}).get("0", {})
    if result.get("status") != "ok" or "answer" not in got:
        why = next(iter(result.get("errors", {}).values()), None) or got.get("error") \
            or result.get("status")
        raise HarnessError(f"the grader cannot run notebooks: {why} (is mpfas_lib installed "
                           f"for {sys.executable}, with ipykernel?)")


def _status(result: dict, timeout: float, raised: int) -> str:
    status = result.get("status", "")
    if status == "timeout":
        return f"timeout after {timeout:g} s"
    if status != "ok":
        return status
    return "ok" if not raised else f"ok, {raised} cell(s) raised"


def grade_notebook(path: Path, workdir: Path | None, chapters: dict[str, Chapter],
                   settings: Settings) -> report.Row:
    """Grade one submitted notebook; its row (a bad submission is a row with its status)."""
    try:
        nb = _read_notebook(path)
        stem = find_chapter(nb, path, chapters)
    except (UserError, OSError) as err:
        return report.Row(chapter="", status=str(err))
    chapter = chapters[stem]
    prepared = prepare(nb, chapter)
    relative = path.relative_to(workdir) if workdir is not None else Path(path.name)
    result, skipped = execute(prepared.nb, prepared.exports, workdir, relative, settings)
    answers = result.get("answers", {})
    row = report.Row(chapter=stem, written=prepared.written, notes=list(prepared.notes))
    if skipped:
        row.notes.append(f"not copied (links or special files): {', '.join(skipped[:5])}")
    errors = result.get("errors", {})
    raised = sorted(int(index) for index in errors if int(index) not in prepared.exports)
    row.status = _status(result, settings.timeout, len(raised))
    if raised:
        row.notes.append(f"first error (cell {raised[0] + 1}): {errors[str(raised[0])]}")
    for index, label in prepared.exports.items():
        data = answers.get(str(index))
        g = next(x for x in chapter.checked if x.label == label)
        if data is None or data.get("label") != label:
            ok, message = False, "not checked: the notebook stopped before this check"
        else:
            ok, message = judge(label, data)
        row.results[g.number] = report.Result(g.points if ok else 0.0, g.points, message)
    return row


def _submissions(folder: Path) -> list[tuple[str, Path, Path | None]]:
    """(student, notebook, its working folder or None for a loose notebook)."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            for nb in sorted(entry.rglob("*.ipynb")):
                if ".ipynb_checkpoints" not in nb.parts:
                    found.append((entry.name, nb, entry))
        elif entry.suffix == ".ipynb":
            found.append((entry.stem, entry, None))  # copied alone: students' files stay apart
    return found


def load_chapters(sources: Path) -> dict[str, Chapter]:
    """Every chapter of the sources, by stem; a UserError when there is none."""
    if not sources.is_dir():
        raise UserError(f"--sources {sources}: not a folder")
    paths = sorted(p for p in sources.glob("[0-9][0-9]_*.ipynb") if _STEM.fullmatch(p.stem))
    if not paths:
        raise UserError(f"--sources {sources}: no chapter notebooks (NN_topic.ipynb)")
    return {p.stem: load_chapter(p) for p in paths}


def grade_folder(folder: Path, sources: Path = SOURCE_DIR, timeout: float = 600.0,
                 out: Path | None = None, isolation: str = "auto", roster: Path | None = None,
                 marks: Path | None = None) -> report.Gradebook:
    """Grade every submission in ``folder``; the gradebook (and its files in ``out``)."""
    from tqdm.auto import tqdm

    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder of submissions")
    if not (math.isfinite(timeout) and timeout > 0):
        raise UserError(f"--timeout must be a positive number of seconds, got {timeout}")
    chapters = load_chapters(sources)
    submissions = _submissions(folder)
    if not submissions:
        raise UserError(f"{folder}: no notebooks (.ipynb) found")
    people = report.read_roster(roster) if roster is not None else None
    entered = report.read_marks(marks, chapters) if marks is not None else {}
    if out is not None:
        report.check_out(out)
    settings = Settings(timeout, sandbox.choose(isolation))
    check_harness(settings)
    book = report.Gradebook(chapters, people, isolation=settings.isolation)
    for student, path, workdir in tqdm(submissions, desc="grading", unit="notebook"):
        try:
            row = grade_notebook(path, workdir, chapters, settings)
        except Exception as err:  # one submission never stops the others
            row = report.Row(chapter="", status=f"grader error ({type(err).__name__}: {err})")
        row.student, row.notebook = student, path.name
        book.add(row)
    book.merge_marks(entered)
    if out is not None:
        book.write(out)
    return book


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m mpfas_lib grade``."""
    parser.add_argument("submissions", type=Path,
                        help="folder with one subfolder per student (or notebooks directly)")
    parser.add_argument("--out", type=Path, default=Path("grading"),
                        help="folder for scores.csv, roster.csv, feedback/, written answers "
                             "and the Canvas and Moodle files (default: grading/)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed per notebook (default: 600)")
    parser.add_argument("--sources", type=Path, default=SOURCE_DIR,
                        help="folder of the book's chapter notebooks (default: notebooks/)")
    parser.add_argument("--roster", type=Path, default=None,
                        help="CSV of the class (column student, optional name, email, "
                             "canvas_id, sis_id, sis_login, section, username)")
    parser.add_argument("--marks", type=Path, default=None,
                        help="marks.csv of the written answers, filled in (merged into scores)")
    parser.add_argument("--isolation", choices=["auto", "bwrap", "none"], default="auto",
                        help="run submissions in a bubblewrap sandbox (auto: when it works)")


def main(args: argparse.Namespace) -> int:
    """Grade a folder and write its files; bad input is one ``error:`` line on stderr."""
    try:
        book = grade_folder(args.submissions, args.sources, args.timeout, args.out,
                            args.isolation, args.roster, args.marks)
    except HarnessError as err:
        report_error(err)
        return 1
    print(book.summary())
    print(f"grade: {len(book.rows)} rows, files in {args.out}/ "
          f"(isolation: {book.isolation})")
    return 0
