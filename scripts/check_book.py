"""Read the built book as a reader meets it: every chapter page in a real, headless Chromium.

Serves the built HTML from 127.0.0.1, opens every page of the table of contents in Chromium
driven over the DevTools protocol (no kernel), and fails when

1. a page logs a console error or an uncaught exception, or a resource of the book fails to
   load (any HTTP status >= 400, the favicon included). Resources on other hosts (the MathJax
   CDN) cannot load on a machine without network; those failures are listed as offline notes;
2. an interactive plotly figure does not respond: every slider is clicked once (a real mouse
   click on its rail) and every menu is opened and another entry chosen, and each time the
   control's state, the figure's data and the pixels on screen must all change;
3. any built HTML file contains an absolute path of the machine that built it (the
   repository, the home folder, ``$MPFAS_CACHE``);
4. a page embeds plotly.js (about 5 MB) inline instead of loading the one shared
   ``_static/plotly.min.js`` (``book/_ext/shared_plotlyjs.py``).

It saves one screenshot per page (at its first interactive figure, else the top) and a
before/after picture of every control under ``--shots``. Installs nothing: it needs Chromium
(Debian: ``apt-get install chromium``) and the ``websocket-client`` package.

Usage (after ``jupyter-book build .``)::

    python scripts/check_book.py --html _build/html --shots _build/shots
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from mpfas_lib.helptext import DocstringFormatter

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,1800",
]
OFFLINE = ("ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION_REFUSED",
           "ERR_ADDRESS_UNREACHABLE", "ERR_NETWORK_ACCESS_DENIED", "ERR_PROXY_CONNECTION_FAILED",
           "ERR_CONNECTION_TIMED_OUT", "ERR_TIMED_OUT")


def chapter_pages(toc: Path) -> list[str]:
    """The HTML pages of a Jupyter Book ``_toc.yml`` (root first), relative to the build."""
    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]

    def walk(entries: list) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    for part in data.get("parts", []):
        walk(part.get("chapters", []))
    walk(data.get("chapters", []))
    return [re.sub(r"\.(md|ipynb)$", "", f) + ".html" for f in files]


def absolute_paths(html_root: Path, forbidden: list[str]) -> list[str]:
    """``file: path`` for every built text file that contains one of the ``forbidden`` paths."""
    hits = []
    needles = [f.rstrip("/") + "/" for f in forbidden if f and f.rstrip("/")]
    for path in sorted(html_root.rglob("*")):
        if path.suffix not in (".html", ".js", ".txt", ".json", ".ipynb", ".css") or \
                not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for needle in needles:
            if needle in text:
                hits.append(f"{path.relative_to(html_root)}: {needle}")
    return hits


# The licence header that starts a plotly.js bundle, right after a script's opening tag.
INLINE_PLOTLYJS = re.compile(r"<script\b[^<>]*>\s*/\*\*\s*\*\s*plotly\.js v")


def inline_plotlyjs(html_root: Path) -> list[str]:
    """The built HTML pages (relative paths) that embed a plotly.js bundle inline."""
    return [str(p.relative_to(html_root)) for p in sorted(html_root.rglob("*.html"))
            if p.is_file() and INLINE_PLOTLYJS.search(p.read_text(errors="replace"))]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` on 127.0.0.1 in a background thread; returns (server, base URL)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class DevTools:
    """A minimal synchronous Chrome DevTools protocol client over one page websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=120, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params: object) -> dict:
        """Send one command and wait for its result (events are queued meanwhile)."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def js(self, expression: str) -> object:
        """Evaluate a JavaScript expression (awaiting promises) and return its value."""
        out = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in out:
            raise RuntimeError(f"JS error in {expression[:60]!r}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def pump(self, seconds: float) -> None:
        """Collect events for a while."""
        end = time.time() + seconds
        self.ws.settimeout(0.2)
        try:
            while time.time() < end:
                with contextlib.suppress(Exception):
                    msg = json.loads(self.ws.recv())
                    if "method" in msg:
                        self.events.append(msg)
        finally:
            self.ws.settimeout(120)

    def navigate(self, url: str, settle: float = 2.0) -> None:
        """Open a URL and wait for the load event plus ``settle`` seconds."""
        self.call("Page.navigate", url=url)
        end = time.time() + 90
        while time.time() < end:
            if self.js("document.readyState") == "complete":
                break
            time.sleep(0.3)
        self.pump(settle)

    def screenshot(self, path: Path, clip: dict | None = None) -> bytes:
        """Save a PNG screenshot of a clip rectangle (page coordinates) or the viewport."""
        params: dict[str, object] = {"format": "png"}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def click(self, x: float, y: float) -> None:
        """A real left mouse click at viewport coordinates."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)


