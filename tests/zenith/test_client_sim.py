"""ZenithClient against the real simulator over a real WebSocket on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.zenith import (
    StreamReset,
    SubscriptionClosed,
    SubscriptionData,
    ZenithAuthError,
    ZenithClient,
    ZenithConnectionError,
    ZenithInvalidText,
    ZenithRequestError,
    ZenithSubscriptionLost,
    ZenithTimeout,
)
from gateway.zenith.protocol import MAX_SUB_DROPS
from gateway.zenith.records import OrderDetails
from gateway.zenith.trading import TradingApi

TEST_TIMEOUT = 20.0


def run(tmp_path: Path, body: Callable[[SimServer], Awaitable[None]], **overrides: Any) -> None:
    """Start a simulator, run ``body(sim)`` under an overall timeout, always stop the simulator."""

    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(
            activity=False, seed=7, state_path=tmp_path / "sim.sqlite", **overrides
        )
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        try:
            await asyncio.wait_for(body(sim), TEST_TIMEOUT)
        finally:
            await sim.stop()

    asyncio.run(main(), debug=True)


def client_for(sim: SimServer, token: str = "demo", auth: str = "bearer", **kw: Any) -> ZenithClient:
    kw.setdefault("reconnect_initial", 0.05)
    kw.setdefault("reconnect_max", 0.2)
    return ZenithClient(sim.url, token, auth_method=auth, request_timeout=5.0, **kw)


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def buy(code: str = "XS01", price: str = "9.50", qty: int = 100) -> OrderDetails:
    return OrderDetails(
        exchange="XSX",
        code=code,
        side="Bid",
        type="Limit",
        limit_price=Decimal(price),
        quantity=Decimal(qty),
        validity="UntilDay",
    )


# -- connect and authenticate ------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["bearer", "authtoken"])
def test_connect_authenticate_and_query(tmp_path: Path, auth: str) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, auth=auth)
        changes: list[bool] = []
        client.add_connection_listener(changes.append)
        await client.start()
        try:
            assert client.connected and changes == [True]
            assert client.identity.get("Result") == "Success"
            markets = await client.request("Market", "QueryMarkets")
            assert any(m["Code"] == "XSX" for m in markets)
            accounts = await client.request("Trading", "QueryAccounts")
            assert {"XS:0001", "XS:0010"} <= {a["ID"] for a in accounts}
        finally:
            await client.close()
        assert not client.connected and changes == [True, False]

    run(tmp_path, body)


def test_bad_bearer_token_is_auth_error(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, token="reject")
        with pytest.raises(ZenithAuthError) as info:
            await client.start()
        assert info.value.status == 403
        assert "HTTP 403" in str(info.value)
        assert not client._tasks

    run(tmp_path, body)


def test_bad_authtoken_is_auth_error(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, token="reject", auth="authtoken")
        with pytest.raises(ZenithAuthError) as info:
            await client.start()
        assert info.value.result not in (None, "Success")
        assert "rejected the AuthToken" in str(info.value)
        assert not client._tasks

    run(tmp_path, body)


def test_unreachable_server_is_connection_error(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        port = sim.port
        await sim.stop()
        client = ZenithClient(f"ws://127.0.0.1:{port}/Zenith", "demo", connect_timeout=2.0)
        with pytest.raises(ZenithConnectionError):
            await client.start()
        with pytest.raises(ZenithConnectionError):
            await client.request("Market", "QueryMarkets")

    run(tmp_path, body)


def test_token_refresh_before_expiry(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, auth="authtoken")
        await client.start()
        try:
            await wait_until(lambda: client.auth_refreshes >= 1, timeout=4.0)
            assert client.connected
            assert await client.request("Market", "QueryMarkets")
        finally:
            await client.close()

    run(tmp_path, body, token_lifetime=1.5)


# -- requests ----------------------------------------------------------------------------------


def test_place_order_roundtrip_records(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        try:
            api = TradingApi(client)
            resp = await api.place_order("XS:0001", buy(price="9.55"), request_id="t-1")
            assert resp.ok, resp.errors
            assert resp.request_id == "t-1"
            assert resp.order is not None and resp.order.account == "XS:0001"
            assert resp.order.details.limit_price == Decimal("9.55")
            orders = await api.query_orders("XS:0001", resp.order.id)
            assert [o.id for o in orders] == [resp.order.id]
            assert isinstance(orders[0].details.quantity, Decimal)
            cancel = await api.cancel_order("XS:0001", resp.order.id, request_id="t-2")
            assert cancel.ok
        finally:
            await client.close()

    run(tmp_path, body)


def test_error_container_raises_request_error(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        try:
            with pytest.raises(ZenithRequestError) as info:
                await TradingApi(client).place_order("XS:9999", buy())
            assert info.value.code == "Account.NotFound"
            assert info.value.suffix == "XS:9999"
            with pytest.raises(ZenithRequestError) as info:
                await client.request("Market", "NoSuchAction", {})
            assert info.value.code == "Operation.Unknown"
            assert client.connected  # errors do not hurt the connection
        finally:
            await client.close()

    run(tmp_path, body)


def test_request_timeout_is_clear_and_connection_survives(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        try:
            sim.set_response_delay(0.5)
            with pytest.raises(ZenithTimeout) as info:
                await client.request("Market", "QueryMarkets", timeout=0.1)
            assert info.value.topic == "QueryMarkets" and info.value.timeout == 0.1
            assert "no answer within 0.1 s" in str(info.value)
            sim.set_response_delay(0)
            await asyncio.sleep(0.6)  # the late answer (if the server sends one) is dropped
            assert await client.request("Market", "QueryMarkets")
            assert client._core.pending_count == 0
        finally:
            await client.close()

    run(tmp_path, body)


def test_pending_request_fails_when_connection_drops(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        try:
            sim.set_response_delay(3.0)
            call = asyncio.ensure_future(client.request("Market", "QueryMarkets", timeout=10))
            await asyncio.sleep(0.1)
            await sim.drop_connections()
            with pytest.raises(ZenithConnectionError) as info:
                await asyncio.wait_for(call, 2.0)
            assert info.value.close_code == 1001
            sim.set_response_delay(0)
        finally:
            await client.close()

    run(tmp_path, body)


# -- subscriptions -----------------------------------------------------------------------------


def test_subscriptions_are_shared_and_refcounted(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        topic = "Depth!XS01.XSX"
        try:
            api = TradingApi(client)
            await api.place_order("XS:0002", buy(price="9.40"))
            a: list[Any] = []
            b: list[Any] = []
            sub_a = client.subscribe("Market", topic, a.append)
            sub_b = client.subscribe("Market", topic, b.append)
            await wait_until(lambda: bool(a) and bool(b))
            assert a == b and isinstance(a[0], SubscriptionData)
            assert a[0].data[0] == {"O": "C"}
            assert sim.subscription_count("Market", topic) == 1
            # A new order reaches both subscribers, once each.
            await api.place_order("XS:0002", buy(price="9.45"))
            await wait_until(lambda: len(a) >= 2 and len(b) >= 2)
            assert a == b
            sub_a.close()
            await asyncio.sleep(0.1)
            assert sim.subscription_count("Market", topic) == 1  # b still holds it
            sub_b.close()
            await wait_until(lambda: sim.subscription_count("Market", topic) == 0)
        finally:
            await client.close()

    run(tmp_path, body)


def test_late_subscriber_gets_a_snapshot(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        topic = "Security!XS02.XSX"
        try:
            first: list[Any] = []
            client.subscribe("Market", topic, first.append)
            await wait_until(lambda: bool(first))
            late: list[Any] = []
            client.subscribe("Market", topic, late.append)
            await wait_until(lambda: bool(late))
            assert isinstance(late[0], SubscriptionData) and late[0].data["Code"] == "XS02"
            assert first[1] == StreamReset("Market", topic)
            await wait_until(lambda: len(first) >= 3)
            assert first[2] == late[0]
            assert sim.subscription_count("Market", topic) == 1
        finally:
            await client.close()

    run(tmp_path, body)


def test_failed_subscription_is_closed_with_error(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        try:
            got: list[Any] = []
            client.subscribe("Market", "Depth!NOPE.XSX", got.append)
            await wait_until(lambda: bool(got))
            assert isinstance(got[0], SubscriptionClosed)
            assert got[0].error is not None and got[0].error.code.startswith("Symbol")
            await asyncio.sleep(0.1)
            assert len(got) == 1  # the failed-Sub echo is not a second event
        finally:
            await client.close()

    run(tmp_path, body)


def test_reconnect_resubscribes_with_stream_reset(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        changes: list[bool] = []
        client.add_connection_listener(changes.append)
        await client.start()
        try:
            depth: list[Any] = []
            orders: list[Any] = []
            resync_queries: list[asyncio.Future[Any]] = []

            def on_orders(event: Any) -> None:
                orders.append(event)
                if isinstance(event, StreamReset):  # reconciling from the callback must work
                    query = client.request("Trading", "QueryOrders", {"Account": "XS:0003"})
                    resync_queries.append(asyncio.ensure_future(query))

            client.subscribe("Market", "Depth!XS03.XSX", depth.append)
            client.subscribe("Trading", "Orders!XS:0003", on_orders)
            await wait_until(lambda: bool(depth) and bool(orders))
            await sim.drop_connections()
            await wait_until(lambda: changes == [True, False, True])
            await wait_until(lambda: len(depth) >= 3 and len(orders) >= 3)
            assert depth[1] == StreamReset("Market", "Depth!XS03.XSX")
            assert isinstance(depth[2], SubscriptionData) and depth[2].data[0] == {"O": "C"}
            assert orders[1] == StreamReset("Trading", "Orders!XS:0003")
            assert isinstance(orders[2], SubscriptionData)
            assert sim.subscription_count("Market", "Depth!XS03.XSX") == 1
            assert sim.subscription_count("Trading", "Orders!XS:0003") == 1
            assert client.reconnects == 1
            assert len(resync_queries) == 1 and isinstance(await resync_queries[0], list)
            # Publishes flow on the new connection.
            await TradingApi(client).place_order("XS:0003", buy("XS03", "9.30"))
            await wait_until(lambda: len(orders) >= 4 and len(depth) >= 4)
        finally:
            await client.close()

    run(tmp_path, body)


def test_keepalive_holds_an_idle_connection(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, ping_interval=0.2, dead_after=1.5)
        await client.start()
        try:
            await asyncio.sleep(2.5)  # > both idle limits, with no traffic but pings and pongs
            assert client.connected and client.reconnects == 0
        finally:
            await client.close()

    run(tmp_path, body, idle_timeout=1.0, ping_interval=0.2)


class FreezableProxy:
    """TCP forwarder 127.0.0.1:port -> target; ``frozen`` stops forwarding (a silent, half-dead link)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 5)


