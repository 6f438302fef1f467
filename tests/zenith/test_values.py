"""Wire values: Decimal JSON both ways, §3.2 date-times, §3.3 time spans, enum aliases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum

import pytest

from gateway.zenith.values import (
    dumps,
    format_decimal,
    loads,
    normalize_class,
    normalize_side,
    parse_date,
    parse_datetime,
    parse_timespan,
    split_code,
    split_comma,
    to_decimal,
    to_int,
)

AEST = timezone(timedelta(hours=10))


def test_loads_gives_decimal_never_float() -> None:
    data = loads('{"Price":42.05,"Qty":100,"Big":1e3,"Neg":-0.10}')
    assert data == {"Price": Decimal("42.05"), "Qty": 100, "Big": Decimal("1E+3"), "Neg": Decimal("-0.10")}
    assert type(data["Qty"]) is int and type(data["Price"]) is Decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [("9.950", "9.95"), ("100.000000", "100"), ("1E+2", "100"), ("0.00", "0"), ("-0", "0"),
     ("0.0000001", "0.0000001"), ("-12.5", "-12.5"), ("123456789012345.678", "123456789012345.678")],
)
def test_format_decimal_minimal(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_dumps_plain_numbers_and_round_trip() -> None:
    obj = {"A": Decimal("9.95"), "B": [1, True, False, None, "x\"é"], "C": {"D": Decimal("1E+2")},
           "E": (Decimal("0.1"),), "F": date(2025, 6, 30)}
    text = dumps(obj)
    assert text == '{"A":9.95,"B":[1,true,false,null,"x\\"\\u00e9"],"C":{"D":100},"E":[0.1],"F":"2025-06-30"}'
    back = loads(text)
    assert back["A"] == Decimal("9.95") and back["C"]["D"] == 100


def test_dumps_enums_by_value() -> None:
    class Side(str, Enum):  # noqa: UP042  (the shape gateway.config.model uses)
        BID = "Bid"

    class Count(IntEnum):
        TWO = 2

    assert dumps({Side.BID: Side.BID, "n": Count.TWO}) == '{"Bid":"Bid","n":2}'


def test_dumps_rejects_what_json_cannot_carry() -> None:
    with pytest.raises(ValueError):
        dumps({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        dumps({"x": object()})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20120630T100230Z", datetime(2012, 6, 30, 10, 2, 30, tzinfo=UTC)),
        ("2014-02-11T12:44:02+10:00", datetime(2014, 2, 11, 12, 44, 2, tzinfo=AEST)),
        ("2014-02-11T12:44:02+1000", datetime(2014, 2, 11, 12, 44, 2, tzinfo=AEST)),
        ("20160501T09:30:55.047", datetime(2016, 5, 1, 9, 30, 55, 47000, tzinfo=UTC)),
        ("2025-06-03T10:15:30.123+10:00", datetime(2025, 6, 3, 10, 15, 30, 123000, tzinfo=AEST)),
        ("2025-06-30T00:00:00.000Z", datetime(2025, 6, 30, tzinfo=UTC)),
        ("2025-06-03T10:15:30.1234567Z", datetime(2025, 6, 3, 10, 15, 30, 123456, tzinfo=UTC)),
        ("20120603+10:00", datetime(2012, 6, 3, tzinfo=AEST)),
        ("2016-01-20+10:00", datetime(2016, 1, 20, tzinfo=AEST)),
        ("2014-02-11", datetime(2014, 2, 11, tzinfo=UTC)),
    ],
)
def test_parse_datetime_forms(text: str, expected: datetime) -> None:
    got = parse_datetime(text)
    assert got == expected and got is not None and got.utcoffset() == expected.utcoffset()


def test_parse_datetime_default_zone_and_errors() -> None:
    assert parse_datetime("2014-02-11T12:44:02", AEST) == datetime(2014, 2, 11, 12, 44, 2, tzinfo=AEST)
    assert parse_datetime(None) is None
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


def test_parse_date() -> None:
    assert parse_date("2025-06-30") == date(2025, 6, 30)
    assert parse_date("20250630") == date(2025, 6, 30)
    assert parse_date("2025-06-30T00:00:00.000Z") == date(2025, 6, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.12:20:5", timedelta(days=1, hours=12, minutes=20, seconds=5)),
     ("00:00:35", timedelta(seconds=35)),
     ("1.00:00:00", timedelta(days=1)),
     ("00:59:59.9990000", timedelta(minutes=59, seconds=59, microseconds=999000)),
     ("-00:00:01.5", -timedelta(seconds=1.5)),
     ("00:01", timedelta(minutes=1))],
)
def test_parse_timespan(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


def test_numbers_from_strings() -> None:
    assert to_decimal("10.05") == Decimal("10.05")
    assert to_decimal(7) == Decimal(7)
    assert to_int("10001") == 10001
    with pytest.raises(ValueError):
        to_decimal("ten")
    with pytest.raises(ValueError):
        to_int("1.5")


def test_enum_aliases_and_lists() -> None:
    assert [normalize_side(s) for s in ("Bid", "B", "Ask", "A", "S")] == ["Bid", "Bid", "Ask", "Ask", "Ask"]
    assert [normalize_class(c) for c in ("Equity", "Option", "Market", "ManagedFund")] == [
        "Market", "Market", "Market", "ManagedFund"]
    assert split_comma("OrdersOnly, ReportCancel,,") == ("OrdersOnly", "ReportCancel")
    assert split_code("LimitPrice.Maximum 17.05") == ("LimitPrice.Maximum", "17.05")
    assert split_code("Market.NotFound A B") == ("Market.NotFound", "A B")
    assert split_code("Authority") == ("Authority", "")


@pytest.mark.parametrize("bad", ["ten", "", "  ", "1.2.3", True, False, "NaN", "Infinity", "-inf",
                                 Decimal("NaN"), Decimal("Infinity"), float("nan"), float("inf"), [1], {}])
def test_a_malformed_number_is_an_error_never_zero_or_none(bad: object) -> None:
    # The one Zenith number parser (bridge and market data use it too): a malformed
    # ExecutedQuantity must reach the caller as an error, not become 0.
    with pytest.raises(ValueError):
        to_decimal(bad)


def test_numbers_keep_their_digits() -> None:
    assert to_decimal(None) is None
    assert str(to_decimal(0.1)) == "0.1"                      # shortest repr, not the binary expansion
    assert to_decimal(" 100.50 ") == Decimal("100.50")
    assert to_decimal(Decimal("1E+2")) == Decimal(100)
    assert to_decimal(3) == Decimal(3)


def test_the_bridges_parse_zenith_numbers_with_it() -> None:
    from gateway.bridge.marketdata import book
    from gateway.bridge.orders import model

    assert model.to_decimal is to_decimal and book.to_decimal is to_decimal
    # The one Zenith payload model: a malformed ExecutedQuantity is an error, never 0.
    from gateway.zenith.records import Order

    obj = {"ID": "o1", "Account": "XS:0001", "Status": "Filled",
           "Details": {"Exchange": "XSX", "Code": "XS01", "Side": "Bid"}}
    with pytest.raises(ValueError, match="garbage"):
        Order.from_json({**obj, "ExecutedQuantity": "garbage"})
    assert Order.from_json(obj).executed_quantity is None     # absent is not malformed: unknown, not 0


@pytest.mark.parametrize("text", [
    '{"Controller":"Trading","Data":{"LimitPrice":0.30000000000000004,"Quantity":123456789012345678901234567890}}',
    '{"P":100.50,"Q":1E+2,"R":-0.0,"S":1e-7,"T":[0.1,0.2,9.950],"U":"9.95"}',
    '  {"A": 1.10} ',          # whitespace around: the slow path, same result
    '{"A":NaN,"B":-Infinity}',
    '{"A":"\\ud800 lone"}',
])
def test_loads_is_json_loads_with_decimal_exactly(text: str) -> None:
    import json

    got, want = loads(text), json.loads(text, parse_float=Decimal)
    assert repr(got) == repr(want)   # Decimal exponents and int sizes as written, NaN included


@pytest.mark.parametrize("text", ['{"A":1} x', '{"A":1,}', " ", '{"A":1}{"B":2}', "[1,2"])
def test_loads_fails_as_json_loads_does(text: str) -> None:
    import json

    with pytest.raises(json.JSONDecodeError) as ours:
        loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text, parse_float=Decimal)
    assert str(ours.value) == str(theirs.value)


class Color(str, Enum):  # noqa: UP042
    RED = "red"


class Number(IntEnum):
    ONE = 1


def _slow_dumps(obj: object) -> str:
    from gateway.zenith.values import _encode

    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


@pytest.mark.parametrize("body", [
    {"Account": "XS:0001", "Details": {
        "LimitPrice": Decimal("9.950"), "Quantity": Decimal("1E+2"), "Hidden": Decimal("-0.000"),
        "Big": Decimal("123456789012345678901234567890.5"), "Tiny": Decimal("1E-9"), "Int": 10**18,
        "Flags": (True, False, None)}},
    {"Text": "".join(chr(i) for i in range(0x80)) + "\"\\/", "List": [[], {}, [1, [2, ["x"]]]]},
    {"Unicode": "caf\u00e9 \u2028 \U0001F600", "Big": 2**70, "Neg": -(2**63) - 1},
    {"Float": 100.0, "Exp": 1e16, "Small": 1e-7, "Half": 9.5},   # floats: the slow path's text
    {1: "non-str key", "k": Color.RED, "n": Number.ONE},
    [Decimal("0.1") + Decimal("0.2"), Decimal("3.000000000000000000001")],
    "lone", None, Decimal("2.50"),
    # One level down (a request's Details / Route, checked inline by _plain): each odd type there.
    {"Details": {"F": 1.5}}, {"Details": {"E": Color.RED, "N": Number.ONE}}, {"Details": {2: "x"}},
    {"Details": {"L": [1.0, {"x": 1e16}], "D": {"Deep": 1e-7}}}, {"Details": {"Q": Decimal("1E+2")}},
    {"Details": {"U": "caf\u00e9", "Del": "\x7f", "T": (1, 2)}},
])
def test_dumps_writes_what_the_encoder_always_wrote(body: object) -> None:
    assert dumps(body) == _slow_dumps(body)


def test_dumps_refuses_what_the_encoder_refused() -> None:
    for bad in ({"a": Decimal("NaN")}, {"a": Decimal("Infinity")}, {"a": {1, 2}}, {"a": object()},
                {"a": {"b": Decimal("-Infinity")}}, {"a": {"b": {1, 2}}}):
        with pytest.raises((ValueError, TypeError)) as ours:
            dumps(bad)
        with pytest.raises((ValueError, TypeError)) as theirs:
            _slow_dumps(bad)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
