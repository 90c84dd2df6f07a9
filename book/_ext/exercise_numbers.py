"""Sphinx extension: number exercises per chapter ("Exercise 6.2"), not across the book.

sphinx-exercise numbers exercises with Sphinx's figure numbering, which counts through
the whole book. After Sphinx has assigned those numbers, each exercise gets (chapter, n):
the chapter is the notebook's number (``notebooks/06_algorithm1`` -> 6) or, for a prose
chapter, its name in ``exercise_chapter_names`` (e.g. ``book/fas_and_dg`` -> "DG").
"""

from __future__ import annotations

import re


def chapter_of(docname: str, names: dict[str, str]) -> int | str | None:
    """The chapter part of an exercise number in ``docname``, or None to keep Sphinx's."""
    match = re.match(r"notebooks/(\d+)_", docname)
    return int(match.group(1)) if match else names.get(docname)


def _renumber(app, env) -> list[str]:
    for docname, numbers in env.toc_fignumbers.items():
        exercises = numbers.get("exercise")
        chapter = chapter_of(docname, app.config.exercise_chapter_names)
        if not exercises or chapter is None:
            continue
        in_order = sorted(exercises, key=exercises.__getitem__)  # Sphinx counts in page order
        numbers["exercise"] = {ident: (chapter, n) for n, ident in enumerate(in_order, 1)}
    return []


def setup(app) -> dict:
    """Register the option and the renumbering (after Sphinx's own numbering)."""
    app.add_config_value("exercise_chapter_names", {}, "env")
    app.connect("env-get-updated", _renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
