"""MathJax comes from the book's own _static/mathjax (book/_ext/offline_mathjax.py)."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import yaml

from mpfas_lib.paths import REPO_ROOT

_EXT = REPO_ROOT / "book" / "_ext" / "offline_mathjax.py"
_spec = importlib.util.spec_from_file_location("offline_mathjax", _EXT)
ext = importlib.util.module_from_spec(_spec)
sys.modules["offline_mathjax"] = ext
_spec.loader.exec_module(ext)


def test_the_book_loads_a_local_component_with_the_extension_on() -> None:
    sphinx = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["sphinx"]
    assert "offline_mathjax" in sphinx["local_extensions"]
    assert ext.component(sphinx["config"]["mathjax_path"]) == "tex-mml-chtml.js"


@pytest.mark.parametrize("path", [
    "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
    "//cdn.example/mathjax/tex-chtml.js", "tex-mml-chtml.js", "mathjax/output/chtml.js"])
def test_a_path_outside_the_local_copy_is_refused(path: str) -> None:
    with pytest.raises(Exception, match="must name a component in mathjax/"):
        ext.component(path)


def test_only_the_component_and_what_it_loads_on_demand_are_copied(tmp_path) -> None:
    source = ext.mathjax_source()
    names = {p.relative_to(source).as_posix() for p in
             ext.files_to_copy(source, "tex-mml-chtml.js")}
    assert "tex-mml-chtml.js" in names
    assert "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff" in names
    assert "input/tex/extensions/boldsymbol.js" in names and "ui/menu.js" in names
    assert not {"tex-svg.js", "tex-chtml.js", "latest.js"} & names  # latest.js asks a CDN
    assert ext.copy_mathjax(source, "tex-mml-chtml.js", tmp_path) == len(names)
    copied = tmp_path / "mathjax" / "tex-mml-chtml.js"
    assert copied.read_bytes() == (source / "tex-mml-chtml.js").read_bytes()
    stamp = copied.stat().st_mtime_ns
    ext.copy_mathjax(source, "tex-mml-chtml.js", tmp_path)  # a rebuild copies nothing again
    assert copied.stat().st_mtime_ns == stamp
    with pytest.raises(Exception, match="lacks"):
        ext.files_to_copy(source, "tex-nothing.js")
