"""``python -m mpfas_lib grade SUBMISSIONS``: score submitted notebooks with the self-checks.

SUBMISSIONS holds one folder per student (its notebooks and any files they need) or
notebooks directly (the student is then the file name). Each notebook is executed in a
fresh temporary copy of its folder, in its own process with a time limit, after its check
cells are reset to the book's own (so editing a check cannot change the score). A coding
exercise scores 1 when its check reports "correct" at the end, else 0. The table (one row
per student and notebook, one column per exercise "N.M") is written as CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mpfas_lib.exercises.checks import GRADE_LOG, STRICT, normalise
from mpfas_lib.exercises.edition import (
    CHECK,
    SOURCE_DIR,
    _Parser,
    chapter_number,
)
from mpfas_lib.files import atomic_write_text

_CALL = re.compile(r"""check\(\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class Graded:
    """One exercise a chapter grades: its number and the book's check cell."""

    label: str
    number: str
    check_source: str


def graded_exercises(source: Path) -> list[Graded]:
    """The exercises of a chapter that have a check cell, in order."""
    parsed = _Parser(nbformat.read(source, as_version=4), chapter_number(source), source.name)
    return [Graded(ex.label, ex.number, "\n\n".join(c.source for c in ex.checks))
            for ex in parsed.exercises.values() if ex.checks]


def find_chapter(nb: nbformat.NotebookNode, path: Path, sources: Path) -> Path | None:
    """The source chapter of a submission: its student-edition metadata, else its name."""
    stem = nb.metadata.get("mpfas", {}).get("chapter") or path.stem
    candidate = sources / f"{stem}.ipynb"
    return candidate if candidate.exists() else None


def prepare(nb: nbformat.NotebookNode, graded: list[Graded]) -> nbformat.NotebookNode:
    """Reset the submission's check cells to the book's; append the ones it lacks."""
    canonical = {g.label: g.check_source for g in graded}
    seen = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        labels = [normalise(m) for m in _CALL.findall(cell.source)]
        if CHECK in cell.get("metadata", {}).get("tags", []) or labels:
            for label in labels:
                if label in canonical and label not in seen:
                    cell.source = canonical[label]
                    seen.add(label)
    for label, source in canonical.items():
        if label not in seen:
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [CHECK]}))
    return nb


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def grade_notebook(path: Path, workdir: Path, sources: Path, timeout: float) -> dict:
    """Execute one submission in a temporary copy of ``workdir``; its scores and status."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # an unreadable submission is a row, not a crash
        return {"status": f"unreadable notebook ({type(err).__name__})"}
    chapter = find_chapter(nb, path, sources)
    if chapter is None:
        return {"status": "no matching chapter in the book"}
    graded = graded_exercises(chapter)
    row: dict = {"chapter": chapter.stem, **{g.number: 0 for g in graded}}
    with tempfile.TemporaryDirectory(prefix="mpfas-grade-") as tmp:
        copy = Path(tmp) / "work"
        shutil.copytree(workdir, copy, symlinks=True)
        target = copy / path.relative_to(workdir)
        atomic_write_text(nbformat.writes(prepare(nb, graded)), target)
        log = Path(tmp) / "checks.jsonl"
        env = {k: v for k, v in os.environ.items() if k != STRICT}
        env[GRADE_LOG] = str(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "mpfas_lib.exercises.grade", str(target), str(timeout)],
            cwd=target.parent, env=env, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = process.communicate(timeout=timeout)
            last = (output.strip().splitlines() or [f"exit {process.returncode}"])[-1]
            if process.returncode != 0:
                row["status"] = f"error: {last}"
            else:
                errors = json.loads(last)["cells_with_errors"]
                row["status"] = "ok" if not errors else f"ok, {errors} cell(s) raised"
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            row["status"] = f"timeout after {timeout:g} s"
        finally:
            _kill(process)
        results = {}
        if log.exists():
            for line in log.read_text().splitlines():
                record = json.loads(line)
                results[record["label"]] = record["correct"]
    for g in graded:
        row[g.number] = int(bool(results.get(g.label)))
    row["score"], row["max"] = sum(row[g.number] for g in graded), len(graded)
    return row


def _submissions(folder: Path) -> list[tuple[str, Path, Path]]:
    """(student, notebook, its working folder) for every submitted notebook."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            found += [(entry.name, nb, entry) for nb in sorted(entry.rglob("*.ipynb"))
                      if ".ipynb_checkpoints" not in nb.parts]
        elif entry.suffix == ".ipynb":
            # A loose notebook gets a folder of its own: students' files stay apart.
            found.append((entry.stem, entry, entry.parent))
    return found


def grade_folder(folder: Path, sources: Path = SOURCE_DIR, timeout: float = 600.0,
                 out: Path | None = None):
    """Grade every submission in ``folder``; the table (and its CSV at ``out``)."""
    import pandas as pd
    from tqdm.auto import tqdm

    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of submissions")
    submissions = _submissions(folder)
    if not submissions:
        raise ValueError(f"{folder}: no notebooks (.ipynb) found")
    rows = []
    for student, path, workdir in tqdm(submissions, desc="grading", unit="notebook"):
        if workdir == folder:  # loose notebook: copy only itself
            single = Path(tempfile.mkdtemp(prefix="mpfas-sub-"))
            shutil.copy2(path, single / path.name)
            row = grade_notebook(single / path.name, single, sources, timeout)
            shutil.rmtree(single, ignore_errors=True)
        else:
            row = grade_notebook(path, workdir, sources, timeout)
        rows.append({"student": student, "notebook": path.name, **row})
    table = pd.DataFrame(rows)
    numbers = sorted((c for c in table.columns if re.fullmatch(r"\d+\.\d+", str(c))),
                     key=lambda c: tuple(map(int, c.split("."))))
    first = [c for c in ("student", "notebook", "chapter") if c in table.columns]
    last = [c for c in ("score", "max", "status") if c in table.columns]
    table = table[first + numbers + last]
    if "score" in table.columns:
        table.insert(len(table.columns) - 1, "percent",
                     (100 * table["score"] / table["max"].where(table["max"] > 0)).round(1))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(table.to_csv(index=False), out)
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m mpfas_lib grade``."""
    parser.add_argument("submissions", type=Path,
                        help="folder with one subfolder per student (or notebooks directly)")
    parser.add_argument("--out", type=Path, default=Path("scores.csv"),
                        help="CSV of the scores (default: scores.csv)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed per notebook (default: 600)")
    parser.add_argument("--sources", type=Path, default=SOURCE_DIR,
                        help="folder of the book's chapter notebooks (default: notebooks/)")


def main(args: argparse.Namespace) -> int:
    """Grade a folder and write the CSV; bad input is one line, not a traceback."""
    if args.timeout <= 0:
        print(f"grade: --timeout must be positive, got {args.timeout}")
        return 2
    try:
        table = grade_folder(args.submissions, args.sources, args.timeout, args.out)
    except (ValueError, OSError) as err:
        print(f"grade: {err}")
        return 2
    print(table.to_string(index=False))
    print(f"grade: {len(table)} notebooks scored, table in {args.out}")
    return 0


def _execute(path: Path, timeout: float) -> int:
    """Run one prepared notebook top to bottom (errors in cells do not stop it)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=int(timeout), allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = sum(any(o.get("output_type") == "error" for o in c.get("outputs", []))
                 for c in nb.cells if c.cell_type == "code")
    print(json.dumps({"cells_with_errors": errors}))
    return 0


if __name__ == "__main__":  # the grader's child process: execute one notebook
    sys.exit(_execute(Path(sys.argv[1]), float(sys.argv[2])))
