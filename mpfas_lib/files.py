"""Safe files for every command: atomic writes, one writer per folder, checked folders.

A file or folder that cannot be used is reported as a one-line :class:`~mpfas_lib.errors.UserError`
naming the option or variable (see :mod:`mpfas_lib.errors`).
"""

from __future__ import annotations

import fcntl
import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mpfas_lib.errors import UserError

TMP_SUFFIX = ".tmp"


@functools.cache
def _umask() -> int:
    """The process umask, read on first use (os.umask can only be read by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_dir(path: str | os.PathLike, what: str, create: bool = True) -> Path:
    """Create ``path`` if needed and prove it takes a file, else a UserError naming ``what``.

    ``os.access`` is not enough (it says yes to root on a read-only mount), so a probe file is
    created and removed. With ``create=False`` (argument checks before any work) a missing
    folder is not made: its nearest existing parent must take the probe instead.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file, not a folder: choose a folder")
    probe_dir = path
    if not create:
        while not probe_dir.exists() and probe_dir != probe_dir.parent:
            probe_dir = probe_dir.parent
        if not probe_dir.is_dir():
            raise UserError(f"{what} {path} cannot be made: {probe_dir} is a file")
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UserError(f"{what} {path} is not a writable folder: "
                        f"{error.strerror or error}") from None
    return path


def writable_file(path: str | os.PathLike, what: str) -> Path:
    """Check that ``path`` can be (re)written as a file: not a folder, its folder writable."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder: give a file name")
    writable_dir(path.parent, f"the folder of {what}")
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], mode: str = "wb") -> Path:
    """Write through ``write`` into a temporary file of the same folder, then ``os.replace`` it.

    A killed process leaves the previous file intact (and at most a ``.NAME.*.tmp`` orphan, see
    :func:`remove_orphans`); a write that fails (full disk) raises ``OSError`` naming the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes the file private; give it open()'s mode
    checked = _CheckedFile(os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})))
    try:
        with checked.handle:
            try:
                write(checked)
            except Exception:
                # a writer that swallows the OSError of a full disk (torch.save raises
                # "unexpected pos") must not hide it: raise the original error instead
                if checked.error is not None:
                    raise checked.error from None
                raise
            checked.handle.flush()
            os.fsync(checked.handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        _unlink(tmp)
        if error.filename is None:
            error.filename = str(path)
        raise
    except BaseException:
        _unlink(tmp)
        raise
    return path


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """Write bytes atomically (temporary file + ``os.replace``)."""
    return atomic_write(path, lambda handle: handle.write(data), "wb")


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically: a killed run never leaves a half-written checkpoint."""
    import torch  # only here: the grader and the student edition use this module without torch

    return atomic_write(path, lambda handle: torch.save(obj, handle), "wb")


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """Write a text file atomically (temporary file + ``os.replace``)."""
    return atomic_write(path, lambda handle: handle.write(text), "w")


class _CheckedFile:
    """A file object that remembers the ``OSError`` of a failed write (for wrapping writers)."""

    def __init__(self, handle: IO) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


def _unlink(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_orphans(folder: str | os.PathLike) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files that killed atomic writes left in ``folder``.

    Call it only while holding the folder's :class:`FolderLock`: no live writer owns them then.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        if tmp.is_file():
            _unlink(tmp)
            removed.append(tmp)
    return removed


class FolderLock:
    """One writer per folder: ``folder/.lock`` held with ``flock`` (released if the holder dies).

    A second process asking for the same folder is refused with a :class:`UserError` naming the
    folder and the holder's process id; a killed holder frees the lock, so ``--resume`` works.
    """

    def __init__(self, folder: str | os.PathLike, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.what = what
        self._handle: IO | None = None

    def acquire(self) -> FolderLock:
        """Take the lock or raise :class:`UserError` (exit code 1)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = (self.folder / ".lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise UserError(f"{self.what} {self.folder} is in use by another process (pid "
                            f"{holder}, lock {self.folder / '.lock'}): wait for it to finish, "
                            "or choose another --out or run_name", exit_code=1) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Let the next writer in."""
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def env_dir(variable: str, default: Path) -> Path:
    """The folder named by an environment variable (else ``default``), created and writable."""
    given = os.environ.get(variable)
    path = Path(given).expanduser() if given else default
    what = f"${variable}={given}:" if given else f"default of ${variable}:"
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file, not a folder: set ${variable} to a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{what} cannot create {path} ({error.strerror or error}): set "
                        f"${variable} to a writable folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path} is not writable: set ${variable} to a writable folder")
    return path
