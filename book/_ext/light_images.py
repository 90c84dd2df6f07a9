"""Sphinx extension: a large PNG picture is served as WebP, a fraction of its bytes.

A notebook's figure of photographs (chapters 03 and 04 show grids of captured faces) comes
out of matplotlib as a PNG of one to two megabytes, as heavy as the rest of its page; plots
are far below the limit. Each PNG above :data:`LIMIT` bytes that a page shows is written
once more as WebP (quality 90, no visible difference at the page's size) beside the PNG,
and the page shows that file. Runs before Sphinx collects the page's images, so the WebP
is what the build copies to ``_images``.
"""

from __future__ import annotations

import os
from pathlib import Path

from docutils import nodes
from PIL import Image

#: A PNG larger than this (bytes) is served as WebP.
LIMIT = 400_000
QUALITY = 90


def webp_for(png: Path, limit: int = LIMIT) -> Path | None:
    """The WebP twin of ``png`` (written when missing or older), or None for a small PNG."""
    if png.suffix.lower() != ".png" or not png.is_file() or png.stat().st_size <= limit:
        return None
    webp = png.with_suffix(".webp")
    if not webp.is_file() or webp.stat().st_mtime < png.stat().st_mtime:
        with Image.open(png) as im:
            picture = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        tmp = webp.with_name(f"{webp.name}.{os.getpid()}.tmp")
        picture.save(tmp, format="WEBP", quality=QUALITY, method=6)
        os.replace(tmp, webp)
    return webp


def _source_path(app, docname: str, uri: str) -> Path:
    """The file of an image URI as Sphinx reads it: ``/x`` from the source folder, else
    relative to the document."""
    if uri.startswith("/"):
        return Path(app.srcdir) / uri.lstrip("/")
    return (Path(app.srcdir) / docname).parent / uri


def _lighten(app, doctree) -> None:
    docname = app.env.docname
    for node in doctree.findall(nodes.image):
        uri = node.get("uri", "")
        if "://" in uri or not uri.lower().endswith(".png"):
            continue
        webp = webp_for(_source_path(app, docname, uri))
        if webp is not None:
            node["uri"] = uri[: -len(".png")] + ".webp"


def setup(app) -> dict:
    """Register the swap before Sphinx's image collector (doctree-read, priority 500)."""
    app.connect("doctree-read", _lighten, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
