"""FIX session layer without I/O: sequence numbers, admin answers, resends (FIX Session Protocol, FIXT.1.1).

The harness must talk to *any* FIX engine, so it carries its own small session layer instead of
QuickFIX: it has to be able to misbehave on purpose (skip a MsgSeqNum, resend with PossDup, send
garbage) and to show every message that arrives, admin ones included.

Shape (as ``websockets``' protocol): the caller feeds bytes with :meth:`SessionProtocol.receive_data`,
then takes :meth:`events_received` (what arrived and what it meant) and :meth:`data_to_send` (bytes the
session layer wants on the wire: heartbeats, answers to TestRequest / ResendRequest, Logout replies).
Messages the caller sends go through :meth:`send`, which numbers and stamps them and keeps them for
resends. The caller owns the socket and the timers (:meth:`heartbeat_due`, :meth:`test_request_due`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.harness.codec import FixMessage, FixParser, encode
from gateway.harness.errors import ParseError
from gateway.vocab.times import utc_timestamp

__all__ = [
    "ADMIN_MSG_TYPES",
    "Field",
    "Received",
    "SentMessage",
    "SessionEvent",
    "SessionProblem",
    "SessionProtocol",
    "SessionSettings",
    "SessionState",
    "complete_raw",
    "format_utc",
]

Field = tuple[int, str]

# Session-level message types (FIX Session Protocol): never resent, gap-filled instead.
ADMIN_MSG_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})
# Header tags the layer writes itself; a caller's body must not carry them.
_MANAGED = frozenset({8, 9, 10, 34, 35, 49, 52, 56})
# Resend "to infinity": 0 since FIX 4.2, 999999 in FIX 4.0/4.1 engines that some firms still run.
_INFINITY = (0, 999999)


def format_utc(moment: datetime, *, millis: bool = True) -> str:
    """UTCTimestamp (FIX datatype) with milliseconds, e.g. ``20261125-22:01:02.345``."""
    return utc_timestamp(moment, 3 if millis else 0)


def complete_raw(text: str) -> bytes:
    """Hand-written message text (SOH-delimited) -> bytes, adding BodyLength(9) and CheckSum(10)
    only when the text has none, as QuickFIX's acceptance-test runner does (``Reflector.rb``
    ``fixify!``): a text that carries its own (wrong, misplaced) 9 or 10 keeps it, which is how
    garbled-message cases are written."""
    if not text.startswith("8=") or "\x01" not in text:
        return text.encode("latin-1")
    has_length = "\x019=" in text
    cut = text.index("\x01") + 1
    head, body = text[:cut], text[cut:]
    trailer = ""
    at = body.find("\x0110=")
    if at >= 0 and body.endswith("\x01"):
        # BodyLength counts the SOH before 10= (QuickFIX's script runner leaves it out; it never
        # matters there because its scripts that carry a 10 also carry a 9).
        body, trailer = body[:at + 1], body[at + 1:]
    elif body.startswith("10=") and body.endswith("\x01"):
        body, trailer = "", body
    length = "" if has_length else f"9={len(body.encode('latin-1'))}\x01"
    if not trailer:
        total = sum((head + length + body).encode("latin-1")) % 256
        trailer = f"10={total:03d}\x01"
    return (head + length + body + trailer).encode("latin-1")


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """One side's view of a FIX session. ``sender`` is us, ``target`` the peer."""

    begin_string: str
    sender: str
    target: str
    heartbeat: int = 30
    reset_seq_num: bool = True                 # send ResetSeqNumFlag(141)=Y on Logon
    username: str | None = None
    password: str | None = None
    default_appl_ver_id: str | None = None     # DefaultApplVerID(1137), FIXT.1.1 only; e.g. "9" (FIX50SP2)
    logon_fields: tuple[Field, ...] = ()       # extra Logon body fields
    header_fields: tuple[Field, ...] = ()      # extra header fields on every message (e.g. 50, 57)

    def __post_init__(self) -> None:
        if not self.begin_string.startswith("FIX"):
            raise ValueError(f"BeginString must start with FIX, got {self.begin_string!r}")
        if not self.sender or not self.target:
            raise ValueError("sender and target CompIDs are required")
        if self.heartbeat < 0:
            raise ValueError("heartbeat must be >= 0")

    def reversed(self) -> SessionSettings:
        """The peer's settings (used by tests and by the acceptor side of replay)."""
        return SessionSettings(self.begin_string, self.target, self.sender, self.heartbeat,
                               self.reset_seq_num, None, None, self.default_appl_ver_id)


class SessionState(enum.Enum):
    CONNECTED = "connected"          # TCP up, no Logon yet
    LOGON_SENT = "logon-sent"        # initiator waiting for the Logon answer
    ACTIVE = "active"
    LOGOUT_SENT = "logout-sent"
    CLOSED = "closed"                # Logout exchanged or session error: the caller closes TCP


