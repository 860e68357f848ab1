"""A real JupyterLab server and a real Chromium: for the end-to-end browser test
(tests/test_browser.py) and the README's screenshots (tools/screenshots.py).

``jupyter lab`` runs as a subprocess on 127.0.0.1 with a random token, port 0 (the server
picks a free port and prints its URL, which is read from its log: no port race), and fresh
config, settings, workspaces, data and runtime directories, so nothing on the machine
(an old workspace, user settings) changes what the test sees. The news prompt and the update
check are off (server options and the ``fetchNews``/``checkForUpdates`` user settings), and
the app object is exposed as ``window.jupyterapp`` so a test or a script can drive
JupyterLab commands (``run_cells``) and wait on the page's state (``kernel_idle``).

Chromium is Debian's ``chromium`` driven by Playwright with ``executable_path``: Playwright's
own browser download (``playwright install``) is never used.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # playwright is a test tool; importing this module does not need it
    from playwright.sync_api import Page

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]

_URL = re.compile(r"(http://127\.0\.0\.1:\d+)/lab\?token=")


def chromium_executable() -> str:
    """Debian's chromium (``apt-get install chromium``)."""
    return shutil.which("chromium") or "/usr/bin/chromium"


class JupyterLab:
    """A running ``jupyter lab``: ``url``, ``token``, ``root``, and its log so far."""

    def __init__(self, proc: subprocess.Popen[str], root: Path, token: str) -> None:
        self.proc = proc
        self.root = root
        self.token = token
        self.url = ""
        self._lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="jupyter-lab-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)
            self._queue.put(line)
        self._queue.put(None)  # the server exited

    def wait_ready(self, timeout: float) -> str:
        """Block until the server prints the URL it listens on; returns that base URL."""
        if not self.url:
            self.url = self.wait_for(_URL, timeout).group(1)
        return self.url

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """Block until the server prints a line matching ``pattern`` (after those already
        waited for); returns its match."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"jupyter lab printed no {pattern.pattern!r} in {timeout} s"
                                   f"\n{self.log}") from None
            if line is None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.wait()}\n{self.log}")
            match = pattern.search(line)
            if match:
                return match

    def lab_url(self, path: str) -> str:
        """The JupyterLab URL that opens ``path`` (relative to the root), with the token."""
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    @property
    def log(self) -> str:
        return "".join(self._lines[-200:])

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (the server shuts its kernels down); SIGKILL its process group if stuck."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: server + kernels
                self.proc.wait(timeout)
        self._reader.join(timeout)


def fresh_environment(base: Path) -> dict[str, str]:
    """The environment of a Jupyter process whose config, data, runtime, settings and
    workspaces live under ``base`` (made here), with JupyterLab's news toast off."""
    env = dict(os.environ)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        path = base / sub
        path.mkdir(parents=True)
        env[name] = str(path)
    # No "Would you like to get notified about official Jupyter news?" toast over the page.
    notification = base / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env.pop("JUPYTER_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def jupyter_lab(root: Path, base: Path, timeout: float = 90) -> Iterator[JupyterLab]:
    """Run ``jupyter lab`` serving ``root`` (its state under ``base``) until the block ends."""
    token = secrets.token_hex(24)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           "--ip=127.0.0.1", "--port=0", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.expose_app_in_browser=True"]
    proc = subprocess.Popen(cmd, env=fresh_environment(base), cwd=root, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterLab(proc, root, token)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


# --- driving a notebook in the page ------------------------------------------------------

# JavaScript run in the page. The notebook panel is JupyterLab's current widget.
NOTEBOOK_PANEL = "window.jupyterapp.shell.currentWidget"
PLOT = ".jp-OutputArea-output .js-plotly-plot"


def write_notebook(path: Path, cells: list[str]) -> None:
    """A python3 notebook at ``path`` with one code cell per source in ``cells``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)


DONE = re.compile(r"evlab-done ok=(\w+) points=(\d+) redraws=(\d+) errors=(\d+)")


def wait_cell(points: int) -> str:
    """A cell that waits until the notebook's ``chart`` has drawn ``points`` bars (on a
    worker thread, so the kernel's loop stays free to run the chart's redraws; 120 s at
    most), stops ``lab`` and prints ``evlab-done ok= points= redraws= errors=`` (``DONE``)."""
    return f"""\
import asyncio
import threading

drawn = threading.Event()
chart.on_redraw.append(lambda c: c.points >= {points} and drawn.set())
if chart.points >= {points}:
    drawn.set()
ok = await asyncio.to_thread(drawn.wait, 120)
lab.stop()
print(f"evlab-done ok={{ok}} points={{chart.points}} redraws={{chart.redraws}} "
      f"errors={{sum(lab.errors.values())}}")"""


def kernel_idle(cells: int) -> str:
    """A page predicate: the notebook of ``cells`` cells is open and its kernel idle."""
    return f"""() => {{
    const panel = window.jupyterapp && {NOTEBOOK_PANEL};
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle' && panel.content.widgets.length === {cells};
}}"""


def run_cells(page: Page, command: str, first: int) -> None:
    """Make cell ``first`` active and start ``command`` (``notebook:run-cell``,
    ``notebook:run-all-below``); its promise is not awaited (it settles only when the cells
    have run)."""
    page.evaluate(f"""() => {{
        const panel = {NOTEBOOK_PANEL};
        panel.content.activeCellIndex = {first};
        void window.jupyterapp.commands.execute('{command}');
    }}""")
