"""End to end: evlab's live chart renders and updates in a real JupyterLab in a real browser.

A notebook (written with nbformat) displays ``lab.chart("BTCUSDT")``, starts a local Binance
feed (200 bars at 50 bars/s) and waits until the chart has drawn them all. JupyterLab runs as
a subprocess; Debian's Chromium, driven by Playwright, opens the notebook and runs it. The
browser counts the candles plotly draws (``g.trace.boxes path`` in the chart's SVG) on
every animation frame, and the test checks that the count grew while the feed ran, then
reached the 200 bars the kernel says it drew.

The chart cell runs first, alone; the feed and waiting cells run once the browser shows the
(still empty) chart. Running all cells at once would race the feed (4 s) against the
kernel's imports and the widget's first render in the browser: a cold kernel used to show
only the last 13-27 bars, the first render arriving after most of the feed had gone by.

No sleeps: every wait is Playwright's (a condition with a timeout) or the kernel's own.
"""

from __future__ import annotations

import contextlib

from playwright.sync_api import Page, sync_playwright

from tools.browser import (
    CHROMIUM_FLAGS,
    DONE,
    PLOT,
    chromium_executable,
    jupyter_lab,
    kernel_idle,
    run_cells,
    wait_cell,
    write_notebook,
)

BARS = 200
NOTEBOOK = "live_chart.ipynb"

CHART_CELL = """\
import evlab
lab = evlab.Lab()
chart = lab.chart("BTCUSDT")
chart"""

FEED_CELL = f"""\
feed = lab.live("btcusd_1m", exchange="binance", rate=50, limit={BARS})"""

WAIT_CELL = wait_cell(BARS)

# The rendered figure's width and its output area's (content box), in whole pixels.
PLOT_WIDTH = f"""() => {{
    const gd = document.querySelector('{PLOT}');
    const area = gd.closest('.jp-OutputArea-output');
    const pad = parseFloat(getComputedStyle(area).paddingLeft)
        + parseFloat(getComputedStyle(area).paddingRight);
    return {{plot: Math.round(gd.querySelector('.main-svg').getBoundingClientRect().width),
             area: Math.round(area.clientWidth - pad)}};
}}"""
CANDLES = f"document.querySelectorAll('{PLOT} g.trace.boxes path').length"
# Every distinct candle count the page shows, in order, sampled on each animation frame.
RECORD_CANDLES = f"""() => {{
    window.evlabCandles = [];
    const tick = () => {{
        const n = {CANDLES};
        const seen = window.evlabCandles;
        if (document.querySelector('{PLOT}') && seen[seen.length - 1] !== n) seen.push(n);
        requestAnimationFrame(tick);
    }};
    tick();
}}"""


def candles(page: Page, more_than: int, timeout_ms: float) -> int:
    """Wait until the chart shows more than ``more_than`` candles; return how many."""
    handle = page.wait_for_function(
        f"() => {{ const n = {CANDLES}; return n > {more_than} && n; }}", timeout=timeout_ms)
    return int(handle.json_value())


def test_live_chart_renders_and_updates_in_jupyterlab(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / NOTEBOOK, [CHART_CELL, FEED_CELL, WAIT_CELL])
    shot = tmp_path / "live_chart.png"
    with jupyter_lab(root, tmp_path / "jupyter") as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(server.lab_url(NOTEBOOK))
            page.wait_for_function(kernel_idle(3), timeout=90_000)
            page.evaluate(RECORD_CANDLES)

            # 1. The chart alone: the browser renders the empty figure.
            run_cells(page, "notebook:run-cell", 0)
            page.locator(f"{PLOT} .main-svg").first.wait_for(timeout=90_000)
            assert page.evaluate(CANDLES) == 0
            # It fills its output area (no width of its own), and follows it when it narrows.
            fits = f"() => {{ const w = ({PLOT_WIDTH})(); return w.plot === w.area && w; }}"
            widths = page.wait_for_function(fits, timeout=30_000).json_value()
            assert widths["area"] > 900, widths
            page.set_viewport_size({"width": 1000, "height": 1100})
            page.wait_for_function(f"() => {{ const w = ({PLOT_WIDTH})(); "
                                   f"return w.plot === w.area && w.area < {widths['area']}; }}",
                                   timeout=30_000)
            page.set_viewport_size({"width": 1400, "height": 1100})

            # 2. The feed and the wait: candles appear, and more of them later (live).
            run_cells(page, "notebook:run-all-below", 1)
            first = candles(page, 0, timeout_ms=60_000)
            later = candles(page, first, timeout_ms=60_000)
            assert 0 < first < later

            # 3. The kernel drew every bar; the browser shows exactly those.
            output = page.locator(".jp-OutputArea-output", has_text="evlab-done")
            output.wait_for(timeout=120_000)
            done = output.inner_text()
            match = DONE.search(done)
            assert match, done
            assert match.group(1) == "True" and int(match.group(2)) == BARS, done
            assert match.group(4) == "0", done
            page.wait_for_function(f"() => {CANDLES} === {BARS}", timeout=30_000)
            plot = page.evaluate(f"""() => {{
                const gd = document.querySelector('{PLOT}');
                const volume = [...gd.querySelectorAll('.barlayer .point path')];
                return {{type: gd.data[0].type, x: gd.data[0].x.length,
                         close: gd.data[0].close.length, axis: gd._fullLayout.xaxis.type,
                         tick: gd.querySelector('.xtick text').textContent,
                         volume: volume.length,
                         volumeDrawn: volume.filter(
                             p => p.getBoundingClientRect().height > 0).length,
                         mainplots: Object.fromEntries(Object.entries(gd._fullLayout._plots)
                             .map(([id, sp]) => [id, sp.mainplot || null]))}};
            }}""")
            assert {k: plot[k] for k in ("type", "x", "close")} == {
                "type": "candlestick", "x": BARS, "close": BARS}
            assert plot["axis"] == "date" and "e+" not in plot["tick"], plot  # times, not ns
            # volume bars drawn, and no hidden equity subplot laid over them (seen once)
            assert plot["volume"] == BARS and plot["volumeDrawn"] > BARS // 2, plot
            assert plot["mainplots"].get("xy3", "xy") == "xy", plot  # overlays price

            # The page showed the chart growing: several counts on the way to 200.
            seen = page.evaluate("() => window.evlabCandles")
            assert seen[0] == 0 and seen[-1] == BARS, seen
            assert seen == sorted(set(seen)), seen  # only ever grew
            assert len([n for n in seen if 0 < n < BARS]) >= 2, seen

            page.locator(PLOT).first.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
            print(f"candle counts seen: {seen}; {done.strip()}; screenshot: {shot}")
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):  # keep the real failure
                    page.screenshot(path=str(shot))
            print(f"screenshot: {shot}\njupyter lab log:\n{server.log}")
            raise
        finally:
            browser.close()