@dataclass(frozen=True, slots=True)
class SentMessage:
    seq: int
    msg_type: str
    body: tuple[Field, ...]          # fields after the standard header, as the caller gave them
    sending_time: str
    raw: bytes

    def get(self, tag: int) -> str | None:
        if tag == 34:
            return str(self.seq)
        if tag == 35:
            return self.msg_type
        if tag == 52:
            return self.sending_time
        return next((v for t, v in self.body if t == tag), None)


@dataclass(frozen=True, slots=True)
class Received:
    """A message from the peer. ``duplicate``: a PossDup resend of a MsgSeqNum already seen.
    ``own_answer``: a Heartbeat answering a TestRequest the session layer itself sent (link
    check), which scenario steps must not mistake for the peer's own Heartbeat."""

    message: FixMessage
    seq: int | None
    duplicate: bool = False
    own_answer: bool = False


@dataclass(frozen=True, slots=True)
class SessionProblem:
    """Something the peer did wrong at session level (the caller decides whether it fails a test)."""

    text: str
    seq: int | None = None


SessionEvent = Received | SessionProblem


@dataclass(slots=True)
class _Counters:
    next_out: int = 1
    next_in: int = 1
    missing_in: set[int] = field(default_factory=set)  # gaps we asked to be resent
    seen_in: set[int] = field(default_factory=set)


