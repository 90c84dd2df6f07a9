"""A large PNG picture is served as WebP (book/_ext/light_images.py)."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import numpy as np
from docutils import nodes
from PIL import Image

from mpfas_lib.paths import REPO_ROOT

_EXT = REPO_ROOT / "book" / "_ext" / "light_images.py"
_spec = importlib.util.spec_from_file_location("light_images", _EXT)
ext = importlib.util.module_from_spec(_spec)
sys.modules["light_images"] = ext
_spec.loader.exec_module(ext)


def _photo_png(path, size: int = 400) -> None:
    """A smooth picture with fine noise: a PNG compresses it badly, as it does photographs."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, size)[None, :, None] + np.zeros((size, 1, 3))
    pixels = np.clip(ramp + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def test_a_large_png_gets_a_much_smaller_webp_of_the_same_size(tmp_path) -> None:
    png = tmp_path / "a.png"
    _photo_png(png)
    assert png.stat().st_size > 300_000
    webp = ext.webp_for(png, limit=300_000)
    assert webp == tmp_path / "a.webp" and webp.stat().st_size < png.stat().st_size / 3
    with Image.open(webp) as im, Image.open(png) as orig:
        assert im.size == orig.size and im.format == "WEBP"
        diff = np.abs(np.asarray(im.convert("RGB"), float) - np.asarray(orig, float)).mean()
    assert diff < 8  # of 255: the picture, not a different one
    assert ext.webp_for(png, limit=png.stat().st_size) is None  # at or under the limit
    assert ext.webp_for(tmp_path / "missing.png") is None


def test_the_page_shows_the_webp_of_a_large_png_only(tmp_path) -> None:
    (tmp_path / "_build").mkdir()
    _photo_png(tmp_path / "_build" / "big.png", size=600)  # over the 400 kB limit
    Image.new("RGB", (10, 10)).save(tmp_path / "_build" / "small.png")
    doctree = nodes.document(None, None)
    big, small, remote = (nodes.image(uri="/_build/big.png"), nodes.image(uri="/_build/small.png"),
                          nodes.image(uri="https://example.org/x.png"))
    doctree += [big, small, remote]
    app = SimpleNamespace(srcdir=str(tmp_path), env=SimpleNamespace(docname="notebooks/03"))
    ext._lighten(app, doctree)
    assert big["uri"] == "/_build/big.webp" and (tmp_path / "_build" / "big.webp").is_file()
    assert small["uri"] == "/_build/small.png" and remote["uri"] == "https://example.org/x.png"
