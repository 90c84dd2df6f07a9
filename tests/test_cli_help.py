"""Every ``--help`` reads as written: the CLI's commands, scripts/ and benchmarks/ (issue 24)."""

from __future__ import annotations

import ast
import importlib.util
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mpfas_lib.__main__ import COMMANDS
from mpfas_lib.__main__ import main as cli_main
from mpfas_lib.helptext import rst_to_text

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")])
WIDTH = 100  # the library's line length; a terminal of 80 columns wraps only the longest


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""


def _help(command: list[str]) -> str:
    """``python -m mpfas_lib ... --help`` or ``python SCRIPT --help``, run in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # argparse's default width
    done = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _help_here(run: Callable[[], object], capsys, monkeypatch) -> str:
    """The same in this process (torch imported once): ``run`` must exit 0 after printing."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # scripts put their folders first
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code in (0, None), capsys.readouterr().err
    return capsys.readouterr().out


def _check_reads_as_written(text: str, doc: str) -> None:
    """No line over WIDTH; every docstring line without reST markup is there, unchanged."""
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > WIDTH]
    assert not too_long, too_long
    kept = {line.rstrip() for line in lines}
    plain = [line.rstrip() for line in doc.splitlines()
             if line.strip() and "`" not in line and not line.rstrip().endswith("::")]
    assert [line for line in plain if line not in kept] == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_reads_as_written(name: str, capsys, monkeypatch) -> None:
    origin = importlib.util.find_spec(COMMANDS[name][0]).origin
    text = _help_here(lambda: cli_main([name, "--help"]), capsys, monkeypatch)
    _check_reads_as_written(text, _docstring(Path(origin)))


def test_the_top_level_help_lists_every_command(capsys, monkeypatch) -> None:
    text = _help_here(lambda: cli_main(["--help"]), capsys, monkeypatch)
    assert all(f"    {name}  " in text for name in COMMANDS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_script_help_reads_as_written(script: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    text = _help_here(lambda: runpy.run_path(str(script), run_name="__main__"), capsys,
                      monkeypatch)
    doc = _docstring(script)
    assert rst_to_text(doc).splitlines()[0] in text  # the whole docstring, not its first line
    _check_reads_as_written(text, doc)


def test_the_sweep_plan_example_keeps_its_toml_lines() -> None:
    """As a user types it, in a fresh process."""
    lines = _help(["-m", "mpfas_lib", "sweep"]).splitlines()
    toml = [line.strip() for line in lines if line.startswith("    ")]
    starts = ["description = ", "profile = ", "[set]", "threads = ", "[[runs]]",
              "protocols = ", "methods = ", "seeds = ", "shifts = "]
    assert [next((t for t in toml if t.startswith(s)), None) is not None for s in starts] == [
        True] * len(starts)
    assert not any(line.rstrip().endswith("::") for line in lines)


def test_rst_to_text_keeps_literal_blocks_and_lightens_markup() -> None:
    doc = ("Run ``sweep``, see :func:`mpfas_lib.x.y` and ``a\nb``.\n\nA plan::\n\n"
           "    [set]   # ``kept``\n    threads = 1\n\nThen this ::\n\n    x = 1\n\n::\n\n"
           "    y = 2\nEnd.")
    assert rst_to_text(doc).splitlines() == [
        "Run `sweep`, see `mpfas_lib.x.y` and `a", "b`.", "", "A plan:", "",
        "    [set]   # ``kept``", "    threads = 1", "", "Then this", "", "    x = 1", "",
        "    y = 2", "End."]
