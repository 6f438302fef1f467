"""FIX tag=value codec: ``encode`` and a streaming, sans-I/O ``FixParser``.

Shape taken from simplefix (feed bytes, get a message or ``None``), speed not: the parser keeps a
bytearray and an offset, finds BeginString with ``bytes.find``, cuts the whole message in one slice
using BodyLength(9), and checks CheckSum(10) once (FIX 4.4 Vol. 2, "Message Format": BeginString,
BodyLength and MsgType are the first three fields, CheckSum the last; BodyLength counts the bytes
from after its own SOH up to and including the SOH before ``10=``; CheckSum is the byte sum of
everything before ``10=``, modulo 256, as three digits).

Fields are split only when asked for (``FixMessage.fields`` / ``get``) and then cached, so tools that
only need MsgType and the CompIDs never pay for the split. Values are ``str`` decoded as Latin-1:
one character per byte, lossless, so the byte lengths of data fields (RawData(96) & co.) line up;
``get_bytes`` gives the original bytes back.

Leniency is a named flag on the parser; whatever is wrong is either a flag on the message
(``checksum_ok``, ``body_length_ok``, ``skipped``) or a :class:`~gateway.harness.errors.ParseError`
subclass, never silent.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal

from gateway.harness.errors import (
    BadBeginStringError,
    BadBodyLengthError,
    BadChecksumError,
    BodyLengthMismatchError,
    EncodeError,
    GarbageError,
    MalformedFieldError,
    MessageTooLargeError,
    MissingChecksumError,
    MissingMsgTypeError,
    ParseError,
    TruncatedMessageError,
)

__all__ = [
    "DATA_TAGS",
    "LENGTH_TAGS",
    "SOH",
    "FixMessage",
    "FixParser",
    "ParseError",
    "checksum",
    "comp_id_bytes",
    "encode",
    "match_comp_ids",
]

SOH = b"\x01"
_START = b"8=FIX"
_TRAILER = b"\x0110="
# 8=BeginString, 9=BodyLength, 35=MsgType: the three fields every message starts with.
_HEAD = re.compile(rb"8=(FIXT?\.\d\.\d[^\x01]{0,8})\x019=(\d{1,10})\x0135=([^\x01=]{1,8})\x01")
_MAX_BEGIN_STRING = 32  # "FIXT.1.1" is 8; anything much longer is not a BeginString
_MAX_LENGTH_DIGITS = 10

# Tags of type DATA / XMLDATA in the QuickFIX spec files FIX40..FIX50SP2 and FIXT11. Their value
# may contain SOH; its byte length is the value of the field just before it (its LENGTH field),
# which is also how QuickFIX reads them. ``dictionary.SpecFile.data_tags`` gives the same set.
DATA_TAGS: frozenset[int] = frozenset(
    (
        89, 91, 96, 213, 349, 351, 353, 355, 357, 359, 361, 363, 365, 446, 619, 622, 1185, 1278,
        1281, 1283, 1398, 1402, 1404, 1469, 1527, 1579, 1621, 1665, 1697, 1734, 1872, 1875, 2073,
        2075, 2112, 2180, 2288, 2352, 2371, 2482, 2493, 2521, 2638, 2652, 2666, 2716, 2719, 2722,
        2798, 2801, 2808, 2814, 40005, 40009, 40979, 40981, 40983, 40985, 40987, 40989, 41084,
        41102, 41108, 41257, 41321, 41325, 41459, 41477, 41483, 41654, 41711, 41807, 41812, 41874,
        41970, 42026, 42172, 42452, 42486, 42653, 42684, 42948, 42982,
    )
)  # fmt: skip

# str(tag) -> tag for the tags every message uses; a dict hit is cheaper than int().
_TAG_INT: dict[str, int] = {str(i): i for i in range(1, 1000)}
_TAG_INT_MAX = 20_000


def checksum(data: bytes | bytearray | memoryview) -> int:
    """FIX CheckSum of ``data``: the byte sum modulo 256.

    ``zlib.adler32`` with a zero seed returns the plain byte sum modulo 65521 in its low half;
    over at most 256 bytes that sum (<= 65280) is exact, so we feed 256-byte chunks: C speed,
    about five times faster than ``sum(data)``.
    """
    view = memoryview(data)
    n = len(view)
    if n <= 256:
        return (zlib.adler32(view, 0) & 0xFFFF) & 0xFF
    total = 0
    for i in range(0, n, 256):
        total += zlib.adler32(view[i : i + 256], 0) & 0xFFFF
    return total & 0xFF


class FixMessage:
    """One FIX message as cut from the wire: ``raw`` bytes plus what was checked on the way.

    Cheap attributes, set when cut: ``raw``, ``begin_string``, ``msg_type``, ``body_length``
    (declared), ``body_length_ok``, ``checksum`` (declared), ``checksum_ok``, ``skipped`` (bytes
    of non-FIX input dropped just before this message). ``fields`` and ``get`` split on first use.
    """

    __slots__ = (
        "_fields",
        "_map",
        "begin_string",
        "body_length",
        "body_length_ok",
        "checksum",
        "checksum_ok",
        "data_tags",
        "msg_type",
        "raw",
        "skipped",
    )

    def __init__(
        self,
        raw: bytes,
        begin_string: str,
        msg_type: str,
        body_length: int,
        body_length_ok: bool,
        checksum: int,
        checksum_ok: bool,
        skipped: int = 0,
        data_tags: frozenset[int] = DATA_TAGS,
    ) -> None:
        self.raw = raw
        self.begin_string = begin_string
        self.msg_type = msg_type
        self.body_length = body_length
        self.body_length_ok = body_length_ok
        self.checksum = checksum
        self.checksum_ok = checksum_ok
        self.skipped = skipped
        self.data_tags = data_tags
        self._fields: list[tuple[int, str]] | None = None
        self._map: dict[int, str] | None = None

    # -- fields -----------------------------------------------------------------------------
    @property
    def fields(self) -> list[tuple[int, str]]:
        """(tag, value) pairs in wire order, 8, 9 and 10 included. Raises MalformedFieldError."""
        fields = self._fields
        if fields is None:
            fields = self._fields = _split_fields(self.raw, self.data_tags)
        return fields

    @property
    def body_fields(self) -> list[tuple[int, str]]:
        """``fields`` without BeginString(8), BodyLength(9) and CheckSum(10): ready for ``encode``."""
        return self.fields[2:-1]

    def get(self, tag: int, default: str | None = None) -> str | None:
        """Value of the first ``tag`` in the message (header, body or a group's first entry)."""
        fmap = self._map
        if fmap is None:
            # reversed: the first occurrence must win over later repeating-group entries
            fmap = self._map = dict(reversed(self.fields))
        return fmap.get(tag, default)

    def get_all(self, tag: int) -> list[str]:
        """Every value of ``tag`` in wire order (repeating groups)."""
        return [v for t, v in self.fields if t == tag]

    def get_bytes(self, tag: int) -> bytes | None:
        """The original bytes of ``tag`` (for data fields and non-ASCII text)."""
        value = self.get(tag)
        return None if value is None else value.encode("latin-1")

    def __contains__(self, tag: object) -> bool:
        return self.get(tag) is not None if isinstance(tag, int) else False

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self.fields)

    # -- header shortcuts (no full split) -------------------------------------------------------
    def header_value(self, tag: int) -> str | None:
        """First ``tag`` found by a byte search, without splitting the message.

        Exact: if a field that might be a LENGTH field (so might announce a data field holding
        ``<SOH>tag=``) comes before the match, it falls back to ``get``. Meant for header tags.
        """
        raw = self.raw
        key = b"\x01%d=" % tag
        i = raw.find(key)
        if i < 0:
            return None if self._fast_ok(len(raw)) else self.get(tag)
        if not self._fast_ok(i):
            return self.get(tag)
        i += len(key)
        return raw[i : raw.find(SOH, i)].decode("latin-1")

    def comp_ids(self) -> tuple[str | None, str | None]:
        """(SenderCompID(49), TargetCompID(56)) without a full split: what session grouping needs."""
        ids = comp_id_bytes(self.raw)
        if ids is None:
            return self.get(49), self.get(56)
        return ids[0].decode("latin-1"), ids[1].decode("latin-1")

    def _fast_ok(self, end: int) -> bool:
        # a miss or a match past a possible data field must be settled by the full split
        return self._fields is None and _MAYBE_LENGTH_FIELD.search(self.raw, 0, end) is None

    @property
    def sender_comp_id(self) -> str | None:
        return self.header_value(49)

    @property
    def target_comp_id(self) -> str | None:
        return self.header_value(56)

    @property
    def msg_seq_num(self) -> int | None:
        value = self.header_value(34)
        return int(value) if value is not None and value.isdigit() else None

    @property
    def sending_time(self) -> str | None:
        return self.header_value(52)

    # -- display --------------------------------------------------------------------------------
    def to_text(self, delimiter: str = "|") -> str:
        """The message with SOH shown as ``delimiter`` (for logs and assertion messages)."""
        return self.raw.decode("latin-1").replace("\x01", delimiter)

    def __repr__(self) -> str:
        flags = ""
        if not self.body_length_ok:
            flags += " bad-body-length"
        if not self.checksum_ok:
            flags += " bad-checksum"
        return f"<FixMessage {self.msg_type!r}{flags} {self.to_text()[:120]!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)


