"""The README's screenshots, taken in the real browser: ``make screenshots`` (or
``python -m tools.screenshots [--out DIR]``).

* ``live_chart.png``: what a user sees in JupyterLab. A real ``jupyter lab`` (tools.browser)
  opens a notebook that shows ``lab.chart("BTCUSDT")`` with ``SmaCross`` trading on a paper
  broker, then plays ``LIVE_BARS`` shipped one-minute bars to it through a local Binance feed
  (``lab.live``: a WebSocket on 127.0.0.1). Debian's Chromium (Playwright) runs the cells;
  the picture is taken of the chart's output area once the page draws every bar (a
  condition on the chart's SVG, waited for by Playwright, never a sleep).
* ``bracket_chart.png``: ``evlab.plot.chart`` of ``BracketCross`` (a limit entry with a
  take-profit / stop-loss bracket, notebook 04's section 6) on the shipped AAPL bars, the
  figure written as a standalone HTML page and shot the same way.

``manifest.json`` next to them holds the sha256 of every file the pictures depend on
(``SOURCES``: the chart code and these scenes) and of each PNG; tests/test_screenshots.py
fails when a source no longer matches (then run ``make screenshots`` and commit the result).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tools.browser import wait_cell

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"
# What the pictures depend on, relative to ROOT (the Makefile's SCREENSHOT_SOURCES too).
SOURCES = ("evlab/plot/*.py", "evlab/examples.py", "tools/screenshots.py")
MANIFEST = "manifest.json"
LIVE_PNG, BRACKET_PNG = "live_chart.png", "bracket_chart.png"
VIEWPORT = {"width": 1280, "height": 1000}
LIVE_BARS = 240
TIMEOUT_MS = 120_000

LIVE_CELLS = [
    """\
import evlab
from evlab import EventType
from evlab.examples import SmaCross
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio

