"""BusinessMessageReject (35=j): the one builder of the application-level "no".

Every part that answers with a j builds it here, so that each one carries the same fields, the
same cleaned Text and a BusinessRejectReason(380) the session's FIX version enumerates: a reason
a version does not know (8 "throttle limit exceeded" before 5.0, 6 before 4.4...) becomes that
version's catch-all 0 (Other), since a strict partner engine answers an out-of-range enum with a
session-level Reject (35=3) instead of reading the j. Pure records; the caller hands the result
to the Outbox.
"""

from __future__ import annotations

from gateway.vocab import tags as t
from gateway.vocab.records import Fields, InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.tags import BusinessRejectReason
from gateway.vocab.version import FixVersion

__all__ = ["MAX_TEXT", "BusinessRejectReason", "business_reject", "clean_text", "ref_id_of", "reject_inbound"]

MAX_TEXT = 200   # keep Text short: partners log it, and some engines cap it

# The business identifier a j refers to (BusinessRejectRefID 379), by MsgType: the ID the
# partner will look for in its own logs.
_REF_ID_TAG: dict[str, int] = {
    "D": t.CL_ORD_ID, "F": t.CL_ORD_ID, "G": t.CL_ORD_ID, "H": t.CL_ORD_ID, "AB": t.CL_ORD_ID,
    "AC": t.CL_ORD_ID, "q": t.CL_ORD_ID, "E": 66, "V": t.MD_REQ_ID, "x": t.SECURITY_REQ_ID,
    "c": t.SECURITY_REQ_ID, "e": t.SECURITY_STATUS_REQ_ID, "g": t.TRAD_SES_REQ_ID, "R": 131,
    "AF": t.MASS_STATUS_REQ_ID, "AD": 568,
}


def ref_id_of(msg_type: str, fields: Fields) -> str | None:
    """The identifier to echo in 379 (ClOrdID for orders, MDReqID for market data...)."""
    tag = _REF_ID_TAG.get(msg_type)
    if tag is None:
        return None
    for tag_, value in fields:
        if tag_ == tag:
            return value
    return None


def clean_text(text: str, limit: int = MAX_TEXT) -> str | None:
    """``text`` fit for Text(58): no SOH or other control character, blanks collapsed, capped."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit] or None


def business_reject(
    session: SessionKey,
    ref_msg_type: str,
    ref_seq_num: int | None,
    reason: BusinessRejectReason | str | int,
    text: str,
    ref_id: str | None = None,
    *,
    version: FixVersion | None = None,
) -> OutboundMessage:
    """A 35=j answering message ``ref_seq_num`` of type ``ref_msg_type`` on ``session``.

    ``version`` (default: the one ``session``'s BeginString implies) decides which reasons may
    go out as they are; ``reason`` is any 380 value as text or number.
    """
    version = version or FixVersion.of_begin_string(session.begin_string)
    code = str(int(reason))   # "8", 8 and BusinessRejectReason.THROTTLE_LIMIT_EXCEEDED alike
    wire_reason = (t.reason_for_version(t.BUSINESS_REJECT_REASON, version.value, code)
                   or BusinessRejectReason.OTHER)
    return OutboundMessage.build(
        session,
        t.MsgType.BUSINESS_MESSAGE_REJECT,
        [
            (t.REF_SEQ_NUM, ref_seq_num if ref_seq_num else None),
            (t.TEXT, clean_text(text)),
            (t.REF_MSG_TYPE, ref_msg_type),
            (t.BUSINESS_REJECT_REF_ID, ref_id),
            (t.BUSINESS_REJECT_REASON, str(wire_reason)),
        ],
    )


def reject_inbound(
    msg: InboundMessage,
    reason: BusinessRejectReason | str | int,
    text: str,
    *,
    ref_id_tag: int | None = None,
    version: FixVersion | None = None,
) -> OutboundMessage:
    """:func:`business_reject` answering a received record; 379 is ``ref_id_tag``'s value when
    given, else the usual identifier of the message's type (:func:`ref_id_of`)."""
    ref_id = msg.get(ref_id_tag) if ref_id_tag is not None else ref_id_of(msg.msg_type, msg.fields)
    return business_reject(msg.session, msg.msg_type, msg.msg_seq_num, reason, text, ref_id, version=version)
