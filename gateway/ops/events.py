"""Session events for operators, read from what QuickFIX logs (runs inside QuickFIX's callbacks).

:class:`SessionWatch` is fed by :mod:`gateway.ops.fixlog` with every message in and out and
every QuickFIX event text, per session. It writes one line per session event to the gateway's
own log (logger ``gateway.session``): logon, logout with its reason, refused logon and why,
Reject sent/received (RefSeqNum, reason, Text), ResendRequest, SequenceReset, heartbeat timeout;
counts messages for :mod:`gateway.ops.metrics`; and remembers per session what the admin API
shows (remote address, last message in/out). Nothing here blocks or does I/O besides logging.
Secrets never reach the log: messages are masked before anything is quoted.

When: the QuickFIX log keeps each message and event with the time QuickFIX handed it over and
feeds them here at the end of the loop turn, in QuickFIX's order (``gateway.ops.fixlog``: off
the order's critical path), so :meth:`SessionWatch.incoming` and :meth:`SessionWatch.outgoing`
take that time (``at``) rather than reading the clock: last in/out and the D -> first answer
histogram are what they were when each message passed. :meth:`SessionWatch.info` first settles
the current turn (when asked on the loop), so the admin API sees it too.

Threads: messages in and out only pass through QuickFIX's polls, which run on the asyncio loop's
thread (``gateway.fix.loop_driver``), and are fed here from that thread's turn flush, so
:meth:`SessionWatch.incoming` and :meth:`SessionWatch.outgoing` take no lock: what they keep per
message (last in/out, pending orders, counters) is touched on that thread only (a worker's event
handled at once also hands over what its log still held: at a reload, rarely any). QuickFIX
*events* may still come from a worker thread while the engine is built, an initiator started or
an acceptor stopped at a reload (``gateway.app.runtime``); they update :class:`SessionInfo`
fields under the lock, and each of those updates is one assignment, which the loop thread's
readers see whole.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.ops.metrics import GatewayMetrics
from gateway.ops.metrics_fast import _Count as _LOOP_COUNT  # LoopCounter's child class

__all__ = ["SessionInfo", "SessionWatch", "fields_of"]

log = logging.getLogger("gateway.session")

_PENDING_ORDERS_MAX = 100_000   # D awaiting a first answer, bounded against a silent partner storm
_ANSWERS = frozenset(("8", "3", "j"))
# Counted and stamped only, nothing else to look for: heartbeats, TestRequests and market data
# (with 20 sessions the fan-out sends 20 W/X per Zenith event), either way.
_PLAIN_IN = frozenset(("0", "1", "W", "X", "V", "8"))
_PLAIN_OUT = frozenset(("0", "1", "W", "X"))
_CL_ORD_ID, _POSS_DUP, _SEQ, _EXEC_TYPE, _REF_SEQ, _REF_MSG_TYPE = (
    "\x0111=", "\x0143=", "\x0134=", "\x01150=", "\x0145=", "\x01372=")
_REJECT_REASONS = {
    "0": "invalid tag number", "1": "required tag missing", "2": "tag not defined for this message type",
    "3": "undefined tag", "4": "tag specified without a value", "5": "value is incorrect",
    "6": "incorrect data format", "9": "CompID problem", "10": "SendingTime accuracy problem",
    "11": "invalid MsgType", "13": "tag appears more than once", "14": "tag out of required order",
    "15": "repeating group fields out of order", "16": "incorrect NumInGroup count",
    "99": "other",
}
_ALLOWED = re.compile(r"Allows connections to the acceptor from (\S+)")
_DENIED = re.compile(r"Deny connections to the acceptor from (\S+)")
_CONNECTING = re.compile(r"Connecting to (\S+) on port (\d+)")
_SESSION_NOT_FOUND = "Session not found for incoming message: "
# QuickFIX C++ 1.16 drops a second connection to a logged-on session without a word
# (ThreadedSocketConnection::setSession); a QuickFIX patched to say so writes this GLOBAL event.
DUPLICATE_LOGON = "Session already logged on, connection refused: "


def fields_of(raw: str) -> dict[int, str]:
    """Tag -> value of a raw SOH message (first occurrence; repeating groups are not needed)."""
    out: dict[int, str] = {}
    for part in raw.split("\x01"):
        tag, sep, value = part.partition("=")
        if sep and tag.isdigit():
            out.setdefault(int(tag), value)
    return out


def _get(raw: str, needle: str) -> str | None:
    """The first value of the tag of ``needle`` (``"\\x0111="``) in a raw SOH message, without
    splitting the whole message."""
    start = raw.find(needle)
    if start < 0:
        return None
    start += len(needle)
    end = raw.find("\x01", start)
    return raw[start:end if end >= 0 else None]


def _msg_type(raw: str) -> str:
    start = raw.find("\x0135=")
    if start < 0:
        return "?"
    end = raw.find("\x01", start + 4)
    return raw[start + 4:end if end >= 0 else None]


@dataclass(slots=True)
class SessionInfo:
    """What the admin API shows of one session's connection (wall-clock UTC times)."""

    name: str
    remote_address: str | None = None
    last_in: datetime | None = None
    last_out: datetime | None = None
    last_in_type: str | None = None
    last_out_type: str | None = None
    last_logout_text: str | None = None
    last_refusal: str | None = None
    heartbeat_interval: int | None = None
    logons: int = 0
    sent_logon: bool = False      # our Logon went out on the current connection


