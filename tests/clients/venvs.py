"""The exchanges' own client libraries, each in a virtual environment of its own.

They cannot share evlab's environment: installed together, pip settles on websockets 13.1
(below evlab's floor) and on old releases of some clients. So each client gets a venv with
pinned versions, made on first use and cached under ``.cache/client-venvs/`` in the checkout
(``EVLAB_CLIENT_VENVS`` moves it). A venv counts as made once its stamp file exists, so an
interrupted install is redone; a file lock keeps two test processes from making one at once.
The feed server runs in evlab's environment (the test's process); each client runs as a child
process with its own interpreter and prints what it parsed as JSON on its last line.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"

# What each client needs, pinned: the versions the scripts were written against.
CLIENTS: dict[str, tuple[str, ...]] = {
    "python-binance": ("python-binance==1.0.37",),
    "binance-connector": ("binance-connector==3.13.0",),
    "binance-sdk-spot": ("binance-sdk-spot==13.3.0",),
    "python-kraken-sdk": ("python-kraken-sdk==3.5.1",),
    "coinbase-advanced-py": ("coinbase-advanced-py==1.8.4",),
    "polygon-api-client": ("polygon-api-client==1.16.3",),
    "alpaca-py": ("alpaca-py==0.44.0",),
    "ccxt": ("ccxt==4.5.90",),
    # benchmark peer (benchmarks/bench_books.py): 3.x needs Python 3.13, 2.4.0 runs on 3.11
    "cryptofeed": ("cryptofeed==2.4.0",),
    # benchmark peer (benchmarks/bench_backtest.py): pins pandas < 3, so it cannot share ours
    "nautilus": ("nautilus_trader==1.221.0",),
}

INSTALL_TIMEOUT = 900  # s: a cold pip cache on a slow link; a safety net, not a measurement
RUN_TIMEOUT = 120  # s: what one client script may take at most


def venv_root() -> Path:
    return Path(os.environ.get("EVLAB_CLIENT_VENVS", ROOT / ".cache" / "client-venvs"))


def client_python(name: str) -> Path:
    """The interpreter of ``name``'s venv, made (once) with its pinned requirements."""
    requirements = CLIENTS[name]
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:10]
    home = venv_root() / f"{name}-{digest}"
    python = home / "bin" / "python"
    stamp = home / ".complete"
    if stamp.exists():
        return python
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True,
                           timeout=INSTALL_TIMEOUT)
            subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check",
                            "-q", *requirements], check=True, timeout=INSTALL_TIMEOUT)
            stamp.write_text("\n".join(requirements) + "\n")
    return python


def run_client(name: str, script: str, *args: str) -> Any:
    """Run ``scripts/<script>.py args`` on ``name``'s interpreter; its last stdout line, as JSON.

    Scripts are not named like a package they import (the script's folder comes first on
    ``sys.path``).

    A failing script fails the test with the script's stderr.
    """
    python = client_python(name)
    proc = subprocess.run([str(python), str(SCRIPTS / f"{script}.py"), *args],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          env={**os.environ, "PYTHONPATH": ""})
    if proc.returncode != 0:
        raise AssertionError(f"{name} ({script}.py) exited with {proc.returncode}:\n"
                             f"{proc.stderr[-4000:]}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise AssertionError(f"{name} ({script}.py) printed nothing:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])
