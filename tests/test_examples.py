"""The examples run as scripts and print a readable account."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sync_demo_prints_the_causal_chain_equity_and_analytics():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "event_system_demo.py")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "AAPL daily bars 2000-03-01 .. 2013-03-01" in out
    assert "3270 bar" in out
    # The signal at the 2000-09-05 close fills at the next bar's open: the fill's cause is
    # the order (not the bar it executed at), the order's the signal, the signal's the bar.
    # 95% of the equity at that open (sized at the fill) buys 1546; the broker's ACCEPTED
    # order update (#135) comes between the order and the fill.
    assert "2000-09-06 BUY    1546 @    61.41   " \
           "(bar #132 -> signal #133 -> order #134 -> fill #137)" in out
    assert "final equity:" in out and "0 handler errors, 0 rejected" in out
    account = out.split("analytics:\n")[1]
    assert "total return" in account and "Sharpe" in account and "max drawdown" in account
    assert "30 trades, win rate" in account
    assert "caveat" not in account  # 13 years of daily bars: the annual figures stand


def test_async_demo_runs_the_live_feed_offline_and_stops_cleanly(tmp_path):
    html = tmp_path / "chart.html"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "async_event_system_demo.py"),
                          "--exchange", "binance", "--html", str(html)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert "4216 BTCUSDT minute bars over ws://127.0.0.1 in binance's format" in out
    assert "4216 bar" in out and "decoder: 0 errors, 94 gaps" in out
    assert "-> bar #" in out and "-> fill #" in out
    assert "525,600 a year" in out  # three days incl. a weekend: a 24/7 market
    account = out.split("analytics:\n")[1]
    assert "caveat: sample too short to annualise: 2.9 days of bars, under 91" in account
    assert "stopped cleanly: 0 tasks left" in out
    page = html.read_text()
    assert "plotly" in page.lower() and '"type":"candlestick"' in page.replace(" ", "")
