"""Session-layer health from a log: sequence gaps and how they were filled, resends, logons and
logouts, session Rejects, heartbeats and TestRequests, time skew. No I/O.

Feed every record to :meth:`SessionMonitor.feed` in log order, call :meth:`finish` at the end,
then read ``monitor.sessions``: per session, per side (the CompID that sent), the figures and a
list of :class:`SessionEvent` (what a support engineer looks for first). Rules, from FIX 4.4 Vol. 2
("Session Protocol"): MsgSeqNum(34) goes up by one per message of a side; a higher number is a gap,
which the receiver asks back with ResendRequest(2, BeginSeqNo 7 .. EndSeqNo 16, 0 = all), and the
sender fills by resending with PossDupFlag(43)=Y or by SequenceReset-GapFill(4, 123=Y, NewSeqNo 36);
a lower number without PossDupFlag is a fatal error; SequenceReset-Reset (no 123=Y) and Logon with
ResetSeqNumFlag(141)=Y start again. A side that sent nothing for HeartBtInt(108) seconds sends a
Heartbeat(0); a TestRequest(1, TestReqID 112) is answered by a Heartbeat carrying the same 112.

Memory grows with sessions, anomalies and the log's duration in seconds (the timeline), not with
the number of messages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.harness.analysis.fastpath import Clock, Quantiles, field_map, header_peek, text
from gateway.harness.readers import LogRecord
from gateway.vocab.records import SessionKey

__all__ = ["Gap", "SessionEvent", "SessionHealth", "SessionMonitor", "SideHealth"]

_ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})
MAX_EVENTS = 10_000  # per session: a pathological log must not eat memory with events
STORM_COUNT = 3  # ResendRequests from one side within STORM_WINDOW seconds make a storm
STORM_WINDOW = 10.0
DEFAULT_HEARTBEAT = 30


@dataclass(slots=True)
class SessionEvent:
    """Something a support engineer wants to see on the session's timeline."""

    time: float | None
    side: str  # the CompID that sent the message the event is about
    kind: str  # logon, logout, gap, resend-request, gap-fill, reset, reject, storm, test-request-missed,
    # seq-too-low, late-heartbeat
    text: str
    file: str = ""
    line: int = 0


@dataclass(slots=True)
class Gap:
    """MsgSeqNum ``first`` .. ``last`` of one side never arrived in order."""

    side: str
    first: int
    last: int
    time: float | None
    requested: bool = False  # the other side sent a ResendRequest covering it
    covered: list[tuple[int, int]] = field(default_factory=list)  # merged ranges resent or gap-filled
    how: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    @property
    def filled(self) -> int:
        return sum(
            min(hi, self.last) - max(lo, self.first) + 1
            for lo, hi in self.covered
            if hi >= self.first and lo <= self.last
        )

    def cover(self, lo: int, hi: int, how: str) -> None:
        if hi < self.first or lo > self.last:
            return
        self.how.append(how)
        ranges = sorted([*self.covered, (lo, hi)])
        merged: list[tuple[int, int]] = []
        for a, b in ranges:
            if merged and a <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.covered = merged


@dataclass(slots=True)
class SideHealth:
    """Figures for the messages one side (``sender``) of a session sent."""

    sender: str
    messages: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    next_seq: int | None = None
    gaps: list[Gap] = field(default_factory=list)
    seq_too_low: int = 0
    poss_dup: int = 0
    poss_resend: int = 0
    resend_requests: int = 0  # ResendRequests this side sent
    resend_ranges: list[tuple[int, int]] = field(default_factory=list)
    gap_fills: list[tuple[int, int]] = field(default_factory=list)  # GapFill ranges this side sent
    resets: int = 0
    logons: int = 0
    logouts: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    heart_bt_int: int | None = None  # from this side's Logon
    heartbeat_gaps: Quantiles = field(default_factory=Quantiles)  # silence before each own Heartbeat
    max_silence: float = 0.0
    late_heartbeats: int = 0
    test_requests: int = 0
    test_answers: Quantiles = field(default_factory=Quantiles)  # how fast the other side answered
    test_missed: int = 0
    skew_count: int = 0  # log time - SendingTime, over messages that are not resends
    skew_total: float = 0.0
    skew_min: float | None = None  # signed: log time - SendingTime
    skew_max: float | None = None
    last_time: float | None = None
    _resend_times: deque[float] = field(default_factory=lambda: deque(maxlen=STORM_COUNT))
    _storm_until: float = -1.0


