"""ZenithClient.send_request (the callback API, no task per call) against the real simulator over a
real WebSocket on 127.0.0.1: answer, Error container, timeout, connection loss, not connected."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.zenith import (
    ZenithClient,
    ZenithConnectionError,
    ZenithError,
    ZenithRequestError,
    ZenithTimeout,
)

TEST_TIMEOUT = 20.0
PLACE = {
    "Account": "XS:0001",
    "Details": {"Exchange": "XSX", "Code": "XS01", "Side": "Bid", "Style": "Market", "Type": "Limit",
                "LimitPrice": 9.5, "Quantity": 100, "Validity": "UntilDay"},
    "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
}


def run(tmp_path: Path, body: Callable[[SimServer, ZenithClient], Awaitable[None]]) -> None:
    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        client = ZenithClient(sim.url, "demo", request_timeout=5.0, reconnect_initial=0.05, reconnect_max=0.2)
        try:
            await client.start()
            await asyncio.wait_for(body(sim, client), TEST_TIMEOUT)
        finally:
            await client.close()
            await sim.stop()

    asyncio.run(main(), debug=True)


class Answers:
    """Records each ``on_answer`` call, and whether it ran inside ``send_request`` itself."""

    def __init__(self) -> None:
        self.got: list[tuple[Any, ZenithError | None]] = []
        self.sending = False
        self.reentrant = False
        self.event = asyncio.Event()

    def __call__(self, data: Any, error: ZenithError | None) -> None:
        self.reentrant = self.reentrant or self.sending
        self.got.append((data, error))
        self.event.set()

    def send(self, client: ZenithClient, controller: str, topic: str, data: Any, **kw: Any) -> None:
        self.sending = True
        try:
            client.send_request(controller, topic, data, self, **kw)
        finally:
            self.sending = False

    async def wait(self, timeout: float = 5.0) -> tuple[Any, ZenithError | None]:
        await asyncio.wait_for(self.event.wait(), timeout)
        return self.got[0]


class TaskCount:
    """Counts the tasks the loop creates (a task factory: the real loop, counted)."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def __enter__(self) -> TaskCount:
        loop = asyncio.get_running_loop()

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
            self.created.append(getattr(coro, "__qualname__", repr(coro)))
            return asyncio.Task(coro, loop=loop, **kw)

        loop.set_task_factory(factory)  # type: ignore[arg-type]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.get_running_loop().set_task_factory(None)


def test_answer_comes_from_the_readers_dispatch_without_a_task(tmp_path: Path) -> None:
    async def body(sim: SimServer, client: ZenithClient) -> None:
        n = 20
        answers = [Answers() for _ in range(n)]
        with TaskCount() as tasks:
            for i, a in enumerate(answers):
                a.send(client, "Trading", "PlaceOrder", {**PLACE, "RequestID": f"sr-{i}"}, timeout=1.0)
            deadline = asyncio.get_running_loop().time() + 5.0
            while not all(a.got for a in answers):     # polled: waiting must not make tasks either
                assert asyncio.get_running_loop().time() < deadline, "answers missing"
                await asyncio.sleep(0.01)
            for i, a in enumerate(answers):
                data, error = a.got[0]
                assert error is None and data["Result"] == "Success" and data["RequestID"] == f"sr-{i}", data
        assert tasks.created == [], tasks.created      # no task (or coroutine) per call
        assert all(not a.reentrant for a in answers)  # never inside send_request itself
        assert client.requests_sent == n and client._core.pending_count == 0
        await asyncio.sleep(1.2)                       # past each call's timeout: its timer was cancelled
        assert all(len(a.got) == 1 for a in answers)

    run(tmp_path, body)


def test_error_container_is_a_request_error(tmp_path: Path) -> None:
    async def body(sim: SimServer, client: ZenithClient) -> None:
        a = Answers()
        a.send(client, "Trading", "PlaceOrder", {**PLACE, "Account": "XS:9999"})
        data, error = await a.wait()
        assert data is None and isinstance(error, ZenithRequestError)
        assert (error.code, error.suffix) == ("Account.NotFound", "XS:9999")
        assert client.connected and not a.reentrant

    run(tmp_path, body)


