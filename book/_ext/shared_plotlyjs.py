"""Sphinx extension: pages load plotly.js from one shared file instead of each embedding it.

``mpfas_lib.viz.interactive.html`` embeds plotly.js (about 5 MB) inline with the first
figure of a notebook, so the notebook also works offline in JupyterLab. In the built book
every interactive page would then carry its own copy, which a reader downloads once per
page. This extension replaces each inline copy, at the same place in the page (so it still
runs synchronously before the figure scripts that call ``Plotly``), by
``<script src=".../_static/plotly.min.js">`` and writes that file once: the bundle shipped
in the pinned plotly package, the very text that was inlined. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the shared bundle goes, relative to the HTML output folder.
STATIC_NAME = "_static/plotly.min.js"
_OPEN_TAG = re.compile(r"<script\b[^<>]*>\Z")
# The licence header that starts any plotly.js bundle, e.g. "/**\n* plotly.js v3.0.1".
_ANY_BUNDLE = re.compile(r"<script\b[^<>]*>\s*/\*\*\s*\*\s*plotly\.js v([0-9][\w.-]*)")


@functools.cache
def plotlyjs() -> str:
    """The plotly.js bundle of the installed plotly package (what ``to_html`` inlines)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def share_plotlyjs(body: str, bundle: str, src: str) -> tuple[str, int]:
    """``body`` with every inline ``<script>bundle</script>`` replaced by one loading ``src``.

    Only a whole script element whose content is exactly ``bundle`` is replaced; the new
    tag takes its place, so scripts after it still find ``Plotly`` (a ``src`` script without
    ``async``/``defer`` runs before parsing goes on). Returns (new body, replacements).
    """
    if not bundle:
        raise ValueError("share_plotlyjs needs a non-empty plotly.js bundle")
    out, n, pos = [], 0, 0
    while (i := body.find(bundle, pos)) >= 0:
        start = body.rfind("<script", pos, i)
        end = i + len(bundle)
        if start >= 0 and _OPEN_TAG.match(body, start, i) and body.startswith("</script>", end):
            out.append(body[pos:start])
            out.append(f'<script charset="utf-8" src="{src}"></script>')
            pos = end + len("</script>")
            n += 1
        else:  # the text occurs but not as a script's whole content: keep it as it is
            out.append(body[pos:i + 1])
            pos = i + 1
    out.append(body[pos:])
    return "".join(out), n


def _page_context(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if not body or "plotly.js v" not in body:
        return
    src = context["pathto"](STATIC_NAME, 1)
    context["body"], n = share_plotlyjs(body, plotlyjs(), src)
    left = _ANY_BUNDLE.search(context["body"])
    if left:
        logger.warning(
            "%s: embeds plotly.js v%s, not the installed plotly package's bundle, so it stays "
            "inline; re-execute the notebook (remove _build/.jupyter_cache)", pagename,
            left.group(1), location=pagename)
    elif n:
        logger.verbose("%s: plotly.js loaded from %s (%d inline copies removed)", pagename,
                       STATIC_NAME, n)


def _write_bundle(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / STATIC_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(plotlyjs(), encoding="utf-8", newline="")
    os.replace(tmp, target)


def setup(app) -> dict:
    """Register the page rewrite and the copy of the shared bundle."""
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _page_context, priority=100)
    app.connect("build-finished", _write_bundle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
