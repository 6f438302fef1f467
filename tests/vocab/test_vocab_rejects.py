"""The one BusinessMessageReject builder: reasons each version enumerates, clean Text, RefID."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gateway.config.dictionaries import locate_dictionaries
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.rejects import MAX_TEXT, BusinessRejectReason, business_reject, reject_inbound
from gateway.vocab.version import FixVersion

KEYS = {
    FixVersion.FIX42: SessionKey("FIX.4.2", "PLXTRA", "CLIENT2"),
    FixVersion.FIX44: SessionKey("FIX.4.4", "PLXTRA", "CLIENT1"),
    FixVersion.FIX50SP2: SessionKey("FIXT.1.1", "PLXTRA", "CLIENT3"),
}
DICTIONARY = {FixVersion.FIX42: "FIX42.xml", FixVersion.FIX44: "FIX44.xml",
              FixVersion.FIX50SP2: "FIX50SP2.xml"}


def enumerated(version: FixVersion) -> set[str]:
    root = ET.parse(locate_dictionaries().directory / DICTIONARY[version]).getroot()
    for f in root.iter("field"):
        if f.get("number") == "380":
            return {v.get("enum", "") for v in f.findall("value")}
    raise AssertionError("no BusinessRejectReason in the dictionary")


@pytest.mark.parametrize("version", list(FixVersion))
@pytest.mark.parametrize("reason", list(BusinessRejectReason))
def test_every_reason_goes_out_as_a_value_the_version_enumerates(version: FixVersion,
                                                                 reason: BusinessRejectReason) -> None:
    j = business_reject(KEYS[version], "D", 5, reason, "no")
    wire = dict(j.fields)[380]
    assert wire in enumerated(version), f"{version}: 380={wire} for {reason!r}"
    assert wire == reason.value or wire == "0"   # kept as it is, or the version's catch-all


def test_version_follows_the_session_unless_given() -> None:
    throttle = BusinessRejectReason.THROTTLE_LIMIT_EXCEEDED
    assert dict(business_reject(KEYS[FixVersion.FIX44], "D", 5, throttle, "x").fields)[380] == "0"
    assert dict(business_reject(KEYS[FixVersion.FIX50SP2], "D", 5, throttle, "x").fields)[380] == "8"
    # "8", 8 and the enum member are the same reason
    for reason in ("8", 8, throttle):
        j = business_reject(KEYS[FixVersion.FIX50SP2], "D", 5, reason, "x", version=FixVersion.FIX42)
        assert dict(j.fields)[380] == "0"


def test_text_is_cleaned_and_capped_and_ref_id_found_by_msg_type() -> None:
    msg = InboundMessage(KEYS[FixVersion.FIX44], "V", 9, ((35, "V"), (262, "md-1"), (263, "1")))
    j = reject_inbound(msg, BusinessRejectReason.UNKNOWN_SECURITY, "bad\x01symbol\n" + "x" * 500)
    f = dict(j.fields)
    assert j.msg_type == "j" and (f[45], f[372], f[379], f[380]) == ("9", "V", "md-1", "2")
    assert f[58].startswith("bad symbol x") and len(f[58]) == MAX_TEXT and "\x01" not in f[58]
    # an explicit RefID tag wins over the usual one; no sequence number, no 45
    status = InboundMessage(msg.session, "AF", 0, ((584, "ms-1"), (11, "c")))
    j = reject_inbound(status, 0, "t", ref_id_tag=584)
    assert dict(j.fields) == {58: "t", 372: "AF", 379: "ms-1", 380: "0"}
