"""The book as one PDF (scripts/make_pdf.py), printed from a tiny built book of three pages."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from mpfas_lib.paths import REPO_ROOT

_SCRIPT = REPO_ROOT / "scripts" / "make_pdf.py"
_spec = importlib.util.spec_from_file_location("make_pdf", _SCRIPT)
make_pdf = importlib.util.module_from_spec(_spec)
sys.modules["make_pdf"] = make_pdf
_spec.loader.exec_module(make_pdf)

TOC = """format: jb-book
root: book/intro
parts:
  - caption: Getting started
    chapters:
      - file: notebooks/01_first
  - caption: The method
    chapters:
      - file: notebooks/02_second
        sections:
          - file: book/extra
"""
# A collapsed solution, hidden as sphinx-togglebutton hides it.
HIDDEN_CSS = ".toggle-hidden .admonition-title ~ * { visibility: hidden; height: 0; margin: 0; }"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<link rel='icon' href='data:,'><style>{HIDDEN_CSS}</style></head><body>"
            f"<main class='bd-main'><article class='bd-article'><section><h1>{title}"
            f"<a class=\"headerlink\" href=\"#x\">¶</a></h1>{body}</section></article></main>"
            "</body></html>")


@pytest.fixture()
def tiny_book(tmp_path):
    html = tmp_path / "html"
    pages = {
        "book/intro.html": _page("A tiny book", "<p>Opening words.</p>"),
        "notebooks/01_first.html": _page(
            "First steps", '<p>See <a href="../notebooks/02_second.html">the next one</a> and '
            '<a href="https://example.org/paper">the paper</a>.</p>'),
        "notebooks/02_second.html": _page(
            "Shape-from-shading fields", "<div class='admonition dropdown toggle toggle-hidden'>"
            "<p class='admonition-title'>Solution</p><p>The answer is forty-two.</p></div>"
            + "<p>A long chapter.</p>" * 120),
        "book/extra.html": _page("An extra section", "<p>More.</p>"),
    }
    for name, text in pages.items():
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text(text, encoding="utf-8")
    (html / "index.html").write_text("<meta http-equiv='refresh' content='0; book/intro.html'>")
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "_config.yml").write_text('title: "A tiny book"\nauthor: Someone\n'
                                          'copyright: "2026"\n')
    return tmp_path


def test_the_toc_gives_pages_in_order_with_their_part(tiny_book) -> None:
    chapters = make_pdf.toc_chapters(tiny_book / "_toc.yml")
    assert [(c.page, c.part) for c in chapters] == [
        ("book/intro.html", ""), ("notebooks/01_first.html", "Getting started"),
        ("notebooks/02_second.html", "The method"), ("book/extra.html", "The method")]


def test_a_page_title_is_its_first_heading_without_anchor() -> None:
    assert make_pdf.page_title(_page("Eq. 9 &amp; <em>HFN</em>", "")) == "Eq. 9 & HFN"
    assert make_pdf.page_title("<p>no heading</p>") == ""


def test_the_contents_list_each_chapter_with_its_page_under_its_part() -> None:
    chapters = [make_pdf.Chapter("a.html", "", "Intro", 3),
                make_pdf.Chapter("b.html", "Part <1>", "Bee", 5)]
    info = {"title": "T", "author": "A", "copyright": "2026"}
    text = make_pdf.front_matter(info, chapters, "2026-01-02")
    assert "<h3>Part &lt;1&gt;</h3>" in text and text.index("Intro") < text.index("Part")
    assert "<span>Bee</span><span class=\"dots\"></span><span>5</span>" in text


@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser",
                                                       "google-chrome")),
                    reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_pdf_has_every_chapter_bookmarked_and_no_link_to_the_local_server(
        tiny_book, capsys) -> None:
    from pypdf import PdfReader

    out = tiny_book / "book.pdf"
    assert make_pdf.main(["--html", str(tiny_book / "html"), "--toc", str(tiny_book / "_toc.yml"),
                          "--config", str(tiny_book / "_config.yml"), "--out", str(out)]) == 0
    assert f"{out}: " in capsys.readouterr().out
    reader = PdfReader(out)
    first = reader.pages[0].extract_text()
    assert "A tiny book" in first and "Someone" in first
    contents = reader.pages[1].extract_text()
    assert "Getting started" in contents and "First steps" in contents
    chapters = make_pdf.toc_chapters(tiny_book / "_toc.yml")
    outline = reader.outline
    assert [o.title for o in outline if not isinstance(o, list)] == [
        "A tiny book", "Getting started", "The method"]
    assert [o.title for o in outline[2]] == ["First steps"]
    assert [o.title for o in outline[4]] == ["Shape-from-shading fields", "An extra section"]
    text = "".join(p.extract_text() for p in reader.pages)
    assert "The answer is forty-two." in text  # the collapsed solution is printed open
    assert len(reader.pages) > 2 + len(chapters)  # the long chapter takes several pages
    uris = [str(a.get_object()["/A"]["/URI"]) for p in reader.pages
            for a in (p.get("/Annots") or []) if "/A" in a.get_object()]
    assert "https://example.org/paper" in uris
    assert not [u for u in uris if u.startswith("http://127.0.0.1")]
    # every chapter's title is on the page the contents give for it
    for ch in chapters:
        ch.title = make_pdf.page_title((tiny_book / "html" / ch.page).read_text())
    starts = [reader.get_destination_page_number(o) + 1 for o in
              [outline[0], outline[2][0], outline[4][0], outline[4][1]]]
    for ch, start in zip(chapters, starts, strict=True):
        ch.start = start
        assert f"{start}" in contents
    assert make_pdf.missing_chapters(out, chapters) == []
    chapters[1].title = "A chapter that is not there"
    assert make_pdf.missing_chapters(out, chapters) == [
        f"notebooks/01_first.html (A chapter that is not there) not found on page "
        f"{chapters[1].start}"]


def test_an_unbuilt_book_is_refused(tmp_path, capsys) -> None:
    assert make_pdf.main(["--html", str(tmp_path), "--toc", str(tmp_path / "t.yml")]) == 2
    assert "build the book first" in capsys.readouterr().err
