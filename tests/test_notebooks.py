"""The tutorial notebooks: their source, their generated .ipynb, and a run on a real kernel.

Each notebook is written as ``notebooks/NN_name.py`` in Jupytext's percent format (linted by
ruff with the rest of the code); ``NN_name.ipynb`` is generated from it with jupytext and
committed without outputs, so that it opens in JupyterLab and on Binder as is. Each notebook
states what it teaches with ``assert``s, so executing it is the test: a broken feature fails
the cell that shows it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jupytext  # type: ignore[import-untyped]  # jupytext ships no type information
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_event_bus_basics", "02_live_feed", "03_record_and_replay",
         "04_strategy_prototyping", "05_sweeps", "06_order_books"]
REGENERATE = "run .venv/bin/jupytext --to notebook --update notebooks/NN_name.py"


def comparable(notebook: dict[str, Any]) -> dict[str, Any]:
    """``notebook`` (as JSON) without what jupytext does not take from the .py: cell ids (it
    draws new ones for new cells) and ``language_info`` (Jupyter adds it when saving)."""
    cells = [{k: v for k, v in cell.items() if k != "id"} for cell in notebook["cells"]]
    metadata = {k: v for k, v in notebook["metadata"].items() if k != "language_info"}
    return {**notebook, "cells": cells, "metadata": metadata}


def test_every_notebook_has_its_source_and_nothing_else_is_there() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_ipynb_is_what_jupytext_makes_of_the_py(name: str) -> None:
    source = jupytext.read(NOTEBOOKS / f"{name}.py", fmt="py:percent")
    made = json.loads(jupytext.writes(source, fmt="ipynb"))
    on_disk = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert comparable(on_disk) == comparable(made), \
        f"{name}.ipynb differs from {name}.py (or has outputs): edit the .py, then {REGENERATE}"


@pytest.mark.parametrize("name", NAMES)
def test_the_ipynb_is_paired_clean_and_for_the_python3_kernel(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)  # cell ids included
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"  # saving it updates the .py
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    assert all(c.outputs == [] and c.execution_count is None for c in code), \
        f"{name}.ipynb is saved with outputs: clear them, or regenerate it from {name}.py"


def test_the_strategy_notebooks_03_and_04_share_is_imported_not_pasted() -> None:
    for name in ("03_record_and_replay", "04_strategy_prototyping"):
        text = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
        assert "from evlab.examples import SmaCross" in text
        assert "class SmaCross" not in text and "def on_bar" not in text


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
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