class _Last:
    """When and which message last went in and out of one session (``time.time()``): a float per
    message; the admin API's datetimes are made when it asks (:meth:`SessionWatch.info`)."""

    __slots__ = ("in_at", "in_type", "out_at", "out_type")

    def __init__(self) -> None:
        self.in_at = 0.0
        self.in_type: str | None = None
        self.out_at = 0.0
        self.out_type: str | None = None


class SessionWatch:
    """Per-session observer of QuickFIX traffic; never raises into QuickFIX (threads: see the
    module's docstring)."""

    def __init__(self, names: dict[str, str], metrics: GatewayMetrics | None = None) -> None:
        """``names``: QuickFIX SessionID text (``FIX.4.4:PLXTRA->CLIENT1``) -> configured name."""
        self._names = dict(names)
        self._metrics = metrics
        self._lock = threading.Lock()
        self._info: dict[str, SessionInfo] = {n: SessionInfo(n) for n in self._names.values()}
        self._last: dict[str, _Last] = {}
        # (session, ClOrdID) and (session, "#MsgSeqNum") of each D -> (received, the twin key)
        self._pending_d: OrderedDict[tuple[str, str], tuple[float, tuple[str, str]]] = OrderedDict()
        self._counters: dict[tuple[object, ...], Any] = {}   # labelled children, looked up once
        # (session text, MsgType) -> (name, its _Last, its message counter or None), per direction:
        # one dict look-up per message instead of a name look-up, a labels() key and a lock.
        self._seen_in: dict[tuple[str, str], tuple[str, _Last, Any]] = {}
        self._seen_out: dict[tuple[str, str], tuple[str, _Last, Any]] = {}
        # Session text -> MsgType -> (_Last, counter): the short path of outgoing_for (W, X, 0, 1).
        self._fast_out: dict[str, dict[str, tuple[_Last, Any]]] = {}
        # What feeds this watch later than QuickFIX hands the text over (the QuickFIX log's turn
        # flush): run before a reader looks, so it sees the current turn (see info()).
        self._settle: list[Callable[[], None]] = []

    def add_settle(self, settle: Callable[[], None]) -> None:
        """``settle()`` hands over what its feeder holds (on the loop thread; elsewhere it does
        nothing): :meth:`info` calls it first."""
        self._settle.append(settle)

    def set_names(self, names: dict[str, str]) -> None:
        """After a reload: new sessions get an entry; removed ones keep theirs until restart."""
        with self._lock:
            self._names.update(names)
            self._seen_in.clear()
            self._seen_out.clear()
            for seen in self._fast_out.values():
                seen.clear()   # in place: the functions of outgoing_for hold these dicts
            for name in names.values():
                self._info.setdefault(name, SessionInfo(name))

    def name_of(self, session_text: str | None) -> str:
        if session_text is None:
            return "-"
        return self._names.get(session_text, session_text)

    def info(self, name: str) -> SessionInfo:
        for settle in self._settle:
            try:
                settle()
            except Exception:   # a reader gets what is there; the turn's flush comes anyway
                log.exception("session watch: settle before a read failed")
        with self._lock:
            found = self._info.get(name) or SessionInfo(name)
            copy = SessionInfo(**{k: getattr(found, k) for k in SessionInfo.__slots__})
        last = self._last.get(name)
        if last is not None:
            if last.in_type is not None:
                copy.last_in, copy.last_in_type = datetime.fromtimestamp(last.in_at, UTC), last.in_type
            if last.out_type is not None:
                copy.last_out, copy.last_out_type = datetime.fromtimestamp(last.out_at, UTC), last.out_type
        return copy

    # -- fed by the QuickFIX log (its callbacks) --------------------------------------------------

    def incoming(self, session_text: str, raw: str, at: float | None = None) -> None:
        """A message QuickFIX received, handed over at ``at`` (``time.time()``; now if None)."""
        if at is None:
            at = time.time()
        msg_type = _msg_type(raw)
        seen = self._seen_in.get((session_text, msg_type)) or self._seen(session_text, "in", msg_type)
        name, last, counter = seen
        if at >= last.in_at:
            last.in_at = at
            last.in_type = msg_type
        if counter is not None:
            counter.inc()
        if msg_type in _PLAIN_IN:
            return
        if msg_type == "D":
            self._order_received(name, raw, at)
            return
        self._admin_in(name, msg_type, raw)

    def outgoing(self, session_text: str, raw: str, at: float | None = None) -> None:
        """A message QuickFIX sent, handed over at ``at`` (``time.time()``; now if None)."""
        if at is None:
            at = time.time()
        msg_type = _msg_type(raw)
        seen = self._seen_out.get((session_text, msg_type)) or self._seen(session_text, "out", msg_type)
        name, last, counter = seen
        if at >= last.out_at:   # a quiet session stamps its W/X at once, the rest at the flush
            last.out_at = at
            last.out_type = msg_type
        if counter is not None:
            counter.inc()
        if msg_type in _PLAIN_OUT:
            return
        if msg_type in _ANSWERS:
            self._answer_sent(name, msg_type, raw, at)
            if msg_type == "8":
                return
        self._admin_out(name, msg_type, raw)

    def outgoing_for(self, session_text: str,
                     later: Callable[[str], None] | None = None) -> Callable[[str], None]:
        """:meth:`outgoing` for one session, as one function that never raises: what a quiet
        session's QuickFIX log calls straight from C++ (``gateway.ops.fixlog``), one Python frame
        per message sent instead of three. Heartbeats and market data (W/X, one per subscriber
        per update) are counted and stamped here; anything else goes to ``later`` (the log,
        which hands it to :meth:`outgoing` at its flush, in order with the session's events),
        or to :meth:`outgoing` at once without one, so the figures are the same either way."""
        seen = self._fast_out.setdefault(session_text, {})   # MsgType -> (its _Last, counter)
        clock = time.time
        outgoing = self.outgoing

        def out(raw: str) -> None:
            try:
                start = raw.find("\x0135=") + 4
                msg_type = raw[start:raw.find("\x01", start)] if start >= 4 else "?"
                entry = seen.get(msg_type)
                if entry is None:
                    if later is not None and msg_type not in _PLAIN_OUT:
                        later(raw)
                        return
                    outgoing(session_text, raw)
                    if msg_type in _PLAIN_OUT:
                        cached = self._seen_out.get((session_text, msg_type))
                        # Kept for the short path when its counter is a loop-thread child (a
                        # plain ``value``) or there is none; another kind keeps going through
                        # outgoing(), which calls its inc().
                        if cached is not None and (cached[2] is None or type(cached[2]) is _LOOP_COUNT):
                            seen[msg_type] = (cached[1], cached[2])
                    return
                last, count = entry
                last.out_at = clock()
                last.out_type = msg_type
                if count is not None:
                    count.value += 1.0   # the loop family's child itself: no inc() frame per copy
            except Exception:   # called by QuickFIX's C++: nothing may escape (Py_Exit)
                log.exception("session watch (outgoing) failed for %s", session_text)

        return out

    def _seen(self, session_text: str, direction: str, msg_type: str) -> tuple[str, _Last, Any]:
        """The cached entry of :meth:`incoming` / :meth:`outgoing`, made on first use."""
        name = self.name_of(session_text)
        with self._lock:
            self._info.setdefault(name, SessionInfo(name))
        last = self._last.get(name)
        if last is None:
            last = self._last[name] = _Last()
        counter = (self._child(self._metrics.messages, name, direction, msg_type)
                   if self._metrics is not None else None)
        entry = (name, last, counter)
        (self._seen_in if direction == "in" else self._seen_out)[(session_text, msg_type)] = entry
        return entry

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: labels() costs more than the increment."""
        key = (id(metric), *labels)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = metric.labels(*labels)
        return child

    def event(self, session_text: str | None, text: str) -> None:
        name = self.name_of(session_text)
        m = self._metrics
        if session_text is None:
            self._global_event(text)
            return
        if (found := _ALLOWED.match(text)) or (found := _CONNECTING.match(text)):
            address = found.group(1) if found.re is _ALLOWED else f"{found.group(1)}:{found.group(2)}"
            with self._lock:
                self._info.setdefault(name, SessionInfo(name)).remote_address = address
            return
        if found := _DENIED.match(text):
            self._refused(name, "address", f"connection from {found.group(1)} not allowed")
        elif text == "Timed out waiting for heartbeat":
            log.warning("session %s: heartbeat timeout (no message within the heartbeat interval and "
                        "no answer to our TestRequest): disconnecting", name)
            if m is not None:
                m.heartbeat_timeouts.labels(name).inc()
        elif text == "Session is not enabled for logon":
            self._refused(name, "disabled", "session not enabled for logon")
        elif text == "Received logon outside of valid logon time":
            self._refused(name, "schedule", "logon outside the session's schedule")
        elif text in ("Logon message is not valid", "Required field missing from logon"):
            self._refused(name, "invalid", text.lower())
        elif text == "Disconnecting":
            with self._lock:
                self._info.setdefault(name, SessionInfo(name)).sent_logon = False
            if m is not None:
                m.disconnects.labels(name).inc()
            log.info("session %s: disconnected", name)
        elif text.startswith("Timed out waiting for logon response") or text.startswith(
                "Timed out waiting for logout response"):
            log.warning("session %s: %s", name, text.lower())
        elif text.startswith("Logon contains ResetSeqNumFlag=Y"):
            if m is not None:
                m.sequence_resets.labels(name, "logon_141").inc()
            log.info("session %s: partner reset sequence numbers at logon (141=Y)", name)

    # -- details -----------------------------------------------------------------------------------

    def _global_event(self, text: str) -> None:
        if text.startswith(_SESSION_NOT_FOUND):
            fields = fields_of(text[len(_SESSION_NOT_FOUND):])
            who = f"{fields.get(8, '?')}:{fields.get(56, '?')}->{fields.get(49, '?')}"
            reason = "unknown session (BeginString/CompIDs not configured)"
            self._refused(who, "unknown_session", reason, known=False)
        elif text.startswith(DUPLICATE_LOGON):
            fields = fields_of(text[len(DUPLICATE_LOGON):])
            # The partner's Logon: its TargetCompID is our SenderCompID.
            name = self.name_of(f"{fields.get(8, '?')}:{fields.get(56, '?')}->{fields.get(49, '?')}")
            self._refused(name, "duplicate", "duplicate logon refused: session already logged on")

    def _refused(self, name: str, reason: str, text: str, *, known: bool = True) -> None:
        with self._lock:
            if known:
                self._info.setdefault(name, SessionInfo(name)).last_refusal = text
        if self._metrics is not None:
            self._metrics.logons_refused.labels(name if known else "unknown", reason).inc()
        log.warning("session %s: logon refused: %s", name, text)

    def _admin_in(self, name: str, msg_type: str, raw: str) -> None:
        fields = fields_of(raw)
        if msg_type == "A":
            with self._lock:
                info = self._info.setdefault(name, SessionInfo(name))
                hb = fields.get(108, "")
                info.heartbeat_interval = int(hb) if hb.isdigit() else info.heartbeat_interval
        elif msg_type == "5":
            text = fields.get(58, "")
            with self._lock:
                self._info.setdefault(name, SessionInfo(name)).last_logout_text = text or None
            log.info("session %s: Logout received%s", name, f": {text}" if text else " (no Text)")
        else:
            self._session_level(name, msg_type, fields, "in")

    def _admin_out(self, name: str, msg_type: str, raw: str) -> None:
        fields = fields_of(raw)
        m = self._metrics
        if msg_type == "A":
            with self._lock:
                info = self._info.setdefault(name, SessionInfo(name))
                info.logons += 1
                info.last_refusal = None
                info.sent_logon = True
            if m is not None:
                m.logons.labels(name).inc()
            log.info("session %s: logged on (HeartBtInt=%s%s)", name, fields.get(108),
                     ", sequence numbers reset" if fields.get(141) == "Y" else "")
        elif msg_type == "5":
            text = fields.get(58, "")
            with self._lock:
                info = self._info.setdefault(name, SessionInfo(name))
                info.last_logout_text = text or None
                refused = not info.sent_logon
            if refused:   # a Logout answering a Logon we never acknowledged: the logon was refused
                self._refused(name, _refusal_reason(text), text or "no reason given")
            log.info("session %s: Logout sent%s", name, f": {text}" if text else " (no Text)")
        else:
            self._session_level(name, msg_type, fields, "out")

    def _session_level(self, name: str, msg_type: str, fields: dict[int, str], direction: str) -> None:
        """Reject, BusinessMessageReject, ResendRequest and SequenceReset, either way: one metric and
        one line. A Reject we receive, and a ResendRequest we send (we saw a gap), say something is
        wrong on the wire, so they are warnings; so is a Reject we send."""
        m = self._metrics
        verb = "received" if direction == "in" else "sent"
        if msg_type == "3":
            if m is not None:
                m.session_rejects.labels(name, direction).inc()
            log.warning("session %s: Reject %s %s", name, verb, _describe_reject(fields))
        elif msg_type == "j":
            if m is not None:
                m.business_rejects.labels(name, direction).inc()
            log.log(logging.WARNING if direction == "in" else logging.INFO,
                    "session %s: BusinessMessageReject %s RefSeqNum=%s RefMsgType=%s Text=%r",
                    name, verb, fields.get(45), fields.get(372), fields.get(58, ""))
        elif msg_type == "2":
            if m is not None:
                m.resend_requests.labels(name, direction).inc()
            log.log(logging.INFO if direction == "in" else logging.WARNING,
                    "session %s: ResendRequest %s BeginSeqNo=%s EndSeqNo=%s%s", name, verb, fields.get(7),
                    fields.get(16), "" if direction == "in" else " (gap detected)")
        elif msg_type == "4":
            if m is not None:
                m.sequence_resets.labels(name, "gap_fill" if fields.get(123) == "Y" else "reset").inc()
            log.info("session %s: SequenceReset %s NewSeqNo=%s GapFill=%s", name, verb, fields.get(36),
                     fields.get(123, "N"))

    def _order_received(self, name: str, raw: str, now: float) -> None:
        cl_ord_id = _get(raw, _CL_ORD_ID)
        if cl_ord_id is None or _get(raw, _POSS_DUP) == "Y":   # a PossDup repeat is not a new order
            return
        by_id, by_seq = (name, cl_ord_id), (name, "#" + (_get(raw, _SEQ) or ""))
        pending = self._pending_d   # loop thread only (module docstring): no lock
        pending[by_id] = (now, by_seq)
        pending[by_seq] = (now, by_id)
        while len(pending) > _PENDING_ORDERS_MAX:
            pending.popitem(last=False)

    def _answer_sent(self, name: str, msg_type: str, raw: str, now: float) -> None:
        m = self._metrics
        if msg_type == "8":
            exec_type = _get(raw, _EXEC_TYPE) or "?"
            if m is not None:
                self._child(m.execution_reports, name, exec_type).inc()
            key = (name, _get(raw, _CL_ORD_ID) or "")
            outcome = "rejected" if exec_type == "8" else "accepted"
        else:   # 3 or j answering a D: matched by RefSeqNum
            if _get(raw, _REF_MSG_TYPE) not in (None, "D"):
                return
            key = (name, "#" + (_get(raw, _REF_SEQ) or ""))
            outcome = "session_rejected" if msg_type == "3" else "business_rejected"
        entry = self._pending_d.pop(key, None)
        if entry is None:
            return
        started, twin = entry
        self._pending_d.pop(twin, None)
        if m is not None:
            self._child(m.orders, name, outcome).inc()
            # Both times taken when QuickFIX handed the text over (time.time(): one clock read
            # per message serves the log line and this); a clock stepped back between them
            # counts as no time rather than a negative one.
            self._child(m.order_first_answer, name).observe(max(0.0, now - started))


def _describe_reject(fields: dict[int, str]) -> str:
    reason = fields.get(373)
    reason_text = f"{reason} ({_REJECT_REASONS.get(reason, 'other')})" if reason else "-"
    return (f"RefSeqNum={fields.get(45)} RefTagID={fields.get(371, '-')} RefMsgType={fields.get(372, '-')} "
            f"SessionRejectReason={reason_text} Text={fields.get(58, '')!r}")


def _refusal_reason(text: str) -> str:
    """A small, fixed set of metric labels from the refusal Text."""
    lowered = text.lower()
    for word, reason in (("password", "credentials"), ("username", "credentials"),
                         ("disabled", "disabled"), ("not ready", "not_ready"), ("zenith", "not_ready"),
                         ("resetseqnumflag", "reset_policy"), ("heartbtint", "invalid")):
        if word in lowered:
            return reason
    return "other"
