"""The tutorial notebooks run top to bottom on a real Jupyter kernel.

Each notebook states what it teaches with ``assert``s, so executing it is the test: a broken
feature fails the cell that shows it. The notebooks are committed without outputs and with
the ``python3`` kernelspec (``notebooks/_build.py`` writes them that way).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_event_bus_basics", "02_live_feed", "03_record_and_replay",
         "04_strategy_prototyping"]


def test_every_notebook_is_listed():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    assert all(c.outputs == [] and c.execution_count is None for c in code), \
        f"{name} is saved with outputs: clear them (or rebuild it with notebooks/_build.py)"


def test_notebooks_are_what_the_build_script_writes():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert list(build.NOTEBOOKS) == NAMES
    for name, cells in build.NOTEBOOKS.items():
        on_disk = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
        assert on_disk == json.loads(nbformat.writes(build.build(name, cells))), \
            f"{name}.ipynb differs from notebooks/_build.py: edit the cells there and rebuild"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    failure = None
    try:
        client.execute()
    except CellExecutionError as exc:  # its message holds the cell's source and traceback
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"{name}: a cell failed\n{failure}", pytrace=False)
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in ran), f"{name}: not every code cell ran"
