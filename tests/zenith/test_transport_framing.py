"""The transport's own serialization of outbound text frames (gateway.zenith.transport module doc).

``client_text_frame`` must make the library's bytes for every length form (7-bit, 16-bit and
64-bit lengths, and their edges) given the same mask; and a real client's requests of each form
must reach the real simulator over a real WebSocket on 127.0.0.1 and be answered, without the
library's ``send_text`` being used while the connection is open.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from gateway.zenith import ZenithError
from gateway.zenith import transport as transport_module
from gateway.zenith.transport import client_text_frame
from tests.zenith.sim_session import simulator_session

SIZES = [0, 1, 100, 125, 126, 127, 1000, 65535, 65536, 70_000]


def _masks() -> Iterator[bytes]:
    n = 0
    while True:
        n += 1
        yield n.to_bytes(4, "big")


def test_client_text_frame_is_the_librarys_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = _masks(), _masks()
    monkeypatch.setattr(transport_module, "_token_bytes", lambda n: next(ours))
    monkeypatch.setattr(secrets, "token_bytes", lambda n: next(theirs))
    for size in SIZES:
        for data in (b"x" * size, ("é€" * size).encode()[:size]):
            assert client_text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=True), size


def test_the_mask_is_fresh_each_frame() -> None:
    masks = {client_text_frame(b"{}")[2:6] for _ in range(64)}
    assert len(masks) > 60


def test_requests_of_every_length_form_reach_the_simulator(tmp_path: Path) -> None:
    answers: list[tuple[Any, ZenithError | None]] = []

    async def main() -> None:
        async with simulator_session(tmp_path, activity=False, seed=7) as client:
            ws = client._ws
            assert ws is not None and ws._own_framing
            library_sends: list[bytes] = []
            send_text = ws.protocol.send_text

            def spy(data: bytes, fin: bool = True) -> None:
                library_sends.append(data)
                send_text(data, fin)

            ws.protocol.send_text = spy  # type: ignore[method-assign]
            done = asyncio.Event()

            def on_answer(data: Any, error: ZenithError | None) -> None:
                answers.append((data, error))
                if len(answers) == len(SIZES):
                    done.set()

            # Payloads of each length form and across its edges: the frame of an empty pad, measured.
            base = len('{"Controller":"Trading","Topic":"QueryOrders","TransactionID":10,'
                       '"Data":{"Account":"XS:0001","Pad":""}}')
            for size in SIZES:
                pad = "x" * max(0, size - base)
                client.send_request("Trading", "QueryOrders", {"Account": "XS:0001", "Pad": pad}, on_answer)
            await asyncio.wait_for(done.wait(), 10.0)
            assert library_sends == []
            assert client.connected

    asyncio.run(asyncio.wait_for(main(), 20.0))
    assert len(answers) == len(SIZES)
    # Answered as QueryOrders (data or a refusal of the padding), never a lost connection.
    assert all(error is None or type(error).__name__ == "ZenithRequestError" for _, error in answers), answers