def test_silent_connection_is_detected_and_replaced(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        proxy = FreezableProxy(sim.port)
        await proxy.start()
        client = ZenithClient(
            f"ws://127.0.0.1:{proxy.port}/Zenith",
            "demo",
            ping_interval=0.1,
            dead_after=0.5,
            reconnect_initial=0.05,
            reconnect_max=0.1,
            close_timeout=0.3,
            connect_timeout=1.0,  # an attempt made while still frozen must give up quickly
        )
        changes: list[bool] = []
        client.add_connection_listener(changes.append)
        await client.start()
        try:
            got: list[Any] = []
            client.subscribe("Market", "Depth!XS05.XSX", got.append)
            await wait_until(lambda: bool(got))
            proxy.frozen = True
            await wait_until(lambda: changes[-1:] == [False], timeout=3.0)
            proxy.frozen = False  # new connections flow again
            await wait_until(lambda: changes[-1:] == [True] and len(got) >= 3, timeout=5.0)
            assert got[1] == StreamReset("Market", "Depth!XS05.XSX")
            assert await client.request("Market", "QueryMarkets")
        finally:
            await client.close()
            await proxy.stop()

    run(tmp_path, body, idle_timeout=0, ping_interval=0)


def test_close_leaves_no_tasks(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        before = set(asyncio.all_tasks())
        client = client_for(sim)
        await client.start()
        got: list[Any] = []
        client.subscribe("Market", "Trades!XS01.XSX", got.append)
        await wait_until(lambda: bool(got))
        await client.close()
        await client.close()  # idempotent
        await asyncio.sleep(0)
        leftover = [t for t in asyncio.all_tasks() - before if t.get_name().startswith("zenith")]
        assert leftover == [] and not client._tasks
        assert isinstance(got[-1], SubscriptionClosed)
        with pytest.raises(ZenithConnectionError):
            await client.request("Market", "QueryMarkets")
        with pytest.raises(ZenithConnectionError):
            client.subscribe("Market", "Markets", got.append)

    run(tmp_path, body)


def test_server_restart_reconnects_after_backoff(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, reconnect_initial=0.05, reconnect_max=0.2, connect_timeout=1.0)
        changes: list[bool] = []
        client.add_connection_listener(changes.append)
        await client.start()
        second: SimServer | None = None
        try:
            got: list[Any] = []
            client.subscribe("Trading", "Orders!XS:0004", got.append)
            await wait_until(lambda: bool(got))
            port = sim.port
            await sim.stop()  # closes with 1012 ServerRestart: the client must keep trying
            await wait_until(lambda: changes == [True, False])
            await asyncio.sleep(0.4)  # a few refused attempts (network errors) back off and retry
            assert not client.connected and client.last_error is None
            second = SimServer(sim.cfg, host="127.0.0.1", port=port)
            await second.start()
            await wait_until(lambda: changes == [True, False, True], timeout=5.0)
            await wait_until(
                lambda: any(isinstance(e, StreamReset) for e in got) and isinstance(got[-1], SubscriptionData)
            )
            assert second.subscription_count("Trading", "Orders!XS:0004") == 1
        finally:
            await client.close()
            if second is not None:
                await second.stop()

    run(tmp_path, body)


class ScriptedZenith:
    """A bare ``websockets`` server on 127.0.0.1 that misbehaves on purpose (the simulator never
    does): ``on_sub(ws, topic, n)`` decides what each Sub gets; counts connections and Subs."""

    def __init__(self, on_sub: Callable[[Any, str, int], Awaitable[None]]) -> None:
        self.on_sub = on_sub
        self.connections = 0
        self.subs: dict[str, int] = {}
        self.port = 0

    async def handler(self, ws: Any) -> None:
        self.connections += 1
        async for message in ws:
            msg = json.loads(message)
            if msg.get("Topic") == "QueryIdentify":
                identity = {"Result": "Success"}
                await ws.send(json.dumps({"Controller": "Auth", "Topic": "QueryIdentify",
                                          "TransactionID": msg["TransactionID"], "Data": identity}))
            elif msg.get("Action") == "Sub":
                topic = msg["Topic"]
                self.subs[topic] = self.subs.get(topic, 0) + 1
                await self.on_sub(ws, topic, self.subs[topic])
            elif msg.get("TransactionID") is not None:
                controller = msg.get("Controller", "Zenith")
                await ws.send(json.dumps({"Controller": controller, "Topic": msg["Topic"],
                                          "TransactionID": msg["TransactionID"], "Data": []}))


async def _confirm(ws: Any, topic: str) -> None:
    await ws.send(json.dumps({"Controller": "Market", "Topic": topic, "Data": [{"O": "C"}]}))
    await ws.send(json.dumps({"Controller": "Market", "Topic": topic, "Action": "Sub", "Confirm": True}))


def run_scripted(server: ScriptedZenith, body: Callable[[ZenithClient], Awaitable[None]], **kw: Any) -> None:
    from websockets.asyncio.server import serve

    async def main() -> None:
        async with serve(server.handler, "127.0.0.1", 0, subprotocols=["ZenithJson"]) as ws_server:  # type: ignore[list-item]
            server.port = next(iter(ws_server.sockets)).getsockname()[1]
            kw.setdefault("reconnect_initial", 0.01)
            kw.setdefault("reconnect_max", 0.05)
            client = ZenithClient(f"ws://127.0.0.1:{server.port}/Zenith", "demo", **kw)
            await client.start()
            try:
                await body(client)
            finally:
                await client.close()

    asyncio.run(asyncio.wait_for(main(), TEST_TIMEOUT), debug=True)


@pytest.mark.parametrize("code", [1000, 1002, 1007, 4000])
def test_every_close_code_is_followed_by_a_reconnect(code: int) -> None:
    """Issue 9: a server closing with 1000 (graceful restart) left the gateway cut off for good."""

    async def on_sub(ws: Any, topic: str, n: int) -> None:
        await _confirm(ws, topic)
        if n == 1:   # the first connection only: closed with ``code`` once subscribed
            await asyncio.sleep(0.05)
            await ws.close(code, "test")

    server = ScriptedZenith(on_sub)

    async def body(client: ZenithClient) -> None:
        got: list[Any] = []
        client.subscribe("Market", "Markets", got.append)
        await wait_until(lambda: server.connections == 2 and client.connected and len(got) >= 3)
        assert got[1] == StreamReset("Market", "Markets") and isinstance(got[2], SubscriptionData)
        assert client.last_error is None and server.subs == {"Markets": 2}
        assert await client.request("Market", "QueryMarkets") == []

    run_scripted(server, body)


def test_reconnects_after_the_simulator_closes_with_1000(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        changes: list[bool] = []
        client.add_connection_listener(changes.append)
        await client.start()
        try:
            got: list[Any] = []
            client.subscribe("Trading", "Orders!XS:0005", got.append)
            await wait_until(lambda: bool(got))
            for sess in list(sim.sessions):
                sess.close_after_flush(1000, "normal closure")
            await wait_until(lambda: changes == [True, False, True])
            await wait_until(lambda: isinstance(got[-1], SubscriptionData) and StreamReset(
                "Trading", "Orders!XS:0005") in got)
            assert sim.subscription_count("Trading", "Orders!XS:0005") == 1 and client.last_error is None
            await TradingApi(client).place_order("XS:0005", buy("XS05", "9.20"))
        finally:
            await client.close()

    run(tmp_path, body)


def test_a_sub_that_kills_the_connection_is_given_up_after_a_bound() -> None:
    """The server drops the connection on one topic's Sub, as the simulator did on invalid text
    (issue 9: 189 reconnects in 37 s). The client sends that Sub a bounded number of times, then
    closes it with an error; the other topic and calls keep working."""

    async def on_sub(ws: Any, topic: str, n: int) -> None:
        if topic == "Depth!KILL.XSX":
            await ws.close(1011, "server fault")
        elif topic == "Depth!NOPE.XSX":
            for action in ("Error", "Sub"):   # the failure of §1.7.2
                failure = {"Controller": "Market", "Topic": topic, "Action": action,
                           "Data": "Symbol.NotFound NOPE.XSX"}
                await ws.send(json.dumps(failure))
        else:
            await _confirm(ws, topic)

    server = ScriptedZenith(on_sub)

    async def body(client: ZenithClient) -> None:
        good: list[Any] = []
        bad: list[Any] = []
        refused: list[Any] = []
        client.subscribe("Market", "Depth!NOPE.XSX", refused.append)
        client.subscribe("Market", "Depth!XS01.XSX", good.append)
        await wait_until(lambda: bool(good) and bool(refused))
        assert refused[0].error.code == "Symbol.NotFound"
        client.subscribe("Market", "Depth!KILL.XSX", bad.append)
        await wait_until(lambda: bool(bad), timeout=10)
        assert isinstance(bad[-1], SubscriptionClosed) and isinstance(bad[-1].error, ZenithSubscriptionLost)
        await wait_until(lambda: client.connected)
        await asyncio.sleep(0.3)   # several back-offs: the given-up Sub is never sent again
        assert server.subs["Depth!KILL.XSX"] == MAX_SUB_DROPS
        assert server.subs["Depth!NOPE.XSX"] == 1   # refused by the server: never sent again
        assert len(refused) == 1
        assert server.connections == MAX_SUB_DROPS + 1 and client.connected
        assert not [e for e in good if isinstance(e, SubscriptionClosed)]
        assert await client.request("Market", "QueryMarkets") == []

    run_scripted(server, body, stable_after=0.0)


def test_text_that_is_not_valid_never_reaches_zenith(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim)
        await client.start()
        try:
            bad_topic = "Security!XS02\udcff\udcfe.XSX"
            got: list[Any] = []
            client.subscribe("Market", bad_topic, got.append)
            assert got == []   # told on the next loop turn, once the caller holds the handle
            await wait_until(lambda: bool(got))
            assert isinstance(got[0], SubscriptionClosed) and isinstance(got[0].error, ZenithInvalidText)
            with pytest.raises(ZenithInvalidText):
                await TradingApi(client).place_order("XS:0006", buy("XS02\udcff"))
            assert not [k for k in sim.subs if "XS02" in k[1]]
            assert client.connected and client.reconnects == 0
            assert len(sim.engine.orders) == 0
        finally:
            await client.close()

    run(tmp_path, body)


def test_gives_up_after_max_reconnect_attempts(tmp_path: Path) -> None:
    async def body(sim: SimServer) -> None:
        client = client_for(sim, max_reconnect_attempts=3, connect_timeout=1.0)
        await client.start()
        try:
            got: list[Any] = []
            client.subscribe("Market", "Markets", got.append)
            await wait_until(lambda: bool(got))
            await sim.stop()
            await wait_until(lambda: client.last_error is not None, timeout=5.0)
            assert isinstance(client.last_error, ZenithConnectionError)
            assert "cannot connect" in str(client.last_error)
            assert isinstance(got[-1], SubscriptionClosed) and got[-1].error is client.last_error
        finally:
            await client.close()

    run(tmp_path, body)