class SessionProtocol:
    """Session state for one connection; see the module docstring for the calling pattern."""

    def __init__(self, settings: SessionSettings, *, initiator: bool,
                 clock: Callable[[], datetime] | None = None, auto_answer: bool = True) -> None:
        self.settings = settings
        self.initiator = initiator
        self.state = SessionState.CONNECTED
        self.auto_answer = auto_answer         # answer TestRequest / ResendRequest / Logout by ourselves
        self._clock = clock or (lambda: datetime.now(UTC))
        self._parser = FixParser()
        self._counters = _Counters()
        self._sent: dict[int, SentMessage] = {}
        self._out = bytearray()
        self._events: list[SessionEvent] = []
        self._test_request_pending: str | None = None
        self._own_test_req_ids: set[str] = set()   # TestReqIDs the session layer sent by itself
        self.last_sent: datetime = self._clock()
        self.last_received: datetime = self._clock()
        self.peer_logon: FixMessage | None = None
        self.logout_text: str | None = None

    def new_connection(self) -> None:
        """A new TCP connection of the same session: sequence numbers and sent messages stay
        (a persistent store), the parser, pending output and logon state start afresh."""
        self.state = SessionState.CONNECTED
        self._parser = FixParser()
        self._out = bytearray()
        self._test_request_pending = None
        self.peer_logon = None
        self.logout_text = None
        self.last_sent = self.last_received = self._clock()

    # ------------------------------------------------------------------ sequence numbers
    @property
    def next_out(self) -> int:
        return self._counters.next_out

    @property
    def next_in(self) -> int:
        return self._counters.next_in

    def set_next_out(self, seq: int) -> None:
        self._counters.next_out = seq

    def set_next_in(self, seq: int) -> None:
        self._counters.next_in = seq

    @property
    def sent(self) -> dict[int, SentMessage]:
        return self._sent

    # ------------------------------------------------------------------ output
    def data_to_send(self) -> bytes:
        """Bytes queued for the wire since the last call; the caller must write them in order."""
        data, self._out = bytes(self._out), bytearray()
        return data

    def events_received(self) -> list[SessionEvent]:
        events, self._events = self._events, []
        return events

    def send(self, msg_type: str, body: Iterable[Field] = (), *, seq: int | None = None,
             poss_dup: bool = False, orig_sending_time: str | None = None,
             header: Sequence[Field] = (), advance: bool = True) -> SentMessage:
        """Number, stamp and queue one message. ``seq`` forces a MsgSeqNum (misbehaviour or resend);
        ``advance=False`` leaves the outbound counter alone (a PossDup resend)."""
        body = tuple((int(t), str(v)) for t, v in body)
        bad = [t for t, _ in body if t in _MANAGED]
        if bad:
            raise ValueError(f"tags {bad} are written by the session layer, not the caller")
        number = self._counters.next_out if seq is None else seq
        now = format_utc(self._clock())
        fields: list[Field] = [(35, msg_type), (49, self.settings.sender), (56, self.settings.target),
                               (34, str(number))]
        if poss_dup:
            fields.append((43, "Y"))
        fields.append((52, now))
        if orig_sending_time is not None:
            fields.append((122, orig_sending_time))
        fields.extend(self.settings.header_fields)
        fields.extend(header)
        fields.extend(body)
        raw = encode(self.settings.begin_string, fields)
        sent = SentMessage(number, msg_type, body, now, raw)
        if not poss_dup:
            self._sent[number] = sent
        if advance and number >= self._counters.next_out:
            self._counters.next_out = number + 1
        self._out += raw
        self.last_sent = self._clock()
        return sent

    def send_raw(self, data: bytes, *, consumes_seq: bool = False) -> None:
        """Queue bytes as they are (garbled messages, wrong checksums...)."""
        self._out += data
        if consumes_seq:
            self._counters.next_out += 1
        self.last_sent = self._clock()

    def logon(self, *, reset: bool | None = None, extra: Sequence[Field] = ()) -> SentMessage:
        """Queue our Logon (initiator) with the settings' credentials and flags."""
        s = self.settings
        reset = s.reset_seq_num if reset is None else reset
        if reset:
            self._counters = _Counters()
            self._sent.clear()
        body: list[Field] = [(98, "0"), (108, str(s.heartbeat))]
        if reset:
            body.append((141, "Y"))
        if s.username is not None:
            body.append((553, s.username))
        if s.password is not None:
            body.append((554, s.password))
        if s.begin_string == "FIXT.1.1" and s.default_appl_ver_id:
            body.append((1137, s.default_appl_ver_id))
        body.extend(s.logon_fields)
        body.extend(extra)
        self.state = SessionState.LOGON_SENT
        return self.send("A", body)

    def logout(self, text: str | None = None) -> SentMessage:
        self.state = SessionState.LOGOUT_SENT
        return self.send("5", [(58, text)] if text else [])

    def heartbeat_due(self) -> bool:
        hb = self.settings.heartbeat
        return (hb > 0 and self.state is SessionState.ACTIVE
                and (self._clock() - self.last_sent).total_seconds() >= hb)

    def test_request_due(self) -> bool:
        """True when the peer has been silent for HeartBtInt plus a margin (FIX: "reasonable
        transmission time"); queues a TestRequest. A second silence means the link is dead:
        :attr:`peer_silent` tells the caller to drop it."""
        hb = self.settings.heartbeat
        if hb <= 0 or self.state is not SessionState.ACTIVE or self._test_request_pending:
            return False
        if (self._clock() - self.last_received).total_seconds() < hb * 1.2 + 1:
            return False
        self._test_request_pending = f"TEST-{format_utc(self._clock())}"
        self._own_test_req_ids.add(self._test_request_pending)
        self.send("1", [(112, self._test_request_pending)])
        return True

    @property
    def peer_silent(self) -> bool:
        hb = self.settings.heartbeat
        return (self._test_request_pending is not None
                and (self._clock() - self.last_received).total_seconds() >= hb * 2.4 + 2)

    # ------------------------------------------------------------------ input
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the socket; then read :meth:`events_received` and :meth:`data_to_send`."""
        self._parser.feed(data)
        for _ in range(1_000_000):  # bounded: a parser bug cannot spin us forever
            try:
                message = self._parser.next()
            except ParseError as exc:
                # FIX: garbled messages are ignored, not counted; the parser skipped the bytes.
                self._problem(f"garbled message ignored: {exc.detail} {exc.snippet!r}")
                continue
            if message is None:
                return
            self.last_received = self._clock()
            self._handle(message)

    def _problem(self, text: str, seq: int | None = None) -> None:
        self._events.append(SessionProblem(text, seq))

    def _handle(self, m: FixMessage) -> None:
        if not m.checksum_ok or not m.body_length_ok:
            # FIX: a garbled message is ignored (not counted); we still report it.
            self._problem(f"garbled message ignored (checksum_ok={m.checksum_ok}, "
                          f"body_length_ok={m.body_length_ok}): {m.raw[:80]!r}")
            return
        msg_type = m.msg_type
        if m.get(49) != self.settings.target or m.get(56) != self.settings.sender:
            self._problem(f"CompIDs {m.get(49)}->{m.get(56)} do not match session "
                          f"{self.settings.target}->{self.settings.sender}")
        seq_text = m.get(34)
        try:
            seq = int(seq_text) if seq_text is not None else None
        except ValueError:
            seq = None
        if seq is None:
            self._problem(f"MsgSeqNum(34) missing or not a number in {msg_type}", None)
            self._events.append(Received(m, None))
            return
        c = self._counters
        if msg_type == "A" and m.get(141) == "Y":
            c.next_in, c.missing_in, c.seen_in = 1, set(), set()
        if msg_type == "4" and m.get(123) != "Y":
            # SequenceReset-Reset: NewSeqNo wins whatever MsgSeqNum says (FIX Session Protocol).
            self._apply_new_seq_no(m, reset=True)
            self._events.append(Received(m, seq))
            return
        poss_dup = m.get(43) == "Y"
        if seq < c.next_in:
            if seq in c.seen_in or not poss_dup:
                if not poss_dup:
                    text = f"MsgSeqNum too low, expecting {c.next_in} but received {seq}"
                    self._problem(text, seq)
                    if self.auto_answer and self.state is not SessionState.CLOSED:
                        self.logout(text)
                        self.state = SessionState.CLOSED
                self._events.append(Received(m, seq, duplicate=True))
                return
            c.missing_in.discard(seq)          # a resend that fills our gap
        elif seq > c.next_in:
            missing = range(c.next_in, seq)
            self._problem(f"sequence gap: expected {c.next_in}, received {seq}", seq)
            c.missing_in.update(missing)
            first_missing = c.next_in
            c.next_in = seq + 1
            if msg_type == "A":
                # FIX: the Logon answer comes first, then the ResendRequest (test case 1S a.2);
                # an initiator drops a session whose first message is not a Logon.
                c.seen_in.add(seq)
                self._dispatch_admin(m, msg_type)
                if self.auto_answer:
                    self.send("2", [(7, str(first_missing)), (16, "0")])
                self._events.append(Received(m, seq))
                return
            if self.auto_answer and msg_type not in ("5",):
                self.send("2", [(7, str(first_missing)), (16, "0")])
        else:
            c.next_in = seq + 1
        c.seen_in.add(seq)
        self._dispatch_admin(m, msg_type)
        own = msg_type == "0" and m.get(112) in self._own_test_req_ids
        self._events.append(Received(m, seq, own_answer=own))

    def _apply_new_seq_no(self, m: FixMessage, *, reset: bool) -> None:
        try:
            new = int(m.get(36) or "")
        except ValueError:
            self._problem("SequenceReset without a numeric NewSeqNo(36)")
            return
        c = self._counters
        if new < c.next_in and reset:
            self._problem(f"SequenceReset NewSeqNo {new} lower than expected {c.next_in}")
        if new > c.next_in or reset:
            c.missing_in = {s for s in c.missing_in if s >= new}
            c.next_in = new

    def _dispatch_admin(self, m: FixMessage, msg_type: str) -> None:
        if msg_type == "A":
            self.peer_logon = m
            if self.state is SessionState.CONNECTED and self.auto_answer:
                self._answer_logon(m)
            self.state = SessionState.ACTIVE
        elif msg_type == "0":
            # Any Heartbeat proves the peer alive; the TestReqID echo is checked by scenarios.
            self._test_request_pending = None
        elif msg_type == "1" and self.auto_answer:
            self.send("0", [(112, m.get(112) or "")])
        elif msg_type == "2" and self.auto_answer:
            self._answer_resend(m)
        elif msg_type == "4":
            self._apply_new_seq_no(m, reset=False)
        elif msg_type == "5":
            self.logout_text = m.get(58)
            if self.state is not SessionState.LOGOUT_SENT and self.auto_answer:
                self.send("5", [])
            self.state = SessionState.CLOSED

    def _answer_logon(self, m: FixMessage) -> None:
        """Acceptor: echo the peer's HeartBtInt and reset flag (FIX: the Logon reply confirms them)."""
        body: list[Field] = [(98, "0"), (108, m.get(108) or str(self.settings.heartbeat))]
        if m.get(141) == "Y":
            self._counters.next_out = 1
            self._sent.clear()
            body.append((141, "Y"))
        if self.settings.begin_string == "FIXT.1.1":
            appl = m.get(1137) or self.settings.default_appl_ver_id
            if appl:
                body.append((1137, appl))
        self.send("A", body)

    def _answer_resend(self, m: FixMessage) -> None:
        """Resend app messages with PossDupFlag(43)=Y and OrigSendingTime(122); collapse admin ones
        (and anything we no longer hold) into SequenceReset-GapFill, as the FIX spec asks."""
        try:
            begin = int(m.get(7) or "")
            end = int(m.get(16) or "")
        except ValueError:
            self._problem("ResendRequest with non-numeric BeginSeqNo/EndSeqNo")
            return
        last = self._counters.next_out - 1
        if end in _INFINITY or end > last:
            end = last
        gap_start: int | None = None
        for number in range(begin, end + 1):
            original = self._sent.get(number)
            if original is None or original.msg_type in ADMIN_MSG_TYPES:
                if gap_start is None:
                    gap_start = number
                continue
            if gap_start is not None:
                self._gap_fill(gap_start, number)
                gap_start = None
            self.send(original.msg_type, original.body, seq=number, poss_dup=True,
                      orig_sending_time=original.sending_time, advance=False)
        if gap_start is not None:
            self._gap_fill(gap_start, end + 1)

    def _gap_fill(self, seq: int, new_seq_no: int) -> None:
        self.send("4", [(123, "Y"), (36, str(new_seq_no))], seq=seq, poss_dup=True,
                  orig_sending_time=format_utc(self._clock()), advance=False)
