"""Sphinx extension: ship the student edition as a zip next to the built HTML.

The zip (``mpfas-student-edition.zip`` at the root of the HTML output) is generated from
the chapter notebooks at every build by ``mpfas_lib.exercises.edition``, so it always
matches the book.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def _write_zip(app) -> None:
    if app.builder.format != "html":
        return
    from mpfas_lib.exercises.edition import ZIP_NAME, write_edition

    extra = Path(app.outdir).parent / "student-download"
    with tempfile.TemporaryDirectory() as tmp:
        write_edition(Path(tmp), zip_path=extra / ZIP_NAME)
    app.config.html_extra_path.append(str(extra))


def setup(app) -> dict:
    """Write the zip when the builder starts; the HTML builder copies it at the end."""
    app.connect("builder-inited", _write_zip)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
