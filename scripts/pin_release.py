"""Pin the book to a release: the tag that Colab installs and the launch buttons open.

Writes ``RELEASE = "TAG"`` into the hidden first cell of every chapter notebook
(``notebooks/NN_*.py``, then ``jupytext --sync`` for the ``.ipynb``); see
:mod:`mpfas_lib.release`. A release is made in three steps::

    python scripts/pin_release.py v1.0          # the notebooks name the tag
    git commit -am "Release v1.0" && git tag v1.0
    make book                                   # its Colab and Binder buttons open v1.0

``python scripts/pin_release.py main`` unpins (the moving branch). ``--check`` prints the
release the notebooks name and fails when they disagree, or when it is a tag that git knows
but that does not point at the checked-out commit (the book would launch other code).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from mpfas_lib.helptext import DocstringFormatter
from mpfas_lib.release import BRANCH, book_release, pin

ROOT = Path(__file__).resolve().parent.parent


def git_commit(ref: str, cwd: Path) -> str | None:
    """The commit ``ref`` names in the repository at ``cwd``, or None when git does not know."""
    try:
        done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                              cwd=cwd, capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def check(notebooks: Path) -> int:
    """Print the notebooks' release; 1 when git knows it as another commit than HEAD."""
    release = book_release(notebooks)
    print(f"release: {release}")
    if release == BRANCH:
        return 0
    tagged, head = git_commit(release, notebooks), git_commit("HEAD", notebooks)
    if tagged is None:
        print(f"note: git knows no {release!r} yet: tag the commit that pins it")
    elif tagged != head:
        print(f"error: {release} is {tagged[:12]}, the checkout is {(head or '?')[:12]}: "
              "the built book would launch the code of another commit", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Pin (or check) the release of the notebooks."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("ref", nargs="?", help="the release tag (or main to unpin)")
    parser.add_argument("--check", action="store_true", help="only show and check the release")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = parser.parse_args(argv)
    if args.check == (args.ref is not None):
        parser.error("give a REF to pin, or --check")
    try:
        if args.check:
            return check(args.notebooks)
        changed = pin(args.notebooks, args.ref)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if changed:
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", *map(str, changed)],
                       check=True, capture_output=True)
    print(f"release {args.ref}: {len(changed)} notebooks changed"
          + (f" ({', '.join(p.name for p in changed)})" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
