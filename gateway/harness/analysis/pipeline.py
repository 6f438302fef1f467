"""One pass over the inputs feeding the trackers a command needs. No printing.

Each tracker is fed every record in log order; ``finish`` is called once at the end. The pass is
the only loop over the records, so ``orders`` and ``sessions`` on a 1M-message log read it once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.harness.analysis.latency import LatencyMonitor
from gateway.harness.analysis.orders import Order, OrderBook
from gateway.harness.analysis.sessions import SessionEvent, SessionHealth, SessionMonitor
from gateway.harness.readers import LogRecord

__all__ = ["Analysis", "analyse"]


@dataclass(slots=True)
class Analysis:
    """What one pass found; a tracker left out is None."""

    orders: OrderBook | None = None
    sessions: SessionMonitor | None = None
    latency: LatencyMonitor | None = None
    messages: int = 0
    sources: list[str] = field(default_factory=list)


def analyse(
    records: Iterable[LogRecord],
    *,
    orders: bool = False,
    sessions: bool = False,
    latency: bool = False,
    keep_events: bool = False,
    on_order: Callable[[Order, str], None] | None = None,
    on_session_event: Callable[[SessionHealth, SessionEvent], None] | None = None,
    pause_gc: bool = True,
) -> Analysis:
    """Feed every record to the trackers asked for; ``finish`` them; return what they found.

    ``pause_gc``: the cyclic garbage collector is off during the pass. The pass makes no reference
    cycles (records, orders and sessions only point down), yet each full collection would walk every
    live order again: on bench/replay.py's log that costs a third of the time. Pass False for a pass
    that runs for hours (``--follow``), where a cycle made elsewhere should still be collected.
    """
    result = Analysis(
        OrderBook(keep_events=keep_events, on_change=on_order) if orders else None,
        SessionMonitor(on_event=on_session_event) if sessions else None,
        LatencyMonitor() if latency else None,
    )
    feeds = [t.feed for t in (result.orders, result.sessions, result.latency) if t is not None]
    count = 0
    paused = pause_gc and gc.isenabled()
    if paused:
        gc.disable()
    try:
        trackers = [t for t in (result.orders, result.sessions) if t is not None]
        if len(feeds) == 1 and trackers:  # the benchmarked case: the tracker's own loop
            count = trackers[0].feed_many(records)
        else:
            for record in records:
                for feed in feeds:
                    feed(record)
                count += 1
    finally:
        if paused:
            gc.enable()
    result.messages = count
    if result.sessions is not None:
        result.sessions.finish()
    if result.latency is not None:
        result.latency.finish()
    return result
