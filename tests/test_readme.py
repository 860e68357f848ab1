"""The README's quick start runs as written."""

import contextlib
import io
import re
from pathlib import Path

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
