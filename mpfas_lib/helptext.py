"""Command-line help as written: a module docstring (reST) shown with its lines kept.

``python -m mpfas_lib COMMAND --help``, ``scripts/*.py`` and ``benchmarks/*.py`` take their
descriptions from their module docstrings; :class:`DocstringFormatter` keeps every line (lists,
usage lines and literal blocks such as the sweep plan's TOML example) and lightens the reST
markup: inline literals and roles read as single-backtick code, and a paragraph's closing
double colon reads as one colon (nothing after a space), as reST renders it. Standard library
only.
"""

from __future__ import annotations

import argparse
import re

ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")  # :func:`x`, :py:mod:`~x`
INLINE_LITERAL = re.compile(r"``(.+?)``", re.S)  # may run over a line break


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _plain(prose: list[str]) -> list[str]:
    """Prose lines with inline literals and roles in single backticks."""
    text = ROLE.sub(r"``\1``", "\n".join(prose))
    return INLINE_LITERAL.sub(r"`\1`", text).split("\n") if prose else []


def _literal_marker(line: str) -> str | None:
    """The line a closing ``::`` leaves (reST's rule), or None when it has none."""
    stripped = line.rstrip()
    if not stripped.endswith("::"):
        return None
    head = stripped[:-2]
    if not head.strip():
        return ""
    return head.rstrip() if head.endswith(" ") else head + ":"


def rst_to_text(doc: str) -> str:
    """A docstring as plain text, line by line: literal blocks verbatim, markup lightened."""
    lines = doc.expandtabs().strip("\n").splitlines()  # a module docstring: not indented
    out: list[str] = []
    prose: list[str] = []
    literal_indent: int | None = None  # the introducing paragraph's indentation
    for line in lines:
        if literal_indent is not None:
            if not line.strip() or _indent(line) > literal_indent:
                out.append(line.rstrip())
                continue
            literal_indent = None
        marker = _literal_marker(line)
        if marker is None:
            prose.append(line.rstrip())
            continue
        if marker:
            prose.append(marker)  # a lone "::" line disappears
        out.extend(_plain(prose))
        prose = []
        literal_indent = _indent(line)
    out.extend(_plain(prose))
    text = "\n".join(out).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)  # one blank line where a "::" line was dropped


class DocstringFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as :func:`rst_to_text` renders them; arguments wrapped."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return super()._fill_text(rst_to_text(text), width, indent)