# LENGTH fields that announce a DATA field (same source as DATA_TAGS; 9 and MaxMessageSize(383) left out).
LENGTH_TAGS: frozenset[int] = frozenset(
    (
        90, 93, 95, 212, 348, 350, 352, 354, 356, 358, 360, 362, 364, 445, 618, 621, 1184, 1277, 1280,
        1282, 1397, 1401, 1403, 1468, 1525, 1578, 1620, 1664, 1678, 1733, 1871, 1874, 2072, 2074, 2111,
        2179, 2287, 2351, 2372, 2481, 2494, 2522, 2637, 2651, 2665, 2715, 2718, 2721, 2797, 2802, 2809,
        2815, 40004, 40008, 40978, 40980, 40982, 40984, 40986, 40988, 41083, 41101, 41107, 41256, 41320,
        41324, 41458, 41476, 41482, 41653, 41710, 41806, 41811, 41873, 41969, 42025, 42171, 42451, 42652,
        42947, 43109, 43110, 43111,
    )
)  # fmt: skip
# "<SOH>tag=" for a tag that could be a LENGTH field (90, 93, 95 or any tag >= 100): a cheap
# superset of LENGTH_TAGS. If none occurs before a header tag, no data field can hide a fake one.
_MAYBE_LENGTH_FIELD = re.compile(rb"\x01(?:9[035]|[1-9]\d\d+)=")
# From the start: fields whose tag is below 100 and not 90/93/95 (so no data field can start
# among them), then 49 and 56 in either order with only such fields around them.
_SAFE = rb"(?:(?:[1-8]\d?|9[1246-9]?)=[^\x01]*\x01)*?"
_COMP_IDS = re.compile(_SAFE + rb"49=([^\x01]*)\x01" + _SAFE + rb"56=([^\x01]*)\x01")
_COMP_IDS_REVERSED = re.compile(_SAFE + rb"56=([^\x01]*)\x01" + _SAFE + rb"49=([^\x01]*)\x01")


