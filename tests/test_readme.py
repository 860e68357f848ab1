"""The README's code blocks run as written."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

from evlab import datasets
from tests.test_kernel import Kernel

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_quick_start_runs_and_prints_the_signal():
    section = README.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the project's own documentation
    printed = out.getvalue()
    assert printed.startswith("SignalEvent(#2 ") and "signal_type='BUY'" in printed
    assert "price=151" in printed and "symbol='AAPL'" in printed


def test_live_market_data_offline_runs_as_a_script_and_ends_with_the_stream(tmp_path):
    """Pasted into a file and run with python, as a user would: it streams the 100 bars, the
    server's normal close ends the feed (no reconnect, no re-stream) and the script exits."""
    section = README.split("## Live market data, offline", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "live_offline.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # a safety net against a hang
    assert done.returncode == 0, done.stderr
    last = datasets.load("btcusd_1m").iloc[99]
    assert done.stdout == f"100 bars of BTCUSDT, last close {last['close']}\n"
    assert "reconnect" not in done.stderr and done.stderr == ""


def test_in_a_notebook_block_runs_on_a_real_kernel(tmp_path):
    """Pasted into a cell of a real kernel: every call works, and ``lab.stop()`` ends it all."""
    section = README.split("## In a notebook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    kernel = Kernel(str(tmp_path))
    try:
        kernel.run(code)
        out = kernel.run("import threading\n"
                         "print('sma' in lab.strategies, lab.loop.running, "
                         "[t.name for t in threading.enumerate() if t.name.startswith('evlab')])")
    finally:
        kernel.shutdown()
    assert out.stdout.strip() == "True False []"


def test_the_two_commands_are_make_targets_that_install_then_run():
    """The first block's commands, dry-run (``make -n``): each installs into .venv and runs
    what the README says (running them for real is what CI and a user do)."""
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    root = Path(__file__).resolve().parent.parent
    for command, runs in (("demo", "examples/async_event_system_demo.py"),
                          ("test", "-m pytest")):
        plan = subprocess.run(["make", "-n", "-B", command, "VENV=/nonexistent-venv"],
                              cwd=root, capture_output=True, text=True, check=True).stdout
        assert "-m venv /nonexistent-venv" in plan and "pip install -e" in plan
        assert runs in plan
    demo = subprocess.run(["make", "-n", "-B", "demo", "VENV=/nonexistent-venv"], cwd=root,
                          capture_output=True, text=True, check=True).stdout
    assert "[test]" not in demo  # the demo installs evlab, not the test tools


def test_quotes_and_order_books_block_runs_and_prints_the_book():
    section = README.split("## Quotes and order books", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the project's own documentation
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("QuoteEvent(#2 ") and "bid=100.0" in lines[0]
    assert "bid=99.5" in lines[1] and "ask=100.4" in lines[1]  # the diff moved the top
    assert lines[2] == "99.5 100.4 99.95 0.9000000000000057 [(99.5, 1.0)]"
    assert lines[3].split() == ["bid_price", "bid_size", "ask_price", "ask_size"]


def test_sweeps_block_runs_here_and_on_a_cluster_at_the_address_given(tmp_path, monkeypatch):
    """The block as pasted, with EVLAB_SCHEDULER set to a real LocalCluster's address (a
    user's would be a real scheduler): the cluster's rows are the local ones."""
    import logging

    import pandas as pd
    from distributed import LocalCluster

    section = README.split("## Sweeps and walk-forward", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster:
        monkeypatch.setenv("EVLAB_SCHEDULER", cluster.scheduler_address)
        monkeypatch.chdir(tmp_path)
        names: dict = {}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), names)  # the project's own documentation
    here, there, study = names["here"], names["there"], names["study"]
    assert len(here) == 12 and here["error"].isna().all()
    pd.testing.assert_frame_equal(here.drop(columns="wall_seconds"),
                                  there.drop(columns="wall_seconds"))
    assert len(study.choices) == 11 and study.choices["error"].isna().all()
    assert "stocks_daily[MSFT]" in out.getvalue() and "test_sharpe" in out.getvalue()
    assert names["fig"].data[0].name == "out-of-sample equity"


def test_order_books_block_runs_as_a_script_and_the_replay_matches(tmp_path):
    """The served capture's books and the depth view's levels, then the replay of the
    recording: the same books and quotes (``compare`` empty)."""
    section = README.split("### Order books", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "order_books.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180)  # a safety net against a hang
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0.3527 0.3531 20\nTrue True\n", done.stdout + done.stderr
    assert (tmp_path / "books.parquet").is_file()


def test_paper_trading_block_fills_the_bracket_as_the_comments_say():
    section = README.split("## Paper trading and analytics", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the project's own documentation
    rows = [line.split() for line in out.getvalue().splitlines()]
    assert rows == [["order_id", "status", "avg_price"], ["entry", "FILLED", "99.0"],
                    ["entry-sl", "CANCELED", "NaN"], ["entry-tp", "FILLED", "104.0"]]


def test_charts_block_draws_panels_and_orders():
    """The charts section as written: the RSI in its own panel, the SMA on the candles, the
    bracket's entry, take-profit and stop-loss drawn as working-order segments."""
    section = README.split("### Charts", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the project's own documentation
    assert out.getvalue() == ("{'sma_20': 'y', 'rsi': 'y4'}\n"
                              "['limit', 'take-profit', 'stop-loss']\n")


def test_paper_trading_book_block_walks_the_book_after_the_latency():
    section = README.split("## Paper trading and analytics", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the project's own documentation
    rows = [line.split() for line in out.getvalue().splitlines()]
    assert rows == [["order_id", "status", "filled_quantity", "avg_price"],
                    ["walk", "FILLED", "2.0", "100.5"], ["rest", "ACCEPTED", "0.0", "NaN"]]