def problems(events: list[dict], origin: str) -> tuple[list[str], list[str]]:
    """(errors, offline notes) among DevTools events: console errors, exceptions, failed loads.

    A failed load from another host than ``origin`` with a network error (no connection) is
    an offline note; everything else is an error.
    """
    urls: dict[str, str] = {}
    errors, offline = [], []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.requestWillBeSent":
            urls[p["requestId"]] = p["request"]["url"]
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            errors.append(f"exception: {d.get('text', '')} "
                          f"{d.get('exception', {}).get('description', '')}".strip())
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Network.responseReceived" and p["response"]["status"] >= 400:
            errors.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            url = urls.get(p["requestId"], "?")
            text = f"failed to load {url}: {p.get('errorText')}"
            if not url.startswith(origin) and any(k in str(p.get("errorText")) for k in OFFLINE):
                offline.append(text)
            else:
                errors.append(text)
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            entry = p["entry"]
            url = entry.get("url", "")
            if entry.get("source") == "network":  # reported above with its URL
                continue
            errors.append(f"log: {entry.get('text')} {url}".strip())
    return errors, offline


FIGURES_JS = """
(() => Array.from(document.querySelectorAll('.plotly-graph-div')).map((gd, i) => {
  gd.dataset.checkIndex = i;
  return {index: i, id: gd.id, sliders: (gd.layout.sliders || []).length,
          menus: (gd.layout.updatemenus || []).length};
}))()
"""

# A figure inside a collapsed dropdown (an exercise's solution): the title to click, or null.
TOGGLE_JS = """
(() => {
  const gd = document.querySelector('.plotly-graph-div[data-check-index="%(i)d"]');
  const hidden = gd.getBoundingClientRect().width === 0 || gd.closest('.toggle-hidden') ||
    (gd.checkVisibility && !gd.checkVisibility({visibilityProperty: true}));
  if (!hidden) return null;
  const box = gd.closest('.dropdown');
  const title = box ? (box.querySelector('button.toggle-button') ||
                       box.querySelector('.admonition-title, summary')) : null;
  if (!title) return {error: 'hidden, and not inside a dropdown'};
  title.scrollIntoView({block: 'center'});
  const b = title.getBoundingClientRect();
  return {x: b.x + b.width / 2, y: b.y + b.height / 2};
})()
"""

STATE_JS = """
(() => {
  const gd = document.querySelector('.plotly-graph-div[data-check-index="%(i)d"]');
  gd.scrollIntoView({block: 'center'});
  const visible = (gd.data || []).filter(t => t.visible !== false);
  const sig = JSON.stringify(visible.map(t => [t.type, t.source || '', t.x, t.y]));
  const box = gd.getBoundingClientRect();
  const rails = Array.from(gd.querySelectorAll('.slider-rail-rect')).map(r => {
    const b = r.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height};
  });
  const menus = Array.from(gd.querySelectorAll('.updatemenu-header-group')).map(r => {
    const b = r.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height};
  });
  const title = gd.layout.title ? (gd.layout.title.text || '') : '';
  return {
    plotly: typeof window.Plotly,
    sliders: (gd.layout.sliders || []).map(s => ({active: s.active, n: s.steps.length})),
    menus: (gd.layout.updatemenus || []).map(m => ({active: m.active, n: m.buttons.length})),
    signature: hash(sig + '|' + title), rails: rails, menuBoxes: menus,
    box: {x: box.x, y: box.y, w: box.width, h: box.height},
    scroll: {x: window.scrollX, y: window.scrollY},
  };
  function hash(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return s.length + ':' + h;
  }
})()
"""

