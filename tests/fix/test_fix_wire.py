"""Pure pieces of the FIX part: wire text, record conversion, BusinessMessageReject records."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
import quickfix as fix

from gateway.fix.convert import Dictionaries, to_quickfix, to_record
from gateway.vocab.records import OutboundMessage, SessionKey
from gateway.vocab.rejects import BusinessRejectReason, business_reject
from gateway.vocab.wire import build_message, checksum, split_fields

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
DD_DIR = Path(sys.prefix) / "share" / "quickfix"


def test_build_message_computes_body_length_and_checksum() -> None:
    text = build_message("FIX.4.4", "0", [(49, "A"), (56, "B"), (34, "1"), (52, "20260101-00:00:00")], [])
    assert text.startswith("8=FIX.4.4\x019=")
    body = text.split("\x01", 2)[2]
    body_without_trailer = body[: body.index("10=")]
    assert int(split_fields(text)[1][1]) == len(body_without_trailer)
    assert text.endswith(f"10={checksum(text[: text.index('10=')]):03d}\x01")
    # QuickFIX agrees when it validates length and checksum.
    fix.Message(text, True)


def test_split_fields_keeps_order_and_cuts_raw_data_by_length() -> None:
    text = "35=B\x0134=2\x01148=hi\x0195=5\x0196=a\x01b=c\x0110=000\x01"
    assert split_fields(text) == [(35, "B"), (34, "2"), (148, "hi"), (95, "5"), (96, "a\x01b=c"), (10, "000")]


def test_split_fields_rejects_non_numeric_tag() -> None:
    with pytest.raises(ValueError):
        split_fields("35=D\x01abc=1\x01")


def test_outbound_record_becomes_structured_groups() -> None:
    dd = fix.DataDictionary(str(DD_DIR / "FIX44.xml"))
    msg = OutboundMessage.build(KEY, "8", [
        (37, "O1"), (17, "E1"), (150, "F"), (39, "1"), (11, "c1"), (55, "XS01"), (54, "1"),
        (151, Decimal("50")), (14, Decimal("50")), (6, Decimal("10.2")), (31, Decimal("10.20")),
        (32, Decimal("5E+1")), (453, 2), (448, "P1"), (447, "D"), (452, 1), (448, "P2"), (447, "D"), (452, 3),
    ])
    qmsg = to_quickfix(msg, Dictionaries(dd))
    assert qmsg.getHeader().getField(49) == "PLXTRA" and qmsg.getHeader().getField(56) == "CLIENT1"
    assert qmsg.groupCount(453) == 2
    group = fix.Group(453, 448)
    qmsg.getGroup(2, group)
    assert group.getField(448) == "P2" and group.getField(452) == "3"
    assert qmsg.getField(32) == "50" and qmsg.getField(31) == "10.2"   # Decimal: plain notation
    record = to_record(qmsg, KEY)
    assert record.msg_type == "8"
    parties = [(t, v) for t, v in record.fields if t in (453, 448, 447, 452)]
    assert parties == [(453, "2"), (448, "P1"), (447, "D"), (452, "1"), (448, "P2"), (447, "D"), (452, "3")]


def test_fixt_messages_use_the_application_dictionary_for_groups() -> None:
    transport = fix.DataDictionary(str(DD_DIR / "FIXT11.xml"))
    app = fix.DataDictionary(str(DD_DIR / "FIX50SP2.xml"))
    key = SessionKey("FIXT.1.1", "PLXTRA", "CLIENT3")
    msg = OutboundMessage.build(key, "W", [(262, "m1"), (55, "XS01"), (779, "20260101-00:00:00"), (268, 2),
                                           (269, "0"), (270, "1.5"), (269, "1"), (270, "1.6")])
    qmsg = to_quickfix(msg, Dictionaries(transport, app))
    assert qmsg.groupCount(268) == 2


def test_business_reject_record() -> None:
    j = business_reject(KEY, "D", 12, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE,
                        "multi\nline\x01text", ref_id="c-1")
    assert j.msg_type == "j"
    assert dict(j.fields) == {45: "12", 58: "multi line text", 372: "D", 379: "c-1", 380: "3"}
