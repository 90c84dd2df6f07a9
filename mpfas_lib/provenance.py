"""Where a result came from: the commit of the code and the software that produced it."""

from __future__ import annotations

import subprocess
import sys

from mpfas_lib.paths import REPO_ROOT


def git_commit() -> str | None:
    """HEAD of the repository, with ``+dirty`` when tracked files have changes; None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=10, check=False)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def software() -> dict[str, str]:
    """Versions of Python and torch (imported lazily: a light caller may never need torch)."""
    import torch  # heavy: only the callers that record a run pay for it

    return {"torch": torch.__version__, "python": sys.version.split()[0]}