lab = evlab.Lab()
portfolio = Portfolio(100_000)
broker = PaperBroker(portfolio, FillModel(commission=1.0), FractionOfEquity(0.95))
lab.add("portfolio", portfolio, [EventType.BAR, EventType.FILL], priority=20)
lab.add("broker", broker, PaperBroker.EVENTS, priority=10)
lab.add("sma", SmaCross(10, 30))
chart = lab.chart("BTCUSDT", title="BTCUSDT live · SMA 10/30")
chart""",
    f"""feed = lab.live("btcusd_1m", exchange="binance", rate=120, limit={LIVE_BARS})""",
    wait_cell(LIVE_BARS),
]


def _candles(selector: str) -> str:
    return f"document.querySelectorAll('{selector} g.trace.boxes path').length"


def source_files(root: Path = ROOT) -> list[Path]:
    """The files matched by ``SOURCES``, sorted."""
    return sorted({p for pattern in SOURCES for p in root.glob(pattern) if p.is_file()})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_digests(root: Path = ROOT) -> dict[str, str]:
    """``{relative path: sha256}`` of what the screenshots depend on."""
    return {p.relative_to(root).as_posix(): _sha256(p) for p in source_files(root)}


def stale(out: Path = OUT, root: Path = ROOT) -> list[str]:
    """What makes the screenshots in ``out`` out of date (empty: up to date): changed,
    added or removed sources, missing or altered PNGs."""
    manifest_path = out / MANIFEST
    if not manifest_path.exists():
        return [f"{manifest_path} is missing"]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    recorded, now = manifest["sources"], source_digests(root)
    problems = [f"{name} changed" for name in sorted(now) if recorded.get(name, now[name])
                != now[name]]
    problems += [f"{name} is new" for name in sorted(set(now) - set(recorded))]
    problems += [f"{name} is gone" for name in sorted(set(recorded) - set(now))]
    for image, facts in sorted(manifest["images"].items()):
        path = out / image
        if not path.exists():
            problems.append(f"{image} is missing")
        elif _sha256(path) != facts["sha256"]:
            problems.append(f"{image} is not the one the manifest records")
    return problems


def bracket_figure() -> Any:
    """Notebook 04's bracket session (BracketCross 10/30, +8% / -4%, $1 and 5 bps on AAPL
    from March 2005), as ``evlab.plot.chart`` draws its last 500 bars there."""
    import evlab
    from evlab import EventType
    from evlab.examples import BracketCross
    from evlab.execution import FillModel, PaperBroker, Portfolio

    lab = evlab.Lab(name="bracket")
    portfolio = Portfolio(100_000)
    broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5))
    lab.add("portfolio", portfolio, [EventType.BAR, EventType.FILL], priority=20)
    lab.add("broker", broker, PaperBroker.EVENTS, priority=10)
    lab.add("bracket", BracketCross(10, 30, take_profit=0.08, stop_loss=0.04),
            BracketCross.EVENTS)
    try:
        lab.replay("stocks_daily", symbols="AAPL", start="2005-03-01", background=False)
        if lab.errors:
            raise RuntimeError(f"the bracket session had errors: {dict(lab.errors)}")
        return evlab.plot.chart(lab.recorder, "AAPL", last=500,
                                title="AAPL · BracketCross 10/30: DAY limit entry, "
                                "+8% take-profit / -4% stop-loss")
    finally:
        lab.stop()


def _live_chart(browser: Any, path: Path, work: Path) -> str:
    from tools.browser import DONE, PLOT, jupyter_lab, kernel_idle, run_cells, write_notebook

    root = work / "root"
    root.mkdir()
    write_notebook(root / "live_chart.ipynb", LIVE_CELLS)
    with jupyter_lab(root, work / "jupyter") as server:
        page = browser.new_page(viewport=VIEWPORT)
        try:
            page.goto(server.lab_url("live_chart.ipynb"))
            page.wait_for_function(kernel_idle(len(LIVE_CELLS)), timeout=TIMEOUT_MS)
            # the notebook alone, as wide as the window: no file browser beside it
            page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            run_cells(page, "notebook:run-cell", 0)
            page.locator(f"{PLOT} .main-svg").first.wait_for(timeout=TIMEOUT_MS)
            run_cells(page, "notebook:run-all-below", 1)
            done = page.locator(".jp-OutputArea-output", has_text="evlab-done")
            done.wait_for(timeout=TIMEOUT_MS)
            text = str(done.inner_text())
            match = DONE.search(text)
            if match is None or match.group(1, 2, 4) != ("True", str(LIVE_BARS), "0"):
                raise RuntimeError(f"the live chart notebook did not draw every bar: {text}")
            page.wait_for_function(f"() => {_candles(PLOT)} === {LIVE_BARS}",
                                   timeout=TIMEOUT_MS)
            plot = page.locator(".js-plotly-plot")
            output = page.locator(".jp-OutputArea-output", has=plot).first
            output.scroll_into_view_if_needed()
            page.mouse.move(0, 0)  # no hover label over the chart
            output.screenshot(path=str(path))
        except BaseException:
            print(f"jupyter lab log:\n{server.log}", file=sys.stderr)
            raise
        finally:
            page.close()
    return f"{match.group(2)} bars, {match.group(4)} errors"


def _bracket_chart(browser: Any, path: Path, work: Path) -> int:
    fig = bracket_figure()
    bars = len(fig.data[0].x)
    html = work / "bracket_chart.html"
    fig.write_html(html, include_plotlyjs=True, full_html=True, default_width="100%")
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(html.as_uri())
        page.wait_for_function(f"() => {_candles('.js-plotly-plot')} === {bars}",
                               timeout=TIMEOUT_MS)
        page.mouse.move(0, 0)
        page.locator(".js-plotly-plot").first.screenshot(path=str(path))
    finally:
        page.close()
    return bars


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def take(out: Path = OUT) -> dict[str, Any]:
    """Render both screenshots into ``out`` and write its manifest; returns the manifest."""
    from playwright.sync_api import sync_playwright

    from tools.browser import CHROMIUM_FLAGS, chromium_executable

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evlab-screenshots-") as tmp, \
            sync_playwright() as pw:
        work = Path(tmp)
        browser = pw.chromium.launch(executable_path=chromium_executable(),
                                     args=CHROMIUM_FLAGS)
        try:
            (work / "live").mkdir()
            live = _live_chart(browser, out / LIVE_PNG, work / "live")
            bars = _bracket_chart(browser, out / BRACKET_PNG, work)
        finally:
            browser.close()
    images = {}
    for name, what in ((LIVE_PNG, live), (BRACKET_PNG, f"{bars} bars")):
        width, height = _png_size(out / name)
        images[name] = {"sha256": _sha256(out / name), "width": width, "height": height,
                        "drawn": what}
    manifest = {"command": "make screenshots", "sources": source_digests(),
                "images": images}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs and the "
                        "manifest go (default: docs/images)")
    parser.add_argument("--check", action="store_true", help="only say whether the "
                        "screenshots are up to date (exit 1 if not)")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.out)
        for problem in problems:
            print(f"{problem}: run `make screenshots`")
        return 1 if problems else 0
    manifest = take(args.out)
    for name, facts in manifest["images"].items():
        print(f"{args.out / name}: {facts['width']}x{facts['height']} ({facts['drawn']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
