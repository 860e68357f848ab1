"""Chooses how the dispatch core (``evlab/_core.py``) runs: compiled or interpreted.

``pip install`` compiles the core with Cython where a C compiler exists; without one, or with
``EVLAB_PURE_PYTHON=1`` in the environment, the same source runs interpreted.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED", "core", "load_interpreted"]


def load_interpreted(name: str = "evlab._core") -> ModuleType:
    """The core's source run by the interpreter, as module ``name`` (even where the compiled
    extension exists: the differential test loads both)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_core.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if os.environ.get("EVLAB_PURE_PYTHON"):
    core = load_interpreted()
else:
    from evlab import _core as core  # the extension if it was built, else the source

COMPILED: bool = core.__file__ is not None and not core.__file__.endswith(".py")
