"""Picks the C accelerator for dispatch (``evlab._speedups``) or the pure-Python fallback.

The C extension is built by ``pip install`` where a compiler is present; without it, or
with ``EVLAB_PURE_PYTHON=1`` in the environment, evlab runs the same algorithm in Python.
"""

from __future__ import annotations

import os
from types import ModuleType

speedups: ModuleType | None = None
if not os.environ.get("EVLAB_PURE_PYTHON"):
    try:
        from evlab import _speedups as speedups
    except ImportError:  # no compiler at install time: the Python path is complete on its own
        speedups = None

__all__ = ["speedups"]
