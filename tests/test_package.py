"""The package explains itself in a notebook: every public name is listed, importable, and
known to type checkers, from one import path (``evlab``; ``evlab.core.events`` is the guide's)."""

from __future__ import annotations

import ast
from pathlib import Path

import evlab

NOTEBOOK_NAMES = {"Lab", "Replayer", "record", "load_recording", "compare", "EventRecorder",
                  "WebSocketEmitter", "WebSocketHandler", "FeedServer", "LiveChart", "run",
                  "EventBus", "EventManager", "BarEvent", "create_bar_event", "EventType"}


def test_dir_lists_the_lazily_loaded_names_too() -> None:
    listed = set(dir(evlab))
    assert listed >= NOTEBOOK_NAMES
    assert {"datasets", "plot", "recording"} <= listed
    assert set(evlab.__all__) >= NOTEBOOK_NAMES


def test_every_public_name_resolves() -> None:
    for name in evlab.__all__:
        assert getattr(evlab, name) is not None, name


def test_ipython_completes_the_names_a_notebook_needs() -> None:
    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("import evlab")
    try:
        with provisionalcompleter():
            found = {c.text for c in shell.Completer.completions("evlab.Re", 8)}
            assert {"Replayer", "Recording", "RecordingError"} <= found
            found = {c.text for c in shell.Completer.completions("evlab.load_", 11)}
            assert "load_recording" in found
    finally:
        InteractiveShell.clear_instance()


def test_type_checkers_see_the_same_lazy_names_as_runtime() -> None:
    tree = ast.parse(Path(evlab.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    typed = {alias.asname or alias.name for node in block.body
             if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert typed == set(evlab._LAZY) | evlab._SUBMODULES
