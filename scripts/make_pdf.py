"""Print the built book as one PDF: a title page, the contents, then every chapter page.

Serves the built HTML from 127.0.0.1 and prints each page of the table of contents with
headless Chromium's print-to-PDF (the DevTools protocol, as ``scripts/check_book.py``
drives it) at A4, laid out at the paper's width: executed outputs as the web page shows
them, equations typeset by the book's own MathJax, each interactive figure in its first
state, and the collapsed solutions opened (a page cannot be clicked). The site's menus,
buttons and sidebars are left out. The pages are merged with ``pypdf`` behind a title page
and a contents page that gives each chapter's page, with one bookmark per part and
chapter. Links between the book's pages are dropped (they would point at the local
server); links to other sites stay. The merged PDF is then read back and must show each
chapter's title on its first page.

Usage (after ``jupyter-book build .``; ``make pdf`` runs both)::

    python scripts/make_pdf.py --html _build/html --toc _toc.yml --out _build/html/mpfas.pdf
"""

from __future__ import annotations

import argparse
import base64
import datetime
import html
import io
import json
import re
import shutil
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_book  # noqa: E402  (serve, DevTools, start_chromium: one Chromium driver)

from mpfas_lib.helptext import DocstringFormatter  # noqa: E402

#: A4 in inches, margins in inches, and the text width in CSS pixels (96 a inch) that the
#: pages are laid out at, so figures drawn for the screen fit the paper.
PAPER = {"paperWidth": 8.27, "paperHeight": 11.69, "marginTop": 0.55, "marginBottom": 0.6,
         "marginLeft": 0.5, "marginRight": 0.5}
WIDTH_PX = round((PAPER["paperWidth"] - PAPER["marginLeft"] - PAPER["marginRight"]) * 96)

# What a printed page does without: the site's header, sidebars, buttons and page
# navigation, the theme's own printed page contents (the chapter's title again). Code and
# outputs wrap instead of scrolling; a figure or a cell shorter than a page is not cut
# across two (the theme keeps code blocks whole; their cell's frame must move with them).
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .bd-footer-content, #jb-print-docs-body, .skip-link,
.copybtn, .toggle-button, .headerlink, .search-button, .theme-switch-button,
.primary-toggle, .secondary-toggle, .article-header-buttons, #pst-back-to-top
  { display: none !important; }
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
html, body, .bd-container, .bd-page-width, .bd-main, .bd-content, .bd-article-container,
.bd-article { display: block !important; max-width: none !important; min-width: 0 !important;
  width: auto !important; margin: 0 !important; padding: 0 !important;
  overflow: visible !important; }
pre, .output pre, .highlight pre { white-space: pre-wrap !important; word-break: break-word;
  overflow: visible !important; max-height: none !important; }
