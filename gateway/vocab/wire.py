"""FIX tag=value text, without sockets or QuickFIX: split a message into pairs, build one back.

The hand-off (``handoff.py``) copies every inbound ``quickfix.Message`` through
:func:`split_fields` (``message.toString()`` keeps wire order, groups included) and turns
outbound records into wire text with :func:`build_message` before QuickFIX parses that text
with the session's data dictionary, which is what puts repeating groups in the right shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat

__all__ = [
    "DATA_LENGTH_TAGS",
    "SOH",
    "build_message",
    "checksum",
    "split_fields",
    "tag_number",
]

SOH = "\x01"

# Length tag -> the raw data tag it sizes (FIX 4.2..5.0SP2 "Length"/"data" field pairs). The data
# value may itself contain SOH, so it must be cut by length, not at the next SOH.
DATA_LENGTH_TAGS: dict[int, int] = {
    90: 91,      # SecureDataLen -> SecureData
    93: 89,      # SignatureLength -> Signature
    95: 96,      # RawDataLength -> RawData
    212: 213,    # XmlDataLen -> XmlData
    348: 349,    # EncodedIssuerLen -> EncodedIssuer
    350: 351,    # EncodedSecurityDescLen
    352: 353,    # EncodedListExecInstLen
    354: 355,    # EncodedTextLen -> EncodedText
    356: 357,    # EncodedSubjectLen
    358: 359,    # EncodedHeadlineLen
    360: 361,    # EncodedAllocTextLen
    362: 363,    # EncodedUnderlyingIssuerLen
    364: 365,    # EncodedUnderlyingSecurityDescLen
    445: 446,    # EncodedListStatusTextLen
    618: 619,    # EncodedLegIssuerLen
    621: 622,    # EncodedLegSecurityDescLen
}


_LENGTH_TAGS = frozenset(DATA_LENGTH_TAGS)


class _TagNumbers(dict[str, int]):
    """Tag text -> ``int(text)``, remembered: a dict look-up costs about a third of ``int()``,
    which was most of :func:`split_fields`. Whatever ``int()`` accepts, this gives the same
    number (leading zeros included); what it refuses raises the same ``ValueError``. Bounded:
    past ``_TAGS_KEPT`` texts, new ones are converted without being kept."""

    def __missing__(self, text: str) -> int:
        tag = int(text)
        if len(self) < _TAGS_KEPT:
            self[text] = tag
        return tag


_TAGS_KEPT = 20_000
_TAG_NUMBERS = _TagNumbers()
# ``int(text)`` of a tag's text through the memo: the same number, the same ValueError.
tag_number: Callable[[str], int] = _TAG_NUMBERS.__getitem__


def _no_eq(part: str) -> int:
    raise ValueError(f"field without '=': {part!r}")


def split_fields(text: str) -> list[tuple[int, str]]:
    """Pairs of ``text`` in wire order; raw-data values are cut by their length field.

    Raises ``ValueError`` on a field without ``=`` or with a non-numeric tag: QuickFIX has
    already validated the messages this is used on, so that is a bug, not a peer error.
    """
    # Hot path: one C-level split and partition per field. Only a raw-data length field (which
    # precedes the data that may hide an SOH) sends the message down the slow path; checking
    # the parsed tags for one is cheaper than searching the text for them first.
    parts = text.split(SOH)
    if parts[-1] == "":
        parts.pop()
    number = _TAG_NUMBERS
    try:
        pairs = [(number[tag] if eq else _no_eq(tag), value)
                 for tag, eq, value in map(str.partition, parts, repeat("="))]
    except ValueError:   # an SOH inside raw data, or a bad message: the slow path tells which
        return _split_with_data(text)
    if _LENGTH_TAGS.isdisjoint([tag for tag, _ in pairs]):
        return pairs
    return _split_with_data(text)


def _split_with_data(text: str) -> list[tuple[int, str]]:
    pairs: list[tuple[int, str]] = []
    append = pairs.append
    pos = 0
    end = len(text)
    pending_len: dict[int, int] | None = None
    while pos < end:
        eq = text.index("=", pos)
        tag = int(text[pos:eq])
        if pending_len is not None and tag in pending_len:
            stop = eq + 1 + pending_len.pop(tag)
            append((tag, text[eq + 1 : stop]))
            pos = stop + 1
            continue
        soh = text.find(SOH, eq + 1)
        if soh < 0:
            soh = end
        value = text[eq + 1 : soh]
        append((tag, value))
        data_tag = DATA_LENGTH_TAGS.get(tag)
        if data_tag is not None and value.isdigit():
            if pending_len is None:
                pending_len = {}
            pending_len[data_tag] = int(value)
        pos = soh + 1
    return pairs


def checksum(text: str) -> int:
    """FIX CheckSum(10): byte sum modulo 256 of everything before the ``10=`` field."""
    return sum(text.encode("utf-8")) % 256


def build_message(
    begin_string: str,
    msg_type: str,
    header: Iterable[tuple[int, str]],
    body: Iterable[tuple[int, str]],
) -> str:
    """Complete wire text: BeginString, BodyLength and CheckSum computed here, so callers cannot
    get them wrong. ``header`` holds the header fields after MsgType (CompIDs etc.)."""
    parts = [f"35={msg_type}"]
    parts.extend(f"{t}={v}" for t, v in header)
    parts.extend(f"{t}={v}" for t, v in body)
    payload = SOH.join(parts) + SOH
    length = len(payload.encode("utf-8"))
    head = f"8={begin_string}{SOH}9={length}{SOH}{payload}"
    return f"{head}10={checksum(head):03d}{SOH}"
