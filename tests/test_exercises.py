"""Exercises: the student edition, the self-checks and the grader (mpfas_lib.exercises)."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

import nbformat
import pytest
import torch

from mpfas_lib.errors import UserError
from mpfas_lib.exercises import CHECKS, check, evaluate
from mpfas_lib.exercises.checks import STRICT
from mpfas_lib.exercises.edition import (
    ANSWER_PROMPT,
    YOUR_CODE,
    _Parser,
    chapter_number,
    parse,
    student_notebook,
    write_edition,
)
from mpfas_lib.exercises.grade import grade_folder, graded_exercises

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _solution_lines(path: Path) -> set[str]:
    """Lines of the chapter's solutions (prose and code) that the chapter text lacks."""
    nb = nbformat.read(path, as_version=4)
    parsed = _Parser(nb, chapter_number(path), path.name)
    solution = set()
    for ex in parsed.exercises.values():
        solution |= {line.strip() for line in ex.solution_prose}
        solution |= {line.strip() for code in ex.solution_code for line in code.splitlines()}
    elsewhere = set()
    for kind, item in parsed.items:
        lines = item if kind == "md" else item.source.splitlines() if kind == "code" else []
        elsewhere |= {line.strip() for line in lines}
    for ex in parsed.exercises.values():
        for cell in ex.starter + ex.checks:
            elsewhere |= {line.strip() for line in cell.source.splitlines()}
    return {line for line in solution - elsewhere if len(line) > 8}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_edition_has_no_solution_text(path: Path) -> None:
    student = nbformat.writes(student_notebook(path))
    text = "\n".join(c.source for c in nbformat.reads(student, as_version=4).cells)
    leaked = sorted(_solution_lines(path) & {line.strip() for line in text.splitlines()})
    assert not leaked, f"{path.name}: solution text in the student edition: {leaked[:3]}"
    assert "solution-start" not in text and "solution-end" not in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_gets_answer_cells(path: Path) -> None:
    exercises = parse(path)
    nb = student_notebook(path)
    text = "\n".join(c.source for c in nb.cells)
    for ex in exercises.values():
        assert re.fullmatch(rf"{chapter_number(path)}\.\d+", ex.number)
        assert f"### Exercise {ex.number}" in text
    starters = [c for c in nb.cells if "starter" in c.metadata.get("tags", [])]
    assert len(starters) == sum(ex.kind == "coding" for ex in exercises.values())
    assert all(YOUR_CODE in c.source for c in starters)
    assert nb.metadata["mpfas"] == {"edition": "student", "chapter": path.stem}
    assert "jupytext" not in nb.metadata


def test_committed_student_edition_is_up_to_date(tmp_path: Path) -> None:
    write_edition(tmp_path)
    committed = ROOT / "student"
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.ipynb")}
    assert fresh.keys() == {p.name for p in committed.glob("*.ipynb")}, "run `make student`"
    stale = [n for n, t in fresh.items() if (committed / n).read_text() != t]
    assert not stale, f"student/ is out of date for {stale}: run `make student`"


