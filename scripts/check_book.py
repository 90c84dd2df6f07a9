"""Read the built book as a reader meets it: every chapter page in a real, headless Chromium.

Serves the built HTML from 127.0.0.1, opens every page of the table of contents in Chromium
driven over the DevTools protocol (no kernel, browser cache off), and fails when

1. a page logs a console error or an uncaught exception, or a resource of the book fails to
   load (any HTTP status >= 400, the favicon included);
2. a page requests anything from another host, or any built HTML or CSS file refers to a
   script, style sheet, font or picture on one: the book must read the same from a folder
   with no network (MathJax comes from ``_static/mathjax``, ``book/_ext/offline_mathjax.py``);
3. a page with equations shows them as TeX: MathJax has not typeset them;
4. a page weighs more than ``--max-page-mb`` (1.5 MB): its HTML and every file it loads,
   except the book's shared assets in ``_static/`` (theme, MathJax, plotly.js: the same files
   on every page, loaded once) and the explorer frames in ``_frames/`` (loaded when their
   figure is first shown, ``book/_ext/deferred_frames.py``); both are printed beside it;
5. an interactive plotly figure does not respond: every slider is clicked once (a real mouse
   click on its rail) and every menu is opened and another entry chosen, and each time the
   control's state, the figure's data and the pixels on screen must all change;
6. any built HTML file contains an absolute path of the machine that built it (the
   repository, the home folder, ``$MPFAS_CACHE``);
7. a page embeds plotly.js (about 5 MB) inline instead of loading the one shared
   ``_static/plotly.min.js`` (``book/_ext/shared_plotlyjs.py``);
8. a number glued into the prose reads as a Python representation of a numpy value
   (``np.float64(0.3)``): the chapter glued a numpy number where a plain one was meant.

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
import html.parser
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
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mpfas_lib.helptext import DocstringFormatter

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,1800",
]
#: The book's shared assets (the same files on every page) and the explorer frames, loaded
#: when their figure is first shown: both are weighed apart from a page.
SHARED, DEFERRED = "_static/", "_frames/"
MB = 1_000_000


def built_book_problem(html: str, toc: str, pages: list[str] | None = None) -> str | None:
    """Why ``html`` is not a built book of ``toc`` (its index, the toc, each page), or None."""
    root = Path(html).resolve()
    if not (root / "index.html").is_file():
        return f"{html}/index.html does not exist; build the book first"
    if not Path(toc).is_file():
        return f"--toc {toc} does not exist"
    missing = [p for p in pages or chapter_pages(Path(toc)) if not (root / p).is_file()]
    if missing:
        return f"pages of {toc} missing from {html}: {missing}"
    return None


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


# What myst-nb writes for {glue:text}; a numpy scalar's repr in it is a chapter's slip.
PASTED = re.compile(r'<span class="pasted-text">([^<]*)</span>')
NUMPY_REPR = re.compile(r"\bnp\.[a-z_]+[0-9]*\(")


def numpy_reprs(html_root: Path) -> list[str]:
    """``page: text`` for every glued value that shows a numpy repr instead of a number."""
    hits = []
    for path in sorted(html_root.rglob("*.html")):
        for text in PASTED.findall(path.read_text(errors="replace")):
            if NUMPY_REPR.search(text):
                hits.append(f"{path.relative_to(html_root)}: {text}")
    return hits


# The licence header that starts a plotly.js bundle, right after a script's opening tag.
INLINE_PLOTLYJS = re.compile(r"<script\b[^<>]*>\s*/\*\*\s*\*\s*plotly\.js v")


def inline_plotlyjs(html_root: Path) -> list[str]:
    """The built HTML pages (relative paths) that embed a plotly.js bundle inline."""
    return [str(p.relative_to(html_root)) for p in sorted(html_root.rglob("*.html"))
            if p.is_file() and INLINE_PLOTLYJS.search(p.read_text(errors="replace"))]


# <link> relations that name a document, not something the browser loads.
_LINK_ONLY = {"canonical", "alternate", "author", "license", "next", "prev", "search", "help",
              "index", "top", "up", "first", "last", "edit", "nofollow", "noopener",
              "noreferrer"}
_LOADED_ATTRS = {"src", "srcset", "poster", "data", "background"}
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])((?:https?:)?//[^'")\s]+)""", re.I)


def _remote(url: str) -> bool:
    return bool(re.match(r"(?:https?:|wss?:)?//", url.strip(), re.I))


