"""The book's pages load plotly.js from one shared file (book/_ext/shared_plotlyjs.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mpfas_lib.paths import REPO_ROOT

_EXT = REPO_ROOT / "book" / "_ext" / "shared_plotlyjs.py"
_spec = importlib.util.spec_from_file_location("shared_plotlyjs", _EXT)
ext = importlib.util.module_from_spec(_spec)
sys.modules["shared_plotlyjs"] = ext
_spec.loader.exec_module(ext)

BUNDLE = "/**\n* plotly.js v9.9.9\n*/\nwindow.Plotly={newPlot:function(){}};"
PAGE = (
    "<p>text</p><div class='output text_html'><div><script>window.PlotlyConfig = {};</script>"
    f"<script>{BUNDLE}</script><div id='f' class='plotly-graph-div'></div>"
    "<script>Plotly.newPlot('f', [])</script></div></div>"
)


def test_the_inline_bundle_becomes_a_script_src_in_its_place() -> None:
    out, n = ext.share_plotlyjs(PAGE, BUNDLE, "../_static/plotly.min.js")
    assert n == 1 and BUNDLE not in out
    assert out == PAGE.replace(f"<script>{BUNDLE}</script>",
                               '<script charset="utf-8" src="../_static/plotly.min.js"></script>')
    # loaded synchronously, after the config and before the figure's script
    tag = out.index('src="../_static/plotly.min.js"')
    assert out.index("window.PlotlyConfig") < tag < out.index("Plotly.newPlot")
    assert "async" not in out and "defer" not in out


def test_only_whole_script_contents_are_replaced() -> None:
    typed = f'<script type="text/javascript">{BUNDLE}</script>'
    quoted = f"<pre>{BUNDLE}</pre>"  # the same text shown, not run
    partial = f"<script>var a = 1;{BUNDLE}</script>"
    out, n = ext.share_plotlyjs(PAGE + typed + quoted + partial + PAGE, BUNDLE, "p.js")
    assert n == 3
    assert out.count('<script charset="utf-8" src="p.js"></script>') == 3
    assert out.count(BUNDLE) == 2 and quoted in out and partial in out
    assert ext.share_plotlyjs("<p>no figure</p>", BUNDLE, "p.js") == ("<p>no figure</p>", 0)
    with pytest.raises(ValueError, match="non-empty"):
        ext.share_plotlyjs(PAGE, "", "p.js")


def test_a_real_figure_page_keeps_config_and_figure_and_loses_the_bundle(tmp_path) -> None:
    import mpfas_lib.viz.interactive as inter

    inter._PLOTLYJS_EMBEDDED = False
    fig = inter.grid_explorer(np.zeros((2, 1, 1, 4, 4, 3), np.uint8), ["0", "1"], ["a"], ["p"])
    body = "<main>" + inter.html(fig, div_id="fig").data + "</main>"
    assert len(body) > 1_000_000
    context = {"body": body, "pathto": lambda name, resource: "../" + name}
    ext._page_context(None, "notebooks/x", "page.html", context, None)
    out = context["body"]
    assert len(out) < 100_000 and "plotly.js v" not in out
    tag = '<script charset="utf-8" src="../_static/plotly.min.js"></script>'
    assert out.count(tag) == 1
    assert out.index("window.PlotlyConfig") < out.index(tag) < out.index("Plotly.newPlot")

    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    ext._write_bundle(app, None)
    shared = Path(tmp_path, "_static", "plotly.min.js").read_text(encoding="utf-8")
    assert shared == ext.plotlyjs() and shared in body
    assert sorted(p.name for p in (tmp_path / "_static").iterdir()) == ["plotly.min.js"]


def test_nothing_is_written_after_a_failed_or_non_html_build(tmp_path) -> None:
    html_app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    ext._write_bundle(html_app, RuntimeError("build failed"))
    latex_app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="latex"))
    ext._write_bundle(latex_app, None)
    assert not (tmp_path / "_static").exists()


def test_check_book_finds_pages_that_still_embed_plotlyjs(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("check_book",
                                                  REPO_ROOT / "scripts" / "check_book.py")
    check_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_book)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "a.html").write_text(PAGE)
    shared, _ = ext.share_plotlyjs(PAGE, BUNDLE, "../_static/plotly.min.js")
    (tmp_path / "notebooks" / "b.html").write_text(shared)
    (tmp_path / "c.html").write_text(f"<pre>{BUNDLE}</pre>")  # shown, not embedded
    assert check_book.inline_plotlyjs(tmp_path) == ["notebooks/a.html"]
