"""ZenithConnection details the simulator never exercises: fragmented and invalid frames.

A bare ``websockets`` server on 127.0.0.1 plays the server side, because the simulator (rightly)
sends every message in one frame (§1.1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from gateway.zenith import SubscriptionData, ZenithClient


def serve_and_run(
    on_sub: Callable[[ServerConnection, dict[str, Any]], Awaitable[None]],
    body: Callable[[ZenithClient], Awaitable[None]],
) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            msg = json.loads(message)
            if msg.get("Topic") == "QueryIdentify":
                reply = {
                    "Controller": "Auth",
                    "Topic": "QueryIdentify",
                    "TransactionID": msg["TransactionID"],
                    "Data": {"Result": "Success"},
                }
                await ws.send(json.dumps(reply))
            elif msg.get("Action") == "Sub":
                await on_sub(ws, msg)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, subprotocols=["ZenithJson"]) as server:  # type: ignore[list-item]
            port = next(iter(server.sockets)).getsockname()[1]
            client = ZenithClient(f"ws://127.0.0.1:{port}/Zenith", "demo", reconnect_initial=0.01)
            await client.start()
            try:
                await body(client)
            finally:
                await client.close()

    asyncio.run(asyncio.wait_for(main(), 20), debug=True)


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_fragmented_and_binary_messages_are_reassembled_in_order() -> None:
    async def on_sub(ws: ServerConnection, msg: dict[str, Any]) -> None:
        topic = msg["Topic"]
        text = json.dumps({"Controller": "Market", "Topic": topic, "Data": [{"O": "C"}, {"O": "A", "N": 1}]})
        await ws.send([text[:10], text[10:25], text[25:]])  # one message in three frames
        await ws.send(
            json.dumps({"Controller": "Market", "Topic": topic, "Data": [{"O": "A", "N": 2}]}).encode()
        )
        await ws.send(json.dumps({"Controller": "Market", "Topic": topic, "Data": [{"O": "A", "N": 3}]}))

    async def body(client: ZenithClient) -> None:
        got: list[Any] = []
        client.subscribe("Market", "Depth!XS01.XSX", got.append)
        await wait_until(lambda: len(got) == 3)
        assert all(isinstance(e, SubscriptionData) for e in got)
        assert [e.data[-1]["N"] for e in got] == [1, 2, 3]

    serve_and_run(on_sub, body)


def test_invalid_utf8_fails_the_connection_and_client_reconnects() -> None:
    subs = 0

    async def on_sub(ws: ServerConnection, msg: dict[str, Any]) -> None:
        nonlocal subs
        subs += 1
        if subs == 1:
            # A text frame must be UTF-8; send raw bytes that are not, at the frame level.
            await ws.send(b"\xff\xfe not utf-8", text=True)
        else:
            await ws.send(json.dumps({"Controller": "Market", "Topic": msg["Topic"], "Data": [{"O": "C"}]}))

    async def body(client: ZenithClient) -> None:
        got: list[Any] = []
        client.subscribe("Market", "Depth!XS01.XSX", got.append)
        await wait_until(lambda: client.reconnects >= 1 and any(isinstance(e, SubscriptionData) for e in got))
        assert subs == 2

    serve_and_run(on_sub, body)


def test_handshake_carries_version_token_subprotocol_and_user_agent() -> None:
    from gateway import __version__

    seen: dict[str, Any] = {}

    async def main() -> None:
        async def handler(ws: ServerConnection) -> None:
            seen["path"] = ws.request.path
            seen["headers"] = ws.request.headers
            seen["subprotocol"] = ws.subprotocol
            async for message in ws:
                msg = json.loads(message)
                reply = {
                    "Controller": "Auth",
                    "Topic": "QueryIdentify",
                    "TransactionID": msg["TransactionID"],
                    "Data": {"Result": "Success", "ExpiresIn": "01:00:00"},
                }
                await ws.send(json.dumps(reply))

        async with serve(handler, "127.0.0.1", 0, subprotocols=["ZenithJson"]) as server:  # type: ignore[list-item]
            port = next(iter(server.sockets)).getsockname()[1]
            client = ZenithClient(f"ws://127.0.0.1:{port}/Zenith", "tok-123")
            await client.start()
            try:
                assert client.identity["ExpiresIn"] == "01:00:00"
                assert client._refresh_handle is not None  # refresh scheduled from ExpiresIn
            finally:
                await client.close()
            assert client._refresh_handle is None

    asyncio.run(asyncio.wait_for(main(), 20), debug=True)
    assert seen["path"] == "/Zenith?version=2.0"
    assert seen["headers"]["Authorization"] == "Bearer tok-123"
    assert seen["headers"]["User-Agent"] == f"plxtra-fix/{__version__}"
    assert seen["subprotocol"] == "ZenithJson"
    assert "permessage-deflate" not in seen["headers"].get("Sec-WebSocket-Extensions", "")  # loopback


def test_compression_offered_when_asked() -> None:
    seen: dict[str, Any] = {}

    async def main() -> None:
        async def handler(ws: ServerConnection) -> None:
            seen["extensions"] = ws.request.headers.get("Sec-WebSocket-Extensions", "")
            async for message in ws:
                msg = json.loads(message)
                reply = {
                    "Controller": "Auth",
                    "Topic": "QueryIdentify",
                    "TransactionID": msg["TransactionID"],
                    "Data": {"Result": "Success"},
                }
                await ws.send(json.dumps(reply))

        async with serve(handler, "127.0.0.1", 0, subprotocols=["ZenithJson"]) as server:  # type: ignore[list-item]
            port = next(iter(server.sockets)).getsockname()[1]
            client = ZenithClient(f"ws://127.0.0.1:{port}/Zenith?version=2.0", "t", compression=True)
            await client.start()
            await client.close()

    asyncio.run(asyncio.wait_for(main(), 20), debug=True)
    assert "permessage-deflate" in seen["extensions"]


def test_url_version_and_loopback_rules() -> None:
    from gateway.zenith.client import is_loopback, versioned_url

    assert versioned_url("ws://h/Zenith") == "ws://h/Zenith?version=2.0"
    assert versioned_url("wss://h:443/Zenith?version=1.6") == "wss://h:443/Zenith?version=1.6"
    assert versioned_url("ws://h/Zenith?x=1") == "ws://h/Zenith?x=1&version=2.0"
    assert is_loopback("ws://127.0.0.1:4502/Zenith") and is_loopback("ws://localhost/Zenith")
    assert is_loopback("ws://[::1]:1/Zenith") and not is_loopback("wss://ws.xosp.localhost/Zenith")
