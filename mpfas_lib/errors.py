"""One-line errors for every command: what went wrong, where, and what to do.

A user mistake or a broken environment (a missing, read-only or full disk, a second process on
the same folder) ends a command with one line naming the file, option or variable and what to
do (:class:`UserError`); ``python -m mpfas_lib --debug`` shows the traceback as well.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback


class UserError(Exception):
    """A problem the user can fix (bad option, unusable folder, full disk): one line, no traceback.

    ``exit_code`` is 2 for bad arguments (the convention of argparse) and 1 for failures met
    while working (a full disk, a locked folder).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def debugging() -> bool:
    """Whether tracebacks are wanted (``--debug`` or ``MPFAS_DEBUG=1``)."""
    return os.environ.get("MPFAS_DEBUG", "") not in ("", "0")


def report_error(error: BaseException | str, line: str | None = None) -> None:
    """Print ``error: ...`` (``line``, else the error itself) on stderr, after the traceback
    when debugging: the one way a command reports the error that ends it."""
    if debugging() and isinstance(error, BaseException):
        traceback.print_exception(error)
    print(f"error: {error if line is None else line}", file=sys.stderr)


def os_error_line(error: OSError, path: str | os.PathLike | None = None) -> str:
    """One line for a failed file operation: the file, the reason and, for a full disk, the fix."""
    where = path if path is not None else error.filename
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC and "space" not in reason.lower():
        reason = f"{reason} (no space left on device)"
    line = f"cannot write {where}: {reason}" if where else reason
    if error.errno == errno.ENOSPC:
        line += " (free some space and run the command again)"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        line += " (no permission to write there: choose another folder)"
    return line


def load_failure(path: str | os.PathLike, error: BaseException, what: str) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file meant to be ``what``, in one
    line (torch's own text runs to several lines and advises ``weights_only=False``, which would
    run the file)."""
    if os.path.getsize(path) == 0:
        return "the file is empty (an interrupted copy or download?)"
    text = str(error)
    if "weights_only" in text.lower() or "unpickl" in text.lower():
        return (f"it is not {what} (corrupt, of another format, or holding objects other "
                "than tensors and plain containers), so it was not loaded; nothing in it ran")
    return (text.strip().splitlines() or [type(error).__name__])[0]
