"""evlab: an event bus for event-driven trading research in Jupyter.

The usage guide's names are importable from here and from ``evlab.core.events``.
"""

from evlab.core.events import *  # noqa: F403
from evlab.core.events import __all__ as _core_all

__version__ = "0.1.0"
__all__ = [*_core_all, "__version__"]
