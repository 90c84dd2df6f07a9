"""Isolation of untrusted submissions with bubblewrap (``bwrap``, Debian's ``bubblewrap``).

The sandbox sees the machine read-only (so the installed Python and library work as usual),
has its own process, network, IPC and user namespaces (no network at all; every process in it
dies with it), and can write only the submission's temporary folder. ``choose("auto")`` uses
it when it works on this machine and falls back to no sandbox (with one warning line) when the
kernel or the container forbids namespaces.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mpfas_lib.errors import UserError
from mpfas_lib.paths import REPO_ROOT


def _under_tmp() -> list[str]:
    """Read-only binds for what the grader's Python needs that a private /tmp would hide (a
    virtual environment, the library or its data cache in a checkout under /tmp)."""
    needed = {Path(sys.prefix), REPO_ROOT, Path(os.environ.get("MPFAS_CACHE", "/nonexistent"))}
    binds: list[str] = []
    for path in sorted(needed):
        if path.is_dir() and path.resolve().is_relative_to("/tmp"):
            binds += ["--ro-bind", str(path.resolve()), str(path.resolve())]
    return binds


def wrap(command: list[str], writable: Path) -> list[str]:
    """``command`` inside bwrap: read-only machine, ``writable`` writable, no network."""
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", *_under_tmp(), "--tmpfs", "/dev/shm",
            "--bind", str(writable), str(writable),
            "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--chdir", str(writable), "--", *command]


@functools.cache
def works() -> str | None:
    """None when bwrap runs a sandbox here, else why not (one line)."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    try:
        done = subprocess.run(wrap(["/bin/true"], Path("/tmp")), capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap failed ({err})"
    if done.returncode != 0:
        return f"bwrap cannot make a sandbox here ({done.stderr.strip()[:200]})"
    return None


def choose(isolation: str) -> str:
    """The isolation to use: "bwrap" or "none"; a UserError when "bwrap" was asked and fails."""
    if isolation == "none":
        return "none"
    problem = works()
    if problem is None:
        return "bwrap"
    if isolation == "bwrap":
        raise UserError(f"--isolation bwrap: {problem}")
    print(f"warning: submissions run without a sandbox: {problem}", file=sys.stderr)
    return "none"
