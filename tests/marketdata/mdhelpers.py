"""Helpers for end-to-end market-data tests: the simulator with a tickable market generator, a
bounded wait, and a feed that applies a FIX client's W/X to books per MDReqID.

Market activity comes from the simulator's own :class:`MarketGenerator` (a seeded market maker
and taker), ticked by the test so that the market can be made quiet before books are compared.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from gateway.sim.generator import MarketGenerator
from gateway.sim.testing import SimHandle
from gateway.zenith import ZenithClient
from tests.marketdata.fixbook import FixBook

__all__ = ["Feed", "FixBook", "Market", "md_only", "wait_until"]


class Market:
    """The simulator plus a driver for its market generator and a Zenith client for queries."""

    def __init__(self, handle: SimHandle) -> None:
        self.handle = handle
        self.server = handle.server
        self.generator: MarketGenerator = handle.call_sync(
            lambda: MarketGenerator(handle.server, random.Random(7))
        )
        handle.call_sync(self.generator.seed_books)
        self._client: ZenithClient | None = None

    @property
    def url(self) -> str:
        return self.handle.url

    def tick(self, n: int, seconds: float = 0.2) -> None:
        """``n`` generator ticks (re-quotes on every symbol, some trades)."""
        for _ in range(n):
            self.handle.call_sync(self.generator.tick, seconds)

    def query(self, topic: str, data: Any) -> Any:
        async def run() -> Any:
            if self._client is None:
                self._client = ZenithClient(self.url, "demo")
                await self._client.start()
            return await self._client.request("Market", topic, data)

        return self.handle.call(run)

    def subscription_count(self, topic: str) -> int:
        return self.handle.call_sync(self.server.subscription_count, "Market", topic)

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            self.handle.call(client.close)


def md_only(ctx: Any) -> Any:
    from gateway.app.marketdata_service import MarketDataService

    return MarketDataService(ctx.client, ctx.outbox, ctx.config)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Feed:
    """Applies a FixTestClient's received W/X, in arrival order, to one :class:`FixBook` per MDReqID."""

    def __init__(self, client: Any, books: dict[str, FixBook]) -> None:
        self.client = client
        self.books = books
        self.seen = 0
        self.other: list[Any] = []  # application messages that are not W/X of a known MDReqID

    def pump(self) -> None:
        received = self.client.received
        while self.seen < len(received):
            msg = received[self.seen]
            self.seen += 1
            book = self.books.get(msg.get(262) or "") if msg.msg_type in ("W", "X") else None
            if book is None:
                self.other.append(msg)
            else:
                book.apply(msg)