def test_unanswered_request_times_out_once_and_is_cancelled(tmp_path: Path) -> None:
    async def body(sim: SimServer, client: ZenithClient) -> None:
        sim.set_response_delay(0.5)
        a = Answers()
        started = asyncio.get_running_loop().time()
        a.send(client, "Market", "QueryMarkets", None, timeout=0.1)
        data, error = await a.wait()
        waited = asyncio.get_running_loop().time() - started
        assert data is None and isinstance(error, ZenithTimeout), error
        assert error.topic == "QueryMarkets" and error.timeout == 0.1 and 0.09 <= waited < 0.45
        assert client._core.pending_count == 0        # forgotten (and a Cancel sent, §1.5)
        sim.set_response_delay(0)
        await asyncio.sleep(0.6)                       # the late answer, if any, is dropped
        assert len(a.got) == 1 and client.connected
        b = Answers()                                  # the connection still serves
        b.send(client, "Market", "QueryMarkets", None)
        assert (await b.wait())[1] is None

    run(tmp_path, body)


def test_pending_request_fails_with_the_connection_error_when_the_connection_drops(tmp_path: Path) -> None:
    async def body(sim: SimServer, client: ZenithClient) -> None:
        sim.set_response_delay(3.0)
        a = Answers()
        a.send(client, "Market", "QueryMarkets", None, timeout=10)
        await asyncio.sleep(0.1)
        await sim.drop_connections()
        data, error = await a.wait(2.0)
        # The same error a coroutine request() raises on a lost connection.
        assert data is None and isinstance(error, ZenithConnectionError) and error.close_code == 1001
        sim.set_response_delay(0)
        await asyncio.sleep(0.2)
        assert len(a.got) == 1

    run(tmp_path, body)


def test_not_connected_fails_on_a_later_loop_turn(tmp_path: Path) -> None:
    async def body(sim: SimServer, client: ZenithClient) -> None:
        await client.close()
        a = Answers()
        a.send(client, "Market", "QueryMarkets", None)
        assert a.got == []                             # not inside the caller's frame
        data, error = await a.wait(1.0)
        assert data is None and isinstance(error, ZenithConnectionError) and "not connected" in str(error)
        assert not a.reentrant

    run(tmp_path, body)


def test_a_raising_callback_costs_only_its_own_answer(tmp_path: Path) -> None:
    async def body(sim: SimServer, client: ZenithClient) -> None:
        def boom(data: Any, error: ZenithError | None) -> None:
            raise RuntimeError("callback bug")

        client.send_request("Market", "QueryMarkets", None, boom)
        a = Answers()
        a.send(client, "Market", "QueryMarkets", None)
        assert (await a.wait())[1] is None and client.connected

    run(tmp_path, body)


def test_a_lone_request_is_written_in_the_callers_turn_a_burst_in_one_write(tmp_path: Path) -> None:
    """The write side of the order path: a request with nothing queued before it reaches the socket
    before ``send_request`` returns (no loop hop); requests queued after it in the same turn, and
    every request while they keep coming in bursts, leave together in one write at the next turn."""
    async def body(sim: SimServer, client: ZenithClient) -> None:
        ws = client._ws
        assert ws is not None and ws.transport is not None
        transport = ws.transport
        real_write = transport.write
        writes: list[int] = []

        def write(data: Any) -> None:   # the real transport, its writes counted
            writes.append(len(data))
            real_write(data)

        transport.write = write  # type: ignore[method-assign]
        answers = [Answers() for _ in range(8)]
        await asyncio.sleep(0.05)   # whatever the start-up queued has left
        writes.clear()

        def send(i: int) -> None:
            answers[i].send(client, "Trading", "PlaceOrder", {**PLACE, "RequestID": f"w-{i}"})

        send(0)
        assert len(writes) == 1 and not ws.protocol.writes          # written in this turn
        for i in (1, 2, 3):
            send(i)
        assert len(writes) == 1 and len(ws.protocol.writes) == 3    # queued behind it
        await asyncio.sleep(0)
        assert len(writes) == 2                                     # the three in one write
        send(4)                                                     # still a burst: waits
        assert len(writes) == 2 and len(ws.protocol.writes) == 1
        await asyncio.sleep(0)
        assert len(writes) == 3                                     # a turn of one: burst over
        await asyncio.sleep(0)
        send(5)
        assert len(writes) == 4 and not ws.protocol.writes          # paced again: at once
        await asyncio.sleep(0.01)
        send(6)
        send(7)
        await asyncio.sleep(0)
        assert len(writes) == 6
        for i, a in enumerate(answers):
            data, error = await a.wait()
            assert error is None and data["RequestID"] == f"w-{i}", (i, data, error)
            assert not a.reentrant

    run(tmp_path, body)
