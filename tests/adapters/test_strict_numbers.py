# ruff: noqa: RUF001 - the look-alike digits are the point of these tests
"""Issue 10 item 7: every adapter accepts only the plain ASCII numbers and sane times the
exchanges document; Python's looser float()/int()/\\d would let the rest through."""

from __future__ import annotations

import re

import pytest

from evlab.events import BarEvent
from evlab.feeds.adapters import AdapterError
from evlab.feeds.adapters._common import parse_decimal, rfc3339_ns

from ._data import ns
from .test_common import make

T = ns(2024, 1, 2, 3, 4)


def encoded(name: str) -> str:
    out = make(name).encode_bar("X", T, 177.5, 178.5, 176.5, 177.25, 12.5)
    return out.decode() if isinstance(out, bytes) else out


def parses(name: str, text: str) -> list:
    return make(name).parse(text, source=name)


# (adapter, the text of a valid field, what a loose parser took for it)
LOOSE = [
    *[(n, '"177.5"', bad) for n in ("binance", "coinbase") for bad in (
        '"١٧٧.٥"', '"１７７.５"', '"17_7.5"', '" 177.5 "', '"1e308"', '"177.5e0"', '"+177.5"',
        '"inf"', '"nan"', '"0x1p7"')],
    *[(n, "177.5", "1e308") for n in ("kraken", "alpaca", "polygon")],
    ("binance", '"t":1704164640000', '"t":4611686018427387'),  # > int64 ns
    ("binance", '"t":1704164640000', '"t":-60000'),  # 1969
    ("polygon", '"s":1704164640000', '"s":9223372036854776'),
    ("coinbase", '"start":"1704164640"', '"start":"١٧٠٤١٦٤٦٤٠"'),
    ("coinbase", '"start":"1704164640"', '"start":"99999999999999"'),
    ("alpaca", '"2024-01-02T03:04:00Z"', '"٢٠٢٤-01-02T03:04:00Z"'),
    ("alpaca", '"2024-01-02T03:04:00Z"', '"2024-01-02T03:04:00+99:99"'),
    ("alpaca", '"2024-01-02T03:04:00Z"', '"1969-12-31T23:59:00Z"'),
    ("kraken", '"interval_begin":"2024-01-02T03:04:00.000000000Z"',
     '"interval_begin":"2024-01-02T03:04:00.000000000+24:00"'),
    ("coinbase", '"timestamp":"2024-01-02T03:05:00Z"', '"timestamp":"2024-01-02T03:05:00+99:99"'),
]


@pytest.mark.parametrize(("name", "good", "bad"), LOOSE)
def test_loose_numbers_and_times_are_rejected(name, good, bad):
    text = encoded(name)
    assert good in text
    assert any(isinstance(e, BarEvent) for e in parses(name, text))  # the valid one decodes
    with pytest.raises(AdapterError):
        parses(name, text.replace(good, bad, 1))


@pytest.mark.parametrize("text", ["١٧٧.٦", "１０", "1_0", " 10 ", "1e308", "10.", ".5", ""])
def test_parse_decimal_is_ascii_only(text):
    with pytest.raises(ValueError):
        parse_decimal(text)
    assert parse_decimal("-0.0010") == -0.001 and parse_decimal("177") == 177.0


def test_rfc3339_offsets_in_range():
    assert rfc3339_ns("2024-01-02T03:04:00+01:30") == T - 5400 * 10**9 + 0
    for bad in ("2024-01-02T03:04:00+24:00", "2024-01-02T03:04:00+01:60",
                "٢٠٢٤-01-02T03:04:00Z", "2024-01-02T03:04:00.١Z"):
        with pytest.raises(ValueError):
            rfc3339_ns(bad)


# --- dec_fields: several decimal fields in one call, exactly as get_dec reads each -----------

DEC_VALUES = ["611.78", "0", "-0", "0.00000001", "007.5", "1.", ".5", "1e3", "inf", "nan",
              " 1", "١٧٧", "99999999999999999.999999", "999999999999999999",
              "999999999999999999999", "1" * 30, "1" * 31, "0." + "1" * 30, "0." + "1" * 31,
              "1\x002", "", "+1", 5, 5.0, None, True]


@pytest.mark.parametrize("value", DEC_VALUES, ids=repr)
@pytest.mark.parametrize("where", range(3))
def test_dec_fields_reads_every_value_as_get_dec_does(value: object, where: int) -> None:
    """The one-regex fast path is a shortcut, never a different rule: for each value (in any
    position) the result is get_dec's, or the same AdapterError naming the same field."""
    from evlab.feeds.adapters._common import dec_fields, get_dec

    keys = ("o", "h", "c")
    obj = {k: "1.5" for k in keys} | {keys[where]: value}
    read = dec_fields(*keys)
    try:
        expected = tuple(get_dec("x", obj, k) for k in keys)
    except AdapterError as exc:
        with pytest.raises(AdapterError) as got:
            read("x", obj)
        assert str(got.value) == str(exc)
    else:
        assert read("x", obj) == expected
        assert all(type(v) is float for v in read("x", obj))


def test_dec_fields_names_a_missing_field_and_refuses_non_objects() -> None:
    from evlab.feeds.adapters._common import dec_fields

    read = dec_fields("o", "h")
    with pytest.raises(AdapterError, match="missing field 'h'"):
        read("x", {"o": "1"})
    with pytest.raises(AdapterError, match="expected a JSON object"):
        read("x", ["1", "2"])
    with pytest.raises(ValueError):
        dec_fields("o")