def _saved_by_jupyter(folder: Path, name: str, out: Path) -> bytes:
    """The bytes JupyterLab writes when it opens and saves ``folder/name`` unchanged."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    model = FileContentsManager(root_dir=str(folder)).get(name, content=True, type="notebook")
    out.mkdir(exist_ok=True)
    FileContentsManager(root_dir=str(out)).save(
        {"type": "notebook", "format": "json", "content": model["content"]}, name)
    return (out / name).read_bytes()


def _kernel_metadata(tmp_path: Path) -> dict:
    """What JupyterLab writes into a notebook once the default Python kernel starts."""
    import json

    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import write_kernel_spec

    spec = json.loads((Path(write_kernel_spec(tmp_path / "spec")) / "kernel.json").read_text())
    return {"kernelspec": {"name": "python3", "display_name": spec["display_name"],
                           "language": spec["language"]},
            "language_info": dict(IPythonKernel.language_info)}


def test_student_notebooks_unchanged_by_open_and_save(tmp_path: Path) -> None:
    """Opening and saving a student notebook in JupyterLab leaves its file as it was."""
    fresh = tmp_path / "fresh"
    write_edition(fresh)
    kernel = _kernel_metadata(tmp_path)
    for folder in (fresh, ROOT / "student"):
        for path in sorted(folder.glob("*.ipynb")):
            saved = _saved_by_jupyter(folder, path.name, tmp_path / f"saved-{folder.name}")
            assert saved == path.read_bytes(), f"{folder.name}/{path.name} changes when saved"
            metadata = nbformat.reads(saved.decode(), as_version=4).metadata
            assert {k: metadata.get(k) for k in kernel} == kernel, \
                f"{folder.name}/{path.name}: the kernel would rewrite its metadata"


def test_edition_zip_is_reproducible(tmp_path: Path) -> None:
    write_edition(tmp_path / "a", zip_path=tmp_path / "a.zip")
    write_edition(tmp_path / "b", zip_path=tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_check_cells_and_registry_agree() -> None:
    in_chapters = {}
    for path in CHAPTERS:
        for g in graded_exercises(path):
            calls = re.findall(r"""check\(\s*["']([^"']+)""", g.check_source)
            assert calls, f"{path.name}: the check cell of {g.label} does not call check()"
            assert all(f"ex-{c}" == g.label for c in calls), f"{g.label} checks {calls}"
            in_chapters[g.label] = path
    assert set(in_chapters) == set(CHECKS), "each registered check needs a check cell"
    for chapter in range(1, 12):  # every chapter has checked coding exercises
        assert any(label.startswith(f"ex-nb{chapter:02d}-") for label in CHECKS), chapter


def _exercises_with_checks() -> list[tuple[str, object]]:
    return [(path.name, ex) for path in CHAPTERS for ex in parse(path).values() if ex.checks]


class _Anything:
    """A stand-in for any object of the chapter: callable, with any attribute, unpackable."""

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name: str):
        return self

    def __iter__(self):
        return iter((self, self))


class _ChapterNames(dict):
    def __missing__(self, name: str):
        import builtins

        return getattr(builtins, name) if hasattr(builtins, name) else _Anything()


@pytest.mark.parametrize(("chapter", "ex"), _exercises_with_checks(),
                         ids=lambda v: getattr(v, "label", v))
def test_starter_cells_report_not_yet(chapter: str, ex, capsys, monkeypatch) -> None:
    """The student edition's starter cell, then its check cell: the starter's hint."""
    monkeypatch.delenv(STRICT, raising=False)
    assert ex.starter, f"{chapter}: {ex.label} has a check but no starter cell"
    namespace: dict = {}
    chapter_names = _ChapterNames()  # what the chapter's cells above define
    for cell in ex.starter + ex.checks:
        exec(compile(cell.source, f"{chapter}:{ex.label}", "exec"), namespace, chapter_names)
    assert capsys.readouterr().out == (
        "not yet: replace the `...` in the starter cell with your answer\n")


def _assigned(source: str) -> set[str]:
    """Names a code cell binds (assignments, loops, functions, imports)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@pytest.mark.parametrize(("chapter", "ex"), _exercises_with_checks(),
                         ids=lambda v: getattr(v, "label", v))
def test_check_cell_reads_what_the_solution_assigns(chapter: str, ex) -> None:
    """A check must not read the starter's `...` in the book: the solution sets its answer."""
    solution = set().union(*(_assigned(code) for code in ex.solution_code))
    for cell in ex.checks:
        for call in ast.walk(ast.parse(cell.source)):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "check":
                read = {n.id for arg in call.args[1:] for n in ast.walk(arg)
                        if isinstance(n, ast.Name)}
                assert read <= solution, f"{chapter}: {ex.label}'s solution never sets " \
                    f"{sorted(read - solution)}"


@pytest.mark.parametrize("label", sorted(CHECKS))
def test_starter_answer_is_not_yet(label: str) -> None:
    assert evaluate(label, ...) == (
        False, "not yet: replace the `...` in the starter cell with your answer")


@pytest.mark.parametrize(
    ("label", "answer", "hint"),
    [
        ("nb04-1", 663, "batch normalisations have parameters"),
        ("nb04-3", {"conv1": 3, "conv2": 4, "conv3": 5}, "on both sides"),
        ("nb05-1", 1_836_544, "3×3 convolutions"),
        ("nb05-3", 4 * (256 * 256 * 9 + 256), "only one conv of each pair"),
        ("nb07-3", (10.5, 16.0), "which APCER"),
        ("nb03-2", [[0.5, 0.5]], "256 bins"),
        ("nb05-2", "not a dict", "could not read your answer"),
        ("nb01-1", {"quick": (8, 8), "full": (32, 8)}, "count all its cells"),
        ("nb01-1", {"quick": (64, 64), "full": (1024, 64)}, "not its area"),
        ("nb01-2", {"official": 48, "paper": 72, "erm": 24}, "average"),
        ("nb01-2", {"official": 24, "paper": 60, "erm": 24}, "K times"),
        ("nb01-3", [0.001] * 60, "do not grow"),
        ("nb01-3", [0.001] * 5, "more steps"),
        ("nb07-3", (10.5, ...), "replace the `...`"),
        ("nb10-2", 0.25, "not the other way round"),
        ("nb10-3", "sgd_steps", "give your function"),
    ],
)
def test_wrong_answers_get_a_hint(label: str, answer, hint: str) -> None:
    ok, message = evaluate(label, answer)
    assert not ok and message.startswith("not yet: ") and hint in message


@pytest.mark.parametrize(
    ("label", "answer"),
    [
        ("nb04-1", 693),
        ("nb04-3", {"conv1": 3, "conv2": 5, "conv3": 7}),
        ("nb05-1", 3_016_704),
        ("nb05-2", {64: 8, 96: 12, 128: 16}),
        ("nb05-3", 1_180_160),
        ("nb07-3", (10.5, 17.5)),
        ("nb01-1", {"quick": (64, 8), "full": (1024, 8)}),
        ("nb01-2", {"official": 48, "paper": 60.2, "erm": 24}),
        ("nb10-2", 4.0),
    ],
)
def test_right_answers_are_correct(label: str, answer) -> None:
    assert evaluate(label, answer) == (True, "correct")


def test_momentum_check_on_torch_steps() -> None:
    def steps(**options) -> list[float]:
        w = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.001, **options)
        out = []
        for _ in range(60):
            before = w.item()
            opt.zero_grad()
            w.sum().backward()
            opt.step()
            out.append(before - w.item())
        return out

    assert evaluate("nb01-3", steps(momentum=0.9)) == (True, "correct")
    assert "Nesterov" in evaluate("nb01-3", steps(momentum=0.9, nesterov=True))[1]
    assert "do not grow" in evaluate("nb01-3", steps(momentum=0.9, dampening=0.9))[1]


