"""The transport's inbound fast path (it cuts data frames itself) behaves as the library's parser.

A raw TCP server on 127.0.0.1 does the WebSocket handshake by hand and then writes chosen bytes in
chosen pieces: frames cut at every offset, frames in the same write as the handshake answer,
lengths of each header form, control frames and fragments between data frames, and the frames
the library must refuse. Each scenario runs twice, with the fast path and with the library's parser
alone (the reference), and both runs must show the same messages, in order, and the same close.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.zenith import ZenithClient
from gateway.zenith.transport import ZenithConnection

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, opcode: int = 0x1, fin: bool = True, mask: bool = False, rsv: int = 0) -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask:
        key = b"\x01\x02\x03\x04"
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def text(n: int, size: int) -> str:
    return json.dumps({"Controller": "Market", "Topic": f"T{n}", "Data": "x" * size})


@dataclass
class Seen:
    messages: list[str] = field(default_factory=list)
    pongs: list[bytes] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)   # close codes the client sent
    fast_frames: int = 0
    close_code: int | None = None


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def run(script: list[bytes], *, fast: bool, pre: tuple[bytes, ...] = (), max_size: int = 16 * 1024 * 1024,
        eof: bool = False, pause: float = 0.002) -> Seen:
    """Serve one connection: the handshake answer joined to ``pre[0]``, the rest of ``pre``, then
    the answer to QueryIdentify, then each piece of ``script`` as its own write (``pause`` apart:
    separate reads); then ``eof`` closes the TCP connection, else the client closes.
    ``fast=False`` runs the library's parser alone: the reference."""
    seen = Seen()
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ZenithJson\r\n\r\n"
                     + (pre[0] if pre else b""))
        for piece in pre[1:]:
            await writer.drain()
            await asyncio.sleep(pause)
            writer.write(piece)
        _, payload = await _read_frame(reader)   # QueryIdentify
        tid = json.loads(payload)["TransactionID"]
        answer = json.dumps({"Controller": "Auth", "Topic": "QueryIdentify", "TransactionID": tid,
                             "Data": {"Result": "Success"}}).encode()
        writer.write(frame(answer))
        await writer.drain()
        await asyncio.sleep(0.05)

        async def client_frames() -> None:
            try:
                while True:
                    opcode, payload = await _read_frame(reader)
                    if opcode == 0xA:
                        seen.pongs.append(payload)
                    elif opcode == 0x8:
                        seen.closes.append(int.from_bytes(payload[:2], "big") if payload else 1005)
                        writer.write(frame(payload[:2], opcode=0x8))   # echo: the closing handshake
                        await writer.drain()
                        writer.close()
                        return
            except (asyncio.IncompleteReadError, ConnectionError):
                return

        reading = asyncio.ensure_future(client_frames())
        try:
            for piece in script:
                if writer.is_closing():   # the client failed the connection: the rest is not read
                    break
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(pause)
            await asyncio.sleep(0.1)
            if eof:
                writer.close()
        except ConnectionError:
            pass
        finally:
            done.set()
        await asyncio.wait([reading], timeout=3)

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = ZenithClient(f"ws://127.0.0.1:{port}/Zenith", "demo", max_size=max_size,
                              max_reconnect_attempts=1, reconnect_initial=5.0, reconnect_max=5.0)
        handler = client._on_frame

        def tap(message: str) -> None:   # every message the connection delivers, auth answer aside
            if '"Auth"' not in message:
                seen.messages.append(message)
            handler(message)

        client._on_frame = tap  # type: ignore[method-assign]
        try:
            await client.start()
            ws = client._ws
            assert isinstance(ws, ZenithConnection)
            await asyncio.wait_for(done.wait(), 10)
            if eof or ws.protocol.state.name != "OPEN":
                await asyncio.wait_for(ws.wait_closed(), 5)
            seen.fast_frames = ws.fast_frames
            seen.close_code = ws.close_code
        finally:
            await client.close()
            server.close()

    library_only = ZenithConnection._fast_ready
    if not fast:
        ZenithConnection._fast_ready = lambda self: False  # type: ignore[method-assign]
    try:
        asyncio.run(asyncio.wait_for(main(), 20), debug=True)
    finally:
        ZenithConnection._fast_ready = library_only  # type: ignore[method-assign]
    return seen


def pieces(data: bytes, sizes: Iterator[int]) -> list[bytes]:
    out = []
    pos = 0
    while pos < len(data):
        n = next(sizes)
        out.append(data[pos:pos + n])
        pos += n
    return out


