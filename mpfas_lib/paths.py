"""Where the project keeps generated data, results and user datasets."""

from __future__ import annotations

import os
from pathlib import Path

from mpfas_lib.files import env_dir

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Cache for generated data (``$MPFAS_CACHE``, default ``~/.cache/mpfas``), writable."""
    xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return env_dir("MPFAS_CACHE", xdg / "mpfas")


def results_dir() -> Path:
    """Run artefacts (``$MPFAS_RESULTS``, default ``results/`` in the repository), writable."""
    return env_dir("MPFAS_RESULTS", REPO_ROOT / "results")


def data_dir() -> Path | None:
    """Root of the user's licensed, prepared datasets (``$MPFAS_DATA``), or None."""
    env = os.environ.get("MPFAS_DATA")
    return Path(env) if env else None



def shown(path: Path | str, env: str | None = None) -> str:
    """A path as a page may print it: relative to the repository or ``~``, never absolute.

    Executed notebooks become published pages, so they must not carry the build machine's
    paths; a path elsewhere is named by the environment variable ``env`` that set it.
    """
    p = Path(path).expanduser().resolve()
    for base, prefix in ((REPO_ROOT, ""), (Path.home().resolve(), "~/")):
        if p == base:
            return prefix.rstrip("/") or "."
        if p.is_relative_to(base):
            return prefix + p.relative_to(base).as_posix()
    return f"${env}" if env else f"<outside the repository>/{p.name}"
