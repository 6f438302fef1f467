"""OutboundMessage.build: the text of each value type, the same whether or not it was seen before."""

from __future__ import annotations

from decimal import Decimal

from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.tags import OrdType, Side

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")

# value -> text FIX must get (no exponent, no trailing zeros, zero's sign kept as before)
DECIMALS = [
    ("1E+2", "100"), ("100", "100"), ("10.50", "10.5"), ("10.5", "10.5"), ("1.05E+1", "10.5"),
    ("0", "0"), ("-0", "-0"), ("-0.00", "-0"), ("0.000", "0"), ("-1.230", "-1.23"),
    ("0.00000001", "0.00000001"), ("123456789.123456789", "123456789.123456789"),
    ("NaN", "NaN"), ("sNaN", "sNaN"), ("Infinity", "Infinity"),
]


def test_decimals_are_plain_and_equal_values_share_one_text_across_calls() -> None:
    pairs = [(44, Decimal(text)) for text, _ in DECIMALS]
    want = tuple((44, out) for _, out in DECIMALS)
    for _ in range(3):  # the first call formats, later ones may be looked up: same bytes
        assert OutboundMessage.build(KEY, "8", pairs).fields == want
    # 0 and -0 are equal Decimals with different texts: neither order makes one the other
    assert OutboundMessage.build(KEY, "8", [(14, Decimal("-0")), (14, Decimal("0"))]).fields == (
        (14, "-0"), (14, "0"))


def test_each_type_keeps_its_text_and_none_is_dropped() -> None:
    msg = OutboundMessage.build(KEY, "8", [
        (11, "c1"), (41, None), (54, Side.SELL), (40, OrdType.LIMIT), (1, ""), (211, True), (43, False),
        (34, 7), (38, Decimal("2E+3")),
    ])
    assert msg.fields == ((11, "c1"), (54, "2"), (40, "2"), (1, ""), (211, "Y"), (43, "N"), (34, "7"),
                          (38, "2000"))
    assert all(type(v) is str for _, v in msg.fields)  # enums go out as plain str, not the enum


def test_the_decimal_texts_kept_are_bounded() -> None:
    from gateway.vocab import records

    for i in range(records._DECIMAL_TEXTS_MAX + 10):
        OutboundMessage.build(KEY, "8", [(44, Decimal(i + 1) / 8)])
    assert 0 < len(records._DECIMAL_TEXTS) <= records._DECIMAL_TEXTS_MAX
    assert OutboundMessage.build(KEY, "8", [(44, Decimal(9) / 8)]).fields == ((44, "1.125"),)


def test_inbound_get_is_the_first_value_and_equality_ignores_what_was_read() -> None:
    fields = ((35, "D"), (11, "c1"), (453, "2"), (448, "p1"), (448, "p2"), (58, ""))
    read = InboundMessage(KEY, "D", 3, fields, received_ns=9)
    unread = InboundMessage(KEY, "D", 3, fields, received_ns=9)
    for _ in range(2):  # the first get builds the index, the second uses it
        assert read.get(448) == "p1" and read.get(58) == "" and read.get(11) == "c1"
        assert read.get(44) is None and read.get(44, "x") == "x"
    assert read.get_all(448) == ["p1", "p2"] and list(read) == list(fields)
    assert read == unread and hash(read) == hash(unread) and repr(read) == repr(unread)
