"""Conversion between ``quickfix.Message`` and the plain records of ``gateway.fix.records``.

Inbound: ``message.toString()`` already holds every field in wire order (groups included),
so the record is the split text minus BeginString(8), BodyLength(9) and CheckSum(10).

Outbound: the record becomes wire text, which QuickFIX parses with the session's data
dictionaries. Parsing (rather than ``setField`` calls) is what makes repeating groups come
out as groups, nested ones included, with the dictionary's field order inside each entry.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import quickfix as fix

from gateway.fix.records import InboundMessage, OutboundMessage, SessionKey
from gateway.fix.wire import split_fields

__all__ = ["Dictionaries", "DictionaryCache", "key_of", "session_id_of", "to_quickfix", "to_record"]

_SKIP = frozenset((8, 9, 10))


@dataclass(frozen=True, slots=True)
class Dictionaries:
    """The data dictionaries of one session: ``app`` is None except for FIXT.1.1 sessions,
    where ``session`` is the transport dictionary (FIXT11.xml) and ``app`` the application
    one (e.g. FIX50SP2.xml)."""

    session: fix.DataDictionary
    app: fix.DataDictionary | None = None


class DictionaryCache:
    """Parses each dictionary file once (FIX50SP2.xml takes about a second); the parsed
    dictionaries are read-only afterwards and safe to share between threads."""

    def __init__(self) -> None:
        self._loaded: dict[str, fix.DataDictionary] = {}
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str]) -> fix.DataDictionary:
        key = os.fspath(path)
        with self._lock:
            dd = self._loaded.get(key)
            if dd is None:
                dd = fix.DataDictionary(key)
                self._loaded[key] = dd
            return dd


def key_of(session_id: fix.SessionID) -> SessionKey:
    """Copy a QuickFIX SessionID into a record (the SessionID dies with the callback)."""
    return SessionKey(
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
        session_id.getSessionQualifier(),
    )


def session_id_of(key: SessionKey) -> fix.SessionID:
    """A fresh QuickFIX SessionID for ``key``."""
    return fix.SessionID(key.begin_string, key.sender_comp_id, key.target_comp_id, key.qualifier)


def to_record(message: fix.Message, key: SessionKey) -> InboundMessage:
    """Copy ``message`` into an :class:`InboundMessage`, stamped with ``time.time_ns()``."""
    received_ns = time.time_ns()
    pairs = split_fields(message.toString())
    # QuickFIX writes 8 and 9 first and 10 last; anything else is filtered the slow way.
    if pairs and pairs[0][0] == 8 and pairs[-1][0] == 10 and len(pairs) > 2 and pairs[1][0] == 9:
        fields = tuple(pairs[2:-1])
    else:
        fields = tuple(p for p in pairs if p[0] not in _SKIP)
    msg_type = ""
    seq = 0
    # Header tags come first on the wire; stop as soon as both are known.
    for tag, value in fields:
        if tag == 35:
            msg_type = value
            if seq:
                break
        elif tag == 34:
            seq = int(value)
            if msg_type:
                break
    return InboundMessage(key, msg_type, seq, fields, received_ns)


def to_quickfix(msg: OutboundMessage, dictionaries: Dictionaries | None) -> fix.Message:
    """A ``quickfix.Message`` for ``msg`` with CompIDs set from its session (QuickFIX fills in
    MsgSeqNum and SendingTime when sending). Without dictionaries groups are not structured,
    which is only right for messages that have none.

    The text carries placeholder BodyLength and CheckSum: it is parsed without validation and
    QuickFIX computes both again when it serialises the message for the wire.
    """
    key = msg.session
    text = "".join([
        "8=", key.begin_string, "\x019=0\x0135=", msg.msg_type, "\x0149=", key.sender_comp_id,
        "\x0156=", key.target_comp_id, "\x01", *[f"{t}={v}\x01" for t, v in msg.fields], "10=000\x01",
    ])
    if dictionaries is None:
        return fix.Message(text, False)
    if dictionaries.app is not None:
        return fix.Message(text, dictionaries.session, dictionaries.app, False)
    return fix.Message(text, dictionaries.session, False)
