"""The book's release: the git ref that a hosted runtime installs and the launch buttons open.

Every chapter notebook's hidden first cell names it (``RELEASE = "..."``) and hands it to
:mod:`mpfas_lib.hosted`, which installs the library of that ref (``git+<repository>@<ref>``).
``scripts/pin_release.py TAG`` writes the tag into every notebook before the release commit is
tagged with it, so the tagged notebooks install the library of their own tag; the book built
from them points its Colab and Binder buttons at the same tag (``book/_ext/release_pin.py``),
so a reader who launches a chapter runs the code of the book they read. Between releases (and
in a fresh clone) it is ``main``. A commit hash cannot serve: a commit cannot name itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from mpfas_lib.hosted import BRANCH

__all__ = ["BRANCH", "book_release", "check_ref", "notebook_release", "pin"]

RELEASE_LINE = re.compile(r'^(?P<head>\s*RELEASE = )"(?P<ref>[^"]*)"', re.M)
# a tag or branch name git accepts (a subset: no "..", no leading "-", no spaces)
REF = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/+-]*(?<![./])")


def check_ref(ref: str) -> str:
    """The ref itself, or a ValueError when git would not accept it as a tag name."""
    if not REF.fullmatch(ref) or ref.endswith(".lock"):
        raise ValueError(f"not a git tag or branch name: {ref!r}")
    return ref


def notebook_release(source: Path) -> str:
    """The ``RELEASE`` that a notebook's (jupytext ``.py``) bootstrap cell names."""
    found = RELEASE_LINE.findall(source.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise ValueError(f"{source}: expected one RELEASE = \"...\" line (the bootstrap cell), "
                         f"found {len(found)}")
    return check_ref(found[0][1])


def book_release(notebooks: Path) -> str:
    """The one release that every ``NN_*.py`` chapter notebook names (a ValueError if not)."""
    sources = sorted(notebooks.glob("[0-9][0-9]_*.py"))
    if not sources:
        raise ValueError(f"{notebooks}: no chapter notebooks (NN_*.py)")
    refs = {source.name: notebook_release(source) for source in sources}
    if len(set(refs.values())) > 1:
        listed = ", ".join(f"{name}: {ref}" for name, ref in refs.items())
        raise ValueError(f"{notebooks}: the notebooks name different releases ({listed}); "
                         "run scripts/pin_release.py REF")
    return next(iter(refs.values()))


def pin(notebooks: Path, ref: str) -> list[Path]:
    """Write ``RELEASE = "ref"`` into every chapter notebook; the ``.py`` files changed."""
    check_ref(ref)
    changed = []
    for source in sorted(notebooks.glob("[0-9][0-9]_*.py")):
        notebook_release(source)  # exactly one line to change, or an error naming the file
        text = source.read_text(encoding="utf-8")
        pinned = RELEASE_LINE.sub(lambda m: f'{m["head"]}"{ref}"', text)
        if pinned != text:
            source.write_text(pinned, encoding="utf-8")
            changed.append(source)
    return changed
