"""FIX log readers: every message of a log as a :class:`LogRecord`, in constant memory.

Formats, detected per file from its first 64 KiB (``format=`` forces one):

- ``quickfix``  QuickFIX C++ / QuickFIX/J FileLog: ``YYYYMMDD-HH:MM:SS.sss[uuu[nnn]] : 8=FIX...``
  (``*.messages.current.log``; ``*.event.current.log`` has no messages and yields none).
- ``quickfixj`` QuickFIX/J SLF4J and screen logs: ``2024-01-02 10:00:00,123 INFO ...
  quickfixj.msg.incoming - FIX.4.4:A->B: 8=FIX...`` or ``<20240102-10:00:00, FIX.4.4:A->B,
  outgoing> (8=FIX...)``; also QuickFIX C++ screen logs, whose message follows on the next line.
- ``raw``       SOH streams: many messages per line or no newline at all (the store's ``.body``).
- ``pipe`` / ``caret``  dumps with ``|`` or the two characters ``^A`` for SOH; BodyLength and
  CheckSum are checked against the SOH form.
- ``prefixed``  any other text before ``8=FIX``; a timestamp in it is still picked up.

gzip is recognised by its magic bytes; ``-`` reads stdin. Each message yields a record with the
file, the line it starts on, the timestamp text of its line and, when the log tells, its direction
("in" = received by the log's owner, "out" = sent): from ``incoming``/``outgoing``-style words before
the message, or from a QuickFIX file name ``BEGINSTRING-SENDER-TARGET.messages.log`` (whose
SENDER is the owner). Messages are grouped into sessions: BeginString plus the pair of CompIDs,
as a :class:`~gateway.vocab.records.SessionKey` seen from the owner (``sender_comp_id``) when known,
else from the side that sent the first message seen.

Nothing stops the reading: bad BodyLength/CheckSum, corrupt lines, unreadable files and truncated
gzip become :class:`LogProblem` entries (``reader.problems``; ``on_problem`` to stream them).
Lines are read at most 64 KiB at a time, so memory does not grow with the log.
"""

from __future__ import annotations

import functools
import gzip
import io
import itertools
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, NamedTuple, cast

from gateway.harness.codec import DATA_TAGS, FixMessage, FixParser, checksum, comp_id_bytes, match_comp_ids
from gateway.harness.errors import MalformedFieldError, ParseError, TruncatedMessageError
from gateway.harness.salvage import salvage
from gateway.vocab.records import SessionKey

__all__ = [
    "FORMATS",
    "LogFormat",
    "LogProblem",
    "LogReader",
    "LogRecord",
    "SessionStats",
    "detect_format",
    "group_sessions",
    "parse_log_time",
    "read_log",
]

_START = b"8=FIX"
_PIECE = 1 << 16  # longest line piece read at once
_SAMPLE = 1 << 16  # bytes looked at to detect the format
_MAX_JOINED_LINES = 10_000  # continuation lines a message may span (newlines inside data fields)


# -- records ------------------------------------------------------------------------------------------
class LogRecord(NamedTuple):
    """One message of a log. A NamedTuple, not a frozen dataclass: one is built per message in the
    hot loop and a tuple is five times cheaper to build; it is just as immutable."""

    message: FixMessage
    file: str
    line: int
    time_text: str | None  # the timestamp as written on the line, if any
    direction: str | None  # "in" / "out" for the log's owner, None if the log does not tell
    session: SessionKey
    sender: str  # SenderCompID(49) ("" if missing)
    target: str  # TargetCompID(56)

    @property
    def time(self) -> datetime | None:
        """``time_text`` as an aware UTC datetime (QuickFIX writes UTC), or None."""
        return parse_log_time(self.time_text)

    @property
    def msg_type(self) -> str:
        return self.message.msg_type


@dataclass(frozen=True, slots=True)
class LogProblem:
    """Something wrong in a log, by file and line (line 0: the file as a whole)."""

    file: str
    line: int
    reason: str
    kind: str = "error"  # ParseError class name, "checksum", "body-length", "garbage", "io"...

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class SessionStats:
    """Running totals for one session (an accumulator, hence mutable)."""

    session: SessionKey
    messages: int = 0
    by_sender: dict[str, int] = field(default_factory=dict)
    first_time: str | None = None
    last_time: str | None = None
    files: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class LogFormat:
    """How to read one file: ``delimiter`` stands for SOH, ``prefix`` says how lines start."""

    name: str
    delimiter: bytes = b"\x01"
    prefix: str = "generic"  # "quickfix" (fixed timestamp layout) or "generic" (searched)


