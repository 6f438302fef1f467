"""Record-level rules behind the edge check: which values are not text, and answers always build."""

from __future__ import annotations

import quickfix as fix

from gateway.fix.convert import invalid_text_tag, to_quickfix
from gateway.vocab.records import OutboundMessage, SessionKey

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
# What the SWIG binding gives for the bytes 0xFF 0xFE (UTF-8 decoding with surrogateescape).
NOT_TEXT = "\udcff\udcfe"


def _text(*fields: tuple[int, str]) -> str:
    return "".join(f"{t}={v}\x01" for t, v in ((8, "FIX.4.4"), (9, "99"), (35, "D"), *fields, (10, "000")))


def test_valid_text_passes_including_non_ascii_and_control_characters() -> None:
    assert invalid_text_tag(_text((11, "ord-1"), (55, "XS01"), (58, "Zürich \t café"))) is None


def test_first_field_that_is_not_text_is_named() -> None:
    assert invalid_text_tag(_text((11, "ok"), (55, "XS02" + NOT_TEXT), (58, NOT_TEXT))) == 55


def test_raw_data_fields_may_hold_any_bytes() -> None:
    raw = "a\x01" + NOT_TEXT   # RawData(96) may even hold an SOH: cut by RawDataLength(95)
    assert invalid_text_tag(_text((95, str(len(raw))), (96, raw), (11, "ok"))) is None
    assert invalid_text_tag(_text((95, str(len(raw))), (96, raw), (11, "x" + NOT_TEXT))) == 11


def test_an_answer_holding_characters_that_cannot_be_sent_still_builds() -> None:
    msg = OutboundMessage(KEY, "j", ((45, "3"), (372, "D"), (380, "0"), (58, "bad " + NOT_TEXT)))
    built = to_quickfix(msg, None)
    assert built.getField(58) == "bad ??"


def test_an_soh_in_a_value_cannot_inject_fields() -> None:
    msg = OutboundMessage(KEY, "j", ((45, "3"), (372, "D"), (380, "0"), (58, "x\x01" + "49=EVIL")))
    built = to_quickfix(msg, None)
    assert built.getField(58) == "x 49=EVIL"
    assert built.getHeader().getField(49) == "PLXTRA"
    assert isinstance(built, fix.Message)