def test_hypergradient_check_against_autograd() -> None:
    """The check's finite differences agree with autograd on the chapter's toy."""
    th = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    toy = lambda t, p, x, y: (t * p * x - y) ** 2  # noqa: E731

    def outer(steps: int, graph: bool) -> float:
        p = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        for _ in range(steps):
            p = p - 0.1 * torch.autograd.grad(toy(th, p, 1.0, 1.0), p, create_graph=graph)[0]
        return torch.autograd.grad(toy(th, p, 2.0, 0.5), th)[0].item()

    exact = outer(2, graph=True)
    assert evaluate("nb06-3", (exact, exact)) == (True, "correct")
    assert "one inner step" in evaluate("nb06-3", (outer(1, True), exact))[1]
    assert "first-order term" in evaluate("nb06-3", (outer(2, graph=False), exact))[1]
    assert evaluate("nb06-3", (exact, exact + 0.01))[1].startswith("not yet: by hand")


def test_loss_scale_check_calls_the_function() -> None:
    def run(optimiser):
        def sgd_steps(loss_scale: float, lr: float) -> torch.Tensor:
            torch.manual_seed(0)
            w = torch.nn.Linear(4, 1)
            opt = optimiser(w.parameters(), lr=lr)
            data = torch.randn(16, 4)
            for _ in range(3):
                opt.zero_grad()
                (loss_scale * w(data).pow(2).mean()).backward()
                opt.step()
            return w.weight.detach()
        return sgd_steps

    sgd = run(lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9))
    assert evaluate("nb10-3", sgd) == (True, "correct")
    assert "Adam" in evaluate("nb10-3", run(torch.optim.Adam))[1]


