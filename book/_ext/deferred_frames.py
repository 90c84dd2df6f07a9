"""Sphinx extension: an interactive figure's frames load when the figure is first shown.

``mpfas_lib.viz.interactive.html`` draws a figure in its first state and puts what it shows
only after a slider or menu moves (its animation frames and hidden pictures, most of an
explorer's bytes) into a ``<script type="application/json" class="mpfas-deferred"
data-plot="ID">`` block. In the built book that block would make every page carry every
frame. This extension moves each block's JSON into ``_frames/<hash>.js``, a script that
hands it to ``window.mpfasDeferred[ID]``, and leaves the empty block with ``data-src`` set:
the figure's loader then adds the file's script (not ``fetch``, so a book opened from a
folder works too) when the figure first comes near the screen. Files no page refers to are
removed at the end of the build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the frame files go, relative to the HTML output folder.
FOLDER = "_frames"
#: The JSON block that ``mpfas_lib.viz.interactive.html`` writes (its ``DEFERRED_CLASS``).
BLOCK = re.compile(
    r'<script type="application/json" class="mpfas-deferred" data-plot="([^"<>]+)">'
    r"(.*?)</script>", re.S)
_REFERENCE = re.compile(FOLDER + r"/([0-9a-f]{20}\.js)")


def frame_file(plot_id: str, payload: str) -> tuple[str, str]:
    """(file name, file text) of one block: a script that hands ``payload`` to the figure."""
    text = f"window.mpfasDeferred[{json.dumps(plot_id)}]({payload});\n"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20] + ".js", text


def move_blocks(body: str, outdir: Path, src_of) -> tuple[str, int]:
    """``body`` with every deferred block's JSON written to a file of ``outdir/_frames``.

    ``src_of(name)`` gives the page's relative URL of ``_frames/name``. Returns (new body,
    blocks moved).
    """
    moved = 0

    def replace(m: re.Match) -> str:
        nonlocal moved
        plot_id, payload = m.group(1), m.group(2)
        if not payload.strip():  # already moved (a page rendered twice)
            return m.group(0)
        name, text = frame_file(plot_id, payload)
        target = outdir / FOLDER / name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8", newline="")
            os.replace(tmp, target)
        moved += 1
        return (f'<script type="application/json" class="mpfas-deferred" data-plot="{plot_id}" '
                f'data-src="{src_of(FOLDER + "/" + name)}"></script>')

    return BLOCK.sub(replace, body), moved


def unreferenced(outdir: Path) -> list[Path]:
    """Frame files of ``outdir`` that no built HTML page refers to (left by earlier builds)."""
    folder = outdir / FOLDER
    if not folder.is_dir():
        return []
    used: set[str] = set()
    for page in outdir.rglob("*.html"):
        used.update(_REFERENCE.findall(page.read_text(encoding="utf-8", errors="replace")))
    return sorted(p for p in folder.glob("*.js") if p.name not in used)


def _page_context(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if not body or "mpfas-deferred" not in body:
        return
    context["body"], n = move_blocks(body, Path(app.outdir),
                                     lambda name: context["pathto"](name, 1))
    logger.verbose("%s: %d figure(s) load their frames when shown", pagename, n)


def _clean(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path in unreferenced(Path(app.outdir)):
        path.unlink()


def setup(app) -> dict:
    """Register the page rewrite and the clean-up of stale frame files."""
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _page_context, priority=100)
    app.connect("build-finished", _clean)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
