"""One-line summaries of events, for hover texts, the flow view and the event log."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["summary"]


def _n(value: Any, spec: str = ".6g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def _s(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def summary(etype: str, v: Mapping[Any, Any]) -> str:
    """What an event of type ``etype`` with field values ``v`` says, in a few words.

    ``v`` is an event's ``to_dict()`` or a recording's row (keys typed Hashable, as pandas
    types column labels); missing fields show as ``?``.
    """
    g = v.get
    if etype in ("bar", "bar_update"):
        return (f"O {_n(g('open'))} H {_n(g('high'))} L {_n(g('low'))} C {_n(g('close'))} "
                f"V {_n(g('volume'), 'g')}")
    if etype == "signal":
        return f"{_s(g('signal_type'))} @ {_n(g('price'))} ({_s(g('strategy_id'))})"
    if etype == "order":
        limit = g("limit_price")
        at = f" @ {_n(limit)}" if _s(limit) else ""
        return (f"{_s(g('side'))} {_n(g('quantity'), 'g')} {_s(g('order_type'))}{at} "
                f"{_s(g('order_id'))}").rstrip()
    if etype == "fill":
        return f"{_s(g('side'))} {_n(g('quantity'), 'g')} @ {_n(g('price'))}"
    if etype == "portfolio":
        return f"equity {_n(g('equity'), ',.2f')}, cash {_n(g('cash'), ',.2f')}"
    if etype == "tick":
        return f"{_n(g('price'))} x {_n(g('size'), 'g')}"
    if etype == "system":
        message = _s(g("message"))
        return f"{_s(g('kind'))}: {message}" if message else _s(g("kind"))
    if etype == "error":
        return f"{_s(g('error_type'))}: {_s(g('message'))}"
    if etype == "websocket":
        payload = g("payload")
        return f"{len(payload)} bytes" if isinstance(payload, (str, bytes)) else ""
    skip = {"type", "seq", "cause", "emit_time_ns", "time_ns", "source", "symbol"}
    return ", ".join(f"{k}={_s(val)}" for k, val in v.items() if k not in skip)
