"""Prometheus metrics of one gateway, with the official ``prometheus_client``.

Counters and histograms are fed as things happen (the QuickFIX callbacks, on the loop thread, through
:mod:`gateway.ops.fixlog`, the loop for Zenith calls). Those updated on the order path are
:mod:`gateway.ops.metrics_fast`'s lock-free loop-thread metrics; the others (logons, rejects, admin
actions) are ``prometheus_client``'s, which are thread-safe. State that already lives elsewhere
(logon state, send backlog, Zenith connection, market-data queues) is read at scrape time by
:class:`_LiveCollector`, so it cannot drift.
Each gateway owns its own :class:`CollectorRegistry` (no process-global registry: tests run
several gateways in one process). Names follow Prometheus conventions: ``plxtra_`` prefix,
``_total`` counters, base units (seconds, bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.ops.metrics_fast import LoopCounter, LoopHistogram
from gateway.ops.metrics_stages import StageTimes

__all__ = ["CONTENT_TYPE", "METRIC_NAMES", "GatewayMetrics", "LiveSources"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Order answers and Zenith calls: sub-millisecond on loopback, seconds when Plxtra struggles.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The gateway's own part of an order's path: tens of microseconds to a few ms (targets: p50 300 us,
# p99 1 ms), fine enough below 1 ms for histogram_quantile to tell them apart.
_ADDED_BUCKETS = (0.00005, 0.0001, 0.00015, 0.0002, 0.00025, 0.0003, 0.0004, 0.0005, 0.00075, 0.001,
                  0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(slots=True)
class LiveSources:
    """Scrape-time readers handed in by the runtime (each returns plain values, never raises
    on purpose; a failing one is skipped for that scrape)."""

    logged_on: Callable[[], Iterable[tuple[str, bool]]] = lambda: ()
    backlog: Callable[[], Iterable[tuple[str, int]]] = lambda: ()
    zenith_connected: Callable[[], bool | None] = lambda: None
    zenith_reconnects: Callable[[], int | None] = lambda: None
    zenith_subscriptions: Callable[[], int | None] = lambda: None
    md_requests: Callable[[], Iterable[tuple[str, int]]] = lambda: ()
    md_conflations: Callable[[], Iterable[tuple[str, int]]] = lambda: ()
    disabled: Callable[[], Iterable[str]] = lambda: ()
    extra: list[Callable[[], Iterator[Metric]]] = field(default_factory=list)


class GatewayMetrics:
    """Every metric of the gateway; ``render()`` gives the Prometheus text exposition."""

    def __init__(self, sources: LiveSources | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sources = sources or LiveSources()
        r = self.registry
        ProcessCollector(registry=r)   # process_cpu_seconds_total, process_resident_memory_bytes, ...
        # The order path's metrics (every message, ER, order, Zenith call) are lock-free loop-thread
        # metrics (gateway.ops.metrics_fast); the rare ones stay prometheus_client's.
        self.messages = LoopCounter("plxtra_fix_messages",
                                    "FIX messages by session, direction and MsgType(35)",
                                    ["session", "direction", "msg_type"], registry=r)
        self.session_rejects = Counter("plxtra_fix_session_rejects", "Session-level Reject(35=3) messages",
                                       ["session", "direction"], registry=r)
        self.business_rejects = Counter("plxtra_fix_business_rejects",
                                        "BusinessMessageReject(35=j) messages", ["session", "direction"],
                                        registry=r)
        self.logons = Counter("plxtra_fix_logons", "Successful logons", ["session"], registry=r)
        self.logons_refused = Counter("plxtra_fix_logons_refused", "Refused logons by reason",
                                      ["session", "reason"], registry=r)
        self.disconnects = Counter("plxtra_fix_disconnects", "FIX connections ended", ["session"], registry=r)
        self.heartbeat_timeouts = Counter("plxtra_fix_heartbeat_timeouts",
                                          "Connections dropped for a missing heartbeat", ["session"],
                                          registry=r)
        self.sequence_resets = Counter("plxtra_fix_sequence_resets",
                                       "Sequence resets: SequenceReset(35=4), Logon 141=Y, operator resets",
                                       ["session", "kind"], registry=r)
        self.resend_requests = Counter("plxtra_fix_resend_requests", "ResendRequest(35=2) messages",
                                       ["session", "direction"], registry=r)
        self.orders = LoopCounter("plxtra_orders", "NewOrderSingle(35=D) by first answer",
                                  ["session", "outcome"], registry=r)
        self.execution_reports = LoopCounter("plxtra_fix_execution_reports",
                                             "ExecutionReports sent by ExecType(150)",
                                             ["session", "exec_type"], registry=r)
        self.order_first_answer = LoopHistogram("plxtra_order_first_answer_seconds",
                                                "From a NewOrderSingle received to its first answer sent",
                                                ["session"], buckets=_LATENCY_BUCKETS, registry=r)
        self.zenith_request = LoopHistogram("plxtra_zenith_request_duration_seconds",
                                            "Zenith request round trips by controller and outcome",
                                            ["controller", "outcome"], buckets=_LATENCY_BUCKETS, registry=r)
        # plxtra_fix_gateway_added_seconds{stage}: fed on the loop thread, several times per order
        self.stages = StageTimes(_ADDED_BUCKETS, registry=r)
        self.admin_actions = Counter("plxtra_admin_actions", "Admin API actions by action and result",
                                     ["action", "result"], registry=r)
        r.register(_LiveCollector(self.sources))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Gauges read from the running parts at scrape time."""

    def __init__(self, sources: LiveSources) -> None:
        self.sources = sources

    def describe(self) -> list[Metric]:
        return []   # dynamic: do not let the registry call collect() at registration

    def collect(self) -> Iterator[Metric]:
        s = self.sources
        yield from _guarded(lambda: _per_session(
            GaugeMetricFamily("plxtra_fix_session_logged_on", "1 while the session is logged on",
                              labels=["session"]), ((n, int(v)) for n, v in s.logged_on())))
        yield from _guarded(lambda: _per_session(
            GaugeMetricFamily("plxtra_fix_session_disabled", "1 while an operator disabled the session",
                              labels=["session"]), ((n, 1) for n in s.disabled())))
        yield from _guarded(lambda: _per_session(
            GaugeMetricFamily("plxtra_fix_outbound_backlog_messages",
                              "Messages queued for a session and not yet accepted by QuickFIX",
                              labels=["session"]), s.backlog()))
        yield from _guarded(lambda: _per_session(
            GaugeMetricFamily("plxtra_md_requests", "Active MarketDataRequests per session",
                              labels=["session"]), s.md_requests()))
        yield from _guarded(lambda: _per_session(
            GaugeMetricFamily("plxtra_md_conflations", "Market-data conflations of a session since its logon",
                              labels=["session"]), s.md_conflations()))
        connected = _safe(s.zenith_connected)
        if connected is not None:
            yield GaugeMetricFamily("plxtra_zenith_connected",
                                    "1 while connected and authenticated to Zenith", value=int(connected))
        reconnects = _safe(s.zenith_reconnects)
        if reconnects is not None:
            yield CounterMetricFamily("plxtra_zenith_reconnects", "Zenith reconnections", value=reconnects)
        subs = _safe(s.zenith_subscriptions)
        if subs is not None:
            yield GaugeMetricFamily("plxtra_zenith_subscriptions", "Zenith subscriptions held", value=subs)
        for extra in s.extra:
            yield from _guarded(extra)


