"""plxtra_fix_gateway_added_seconds: the gateway's own time on an order, per stage (gateway.stages).

Over a real session (the gateway on the embedded simulator, a QuickFIX partner on 127.0.0.1, /metrics
read through the admin API) every stage of an order is observed exactly once; durations are not
asserted (the machine is shared). The stage rules themselves are checked on plain data below.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import stages
from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import FixTestClient, free_port
from gateway.zenith.errors import ZenithTimeout
from tests.ops.opshelpers import api, buy, write_admin_config

pytestmark = pytest.mark.timeout(120)


def _counts(port: int) -> dict[str, float]:
    status, text = api(port, "GET", "/metrics")
    assert status == 200
    return {s.labels["stage"]: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "plxtra_fix_gateway_added_seconds_count"}


def test_each_order_stage_is_observed_once_over_a_real_session(tmp_path: Path) -> None:
    fix_port = free_port()
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    with run_gateway_in_thread(cfg), FixTestClient(port=fix_port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=10)
        assert _counts(admin_port) == {}
        # D -> PlaceOrder written (request), its answer -> ER New handed (answer), both (request_answer)
        c.send("D", buy("g-1", price="1.00"))   # far below the market: it rests
        c.expect("8", timeout=10, where={11: "g-1", 150: "0"})
        assert _counts(admin_port) == {"request": 1, "answer": 1, "request_answer": 1}
        # refused without a Zenith call: FIX request -> reject handed
        c.send("D", buy("g-2", price="1.00", account="XS:0009"))
        c.expect("8", timeout=10, where={11: "g-2", 150: "8"})
        assert _counts(admin_port) == {"request": 1, "answer": 1, "request_answer": 1, "fix_answer": 1}
        # F -> CancelOrder written (request); its answer reports nothing, the Orders publish does (update)
        c.send("F", [(11, "g-3"), (41, "g-1"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "100"),
                     (60, "<now>")])
        c.expect("8", timeout=10, where={11: "g-3", 150: "4"})
        assert _counts(admin_port) == {"request": 2, "answer": 1, "request_answer": 1, "fix_answer": 1,
                                       "update": 1}
        # a marketable sell: New (request, answer) and its fill from the Transactions publish (update)
        c.send("D", [(11, "g-4"), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "2"), (38, "100"),
                     (40, "2"), (44, "1.00"), (59, "0"), (60, "<now>")])
        c.expect("8", timeout=10, where={11: "g-4", 150: "0"})
        c.expect("8", timeout=10, where={11: "g-4", 39: "2"})
        assert _counts(admin_port) == {"request": 3, "answer": 2, "request_answer": 2, "fix_answer": 1,
                                       "update": 2}


class _Sink:
    def __init__(self) -> None:
        self.zenith_read_ns = 0
        self.seen: list[str] = []

    def observe(self, stage: str, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append(stage)


def test_stage_rules_on_plain_data() -> None:
    sink = _Sink()

    def scenario() -> None:
        assert stages.open_origin(stages.Kind.FIX) is None   # no sink: nothing is timed
        stages.SINK.set(sink)
        token = stages.open_origin(stages.Kind.FIX)
        inner = contextvars.copy_context()   # what a task started while handling the D inherits
        # a reject answered while the D is handled
        found = stages.delivery_stage()
        assert found is not None and found[1] == "fix_answer"
        stages.close_origin(token)
        assert stages.ORIGIN.get() is None

        def call() -> None:   # the D's Zenith call, in its own task
            origin = stages.request_origin()
            assert origin is not None and stages.request_origin() is None   # once per origin
            stages.request_written([origin])
            assert stages.delivery_stage() is None   # a timer of the call does not answer the read
            expired: list[object] = []
            stages.answer_read(expired.append)
            answer = stages.delivery_stage()
            assert answer is not None and answer[1] == "answer"
            stages.handed(answer)
            held = stages.delivery_stage()   # a publish read with the answer and held for it
            assert held is not None and held[1] == "update"
            assert len(expired) == 1

        inner.run(call)
        read = stages.open_origin(stages.Kind.ZENITH)
        assert sink.zenith_read_ns > 0
        first, second = stages.delivery_stage(), stages.delivery_stage()
        assert first is not None and second is not None and first[1] == second[1] == "update"
        stages.close_origin(read)

    contextvars.copy_context().run(scenario)
    assert sink.seen == ["request", "answer", "request_answer"]
    assert stages.SINK.get() is None   # the test's own context never had one


def test_time_answers_marks_the_answer_of_each_call() -> None:
    from gateway.ops.metrics import GatewayMetrics
    from gateway.ops.metrics_stages import time_answers

    metrics = GatewayMetrics()

    class Client:
        async def request(self, *args: object) -> str:
            return "data"

        def send_request(self, controller: str, topic: str, data: object,
                         on_answer: Callable[[object, object], None], timeout: float | None = None) -> None:
            # answered later, from the loop, as the reader or the timer would
            error = ZenithTimeout(controller, topic, 1.0) if data == "time out" else None
            asyncio.get_running_loop().call_soon(on_answer, None if error else "data", error)

    async def main() -> None:
        stages.SINK.set(metrics.stages)
        client = Client()
        time_answers(client)
        assert await client.request("Trading", "PlaceOrder") == "data"
        found = stages.delivery_stage()
        assert found is not None and found[1] == "answer"
        stages.handed(found)
        await asyncio.sleep(0)   # the end of the loop callback ends the answer
        assert stages.delivery_stage() is None

        seen: list[tuple[str, object]] = []

        def on_answer(data: object, error: object) -> None:
            stage = stages.delivery_stage()
            seen.append((stage[1] if stage else "untimed", data))
            if stage is not None:
                stages.handed(stage)

        client.send_request("Trading", "PlaceOrder", {}, on_answer)
        client.send_request("Trading", "PlaceOrder", "time out", on_answer)
        await asyncio.sleep(0.01)
        assert seen == [("answer", "data"), ("untimed", None)]   # a timeout is no read to react to
        assert stages.delivery_stage() is None   # the callback's origin ended with it

    asyncio.run(main())
    text = metrics.render().decode()
    assert 'plxtra_fix_gateway_added_seconds_count{stage="answer"} 2.0' in text


def test_the_collector_exposes_what_a_prometheus_histogram_would() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from gateway.ops.metrics_stages import ADDED_NAME, StageTimes

    bounds = (0.0001, 0.0003, 0.001)
    values = [0.00005, 0.0001, 0.0002, 0.0003, 0.0009, 0.5, 0.0]
    ours_registry, reference_registry = CollectorRegistry(), CollectorRegistry()
    ours = StageTimes(bounds)
    ours_registry.register(ours)
    reference = Histogram(ADDED_NAME, "reference", ["stage"], buckets=bounds, registry=reference_registry)
    for value in values:
        ours.observe("request", value)
        reference.labels("request").observe(value)
        # two stages interleaved, one also fed through labels(): the same buckets either way
        ours.observe("answer", value * 2)
        ours.labels("answer").observe(value)
        reference.labels("answer").observe(value * 2)
        reference.labels("answer").observe(value)
    ours.observe("answer", -1.0)   # not a duration: ignored

    def samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        text = generate_latest(registry).decode()
        return {(s.name, tuple(sorted(s.labels.items())), s.value)
                for f in text_string_to_metric_families(text) for s in f.samples
                if not s.name.endswith("_created")}

    assert samples(ours_registry) == samples(reference_registry)


def test_one_wrapper_times_each_call_and_marks_each_answer_over_the_simulator(tmp_path: Path) -> None:
    """``time_answers(client, histogram)`` is the gateway's one wrapper of the Zenith calls: a real
    client on the real simulator (127.0.0.1); the round trips land in the request histogram by
    controller and outcome, and only answers read (results, Error containers) are stage-timed."""
    from gateway.ops.metrics import GatewayMetrics
    from gateway.ops.metrics_stages import time_answers
    from gateway.sim.config import load_sim_config
    from gateway.sim.server import SimServer
    from gateway.zenith import ZenithClient, ZenithRequestError

    metrics = GatewayMetrics()
    place = {"Account": "XS:0001", "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
             "Details": {"Exchange": "XSX", "Code": "XS01", "Side": "Bid", "Style": "Market", "Type": "Limit",
                         "LimitPrice": 9.5, "Quantity": 100, "Validity": "UntilDay"}}

    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        stages.SINK.set(metrics.stages)   # before the socket exists: its callbacks carry the sink
        try:
            await client.start()
            time_answers(client, metrics.zenith_request)
            seen: list[tuple[str, str]] = []
            done = asyncio.Event()

            def on_answer(data: object, error: object) -> None:
                stage = stages.delivery_stage()
                seen.append((stage[1] if stage else "untimed", type(error).__name__))
                if stage is not None:
                    stages.handed(stage)
                done.set()

            client.send_request("Trading", "PlaceOrder", place, on_answer)
            client.send_request("Trading", "PlaceOrder", {**place, "Account": "XS:9999"}, on_answer)
            for _ in range(500):   # both answered (bounded: 5 s)
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.01)
            done.clear()
            sim.set_response_delay(0.3)
            client.send_request("Market", "QueryMarkets", None, on_answer, timeout=0.05)
            await asyncio.wait_for(done.wait(), 10)
            sim.set_response_delay(0)
            assert sorted(seen) == [("answer", "NoneType"), ("answer", "ZenithRequestError"),
                                    ("untimed", "ZenithTimeout")], seen
            with pytest.raises(ZenithRequestError):
                await client.request("Trading", "PlaceOrder", {**place, "Account": "XS:9999"})
            assert (await client.request("Trading", "PlaceOrder", place))["Result"] == "Success"
        finally:
            await client.close()
            await sim.stop()

    asyncio.run(main())
    counts = {(s.labels["controller"], s.labels["outcome"]): s.value
              for f in text_string_to_metric_families(metrics.render().decode())
              for s in f.samples if s.name == "plxtra_zenith_request_duration_seconds_count"}
    assert counts == {("Trading", "ok"): 2.0, ("Trading", "error"): 2.0, ("Market", "error"): 1.0}, counts
    text = metrics.render().decode()
    assert 'plxtra_fix_gateway_added_seconds_count{stage="answer"} 2.0' in text
