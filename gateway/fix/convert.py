"""Conversion between ``quickfix.Message`` and the plain records of ``gateway.vocab.records``.

Inbound: ``message.toString()`` already holds every field in wire order (groups included),
so the record is the split text minus BeginString(8), BodyLength(9) and CheckSum(10).

Outbound: the record becomes wire text, which QuickFIX parses with the session's data
dictionaries. Parsing (rather than ``setField`` calls) is what makes repeating groups come
out as groups, nested ones included, with the dictionary's field order inside each entry. A
message without a group count tag (most ExecutionReports) needs no dictionary to be structured:
it is parsed without one (a third of the cost); QuickFIX puts header and trailer fields in
place and the body in tag order either way, so the wire is the same.

Text validity: the SWIG binding decodes message text as UTF-8 with ``surrogateescape``, so
bytes that are not UTF-8 reach Python as lone surrogates (U+DC80..U+DCFF). Such a string can
never be encoded again: a record holding one cannot be journaled as text, sent to Zenith, or
echoed back to the partner (``new_Message`` raises TypeError). :func:`invalid_text_tag` finds
them on the way in so the hand-off refuses the message at the edge; :func:`to_quickfix` makes
sure an answer is always buildable, whatever a value holds.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass

import _quickfix  # type: ignore[import-not-found]
import quickfix as fix

from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.wire import DATA_LENGTH_TAGS, SOH, split_fields, tag_number

__all__ = [
    "Dictionaries",
    "DictionaryCache",
    "MessageDictionaries",
    "invalid_text_tag",
    "key_of",
    "record_from_text",
    "session_id_of",
    "to_quickfix",
    "to_record",
]

log = logging.getLogger("gateway.fix.convert")

_SKIP = frozenset((8, 9, 10))
# Surrogates are not Unicode scalar values: no valid UTF-8 decodes to one, and none encodes.
_INVALID_TEXT = re.compile("[\ud800-\udfff]")
# Raw data fields (RawData, EncodedText, ...) may hold any bytes: they are not text.
_DATA_TAGS = frozenset(DATA_LENGTH_TAGS.values())
_LENGTH_TAGS = frozenset(DATA_LENGTH_TAGS)


@dataclass(frozen=True, slots=True)
class Dictionaries:
    """The data dictionaries of one session: ``app`` is None except for FIXT.1.1 sessions,
    where ``session`` is the transport dictionary (FIXT11.xml) and ``app`` the application
    one (e.g. FIX50SP2.xml)."""

    session: fix.DataDictionary
    app: fix.DataDictionary | None = None


class DictionaryCache:
    """Parses each dictionary file once (FIX50SP2.xml takes about a second); the parsed
    dictionaries are read-only afterwards and safe to share between threads.

    :meth:`message` is what outbound conversion uses: the dictionary of one message type of a
    file (``gateway.vocab.dictionary.message_dictionary``), parsed on first use in a few ms.
    QuickFIX's sessions hold their own full copies for validation; a second full parse here
    would cost the gateway's start a second and ~60 MB for FIX50SP2.xml."""

    def __init__(self) -> None:
        self._loaded: dict[str, fix.DataDictionary] = {}
        self._per_type: dict[tuple[str, str], fix.DataDictionary] = {}
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str]) -> fix.DataDictionary:
        key = os.fspath(path)
        with self._lock:
            dd = self._loaded.get(key)
            if dd is None:
                dd = fix.DataDictionary(key)
                self._loaded[key] = dd
            return dd

    def message(self, path: str | os.PathLike[str], msg_type: str) -> fix.DataDictionary:
        from gateway.vocab.dictionary import message_dictionary

        key = (os.fspath(path), msg_type)
        with self._lock:
            dd = self._per_type.get(key)
        if dd is None:
            file = os.fspath(message_dictionary(key[0], msg_type))
            # no cache to write one-message files to: the whole file, parsed once, as before
            dd = self.get(file) if file == key[0] else fix.DataDictionary(file)
            with self._lock:
                dd = self._per_type.setdefault(key, dd)
        return dd


