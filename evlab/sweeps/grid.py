"""The parameter sets of a sweep: a dict of lists (their cartesian product) or a list of dicts."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Grid", "expand"]

Grid = Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]]


def expand(grid: Grid, reserved: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The parameter dicts of ``grid``, in order: a dict of lists gives their cartesian
    product (the first key varies slowest, as in ``itertools.product``; ``{}`` is one run with
    no parameters), a list of dicts is taken as it is. Names in ``reserved`` (the sweep's own
    columns) are refused, so a parameter never hides a result."""
    if isinstance(grid, Mapping):
        names = list(grid)
        values = []
        for name in names:
            options = grid[name]
            if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
                raise TypeError(f"grid[{name!r}]: give a list of values to try, got "
                                f"{type(options).__name__} {options!r} (one value: [{options!r}])")
            options = list(options)
            if not options:
                raise ValueError(f"grid[{name!r}]: an empty list of values leaves no run")
            values.append(options)
        combos = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    elif isinstance(grid, (str, bytes)) or not isinstance(grid, Iterable):
        raise TypeError(f"grid: a dict of lists or a list of dicts, got {type(grid).__name__}")
    else:
        combos = []
        for i, combo in enumerate(grid):
            if not isinstance(combo, Mapping):
                raise TypeError(f"grid[{i}]: a dict of parameters, got {type(combo).__name__}")
            combos.append(dict(combo))
        if not combos:
            raise ValueError("grid: an empty list of parameter sets leaves no run")
    taken = set(reserved)
    for combo in combos:
        for name in combo:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"grid: parameter names are keyword arguments of the "
                                 f"strategy, got {name!r}")
            if name in taken:
                raise ValueError(f"grid: parameter {name!r} has the name of a result column "
                                 f"of the sweep; rename it in the strategy")
    return combos
