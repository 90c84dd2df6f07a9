"""Sphinx extension: MathJax served from the book's own ``_static/mathjax``, no CDN.

Pages with equations load MathJax 3 (``mathjax_path`` in ``_config.yml``, relative to
``_static``), so the book reads the same from a folder with no network. The files come
from the pinned ``sphinx-mathjax-offline`` package (MathJax 3.2.2, Apache-2.0), which ships
MathJax's ``es5`` folder; only the component the book loads is copied, with everything
MathJax loads from beside it on demand (fonts, TeX extensions, the menu, its accessibility
tools and their speech rules), not the other combined components. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ConfigError, ExtensionError

#: The package that ships MathJax, and MathJax's folder inside it.
PACKAGE, INSIDE = "sphinx-mathjax-offline", ("static", "mathjax")
#: Where the files go, relative to the HTML output folder's ``_static``.
TARGET = "mathjax"


def mathjax_source() -> Path:
    """MathJax's folder in the installed ``sphinx-mathjax-offline`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(f"offline_mathjax: the {PACKAGE} package is not installed "
                             "(it is in pyproject.toml's book extra: pip install -e '.[book]')")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*INSIDE)


def component(mathjax_path: str) -> str:
    """The component file that ``mathjax_path`` names inside ``_static/mathjax``."""
    prefix = TARGET + "/"
    if "//" in mathjax_path or not mathjax_path.startswith(prefix) or \
            "/" in mathjax_path[len(prefix):]:
        raise ConfigError(f"_config.yml: mathjax_path {mathjax_path!r} must name a component "
                          f"in {prefix} (e.g. {prefix}tex-mml-chtml.js), not another host")
    return mathjax_path[len(prefix):]


def files_to_copy(source: Path, name: str) -> list[Path]:
    """MathJax's files that component ``name`` needs: itself and every subfolder."""
    if not (source / name).is_file():
        raise ConfigError(f"_config.yml: mathjax_path names {name}, which {source} lacks")
    return sorted(p for p in source.rglob("*") if p.is_file() and
                  (p.parent != source or p.name == name))


def copy_mathjax(source: Path, name: str, static: Path) -> int:
    """Copy the files of :func:`files_to_copy` into ``static/mathjax``; returns how many."""
    files = files_to_copy(source, name)
    for path in files:
        target = static / TARGET / path.relative_to(source)
        if target.is_file() and target.stat().st_size == path.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return len(files)


def _check(app, config) -> None:
    files_to_copy(mathjax_source(), component(config.mathjax_path))


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    copy_mathjax(mathjax_source(), component(app.config.mathjax_path),
                 Path(app.outdir) / "_static")


def setup(app) -> dict:
    """Check ``mathjax_path`` when the configuration is read; copy MathJax after a build."""
    app.connect("config-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
