"""The gateway-added latency histogram: :mod:`gateway.stages` reports into :class:`StageTimes`.

:class:`StageTimes` is the gateway's ``gateway.stages.StageSink`` (set as ``stages.SINK`` in the
gateway's start task) and the collector of ``plxtra_fix_gateway_added_seconds{stage}``. It is fed
several times per order on the loop thread, so it is a :class:`gateway.ops.metrics_fast.LoopHistogram`
(no lock per observation).

:func:`time_answers` marks the answer of every Zenith call as the origin of what its task does
next, and times the call's round trip (``plxtra_zenith_request_duration_seconds``); the Zenith
client has no hook for it, so the instance's bound ``request`` and ``send_request`` are wrapped,
once for both metrics (the zenith part stays untouched).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from gateway import stages
from gateway.ops.metrics_fast import LoopHistogram

if TYPE_CHECKING:
    from gateway.ops.metrics_fast import _Buckets

__all__ = ["ADDED_NAME", "StageTimes", "time_answers"]

ADDED_NAME = "plxtra_fix_gateway_added_seconds"
_HELP = ("The gateway's own time on an order, per stage (gateway.stages): request = FIX request read -> "
         "Zenith request written; answer = Zenith answer read -> ExecutionReport handed to QuickFIX; "
         "request_answer = both, per order; update = Orders/Transactions update read -> reports handed; "
         "fix_answer = FIX request read -> answer handed without a Zenith call")


class StageTimes(LoopHistogram):
    """``plxtra_fix_gateway_added_seconds{stage}``, fed by :mod:`gateway.stages` (the gateway's sink)."""

    def __init__(self, buckets: Sequence[float], registry: CollectorRegistry | None = None) -> None:
        super().__init__(ADDED_NAME, _HELP, ["stage"], buckets, registry)
        self.zenith_read_ns = 0
        # stage -> its buckets: labels() builds its key with a generator per call, and the request
        # stage is observed on the order's critical path (before its leg's end)
        self._stages: dict[str, _Buckets] = {}

    def observe(self, stage: str, seconds: float) -> None:
        if seconds >= 0.0:   # only a clock oddity could do otherwise; not a duration
            child = self._stages.get(stage)
            if child is None:
                child = self._stages[stage] = self.labels(stage)
            child.observe(seconds)


def time_answers(client: Any, histogram: Any = None) -> None:
    """Wrap ``client``'s calls once for both of their metrics: each answer (``request`` returning or
    raising, ``send_request``'s callback) is marked as the origin of what the gateway does next
    (:mod:`gateway.stages`), and, with ``histogram`` (``plxtra_zenith_request_duration_seconds``,
    labels controller and outcome), each call's round trip is observed.

    One wrapper, not one per metric: ``send_request`` is on the order path (a closure, a clock
    read and a call less per request and per answer)."""
    # Here, not at module level: the Zenith package (websockets) is imported after the FIX
    # engine's build has started (start-up time); a client exists by now, so it is loaded.
    from gateway.zenith.errors import ZenithRequestError

    inner = client.request
    clock = time.perf_counter
    get_origin = stages.ORIGIN.get
    open_answer = stages.open_answer
    close_origin = stages.close_origin

    async def request(controller: str, topic: str, *args: Any, **kwargs: Any) -> Any:
        started = clock()
        outcome = "error"
        try:
            result = await inner(controller, topic, *args, **kwargs)
            outcome = "ok"
            return result
        finally:
            if histogram is not None:
                histogram.labels(controller, outcome).observe(clock() - started)
            stages.answer_read(asyncio.get_running_loop().call_soon)

    client.request = request
    inner_send = client.send_request

    def send_request(controller: str, topic: str, data: Any, on_answer: Callable[[Any, Any], None],
                     timeout: float | None = None, decode: Any = None) -> None:
        asked = get_origin()
        started = clock()

        def answered(result: Any, error: Any) -> None:
            took = clock() - started
            try:
                # Timeouts and connection losses are not a read the gateway reacts to: not timed.
                if error is None or isinstance(error, ZenithRequestError):
                    token = open_answer(asked)
                    try:
                        on_answer(result, error)
                    finally:
                        close_origin(token)
                else:
                    on_answer(result, error)
            finally:
                # After the answer's handling, whose ExecutionReport has left by now: the metric is
                # bookkeeping, off the D -> New path (its duration was read on arrival).
                if histogram is not None:
                    histogram.labels(controller, "ok" if error is None else "error").observe(took)

        if decode is None:
            inner_send(controller, topic, data, answered, timeout)
        else:
            inner_send(controller, topic, data, answered, timeout, decode=decode)

    client.send_request = send_request


# -- per-call stamps (bench only) -------------------------------------------------------------------
#
# ``PLXTRA_STAMPS=FILE`` (read by ``plxtra-fix run``): the functions of :data:`STAMPED` record a
# ``perf_counter_ns`` stamp on entry and on exit into preallocated arrays, dumped to FILE when the
# process ends; ``bench/order_roundtrip.py --stamps`` reads the dump and splits the D -> New
# critical path into what runs on it. Off (the default) nothing is wrapped: it costs nothing.

STAMPS_ENV = "PLXTRA_STAMPS"
STAMPED = (
    "selectors:EpollSelector.select",
    "asyncio.events:Handle._run",
    "gateway.fix.loop_driver:LoopDriver._poll",
    "gateway.fix.loop_driver:LoopDriver._sync",
    "gateway.fix.loop_driver:LoopDriver._run_after",
    "gateway.fix.loop_driver:LoopDriver._timeout",
    "gateway.ops.fixlog:_FileLog.onIncoming",
    "gateway.ops.fixlog:_FileLog.onOutgoing",
    "gateway.ops.fixlog:_FileLog.onEvent",
    "gateway.ops.fixlog:_TurnFlush.flush",
    "gateway.ops.events:SessionWatch.incoming",
    "gateway.ops.events:SessionWatch.outgoing",
    "gateway.fix.handoff:GatewayApplication.fromApp",
    "gateway.fix.handoff:GatewayApplication.toApp",
    "gateway.fix.handoff:GatewayApplication.fromAdmin",
    "gateway.fix.handoff:GatewayApplication.toAdmin",
    "gateway.fix.handoff:GatewayApplication._dispatch",
    "gateway.fix.handoff:QuickFixOutbox.send",
    "gateway.fix.handoff:QuickFixOutbox.flush",
    "gateway.fix.handoff:QuickFixOutbox._run_completions",
    "gateway.fix.handoff:to_quickfix",
    "gateway.fix.handoff:record_from_text",
    "gateway.store.inbound_journal:InboundJournal.append",
    "gateway.app.throttle:ThrottleGate.admit",
    "gateway.app.orders_service:OrdersService.on_message",
    "gateway.app.orders_service:OrdersService._feed",
    "gateway.app.orders_service:OrdersService._execute",
    "gateway.app.orders_service:OrdersService._record",
    "gateway.app.orders_service:OrdersService._send_call",
    "gateway.app.orders_service:OrdersService._answered",
    "gateway.app.orders_service:OrdersService._on_orders_event",
    "gateway.app.orders_service:OrdersService._on_tx_event",
    "gateway.app.orders_service:OrdersService._next_turn",
    "gateway.app.orders_service:_action_response",
    # The typed decoders the orders service hands the Zenith client (called from its receive).
    "gateway.app.orders_service:decode_action_answer",
    "gateway.app.orders_service:decode_orders_publish",
    "gateway.app.orders_delivery:Delivery.deliver",
    "gateway.app.orders_delivery:Delivery._send_batch",
    "gateway.app.orders_delivery:Delivery._on_sent",
    "gateway.app.orders_delivery:Delivery._flush",
    "gateway.app.timer_queue:TimerQueue._run",
    "gateway.bridge.orders.core:OrderCore.handle",
    "gateway.store.orders_store:Store.record_new_order",
    "gateway.store.orders_store:Store.apply",
    "gateway.store.orders_store:Store.flush",
    "gateway.store.orders_store:Store._commit_group",
    "gateway.store.orders_store:Store._end_turn",
    "gateway.store.orders_store:Store.commit_first",
    "gateway.store.orders_store:Store._apply_tick",
    "gateway.store.journal:Journal.write",
    "gateway.store.journal:Journal.write_frames",
    "gateway.zenith.client:ZenithClient.send_request",
    "gateway.zenith.client:ZenithClient._on_frame",
    "gateway.zenith.client:ZenithClient._deliver",
    "gateway.zenith.protocol:ZenithProtocol.receive",
    "gateway.zenith.protocol:ZenithProtocol.start_call",
    "gateway.zenith.transport:ZenithConnection.data_received",
    "gateway.zenith.transport:ZenithConnection.send_text_soon",
    "gateway.zenith.transport:ZenithConnection._write",
    "gateway.zenith.transport:ZenithConnection._flush",
    "gateway.zenith.transport:ZenithConnection.send_data",
    "gateway.zenith.records:OrderActionResponse.from_json",
    "gateway.zenith.records:Order.from_json",
    "gateway.ops.metrics_stages:StageTimes.observe",
    "gateway.stages:handed",
)


class Stamps:
    """Entry/exit stamps of wrapped functions: ``ids[i]`` is ``2 * function index`` (+1 on exit),
    ``times[i]`` its ``perf_counter_ns``. Recording stops when the arrays are full."""

    def __init__(self, capacity: int = 4_000_000) -> None:
        from array import array

        self.names: list[str] = []
        self.times = array("q", bytes(8 * capacity))
        self.ids = array("i", bytes(4 * capacity))
        self.count = 0
        self.capacity = capacity

    def wrap(self, target: str) -> bool:
        """Wrap ``module:Class.function`` or ``module:function`` (a function is wrapped in the module
        named, so name the module that calls it); False if it does not exist."""
        import functools
        import importlib

        module_name, _, path = target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            return False
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part, None)
            if owner is None:
                return False
        fn = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if fn is None or isinstance(fn, (staticmethod, classmethod, property)):
            return False
        enter = 2 * len(self.names)
        self.names.append(path)
        times, ids, limit, now = self.times, self.ids, self.capacity - 1, time.perf_counter_ns

        @functools.wraps(fn)
        def stamped(*args: Any, **kwargs: Any) -> Any:
            i = self.count
            if i < limit:
                ids[i] = enter
                times[i] = now()
                self.count = i + 1
            try:
                return fn(*args, **kwargs)
            finally:
                j = self.count
                if j < limit:
                    ids[j] = enter + 1
                    times[j] = now()
                    self.count = j + 1

        setattr(owner, name, stamped)
        return True

    def stamp_gc(self) -> None:
        """Stamp the cyclic garbage collector's runs too (``gc.collect``): they run inside whatever
        allocated last, often on the order path."""
        import gc

        enter = 2 * len(self.names)
        self.names.append("gc.collect")
        times, ids, limit, now = self.times, self.ids, self.capacity - 1, time.perf_counter_ns

        def stamped(phase: str, info: dict[str, int]) -> None:
            i = self.count
            if i < limit:
                ids[i] = enter if phase == "start" else enter + 1
                times[i] = now()
                self.count = i + 1

        gc.callbacks.append(stamped)

    def dump(self, path: str) -> None:
        """Names, one a line, then ``id time`` pairs."""
        with open(path, "w", encoding="utf-8") as out:
            out.write(f"{len(self.names)}\n")
            out.writelines(f"{n}\n" for n in self.names)
            ids, times = self.ids, self.times
            out.writelines(f"{ids[i]} {times[i]}\n" for i in range(self.count))


def install_stamps(path: str, targets: Sequence[str] = STAMPED) -> Stamps:
    """Wrap ``targets`` and dump their stamps to ``path`` at exit (bench only: ``PLXTRA_STAMPS``).
    Must run before the gateway is built, so that the objects it makes call the wrappers."""
    import atexit

    stamps = Stamps()
    stamps.stamp_gc()
    missing = [t for t in targets if not stamps.wrap(t)]
    if missing:
        import logging

        logging.getLogger("gateway.ops.metrics").warning("stamps: not found: %s", ", ".join(missing))
    atexit.register(stamps.dump, path)
    return stamps