def test_check_prints_one_line_and_strict_mode_raises(capsys, monkeypatch) -> None:
    monkeypatch.delenv(STRICT, raising=False)
    check("nb07-3", "oops")
    assert capsys.readouterr().out.startswith("not yet: could not read your answer")
    monkeypatch.setenv(STRICT, "1")
    check("nb07-3", (10.5, 17.5))
    assert capsys.readouterr().out == "correct\n"
    with pytest.raises(AssertionError, match="ex-nb07-3"):
        check("nb07-3", (1, 2))


def _md(text: str):
    return nbformat.v4.new_markdown_cell(text)


def _code(text: str, *tags: str):
    return nbformat.v4.new_code_cell(text, metadata={"tags": list(tags)} if tags else {})


def _chapter() -> nbformat.NotebookNode:
    """A two-exercise chapter in the book's format: one checked coding, one reflection."""
    return nbformat.v4.new_notebook(cells=[
        _md("# A chapter\n\n## Exercises\n\n```{exercise-start}\n:label: ex-nb07-3\n```\n"
            "Compute HTER and ACER.\n```{exercise-end}\n```\n\n"
            "```{solution-start} ex-nb07-3\n:class: dropdown\n```\nPool the FARs first."),
        _code("hter_pooled, acer = ..., ...", "starter", "remove-cell"),
        _code("hter_pooled, acer = (16 + 5) / 2, (30 + 5) / 2\nSECRET_SOLUTION = 1"),
        _code('from mpfas_lib.exercises import check\n\ncheck("nb07-3", (hter_pooled, acer))',
              "check"),
        _md("```{solution-end}\n```\n\n```{exercise-start}\n:label: ex-nb07-9\n```\n"
            "Why?\n```{exercise-end}\n```\n\n```{solution-start} ex-nb07-9\n```\n"
            "Because of a secret reason.\n```{solution-end}\n```"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def test_generator_on_a_small_chapter(tmp_path: Path) -> None:
    path = tmp_path / "07_small.ipynb"
    nbformat.write(_chapter(), path)
    exercises = parse(path)
    assert [(e.number, e.kind) for e in exercises.values()] == [("7.1", "coding"),
                                                                 ("7.2", "reflection")]
    cells = student_notebook(path).cells
    text = "\n".join(c.source for c in cells)
    assert "SECRET" not in text and "secret reason" not in text and "Pool the" not in text
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "markdown", "code", "code",
                                            "markdown", "markdown"]
    assert cells[1].source.startswith("## How you are graded, how to submit")
    assert cells[3].source == f"{YOUR_CODE}\nhter_pooled, acer = ..., ..."
    assert cells[4].metadata["tags"] == ["check"] and cells[-1].source == ANSWER_PROMPT


def test_grader_scores_solved_and_untouched_notebooks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(STRICT, "1")  # the grader must not let strict mode stop a run
    sources = tmp_path / "sources"
    sources.mkdir()
    nbformat.write(_chapter(), sources / "07_small.ipynb")
    subs = tmp_path / "subs"
    solved = student_notebook(sources / "07_small.ipynb")
    solved.cells[3].source = "hter_pooled, acer = (16 + 5) / 2, (30 + 5) / 2"
    for student, nb in [("ada", solved), ("bob", student_notebook(sources / "07_small.ipynb"))]:
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "07_small.ipynb")
    cheat = student_notebook(sources / "07_small.ipynb")
    cheat.cells[4].source = 'from mpfas_lib.exercises import check\ncheck("nb07-3", (10.5, 17.5))'
    nbformat.write(cheat, subs / "cy.ipynb")  # a loose notebook: the student is its file name
    out = tmp_path / "out"
    book = grade_folder(subs, sources, timeout=120, out=out, isolation="none")
    rows = {r["student"]: r for r in csv.DictReader((out / "scores.csv").open())}
    assert set(rows) == {"ada", "bob", "cy"}
    assert rows["ada"]["7.1"] == "1" and rows["ada"]["score"] == "1"
    assert rows["bob"]["7.1"] == "0" and rows["bob"]["score"] == "0"
    assert rows["cy"]["7.1"] == "0", "a check cell that prints correct must not score"
    assert "check cell edited: 7.1" in rows["cy"]["notes"]
    assert {r.status for r in book.rows} == {"ok"}
    broken = student_notebook(sources / "07_small.ipynb")
    broken.cells[3].source = "hter_pooled, acer = 10.5, 17.5"
    broken.cells.insert(1, _code("1 / 0"))
    nbformat.write(broken, subs / "ada" / "07_small.ipynb")
    again = grade_folder(subs / "ada", sources, timeout=120, isolation="none")
    assert [(r.status, r.results["7.1"].points) for r in again.rows] == [
        ("ok, 1 cell(s) raised", 1.0)]


def test_grader_time_limit_and_bad_input(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    nbformat.write(_chapter(), sources / "07_small.ipynb")
    slow = student_notebook(sources / "07_small.ipynb")
    slow.cells[3].source = "hter_pooled, acer = 10.5, 17.5"
    slow.cells.insert(5, _code("import time\ntime.sleep(60)"))
    (tmp_path / "subs" / "zoe").mkdir(parents=True)
    nbformat.write(slow, tmp_path / "subs" / "zoe" / "07_small.ipynb")
    book = grade_folder(tmp_path / "subs", sources, timeout=8, isolation="none")
    row = book.rows[0]
    assert row.status == "timeout after 8 s" and row.results["7.1"].points == 1, \
        "marks earned before the time limit are kept"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no notebooks"):
        grade_folder(tmp_path / "empty", sources)
    with pytest.raises(UserError, match="not a folder"):
        grade_folder(tmp_path / "missing", sources)


def test_instructors_guide_lists_the_checked_exercises() -> None:
    guide = (ROOT / "book" / "instructors.md").read_text()
    for path in CHAPTERS:
        chapter = chapter_number(path)
        row = re.search(rf"^\|\s*{chapter}\s*\|([^|]*)\|([^|]*)\|", guide, re.MULTILINE)
        assert row, f"the guide's exercise table has no row for chapter {chapter}"
        graded = graded_exercises(path)
        checked = [f"{g.number} ({g.points:g} + {g.answer_points:g})" for g in graded]
        others = [f"{e.number} ({e.answer_points:g})" for e in parse(path).values()
                  if e.number not in {g.number for g in graded}]
        assert [row.group(1).strip(), row.group(2).strip()] == [", ".join(checked),
                                                                ", ".join(others)]


def test_instructors_guide_links_every_student_notebook() -> None:
    guide = (ROOT / "book" / "instructors.md").read_text()
    for path in CHAPTERS:
        assert f"github/mpfas/mpfas/blob/main/student/{path.name})" in guide
        assert f"labpath=student/{path.name})" in guide
