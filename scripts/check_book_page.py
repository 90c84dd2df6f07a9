"""Check the built book's Meta Pattern explorer in a real, headless Chromium (no kernel).

Serves the built HTML from 127.0.0.1, opens the explorer page in Chromium driven over the
DevTools protocol, and checks that

1. the page loads without console errors or uncaught exceptions of its own (errors that
   also occur on a plain page of the book, the baseline, are reported as site-wide, and
   failed loads from other hosts as offline, since the check runs without a network),
2. plotly.js is present and the explorer figure is drawn,
3. clicking the explorer's slider (a real mouse click) changes the picture: the slider's
   active step, the image sources of the visible traces and the pixels on screen.

It also saves screenshots of a few pages. Installs nothing: it needs Chromium
(Debian: ``apt-get install chromium``) and the ``websocket-client`` package.

Usage (after ``jupyter-book build .``)::

    python scripts/check_book_page.py --html _build/html --shots /tmp/shots
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import http.server
import json
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

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,1800",
]
DEFAULT_PAGE = "notebooks/11_mp_explorer.html"
DEFAULT_SHOTS = [
    "notebooks/11_mp_explorer.html",
    "notebooks/07_evaluation.html",
    "notebooks/06_algorithm1.html",
]


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

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
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
            self.ws.settimeout(60)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed requests seen so far."""
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", "") + " "
                           + str(p["exceptionDetails"].get("exception", {}).get("description")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append("console.error: " + " ".join(str(a.get("value", a.get(
                    "description", ""))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def navigate(self, url: str, settle: float = 3.0) -> None:
        """Open a URL and wait for the load event plus ``settle`` seconds."""
        self.call("Page.navigate", url=url)
        end = time.time() + 60
        while time.time() < end:
            if self.js("document.readyState") == "complete":
                break
            time.sleep(0.3)
        self.pump(settle)

    def screenshot(self, path: Path, clip: dict | None = None, full: bool = False) -> bytes:
        """Save a PNG screenshot (of a clip rectangle, the viewport or the full page)."""
        params: dict[str, object] = {"format": "png", "captureBeyondViewport": full}
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


SLIDER_JS = """
(() => {
  const gd = document.getElementById(%(div)s);
  if (!gd) return {error: 'no element with id ' + %(div)s};
  gd.scrollIntoView({block: 'center'});
  const rail = gd.querySelector('.slider-rail-rect');
  const box = gd.getBoundingClientRect();
  const r = rail ? rail.getBoundingClientRect() : null;
  const shown = (gd.data || []).filter(t => t.visible !== false);
  return {
    plotly: typeof window.Plotly, version: window.Plotly ? window.Plotly.version : null,
    traces: (gd.data || []).length, frames: (gd._transitionData || {})._frames ?
      gd._transitionData._frames.length : 0,
    active: gd.layout.sliders ? gd.layout.sliders[0].active : null,
    nsteps: gd.layout.sliders ? gd.layout.sliders[0].steps.length : 0,
    source: hash(shown.map(t => t.source || '').join('|')),
    rail: r ? {x: r.x, y: r.y, w: r.width, h: r.height} : null,
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


def _normalise(error: str) -> str:
    """An error message without the server's random port (to compare across pages)."""
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1", error)


def page_errors(dt: DevTools, url: str, settle: float) -> list[str]:
    """The console errors of loading one page."""
    n = len(dt.events)
    dt.navigate(url, settle=settle)
    return [_normalise(e) for e in _errors_since(dt, n)]


def classify(errors: list[str], baseline: list[str]) -> dict[str, list[str]]:
    """Split errors into the page's own, site-wide (also on the baseline) and offline ones."""
    out: dict[str, list[str]] = {"own": [], "site-wide": [], "offline": []}
    for e in errors:
        if e in baseline:
            out["site-wide"].append(e)
        elif "ERR_NAME_NOT_RESOLVED" in e or "ERR_INTERNET_DISCONNECTED" in e:
            out["offline"].append(e)
        else:
            out["own"].append(e)
    return out


def check_explorer(dt: DevTools, url: str, div: str, shots: Path,
                   baseline: list[str]) -> list[str]:
    """Load the explorer page, click its slider, and return a list of failures."""
    failures = []
    errors = page_errors(dt, url, settle=4.0)
    kinds = classify(errors, baseline)
    for kind in ("site-wide", "offline"):
        for e in kinds[kind]:
            print(f"note ({kind}, not a failure of this page): {e}")
    if kinds["own"]:
        failures.append("console errors on load: " + "; ".join(kinds["own"][:5]))
    n_events = len(dt.events)
    before = dt.js(SLIDER_JS % {"div": json.dumps(div)})
    print("before:", json.dumps(before))
    if not isinstance(before, dict) or before.get("error"):
        return failures + [f"explorer not found: {before}"]
    if before["plotly"] != "object":
        failures.append("plotly.js is not loaded on the page (window.Plotly missing)")
    if not before["rail"] or before["nsteps"] < 2:
        return failures + ["the explorer has no slider with at least two steps"]
    dt.pump(1.0)
    before = dt.js(SLIDER_JS % {"div": json.dumps(div)})  # positions after scrolling
    b, sc = before["box"], before["scroll"]  # clips are in page (document) coordinates
    clip = {"x": max(0, b["x"] + sc["x"]), "y": max(0, b["y"] + sc["y"]), "width": b["w"],
            "height": b["h"]}
    shot_before = dt.screenshot(shots / "explorer_before.png", clip=clip)
    rail = before["rail"]
    dt.click(rail["x"] + rail["w"] - 3, rail["y"] + rail["h"] / 2)  # the last step
    dt.pump(2.0)
    after = dt.js(SLIDER_JS % {"div": json.dumps(div)})
    print("after: ", json.dumps(after))
    shot_after = dt.screenshot(shots / "explorer_after.png", clip=clip)
    if after["active"] == before["active"]:
        failures.append(f"slider did not move (active step {after['active']})")
    if after["source"] == before["source"]:
        failures.append("the visible image traces kept the same pictures")
    if hashlib.sha256(shot_before).digest() == hashlib.sha256(shot_after).digest():
        failures.append("the figure's pixels did not change on screen")
    late = [_normalise(e) for e in _errors_since(dt, n_events)]
    if late:
        failures.append("console errors after the click: " + "; ".join(late[:5]))
    return failures


def _errors_since(dt: DevTools, n: int) -> list[str]:
    """Errors among the events received after the first ``n``."""
    everything = dt.events
    dt.events = everything[n:]
    try:
        return dt.errors()
    finally:
        dt.events = everything


def main(argv: list[str] | None = None) -> int:
    """Run the checks; exit status 0 when all pass."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", default="_build/html", help="built book folder")
    parser.add_argument("--page", default=DEFAULT_PAGE, help="explorer page, relative")
    parser.add_argument("--div", default="mp-training-explorer", help="explorer element id")
    parser.add_argument("--shots", default="/tmp/shots", help="folder for screenshots")
    parser.add_argument("--screenshot", nargs="*", default=DEFAULT_SHOTS,
                        help="pages to screenshot (relative to --html)")
    parser.add_argument("--baseline", default="notebooks/01_getting_started.html",
                        help="a plain page whose console errors count as site-wide")
    parser.add_argument("--chromium", default=None, help="Chromium binary")
    args = parser.parse_args(argv)

    root = Path(args.html).resolve()
    if not (root / args.page).is_file():
        print(f"error: {root / args.page} does not exist; build the book first", file=sys.stderr)
        return 2
    binary = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if binary is None:
        print("error: no Chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    shots = Path(args.shots)
    server, base = serve(root)
    profile_dir = tempfile.mkdtemp(prefix="mpfas-chromium-")
    proc = None
    try:
        proc, ws_url = start_chromium(binary, profile_dir)
        dt = DevTools(ws_url)
        for domain in ("Page", "Runtime", "Log"):
            dt.call(f"{domain}.enable")
        dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=1800,
                deviceScaleFactor=1, mobile=False)
        baseline = []
        if (root / args.baseline).is_file():
            baseline = page_errors(dt, base + args.baseline, settle=2.0)
            for e in baseline:
                print(f"site-wide error (on the baseline page {args.baseline}): {e}")
        failures = check_explorer(dt, base + args.page, args.div, shots, baseline)
        for page in args.screenshot:
            if (root / page).is_file():
                dt.navigate(base + page, settle=2.0)
                name = page.replace("/", "_").removesuffix(".html") + ".png"
                dt.screenshot(shots / name)
                print(f"screenshot {shots / name}")
    finally:
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        server.shutdown()
        shutil.rmtree(profile_dir, ignore_errors=True)
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print("OK: no console errors, plotly loaded, the slider changed the picture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
