"""Stand-in for the ``cython`` module where Cython is not installed: evlab runs interpreted."""

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

compiled = False


def annotation_typing(enabled: bool) -> Callable[[F], F]:
    """Cython's ``@cython.annotation_typing(False)`` (its annotations do not type the compiled
    function): interpreted, the function as it is."""
    def keep(function: F) -> F:
        return function
    return keep


def cdivision(enabled: bool) -> Callable[[F], F]:
    """Cython's ``@cython.cdivision(True)`` (C division: no zero check): interpreted, the
    function as it is."""
    def keep(function: F) -> F:
        return function
    return keep


def address(value: Any) -> Any:
    """Cython's ``cython.address`` (a C pointer to a variable): only compiled branches take
    one (``if cython.compiled:``), so interpreted it is never called."""
    raise NotImplementedError("cython.address: compiled code only")


class _CType:
    """Cython's C types (``cython.char``, ``cython.double``), subscripted for a C array's type
    (``cython.double[40]``): only compiled branches declare one, so interpreted it is never
    used."""

    def __getitem__(self, size: int) -> Any:
        raise NotImplementedError("C arrays: compiled code only")


char = double = _CType()


def declare(ctype: Any) -> Any:
    """Cython's ``cython.declare`` (a C variable of ``ctype``): compiled code only."""
    raise NotImplementedError("cython.declare: compiled code only")
