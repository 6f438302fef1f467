"""Verdicts on suite steps from a recorded session log alone (the partner's engine log or ours).

A log proves what the partner did *when the stimulus is in the log*: it answered each TestRequest,
asked for each gap, resent with PossDup, ignored a duplicate, logged out on a too-low MsgSeqNum,
answered a Logout, kept its heartbeat interval. When the stimulus is absent the step is
``needs-live`` (it can only be judged in a live certification session); steps without a log rule
(prompted order handling) are ``needs-live`` too. Free of I/O: takes records, returns verdicts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.cert.orderchecks import OrderFlowChecker
from gateway.cert.suite import Suite
from gateway.harness.codec import FixMessage

__all__ = ["LogEvent", "LogVerdict", "judge_log"]


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One message of the log, seen from the partner: ``from_partner`` or from its counterparty."""

    index: int
    time: datetime | None
    from_partner: bool
    message: FixMessage
    gap: bool = False        # counterparty message whose MsgSeqNum was above the expected one
    too_low: bool = False    # counterparty message below the expected one without PossDup
    duplicate: bool = False  # counterparty PossDup message with an already-seen MsgSeqNum


@dataclass(frozen=True, slots=True)
class LogVerdict:
    step_id: str
    title: str
    status: str          # passed | failed | needs-live
    reason: str


def _int(m: FixMessage, tag: int, default: int = 0) -> int:
    try:
        return int(m.get(tag) or default)
    except ValueError:
        return default


def annotate(events: Sequence[tuple[datetime | None, bool, FixMessage]]) -> list[LogEvent]:
    """Follow the counterparty's MsgSeqNum as the partner's engine saw it."""
    out: list[LogEvent] = []
    expected = 1
    seen: set[int] = set()
    for index, (time, from_partner, m) in enumerate(events):
        if from_partner:
            out.append(LogEvent(index, time, True, m))
            continue
        seq = _int(m, 34)
        if m.msg_type == "A" and m.get(141) == "Y":
            expected, seen = 1, set()
        gap = too_low = duplicate = False
        if not m.checksum_ok:
            out.append(LogEvent(index, time, False, m))
            continue
        if m.msg_type == "4" and m.get(123) != "Y":
            expected = _int(m, 36, expected)
        elif seq < expected:
            duplicate = m.get(43) == "Y"
            too_low = not duplicate
        else:
            gap = seq > expected and m.msg_type != "A"
            expected = seq + 1 if m.msg_type != "4" else _int(m, 36, seq + 1)
            seen.add(seq)
        out.append(LogEvent(index, time, False, m, gap, too_low, duplicate))
    return out


def _after(events: list[LogEvent], e: LogEvent, count: int = 20) -> list[LogEvent]:
    return [x for x in events[e.index + 1:e.index + 1 + count] if x.from_partner]


def _until_next_logon(events: list[LogEvent], e: LogEvent) -> list[LogEvent]:
    """What follows ``e`` in the same connection: up to the next Logon. A Logout's answer may come
    after heartbeats or resends already in flight, so it is not looked for in a fixed window."""
    out = []
    for x in events[e.index + 1:]:
        if x.message.msg_type == "A":
            break
        out.append(x)
    return out


Rule = Callable[[list[LogEvent]], tuple[str, str]]


def _logon(ev: list[LogEvent]) -> tuple[str, str]:
    logons = [e for e in ev if e.from_partner and e.message.msg_type == "A"]
    if not logons:
        return "failed", "no Logon from the partner in the log"
    beat = _int(logons[0].message, 108, -1)
    if not 1 <= beat <= 60:
        return "failed", f"HeartBtInt(108) {beat} is not between 1 and 60"
    return "passed", f"Logon with HeartBtInt {beat}"


def _heartbeat(ev: list[LogEvent]) -> tuple[str, str]:
    logons = [e for e in ev if e.from_partner and e.message.msg_type == "A"]
    if not logons:
        return "needs-live", "no Logon in the log, so no agreed interval"
    beat = _int(logons[0].message, 108, 30)
    mine = [e for e in ev if e.from_partner and e.time is not None]
    if not any(e.message.msg_type == "0" and e.message.get(112) is None for e in mine):
        return "needs-live", "no idle Heartbeat in the log"
    worst = 0.0
    for a, b in itertools.pairwise(mine):
        if a.message.msg_type == "5" or b.message.msg_type == "A":
            continue     # the session was down between them
        assert a.time is not None and b.time is not None
        worst = max(worst, (b.time - a.time).total_seconds())
    if worst > beat * 1.5 + 1:
        return "failed", f"the partner was silent {worst:.1f}s with HeartBtInt {beat}"
    return "passed", f"longest silence {worst:.1f}s with HeartBtInt {beat}"


def _test_request(ev: list[LogEvent]) -> tuple[str, str]:
    requests = [e for e in ev if not e.from_partner and e.message.msg_type == "1" and not e.duplicate
                and not e.too_low and e.message.checksum_ok]
    if not requests:
        return "needs-live", "no TestRequest to the partner in the log"
    for r in requests:
        wanted = r.message.get(112)
        if not any(x.message.msg_type == "0" and x.message.get(112) == wanted for x in _after(ev, r)):
            return "failed", f"TestRequest {wanted!r} (log message {r.index + 1}) not answered"
    return "passed", f"{len(requests)} TestRequest(s) answered with their TestReqID"


def _gap(ev: list[LogEvent]) -> tuple[str, str]:
    gaps = [e for e in ev if e.gap]
    if not gaps:
        return "needs-live", "no sequence gap from the counterparty in the log"
    for g in gaps:
        if not any(x.message.msg_type == "2" for x in _after(ev, g, 6)):
            return "failed", f"gap at MsgSeqNum {g.message.get(34)} (log message {g.index + 1}) not asked for"
    return "passed", f"{len(gaps)} gap(s) answered with a ResendRequest"


