"""The order path's lock-free metrics expose what prometheus_client's Counter and Histogram expose."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.ops.metrics_fast import LoopCounter, LoopHistogram

Samples = set[tuple[str, tuple[tuple[str, str], ...], float]]


def _samples(registry: CollectorRegistry) -> Samples:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items())), s.value)
            for f in text_string_to_metric_families(text) for s in f.samples
            if not s.name.endswith("_created")}


def test_counter_and_histogram_expose_the_same_samples_as_prometheus_client() -> None:
    ours, reference = CollectorRegistry(), CollectorRegistry()
    counter = LoopCounter("plxtra_fix_messages", "doc", ["session", "direction"], registry=ours)
    ref_counter = Counter("plxtra_fix_messages", "doc", ["session", "direction"], registry=reference)
    histogram = LoopHistogram("plxtra_order_first_answer_seconds", "doc", ["session"],
                              buckets=(0.001, 0.01, 1.0), registry=ours)
    ref_histogram = Histogram("plxtra_order_first_answer_seconds", "doc", ["session"],
                              buckets=(0.001, 0.01, 1.0), registry=reference)
    for labels, amount in ((("c1", "in"), 1), (("c1", "in"), 2.5), (("c1", "out"), 1), (("c2", "in"), 0)):
        counter.labels(*labels).inc(amount)
        ref_counter.labels(*labels).inc(amount)
    for session, value in (("c1", 0.0005), ("c1", 0.001), ("c1", 0.02), ("c1", 3.0), ("c2", 0.01)):
        histogram.labels(session).observe(value)
        ref_histogram.labels(session).observe(value)
    assert _samples(ours) == _samples(reference)
    assert ("plxtra_fix_messages_total", (("direction", "in"), ("session", "c1")), 3.5) in _samples(ours)


def test_misuse_fails_as_with_prometheus_client() -> None:
    counter = LoopCounter("x", "doc", ["a", "b"])
    with pytest.raises(ValueError):
        counter.labels("only-one")
    with pytest.raises(ValueError):
        counter.labels("1", "2").inc(-1)
    registry = CollectorRegistry()
    LoopCounter("dup", "doc", registry=registry)
    with pytest.raises(ValueError):   # the registry refuses a second family of the same name
        Counter("dup", "doc", registry=registry)