.cell_output, .output, .output_area { max-height: none !important; overflow: visible !important; }
.plotly-graph-div, figure, img, .cell_output img, div.cell_input, div.cell_output .output
  { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
"""

# Opens the collapsed solutions (togglebutton admonitions, sphinx-design dropdowns) but not
# the cells the book hides on purpose; then waits for MathJax and every plotly figure.
READY_JS = """
(async () => {
  const style = document.createElement('style');
  style.textContent = %(css)s;
  document.head.appendChild(style);
  document.querySelectorAll('.admonition.toggle-hidden').forEach(a => {
    a.classList.remove('toggle-hidden');
    a.querySelectorAll('.toggle-button').forEach(b => b.classList.remove('toggle-button-hidden'));
  });
  document.querySelectorAll('details.sd-dropdown').forEach(d => { d.open = true; });
  const late = ms => new Promise(r => setTimeout(r, ms));
  if (document.querySelector('.math')) {
    const mj = window.MathJax;
    if (!mj || !mj.startup || !mj.startup.promise) return 'MathJax is not loaded';
    await Promise.race([mj.startup.promise, late(30000)]);
  }
  const figures = Array.from(document.querySelectorAll('.plotly-graph-div'));
  for (let i = 0; i < 100 && figures.some(gd => !gd._fullLayout); i++) await late(100);
  if (figures.some(gd => !gd._fullLayout)) return 'a plotly figure was not drawn';
  if (window.Plotly) await Promise.all(figures.map(gd => Plotly.Plots.resize(gd)));
  // an equation or table wider than the paper is shrunk to fit, not cut off
  document.querySelectorAll('mjx-container[display="true"], table').forEach(el => {
    const room = el.parentElement.clientWidth, need = el.scrollWidth;
    if (room > 0 && need > room) el.style.zoom = (0.98 * room / need).toFixed(3);
  });
  await document.fonts.ready;
  await late(500);
  return 'ready';
})()
"""

FRONT_CSS = """
body { font-family: sans-serif; color: #222; margin: 0; }
.title { height: 9.6in; display: flex; flex-direction: column; justify-content: center;
  break-after: page; }
.title h1 { font-size: 30pt; line-height: 1.2; margin: 0 0 0.4in 0; }
.title p { font-size: 12pt; margin: 0.08in 0; }
.contents h2 { font-size: 18pt; }
.contents h3 { font-size: 12pt; margin: 0.22in 0 0.06in 0; color: #555; }
.entry { display: flex; font-size: 11pt; margin: 0.05in 0; }
.entry .dots { flex: 1; border-bottom: 1px dotted #999; margin: 0 0.08in 0.05in; }
"""


@dataclass
class Chapter:
    """One page of the table of contents as printed."""

    page: str  # relative to the HTML root
    part: str  # the part's caption ("" for the root page)
    title: str = ""
    start: int = 0  # its first page in the merged PDF (1-based)
    pages: int = 0


def toc_chapters(toc: Path) -> list[Chapter]:
    """The pages of a Jupyter Book ``_toc.yml`` in order (root first), with their part."""
    data = yaml.safe_load(toc.read_text())
    pages = check_book.chapter_pages(toc)
    caption_of: dict[str, str] = {}

    def walk(entries: list, caption: str) -> None:
        for entry in entries or []:
            if "file" in entry:
                caption_of.setdefault(re.sub(r"\.(md|ipynb)$", "", entry["file"]) + ".html",
                                      caption)
            walk(entry.get("sections", []), caption)
            walk(entry.get("chapters", []), caption)

    for part in data.get("parts", []):
        walk(part.get("chapters", []), part.get("caption", ""))
    return [Chapter(page=p, part=caption_of.get(p, "")) for p in pages]


def page_title(text: str) -> str:
    """The first ``<h1>`` of a built page, as text (its ``¶`` anchor and tags removed)."""
    m = re.search(r"<h1\b[^>]*>(.*?)</h1>", text, re.S | re.I)
    if m is None:
        return ""
    inner = re.sub(r"<a class=\"headerlink\".*?</a>", "", m.group(1), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", inner)).split())


def book_info(config: Path) -> dict[str, str]:
    """Title, author and copyright of ``_config.yml`` (empty strings when absent)."""
    data = yaml.safe_load(config.read_text()) if config.is_file() else {}
    return {k: str((data or {}).get(k, "") or "") for k in ("title", "author", "copyright")}


def front_matter(info: dict[str, str], chapters: list[Chapter], day: str) -> str:
    """The title page and the contents (each chapter with its page) as one HTML page."""
    e = html.escape
    rows, part = [], None
    for ch in chapters:
        if ch.part != part:
            part = ch.part
            if part:
                rows.append(f"<h3>{e(part)}</h3>")
        rows.append(f'<div class="entry"><span>{e(ch.title)}</span><span class="dots"></span>'
                    f"<span>{ch.start}</span></div>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(info['title'])}"
            f"</title><style>{FRONT_CSS}</style></head><body>"
            f"<section class='title'><h1>{e(info['title'])}</h1><p>{e(info['author'])}</p>"
            f"<p>Printed from the executed book on {e(day)}; interactive figures in their "
            "first state, solutions open.</p>"
            f"<p>© {e(info['copyright'])} {e(info['author'])}</p></section>"
            f"<section class='contents'><h2>Contents</h2>{''.join(rows)}</section>"
            "</body></html>")


class Printer:
    """Prints pages of the served book (and HTML text) to PDF bytes in one Chromium tab."""

    def __init__(self, dt: check_book.DevTools, base: str) -> None:
        self.dt, self.base = dt, base

    def _print(self, footer: str) -> bytes:
        out = self.dt.call("Page.printToPDF", printBackground=True, preferCSSPageSize=False,
                           displayHeaderFooter=True, headerTemplate="<span></span>",
                           footerTemplate=footer, **PAPER)
        return base64.b64decode(out["data"])

    def page(self, chapter: Chapter, book_title: str) -> bytes:
        """One page of the book, ready (:data:`READY_JS`) and printed with a footer."""
        self.dt.navigate(self.base + chapter.page, settle=1.0)
        state = self.dt.js(READY_JS % {"css": json.dumps(PRINT_CSS)})
        if state != "ready":
            raise RuntimeError(f"{chapter.page}: {state}")
        label = html.escape(f"{book_title} · {chapter.title}")
        footer = ("<div style='font-size:7pt;color:#666;width:100%;margin:0 0.5in;"
                  f"display:flex;justify-content:space-between'><span>{label}</span>"
                  "<span><span class='pageNumber'></span> / <span class='totalPages'></span>"
                  "</span></div>")
        return self._print(footer)

    def text(self, document: str) -> bytes:
        """An HTML document (the front matter) printed without header or footer."""
        self.dt.navigate("about:blank", settle=0.2)
        frame = self.dt.call("Page.getFrameTree")["frameTree"]["frame"]["id"]
        self.dt.call("Page.setDocumentContent", frameId=frame, html=document)
        self.dt.pump(0.5)
        return self._print("<span></span>")


def _local_links_dropped(writer, origin: str) -> int:
    """Remove link annotations that point at the local server; returns how many."""
    from pypdf.generic import ArrayObject, NameObject

    dropped = 0
    for page in writer.pages:
        annots = page.get("/Annots")
        if annots is None:
            continue
        keep = ArrayObject()
        for ref in annots.get_object():
            action = ref.get_object().get("/A")
            uri = str(action.get_object().get("/URI", "")) if action is not None else ""
            if uri.startswith(origin):
                dropped += 1
            else:
                keep.append(ref)
        page[NameObject("/Annots")] = keep
    return dropped


def merge(front: bytes, parts: list[bytes], chapters: list[Chapter], info: dict[str, str],
          origin: str):
    """One ``pypdf.PdfWriter``: the front matter, then each chapter, bookmarked by part."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(front)))
    parents: dict[str, object] = {}
    for ch, data in zip(chapters, parts, strict=True):
        start = len(writer.pages)
        writer.append(PdfReader(io.BytesIO(data)))
        parent = None
        if ch.part:
            if ch.part not in parents:
                parents[ch.part] = writer.add_outline_item(title=ch.part, page_number=start)
            parent = parents[ch.part]
        writer.add_outline_item(title=ch.title, page_number=start, parent=parent)
    _local_links_dropped(writer, origin)
    writer.add_metadata({"/Title": info["title"], "/Author": info["author"]})
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    return writer


def missing_chapters(pdf: Path, chapters: list[Chapter]) -> list[str]:
    """The chapters whose title the merged PDF does not show on their first page."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)

    def norm(s: str) -> str:  # ligatures (ﬁ) as letters, no spaces or punctuation
        return re.sub(r"\W+", "", unicodedata.normalize("NFKC", s)).lower()

    out = []
    for ch in chapters:
        shown = norm(reader.pages[ch.start - 1].extract_text()) if ch.start else ""
        if not ch.title or norm(ch.title) not in shown:
            out.append(f"{ch.page} ({ch.title or 'no title'}) not found on page {ch.start}")
    return out


def print_book(root: Path, chapters: list[Chapter], info: dict[str, str], out: Path,
               binary: str) -> None:
    """Print every chapter and the front matter, merge them into ``out`` and check it."""
    from pypdf import PdfReader

    for ch in chapters:
        ch.title = page_title((root / ch.page).read_text(encoding="utf-8")) or ch.page
    server, base = check_book.serve(root)
    profile = tempfile.mkdtemp(prefix="mpfas-chromium-")
    proc = None
    try:
        proc, ws_url = check_book.start_chromium(binary, profile)
        dt = check_book.DevTools(ws_url)
        dt.call("Page.enable")
        dt.call("Runtime.enable")
        dt.call("Emulation.setDeviceMetricsOverride", width=WIDTH_PX, height=1100,
                deviceScaleFactor=1, mobile=False)
        dt.call("Emulation.setEmulatedMedia", media="print")  # figures fitted to print layout
        printer = Printer(dt, base)
        parts = []
        for ch in chapters:
            parts.append(printer.page(ch, info["title"]))
            ch.pages = len(PdfReader(io.BytesIO(parts[-1])).pages)
            print(f"{ch.page}: {ch.pages} pages ({ch.title})")
        day = datetime.date.today().isoformat()
        front_pages = len(PdfReader(io.BytesIO(printer.text(
            front_matter(info, chapters, day)))).pages)
        start = front_pages + 1
        for ch in chapters:
            ch.start, start = start, start + ch.pages
        front = printer.text(front_matter(info, chapters, day))
        if len(PdfReader(io.BytesIO(front)).pages) != front_pages:
            raise RuntimeError("the contents changed length once page numbers were added")
    finally:
        check_book.stop_chromium(proc, server, profile)
    writer = merge(front, parts, chapters, info, base)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        writer.write(f)
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    """Write the PDF; exit status 0 when every chapter is in it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--html", default="_build/html", help="built book folder")
    parser.add_argument("--toc", default="_toc.yml", help="the book's table of contents")
    parser.add_argument("--config", default="_config.yml", help="the book's _config.yml")
    parser.add_argument("--out", default=None, help="the PDF (default: HTML/mpfas.pdf)")
    parser.add_argument("--chromium", default=None, help="Chromium binary")
    args = parser.parse_args(argv)

    root = Path(args.html).resolve()
    problem = check_book.built_book_problem(args.html, args.toc)
    chapters = toc_chapters(Path(args.toc)) if problem is None else []
    problem = problem or check_book.built_book_problem(args.html, args.toc,
                                                       [c.page for c in chapters])
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    binary = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if binary is None:
        print("error: no Chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else root / "mpfas.pdf"
    print_book(root, chapters, book_info(Path(args.config)), out, binary)
    lost = missing_chapters(out, chapters)
    from pypdf import PdfReader

    n = len(PdfReader(out).pages)
    print(f"{out}: {n} pages, {out.stat().st_size / 1e6:.1f} MB, {len(chapters)} chapters")
    if lost:
        for line in lost:
            print("FAIL:", line)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