def _resend(ev: list[LogEvent]) -> tuple[str, str]:
    asks = [e for e in ev if not e.from_partner and e.message.msg_type == "2"]
    if not asks:
        return "needs-live", "no ResendRequest to the partner in the log"
    for a in asks:
        answers = _after(ev, a, 10)
        # Heartbeats, Logon and the partner's own ResendRequest (both resyncing) may come first.
        first = next((x for x in answers
                      if x.message.msg_type not in ("0", "2", "A") or x.message.get(43) == "Y"), None)
        if first is None:
            return "failed", f"ResendRequest (log message {a.index + 1}) not answered"
        if first.message.get(43) != "Y":
            return "failed", (f"ResendRequest (log message {a.index + 1}) answered with MsgSeqNum "
                              f"{first.message.get(34)} without PossDupFlag(43)=Y")
    return "passed", f"{len(asks)} ResendRequest(s) answered with PossDup resends or GapFill"


def _possdup(ev: list[LogEvent]) -> tuple[str, str]:
    dups = [e for e in ev if e.duplicate and e.message.msg_type not in ("4",)]
    if not dups:
        return "needs-live", "no PossDup duplicate sent to the partner in the log"
    for d in dups:
        wanted = d.message.get(112)
        for x in _after(ev, d, 4):
            if x.message.msg_type in ("3", "5") or (wanted and x.message.get(112) == wanted):
                return "failed", f"the partner reacted to the duplicate (log message {d.index + 1})"
    return "passed", f"{len(dups)} duplicate(s) ignored"


def _no_logout_after(kind: Callable[[LogEvent], bool], what: str) -> Rule:
    def rule(ev: list[LogEvent]) -> tuple[str, str]:
        hits = [e for e in ev if not e.from_partner and kind(e)]
        if not hits:
            return "needs-live", f"no {what} in the log"
        for h in hits:
            if any(x.message.msg_type == "5" for x in _after(ev, h, 3)):
                return "failed", f"the partner logged out after the {what} (log message {h.index + 1})"
        return "passed", f"session carried on after {len(hits)} {what}(s)"
    return rule


def _too_low(ev: list[LogEvent]) -> tuple[str, str]:
    hits = [e for e in ev if e.too_low]
    if not hits:
        return "needs-live", "no too-low MsgSeqNum sent to the partner in the log"
    for h in hits:
        if not any(x.message.msg_type == "5" for x in _after(ev, h, 3)):
            return "failed", f"too-low MsgSeqNum (log message {h.index + 1}) did not end the session"
    return "passed", "the partner logged out on a too-low MsgSeqNum"


def _reconnect(ev: list[LogEvent]) -> tuple[str, str]:
    logons = [e for e in ev if e.from_partner and e.message.msg_type == "A"]
    if len(logons) < 2:
        return "needs-live", "a single Logon in the log"
    if logons[1].message.get(141) == "Y" or _int(logons[1].message, 34) <= _int(logons[0].message, 34):
        return "passed", "logged on again (sequence numbers reset)"
    return "passed", f"logged on again at MsgSeqNum {logons[1].message.get(34)}"


def _logout(ev: list[LogEvent]) -> tuple[str, str]:
    ours = [e for e in ev if not e.from_partner and e.message.msg_type == "5"
            and not any(x.message.msg_type == "5" for x in ev[max(0, e.index - 3):e.index] if x.from_partner)]
    if not ours:
        return "needs-live", "no Logout initiated by the counterparty in the log"
    for o in ours:
        if not any(x.from_partner and x.message.msg_type == "5" for x in _until_next_logon(ev, o)):
            return "failed", f"Logout (log message {o.index + 1}) not answered"
    return "passed", f"{len(ours)} Logout(s) answered"


def _orders(ev: list[LogEvent]) -> tuple[str, str]:
    checker = OrderFlowChecker()
    problems: list[str] = []
    for e in ev:
        if e.message.msg_type is None:
            continue
        if e.from_partner:
            problems += checker.from_partner(e.message.msg_type, e.message.fields)
        else:
            checker.from_plxtra(e.message.msg_type, e.message.fields)
    if not checker.seen:
        return "needs-live", "no orders in the log"
    if problems:
        return "failed", "; ".join(problems)
    return "passed", f"{len(checker.seen)} ClOrdIDs unique, OrigClOrdID chains correct"


RULES: dict[str, Rule] = {
    "logon": _logon, "heartbeat-idle": _heartbeat, "test-request": _test_request,
    "gap-detected": _gap, "resend-answered": _resend, "possdup-ignored": _possdup,
    "sequence-reset": _no_logout_after(lambda e: e.message.msg_type == "4" and e.message.get(123) != "Y",
                                       "SequenceReset-Reset"),
    "garbled-ignored": _no_logout_after(lambda e: not e.message.checksum_ok, "garbled message"),
    "reject-keeps-session": _no_logout_after(lambda e: e.message.msg_type == "3", "session Reject"),
    "too-low-seqnum": _too_low, "reconnect": _reconnect, "logout-answered": _logout,
    "unique-clordids": _orders,
}


def judge_log(suite: Suite, events: Sequence[tuple[datetime | None, bool, FixMessage]]) -> list[LogVerdict]:
    annotated = annotate(events)
    verdicts = []
    for step in suite.steps:
        rule = RULES.get(step.id)
        if rule is None:
            verdicts.append(LogVerdict(step.id, step.title, "needs-live",
                                       "needs a live session (the partner's reaction to Plxtra is prompted)"))
            continue
        status, reason = rule(annotated)
        verdicts.append(LogVerdict(step.id, step.title, status, reason))
    return verdicts
