"""The ``evlab`` command line, run as a user runs it: a real process, real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

import evlab
from evlab.cli import main as cli_main
from evlab.feeds.server import FeedServer
from tests.feeds.test_server import as_row, next_bar, rows, subscribe

TIMEOUT = 60  # a safety net against a hang, never a timing assertion


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evlab.cli", *args], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


async def test_cli_serve_prints_its_url_and_streams():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evlab.cli", "serve", "--port", "0", "--exchange", "binance",
        "--limit", "5", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(TIMEOUT):
            line = (await proc.stdout.readline()).decode()
        url = re.search(r"ws://127\.0\.0\.1:\d+", line)
        assert url, line
        server = FeedServer("btcusd_1m", exchange="binance", limit=5)  # for its messages only
        async with connect(url.group(0)) as ws:
            await subscribe(ws, server)
            bar = await next_bar(ws, server.client_adapter())
        assert as_row(bar) == rows(n=1, wire={"BTC-USD": "BTCUSDT"})[0]
    finally:
        proc.terminate()
        async with asyncio.timeout(TIMEOUT):
            await proc.communicate()
    assert proc.returncode == 0


def test_a_port_in_use_is_one_line_with_the_fix():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port))
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()  # no traceback
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "--port 0" in line


def test_help_is_plain_text_and_names_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "``" not in result.stdout  # no reST markup
    assert "evlab serve " in result.stdout and "evlab datasets " in result.stdout
    assert "licences" in result.stdout  # the whole description, not its first line
    serve = run_cli("serve", "--help")
    assert serve.returncode == 0 and "--port" in serve.stdout and "``" not in serve.stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"evlab {evlab.__version__}"


def test_cli_datasets_lists_the_shipped_data(capsys):
    assert cli_main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("btcusd_1m", "btcusd_1s", "stocks_daily"))
    assert "Licence: Apache-2.0 (QuantConnect/Lean; data originally provided by Kaiko)\n" in out
    assert "))" not in out


def test_cli_serve_reports_bad_arguments(capsys):
    assert cli_main(["serve", "--dataset", "stocks_daily", "--exchange", "polygon"]) == 2
    assert "polygon cannot stream" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["serve", "--rate", "1", "--speed", "2"])
