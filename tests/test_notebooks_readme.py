"""Every code block of notebooks/README.md runs as pasted into a shell at the repository root.

* The "Running them" block starts JupyterLab on the notebooks. The test runs it unchanged
  and asks the server's contents API for the notebooks, then stops it. What a user would
  set in their own Jupyter config comes from a fresh config folder: no browser, 127.0.0.1,
  a free port, a known token, debug logging (to see when it listens), and ``allow_root``
  (the test suite runs as root in CI).
* The "Editing" block regenerates the .ipynb files from their .py sources and runs one
  notebook's tests. It runs in a copy of the notebooks (so the test never rewrites the
  working tree), and the notebooks it writes must be the committed ones, byte for byte.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tools.browser import JupyterLab, fresh_environment

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
BLOCKS: list[tuple[str, str]] = re.findall(r"```(\w*)\n(.*?)```", PAGE, re.S)
STARTED = re.compile(r"\| extension was successfully started")
NAMES = ["01_event_bus_basics", "02_live_feed", "03_record_and_replay",
         "04_strategy_prototyping"]


def block(containing: str) -> str:
    """The one bash block of the page that contains ``containing``."""
    found = [code for lang, code in BLOCKS if lang == "bash" and containing in code]
    assert len(found) == 1, f"expected one bash block with {containing!r}, found {found}"
    return found[0]


def test_every_block_of_the_page_is_one_of_those_run_here() -> None:
    assert [code for _, code in BLOCKS] == [block("jupyter lab"), block("jupytext")]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # the server on 127.0.0.1
        return json.load(response)


def test_the_jupyter_lab_block_serves_the_notebooks(tmp_path: Path) -> None:
    token = secrets.token_hex(24)
    env = fresh_environment(tmp_path)
    config = {"ServerApp": {"allow_root": True, "open_browser": False, "ip": "127.0.0.1",
                            "port": 0, "port_retries": 0, "log_level": "DEBUG"},
              "IdentityProvider": {"token": token}, "LabApp": {"news_url": None}}
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(
        json.dumps(config))
    # bash runs the one-line block by exec, so the server is the process stopped below
    proc = subprocess.Popen(["bash", "-c", block("jupyter lab")], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterLab(proc, ROOT / "notebooks", token)
    try:
        url = server.wait_ready(timeout=90)
        # The URL is printed before the server listens; extensions start (logged at DEBUG)
        # in the loop's first round, after the socket is bound.
        server.wait_for(STARTED, timeout=90)
        listing = get_json(f"{url}/api/contents?content=1&token={token}")
        notebook = get_json(f"{url}/api/contents/02_live_feed.ipynb?token={token}")
    finally:
        server.stop()
    served = {item["name"] for item in listing["content"]}
    assert {f"{name}.ipynb" for name in NAMES} | {f"{name}.py" for name in NAMES} <= served
    assert notebook["type"] == "notebook"
    assert notebook["content"]["metadata"]["kernelspec"]["name"] == "python3"


def test_the_editing_block_regenerates_the_committed_notebooks(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "notebooks", copy / "notebooks")
    (copy / "tests").mkdir()
    for name in ("__init__.py", "test_notebooks.py"):
        shutil.copy(ROOT / "tests" / name, copy / "tests" / name)
    shutil.copy(ROOT / "pyproject.toml", copy)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    for name in NAMES:  # stale copies: the command must rewrite them from the .py files
        stale = copy / "notebooks" / f"{name}.ipynb"
        notebook = json.loads(stale.read_text(encoding="utf-8"))
        notebook["cells"][0]["source"] = ["(an old version of this cell)"]
        stale.write_text(json.dumps(notebook), encoding="utf-8")

    done = subprocess.run(["bash", "-e", "-c", block("jupytext")], cwd=copy, text=True,
                          capture_output=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b3 passed\b", done.stdout), done.stdout  # sync, clean, and a run of 02
    for name in NAMES:
        written = (copy / "notebooks" / f"{name}.ipynb").read_bytes()
        assert written == (ROOT / "notebooks" / f"{name}.ipynb").read_bytes(), \
            f"the documented command does not write the committed {name}.ipynb"
