"""Each chapter's references, listed at its end for JupyterLab (the book has its bibliography).

JupyterLab's MyST renderer cannot read ``book/references.bib``: a ``{cite}`` role shows its key
with a warning mark. So every chapter notebook that cites ends with a "References" markdown
cell, tagged ``remove-cell`` (the built book drops it: its own bibliography resolves the
roles), that lists each key the chapter cites beside its entry in ``book/references.bib``.
This script writes those cells (``notebooks/NN_*.py``, then ``jupytext --sync``); ``--check``
names the chapters whose cell is missing or out of date (``tests/test_chapter_references.py``
runs it)::

    python scripts/chapter_references.py            # write the cells
    python scripts/chapter_references.py --check    # exit 1 when one is out of date
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mpfas_lib.helptext import DocstringFormatter  # noqa: E402

CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
HEADER = '# %% [markdown] tags=["remove-cell"]\n# ## References\n'
CELL = re.compile(r"\n*" + re.escape(HEADER) + r".*?(?=\n# %%|\Z)", re.S)
NOTE = ("In the book these keys are resolved and listed in its bibliography; for JupyterLab, "
        "`scripts/chapter_references.py` writes this cell from `book/references.bib`.")
WIDTH = 86  # the text after "# " within the notebooks' line limit
ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303"}


def _field_value(text: str, start: int) -> tuple[str, int]:
    """The braced (or bare) value that starts at ``text[start]`` and the index after it."""
    if text[start] != "{":
        end = re.compile(r"[,\n}]").search(text, start).start()
        return text[start:end].strip(), end
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1:index], index + 1
    raise ValueError("unbalanced braces")


def parse_bibtex(text: str, where: str = "references.bib") -> dict[str, dict[str, str]]:
    """Entries of a BibTeX file: {key: {"type": ..., field: raw value}}."""
    entries: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        fields, index = {"type": match.group(1).lower()}, match.end()
        while True:
            field = re.compile(r"\s*(\w+)\s*=\s*").match(text, index)
            if not field:
                break
            try:
                value, index = _field_value(text, field.end())
            except ValueError as error:
                raise ValueError(f"{where}: entry {match.group(2)}: {error}") from None
            fields[field.group(1).lower()] = value
            index = re.compile(r"\s*,?").match(text, index).end()
        entries[match.group(2)] = fields
    return entries


def plain(value: str) -> str:
    """LaTeX markup of a field as text: accents, ``--``, ``\\url``, braces."""
    value = re.sub(r"\\url\{([^}]*)\}", r"\1", value)
    value = re.sub(r"\{?\\([\"'`^~])\{?([A-Za-z])\}?\}?",
                   lambda m: unicodedata.normalize("NFC", m.group(2) + ACCENTS[m.group(1)]),
                   value)
    value = value.replace("---", "\u2014").replace("--", "\u2013")
    return " ".join(value.replace("{", "").replace("}", "").split())


def _person(name: str) -> str:
    """``Last, First Middle`` (or ``First Last``) as ``F. M. Last``; a braced name as it is."""
    if name.startswith("{"):
        return plain(name)
    last, _, first = name.partition(", ") if ", " in name else (
        name.rsplit(" ", 1)[-1], "", name.rsplit(" ", 1)[0])
    initials = " ".join(f"{part[0]}." for part in plain(first).replace(".", " ").split())
    return f"{initials} {plain(last)}".strip()


def authors(value: str) -> str:
    """The author field as ``A. One, B. Two and C. Three``."""
    people = [_person(name.strip()) for name in re.split(r"\s+and\s+", value.strip())]
    return people[0] if len(people) == 1 else f"{', '.join(people[:-1])} and {people[-1]}"


def format_entry(fields: dict[str, str]) -> str:
    """One entry as a line of text: authors (year). *Title*. Venue, volume, pages. DOI link."""
    venue = next((fields[k] for k in ("journal", "booktitle", "institution", "howpublished")
                  if k in fields), "")
    details = [plain(venue)] if venue else []
    if "volume" in fields:
        details.append(plain(fields["volume"]) + (f"({plain(fields['number'])})"
                                                 if "number" in fields else ""))
    elif "number" in fields:
        details.append(plain(fields["number"]))
    if "pages" in fields:
        details.append(plain(fields["pages"]))
    text = f"{authors(fields.get('author', '?'))} ({plain(fields.get('year', 'n.d.'))}). "
    text += f"*{plain(fields.get('title', '?'))}*."
    if details:  # no full stop after a closing address
        text += f" {', '.join(details)}" + ("" if details[-1].startswith("http") else ".")
    if "doi" in fields:
        text += f" https://doi.org/{plain(fields['doi'])}"
    return text


def cited_keys(source: str) -> list[str]:
    """The keys a chapter cites, in the order of their first citation."""
    keys: list[str] = []
    for match in CITE.finditer(CELL.sub("", source)):
        keys += [k.strip() for k in match.group(1).split(",") if k.strip() not in keys]
    return keys


def references_cell(keys: list[str], entries: dict[str, dict[str, str]], where: str) -> str:
    """The References cell (jupytext percent text) listing ``keys``, sorted as the book sorts."""
    missing = [k for k in keys if k not in entries]
    if missing:
        raise ValueError(f"{where}: cites {', '.join(missing)}, not in book/references.bib")
    order = sorted(keys, key=lambda k: (_sort_name(entries[k]), k))
    lines = [*textwrap.wrap(NOTE, WIDTH), ""]
    for key in order:
        lines += textwrap.wrap(f"- `{key}`: {format_entry(entries[key])}", WIDTH,
                               subsequent_indent="  ", break_on_hyphens=False)
    return HEADER + "#\n" + "".join(f"# {line}".rstrip() + "\n" for line in lines)


def _sort_name(fields: dict[str, str]) -> tuple[str, str]:
    """(first author's surname, year): the order of an author-year bibliography."""
    first = re.split(r"\s+and\s+", fields.get("author", "").strip())[0]
    surname = first.partition(",")[0] if "," in first else first.rsplit(" ", 1)[-1]
    return plain(surname).lower(), plain(fields.get("year", ""))


def with_references(source: str, entries: dict[str, dict[str, str]], where: str) -> str:
    """A notebook's jupytext text with its References cell written (or removed: no cite)."""
    body = CELL.sub("", source).rstrip("\n") + "\n"
    keys = cited_keys(body)
    return body + "\n" + references_cell(keys, entries, where) if keys else body


def main(argv: list[str] | None = None) -> int:
    """Write (or --check) every chapter's References cell."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--bib", type=Path, default=ROOT / "book" / "references.bib")
    args = parser.parse_args(argv)
    try:
        entries = parse_bibtex(args.bib.read_text(encoding="utf-8"), str(args.bib))
        stale = []
        for source in sorted(args.notebooks.glob("[0-9][0-9]_*.py")):
            text = source.read_text(encoding="utf-8")
            wanted = with_references(text, entries, str(source))
            if wanted != text:
                stale.append(source)
                if not args.check:
                    source.write_text(wanted, encoding="utf-8")
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        for source in stale:
            print(f"{source}: its References cell is out of date: run "
                  "python scripts/chapter_references.py", file=sys.stderr)
        return 1 if stale else 0
    if stale:
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", *map(str, stale)],
                       check=True, capture_output=True)
    print(f"{len(stale)} chapters written" + (f": {', '.join(p.name for p in stale)}"
                                               if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
