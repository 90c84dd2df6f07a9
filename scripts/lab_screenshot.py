"""Open a chapter in a headless JupyterLab and save a screenshot (does MyST render?).

Starts ``jupyter lab`` on ``notebooks/`` (with ``--allow-root`` when run as root) on a free
local port with a random token, opens the notebook in headless Chromium over the DevTools
protocol, scrolls to a heading, saves a PNG and prints whether raw MyST markup
(``{cite}``, ``{exercise-start}``, ...) is still visible as text in the rendered cells.
Needs Chromium (Debian: ``apt-get install chromium``) and ``websocket-client``.

Usage::

    python scripts/lab_screenshot.py --notebook 06_algorithm1.ipynb --heading Exercises \\
        --out /tmp/lab.png
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_book import DevTools, free_port, start_chromium  # noqa: E402

from mpfas_lib.helptext import DocstringFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Headings of every level, and exercise titles (jupyterlab-myst renders those as a div)
HEADINGS = ", ".join([*(f".jp-MarkdownCell h{level}" for level in range(1, 7)),
                      ".jp-MarkdownCell .myst-exercise-title"])
RAW_MARKUP = ["{cite}", "{doc}", "{exercise-start}", "{solution-start}", "{ref}", "{glue:"]

# A title matches when it contains one of the texts, not followed by a digit or a point
# ("Exercise 2" is not "Exercise 21"); whitespace (JupyterLab's no-break spaces) is normalised.
PROBE_JS = """
(() => {
  const cells = [...document.querySelectorAll('.jp-MarkdownCell')];
  const titles = [...document.querySelectorAll(%(selector)s)];
  const escape = t => t.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&');
  const patterns = %(texts)s.map(t => new RegExp(escape(t) + '(?![0-9.])'));
  const plain = e => e.textContent.replace(/\\s+/g, ' ').trim();
  const heading = titles.find(h => patterns.some(p => p.test(plain(h))));
  if (heading) heading.scrollIntoView({block: 'start'});
  const text = cells.map(e => e.innerText).join('\\n');
  return {found: heading ? plain(heading) : null, markdown_cells: cells.length,
          raw: %(raw)s.filter(r => text.includes(r)),
          headings: heading ? undefined : titles.map(plain),
          myst_rendered: document.querySelectorAll('.jp-MarkdownCell .myst').length};
})()
"""


def heading_texts(heading: str, notebook: str) -> list[str]:
    """What JupyterLab shows for a heading of the book: Lab numbers exercises per notebook.

    The book's "Exercise 6.2" (chapter 6, book/instructors.md) is "Exercise 2" in
    ``06_algorithm1.ipynb``; any other text is looked for as it is.
    """
    texts = [" ".join(heading.split())]
    numbered = re.fullmatch(r"(Exercise)\s+(\d+)\.(\d+)", texts[0])
    chapter = re.match(r"\d+", Path(notebook).name)
    if numbered and chapter and int(chapter.group()) == int(numbered.group(2)):
        texts.append(f"{numbered.group(1)} {int(numbered.group(3))}")
    return texts


def wait_for(url: str, seconds: float) -> None:
    """Poll ``url`` until it answers."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def main() -> int:
    """Start JupyterLab and Chromium, take the screenshot, report raw markup."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--notebook", default="06_algorithm1.ipynb")
    parser.add_argument("--dir", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--heading", default="Exercises",
                        help='scroll to this heading (any level) or exercise, e.g. "Exercise 6.2"')
    parser.add_argument("--out", type=Path, default=Path("lab.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--settle", type=float, default=25.0, help="seconds to let Lab render")
    args = parser.parse_args()
    if not (args.dir / args.notebook).exists():
        print(f"lab_screenshot: {args.dir / args.notebook} does not exist")
        return 2
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               f"--ServerApp.token={token}", f"--notebook-dir={args.dir}",
               "--ServerApp.ip=127.0.0.1"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with tempfile.TemporaryDirectory() as tmp:
        # Every cell in the page (no windowing, so the heading can be found) and no news popup.
        for name, setting in [("notebook-extension/tracker", {"windowingMode": "none"}),
                              ("apputils-extension/notification", {"fetchNews": "false"})]:
            path = Path(tmp, "settings", "@jupyterlab", f"{name}.jupyterlab-settings")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(setting))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": f"{tmp}/config",
               "JUPYTERLAB_SETTINGS_DIR": f"{tmp}/settings"}
        lab = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
        chromium = None
        try:
            wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", 90)
            chromium, ws = start_chromium(args.chromium, f"{tmp}/chromium")
            dt = DevTools(ws)
            dt.navigate(f"http://127.0.0.1:{port}/lab/tree/{args.notebook}?token={token}",
                        settle=args.settle)
            texts = heading_texts(args.heading, args.notebook)
            probe = dt.js(PROBE_JS % {"texts": json.dumps(texts),
                                      "selector": json.dumps(HEADINGS),
                                      "raw": json.dumps(RAW_MARKUP)})
            dt.pump(3)
            dt.screenshot(args.out)
        finally:
            if chromium is not None:
                chromium.kill()
            lab.terminate()
            lab.wait(timeout=30)
    print(json.dumps({"screenshot": str(args.out), **probe}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