class _RemoteRefs(html.parser.HTMLParser):
    """Collects what a page would load from another host: its tags' sources and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v or "" for k, v in attrs}
        for name in _LOADED_ATTRS & a.keys():
            urls = [u.split()[0] for u in a[name].split(",") if u.strip()] \
                if name == "srcset" else [a[name]]
            self.found += [f"<{tag} {name}={u}>" for u in urls if _remote(u)]
        rel = set(a.get("rel", "").lower().split())
        if tag == "link" and rel - _LINK_ONLY and _remote(a.get("href", "")):
            self.found.append(f"<link rel={a['rel']} href={a['href']}>")
        self.found += [f"<{tag} style=url({u})>" for u in _CSS_URL.findall(a.get("style", ""))]


def remote_references(html_root: Path) -> list[str]:
    """``file: reference`` for every script, style sheet, font, frame or picture that a built
    HTML or CSS file would load from another host (links to other sites are fine)."""
    hits = []
    for path in sorted(html_root.rglob("*")):
        if not path.is_file() or path.suffix not in (".html", ".css"):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".css":
            refs = [f"url({u})" for u in _CSS_URL.findall(text)]
        else:
            parser = _RemoteRefs()
            parser.feed(text)
            refs = parser.found + [f"<style> url({u})" for block in
                                   re.findall(r"<style\b[^>]*>(.*?)</style>", text, re.S | re.I)
                                   for u in _CSS_URL.findall(block)]
        hits += [f"{path.relative_to(html_root)}: {r}" for r in dict.fromkeys(refs)]
    return hits


@dataclass
class Weight:
    """The files one page loaded (path relative to the book -> bytes), by kind."""

    own: dict[str, int] = field(default_factory=dict)
    deferred: dict[str, int] = field(default_factory=dict)
    shared: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The page's weight: its HTML and every file of its own."""
        return sum(self.own.values())

    def line(self) -> str:
        """One line for the report, in MB."""
        def mb(d: dict[str, int]) -> str:
            return f"{sum(d.values()) / MB:.2f} MB in {len(d)} file{'s' * (len(d) != 1)}"
        return (f"{self.total / MB:.2f} MB ({mb(self.own)}); explorer frames when shown: "
                f"{mb(self.deferred)}; shared assets: {mb(self.shared)}")


def book_file(url: str, origin: str, root: Path) -> str | None:
    """The book's file (relative path) that a URL of the local server names, or None."""
    if not url.startswith(origin):
        return None
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    target = (root / path).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        return None
    return target.relative_to(root.resolve()).as_posix()


def page_weight(events: list[dict], origin: str, root: Path) -> Weight:
    """What the requests among DevTools ``events`` loaded from the book, by kind (a file
    counts once; its size on disk, so the browser's cache and timing do not matter)."""
    weight = Weight()
    for e in events:
        if e["method"] != "Network.requestWillBeSent":
            continue
        rel = book_file(e["params"]["request"]["url"], origin, root)
        if rel is None:
            continue
        kind = (weight.shared if rel.startswith(SHARED) else
                weight.deferred if rel.startswith(DEFERRED) else weight.own)
        kind[rel] = (root / rel).stat().st_size
    return weight


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


def problems(events: list[dict], origin: str) -> list[str]:
    """Errors among DevTools events: console errors, exceptions, failed loads, and every
    request to another host than ``origin`` (the book must need no network)."""
    urls: dict[str, str] = {}
    errors = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            urls[p["requestId"]] = url
            if re.match(r"(?:https?|wss?)://", url, re.I) and not url.startswith(origin):
                errors.append(f"requests another host: {url}")
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
            if url.startswith(origin) or url == "?":  # another host's is reported above
                errors.append(f"failed to load {url}: {p.get('errorText')}")
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            entry = p["entry"]
            if entry.get("source") == "network":  # reported above with its URL
                continue
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
    return errors


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


# Whether the page's equations were typeset: null without equations, else the count of
# math elements and of those still raw TeX (or the reason MathJax is missing).
MATH_JS = """
(async () => {
  const math = Array.from(document.querySelectorAll('.math'));
  if (!math.length) return null;
  const mj = window.MathJax;
  if (!mj || !mj.startup || !mj.startup.promise) return {error: 'MathJax is not loaded'};
  const late = new Promise(r => setTimeout(() => r('late'), 30000));
  if (await Promise.race([mj.startup.promise.then(() => 'ok'), late]) === 'late')
    return {error: 'MathJax did not finish within 30 s'};
  return {math: math.length, raw: math.filter(m => !m.querySelector('mjx-container')).length};
})()
"""

# The state of a figure's deferred frames (mpfas_lib.viz.interactive.html): null if none.
DEFERRED_JS = """
(() => document.querySelector('.plotly-graph-div[data-check-index="%(i)d"]')
  .dataset.deferred || null)()
"""