# The usual header orders (QuickFIX: 34, 49, 52, 56; others: 49, 56, 34, 52) in one cheap match.
_COMP_IDS_USUAL = re.compile(
    rb"8=[^\x01]*\x019=\d+\x0135=[^\x01]*\x01(?:34=\d+\x01)?49=([^\x01]*)\x01(?:52=[^\x01]*\x01)?56=([^\x01]*)\x01"
)


# A match whose groups 1 and 2 are SenderCompID and TargetCompID, for the usual header orders
# only (None otherwise: then use ``comp_id_bytes``). A bound method, for hot loops.
match_comp_ids = _COMP_IDS_USUAL.match


def comp_id_bytes(raw: bytes) -> tuple[bytes, bytes] | None:
    """(SenderCompID, TargetCompID) bytes of a whole message by regex matching, or None when
    the header is unusual (a tag >= 100 or a length field before them, or one missing): then
    ask ``FixMessage.get``, which splits properly."""
    m = _COMP_IDS_USUAL.match(raw)
    if m is not None:
        return m[1], m[2]
    m = _COMP_IDS.match(raw)
    if m is not None:
        return m[1], m[2]
    m = _COMP_IDS_REVERSED.match(raw)
    if m is not None:
        return m[2], m[1]
    return None


def _tag(text: str) -> int:
    """Strict tag parse (int() would accept ' 5', '+5' and '5_0'); ValueError if not a tag."""
    if not text.isdigit() or text[0] == "0" or not text.isascii():
        raise ValueError(text)
    tag = int(text)
    if len(_TAG_INT) < _TAG_INT_MAX:  # remember it: user-defined and 4-5 digit tags recur too
        _TAG_INT[text] = tag
    return tag


