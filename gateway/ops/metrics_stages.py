"""The gateway-added latency histogram: :mod:`gateway.stages` reports into :class:`StageTimes`.

:class:`StageTimes` is the gateway's ``gateway.stages.StageSink`` (set as ``stages.SINK`` in the
gateway's start task) and the collector of ``plxtra_fix_gateway_added_seconds{stage}``. It is fed
several times per order on the loop thread, so it keeps plain counts (a ``bisect`` and two
additions, no lock: ``prometheus_client``'s ``Histogram.observe`` takes a lock per value and cost
1.2% of the loop's CPU at max rate) and builds the histogram family at scrape time, which the
admin API does on the same loop.

:func:`time_answers` marks the answer of every Zenith call as the origin of what its task does
next; the Zenith client has no hook for it, so, as for the request timing of
``gateway.ops.runtime``, the instance's bound ``request`` is wrapped (the zenith part stays
untouched).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from gateway import stages

__all__ = ["ADDED_NAME", "StageTimes", "time_answers"]

ADDED_NAME = "plxtra_fix_gateway_added_seconds"
_HELP = ("The gateway's own time on an order, per stage (gateway.stages): request = FIX request read -> "
         "Zenith request written; answer = Zenith answer read -> ExecutionReport handed to QuickFIX; "
         "request_answer = both, per order; update = Orders/Transactions update read -> reports handed; "
         "fix_answer = FIX request read -> answer handed without a Zenith call")


class _Stage:
    __slots__ = ("counts", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size   # per bucket (not cumulative); the last one is +Inf
        self.total = 0.0


class StageTimes(Collector):
    """Per-stage bucket counts of the gateway-added latency, exposed as one histogram family."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = tuple(float(b) for b in buckets)
        self._stages: dict[str, _Stage] = {}
        self.zenith_read_ns = 0

    def observe(self, stage: str, seconds: float) -> None:
        if seconds < 0.0:   # only a clock oddity could do this; not a duration
            return
        entry = self._stages.get(stage)
        if entry is None:
            entry = self._stages[stage] = _Stage(len(self.bounds) + 1)
        entry.counts[bisect_left(self.bounds, seconds)] += 1   # le: a value on a bound counts there
        entry.total += seconds

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(ADDED_NAME, _HELP, labels=["stage"])]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(ADDED_NAME, _HELP, labels=["stage"])
        for name, entry in list(self._stages.items()):
            running = 0
            cumulative = []
            for bound, count in zip((*self.bounds, float("inf")), list(entry.counts), strict=True):
                running += count
                cumulative.append((floatToGoString(bound), running))
            family.add_metric([name], cumulative, entry.total)
        yield family


def time_answers(client: Any) -> None:
    """After each ``client.request`` returns or raises, the task's next steps answer that read."""
    inner = client.request

    async def request(*args: Any, **kwargs: Any) -> Any:
        try:
            return await inner(*args, **kwargs)
        finally:
            stages.answer_read(asyncio.get_running_loop().call_soon)

    client.request = request
