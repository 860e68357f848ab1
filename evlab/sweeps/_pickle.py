"""cloudpickle, imported when a sweep sends work out of this process, with a clear error."""

from __future__ import annotations

from typing import Any

NEEDS = "pip install 'evlab[dask]'"


def dumps(obj: Any) -> bytes:
    """``obj`` pickled by cloudpickle (objects of ``__main__`` by value)."""
    try:
        import cloudpickle
    except ImportError as exc:  # distributed depends on it; a bare process pool may lack it
        raise ImportError(f"sending sweep runs to other processes needs cloudpickle: {NEEDS}"
                          ) from exc
    return bytes(cloudpickle.dumps(obj))