class Checker:
    """Visits pages and exercises their figures; collects failures and page weights."""

    def __init__(self, dt: DevTools, base: str, shots: Path, root: Path) -> None:
        self.dt, self.base, self.shots, self.root = dt, base, shots, root
        self.failures: list[str] = []
        self.weights: dict[str, Weight] = {}
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

    def math(self, page: str) -> None:
        """Fail when the page's equations are not typeset by MathJax."""
        out = self.dt.js(MATH_JS)
        if not isinstance(out, dict):  # no equations on the page
            return
        if "error" in out:
            self.failures.append(f"{page}: equations shown as TeX: {out['error']}")
        elif out["raw"]:
            self.failures.append(f"{page}: {out['raw']} of {out['math']} equations not "
                                 "typeset by MathJax")

    def frames_loaded(self, page: str, i: int, timeout: float = 30.0) -> bool:
        """Wait until figure ``i``'s deferred frames are in (it is on screen by now)."""
        end = time.time() + timeout
        while (state := self.dt.js(DEFERRED_JS % {"i": i})) not in (None, "loaded"):
            if time.time() > end:
                self.failures.append(f"{page} figure {i}: its frames did not load "
                                     f"(state {state!r} after {timeout:.0f} s)")
                return False
            self.dt.pump(0.3)
        return True

    def page(self, page: str) -> None:
        """Load one page, check its console, resources and equations, exercise its figures
        and weigh it."""
        n = len(self.dt.events)
        self.dt.navigate(self.base + page, settle=2.5)
        self.math(page)
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
            if not self.frames_loaded(page, fig["index"]):
                continue
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
        events = self.dt.events[n:]
        self.failures += [f"{page}: {e}" for e in dict.fromkeys(problems(events, self.base))]
        self.weights[page] = page_weight(events, self.base, self.root)
        print(f"  weight: {self.weights[page].line()}")


def heavy_pages(weights: dict[str, Weight], max_mb: float) -> list[str]:
    """A failure for each page heavier than ``max_mb``, naming its three largest files."""
    out = []
    for page, w in weights.items():
        if w.total > max_mb * MB:
            big = sorted(w.own.items(), key=lambda kv: -kv[1])[:3]
            out.append(f"{page} weighs {w.total / MB:.2f} MB, over {max_mb:g} MB: "
                       + ", ".join(f"{name} {size / MB:.2f} MB" for name, size in big))
    return out


def weight_table(weights: dict[str, Weight]) -> str:
    """Every page's weight, its deferred frames, and the shared assets of the whole book."""
    shared: dict[str, int] = {}
    lines = ["page weights (MB: the HTML and its own files | explorer frames when shown):"]
    for page, w in weights.items():
        shared.update(w.shared)
        lines.append(f"  {w.total / MB:6.2f} | {sum(w.deferred.values()) / MB:5.2f}  {page}")
    lines.append(f"shared assets in _static/, loaded once for the book: "
                 f"{sum(shared.values()) / MB:.2f} MB in {len(shared)} files seen")
    return "\n".join(lines)


def stop_chromium(proc: subprocess.Popen | None, server: http.server.ThreadingHTTPServer,
                  profile_dir: str) -> None:
    """End what :func:`start_chromium` and :func:`serve` started, and remove the profile."""
    if proc is not None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    server.shutdown()
    shutil.rmtree(profile_dir, ignore_errors=True)


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
    parser.add_argument("--max-page-mb", type=float, default=1.5,
                        help="fail when a page weighs more (MB; shared assets and explorer "
                             "frames apart)")
    args = parser.parse_args(argv)

    root = Path(args.html).resolve()
    problem = built_book_problem(args.html, args.toc, args.page or None)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    pages = args.page or chapter_pages(Path(args.toc))
    binary = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if binary is None:
        print("error: no Chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2

    forbidden = [str(root.parents[1]), str(Path.home()), os.environ.get("MPFAS_CACHE", "")]
    leaks = absolute_paths(root, forbidden)
    inline = inline_plotlyjs(root)
    reprs = numpy_reprs(root)
    remote = remote_references(root)
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
        dt.call("Network.setCacheDisabled", cacheDisabled=True)  # every page as a first visit
        dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=1800,
                deviceScaleFactor=1, mobile=False)
        checker = Checker(dt, base, shots, root)
        for page in pages:
            before = checker.controls
            checker.page(page)
            interactive_pages += checker.controls > before
    finally:
        stop_chromium(proc, server, profile_dir)
    failures = checker.failures + [f"absolute path of this machine in {h}" for h in leaks]
    failures += [f"{p}: embeds plotly.js inline instead of loading _static/plotly.min.js"
                 for p in inline]
    failures += [f"refers to another host: {r}" for r in remote]
    failures += [f"a glued number shows numpy's repr: {r}" for r in reprs]
    failures += heavy_pages(checker.weights, args.max_page_mb)
    if not args.page and interactive_pages < args.min_figures:
        failures.append(f"only {interactive_pages} pages have interactive figures "
                        f"(at least {args.min_figures} expected)")
    print(weight_table(checker.weights))
    print(f"{len(pages)} pages, {interactive_pages} with interactive figures, "
          f"{checker.controls} controls moved; screenshots in {args.shots}/")
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print("OK: no console errors or failed resources, no request to another host, equations "
          f"typeset, every page under {args.max_page_mb:g} MB, every control changed its "
          "figure, no absolute path of this machine in the built HTML, plotly.js in one "
          "shared file, no glued number shown as a numpy repr")
    return 0

if __name__ == "__main__":
    sys.exit(main())
