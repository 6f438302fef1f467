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
from typing import Any

from prometheus_client import CollectorRegistry

from gateway import stages
from gateway.ops.metrics_fast import LoopHistogram

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

    def observe(self, stage: str, seconds: float) -> None:
        if seconds >= 0.0:   # only a clock oddity could do otherwise; not a duration
            self.labels(stage).observe(seconds)


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
                     timeout: float | None = None) -> None:
        asked = get_origin()
        started = clock()

        def answered(result: Any, error: Any) -> None:
            if histogram is not None:
                histogram.labels(controller, "ok" if error is None else "error").observe(clock() - started)
            # Timeouts and connection losses are not a read the gateway reacts to: not timed.
            if error is None or isinstance(error, ZenithRequestError):
                token = open_answer(asked)
                try:
                    on_answer(result, error)
                finally:
                    close_origin(token)
            else:
                on_answer(result, error)

        inner_send(controller, topic, data, answered, timeout)

    client.send_request = send_request