FORMATS: dict[str, LogFormat] = {
    "quickfix": LogFormat("quickfix", b"\x01", "quickfix"),
    "quickfixj": LogFormat("quickfixj"),
    "raw": LogFormat("raw"),
    "prefixed": LogFormat("prefixed"),
    "pipe": LogFormat("pipe", b"|"),
    "caret": LogFormat("caret", b"^A"),
}

# -- prefixes -----------------------------------------------------------------------------------------
_TIME = re.compile(rb"(\d{4})-?(\d\d)-?(\d\d)[-T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?")
_TIME_TEXT = re.compile(r"(\d{4})-?(\d\d)-?(\d\d)[-T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?")
_QUICKFIX_LINE = re.compile(rb"^\d{8}-\d\d:\d\d:\d\d(?:\.\d{1,9})? ?: ")
_DIRECTION = re.compile(
    rb"(?i)\b(?:(incoming|inbound|received|recv|rcvd|fromapp|fromadmin)|(outgoing|outbound|sent|send|toapp|toadmin))\b"
)
_SESSION_ID = re.compile(rb"(FIXT?\.\d\.\d(?:SP\d)?):([^\s,:>()]+)->([^\s,:>()]+)")
_FILE_NAME = re.compile(
    r"^(FIXT?\.\d\.\d(?:SP\d)?)-(.+?)\.(?:messages|event|body|header|incoming|outgoing)(?:\.|$)"
)
_DELIMITER = re.compile(rb"8=FIXT?\.\d\.\d(?:SP\d)?(\x01|\||\^A)9=\d")
_FIXISH = re.compile(rb"(?:^|[\x01|]|\^A)(?:35|49|56|10)=[^\x01|]*(?:[\x01|]|\^A)")


def parse_log_time(text: str | None) -> datetime | None:
    """``20240102-10:00:00.123456789``, ``2024-01-02 10:00:00,123``, ISO... -> UTC datetime."""
    if not text:
        return None
    m = _TIME_TEXT.search(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, UTC)
    except ValueError:
        return None


def _generic_prefix(prefix: bytes) -> tuple[str | None, str | None, tuple[str, str, str] | None]:
    """(time text, direction, session id seen as BEGIN:SENDER->TARGET) from text before 8=FIX."""
    if not prefix.strip():
        return None, None, None
    m = _TIME.search(prefix)
    time_text = m.group(0).decode("ascii") if m else None
    d = _DIRECTION.search(prefix)
    direction = None if d is None else ("in" if d.group(1) else "out")
    s = _SESSION_ID.search(prefix)
    sid = (
        None
        if s is None
        else (s.group(1).decode("latin-1"), s.group(2).decode("latin-1"), s.group(3).decode("latin-1"))
    )
    return time_text, direction, sid


def detect_format(sample: bytes) -> LogFormat:
    """Pick the format of a file from its first bytes (decompressed)."""
    m = _DELIMITER.search(sample)
    if m is None:
        return FORMATS["raw"]  # no message in sight (e.g. an event log): nothing will be found
    delimiter = m.group(1)
    if delimiter == b"|":
        return FORMATS["pipe"]
    if delimiter == b"^A":
        return FORMATS["caret"]
    line_start = sample.rfind(b"\n", 0, m.start()) + 1
    prefix = sample[line_start : m.start()]
    if not prefix.strip():
        return FORMATS["raw"]
    if _QUICKFIX_LINE.match(prefix):
        return FORMATS["quickfix"]
    if _DIRECTION.search(prefix) or _SESSION_ID.search(prefix) or b"quickfixj" in prefix.lower():
        return FORMATS["quickfixj"]
    return FORMATS["prefixed"]


# -- reading ------------------------------------------------------------------------------------------
# (time text, direction, (session, sender, target)) read from the prefix of a log line.
_Info = tuple[str | None, str | None, tuple[str, str, str] | None]


