"""The gateway-added latency histogram's feed: :mod:`gateway.stages` reports into :class:`StageTimes`.

:class:`StageTimes` is the gateway's ``gateway.stages.StageSink`` (set as ``stages.SINK`` in the
gateway's start task). :func:`time_answers` marks the answer of every Zenith call as the origin of
what its task does next; the Zenith client has no hook for it, so, as for the request timing of
``gateway.ops.runtime``, the instance's bound ``request`` is wrapped (the zenith part stays
untouched).
"""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import Histogram

from gateway import stages

__all__ = ["StageTimes", "time_answers"]


class StageTimes:
    """Observes stage durations into the ``stage`` children of one histogram (looked up once)."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._children: dict[str, Any] = {}
        self.zenith_read_ns = 0

    def observe(self, stage: str, seconds: float) -> None:
        child = self._children.get(stage)
        if child is None:
            child = self._children[stage] = self._histogram.labels(stage)
        if seconds >= 0.0:
            child.observe(seconds)


def time_answers(client: Any) -> None:
    """After each ``client.request`` returns or raises, the task's next steps answer that read."""
    inner = client.request

    async def request(*args: Any, **kwargs: Any) -> Any:
        try:
            return await inner(*args, **kwargs)
        finally:
            stages.answer_read(asyncio.get_running_loop().call_soon)

    client.request = request