def _split_fields(raw: bytes, data_tags: frozenset[int]) -> list[tuple[int, str]]:
    text = raw.decode("latin-1")
    parts = text.split("\x01")
    if parts[-1]:
        raise MalformedFieldError("message does not end with SOH", snippet=raw[-80:])
    parts.pop()
    get = _TAG_INT.get
    try:
        fields = [(get(t) or _tag(t), v) for t, _, v in (p.partition("=") for p in parts)]
    except ValueError:
        fields = None  # a non-numeric "tag": maybe a data field holding SOH, else malformed
    if fields is not None and data_tags.isdisjoint([t for t, _ in fields]):
        return fields
    return _split_fields_slow(text, data_tags, raw)


def _split_fields_slow(text: str, data_tags: frozenset[int], raw: bytes) -> list[tuple[int, str]]:
    """Walk field by field, taking data fields by their length (the previous field's value)."""
    fields: list[tuple[int, str]] = []
    pos = 0
    n = len(text)
    prev_value = ""
    while pos < n:
        eq = text.find("=", pos)
        soh = text.find("\x01", pos)
        if eq < 0 or (0 <= soh < eq):
            raise MalformedFieldError(
                f"field without '=' at byte {pos}", offset=pos, snippet=raw[pos : pos + 80]
            )
        tag_text = text[pos:eq]
        if not tag_text.isdigit() or tag_text.startswith("0") or not tag_text.isascii():
            raise MalformedFieldError(
                f"tag {tag_text!r} is not a number", offset=pos, snippet=raw[pos : pos + 80]
            )
        tag = int(tag_text)
        if tag in data_tags and prev_value.isdigit():
            end = eq + 1 + int(prev_value)
            if end >= n or text[end] != "\x01":
                raise MalformedFieldError(
                    f"data field {tag} is not {prev_value} bytes long",
                    offset=pos,
                    snippet=raw[pos : pos + 80],
                )
        else:
            end = text.find("\x01", eq + 1)
            if end < 0:
                raise MalformedFieldError(
                    f"field {tag} not ended by SOH", offset=pos, snippet=raw[pos : pos + 80]
                )
        prev_value = text[eq + 1 : end]
        fields.append((tag, prev_value))
        pos = end + 1
    return fields


# -- encoding ---------------------------------------------------------------------------------------
def _value_bytes(tag: int, value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise EncodeError(
                f"tag {tag}: text outside Latin-1; pass bytes (e.g. UTF-8 with MessageEncoding(347))", tag=tag
            ) from None
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, Decimal):
        # FIX float fields forbid exponents: Decimal("1E+2") must go out as "100".
        return format(value, "f").encode("ascii")
    raise EncodeError(f"tag {tag}: unsupported value type {type(value).__name__}", tag=tag)


def encode(
    begin_string: str,
    pairs: Iterable[tuple[int, object]],
    *,
    check: bool = True,
    data_tags: frozenset[int] = DATA_TAGS,
) -> bytes:
    """Encode a message; BeginString(8), BodyLength(9) and CheckSum(10) are always computed here.

    ``pairs`` start with MsgType(35) and list every other field in wire order (groups as count
    then entries). Values may be str (Latin-1), bytes, int, bool (Y/N) or Decimal. Tags 9 and 10
    in ``pairs`` are ignored (they are recomputed); an 8 must equal ``begin_string``. With
    ``check`` (default) the message must be well formed: 35 first, positive tags, no empty
    values, no SOH except inside a data field whose length field, just before it, is right.
    Use ``check=False`` to build deliberately broken messages (certification).
    """
    parts: list[bytes] = []
    prev_tag = 0
    prev_value = b""
    for tag, value in pairs:
        if tag in (9, 10):
            continue
        if tag == 8:
            if value != begin_string:
                raise EncodeError(f"BeginString(8) {value!r} differs from {begin_string!r}", tag=8)
            continue
        v = _value_bytes(tag, value)
        if check:
            if not isinstance(tag, int) or tag <= 0:
                raise EncodeError(f"tag {tag!r} is not a positive integer", tag=None)
            if not parts and tag != 35:
                raise EncodeError(f"MsgType(35) must be the first pair, got tag {tag}", tag=tag)
            if not v:
                raise EncodeError(f"tag {tag} has an empty value", tag=tag)
            if tag in data_tags and prev_value.isdigit():
                if int(prev_value) != len(v):
                    raise EncodeError(
                        f"data field {tag} is {len(v)} bytes, length field {prev_tag} says {int(prev_value)}",
                        tag=tag,
                    )
            elif b"\x01" in v:
                raise EncodeError(f"tag {tag} contains SOH", tag=tag)
        parts.append(b"%d=%s\x01" % (tag, v))
        prev_tag, prev_value = tag, v
    if check and not parts:
        raise EncodeError("no fields: MsgType(35) is required", tag=35)
    body = b"".join(parts)
    head = b"8=%s\x019=%d\x01" % (begin_string.encode("ascii"), len(body))
    cs = (checksum(head) + checksum(body)) & 0xFF
    return b"%s%s10=%03d\x01" % (head, body, cs)


