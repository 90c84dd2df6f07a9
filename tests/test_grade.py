"""The grader against hostile submissions: each kind gets its right score and status."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import nbformat
import pytest

from mpfas_lib.exercises import grade, sandbox
from mpfas_lib.exercises.answers import MIME
from mpfas_lib.exercises.edition import student_notebook
from mpfas_lib.exercises.grade import HarnessError, grade_folder
from mpfas_lib.files import UserError

ROOT = Path(__file__).resolve().parent.parent
RIGHT = "hter_pooled, acer = (16 + 5) / 2, (30 + 5) / 2"


def _md(text: str, **meta):
    return nbformat.v4.new_markdown_cell(text, metadata=meta)


def _code(text: str, *tags: str):
    return nbformat.v4.new_code_cell(text, metadata={"tags": list(tags)} if tags else {})


def _chapter(number: int, label: str, points: int) -> nbformat.NotebookNode:
    """A chapter with one checked exercise (exercise 7.3's check) and one written answer."""
    return nbformat.v4.new_notebook(cells=[
        _md(f"# Chapter {number}"),
        _md(f"## Exercises\n\n```{{exercise-start}}\n:label: {label}\n```\n"
            "Compute HTER and ACER.\n```{exercise-end}\n```\n\n"
            f"```{{solution-start}} {label}\n:class: dropdown\n```\nPool the FARs first.",
            points=points, answer_points=2),
        _code("hter_pooled, acer = ..., ...", "starter", "remove-cell"),
        _code(RIGHT),
        _code(f'from mpfas_lib.exercises import check\n\ncheck("{label[3:]}", '
              "(hter_pooled, acer))", "check"),
        _md("```{solution-end}\n```"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sources")
    nbformat.write(_chapter(7, "ex-nb07-3", 3), folder / "07_small.ipynb")
    return folder


def _student(sources: Path, answer: str = RIGHT, check: str | None = None,
             extra: list | None = None, at: int = -1) -> nbformat.NotebookNode:
    nb = student_notebook(sources / "07_small.ipynb")
    cells = {c.metadata.get("mpfas", {}).get("role"): c for c in nb.cells}
    cells["starter"].source = answer
    cells["answer"].source = "Because the FARs are pooled."
    if check is not None:
        cells["check"].source = check
    for cell in extra or []:
        nb.cells.insert(at if at >= 0 else len(nb.cells), cell)
    return nb


def _write(folder: Path, nb: nbformat.NotebookNode, name: str = "07_small.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder


FORGED = json.dumps({MIME: {"label": "ex-nb07-3", "answer": "{\"$tuple\": [10.5, 17.5]}",
                            "context": "{}"}})


def test_hostile_submissions_get_their_right_scores(sources: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    marker = uuid.uuid4().hex
    _write(subs / "honest", _student(sources))
    _write(subs / "untouched", student_notebook(sources / "07_small.ipynb"))
    # 1. replace the checks inside the kernel by ones that always pass
    _write(subs / "patcher", _student(sources, "import mpfas_lib.exercises.checks as c\n"
                                      "c.evaluate = lambda *a, **k: (True, 'correct')\n"
                                      "c.judge = c.evaluate\n"
                                      "c.CHECKS.clear()\nhter_pooled, acer = 1, 2"))
    # 2. forge records: the old grade log, a fake export output in an ordinary cell
    _write(subs / "forger", _student(sources, extra=[_code(
        "import os\nfrom IPython.display import display\n"
        "open(os.environ.get('MPFAS_GRADE_LOG', 'log'), 'a').write("
        "'{\"label\": \"ex-nb07-3\", \"correct\": true}\\n')\n"
        f"display({FORGED}, raw=True)")], answer="hter_pooled, acer = 1, 2"))
    # 3. a library copy beside the notebook (it would make every answer "correct")
    shadow = _write(subs / "shadow", _student(sources))
    (shadow / "mpfas_lib").mkdir()
    (shadow / "mpfas_lib" / "__init__.py").write_text("raise SystemExit('shadowed')\n")
    # 4. a decoy check cell above the starter, and the real one edited
    _write(subs / "decoy", _student(
        sources, check='hter_pooled, acer = 1, 2\ncheck("nb07-3", (hter_pooled, acer))',
        extra=[_code('from mpfas_lib.exercises import check\ncheck("nb07-3", (10.5, 17.5))',
                     "check")], at=2))
    # 5. the answer typed into the check cell: kept, scored, and the row says so
    _write(subs / "typed", _student(sources, answer="# Your code here",
                                    check="hter_pooled, acer = 10.5, 17.5\n"
                                          "from mpfas_lib.exercises import check\n"
                                          'check("nb07-3", (hter_pooled, acer))'))
    # 6. a cell holding the GIL in C, after a process that leaves its session
    _write(subs / "hog", _student(sources, extra=[_code(
        "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
        f"'import time; time.sleep(300)', '{marker}'], start_new_session=True)\n"
        "sum(range(10**13))")]))
    # 7. a bad submission among good ones: a chapter outside the sources, a named pipe
    outside = _student(sources)
    outside.metadata["mpfas"]["chapter"] = "../student/07_small"
    _write(subs / "outsider", outside, "work.ipynb")
    piped = _write(subs / "piper", _student(sources))
    os.mkfifo(piped / "pipe")
    book = grade_folder(subs, sources, timeout=20, out=tmp_path / "out", isolation="none")
    rows = {r.student: r for r in book.rows}
    points = {s: (r.results["7.1"].points if "7.1" in r.results else None)
              for s, r in rows.items()}
    assert points == {"honest": 3, "untouched": 0, "patcher": 0, "forger": 0, "shadow": 3,
                      "decoy": 0, "typed": 3, "hog": 3, "outsider": None, "piper": 3}
    assert rows["hog"].status == "timeout after 20 s"
    assert rows["typed"].notes == ["check cell edited: 7.1"]
    assert "check cell edited: 7.1" in rows["decoy"].notes
    assert rows["outsider"].status.startswith("no chapter '../student/07_small'")
    assert any("pipe" in n for n in rows["piper"].notes)
    assert rows["untouched"].results["7.1"].message.startswith("not yet: replace the `...`")
    left = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).count(marker)]
    assert not left, "a process of the submission outlived its time limit"
    table = list(csv.DictReader((tmp_path / "out" / "scores.csv").open()))
    assert {r["student"]: r["7.1"] for r in table}["honest"] == "3"


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_two_chapters_a_roster_marks_and_the_teachers_files(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    nbformat.write(_chapter(7, "ex-nb07-3", 3), sources / "07_small.ipynb")
    nbformat.write(_chapter(8, "ex-nb07-3", 1), sources / "08_small.ipynb")  # the same check
    subs = tmp_path / "subs"
    for name in ("ada", "bob"):
        for stem in ("07_small", "08_small"):
            nb = student_notebook(sources / f"{stem}.ipynb")
            for cell in nb.cells:
                if cell.metadata.get("mpfas", {}).get("role") == "starter" and name == "ada":
                    cell.source = RIGHT
            _write(subs / name, nb, f"{stem}.ipynb")
    (subs / "bob" / "08_small.ipynb").unlink()  # bob hands in one chapter only
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,email,sis_id\nada,Ada L,ada@x.org,1\nbob,Bob K,,2\n"
                      "cy,Cy N,cy@x.org,3\n")
    out = tmp_path / "out"
    grade_folder(subs, sources, timeout=60, out=out, isolation="none", roster=roster)
    scores = list(csv.DictReader((out / "scores.csv").open()))
    ada = {r["chapter"]: r for r in scores if r["student"] == "ada"}
    assert (ada["07_small"]["7.1"], ada["07_small"]["8.1"], ada["07_small"]["score"],
            ada["07_small"]["max"]) == ("3", "", "3", "5")
    assert (ada["08_small"]["8.1"], ada["08_small"]["7.1"], ada["08_small"]["max"]) == \
        ("1", "", "3")
    missing = {(r["student"], r["chapter"]): r["status"] for r in scores}
    assert missing[("bob", "08_small")] == missing[("cy", "07_small")] == \
        "missing: no notebook handed in"
    roster_rows = {r["student"]: r for r in csv.DictReader((out / "roster.csv").open())}
    assert set(roster_rows) == {"ada", "bob", "cy"}
    assert roster_rows["cy"]["07_small status"] == "missing: no notebook handed in"
    canvas = list(csv.reader((out / "canvas.csv").open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and canvas[2][:3] == ["Ada L", "", "1"]
    moodle = list(csv.DictReader((out / "moodle.csv").open()))
    assert moodle[0]["Email address"] == "ada@x.org" and moodle[0]["mpfas 07_small"] == "3"
    assert "Because" not in (out / "written_answers.md").read_text()  # nobody wrote one
    feedback = (out / "feedback" / "bob.md").read_text()
    assert "not yet: replace the `...`" in feedback and "missing" in feedback
    sheet = list(csv.DictReader((out / "marks.csv").open()))
    assert {(r["student"], r["chapter"]) for r in sheet} == {
        ("ada", "07_small"), ("ada", "08_small"), ("bob", "07_small")}
    for r in sheet:
        r["mark"], r["comment"] = ("1.5", "good") if r["student"] == "ada" else ("", "")
    marks = tmp_path / "marks.csv"
    with marks.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    grade_folder(subs, sources, timeout=60, out=out, isolation="none", marks=marks)
    ada = {r["chapter"]: r for r in csv.DictReader((out / "scores.csv").open())
           if r["student"] == "ada"}
    assert (ada["07_small"]["7.1"], ada["07_small"]["score"], ada["07_small"]["to_mark"]) == \
        ("4.5", "4.5", "")
    assert "1.5 / 2: good" in (out / "feedback" / "ada.md").read_text()
    marks.write_text("student,chapter,exercise,mark\nada,07_small,7.1,9\n")
    with pytest.raises(UserError, match="outside 0..2"):
        grade_folder(subs, sources, timeout=60, out=out, isolation="none", marks=marks)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpfas_lib", "grade", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("bad", [["--timeout", "nan"], ["--timeout", "inf"],
                                 ["--timeout", "0"], ["--out", "FILE"],
                                 ["--sources", "MISSING"]])
def test_options_are_checked_before_any_notebook_runs(bad: list[str], sources: Path,
                                                      tmp_path: Path) -> None:
    _write(tmp_path / "subs" / "ada", _student(sources))
    (tmp_path / "FILE").write_text("")
    bad = [str(tmp_path / b) if b.isupper() else b for b in bad]
    done = _cli(str(tmp_path / "subs"), "--sources", str(sources), "--out",
                str(tmp_path / "out"), *bad)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_broken_harness_stops_before_scoring(sources: Path, tmp_path: Path,
                                               monkeypatch) -> None:
    _write(tmp_path / "subs" / "ada", _student(sources))
    monkeypatch.setattr(grade, "kernel_argv", lambda: ["/nonexistent/python", "-f",
                                                       "{connection_file}"])
    with pytest.raises(HarnessError, match="cannot run notebooks"):
        grade_folder(tmp_path / "subs", sources, timeout=30, out=tmp_path / "out",
                     isolation="none")
    assert not (tmp_path / "out").exists()


def _listener() -> tuple[socket.socket, list]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(30)
    hits: list = []

    def serve() -> None:
        try:
            hits.append(server.accept())
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return server, hits


@pytest.mark.skipif(sandbox.works() is not None, reason=f"no sandbox: {sandbox.works()}")
def test_sandbox_has_no_network_and_writes_only_its_copy(sources: Path, tmp_path: Path) -> None:
    server, hits = _listener()
    port = server.getsockname()[1]
    outside = tmp_path / "outside.txt"
    nb = _student(sources, extra=[_code(
        "import socket\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "except OSError:\n    pass\n"
        f"open({str(outside)!r}, 'w').write('escaped')\n")], at=2)
    _write(tmp_path / "subs" / "ada", nb)
    book = grade_folder(tmp_path / "subs", sources, timeout=60, isolation="bwrap")
    row = book.rows[0]
    server.close()
    assert book.isolation == "bwrap" and row.results["7.1"].points == 3
    assert row.status == "ok, 1 cell(s) raised"  # the write outside was refused
    assert not outside.exists() and not hits
