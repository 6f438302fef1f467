"""Request-to-answer latency from a log's own timestamps, per message pair. No I/O.

Pairs (request -> the answer that settles it), matched by the ID the answer echoes, within a session:

==========  ===================================================  ==================
pair        answer                                               matched on
==========  ===================================================  ==================
D -> 8      ExecutionReport New, Rejected (or an immediate fill)  ClOrdID(11)
F -> 8/9    ExecutionReport Canceled, or OrderCancelReject        ClOrdID(11)
G -> 8/9    ExecutionReport Replaced, or OrderCancelReject        ClOrdID(11)
V -> W/Y    MarketDataSnapshot, or MarketDataRequestReject        MDReqID(262)
1 -> 0      Heartbeat                                             TestReqID(112)
==========  ===================================================  ==================

Times are the log's timestamps (when the log's owner wrote the message); SendingTime(52) only when a
line has none. Percentiles come from :class:`~gateway.harness.analysis.fastpath.Quantiles` (within 2%,
constant memory); the slowest few answers are kept with where they are in the log.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from gateway.harness.analysis.fastpath import Clock, Quantiles, field_map, text
from gateway.harness.readers import LogRecord
from gateway.vocab.records import SessionKey

__all__ = ["PAIRS", "LatencyMonitor", "PairStats"]

# name -> (request MsgType, ID tag)
PAIRS: dict[str, tuple[str, bytes]] = {
    "D->8 New/Reject": ("D", b"11"),
    "F->8 Canceled/9": ("F", b"11"),
    "G->8 Replaced/9": ("G", b"11"),
    "V->W/Y": ("V", b"262"),
    "1->0 TestRequest": ("1", b"112"),
}
_BY_REQUEST = {msg_type: name for name, (msg_type, _) in PAIRS.items()}
# ExecType(150) -> the pair an ExecutionReport answers
_ER_ANSWERS = {
    b"0": "D->8 New/Reject",
    b"8": "D->8 New/Reject",
    b"F": "D->8 New/Reject",
    b"1": "D->8 New/Reject",
    b"2": "D->8 New/Reject",
    b"4": "F->8 Canceled/9",
    b"5": "G->8 Replaced/9",
}
_SLOWEST = 5


@dataclass(slots=True)
class PairStats:
    name: str
    latencies: Quantiles = field(default_factory=Quantiles)
    unanswered: int = 0
    untimed: int = 0  # answered, but one of the two lines has no time
    negative: int = 0  # answered "before" the request: logs of two machines whose clocks disagree
    slowest: list[tuple[float, str, str]] = field(default_factory=list)  # heap of (seconds, id, where)

    def add(self, seconds: float, ident: str, where: str) -> None:
        self.latencies.add(seconds)
        item = (seconds, ident, where)
        if len(self.slowest) < _SLOWEST:
            heapq.heappush(self.slowest, item)
        elif seconds > self.slowest[0][0]:
            heapq.heapreplace(self.slowest, item)


class LatencyMonitor:
    """``feed`` every record in log order, ``finish()`` at the end, then read ``pairs``."""

    def __init__(self) -> None:
        self.pairs: dict[str, PairStats] = {name: PairStats(name) for name in PAIRS}
        self._pending: dict[tuple[SessionKey, str, bytes], tuple[float | None, str]] = {}
        self._clock = Clock()

    def feed(self, record: LogRecord) -> None:
        msg_type = record.message.msg_type
        request = _BY_REQUEST.get(msg_type)
        if request is None and msg_type not in ("8", "9", "W", "Y", "0"):
            return
        if msg_type == "0" and record.message.raw.find(b"\x01112=") < 0:
            return
        f = field_map(record.message)
        t = self._clock.seconds(record.time_text) if record.time_text else self._clock.seconds(f.get(b"52"))
        if request is not None:
            ident = f.get(PAIRS[request][1])
            if ident is not None and f.get(b"43") != b"Y":
                key = (record.session, request, ident)
                if key not in self._pending:
                    self._pending[key] = (t, f"{record.file}:{record.line}")
            return
        if msg_type == "8":
            name = _ER_ANSWERS.get(f.get(b"150") or b"")
            if name is None:
                return
            ident = f.get(b"11")
            if name == "D->8 New/Reject" and f.get(b"150") == b"8":
                # a rejected replace or cancel is reported with ExecType Rejected in FIX 4.2 style
                for other in ("D->8 New/Reject", "G->8 Replaced/9", "F->8 Canceled/9"):
                    if (record.session, other, ident) in self._pending:
                        name = other
                        break
            self._answer(record, name, ident, t)
        elif msg_type == "9":
            ident = f.get(b"11")
            name = "G->8 Replaced/9" if f.get(b"434") == b"2" else "F->8 Canceled/9"
            if (record.session, name, ident) not in self._pending:
                name = "F->8 Canceled/9" if name == "G->8 Replaced/9" else "G->8 Replaced/9"
            self._answer(record, name, ident, t)
        elif msg_type in ("W", "Y"):
            self._answer(record, "V->W/Y", f.get(b"262"), t)
        else:
            self._answer(record, "1->0 TestRequest", f.get(b"112"), t)

    def _answer(self, record: LogRecord, name: str, ident: bytes | None, t: float | None) -> None:
        if ident is None:
            return
        pending = self._pending.pop((record.session, name, ident), None)
        if pending is None:
            return
        stats = self.pairs[name]
        sent_at, where = pending
        if sent_at is None or t is None:
            stats.untimed += 1
            return
        elapsed = t - sent_at
        if elapsed < 0:
            stats.negative += 1  # counted, and shown as 0 in the percentiles
            elapsed = 0.0
        stats.add(elapsed, text(ident) or "", f"{where} -> {record.file}:{record.line}")

    def finish(self) -> None:
        for _session, name, _ident in self._pending:
            self.pairs[name].unanswered += 1
        self._pending.clear()
