"""BusinessMessageReject (35=j) records: the application-level "no" the gateway answers with.

Used when a message QuickFIX accepted cannot be processed: an unsupported MsgType (reason 3)
or an internal failure while handling it (reason 0, the error in Text 58). Pure records; the
caller hands the result to the Outbox.
"""

from __future__ import annotations

from enum import IntEnum

from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey

__all__ = ["BusinessRejectReason", "business_reject", "ref_id_of", "reject_inbound"]

# Tags of the BusinessMessageReject body (FIX 4.2+ MsgType j).
REF_SEQ_NUM = 45
TEXT = 58
REF_MSG_TYPE = 372
BUSINESS_REJECT_REF_ID = 379
BUSINESS_REJECT_REASON = 380
MAX_TEXT = 200   # keep Text short: partners log it, and some engines cap it


class BusinessRejectReason(IntEnum):
    """BusinessRejectReason(380) values common to FIX 4.2..5.0SP2."""

    OTHER = 0
    UNKNOWN_ID = 1
    UNKNOWN_SECURITY = 2
    UNSUPPORTED_MESSAGE_TYPE = 3
    APPLICATION_NOT_AVAILABLE = 4
    CONDITIONALLY_REQUIRED_FIELD_MISSING = 5
    NOT_AUTHORIZED = 6
    DELIVER_TO_FIRM_NOT_AVAILABLE = 7


# The business identifier a j refers to (BusinessRejectRefID 379), by MsgType: the ID the
# partner will look for in its own logs.
_REF_ID_TAG: dict[str, int] = {
    "D": 11, "F": 11, "G": 11, "H": 11, "E": 66, "AB": 11, "AC": 11, "q": 11,
    "V": 262, "x": 320, "c": 320, "e": 324, "g": 335, "R": 131, "AF": 584, "AD": 568,
}


def ref_id_of(msg_type: str, fields: tuple[tuple[int, str], ...]) -> str | None:
    """The identifier to echo in 379 (ClOrdID for orders, MDReqID for market data...)."""
    tag = _REF_ID_TAG.get(msg_type)
    if tag is None:
        return None
    for t, v in fields:
        if t == tag:
            return v
    return None


def business_reject(
    session: SessionKey,
    ref_msg_type: str,
    ref_seq_num: int | None,
    reason: BusinessRejectReason | int,
    text: str,
    ref_id: str | None = None,
) -> OutboundMessage:
    """A 35=j answering message ``ref_seq_num`` of type ``ref_msg_type`` on ``session``."""
    # No SOH or other control character may reach the wire inside Text(58).
    clean = " ".join("".join(c if c.isprintable() else " " for c in text).split())[:MAX_TEXT] or None
    return OutboundMessage.build(
        session,
        "j",
        [
            (REF_SEQ_NUM, ref_seq_num if ref_seq_num else None),
            (TEXT, clean),
            (REF_MSG_TYPE, ref_msg_type),
            (BUSINESS_REJECT_REF_ID, ref_id),
            (BUSINESS_REJECT_REASON, int(reason)),
        ],
    )


def reject_inbound(msg: InboundMessage, reason: BusinessRejectReason | int, text: str) -> OutboundMessage:
    """:func:`business_reject` for a received record."""
    return business_reject(
        msg.session, msg.msg_type, msg.msg_seq_num, reason, text, ref_id_of(msg.msg_type, msg.fields)
    )