class MessageDictionaries:
    """The dictionaries of one session for outbound conversion, per message type, each loaded on
    its first message (see :meth:`DictionaryCache.message`)."""

    __slots__ = ("_app", "_cache", "_groups", "_made", "_session")

    def __init__(self, cache: DictionaryCache, session: str | os.PathLike[str],
                 app: str | os.PathLike[str] | None = None) -> None:
        self._cache = cache
        self._session = os.fspath(session)
        self._app = None if app is None else os.fspath(app)
        self._made: dict[str, Dictionaries] = {}
        self._groups: dict[str, dict[int, bool]] = {}   # msg type -> tag -> starts a repeating group

    def has_groups(self, msg_type: str, fields: tuple[tuple[int, object], ...]) -> bool:
        """Whether any tag of ``fields`` is a group count (NumInGroup) of ``msg_type``; each tag is
        asked of the dictionary once."""
        known = self._groups.get(msg_type)
        if known is None:
            known = self._groups[msg_type] = {}
        for tag, _ in fields:
            group = known.get(tag)
            if group is None:
                made = self.for_msg_type(msg_type)
                group = known[tag] = bool((made.app or made.session).isGroup(msg_type, tag))
            if group:
                return True
        return False

    def for_msg_type(self, msg_type: str) -> Dictionaries:
        made = self._made.get(msg_type)
        if made is None:
            session = self._cache.message(self._session, msg_type)
            app = self._cache.message(self._app, msg_type) if self._app is not None else None
            made = self._made[msg_type] = Dictionaries(session, app)
        return made


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


def invalid_text_tag(text: str) -> int | None:
    """The tag of the first field of ``text`` (a ``message.toString()``) whose value is not valid
    text, i.e. held bytes that are not UTF-8; ``None`` when every text field is valid.

    Hot path: encoding the whole string, which succeeds for a valid message (~16x cheaper than
    a regex scan for surrogates); only a failure pays for splitting the message to name the
    field (raw data fields are exempt).
    """
    try:
        text.encode("utf-8")   # _encodes, inline: every message received passes here
        return None
    except UnicodeEncodeError:
        pass
    for tag, value in split_fields(text):
        if tag not in _DATA_TAGS and _INVALID_TEXT.search(value) is not None:
            return tag
    return None


def to_record(message: fix.Message, key: SessionKey) -> InboundMessage:
    """Copy ``message`` into an :class:`InboundMessage`, stamped with ``time.time_ns()``."""
    return record_from_text(message.toString(), key)


def record_from_text(text: str, key: SessionKey) -> InboundMessage:
    """:func:`to_record` for a ``message.toString()`` the caller already holds.

    Hot path (every message received): when each field holds exactly one ``=`` (as many ``=``
    as SOHs: QuickFIX writes every field as tag=value, so then no value holds one) and no raw
    data length field is present, one C-level ``replace`` and ``split`` give tags and values
    alternately, with no Python loop per field (a D: 6.2 -> 4.6 us). Anything else goes through
    :func:`split_fields` (and its errors), whose pairs are the same.
    """
    received_ns = time.time_ns()
    parts = text.replace(SOH, "=").split("=")
    # As many "=" as SOHs (then no value holds one) and an SOH at the end.
    if len(parts) == 2 * text.count(SOH) + 1 and parts[-1] == "":
        tags = parts[0:-1:2]
        # 8, 9 first and 10 last, as QuickFIX writes them; all digits, or int() might read them
        # differently (" 35", "+35") or a field without "=" might have shifted the pairs.
        if (len(tags) > 4 and tags[0] == "8" and tags[1] == "9" and tags[-1] == "10"
                and "".join(tags).isdigit()):
            try:
                numbers = list(map(tag_number, tags[2:-1]))
            except ValueError:   # an empty tag: the slow path says what it is
                numbers = None
            if numbers is not None and _LENGTH_TAGS.isdisjoint(numbers):
                fields = tuple(zip(numbers, parts[5:-3:2], strict=True))
                # QuickFIX's header: 35 first, 34 next (tag order after 8 and 9)
                if tags[2] == "35" and tags[3] == "34":
                    return InboundMessage(key, parts[5], int(parts[7]), fields, received_ns)
                return InboundMessage(key, *_type_and_seq(fields), fields, received_ns)
    pairs = split_fields(text)
    # QuickFIX writes 8 and 9 first and 10 last; anything else is filtered the slow way.
    if pairs and pairs[0][0] == 8 and pairs[-1][0] == 10 and len(pairs) > 2 and pairs[1][0] == 9:
        fields = tuple(pairs[2:-1])
    else:
        fields = tuple(p for p in pairs if p[0] not in _SKIP)
    return InboundMessage(key, *_type_and_seq(fields), fields, received_ns)


