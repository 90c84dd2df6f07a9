"""Sphinx extension: the launch buttons open the notebooks of the book's release.

The Colab and Binder buttons of sphinx-book-theme open ``repository.branch`` (``main``, which
moves). This sets their ref to the release that every chapter notebook names
(``RELEASE = "..."``, written by ``scripts/pin_release.py``; :mod:`mpfas_lib.release`), so the
notebook a reader launches and the library its first cell installs are those of the book they
read. Notebooks that disagree stop the build with a message naming them.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

from mpfas_lib.release import book_release

LOGGER = logging.getLogger(__name__)


def _pin_launch_buttons(app, config) -> None:
    try:
        release = book_release(Path(app.srcdir) / "notebooks")
    except ValueError as error:
        raise ExtensionError(str(error)) from error
    config.html_theme_options["repository_branch"] = release
    LOGGER.info(f"release_pin: launch buttons open the notebooks at {release}")


def setup(app) -> dict:
    """Set the launch buttons' ref once the configuration is read."""
    app.connect("config-inited", _pin_launch_buttons)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
