"""Each chapter lists its references for JupyterLab (scripts/chapter_references.py), in sync."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jupytext
import pytest

from mpfas_lib.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    "chapter_references", REPO_ROOT / "scripts" / "chapter_references.py")
refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refs)

BIB = REPO_ROOT / "book" / "references.bib"
CHAPTERS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_every_chapter_cell_is_up_to_date() -> None:
    assert refs.main(["--check"]) == 0, "run python scripts/chapter_references.py"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.name)
def test_the_references_cell_is_last_hidden_and_lists_every_key(source: Path) -> None:
    cells = jupytext.read(source).cells
    keys = refs.cited_keys(source.read_text())
    if not keys:
        assert not any(c.source.startswith("## References") for c in cells)
        return
    last = cells[-1]
    assert last.cell_type == "markdown" and last.metadata.get("tags") == ["remove-cell"]
    assert last.source.startswith("## References")
    listed = [line.split("`")[1] for line in last.source.splitlines() if line.startswith("- `")]
    assert sorted(listed) == sorted(keys)


def test_bibtex_fields_become_text() -> None:
    entries = refs.parse_bibtex(BIB.read_text())
    assert len(entries) == BIB.read_text().count("\n@") + BIB.read_text().startswith("@")
    text = refs.format_entry(entries["ojala2002lbp"])
    assert text.startswith("T. Ojala, M. Pietikäinen and T. Mäenpää (2002). *Multiresolution")
    assert text.endswith("24(7), 971–987.")
    assert refs.format_entry(entries["cai2022metapattern"]).endswith(
        ". https://doi.org/10.1109/TIFS.2022.3158551")
    assert refs.authors("{ISO/IEC JTC 1/SC 37}") == "ISO/IEC JTC 1/SC 37"
    assert refs.authors("Kaiming He and Sun, Jian") == "K. He and J. Sun"


def test_cited_keys_read_every_role_form_once() -> None:
    text = "# see {cite}`a2020,b2021` and {cite:p}`c2019`, again {cite:t}`a2020`\n"
    assert refs.cited_keys(text) == ["a2020", "b2021", "c2019"]


def test_the_cell_is_rewritten_in_place_and_removed_without_citations() -> None:
    entries = {"a2020": {"type": "article", "author": "One, Ann", "title": "T", "year": "2020"}}
    source = '# %% [markdown]\n# As {cite}`a2020` shows.\n\n# %%\nx = 1\n'
    once = refs.with_references(source, entries, "nb.py")
    assert once.endswith("# - `a2020`: A. One (2020). *T*.\n") and once.startswith(source)
    assert refs.with_references(once, entries, "nb.py") == once
    assert refs.with_references(once.replace("{cite}`a2020`", "it"), entries, "nb.py") == (
        source.replace("{cite}`a2020`", "it"))
    with pytest.raises(ValueError, match="nb.py: cites b1999, not in book/references.bib"):
        refs.with_references(source.replace("a2020", "b1999"), entries, "nb.py")


def test_a_stale_chapter_is_named(tmp_path: Path, capsys) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "01_x.py").write_text("# %% [markdown]\n# {cite}`cai2022metapattern`\n")
    assert refs.main(["--check", "--notebooks", str(notebooks), "--bib", str(BIB)]) == 1
    assert "01_x.py: its References cell is out of date" in capsys.readouterr().err