# --- rfc3339_ns: the date and hour cached apart from minutes and seconds ---------------------

GOOD_TIMES = ["2016-10-07T00:01:00Z", "2016-10-07T23:59:59.123456789Z", "2024-02-29t12:00:00z",
              "2021-04-17T16:43:30.244075Z", "2021-04-17T16:43:30.2Z",  # the fast path's form
              "2024-01-02 03:04:05.5+01:30", "1970-01-01T00:00:00-00:00",
              "2023-12-31T23:59:59.000000001+23:59"]
BAD_TIMES = ["2016-10-07T24:00:00Z", "2016-10-07T00:60:00Z", "2016-10-07T00:00:60Z",
             "2023-02-29T00:00:00Z", "2016-10-07T00:0١:00Z", "2016-10-07T0١:00:00Z",
             "2016-10-07T00-01:00Z", "2016-10-07T00:01-00Z", "2016-10-07T00:01:00",
             "2016-10-07T00:1:000Z", "2016-10-07T00:01Z", "2016-10-07", "",
             "2016-10-07T00:01:00.Z", "2016-10-07T00:01:00.1234567890Z", "20161007T000100Z",
             "2016-10-07T00: 1:00Z", "2016-10-07T00:+1:00Z",
             # the fast path's form ("...SS.ffffffZ") with a bad part
             "2016-10-07T24:00:00.5Z", "2023-02-29T00:00:00.5Z", "2016-10-07T00:01:00.12345６Z",
             "2016-10-07T00:01:00.+12345Z", "2016-10-07T00:01:00.1_2Z", "2016-10-07T00:0１:00.5Z",
             "2016-10-07T00:01:00.5\u00b2Z"]


@pytest.mark.parametrize("text", GOOD_TIMES)
def test_rfc3339_times_are_exact(text: str) -> None:
    import datetime as dt

    head, _, rest = text.replace("t", "T").replace("z", "Z").replace(" ", "T").partition(".")
    frac = re.match(r"[0-9]*", rest).group()  # type: ignore[union-attr]
    zone = text[-6:] if text[-6] in "+-" else "+00:00"
    base = dt.datetime.fromisoformat(head[:19] + zone)
    want = int(base.timestamp()) * 10**9 + int(frac.ljust(9, "0") or 0)
    for _ in range(2):  # parsed, then from the caches
        assert rfc3339_ns(text) == want


@pytest.mark.parametrize("text", BAD_TIMES)
def test_rfc3339_refuses_what_is_not_a_timestamp(text: str) -> None:
    for _ in range(2):  # nothing bad is cached as good
        with pytest.raises(ValueError):
            rfc3339_ns(text)


# --- level: the book levels' fast path (no regex), exactly as _DECIMAL judges ----------------

LEVEL_VALUES = ["611.78", "0", "-0", "-1", "0.00000001", "007.5", "1.", ".5", "-.5", "1..2",
                "1e3", "1E3", "inf", "nan", "Infinity", " 1", "1 ", "1_0", "+1", "١٧٧", "１",
                "²", "0x1", "1" * 18, "1" * 30, "0" * 29 + "1", "0" * 30 + "1",
                "0." + "1" * 29, "0." + "1" * 30, "0." + "1" * 31, "", ".", "-", "1-2", 5, None,
                "1\n", "\t1", "1 0", "1.5e3", "1E5", "12e0", "0_1", "1١1", "1١", "１.5",
                "1.2.3", "+.5", " 1.5", "1.5 ", "1\u00a0", "0.5\u2003", "infinity", "NaN"]


@pytest.mark.parametrize("value", LEVEL_VALUES, ids=repr)
@pytest.mark.parametrize("where", ["price", "size"])
def test_level_takes_exactly_the_decimals_the_regex_takes(value: object, where: str) -> None:
    from evlab.feeds.adapters._common import _DECIMAL, MAX_VALUE, level

    price, size = (value, "2.5") if where == "price" else ("2.5", value)
    ok = (isinstance(value, str) and _DECIMAL.match(value) is not None
          and (0.0 < float(value) < MAX_VALUE if where == "price"
               else 0.0 <= float(value) < MAX_VALUE))
    if ok:
        got = level("x", {}, "bids", price, size)
        assert got == (float(price), float(size))  # type: ignore[arg-type]
        assert all(type(v) is float for v in got)
    else:
        with pytest.raises(AdapterError):
            level("x", {}, "bids", price, size)


@pytest.mark.parametrize("text", ["1475802000", "0", "007", "9" * 10, "9" * 11, "1" * 20, "1" * 21,
                                  "", "+1", "-1", " 1", "1 ", "1.0", "1e3", "\u0661\u0662",
                                  "\u00b2", "\uff11"])
def test_unix_seconds_as_strings_are_ascii_digits_in_range(text: str) -> None:
    """A candle's ``start`` (Coinbase): ``[0-9]{1,20}`` whose time fits int64 ns, as the
    regex says, whichever path reads it; anything else is an AdapterError naming the field."""
    from evlab.feeds.adapters._common import MAX_TIME_NS, get_time_s_str

    if re.fullmatch(r"[0-9]{1,20}", text, re.ASCII) and int(text) * 10**9 <= MAX_TIME_NS:
        assert get_time_s_str("x", {"start": text}, "start") == int(text) * 10**9
    else:
        with pytest.raises(AdapterError, match="'start'"):
            get_time_s_str("x", {"start": text}, "start")
