"""What the grader hands back: scores, roster, feedback, written answers, gradebook files.

Files in the ``--out`` folder of ``python -m mpfas_lib grade``:

- ``scores.csv``: one row per student and chapter; one column of points per exercise
  ("6.1", ...; blank where the exercise belongs to another chapter), then ``score``, ``max``,
  ``percent``, ``to_mark`` (written answers not marked yet), ``status`` and ``notes``;
  ``scores-<chapter>.csv`` holds one chapter's rows and columns only.
- ``roster.csv``: one row per student (every student of ``--roster``, and every folder),
  with each chapter's points and status; a chapter not handed in says "missing".
- ``feedback/<student>.md``: each exercise's points and the check's message (the hint).
- ``written_answers.md``: the written answers, exercise by exercise, for reading;
  ``marks.csv``: one row per student and written answer, to fill in (``mark``,
  ``comment``) and pass back with ``--marks`` (merged into every file above).
- ``canvas.csv`` and ``moodle.csv``: one column per chapter, for the gradebook import of
  Canvas (Student, ID, SIS User ID, SIS Login ID, Section, then "Points Possible") and
  Moodle (matched on "ID number", "Username" or "Email address").
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpfas_lib.errors import UserError
from mpfas_lib.files import atomic_write_text, writable_dir

ROSTER_FIELDS = ("student", "name", "email", "canvas_id", "sis_id", "sis_login", "section",
                 "username")
MARK_FIELDS = ("student", "chapter", "exercise", "max", "mark", "comment")


@dataclass
class Result:
    """One checked exercise: points earned, points possible, the check's message."""

    points: float
    max: float
    message: str


@dataclass
class Row:
    """One student's notebook for one chapter (or a submission that could not be graded)."""

    chapter: str
    status: str = ""
    student: str = ""
    notebook: str = ""
    notes: list[str] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)  # exercise number -> result
    written: dict[str, str] = field(default_factory=dict)  # exercise label -> answer text
    marks: dict[str, tuple[float, str]] = field(default_factory=dict)  # number -> mark


def _fmt(x: float) -> str:
    return f"{x:g}"