@dataclass(slots=True)
class SessionHealth:
    session: SessionKey
    sides: dict[str, SideHealth] = field(default_factory=dict)
    events: list[SessionEvent] = field(default_factory=list)
    dropped_events: int = 0
    # epoch second -> [messages] (timeline); the current second's counter is kept at hand
    per_second: dict[int, list[int]] = field(default_factory=dict)
    second_start: float = -1.0
    second_count: list[int] = field(default_factory=lambda: [0])
    first_time: float | None = None
    last_time: float | None = None
    storms: int = 0
    # TestReqID -> (sent at, side that sent it, deadline)
    pending_tests: dict[str, tuple[float | None, str, float | None]] = field(default_factory=dict)

    def timeline(self) -> dict[int, int]:
        """Messages per epoch second."""
        return {second: count[0] for second, count in self.per_second.items()}

    @property
    def heart_bt_int(self) -> int:
        values = [s.heart_bt_int for s in self.sides.values() if s.heart_bt_int]
        return values[0] if values else DEFAULT_HEARTBEAT

    def gaps(self) -> list[Gap]:
        return [g for side in self.sides.values() for g in side.gaps]


class SessionMonitor:
    """Per-session health. ``feed`` each record in log order, ``finish()`` once at the end.

    ``on_event(session, event)`` is called as events are found (for ``--follow``).
    """

    def __init__(self, *, on_event: Callable[[SessionHealth, SessionEvent], None] | None = None) -> None:
        self.sessions: dict[SessionKey, SessionHealth] = {}
        self.on_event = on_event
        self._log_clock = Clock()
        self._sent_clock = Clock()
        self._sides: dict[tuple[int, str], tuple[SessionHealth, SideHealth]] = {}
        self._keys: list[SessionKey] = []  # keeps the keys whose id() is used above alive

    def _side(self, record: LogRecord) -> tuple[SessionHealth, SideHealth]:
        health = self.sessions.get(record.session)
        if health is None:
            health = self.sessions[record.session] = SessionHealth(record.session)
        side = health.sides.get(record.sender)
        if side is None:
            side = health.sides[record.sender] = SideHealth(record.sender)
        self._keys.append(record.session)
        found = self._sides[(id(record.session), record.sender)] = (health, side)
        return found

    def feed(self, record: LogRecord) -> None:
        self.feed_many((record,))

    def feed_many(self, records: Iterable[LogRecord]) -> int:
        """``feed`` every record, in a loop whose lookups are bound once; returns how many."""
        sides_get = self._sides.get
        log_seconds = self._log_clock.seconds
        sent_seconds = self._sent_clock.seconds
        peek = header_peek
        admin = _ADMIN
        count = 0
        for count, record in enumerate(records, 1):  # noqa: B007 (count is the result)
            message, _, _, time_text, _, session, sender, _ = record  # one unpack: cheaper than attributes
            # (id of the SessionKey, sender) -> (health, side): the readers share one SessionKey object
            # per session, so this skips hashing the dataclass on every message
            found = sides_get((id(session), sender))
            if found is None:
                found = self._side(record)
            health, side = found
            msg_type = message.msg_type
            seq, sent, poss_dup, poss_resend = peek(message)
            t_log = log_seconds(time_text) if time_text is not None else None
            t_sent: float | None
            if (
                t_log is not None
                and time_text is not None
                and sent is not None
                and len(sent) == len(time_text)
                and sent == time_text.encode()
            ):
                t_sent = t_log  # QuickFIX logs what it sends with the SendingTime it wrote: nothing to parse
            else:
                t_sent = sent_seconds(sent)
            t = t_log if t_log is not None else t_sent
            side.messages += 1
            by_type = side.by_type
            by_type[msg_type] = by_type.get(msg_type, 0) + 1
            if poss_dup:
                side.poss_dup += 1
            if poss_resend:
                side.poss_resend += 1
            if t is not None:
                if not health.second_start <= t < health.second_start + 1.0:
                    second = int(t)
                    health.second_start = float(second)
                    health.second_count = health.per_second.setdefault(second, [0])
                health.second_count[0] += 1
                if health.first_time is None:
                    health.first_time = t
                health.last_time = t
                if t_log is not None and t_sent is not None and not poss_dup:
                    skew = t_log - t_sent
                    side.skew_count += 1
                    side.skew_total += skew
                    if side.skew_min is None or skew < side.skew_min:
                        side.skew_min = skew
                    if side.skew_max is None or skew > side.skew_max:
                        side.skew_max = skew
                if health.pending_tests:
                    self._expire_tests(health, t, record)
            if msg_type in admin:
                self._admin(health, side, record, msg_type, seq, poss_dup, t)
            elif seq == side.next_seq:
                side.next_seq = seq + 1
            else:
                self._sequence(health, side, record, seq, poss_dup, t)
            if t is not None:
                last = side.last_time
                if last is not None and msg_type != "A":
                    silence = t - last
                    if silence > side.max_silence:
                        side.max_silence = silence
                side.last_time = t
        return count

    def finish(self) -> None:
        """The log has ended: TestRequests still unanswered past their deadline are missed."""
        for health in self.sessions.values():
            for test_id, (sent_at, sender, deadline) in list(health.pending_tests.items()):
                side = health.sides[sender]
                if deadline is not None and health.last_time is not None and health.last_time > deadline:
                    side.test_missed += 1
                    self._event(
                        health,
                        SessionEvent(
                            sent_at, sender, "test-request-missed", f"TestRequest {test_id} never answered"
                        ),
                    )
                else:
                    self._event(
                        health,
                        SessionEvent(
                            sent_at,
                            sender,
                            "test-request-open",
                            f"TestRequest {test_id} unanswered when the log ends",
                        ),
                    )
            health.pending_tests.clear()

    # -- sequence numbers ---------------------------------------------------------------------------------
    def _sequence(
        self,
        health: SessionHealth,
        side: SideHealth,
        record: LogRecord,
        seq: int,
        poss_dup: bool,
        t: float | None,
    ) -> None:
        if seq < 0:
            return
        expected = side.next_seq
        if expected is None or seq == expected:
            side.next_seq = seq + 1
            return
        if seq > expected:
            if poss_dup:
                side.next_seq = seq + 1
                return
            gap = Gap(side.sender, expected, seq - 1, t)
            side.gaps.append(gap)
            side.next_seq = seq + 1
            self._event(
                health,
                SessionEvent(
                    t,
                    side.sender,
                    "gap",
                    f"{side.sender} MsgSeqNum jumped from {expected - 1} to {seq}: "
                    f"{gap.first}..{gap.last} missing",
                    record.file,
                    record.line,
                ),
            )
            return
        if poss_dup:  # a resend of an earlier message: fills a gap
            for gap in side.gaps:
                gap.cover(seq, seq, f"{seq} resent (PossDup)")
            return
        side.seq_too_low += 1
        self._event(
            health,
            SessionEvent(
                t,
                side.sender,
                "seq-too-low",
                f"{side.sender} MsgSeqNum {seq} lower than expected {expected} without PossDupFlag",
                record.file,
                record.line,
            ),
        )

    def _admin(
        self,
        health: SessionHealth,
        side: SideHealth,
        record: LogRecord,
        msg_type: str,
        seq: int,
        poss_dup: bool,
        t: float | None,
    ) -> None:
        message = record.message
        if msg_type == "0":
            raw = message.raw
            if raw.find(b"\x01112=") >= 0:
                test_id = text(field_map(message).get(b"112")) or ""
                pending = health.pending_tests.pop(test_id, None)
                if pending is not None:
                    asker = health.sides[pending[1]]
                    if pending[0] is not None and t is not None:
                        asker.test_answers.add(t - pending[0])
            elif t is not None and side.last_time is not None:
                silence = t - side.last_time
                side.heartbeat_gaps.add(silence)
                interval = side.heart_bt_int or health.heart_bt_int
                if silence > interval + max(1.0, 0.2 * interval):
                    side.late_heartbeats += 1
                    self._event(
                        health,
                        SessionEvent(
                            t,
                            side.sender,
                            "late-heartbeat",
                            f"{side.sender} silent {silence:.1f}s before Heartbeat (HeartBtInt {interval})",
                            record.file,
                            record.line,
                        ),
                    )
            self._sequence(health, side, record, seq, poss_dup, t)
            return
        f = field_map(message)
        if msg_type == "A":
            side.logons += 1
            hb = f.get(b"108")
            if hb and hb.isdigit():
                side.heart_bt_int = int(hb)
            reset = f.get(b"141") == b"Y"
            if reset or seq == 1:
                side.next_seq = None  # counting starts again from this Logon
            detail = " with ResetSeqNumFlag" if reset else ""
            self._event(
                health,
                SessionEvent(
                    t,
                    side.sender,
                    "logon",
                    f"{side.sender} Logon seq {seq}{detail}, HeartBtInt {text(hb) or '-'}",
                    record.file,
                    record.line,
                ),
            )
            self._sequence(health, side, record, seq, poss_dup, t)
            side.last_time = None  # the silence before a Logon is not a heartbeat interval
        elif msg_type == "5":
            reason = text(f.get(b"58")) or "no reason given"
            side.logouts.append(reason)
            self._event(
                health,
                SessionEvent(
                    t, side.sender, "logout", f"{side.sender} Logout: {reason}", record.file, record.line
                ),
            )
            self._sequence(health, side, record, seq, poss_dup, t)
        elif msg_type == "2":
            begin = int(f.get(b"7") or 0)
            end = int(f.get(b"16") or 0)
            side.resend_requests += 1
            side.resend_ranges.append((begin, end))
            other = self._other(health, side)
            if other is not None:
                for gap in other.gaps:
                    if gap.last >= begin and (end == 0 or gap.first <= end):
                        gap.requested = True
            shown = "infinity" if end == 0 else str(end)
            self._event(
                health,
                SessionEvent(
                    t,
                    side.sender,
                    "resend-request",
                    f"{side.sender} ResendRequest {begin}..{shown}",
                    record.file,
                    record.line,
                ),
            )
            self._storm(health, side, t)
            self._sequence(health, side, record, seq, poss_dup, t)
        elif msg_type == "4":
            new_seq = int(f.get(b"36") or 0)
            if f.get(b"123") == b"Y":
                if new_seq > seq:
                    side.gap_fills.append((seq, new_seq - 1))
                    for gap in side.gaps:
                        gap.cover(seq, new_seq - 1, f"GapFill {seq}..{new_seq - 1}")
                self._event(
                    health,
                    SessionEvent(
                        t,
                        side.sender,
                        "gap-fill",
                        f"{side.sender} SequenceReset-GapFill {seq}..{new_seq - 1}",
                        record.file,
                        record.line,
                    ),
                )
                if poss_dup or (side.next_seq is not None and seq < side.next_seq):
                    # an answer to a ResendRequest: it fills, it does not move the count back
                    side.next_seq = max(new_seq, side.next_seq or 0)
                else:
                    self._sequence(health, side, record, seq, poss_dup, t)
                    side.next_seq = new_seq
            else:
                side.resets += 1
                side.next_seq = new_seq
                self._event(
                    health,
                    SessionEvent(
                        t,
                        side.sender,
                        "reset",
                        f"{side.sender} SequenceReset-Reset to {new_seq}",
                        record.file,
                        record.line,
                    ),
                )
        elif msg_type == "3":
            ref = text(f.get(b"45")) or "?"
            parts = [f"RefSeqNum {ref}"]
            for tag, name in ((b"371", "RefTagID"), (b"372", "RefMsgType"), (b"373", "SessionRejectReason")):
                if f.get(tag):
                    parts.append(f"{name} {text(f.get(tag))}")
            if f.get(b"58"):
                parts.append(text(f.get(b"58")) or "")
            reason = ", ".join(parts)
            side.rejects.append(reason)
            self._event(
                health,
                SessionEvent(
                    t, side.sender, "reject", f"{side.sender} Reject: {reason}", record.file, record.line
                ),
            )
            self._sequence(health, side, record, seq, poss_dup, t)
        elif msg_type == "1":
            side.test_requests += 1
            test_id = text(f.get(b"112")) or ""
            interval = health.heart_bt_int
            deadline = None if t is None else t + interval + max(1.0, 0.2 * interval)
            health.pending_tests[test_id] = (t, side.sender, deadline)
            self._sequence(health, side, record, seq, poss_dup, t)

    def _expire_tests(self, health: SessionHealth, now: float, record: LogRecord) -> None:
        for test_id, (sent_at, sender, deadline) in list(health.pending_tests.items()):
            if deadline is not None and now > deadline:
                del health.pending_tests[test_id]
                side = health.sides[sender]
                side.test_missed += 1
                waited = "" if sent_at is None else f" within {deadline - sent_at:.1f}s"
                self._event(
                    health,
                    SessionEvent(
                        sent_at,
                        sender,
                        "test-request-missed",
                        f"TestRequest {test_id} from {sender} not answered{waited}",
                        record.file,
                        record.line,
                    ),
                )

    def _storm(self, health: SessionHealth, side: SideHealth, t: float | None) -> None:
        if t is None:
            return
        times = side._resend_times
        times.append(t)
        if len(times) == STORM_COUNT and t - times[0] <= STORM_WINDOW and t > side._storm_until:
            health.storms += 1
            side._storm_until = t + STORM_WINDOW
            self._event(
                health,
                SessionEvent(
                    t,
                    side.sender,
                    "storm",
                    f"ResendRequest storm: {side.sender} sent {STORM_COUNT} "
                    f"ResendRequests within {t - times[0]:.1f}s",
                ),
            )
        elif t <= side._storm_until:
            side._storm_until = t + STORM_WINDOW  # still storming: one event per storm

    @staticmethod
    def _other(health: SessionHealth, side: SideHealth) -> SideHealth | None:
        return next((s for s in health.sides.values() if s is not side), None)

    def _event(self, health: SessionHealth, event: SessionEvent) -> None:
        if len(health.events) < MAX_EVENTS:
            health.events.append(event)
        else:
            health.dropped_events += 1
        if self.on_event is not None:
            self.on_event(health, event)