# -- parsing ----------------------------------------------------------------------------------------
class FixParser:
    """Streaming FIX parser: ``feed(bytes)``, then ``next()`` until it returns ``None``.

    ``next()`` returns a :class:`FixMessage`, ``None`` when it needs more bytes, or raises a
    :class:`ParseError` subclass after consuming the bad bytes: call ``next()`` again to go on.
    Call ``feed_eof()`` when the input has ended so a cut-short last message is reported
    (TruncatedMessageError) rather than waited for.

    Leniency flags (all True by default, for reading logs as they are):

    - ``allow_bad_checksum``: a wrong CheckSum gives a message with ``checksum_ok=False``
      instead of BadChecksumError.
    - ``allow_bad_body_length``: when CheckSum is not where BodyLength says, look for the first
      ``<SOH>10=NNN<SOH>`` instead, and flag ``body_length_ok=False`` (else BodyLengthMismatchError).
    - ``allow_garbage``: skip non-FIX bytes before ``8=FIX`` (counted in ``message.skipped`` and
      ``parser.skipped_bytes``) instead of GarbageError. Whitespace between messages is never garbage.

    ``max_message_size`` bounds the memory a bad BodyLength or endless garbage can take.
    ``data_tags`` tells ``FixMessage.fields`` which tags are length-prefixed data.
    """

    def __init__(
        self,
        *,
        allow_bad_checksum: bool = True,
        allow_bad_body_length: bool = True,
        allow_garbage: bool = True,
        max_message_size: int = 1 << 20,
        data_tags: Iterable[int] = DATA_TAGS,
    ) -> None:
        if max_message_size < 32:
            raise ValueError("max_message_size must be at least 32 bytes")
        self.allow_bad_checksum = allow_bad_checksum
        self.allow_bad_body_length = allow_bad_body_length
        self.allow_garbage = allow_garbage
        self.max_message_size = max_message_size
        self.data_tags = data_tags if isinstance(data_tags, frozenset) else frozenset(data_tags)
        self.skipped_bytes = 0
        self._buf = bytearray()
        self._off = 0
        self._base = 0  # stream offset of _buf[0], for error offsets
        self._eof = False
        self._pending_skip = 0  # garbage counted before a message that is not complete yet
        self._after_error = False  # the rest of a reported bad message is not garbage too

    # -- feeding ----------------------------------------------------------------------------------
    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received. Then call ``next()`` until it returns None."""
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        buf = self._buf
        off = self._off
        if off and off >= len(buf) >> 1:
            # drop consumed bytes once they are at least half the buffer: amortised O(1)
            del buf[:off]
            self._base += off
            self._off = 0
        buf += data

    def feed_eof(self) -> None:
        """The input has ended: a partial message left in the buffer is now an error."""
        self._eof = True

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as messages."""
        return len(self._buf) - self._off

    # -- reading ----------------------------------------------------------------------------------
    def next(self) -> FixMessage | None:
        """The next complete message, or None if more bytes are needed. Raises ParseError."""
        buf = self._buf
        off = self._off
        start = buf.find(_START, off)
        if start < 0:
            tail = len(buf) - off
            # keep what could be the beginning of "8=FIX"
            keep = 0 if self._eof else min(tail, len(_START) - 1)
            self._pending_skip += self._skip(off, len(buf) - keep, buf)
            self._off = len(buf) - keep
            return None
        if start > off:
            self._pending_skip += self._skip(off, start, buf)
            self._off = start
        result, resume = self.cut(buf, start, final=self._eof, skipped=self._pending_skip)
        if result is None:
            if len(buf) - start > self.max_message_size:
                self._off = start + 1
                self._after_error = True
                raise MessageTooLargeError(
                    f"no complete message within {self.max_message_size} bytes",
                    offset=self._base + start,
                    snippet=bytes(buf[start : start + 80]),
                )
            return None
        self._off = resume
        self._pending_skip = 0
        if isinstance(result, ParseError):
            self._after_error = True
            result.offset += self._base
            raise result
        self._after_error = False
        return result

    def messages(self) -> Iterator[FixMessage]:
        """Every complete message now buffered (stops at the first ParseError, which it raises)."""
        while (message := self.next()) is not None:
            yield message

    def _skip(self, start: int, end: int, buf: bytearray) -> int:
        if end <= start or self._after_error:
            return 0
        junk = buf[start:end]
        if not junk.strip():
            return 0
        self.skipped_bytes += end - start
        if not self.allow_garbage:
            self._off = end
            raise GarbageError(
                f"{end - start} bytes of non-FIX data", offset=self._base + start, snippet=bytes(junk[:80])
            )
        return end - start

    def cut(
        self, buf: bytes | bytearray, start: int, *, final: bool = True, skipped: int = 0
    ) -> tuple[FixMessage | ParseError | None, int]:
        """Cut the message whose ``8=FIX`` is at ``buf[start]``; no state is changed.

        Returns ``(message, end)`` on success, ``(error, resume)`` for bad bytes (resume at
        ``resume``, past them), or ``(None, start)`` when more bytes are needed and ``final`` is
        False. With ``final`` True (the buffer holds all there is) it never returns None.
        Used by ``next()`` and by the log readers, which hand it one line at a time.
        """
        # Fast path: a well-formed message, as nearly all are; one regex match reads the three
        # leading fields. Any doubt -> the careful path, which names what is wrong.
        head = _HEAD.match(buf, start)
        if head is not None:
            begin, length_text, msg_type = head.groups()
            body_length = int(length_text)
            trailer = head.end(2) + 1 + body_length
            end = trailer + 7
            if (
                len(buf) >= end
                and buf[trailer + 6] == 1
                and buf[trailer - 1] == 1
                and buf.startswith(b"10=", trailer)
                and body_length <= self.max_message_size
            ):
                declared = buf[trailer + 3 : trailer + 6]
                if declared.isdigit():
                    raw = buf[start:end]
                    if type(raw) is not bytes:
                        raw = bytes(raw)
                    k = trailer - start
                    computed = (
                        (zlib.adler32(raw[:k], 0) & 0xFF) if k <= 256 else checksum(memoryview(raw)[:k])
                    )
                    declared_cs = int(declared)
                    if computed == declared_cs or self.allow_bad_checksum:
                        return FixMessage(
                            raw,
                            begin.decode("latin-1"),
                            msg_type.decode("latin-1"),
                            body_length,
                            True,
                            declared_cs,
                            computed == declared_cs,
                            skipped,
                            self.data_tags,
                        ), end
        return self._cut_slow(buf, start, final, skipped)

    def _cut_slow(
        self, buf: bytes | bytearray, start: int, final: bool, skipped: int
    ) -> tuple[FixMessage | ParseError | None, int]:
        n = len(buf)
        s1 = buf.find(SOH, start + 2, start + 2 + _MAX_BEGIN_STRING)
        if s1 < 0:
            if not final and n - start < 2 + _MAX_BEGIN_STRING:
                return None, start
            return self._error(BadBeginStringError, "BeginString(8) not ended by SOH", buf, start, start + 1)
        if n < s1 + 3:
            if not final:
                return None, start
            return self._error(TruncatedMessageError, "input ends after BeginString(8)", buf, start, n)
        if not buf.startswith(b"9=", s1 + 1):
            return self._error(BadBodyLengthError, "BodyLength(9) is not the second field", buf, start, s1)
        s2 = buf.find(SOH, s1 + 3, s1 + 4 + _MAX_LENGTH_DIGITS)
        if s2 < 0:
            if not final and n - s1 < 4 + _MAX_LENGTH_DIGITS:
                return None, start
            return self._error(BadBodyLengthError, "BodyLength(9) not ended by SOH", buf, start, s1)
        length_text = buf[s1 + 3 : s2]
        if not length_text.isdigit():
            return self._error(
                BadBodyLengthError,
                f"BodyLength(9) {bytes(length_text).decode('latin-1')!r} is not a number",
                buf,
                start,
                s2,
            )
        body_length = int(length_text)
        body = s2 + 1
        if body_length > self.max_message_size:
            return self._error(
                MessageTooLargeError,
                f"BodyLength(9) {body_length} exceeds {self.max_message_size}",
                buf,
                start,
                body,
            )
        trailer = body + body_length
        if (
            n >= trailer + 7
            and buf.startswith(b"10=", trailer)
            and buf[trailer + 6] == 1
            and buf[trailer - 1] == 1
        ):
            body_length_ok = True
        else:
            if n < trailer + 7 and not final:
                return None, start
            # BodyLength is wrong: find the real trailer, but not past the start of the next message
            trailer = _find_trailer(buf, body - 1, n)
            if trailer < 0:
                if not final:
                    return None, start
                nxt = buf.find(_START, body)
                if nxt >= 0:
                    return self._error(
                        TruncatedMessageError,
                        "next message starts before this one's trailer",
                        buf,
                        start,
                        nxt,
                    )
                return self._error(
                    TruncatedMessageError, "input ends mid-message (no 10=NNN<SOH>)", buf, start, n
                )
            # (a cut-short message is often glued to the next one without even a SOH)
            nxt = buf.find(_START, body, trailer)
            if nxt >= 0:
                return self._error(
                    TruncatedMessageError, "next message starts before this one's trailer", buf, start, nxt
                )
            body_length_ok = False
            if not self.allow_bad_body_length:
                return self._error(
                    BodyLengthMismatchError,
                    f"BodyLength(9) says {body_length}, trailer found after {trailer - body}",
                    buf,
                    start,
                    trailer + 7,
                )
        end = trailer + 7
        declared = buf[trailer + 3 : trailer + 6]
        if not declared.isdigit():
            return self._error(
                MissingChecksumError, f"CheckSum(10) {declared!r} is not 3 digits", buf, start, end
            )
        if not buf.startswith(b"35=", body):
            return self._error(MissingMsgTypeError, "MsgType(35) is not the third field", buf, start, end)
        s3 = buf.find(SOH, body + 3, trailer)
        raw = bytes(buf[start:end])
        declared_cs = int(declared)
        checksum_ok = checksum(memoryview(raw)[: trailer - start]) == declared_cs
        message = FixMessage(
            raw,
            raw[2 : s1 - start].decode("latin-1"),
            raw[body + 3 - start : s3 - start].decode("latin-1"),
            body_length=body_length,
            body_length_ok=body_length_ok,
            checksum=declared_cs,
            checksum_ok=checksum_ok,
            skipped=skipped,
            data_tags=self.data_tags,
        )
        if not checksum_ok and not self.allow_bad_checksum:
            computed = checksum(memoryview(raw)[: trailer - start])
            error = BadChecksumError(
                f"CheckSum(10) is {declared_cs:03d}, computed {computed:03d}",
                offset=start,
                snippet=raw,
                message=message,
            )
            return error, end
        return message, end

    @staticmethod
    def _error(
        cls: type[ParseError], detail: str, buf: bytes | bytearray, start: int, resume: int
    ) -> tuple[ParseError, int]:
        return cls(detail, offset=start, snippet=bytes(buf[start : start + 80])), max(resume, start + 1)


def _find_trailer(buf: bytes | bytearray, pos: int, n: int) -> int:
    """Position of ``10=`` of the first ``<SOH>10=NNN<SOH>`` at or after ``pos``, or -1."""
    while True:
        i = buf.find(_TRAILER, pos, n)
        if i < 0 or i + 8 > n:
            return -1
        if buf[i + 7] == 1 and buf[i + 4 : i + 7].isdigit():
            return i + 1
        pos = i + 1
