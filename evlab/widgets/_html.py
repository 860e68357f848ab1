"""Small HTML tables for the widgets (escaped, compact, readable in light and dark themes)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["fmt", "table"]

_TABLE = ("<table style='border-collapse:collapse;font:12px/1.35 monospace;margin:2px 0 8px'>"
          "{head}{body}</table>")
_CELL = "padding:1px 8px;text-align:{align};white-space:nowrap"


def fmt(value: Any, spec: str = ",.0f") -> str:
    """A number formatted with ``spec``; ``None`` as a dash; anything else as text."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return format(value, spec)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          numeric: Sequence[bool] | None = None, title: str | None = None) -> str:
    """An HTML table; ``numeric[i]`` right-aligns column ``i``."""
    numeric = numeric or [False] * len(headers)
    align = ["right" if n else "left" for n in numeric]
    head = "".join(f"<th style='{_CELL.format(align=a)};border-bottom:1px solid #8888'>"
                   f"{html.escape(h)}</th>" for h, a in zip(headers, align, strict=True))
    body = "".join("<tr>" + "".join(f"<td style='{_CELL.format(align=a)}'>"
                                    f"{html.escape(str(c))}</td>"
                                    for c, a in zip(row, align, strict=True)) + "</tr>"
                   for row in rows)
    caption = f"<b style='font:bold 12px sans-serif'>{html.escape(title)}</b>" if title else ""
    return caption + _TABLE.format(head=f"<tr>{head}</tr>", body=body)
