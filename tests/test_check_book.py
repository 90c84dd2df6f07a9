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


def test_failed_loads_are_errors_except_other_hosts_offline() -> None:
    origin = "http://127.0.0.1:8000/"
    events = [
        {"method": "Network.requestWillBeSent",
         "params": {"requestId": "1", "request": {"url": "https://cdn.example/mathjax.js"}}},
        {"method": "Network.loadingFailed",
         "params": {"requestId": "1", "errorText": "net::ERR_NAME_NOT_RESOLVED"}},
        {"method": "Network.responseReceived",
         "params": {"response": {"status": 404, "url": origin + "favicon.ico"}}},
        {"method": "Log.entryAdded", "params": {"entry": {
            "level": "error", "source": "network", "text": "Failed to load resource"}}},
        {"method": "Runtime.consoleAPICalled",
         "params": {"type": "error", "args": [{"value": "boom"}]}},
    ]
    errors, offline = check_book.problems(events, origin)
    assert errors == [f"HTTP 404: {origin}favicon.ico", "console.error: boom"]
    assert offline == ["failed to load https://cdn.example/mathjax.js: "
                       "net::ERR_NAME_NOT_RESOLVED"]
