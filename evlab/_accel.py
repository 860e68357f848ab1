"""Chooses how the dispatch core (``evlab/_core.py``) runs: compiled or interpreted.

``pip install`` compiles the core with Cython where a C compiler exists; without one, or with
``EVLAB_PURE_PYTHON=1`` in the environment, the same source runs interpreted. The same holds
for the builders of the book events (``evlab/_builders.py``, chosen here with the core) and
for the order book (``evlab/books/book.py``, see ``evlab/books/__init__.py``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

__all__ = ["COMPILED", "builders", "core", "interpreted_copy", "load_interpreted",
           "source_module"]


def load_interpreted(name: str = "evlab._core") -> ModuleType:
    """The core's source run by the interpreter, as module ``name`` (even where the compiled
    extension exists: the differential test loads both)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_core.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def source_module(name: str) -> ModuleType:
    """Module ``name`` (an evlab module pip may compile, as ``evlab.books.book``) run from its
    source by the interpreter, and put in ``sys.modules`` in place of the extension."""
    return _load(name, Path(__file__).parent.joinpath(*name.split(".")[1:]).with_suffix(".py"))


def interpreted_copy() -> SimpleNamespace:
    """A second ``evlab.events`` and ``evlab.bus`` running on the interpreted core (and event
    builders), beside
    the ones in use (for the differential test and the benchmark's fallback numbers); the
    modules in ``sys.modules`` are left as they were."""
    names = ("evlab._core", "evlab._builders", "evlab._accel", "evlab.events", "evlab.bus")
    saved = {n: sys.modules[n] for n in names if n in sys.modules}
    try:
        interpreted = load_interpreted("evlab._core")
        here = Path(__file__).parent
        accel = ModuleType("evlab._accel")
        accel.core, accel.COMPILED = interpreted, False  # type: ignore[attr-defined]
        builders = _load("evlab._builders", here / "_builders.py")
        accel.builders = builders  # type: ignore[attr-defined]
        sys.modules["evlab._accel"] = accel
        events = _load("evlab.events", here / "events.py")
        bus = _load("evlab.bus", here / "bus.py")
        return SimpleNamespace(events=events, bus=bus, core=interpreted, compiled=False)
    finally:
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)


if os.environ.get("EVLAB_PURE_PYTHON"):
    core = load_interpreted()
    builders = source_module("evlab._builders")
else:
    from evlab import _builders as builders
    from evlab import _core as core  # the extension if it was built, else the source

COMPILED: bool = core.__file__ is not None and not core.__file__.endswith(".py")