def cycle(values: list[int]) -> Iterator[int]:
    while True:
        yield from values


MESSAGES = [text(1, 10), text(2, 300), text(3, 70_000), text(4, 5), "é€😀 " + text(5, 1)]
CUT = text(7, 0x8105 - len(text(7, 0)))   # 33,029 bytes: its extended length looks like a header


def stream() -> tuple[bytes, list[str]]:
    """Data frames of each header form with a ping, a binary frame and a fragmented message between."""
    m = MESSAGES
    fragmented = text(6, 40).encode()
    data = (frame(m[0].encode()) + frame(m[1].encode()) + frame(b"ping-1", opcode=0x9)
            + frame(m[2].encode()) + frame(m[3].encode(), opcode=0x2)
            + frame(fragmented[:10], fin=False) + frame(fragmented[10:], opcode=0x0)
            + frame(m[4].encode()) + frame(b"ping-2", opcode=0x9) + frame(m[0].encode()))
    return data, [m[0], m[1], m[2], m[3], fragmented.decode(), m[4], m[0]]


@pytest.mark.parametrize("sizes", [[1], [2, 3, 5, 7], [1000], [1 << 30]],
                         ids=["byte-by-byte", "small-pieces", "1000-bytes", "one-write"])
def test_frames_cut_anywhere_arrive_whole_in_order_as_with_the_library(sizes: list[int]) -> None:
    data, expected = stream()
    # A frame cut after its first two bytes, sent with the handshake answer: the library waits
    # for the extended length with nothing buffered. The fast path must not take over there:
    # the length, 0x8105, would read as the header of a 5-byte text frame.
    first = frame(CUT.encode())
    assert first[2:4] == b"\x81\x05"
    pre = (first[:2], first[2:])
    # The 70 kB frame's payload in pieces of 997 bytes at most (a read per byte would take minutes).
    big = data.index(MESSAGES[2].encode()[:20])
    big_end = big + len(MESSAGES[2])
    script = [*pieces(data[:big], cycle(sizes)), *pieces(data[big:big_end], cycle([997])),
              *pieces(data[big_end:], cycle(sizes))]
    if sizes == [1 << 30]:
        script = [data]
    results = {fast: run(script, fast=fast, pre=pre) for fast in (True, False)}
    for fast, seen in results.items():
        assert seen.messages == [CUT, *expected], fast
        assert seen.pongs == [b"ping-1", b"ping-2"], fast
        assert seen.closes == [1000], fast   # the client's close at the end, nothing else
    # In one write, what follows the first ping is the library's: two data frames come before it.
    assert results[True].fast_frames >= 2 and results[False].fast_frames == 0


def test_invalid_utf8_in_a_fast_frame_fails_with_1007_as_the_library() -> None:
    # The library parses a read's frames before it processes them: the one behind the bad frame,
    # in the same read, is delivered too; the next read is discarded.
    script = [frame(MESSAGES[0].encode()) + frame(b"\xff\xfe not utf-8") + frame(MESSAGES[1].encode()),
              frame(MESSAGES[3].encode())]
    for fast in (True, False):
        seen = run(script, fast=fast)
        assert seen.closes == [1007], fast
        assert seen.messages == [MESSAGES[0], MESSAGES[1]], fast


@pytest.mark.parametrize(
    ("name", "bad", "code"),
    [
        ("too-big", frame(b"x" * 2000), 1009),
        ("masked", frame(b'{"a":1}', mask=True), 1002),
        ("rsv-bit", frame(b'{"a":1}', rsv=0x40), 1002),
    ],
)
def test_refused_frames_fail_the_connection_as_the_library(name: str, bad: bytes, code: int) -> None:
    script = [frame(MESSAGES[0].encode()), bad + frame(MESSAGES[3].encode())]
    for fast in (True, False):
        seen = run(script, fast=fast, max_size=1000)
        assert seen.closes == [code], (name, fast)
        assert seen.messages == [MESSAGES[0]], (name, fast)


def test_a_frame_cut_by_the_end_of_the_stream_is_an_abnormal_closure_as_with_the_library() -> None:
    whole = frame(MESSAGES[1].encode())
    script = [frame(MESSAGES[0].encode()), whole[:50]]
    codes: dict[bool, Any] = {}
    for fast in (True, False):
        seen = run(script, fast=fast, eof=True)
        assert seen.messages == [MESSAGES[0]] and seen.closes == [], fast
        codes[fast] = seen.close_code
    assert codes[True] == codes[False] == 1006