class _Pending(NamedTuple):
    buf: bytes  # starts with 8=FIX
    line: int
    info: tuple[str | None, str | None, tuple[str, str, str] | None]
    joins: int
    size_cut: bool  # the last piece ended without a newline: the next piece continues it
    marks: tuple[tuple[int, int], ...]  # (offset in buf, line number) where each line begins


class LogReader:
    """Iterate the records of one or more logs, collecting problems on the way.

    ``for record in LogReader(["a.log", "b.log.gz"]): ...``; afterwards (or during) look at
    ``problems`` (the first ``max_problems``; ``problem_count`` counts all) and ``sessions``.
    ``on_problem`` is called with each problem as it is found.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        format: str = "auto",
        on_problem: Callable[[LogProblem], None] | None = None,
        max_problems: int = 10_000,
        max_message_size: int = 1 << 20,
        data_tags: frozenset[int] = DATA_TAGS,
        stdin: BinaryIO | None = None,
    ) -> None:
        if format != "auto" and format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; choose from auto, {', '.join(FORMATS)}")
        self.paths = [os.fspath(p) for p in paths]
        self.format = format
        self.on_problem = on_problem
        self.max_problems = max_problems
        self.problems: list[LogProblem] = []
        self.problem_count = 0
        self.formats: dict[str, str] = {}  # file -> format name used
        self.salvaged: dict[str, int] = {}  # file -> messages read only leniently (see salvage.py)
        self._parser = FixParser(max_message_size=max_message_size, data_tags=data_tags)
        self._stdin = stdin
        self._entries: dict[tuple[str, str, str], _Entry] = {}

    def __iter__(self) -> Iterator[LogRecord]:
        for path in self.paths:
            yield from self.read_file(path)  # one generator level per record: this is the hot path

    @property
    def sessions(self) -> dict[SessionKey, SessionStats]:
        """Sessions seen so far with their totals, in order of first appearance."""
        result: dict[SessionKey, SessionStats] = {}
        for entry in self._entries.values():
            stats = result.get(entry.session)
            if stats is None:
                stats = result[entry.session] = SessionStats(entry.session)
            stats.messages += entry.count
            stats.by_sender[entry.sender] = stats.by_sender.get(entry.sender, 0) + entry.count
            stats.files |= entry.files
            if entry.first_time is not None and (
                stats.first_time is None or entry.first_time < stats.first_time
            ):
                stats.first_time = entry.first_time
            if entry.last_time is not None and (stats.last_time is None or entry.last_time > stats.last_time):
                stats.last_time = entry.last_time
        return result

    def _entry(self, begin: str, sender: str, target: str, direction: str | None) -> _Entry:
        entry = self._entries.get((begin, sender, target))
        if entry is None:
            other = self._entries.get((begin, target, sender))
            if other is not None:
                session = other.session
            elif direction == "in":  # seen from the owner when the log tells, else from the first sender
                session = SessionKey(begin, target, sender)
            else:
                session = SessionKey(begin, sender, target)
            entry = self._entries[(begin, sender, target)] = _Entry(session, sender, target)
        return entry

    def report(self, file: str, line: int, reason: str, kind: str = "error") -> None:
        """Record a problem (also used by callers that find more, e.g. malformed fields)."""
        problem = LogProblem(file, line, reason, kind)
        self.problem_count += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    # -- one file --------------------------------------------------------------------------------------
    def read_file(self, path: str) -> Iterator[LogRecord]:
        """Records of one file (``-``: stdin); problems go to ``report``."""
        name = "<stdin>" if path == "-" else path
        try:
            stream = self._open(path)
        except OSError as exc:
            self.report(name, 0, f"cannot open: {exc.strerror or exc}", "io")
            return iter(())
        try:
            prepared = self._prepare(stream, name)
        except BaseException:
            stream.close()
            raise
        if prepared is None:
            stream.close()
            return iter(())
        state, sample, text = prepared
        return state.run(sample, text, stream if path != "-" else None)

    def _open(self, path: str) -> BinaryIO:
        if path == "-":
            return self._stdin if self._stdin is not None else sys.stdin.buffer
        return open(path, "rb")  # closed by _FileState.run

    def _prepare(self, stream: BinaryIO, name: str) -> tuple[_FileState, bytes, BinaryIO] | None:
        # gzip by magic bytes, whatever the file is called
        if isinstance(stream, io.BufferedReader):
            reader = stream
        else:
            reader = io.BufferedReader(cast(io.RawIOBase, stream))
        magic = reader.peek(2)[:2]
        text: BinaryIO = gzip.GzipFile(fileobj=reader, mode="rb") if magic == b"\x1f\x8b" else reader  # type: ignore[assignment]
        try:
            sample = text.read(_SAMPLE)
        except (EOFError, OSError, zlib.error) as exc:
            self.report(name, 0, f"unreadable (corrupt or truncated gzip?): {exc}", "io")
            return None
        fmt = FORMATS[self.format] if self.format != "auto" else detect_format(sample)
        self.formats[name] = fmt.name
        state = _FileState(self, name)
        state.fmt = fmt
        return state, sample, text


def _pieces(sample: bytes, stream: BinaryIO, state: _FileState) -> Iterator[bytes]:
    """Lines (with their newline) of at most _PIECE bytes; a longer line comes in several pieces.

    A C-level iterator (no generator frame per line): read errors of the stream (truncated gzip)
    surface from the iteration, and ``_FileState.run`` reports them.
    """
    lines = io.BytesIO(sample).readlines()  # the sample is _PIECE bytes at most: so is each line
    if lines and not lines[-1].endswith(b"\n") and len(lines[-1]) < _PIECE:
        # the sample ended mid-line: finish that line from the stream
        try:
            lines[-1] += stream.readline(_PIECE - len(lines[-1]))
        except (EOFError, OSError, zlib.error) as exc:
            state.stream_error(exc)
            return iter(lines)
    return itertools.chain(lines, iter(functools.partial(stream.readline, _PIECE), b""))


class _Entry:
    """Per (BeginString, SenderCompID, TargetCompID): the session it belongs to and counters."""

    __slots__ = ("count", "files", "first_time", "last_time", "sender", "session", "target")

    def __init__(self, session: SessionKey, sender: str, target: str) -> None:
        self.session = session
        self.sender = sender
        self.target = target
        self.count = 0
        self.first_time: str | None = None
        self.last_time: str | None = None
        self.files: set[str] = set()


_NO_INFO: _Info = (None, None, None)


class _FileState:
    """Scanning state for one file: line number, message left open across lines, owner side."""

    def __init__(self, reader: LogReader, name: str) -> None:
        self.reader = reader
        self.name = name
        self.fmt = FORMATS["raw"]
        self.line = 1
        self.context: tuple[str | None, str | None, tuple[str, str, str] | None] | None = None
        self.file_owner: tuple[str, str] | None = None  # (BeginString, "SENDER-TARGET[-QUAL]")
        base = os.path.basename(name)
        if base.endswith(".gz"):
            base = base[:-3]
        m = _FILE_NAME.match(base)
        if m is not None:
            self.file_owner = (m.group(1), m.group(2))
        # (BeginString, sender bytes, target bytes) -> (entry, direction told by the file name)
        self._local: dict[tuple[str, bytes, bytes], tuple[_Entry, str | None]] = {}

    def stream_error(self, exc: BaseException) -> None:
        self.reader.report(
            self.name, self.line, f"input ends early (truncated or corrupt gzip?): {exc}", "io"
        )

    # -- main loop ---------------------------------------------------------------------------------------
    def run(self, sample: bytes, stream: BinaryIO, owned: BinaryIO | None) -> Iterator[LogRecord]:
        """Records of the file, ``sample`` (its first bytes) then the rest of ``stream``.
        Closes ``owned`` when done, even if the caller stops early."""
        try:
            cut = self.reader._parser.cut
            record = self._record
            local_get = self._local.get
            comp_ids_match = match_comp_ids
            info: _Info
            new_tuple = tuple.__new__
            name = self.name
            quickfix = self.fmt.prefix == "quickfix"
            delimiter = self.fmt.delimiter
            convert = delimiter != b"\x01"
            pending: _Pending | None = None
            carry = b""
            out: list[LogRecord] = []
            try:
                for piece in _pieces(sample, stream, self):
                    newline = piece.endswith(b"\n")
                    if carry:
                        piece = carry + piece
                        carry = b""
                    if convert:
                        if delimiter == b"^A" and not newline and piece.endswith(b"^"):
                            carry = b"^"  # "^A" split between two pieces
                            piece = piece[:-1]
                        piece = piece.replace(delimiter, b"\x01")
                    # fast path: one whole message on a line of its own, nothing left open
                    if pending is None and newline:
                        i = piece.find(_START)
                        if i >= 0:
                            result, end = cut(piece, i, final=False)
                            if type(result) is FixMessage and (
                                len(piece) - end <= 2 or piece.find(_START, end) < 0
                            ):
                                if quickfix and i:
                                    time_text = piece[:i].rstrip(b": \t").decode("latin-1") or None
                                    if len(piece) - end > 2:
                                        self._tail(piece, end)
                                    # hottest path, inlined: a good message of a session already seen
                                    good = result.checksum_ok and result.body_length_ok
                                    ids = comp_ids_match(result.raw) if good else None
                                    hit = (
                                        None
                                        if ids is None
                                        else local_get((result.begin_string, ids[1], ids[2]))
                                    )
                                    if hit is not None:
                                        entry, direction = hit
                                        entry.count += 1
                                        if time_text is not None:
                                            if entry.first_time is None:
                                                entry.first_time = time_text
                                            entry.last_time = time_text
                                        yield new_tuple(
                                            LogRecord,
                                            (result, name, self.line, time_text, direction, entry.session,
                                             entry.sender, entry.target),
                                        )  # fmt: skip
                                        self.line += 1
                                        continue
                                    info = (time_text, None, None)
                                elif i:
                                    info = self._prefix_info(piece[:i])
                                elif self.context is not None:
                                    info, self.context = self.context, None
                                else:
                                    info = _NO_INFO
                                if len(piece) - end > 2 and not (quickfix and i):
                                    self._tail(piece, end)
                                yield record(result, self.line, info)
                                self.line += 1
                                continue
                    # everything else: partial lines, several messages, continuations, errors
                    if pending is not None:
                        if pending.size_cut or (
                            pending.joins < _MAX_JOINED_LINES
                            and piece.strip()
                            and (piece.find(_START) < 0 or self._ends_here(pending, piece))
                        ):
                            buf = pending.buf + piece
                            joined = pending._replace(marks=(*pending.marks, (len(pending.buf), self.line)))
                            pending = self._scan(buf, out, first=joined, final=False, size_cut=not newline)
                        else:
                            self._scan(
                                pending.buf, out, first=pending, final=True, size_cut=False, cut_short=True
                            )
                            pending = self._scan(piece, out, first=None, final=False, size_cut=not newline)
                    else:
                        pending = self._scan(piece, out, first=None, final=False, size_cut=not newline)
                    if pending is None and not newline and not carry:
                        carry = _partial_start(piece)  # "8=FI" cut at the piece end: look again with more
                    if out:
                        yield from out
                        out.clear()
                    if newline:
                        self.line += 1
            except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip, read error
                self.stream_error(exc)
            if pending is not None:
                self._scan(pending.buf, out, first=pending, final=True, size_cut=False)
                yield from out
        finally:
            if owned is not None:
                owned.close()

    def _ends_here(self, pending: _Pending, piece: bytes) -> bool:
        """Does the open message end, exactly where its BodyLength says, within ``piece``?
        (A data field with a newline in a raw stream: the next message follows on the same line.)"""
        result, _ = self.reader._parser.cut(pending.buf + piece, 0, final=False)
        return type(result) is FixMessage and result.body_length_ok

    def _tail(self, piece: bytes, end: int) -> None:
        # after the message only the newline, a ")" of a screen log, or spaces are expected
        rest = piece[end:].strip(b" \t\r\n)")
        if rest and _FIXISH.search(rest):
            self.reader.report(self.name, self.line, "FIX fields after the message's CheckSum", "garbage")

    def _scan(
        self,
        buf: bytes,
        out: list[LogRecord],
        *,
        first: _Pending | None,
        final: bool,
        size_cut: bool,
        cut_short: bool = False,
    ) -> _Pending | None:
        """Find every message in ``buf``; return what is left open at its end, if anything.

        ``first`` is the message left open before, now at ``buf[0]`` with more lines after it;
        its ``marks`` say on which line each part of ``buf`` began.
        """
        parser = self.reader._parser
        marks = first.marks if first is not None else ((0, self.line),)
        pos = 0
        n = len(buf)
        after_error = False
        while pos < n:
            i = buf.find(_START, pos)
            if i < 0:
                if not after_error:  # the rest of a reported bad message is not news
                    rest = buf[pos:]
                    self._non_message(rest, _line_at(marks, pos + len(rest) - len(rest.lstrip())))
                return None
            if first is not None and i == 0:
                line, info = first.line, first.info
            else:
                line = _line_at(marks, i)
                info = self._prefix_info(buf[pos:i]) if i > pos else _NO_INFO
            result, end = parser.cut(buf, i, final=final)
            if result is None:
                if n - i > parser.max_message_size:
                    self.reader.report(
                        self.name, line, "message larger than max_message_size", "MessageTooLargeError"
                    )
                    return None
                joins = first.joins + 1 if first is not None and i == 0 else 0
                later = tuple((o - i, ln) for o, ln in marks if o > i)
                return _Pending(buf[i:], line, info, joins, size_cut, ((0, line), *later))
            if isinstance(result, ParseError):
                resume = self._salvage(buf, i, line, info, out)
                if resume is not None:
                    pos, after_error = resume, False
                    continue
                detail = result.detail
                if cut_short and isinstance(result, TruncatedMessageError) and i == 0:
                    detail = "message cut short: no 10=NNN<SOH> trailer before the next message"
                self.reader.report(self.name, line, detail, type(result).__name__)
                after_error = True
            else:
                out.append(self._record(result, line, info))
                after_error = False
            pos = end
        return None

    def _salvage(self, buf: bytes, i: int, line: int,
                 info: tuple[str | None, str | None, tuple[str, str, str] | None],
                 out: list[LogRecord]) -> int | None:
        """A message the strict parser refused, read as pasted (salvage.py): the record is kept
        with its problems reported on its line; returns where to go on, or None."""
        ends = [e for e in (buf.find(b"\n", i), buf.find(_START, i + len(_START))) if e >= 0]
        end = min(ends) if ends else len(buf)
        found = salvage(buf[i:end])
        if found is None:
            return None
        for kind, text in found.problems:
            self.reader.report(self.name, line, f"{text}, MsgType {found.message.msg_type}", kind)
        self.reader.salvaged[self.name] = self.reader.salvaged.get(self.name, 0) + 1
        out.append(self._record(found.message, line, info))
        return end

    def _prefix_info(self, prefix: bytes) -> tuple[str | None, str | None, tuple[str, str, str] | None]:
        if self.fmt.prefix == "quickfix" and _QUICKFIX_LINE.match(prefix):
            return prefix.rstrip(b": \t").decode("latin-1"), None, None
        info = _generic_prefix(prefix)
        if self.context is not None and info[0] is None and info[1] is None:
            info, self.context = self.context, None
        return info

    def _non_message(self, text: bytes, line: int) -> None:
        """A line (or its rest) without 8=FIX: screen-log context, a corrupt message, or other text."""
        stripped = text.strip()
        if not stripped:
            return
        if stripped.startswith(b"<") and (b"incoming" in stripped or b"outgoing" in stripped):
            self.context = _generic_prefix(stripped)  # QuickFIX C++ screen log: message on next line
            return
        if _FIXISH.search(stripped):
            self.reader.report(self.name, line, "FIX fields without a BeginString(8=FIX) start", "garbage")

    # -- records and sessions ----------------------------------------------------------------------------
    def _record(
        self, message: FixMessage, line: int, info: tuple[str | None, str | None, tuple[str, str, str] | None]
    ) -> LogRecord:
        if message.skipped or not message.checksum_ok or not message.body_length_ok:
            self._flag(message, line)
        time_text, direction, sid = info
        ids = comp_id_bytes(message.raw)
        if ids is None:
            try:
                sender_s, target_s = message.comp_ids()
            except MalformedFieldError as exc:  # still a message: yield it, with the problem told
                self.reader.report(self.name, line, exc.detail, "MalformedFieldError")
                sender_s = target_s = None
            ids = ((sender_s or "").encode("latin-1"), (target_s or "").encode("latin-1"))
        key = (message.begin_string, ids[0], ids[1])
        hit = self._local.get(key)
        if hit is None:
            hit = self._new_entry(key, direction, sid)
        entry, file_direction = hit
        if direction is None:
            direction = file_direction
            if sid is not None:
                direction = _sid_direction(sid, key[0], entry.sender, entry.target)
        entry.count += 1
        if time_text is not None:
            if entry.first_time is None:
                entry.first_time = time_text
            entry.last_time = time_text
        return LogRecord(
            message, self.name, line, time_text, direction, entry.session, entry.sender, entry.target
        )

    def _flag(self, message: FixMessage, line: int) -> None:
        report = self.reader.report
        if message.skipped:
            report(self.name, line, f"{message.skipped} bytes of non-FIX data before the message", "garbage")
        raw = message.raw
        if not message.body_length_ok:
            body = raw.index(b"\x01", raw.index(b"\x019=") + 1) + 1
            actual = len(raw) - 7 - body
            report(
                self.name,
                line,
                f"BodyLength(9) is {message.body_length}, actual {actual}, MsgType {message.msg_type}",
                "body-length",
            )
        if not message.checksum_ok:
            computed = checksum(memoryview(raw)[:-7])
            report(
                self.name,
                line,
                f"CheckSum(10) {message.checksum:03d}, computed {computed:03d}, MsgType {message.msg_type}",
                "checksum",
            )

    def _new_entry(
        self, key: tuple[str, bytes, bytes], direction: str | None, sid: tuple[str, str, str] | None
    ) -> tuple[_Entry, str | None]:
        begin = key[0]
        sender = key[1].decode("latin-1")
        target = key[2].decode("latin-1")
        file_direction = None
        if self.file_owner is not None and self.file_owner[0] == begin:
            rest = self.file_owner[1]
            if rest == f"{sender}-{target}" or rest.startswith(f"{sender}-{target}-"):
                file_direction = "out"
            elif rest == f"{target}-{sender}" or rest.startswith(f"{target}-{sender}-"):
                file_direction = "in"
        if direction is None:
            direction = file_direction
            if sid is not None:
                direction = _sid_direction(sid, begin, sender, target)
        entry = self.reader._entry(begin, sender, target, direction)
        entry.files.add(self.name)
        hit = (entry, file_direction)
        self._local[key] = hit
        return hit


def _sid_direction(sid: tuple[str, str, str], begin: str, sender: str, target: str) -> str | None:
    """Direction from a QuickFIX session ID ``BEGIN:LOCAL->REMOTE`` printed beside the message."""
    if sid[0] != begin:
        return None
    if (sid[1], sid[2]) == (sender, target):
        return "out"
    if (sid[1], sid[2]) == (target, sender):
        return "in"
    return None


def _line_at(marks: tuple[tuple[int, int], ...], pos: int) -> int:
    line = marks[0][1]
    for offset, number in marks:
        if offset > pos:
            break
        line = number
    return line


def _partial_start(piece: bytes) -> bytes:
    """The end of ``piece`` if it is the beginning of ``8=FIX`` (which the next piece may finish)."""
    for k in range(len(_START) - 1, 0, -1):
        if piece.endswith(_START[:k]):
            return piece[-k:]
    return b""


# -- conveniences -------------------------------------------------------------------------------------
def read_log(
    path: str | os.PathLike[str],
    *,
    format: str = "auto",
    problems: list[LogProblem] | None = None,
) -> Iterator[LogRecord]:
    """Records of one log; problems are appended to ``problems`` if given."""
    reader = LogReader([path], format=format, on_problem=None if problems is None else problems.append)
    yield from reader


def group_sessions(records: Iterable[LogRecord]) -> dict[SessionKey, list[LogRecord]]:
    """Records per session, in log order (holds every record: for replay, not for huge logs)."""
    groups: dict[SessionKey, list[LogRecord]] = {}
    for record in records:
        groups.setdefault(record.session, []).append(record)
    return groups
