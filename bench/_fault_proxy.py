"""A TCP proxy between the gateway and the simulator, on its own thread, that can fail on purpose.

Runs an asyncio loop in a daemon thread (the probe's main thread is synchronous and QuickFIX has
threads of its own); the only shared state is set through ``call_soon_threadsafe``.

- :meth:`FaultProxy.cut` closes every connection at once (a dropped Zenith connection: the
  gateway sees EOF and must reconnect);
- :meth:`FaultProxy.stall` stops forwarding server -> gateway bytes for a while (a silent Zenith:
  the WebSocket stays open, requests leave, nothing comes back); the bytes held are delivered,
  in order, when the stall ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["FaultProxy"]

_CHUNK = 65536
T = TypeVar("T")


class FaultProxy:
    """``with FaultProxy(upstream_port) as p: p.port`` listens on 127.0.0.1 (a free port)."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.connections = 0          # accepted so far (the gateway reconnecting shows here)
        self._stall_until = 0.0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            s_reader, s_writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 5)
        except (TimeoutError, OSError):
            c_writer.close()          # simulator down: the gateway sees the refusal as a closed socket
            return
        self._writers.update((c_writer, s_writer))
        up = asyncio.ensure_future(self._pump(c_reader, s_writer, stallable=False))
        down = asyncio.ensure_future(self._pump(s_reader, c_writer, stallable=True))
        try:
            await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
            for w in (c_writer, s_writer):
                self._writers.discard(w)
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    stallable: bool) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    return
                while stallable and time.monotonic() < self._stall_until:
                    await asyncio.sleep(min(0.05, self._stall_until - time.monotonic()))
                writer.write(data)
                await writer.drain()

    def cut(self) -> int:
        """Close every open connection (both sides); returns how many pairs were cut."""
        def _cut() -> int:
            writers = list(self._writers)
            for w in writers:
                w.transport.abort()
            return len(writers) // 2
        return asyncio.run_coroutine_threadsafe(self._call(_cut), self._loop).result(5)

    def stall(self, seconds: float) -> None:
        """Hold server -> gateway bytes for ``seconds`` from now."""
        until = time.monotonic() + seconds
        self._loop.call_soon_threadsafe(setattr, self, "_stall_until", until)

    @staticmethod
    async def _call(fn: Callable[[], T]) -> T:
        return fn()

    def close(self) -> None:
        if not self._thread.is_alive():
            return

        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await asyncio.sleep(0)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
