"""MarketDataService against the real simulator and the real ZenithClient, on one loop, with an
Outbox that records what would go to QuickFIX and reports a per-session backlog (the optional
``backlog(session)`` hook the service uses to detect slow readers).

Covers what the FIX-level tests cannot force: a session whose engine backlog stays high is not
drained, its pending structure is conflated within ``md_queue_limit``, and once it recovers the
catch-up brings its book to the simulator's exactly; and 20 sessions share one Zenith
subscription per topic with one message body built per event.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from gateway.app.marketdata_service import MarketDataService
from gateway.config.model import GatewayConfig, GatewaySettings, SessionConfig, ZenithSettings
from gateway.sim.config import load_sim_config
from gateway.sim.generator import MarketGenerator
from gateway.sim.server import SimServer
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.zenith import ZenithClient
from tests.marketdata.fixbook import FixBook, expected_levels


class RecordingOutbox:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.slow: set[SessionKey] = set()

    def send(self, msg: OutboundMessage) -> None:
        self.sent.append(msg)

    def backlog(self, session: SessionKey) -> int:
        return 10**9 if session in self.slow else 0

    def of(self, session: SessionKey) -> list[OutboundMessage]:
        return [m for m in self.sent if m.session == session]


def _session(target: str) -> SessionConfig:
    return SessionConfig(name=target, begin_string="FIX.4.4", sender_comp_id="PLXTRA", target_comp_id=target)


def _v(req_id: str, depth: int = 0) -> tuple[tuple[int, str], ...]:
    return (
        (262, req_id),
        (263, "1"),
        (264, str(depth)),
        (265, "1"),
        (266, "Y"),
        (267, "2"),
        (269, "0"),
        (269, "1"),
        (146, "1"),
        (55, "XS01"),
        (207, "XSX"),
    )


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _run(
    tmp_path: Path,
    body: Callable[..., Awaitable[None]],
    sessions: list[SessionConfig],
    queue_limit: int = 10_000,
) -> None:
    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        client = ZenithClient(sim.url, "demo")
        try:
            await client.start()
            gen = MarketGenerator(sim, random.Random(7))
            gen.seed_books()
            config = GatewayConfig(
                None, GatewaySettings(md_queue_limit=queue_limit), ZenithSettings(), tuple(sessions)
            )
            outbox = RecordingOutbox()
            service = MarketDataService(client, outbox, config)
            await body(sim, gen, client, service, outbox)
            await service.close()
        finally:
            await client.close()
            await sim.stop()

    asyncio.run(main())


def test_slow_session_conflated_then_caught_up(tmp_path: Path) -> None:
    fast_cfg, slow_cfg = _session("FAST"), _session("SLOW")
    fast = SessionKey("FIX.4.4", "PLXTRA", "FAST")
    slow = SessionKey("FIX.4.4", "PLXTRA", "SLOW")

    async def body(sim, gen, client, service, outbox) -> None:
        for key, cfg in ((fast, fast_cfg), (slow, slow_cfg)):
            service.on_logon(key, cfg)
            service.on_message(InboundMessage(key, "V", 2, _v("r")), cfg)
        await _until(lambda: len(outbox.of(slow)) == 1 and len(outbox.of(fast)) == 1, 10, "both snapshots")
        outbox.slow.add(slow)  # the engine reports the SLOW session as behind
        rng = random.Random(3)
        for _ in range(80):
            gen.fair["XS01"] += Decimal("0.01") * rng.choice([-1, 1])  # move the whole ladder
            gen.tick(0.2)
            await asyncio.sleep(0)
        await client.request("Market", "QueryMarkets")  # every publish before this is processed
        await asyncio.sleep(0.05)
        assert service.state.pending(slow) <= 8  # bounded (limit 8), not 80+ updates
        assert service.state.queues[slow].conflations > 0
        assert len(outbox.of(slow)) == 1
        outbox.slow.clear()
        want = expected_levels(
            await client.request("Market", "QueryDepthLevels", {"Market": "XSX", "Code": "XS01"})
        )
        await _until(lambda: service.state.pending(slow) == 0, 5, "slow session drained")
        books = {}
        for key in (fast, slow):
            book = FixBook(order_by_order=False)
            for m in outbox.of(key):
                book.apply(m)
            books[key] = book.book("r", "XS01")
        assert books[fast] == want and books[slow] == want
        assert len(outbox.of(slow)) < len(outbox.of(fast))  # fewer, conflated messages

    _run(tmp_path, body, [fast_cfg, slow_cfg], queue_limit=8)


def test_twenty_sessions_share_one_zenith_subscription(tmp_path: Path) -> None:
    cfgs = [_session(f"C{i:02d}") for i in range(20)]
    keys = [SessionKey("FIX.4.4", "PLXTRA", c.target_comp_id) for c in cfgs]

    async def body(sim, gen, client, service, outbox) -> None:
        for key, cfg in zip(keys, cfgs, strict=True):
            service.on_logon(key, cfg)
            service.on_message(InboundMessage(key, "V", 2, _v("md", depth=5)), cfg)
        await _until(lambda: all(outbox.of(k) for k in keys), 10, "20 snapshots")
        assert sim.subscription_count("Market", "Levels!XS01.XSX") == 1
        assert sim.subscription_count("Market", "Security!XS01.XSX") == 1
        built, sent = service.state.messages_built, len(outbox.sent)
        for _ in range(40):
            gen.tick(0.2)
            await asyncio.sleep(0)
        await client.request("Market", "QueryMarkets")
        await _until(lambda: all(service.state.pending(k) == 0 for k in keys), 5, "drained")
        new_bodies = service.state.messages_built - built
        assert 0 < new_bodies <= 40  # one body per changed event, however many sessions
        streams = []
        for k in keys:
            mine = [m for m in outbox.sent[sent:] if m.session == k]
            assert 0 < len(mine) <= new_bodies  # fanned out (merged when a session fell behind)
            streams.append([f for m in mine for f in m.fields[2:]])
        assert all(entries == streams[0] for entries in streams)  # every session got the same entries
        for key in keys[:19]:
            service.on_logout(key)
        assert sim.subscription_count("Market", "Levels!XS01.XSX") == 1
        service.on_logout(keys[19])
        await _until(lambda: sim.subscription_count("Market", "Levels!XS01.XSX") == 0, 5, "released")

    _run(tmp_path, body, cfgs)