MENU_ITEMS_JS = """
(() => {
  const gd = document.querySelector('.plotly-graph-div[data-check-index="%(i)d"]');
  return Array.from(gd.querySelectorAll('.updatemenu-dropdown-button')).map(r => {
    const b = r.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height};
  });
})()
"""


class Checker:
    """Visits pages and exercises their figures; collects failures and notes."""

    def __init__(self, dt: DevTools, base: str, shots: Path) -> None:
        self.dt, self.base, self.shots = dt, base, shots
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.controls = 0

    def state(self, i: int) -> dict:
        return self.dt.js(STATE_JS % {"i": i})  # type: ignore[return-value]

    def clip(self, st: dict) -> dict:
        b, sc = st["box"], st["scroll"]
        return {"x": max(0, b["x"] + sc["x"]), "y": max(0, b["y"] + sc["y"]),
                "width": max(1, b["w"]), "height": max(1, b["h"])}

    def exercise(self, page: str, i: int, kind: str, k: int) -> None:
        """Move one control (slider or menu ``k`` of figure ``i``) and check the change."""
        where = f"{page} figure {i} {kind} {k + 1}"
        name = f"{Path(page).stem}-fig{i}-{kind}{k + 1}"
        self.dt.pump(0.5)
        before = self.state(i)
        shot_before = self.dt.screenshot(self.shots / f"{name}-before.png",
                                         clip=self.clip(before))
        if kind == "slider":
            rail, s = before["rails"][k], before["sliders"][k]
            at_end = s["active"] == s["n"] - 1
            x = rail["x"] + (4 if at_end else rail["w"] - 4)
            self.dt.click(x, rail["y"] + rail["h"] / 2)
        else:
            head = before["menuBoxes"][k]
            self.dt.click(head["x"] + head["w"] / 2, head["y"] + head["h"] / 2)
            self.dt.pump(0.5)
            items = self.dt.js(MENU_ITEMS_JS % {"i": i})
            current = before["menus"][k]["active"]
            if not items or len(items) < 2:
                self.failures.append(f"{where}: the menu did not open")
                return
            pick = items[1 if current == 0 else 0]
            self.dt.click(pick["x"] + pick["w"] / 2, pick["y"] + pick["h"] / 2)
        self.dt.pump(1.5)
        after = self.state(i)
        shot_after = self.dt.screenshot(self.shots / f"{name}-after.png",
                                        clip=self.clip(after))
        self.controls += 1
        key = "sliders" if kind == "slider" else "menus"
        if after[key][k]["active"] == before[key][k]["active"]:
            self.failures.append(f"{where}: the control did not move "
                                 f"(active {after[key][k]['active']})")
        if after["signature"] == before["signature"]:
            self.failures.append(f"{where}: the figure's data did not change")
        if hashlib.sha256(shot_before).digest() == hashlib.sha256(shot_after).digest():
            self.failures.append(f"{where}: the pixels on screen did not change")
        print(f"  {where}: active {before[key][k]['active']} -> {after[key][k]['active']}")

    def page(self, page: str) -> None:
        """Load one page, check its console and resources, and exercise its figures."""
        n = len(self.dt.events)
        self.dt.navigate(self.base + page, settle=2.5)
        figures = self.dt.js(FIGURES_JS) or []
        print(f"{page}: {len(figures)} interactive figure(s)")
        for fig in figures:  # type: ignore[union-attr]
            toggle = self.dt.js(TOGGLE_JS % {"i": fig["index"]})
            if toggle is not None:  # open it as a reader would, with a click on its title
                if "error" in toggle:
                    self.failures.append(f"{page} figure {fig['index']}: {toggle['error']}")
                    continue
                self.dt.pump(0.3)
                self.dt.click(toggle["x"], toggle["y"])
                self.dt.pump(1.0)
                if self.dt.js(TOGGLE_JS % {"i": fig["index"]}) is not None:
                    self.failures.append(f"{page} figure {fig['index']}: clicking its "
                                         "dropdown's title did not show it")
                    continue
            st = self.state(fig["index"])
            if st["plotly"] != "object":
                self.failures.append(f"{page}: plotly.js is not loaded (window.Plotly missing)")
                break
            for k in range(fig["sliders"]):
                self.exercise(page, fig["index"], "slider", k)
            for k in range(fig["menus"]):
                self.exercise(page, fig["index"], "menu", k)
        if figures:
            self.state(0)  # scroll the first figure into view for the page's picture
            self.dt.pump(0.5)
        else:
            self.dt.js("window.scrollTo(0, 0)")
        self.dt.screenshot(self.shots / (page.replace("/", "_").removesuffix(".html") + ".png"))
        errors, offline = problems(self.dt.events[n:], self.base)
        self.failures += [f"{page}: {e}" for e in dict.fromkeys(errors)]
        self.notes += [f"{page}: {e}" for e in dict.fromkeys(offline)]


