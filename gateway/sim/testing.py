"""Run a simulator on its own event loop in a daemon thread, for tests whose code runs another loop.

with run_sim_in_thread(cfg) as handle:
    url = handle.url
    handle.call(lambda: handle.server.drop_connections())   # any coroutine function, on the sim loop
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.sim.config import SimConfig
from gateway.sim.errors import SimError
from gateway.sim.server import SimServer

__all__ = ["SimHandle", "run_sim_in_thread"]

DEFAULT_PORT = SimConfig().port


class SimHandle:
    def __init__(self, cfg: SimConfig, host: str = "127.0.0.1", port: int | None = None) -> None:
        if port is None:
            # a free port, unless the config names one (cfg.with_overrides(port=p) to restart on p)
            port = cfg.port if cfg.port != DEFAULT_PORT else 0
        self.loop = asyncio.new_event_loop()
        self.server = SimServer(cfg, host=host, port=port)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="plxtra-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise SimError("simulator did not start within 30 s")
        if self._error is not None:
            raise SimError(f"simulator failed to start: {self._error}") from self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    @property
    def thread_ident(self) -> int:
        """The simulator thread's id (e.g. for ``time.pthread_getcpuclockid`` in benches)."""
        assert self._thread.ident is not None
        return self._thread.ident

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, coro_fn: Callable[..., Awaitable[Any]], *args: Any, timeout: float = 30.0) -> Any:
        """Run ``coro_fn(*args)`` on the simulator's loop and return its result."""

        async def runner() -> Any:
            return await coro_fn(*args)

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def call_sync(self, fn: Callable[..., Any], *args: Any, timeout: float = 30.0) -> Any:
        """Run a plain function on the simulator's loop (e.g. ``server.subscription_count``)."""

        async def runner() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_sim_in_thread(cfg: SimConfig, host: str = "127.0.0.1", port: int | None = None) -> SimHandle:
    """Start a simulator in a daemon thread; port: explicit, else ``cfg.port`` if set, else a free one."""
    return SimHandle(cfg, host, port)