def _per_session(family: GaugeMetricFamily, values: Iterable[tuple[str, int]]) -> Iterator[Metric]:
    for name, value in values:
        family.add_metric([name], value)
    yield family


def _guarded(make: Callable[[], Iterable[Metric]]) -> Iterator[Metric]:
    # A scrape must never fail because one part is stopping or not built yet.
    try:
        yield from list(make())
    except Exception:
        return


_T = TypeVar("_T")


def _safe(fn: Callable[[], _T]) -> _T | None:
    try:
        return fn()
    except Exception:
        return None


METRIC_NAMES = (
    "plxtra_fix_messages_total", "plxtra_fix_session_rejects_total", "plxtra_fix_business_rejects_total",
    "plxtra_fix_logons_total", "plxtra_fix_logons_refused_total", "plxtra_fix_disconnects_total",
    "plxtra_fix_heartbeat_timeouts_total", "plxtra_fix_sequence_resets_total",
    "plxtra_fix_resend_requests_total", "plxtra_orders_total", "plxtra_fix_execution_reports_total",
    "plxtra_order_first_answer_seconds", "plxtra_zenith_request_duration_seconds",
    "plxtra_fix_gateway_added_seconds", "plxtra_admin_actions_total", "plxtra_fix_session_logged_on",
    "plxtra_fix_session_disabled",
    "plxtra_fix_outbound_backlog_messages", "plxtra_md_requests", "plxtra_md_conflations",
    "plxtra_zenith_connected", "plxtra_zenith_reconnects_total", "plxtra_zenith_subscriptions",
    "process_cpu_seconds_total", "process_resident_memory_bytes",
)