def start_chromium(binary: str, profile_dir: str) -> tuple[subprocess.Popen, str]:
    """Launch headless Chromium; returns the process and the first page's websocket URL."""
    port = free_port()
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--remote-debugging-port={port}",
         f"--user-data-dir={profile_dir}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    end = time.time() + 30
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return proc, pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"Chromium ({binary}) did not open its DevTools port {port}")


def main(argv: list[str] | None = None) -> int:
    """Run the checks; exit status 0 when all pass."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--html", default="_build/html", help="built book folder")
    parser.add_argument("--toc", default="_toc.yml", help="the book's table of contents")
    parser.add_argument("--shots", default="_build/shots", help="folder for screenshots")
    parser.add_argument("--page", action="append", default=None,
                        help="check only this page (relative to --html; repeatable)")
    parser.add_argument("--min-figures", type=int, default=5,
                        help="fail unless at least this many pages have interactive figures")
    parser.add_argument("--chromium", default=None, help="Chromium binary")
    args = parser.parse_args(argv)

    root = Path(args.html).resolve()
    if not (root / "index.html").is_file():
        print(f"error: {args.html}/index.html does not exist; build the book first",
              file=sys.stderr)
        return 2
    if not Path(args.toc).is_file():
        print(f"error: --toc {args.toc} does not exist", file=sys.stderr)
        return 2
    pages = args.page or chapter_pages(Path(args.toc))
    missing = [p for p in pages if not (root / p).is_file()]
    if missing:
        print(f"error: pages of {args.toc} missing from {args.html}: {missing}", file=sys.stderr)
        return 2
    binary = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if binary is None:
        print("error: no Chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2

    forbidden = [str(root.parents[1]), str(Path.home()), os.environ.get("MPFAS_CACHE", "")]
    leaks = absolute_paths(root, forbidden)
    inline = inline_plotlyjs(root)
    shots = Path(args.shots)
    shutil.rmtree(shots, ignore_errors=True)
    server, base = serve(root)
    profile_dir = tempfile.mkdtemp(prefix="mpfas-chromium-")
    proc = None
    interactive_pages = 0
    try:
        proc, ws_url = start_chromium(binary, profile_dir)
        dt = DevTools(ws_url)
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(f"{domain}.enable")
        dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=1800,
                deviceScaleFactor=1, mobile=False)
        checker = Checker(dt, base, shots)
        for page in pages:
            before = checker.controls
            checker.page(page)
            interactive_pages += checker.controls > before
    finally:
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        server.shutdown()
        shutil.rmtree(profile_dir, ignore_errors=True)
    failures = checker.failures + [f"absolute path of this machine in {h}" for h in leaks]
    failures += [f"{p}: embeds plotly.js inline instead of loading _static/plotly.min.js"
                 for p in inline]
    if not args.page and interactive_pages < args.min_figures:
        failures.append(f"only {interactive_pages} pages have interactive figures "
                        f"(at least {args.min_figures} expected)")
    for note in checker.notes:
        print(f"note (offline, another host): {note}")
    print(f"{len(pages)} pages, {interactive_pages} with interactive figures, "
          f"{checker.controls} controls moved; screenshots in {args.shots}/")
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print("OK: no console errors or failed resources, every control changed its figure, "
          "no absolute path of this machine in the built HTML, plotly.js in one shared file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