def _type_and_seq(fields: tuple[tuple[int, str], ...]) -> tuple[str, int]:
    """MsgType(35) and MsgSeqNum(34) of ``fields`` ("" and 0 when absent)."""
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
    return msg_type, seq


def to_quickfix(msg: OutboundMessage, dictionaries: Dictionaries | MessageDictionaries | None) -> fix.Message:
    """A ``quickfix.Message`` for ``msg`` with CompIDs set from its session (QuickFIX fills in
    MsgSeqNum and SendingTime when sending). Without dictionaries groups are not structured,
    which is only right for messages that have none.

    The text carries placeholder BodyLength and CheckSum: it is parsed without validation and
    QuickFIX computes both again when it serialises the message for the wire.

    Never fails on a value's content: an answer that could not be built would be lost (or
    retried for ever), so a value holding what cannot go on the wire (a lone surrogate, or an
    SOH that would split it into fields of its own) is sent with that character replaced, and
    logged. Values come from Zenith texts and partner echoes, which the edges already check.
    """
    key = msg.session
    text = _wire_text(key, msg.msg_type, msg.fields)
    # Header and trailer hold 6 SOHs, each field one more: any other count means a value has one.
    if text.count(SOH) != len(msg.fields) + 6 or not _encodes(text):
        clean = tuple((t, _clean(v)) for t, v in msg.fields)
        changed = [t for (t, v), (_, c) in zip(msg.fields, clean, strict=True) if v != c]
        log.warning("%s on %s: invalid characters replaced in tag(s) %s", msg.msg_type, key, changed)
        text = _wire_text(key, _clean(msg.msg_type), clean)
    if dictionaries is None:
        return _parsed(text)
    if isinstance(dictionaries, MessageDictionaries):
        if not dictionaries.has_groups(msg.msg_type, msg.fields):
            return _parsed(text)
        dictionaries = dictionaries.for_msg_type(msg.msg_type)
    if dictionaries.app is not None:
        return fix.Message(text, dictionaries.session, dictionaries.app, False)
    return fix.Message(text, dictionaries.session, False)


_new_message = _quickfix.new_Message
_message_init = _quickfix.Message_swiginit
_Message = fix.Message
_alloc = object.__new__


def _parsed(text: str) -> fix.Message:
    """``fix.Message(text, False)`` (parsed without a dictionary or validation) as quickfix.py's
    ``Message.__init__`` makes it, without that Python frame and its ``*args`` dispatch (0.7 us of
    the 5 an ER takes here; the C++ constructor is the same, so is the message)."""
    message = _alloc(_Message)
    _message_init(message, _new_message(text, False))
    return message


class _TagPrefixes(dict[int, str]):
    """Tag -> ``"\x01<tag>="``, made once per tag (bounded like ``gateway.vocab.wire``'s memo)."""

    def __missing__(self, tag: int) -> str:
        prefix = f"\x01{tag}="
        if len(self) < 20_000:
            self[tag] = prefix
        return prefix


_PREFIX = _TagPrefixes()


def _wire_text(key: SessionKey, msg_type: str, fields: tuple[tuple[int, str], ...]) -> str:
    # Two appends per field and one join: half the cost of an f-string per field (an ER: 3.1 ->
    # 1.5 us); the SOH that ends a field is the next prefix's first character.
    parts = ["8=", key.begin_string, "\x019=0\x0135=", msg_type, "\x0149=", key.sender_comp_id,
             "\x0156=", key.target_comp_id]
    append = parts.append
    prefix = _PREFIX
    for tag, value in fields:
        append(prefix[tag])
        append(value)
    append("\x0110=000\x01")
    try:
        return "".join(parts)
    except TypeError:   # a value that is not a str (built by hand, not OutboundMessage.build)
        return "".join([*parts[:8], *[f"\x01{t}={v}" for t, v in fields], "\x0110=000\x01"])


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: str) -> str:
    return _INVALID_TEXT.sub("?", value).replace(SOH, " ")
