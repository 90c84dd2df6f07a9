"""Reuse terms: the licence files, the citation file and what README and front page say."""

from __future__ import annotations

import re
import tomllib

import yaml

from mpfas_lib.paths import REPO_ROOT

CFF_REQUIRED = {"cff-version", "message", "title", "authors"}


def test_code_licence_matches_pyproject() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (REPO_ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_book_licence_names_cc_by_and_the_photographs() -> None:
    text = (REPO_ROOT / "LICENSE-BOOK.md").read_text()
    assert "https://creativecommons.org/licenses/by/4.0/legalcode" in text
    for photo in ("astronaut()", "camera()", "grace_hopper.jpg"):
        assert photo in text


def test_citation_cff_describes_the_book_and_cites_the_paper() -> None:
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text())
    assert CFF_REQUIRED <= set(cff) and cff["cff-version"] == "1.2.0"
    assert cff["license"] == ["MIT", "CC-BY-4.0"]
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    doi = re.search(r"cai2022metapattern,.*?doi\s*=\s*\{([^}]+)\}", bib, re.S)
    assert doi is not None and cff["references"][0]["doi"] == doi.group(1)
    assert cff["version"] in (REPO_ROOT / "README.md").read_text()


def test_readme_and_front_page_say_how_to_reuse_and_cite() -> None:
    for page in ("README.md", "book/intro.md"):
        text = (REPO_ROOT / page).read_text()
        assert "CC BY 4.0" in text and "MIT" in text and "CITATION.cff" in text, page
