"""Orders beyond market orders: the events (validation naming the field), then the paper
broker's bar fill rules (evlab/execution/fills.py), each case computed by hand."""

from __future__ import annotations

import math

import pytest

import evlab
from evlab.core import events as guide
from evlab.events import (
    CancelEvent,
    EventType,
    OrderEvent,
    OrderUpdateEvent,
    ReplaceEvent,
    create_cancel_event,
    create_order_event,
    create_order_update_event,
    create_replace_event,
)

# --- events ------------------------------------------------------------------------------


def test_the_new_names_are_exported_from_both_import_paths():
    for name in ("CancelEvent", "ReplaceEvent", "OrderUpdateEvent", "create_cancel_event",
                 "create_replace_event", "create_order_update_event"):
        assert getattr(evlab, name) is getattr(guide, name)
    assert (EventType.CANCEL, EventType.REPLACE, EventType.ORDER_UPDATE) == \
        ("cancel", "replace", "order_update")
    assert CancelEvent.type == EventType.CANCEL and ReplaceEvent.type == EventType.REPLACE
    assert OrderUpdateEvent.type == EventType.ORDER_UPDATE


def test_order_types_and_their_fields():
    o = create_order_event("AAPL", "BUY", 10, "STOP_LIMIT", 101.0, stop_price=100.0,
                           time_in_force="GTD", expire_time="2024-01-05", take_profit=110.0,
                           stop_loss=95.0, oco_group="g", order_id="a", timestamp=0)
    assert (o.order_type, o.limit_price, o.stop_price, o.take_profit, o.stop_loss) == \
        ("STOP_LIMIT", 101.0, 100.0, 110.0, 95.0)
    assert o.expire_time_ns == 1_704_412_800_000_000_000 and o.oco_group == "g"
    assert not o.is_plain_market
    t = create_order_event("AAPL", "SELL", 1, "TRAILING_STOP", trail_bps=50, timestamp=0)
    assert t.trail_bps == 50 and t.trail_amount is None
    m = create_order_event("AAPL", "BUY", 1, timestamp=0)
    assert m.is_plain_market and m.time_in_force == "GTC" and m.parent_id == ""
    # the positional constructor of before still builds the same order
    assert OrderEvent("AAPL", "BUY", 1.0, "LIMIT", 99.0, "x", time_ns=0).limit_price == 99.0


@pytest.mark.parametrize(("kwargs", "field", "why"), [
    ({"order_type": "LIMIT"}, "limit_price", "needs a limit price"),
    ({"order_type": "STOP"}, "stop_price", "needs a stop price"),
    ({"order_type": "STOP_LIMIT", "limit_price": 10.0}, "stop_price", "needs a stop price"),
    ({"order_type": "MARKET", "limit_price": 10.0}, "limit_price", "has no limit price"),
    ({"order_type": "LIMIT", "limit_price": -1.0}, "limit_price", "must be positive"),
    ({"order_type": "LIMIT", "limit_price": math.nan}, "limit_price", "must be finite"),
    ({"order_type": "STOP", "stop_price": math.nan}, "stop_price", "must be finite"),
    ({"order_type": "TRAILING_STOP"}, "trail_amount", "exactly one of"),
    ({"order_type": "TRAILING_STOP", "trail_amount": 1.0, "trail_bps": 5.0}, "trail_amount",
     "exactly one of"),
    ({"order_type": "LIMIT", "limit_price": 10.0, "trail_bps": 5.0}, "trail_bps",
     "only a TRAILING_STOP"),
    ({"order_type": "ICEBERG"}, "order_type", "must be one of"),
    ({"time_in_force": "GTX"}, "time_in_force", "must be one of"),
    ({"time_in_force": "GTD"}, "expire_time_ns", "needs an expire time"),
    ({"expire_time": 5}, "expire_time_ns", "only a GTD order"),
    ({"order_type": "LIMIT", "limit_price": 100.0, "stop_loss": 101.0}, "stop_loss",
     "below the entry price 100.0"),
    ({"order_type": "LIMIT", "limit_price": 100.0, "take_profit": 99.0}, "take_profit",
     "above the entry price"),
    ({"stop_loss": 110.0, "take_profit": 105.0}, "stop_loss", "below take_profit"),
    ({"stop_loss": -5.0}, "stop_loss", "must be positive"),
    ({"take_profit": math.inf}, "take_profit", "must be finite"),
    ({"oco_group": ""}, "oco_group", "non-empty"),
    ({"reduce_only": 1}, "reduce_only", "True or False"),
    ({"reduce_only": True, "take_profit": 120.0}, "take_profit", "reduce-only"),
])
def test_bad_orders_name_the_field(kwargs, field, why):
    kind = kwargs.pop("order_type", "MARKET")
    limit = kwargs.pop("limit_price", None)
    with pytest.raises(ValueError, match=rf"OrderEvent\.{field}: .*{why}"):
        create_order_event("AAPL", "BUY", 1, kind, limit, timestamp=0, **kwargs)


def test_a_sell_bracket_is_mirrored():
    o = create_order_event("AAPL", "SELL", 1, "LIMIT", 100.0, stop_loss=105.0,
                           take_profit=90.0, timestamp=0)
    assert o.stop_loss == 105.0
    with pytest.raises(ValueError, match=r"OrderEvent\.stop_loss: must be above the entry"):
        create_order_event("AAPL", "SELL", 1, "LIMIT", 100.0, stop_loss=95.0, timestamp=0)


def test_cancel_replace_and_update_events():
    c = create_cancel_event("a", timestamp=0)
    assert c.order_id == "a"
    r = create_replace_event("a", quantity=5, limit_price=99.5, timestamp=0)
    assert (r.quantity, r.limit_price, r.stop_price) == (5, 99.5, None)
    u = create_order_update_event("AAPL", "a", "PARTIALLY_FILLED", filled_quantity=3,
                                  remaining_quantity=7, avg_price=100.0, timestamp=0)
    assert u.status == "PARTIALLY_FILLED" and u.remaining_quantity == 7
    with pytest.raises(ValueError, match=r"CancelEvent\.order_id"):
        create_cancel_event("")
    with pytest.raises(ValueError, match=r"ReplaceEvent\.quantity: a replace changes"):
        create_replace_event("a")
    with pytest.raises(ValueError, match=r"ReplaceEvent\.limit_price: must be finite"):
        create_replace_event("a", limit_price=math.nan)
    with pytest.raises(ValueError, match=r"OrderUpdateEvent\.status"):
        create_order_update_event("AAPL", "a", "DONE")
