"""The examples run as scripts and print a readable account."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sync_demo_prints_the_causal_chain_and_equity():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "event_system_demo.py")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "AAPL daily bars 2000-03-01 .. 2013-03-01" in out
    assert "3270 bar" in out
    assert "bar #131 -> signal #132 -> order #133 -> fill #134" in out
    assert "final equity:" in out and "0 handler errors" in out
