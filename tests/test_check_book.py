"""The reader's check of the built book (scripts/check_book.py), without a browser."""

from __future__ import annotations

import importlib.util
import sys

from mpfas_lib.paths import REPO_ROOT

_SCRIPT = REPO_ROOT / "scripts" / "check_book.py"
_spec = importlib.util.spec_from_file_location("check_book", _SCRIPT)
check_book = importlib.util.module_from_spec(_spec)
sys.modules["check_book"] = check_book
_spec.loader.exec_module(check_book)


def test_every_chapter_of_the_toc_is_visited() -> None:
    pages = check_book.chapter_pages(REPO_ROOT / "_toc.yml")
    assert pages[0] == "book/intro.html"
    notebooks = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))
    assert [p for p in pages if p.startswith("notebooks/")] == [
        "notebooks/" + n.replace(".ipynb", ".html") for n in notebooks]
    assert "book/references.html" in pages


def test_absolute_paths_of_the_build_machine_are_found(tmp_path) -> None:
    (tmp_path / "a.html").write_text("<pre>cache=/home/me/repo/.mpfas_cache</pre>")
    (tmp_path / "b.html").write_text("<pre>cache=.mpfas_cache</pre>")
    (tmp_path / "c.png").write_bytes(b"/home/me/repo/")
    assert check_book.absolute_paths(tmp_path, ["/home/me/repo", ""]) == [
        "a.html: /home/me/repo/"]


def _request(rid: str, url: str) -> dict:
    return {"method": "Network.requestWillBeSent",
            "params": {"requestId": rid, "request": {"url": url}}}


def test_failed_loads_and_every_request_to_another_host_are_errors() -> None:
    origin = "http://127.0.0.1:8000/"
    events = [
        _request("1", "https://cdn.example/mathjax.js"),
        {"method": "Network.loadingFailed",
         "params": {"requestId": "1", "errorText": "net::ERR_NAME_NOT_RESOLVED"}},
        _request("2", "https://fonts.example/a.woff2"),  # even one that loads
        _request("3", "data:image/png;base64,AAAA"),  # inside the page: not another host
        _request("4", origin + "_static/a.js"),
        {"method": "Network.responseReceived",
         "params": {"response": {"status": 404, "url": origin + "favicon.ico"}}},
        {"method": "Log.entryAdded", "params": {"entry": {
            "level": "error", "source": "network", "text": "Failed to load resource"}}},
        {"method": "Runtime.consoleAPICalled",
         "params": {"type": "error", "args": [{"value": "boom"}]}},
    ]
    assert check_book.problems(events, origin) == [
        "requests another host: https://cdn.example/mathjax.js",
        "requests another host: https://fonts.example/a.woff2",
        f"HTTP 404: {origin}favicon.ico", "console.error: boom"]


def test_references_to_other_hosts_in_html_and_css_are_found(tmp_path) -> None:
    (tmp_path / "_static").mkdir()
    (tmp_path / "a.html").write_text(
        '<script defer src="https://cdn.example/tex-mml-chtml.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/theme.css">'
        '<link rel="preconnect" href="https://fonts.example">'
        '<img srcset="_images/a.webp 1x, https://img.example/b.png 2x">'
        '<div style="background: url(\'https://img.example/c.png\')"></div>'
        '<a href="https://github.com/mpfas/mpfas">source</a>'
        '<link rel="canonical" href="https://mpfas.example/a.html">'
        '<script src="_static/mathjax/tex-mml-chtml.js"></script><img src="data:image/png;x">')
    (tmp_path / "_static" / "t.css").write_text(
        "@import 'https://fonts.example/f.css'; .a { background: url(../x.png) }")
    (tmp_path / "b.html").write_text('<p>See https://cdn.example/x.js</p>')  # text, not loaded
    assert check_book.remote_references(tmp_path) == [
        "_static/t.css: url(https://fonts.example/f.css)",
        "a.html: <script src=https://cdn.example/tex-mml-chtml.js>",
        "a.html: <link rel=stylesheet href=//cdn.example/theme.css>",
        "a.html: <link rel=preconnect href=https://fonts.example>",
        "a.html: <img srcset=https://img.example/b.png>",
        "a.html: <div style=url(https://img.example/c.png)>",
    ]


def _book(tmp_path):
    for name, size in [("notebooks/11.html", 900_000), ("_images/a.webp", 700_000),
                       ("_static/plotly.min.js", 4_600_000), ("_frames/f.js", 2_000_000)]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size)
    return tmp_path


def test_a_page_weighs_its_html_and_own_files_apart_from_shared_assets_and_frames(
        tmp_path) -> None:
    root, origin = _book(tmp_path), "http://127.0.0.1:8000/"
    events = [_request(str(i), origin + u) for i, u in enumerate([
        "notebooks/11.html", "_static/plotly.min.js", "_images/a.webp?v=1",
        "_images/a.webp", "_frames/f.js", "_images/missing.png", "../../etc/passwd"])]
    events.append(_request("9", "https://cdn.example/x.js"))
    w = check_book.page_weight(events, origin, root)
    assert w.own == {"notebooks/11.html": 900_000, "_images/a.webp": 700_000}
    assert w.shared == {"_static/plotly.min.js": 4_600_000}
    assert w.deferred == {"_frames/f.js": 2_000_000}
    assert w.total == 1_600_000
    assert w.line() == ("1.60 MB (1.60 MB in 2 files); explorer frames when shown: 2.00 MB "
                        "in 1 file; shared assets: 4.60 MB in 1 file")
    assert check_book.heavy_pages({"notebooks/11.html": w}, 2.0) == []
    assert check_book.heavy_pages({"notebooks/11.html": w}, 1.5) == [
        "notebooks/11.html weighs 1.60 MB, over 1.5 MB: notebooks/11.html 0.90 MB, "
        "_images/a.webp 0.70 MB"]
    table = check_book.weight_table({"notebooks/11.html": w})
    assert "  1.60 |  2.00  notebooks/11.html" in table
    assert table.endswith("4.60 MB in 1 files seen")


def test_the_check_fails_on_a_missing_build(tmp_path, capsys) -> None:
    assert check_book.main(["--html", str(tmp_path), "--toc", str(tmp_path / "t.yml")]) == 2
    assert "build the book first" in capsys.readouterr().err


def test_a_glued_numpy_repr_is_found(tmp_path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "a.html").write_text(
        '<p>gained <span class="pasted-text">np.float64(0.3)</span> points</p>')
    (tmp_path / "b.html").write_text(
        '<p>gained <span class="pasted-text">0.3</span> points</p>'
        '<pre>x = np.float64(1)</pre>')  # code may name numpy: only glued text counts
    assert check_book.numpy_reprs(tmp_path) == ["notebooks/a.html: np.float64(0.3)"]
