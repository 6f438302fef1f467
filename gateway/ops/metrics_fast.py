"""Counters and histograms for the metrics fed on the order path, without a lock per update.

``prometheus_client``'s metrics take a lock for every ``inc``/``observe`` (and check observability,
and ``bisect`` in Python): on the order path, where every FIX message, every ExecutionReport and
every order stage updates one, that came to about 3% of the loop's CPU at max rate (py-spy). Since
the gateway has one thread for QuickFIX and the loop (ARCHITECTURE §2), the order path's metrics
are only updated on that thread, and the admin API reads them on the same loop: plain numbers do.
The families are built at scrape time and expose what ``prometheus_client``'s ``Counter`` and
``Histogram`` expose (names, ``_total``, buckets with ``le``, ``_sum``, ``_count``), without the
``_created`` samples.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["LoopCounter", "LoopHistogram"]


class _Count:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount


class _Buckets:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)   # per bucket, not cumulative; the last one is +Inf
        self.total = 0.0

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1   # le: a value on a bound counts there
        self.total += amount


class _Family(Collector):
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str],
                 registry: CollectorRegistry | None) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        if registry is not None:
            registry.register(self)

    def _key(self, values: tuple[object, ...]) -> tuple[str, ...]:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected, got {values!r}")
        return tuple(str(v) for v in values)


class LoopCounter(_Family):
    """``Counter(name, documentation, labelnames)`` for one thread: ``labels(...).inc()``."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (),
                 registry: CollectorRegistry | None = None) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry)
        self._children: dict[tuple[str, ...], _Count] = {}

    def labels(self, *values: object) -> _Count:
        key = self._key(values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _Count()
        return child

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self._children.items()):
            family.add_metric(list(key), child.value)
        yield family


class LoopHistogram(_Family):
    """``Histogram(name, documentation, labelnames, buckets=...)`` for one thread:
    ``labels(...).observe(amount)``."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str],
                 buckets: Sequence[float], registry: CollectorRegistry | None = None) -> None:
        super().__init__(name, documentation, labelnames, registry)
        bounds = tuple(float(b) for b in buckets)
        self.bounds = bounds[:-1] if bounds and bounds[-1] == float("inf") else bounds
        self._children: dict[tuple[str, ...], _Buckets] = {}

    def labels(self, *values: object) -> _Buckets:
        key = self._key(values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _Buckets(self.bounds)
        return child

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        edges = [floatToGoString(b) for b in (*self.bounds, float("inf"))]
        for key, child in list(self._children.items()):
            running = 0
            cumulative = []
            for edge, count in zip(edges, list(child.counts), strict=True):
                running += count
                cumulative.append((edge, running))
            family.add_metric(list(key), cumulative, child.total)
        yield family