def _number_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdigit())


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a file or cannot be written, before any notebook runs."""
    writable_dir(out, "--out", create=False)


def _read_csv(path: Path, what: str) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"{what} {path}: cannot be read ({err})") from None


def read_roster(path: Path) -> list[dict[str, str]]:
    """The class list: one dict per student (``student`` is the submission folder's name)."""
    rows = _read_csv(path, "--roster")
    if not rows or "student" not in rows[0]:
        raise UserError(f"--roster {path}: needs a header with a 'student' column")
    people, seen = [], set()
    for n, row in enumerate(rows, start=2):
        name = (row.get("student") or "").strip()
        if not name:
            raise UserError(f"--roster {path} line {n}: empty 'student'")
        if name in seen:
            raise UserError(f"--roster {path} line {n}: {name!r} appears twice")
        seen.add(name)
        people.append({k: (row.get(k) or "").strip() for k in ROSTER_FIELDS})
    return people


def read_marks(path: Path, chapters: dict[str, Any]) -> dict[tuple[str, str, str],
                                                             tuple[float, str]]:
    """Marks of written answers: (student, chapter, exercise) -> (mark, comment)."""
    rows = _read_csv(path, "--marks")
    if rows and not {"student", "chapter", "exercise", "mark"} <= set(rows[0]):
        raise UserError(f"--marks {path}: needs the columns student, chapter, exercise, mark")
    marks = {}
    for n, row in enumerate(rows, start=2):
        where = f"--marks {path} line {n}"
        text = (row.get("mark") or "").strip()
        if not text:
            continue
        chapter, number = row["chapter"].strip(), row["exercise"].strip()
        if chapter not in chapters:
            raise UserError(f"{where}: no chapter {chapter!r}")
        exercise = next((g for g in chapters[chapter].exercises if g.number == number), None)
        if exercise is None or not exercise.answer_points:
            raise UserError(f"{where}: {chapter} has no written answer {number!r}")
        try:
            mark = float(text)
        except ValueError:
            raise UserError(f"{where}: mark {text!r} is not a number") from None
        if not (math.isfinite(mark) and 0 <= mark <= exercise.answer_points):
            raise UserError(f"{where}: mark {text} is outside 0..{exercise.answer_points:g}")
        marks[(row["student"].strip(), chapter, number)] = (mark, (row.get("comment") or ""))
    return marks


def _safe_name(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._") or "student"


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class Gradebook:
    """The rows of one grading run and the files made from them."""

    def __init__(self, chapters: dict[str, Any], people: list[dict[str, str]] | None = None,
                 isolation: str = "none") -> None:
        self.chapters, self.people, self.isolation = chapters, people, isolation
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        """Add a graded notebook."""
        self.rows.append(row)

    # ---- who and what ---------------------------------------------------------------

    def students(self) -> list[str]:
        """Every student: the roster's, then any submission's not on it."""
        named = [p["student"] for p in self.people] if self.people else []
        return named + sorted({r.student for r in self.rows} - set(named))

    def handed_in(self) -> list[str]:
        """The chapters graded in this run (each expected from every student)."""
        return sorted({r.chapter for r in self.rows if r.chapter})

    def complete_rows(self) -> list[Row]:
        """The rows, plus a "missing" row for each chapter a student did not hand in."""
        rows = list(self.rows)
        on_roster = {p["student"] for p in self.people} if self.people else None
        for student in self.students():
            mine = [r for r in rows if r.student == student]
            if on_roster is not None and student not in on_roster:
                for r in mine:
                    r.notes.append("not on the roster")
            for stem in self.handed_in():
                if not any(r.chapter == stem for r in mine):
                    rows.append(Row(stem, "missing: no notebook handed in", student))
        return sorted(rows, key=lambda r: (self.students().index(r.student), r.chapter))

    def merge_marks(self, marks: dict[tuple[str, str, str], tuple[float, str]]) -> None:
        """Put the teacher's marks of written answers into the rows they belong to."""
        for (student, chapter, number), mark in marks.items():
            for row in self.rows:
                if row.student == student and row.chapter == chapter:
                    row.marks[number] = mark

    # ---- points ---------------------------------------------------------------------

    def exercise_points(self, row: Row) -> dict[str, float]:
        """Points per exercise number of a row (check plus written-answer mark)."""
        if row.chapter not in self.chapters:
            return {}
        points = {}
        for g in self.chapters[row.chapter].exercises:
            earned = row.results[g.number].points if g.number in row.results else 0.0
            points[g.number] = earned + (row.marks[g.number][0] if g.number in row.marks else 0)
        return points

    def totals(self, row: Row) -> tuple[float, float, list[str]]:
        """(score, max, written answers still to mark) of a row."""
        if row.chapter not in self.chapters:
            return 0.0, 0.0, []
        exercises = self.chapters[row.chapter].exercises
        top = sum(g.points + g.answer_points for g in exercises)
        to_mark = [g.number for g in exercises if g.answer_points and g.number not in row.marks
                   and row.status and not row.status.startswith("missing")]
        return sum(self.exercise_points(row).values()), top, to_mark

    # ---- files ----------------------------------------------------------------------

    def _score_table(self, rows: list[Row], numbers: list[str]) -> str:
        lines = []
        for row in rows:
            points = self.exercise_points(row)
            score, top, to_mark = self.totals(row)
            percent = _fmt(round(100 * score / top, 1)) if top else ""
            lines.append([row.student, row.notebook, row.chapter,
                          *[_fmt(points[n]) if n in points else "" for n in numbers],
                          _fmt(score), _fmt(top), percent, " ".join(to_mark), row.status,
                          "; ".join(row.notes)])
        return _csv(["student", "notebook", "chapter", *numbers, "score", "max", "percent",
                     "to_mark", "status", "notes"], lines)

    def _numbers(self, stems: list[str]) -> list[str]:
        return sorted({g.number for s in stems for g in self.chapters[s].exercises},
                      key=_number_key)

    def write(self, out: Path) -> list[Path]:
        """Write every file into ``out``; the paths written."""
        out.mkdir(parents=True, exist_ok=True)
        rows, stems = self.complete_rows(), self.handed_in()
        files = {"scores.csv": self._score_table(rows, self._numbers(stems)),
                 "roster.csv": self.roster_csv(rows), "written_answers.md": self.written_md(),
                 "marks.csv": self.marks_csv(), "canvas.csv": self.canvas_csv(rows),
                 "moodle.csv": self.moodle_csv(rows)}
        for stem in stems:
            files[f"scores-{stem}.csv"] = self._score_table(
                [r for r in rows if r.chapter == stem], self._numbers([stem]))
        for student in self.students():
            files[f"feedback/{_safe_name(student)}.md"] = self.feedback_md(student, rows)
        written = []
        for name, text in files.items():
            written.append(atomic_write_text(text, out / name))
        return written

    def _person(self, student: str) -> dict[str, str]:
        for p in self.people or []:
            if p["student"] == student:
                return p
        return {k: "" for k in ROSTER_FIELDS} | {"student": student}

    def _chapter_cells(self, rows: list[Row], student: str) -> list[tuple[str, str, str]]:
        """(points, max, status) of each chapter for a student."""
        cells = []
        for stem in self.handed_in():
            row = next((r for r in rows if r.student == student and r.chapter == stem), None)
            score, top, _ = self.totals(row) if row else (0.0, 0.0, [])
            cells.append((_fmt(score), _fmt(top), row.status if row else "missing"))
        return cells

    def roster_csv(self, rows: list[Row]) -> str:
        """One row per student: each chapter's points and status, and the total."""
        stems, lines = self.handed_in(), []
        for student in self.students():
            p, cells = self._person(student), self._chapter_cells(rows, student)
            bad = [r.status for r in rows if r.student == student and not r.chapter]
            total = sum(float(c[0]) for c in cells)
            top = sum(self.totals(Row(s))[1] for s in stems)
            lines.append([student, p["name"], p["email"],
                          *[v for c in cells for v in (c[0], c[2])], _fmt(total), _fmt(top),
                          "; ".join(bad)])
        return _csv(["student", "name", "email",
                     *[f"{s} {what}" for s in stems for what in ("points", "status")],
                     "total", "max", "other submissions"], lines)

    def canvas_csv(self, rows: list[Row]) -> str:
        """Canvas's gradebook import: identity columns, then one column per chapter."""
        stems = self.handed_in()
        lines = [["Points Possible", "", "", "", "",
                  *[_fmt(self.totals(Row(s))[1]) for s in stems]]]
        for student in self.students():
            p = self._person(student)
            lines.append([p["name"] or student, p["canvas_id"], p["sis_id"],
                          p["sis_login"] or student, p["section"],
                          *[c[0] for c in self._chapter_cells(rows, student)]])
        return _csv(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     *[f"mpfas {s}" for s in stems]], lines)

    def moodle_csv(self, rows: list[Row]) -> str:
        """Moodle's grade import (CSV): identity columns, then one column per chapter."""
        stems, lines = self.handed_in(), []
        for student in self.students():
            p = self._person(student)
            lines.append([p["sis_id"], p["username"] or student, p["email"],
                          *[c[0] for c in self._chapter_cells(rows, student)]])
        return _csv(["ID number", "Username", "Email address", *[f"mpfas {s}" for s in stems]],
                    lines)

    def feedback_md(self, student: str, rows: list[Row]) -> str:
        """One student's feedback: each chapter's exercises, points and messages."""
        lines = [f"# Feedback for {student}", ""]
        for row in (r for r in rows if r.student == student):
            score, top, to_mark = self.totals(row)
            title = row.chapter or row.notebook or "submission"
            lines += [f"## {title}: {_fmt(score)} / {_fmt(top)} points", "",
                      f"Status: {row.status}", ""]
            lines += [f"- {note}" for note in row.notes] + ([""] if row.notes else [])
            if row.chapter not in self.chapters:
                continue
            for g in self.chapters[row.chapter].exercises:
                if g.number in row.results:
                    r = row.results[g.number]
                    lines.append(f"- **Exercise {g.number}** (check): {_fmt(r.points)} / "
                                 f"{_fmt(r.max)}: {r.message}")
                if g.answer_points:
                    if g.number in row.marks:
                        mark, comment = row.marks[g.number]
                        text = f"{_fmt(mark)} / {_fmt(g.answer_points)}" + (
                            f": {comment}" if comment else "")
                    else:
                        text = f"not marked yet (out of {_fmt(g.answer_points)})"
                    lines.append(f"- **Exercise {g.number}** (written answer): {text}")
            lines.append("")
        return "\n".join(lines)

    def written_md(self) -> str:
        """Every written answer, grouped by chapter and exercise, for reading and marking."""
        lines = ["# Written answers", "",
                 "Enter marks in marks.csv and pass it back with `--marks marks.csv`.", ""]
        for stem in self.handed_in():
            for g in self.chapters[stem].exercises:
                if not g.answer_points:
                    continue
                lines += [f"## {stem}, exercise {g.number} (out of {_fmt(g.answer_points)})", ""]
                for row in (r for r in self.rows if r.chapter == stem):
                    text = row.written.get(g.label, "")
                    quoted = "\n".join(f"> {line}" for line in text.splitlines()) or \
                        "> *(no answer)*"
                    lines += [f"### {row.student}", "", quoted, ""]
        return "\n".join(lines)

    def marks_csv(self) -> str:
        """The marking sheet: one row per student and written answer (marks kept)."""
        lines = []
        for row in self.rows:
            if row.chapter not in self.chapters:
                continue
            for g in self.chapters[row.chapter].exercises:
                if g.answer_points:
                    mark, comment = row.marks.get(g.number, (None, ""))
                    lines.append([row.student, row.chapter, g.number, _fmt(g.answer_points),
                                  "" if mark is None else _fmt(mark), comment])
        return _csv(list(MARK_FIELDS), lines)

    def summary(self) -> str:
        """A short table for the terminal."""
        lines = []
        for row in self.complete_rows():
            score, top, to_mark = self.totals(row)
            lines.append(f"{row.student:<16} {row.chapter or row.notebook:<24} "
                         f"{_fmt(score):>5} / {_fmt(top):<5} {row.status}")
        return "\n".join(lines)
