"""Explorer frames load when their figure is first shown: mpfas_lib.viz.interactive.html
writes them apart, book/_ext/deferred_frames.py moves them into files of the built book."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import re
import sys

import numpy as np
from PIL import Image

import mpfas_lib.viz.interactive as inter
from mpfas_lib.paths import REPO_ROOT

_EXT = REPO_ROOT / "book" / "_ext" / "deferred_frames.py"
_spec = importlib.util.spec_from_file_location("deferred_frames", _EXT)
ext = importlib.util.module_from_spec(_spec)
sys.modules["deferred_frames"] = ext
_spec.loader.exec_module(ext)


def _explorer(fmt: str = "png"):
    stack = np.random.default_rng(0).integers(0, 256, size=(3, 2, 2, 8, 6, 3), dtype=np.uint8)
    return stack, inter.grid_explorer(stack, ["0", "5", "10"], ["a", "b"], ["p", "q"], fmt=fmt,
                                      static_panels=[0])


def _size(uri: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size


def test_the_first_state_keeps_what_shows_and_defers_frames_and_hidden_pictures() -> None:
    stack, fig = _explorer()
    first, later = inter.deferred_parts(fig)
    assert len(fig.frames) == 3 and first.frames == ()  # the figure itself is untouched
    assert [t.visible for t in first.data] == [True, True, False, False]
    assert [t.source for t in first.data[:2]] == [t.source for t in fig.data[:2]]
    assert later["traces"] == [2, 3]
    assert later["sources"] == [fig.data[2].source, fig.data[3].source]
    for i in (2, 3):  # a grey stand-in of the same size, so the axes do not move
        assert first.data[i].source != fig.data[i].source
        assert _size(first.data[i].source) == (6, 8)
    assert [f["name"] for f in later["frames"]] == ["0", "5", "10"]
    assert later["frames"][1]["data"][0]["source"] == inter.png_uri(stack[1, 0, 1])
    assert first.layout.sliders[0].steps[2].args[0] == ("10",)


def test_a_figure_without_frames_or_hidden_pictures_is_drawn_as_it_is() -> None:
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    assert inter.deferred_parts(fig) == (fig, None)
    out = inter.html(fig, div_id="plain").data
    assert inter.DEFERRED_CLASS not in out and "mpfasDeferred" not in out


def _block(out: str) -> tuple[str, str]:
    m = ext.BLOCK.search(out)
    assert m is not None, "no deferred block in the figure's HTML"
    return m.group(1), m.group(2)


def test_html_puts_the_deferred_json_before_the_figure_and_its_loader_after() -> None:
    inter._PLOTLYJS_EMBEDDED = True  # the bundle is not the point here
    _, fig = _explorer("webp")
    out = inter.html(fig, div_id="fig-x").data
    plot_id, payload = _block(out)
    assert plot_id == "fig-x"
    data = json.loads(payload)
    assert data["traces"] == [2, 3] and len(data["frames"]) == 3
    assert data["frames"][0]["data"][0]["source"].startswith("data:image/webp;base64,")
    assert out.index(inter.DEFERRED_CLASS) < out.index("Plotly.newPlot")
    assert out.index("Plotly.newPlot") < out.index("IntersectionObserver")
    assert "Plotly.addFrames" in out and "window.mpfasDeferred" in out
    # pictures are written with plain "/" (plotly's \u002f costs six characters), "<" escaped
    assert "\\u002f" not in out and "</script" not in payload


def test_slashes_are_unescaped_but_an_escaped_backslash_is_kept() -> None:
    assert inter._unescape_slashes(r'"a\u002fb"') == '"a/b"'
    assert inter._unescape_slashes(r'"a\\u002fb"') == r'"a\\u002fb"'
    assert inter._unescape_slashes(r'"a\\\u002fb"') == r'"a\\/b"'


def test_the_build_moves_each_block_into_a_frame_file(tmp_path) -> None:
    inter._PLOTLYJS_EMBEDDED = True
    _, fig = _explorer()
    out = inter.html(fig, div_id="fig-y").data
    _, payload = _block(out)
    body = f"<main>{out}</main>"
    moved, n = ext.move_blocks(body, tmp_path, lambda name: "../" + name)
    assert n == 1 and payload not in moved
    files = sorted((tmp_path / "_frames").iterdir())
    assert len(files) == 1 and re.fullmatch(r"[0-9a-f]{20}\.js", files[0].name)
    assert f'data-plot="fig-y" data-src="../_frames/{files[0].name}"></script>' in moved
    text = files[0].read_text(encoding="utf-8")
    call = re.fullmatch(r'window\.mpfasDeferred\["fig-y"\]\((.*)\);\n', text, re.S)
    assert call is not None and json.loads(call.group(1)) == json.loads(payload)
    # a page rendered twice keeps its reference; the same frames make the same file
    assert ext.move_blocks(moved, tmp_path, lambda name: "../" + name) == (moved, 0)
    assert ext.move_blocks(body, tmp_path, lambda name: "../" + name) == (moved, 1)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "p.html").write_text(moved)
    stale = tmp_path / "_frames" / ("0" * 20 + ".js")
    stale.write_text("old")
    assert ext.unreferenced(tmp_path) == [stale]
