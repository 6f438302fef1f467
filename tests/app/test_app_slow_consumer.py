"""End to end over real FIX: a market-data subscriber that stops reading is conflated, the
others keep their full feed, and the slow one catches up to the same book once it reads again.

The production gateway (QuickFIX acceptor, per-session writers, MarketDataService, Zenith
client) runs against the simulator. The slow client is a raw socket with a tiny receive
window; 12 MB of News queued to it first make its writer block for real, so the outbox's
``backlog`` is what tells the market-data service to stop feeding it.
"""

from __future__ import annotations

import random
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.app.testing import DEMO_SESSIONS, demo_session, run_gateway_in_thread, write_test_config
from gateway.fix.testing import FixTestClient, free_port, utc_timestamp
from gateway.harness.codec import FixMessage, FixParser
from gateway.sim.config import load_sim_config
from gateway.sim.generator import MarketGenerator
from gateway.sim.testing import run_sim_in_thread
from gateway.vocab.records import OutboundMessage, SessionKey
from gateway.vocab.wire import build_message
from tests.marketdata.fixbook import FixBook

SLOW = SessionKey("FIX.4.4", "PLXTRA", "SLOWMD")
LIMIT = 50
FILLER = 3000   # x 4 KB News: more than both socket buffers hold, so the slow writer blocks

V_BODY = [(262, "r"), (263, "1"), (264, "0"), (265, "1"), (266, "Y"), (267, "2"), (269, "0"), (269, "1"),
          (146, "1"), (55, "XS01"), (207, "XSX")]


class SlowClient:
    """Raw FIX 4.4 client: logs on, subscribes, reads the snapshot, then reads only when told."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # before connect: small window
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.parser = FixParser()
        self.seq = 0
        self.got: list[FixMessage] = []

    def send(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self.seq += 1
        header = [(49, "SLOWMD"), (56, "PLXTRA"), (34, str(self.seq)), (52, utc_timestamp())]
        self.sock.sendall(build_message("FIX.4.4", msg_type, header, body).encode())

    def read_until(self, done: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.parser.feed(chunk)
            while (msg := self.parser.next()) is not None:
                self.got.append(msg)
        return bool(done())

    def of(self, msg_type: str) -> list[FixMessage]:
        return [m for m in self.got if m.msg_type == msg_type]


def _book(messages: list[Any]) -> dict[str, Any]:
    book = FixBook(order_by_order=False)
    for m in messages:
        if m.msg_type in ("W", "X"):
            book.apply(m)
    return book.book("r", "XS01")


def _stable_backlog(gw: Any, key: SessionKey, timeout: float = 15) -> int:
    last, deadline = -1, time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = gw.gateway.outbox.backlog(key)
        if now == last and now > LIMIT:
            return now
        last = now
        time.sleep(0.3)
    raise AssertionError(f"slow writer never blocked (backlog {gw.gateway.outbox.backlog(key)})")


def test_slow_subscriber_is_conflated_and_catches_up(tmp_path: Path) -> None:
    sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
    with run_sim_in_thread(sim_cfg) as sim:
        gen = sim.call_sync(lambda: MarketGenerator(sim.server, random.Random(7)))
        sim.call_sync(gen.seed_books)
        sessions = [DEMO_SESSIONS[0], demo_session("slowmd", "FIX.4.4", "SLOWMD", ["0005"])]
        cfg_path = write_test_config(tmp_path, zenith_url=sim.url, fix_port=free_port(), sessions=sessions,
                                     gateway={"md_queue_limit": LIMIT})
        with run_gateway_in_thread(cfg_path) as gw, \
                FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as fast:
            fast.wait_logged_on(10)
            slow = SlowClient(gw.port)
            try:
                slow.send("A", [(98, "0"), (108, "30"), (141, "Y")])
                assert slow.read_until(lambda: slow.of("A"), 10)
                slow.send("V", V_BODY)
                fast.send("V", V_BODY)
                assert slow.read_until(lambda: slow.of("W"), 10)
                fast.expect("W", timeout=10, where={262: "r"})

                def fill() -> None:
                    for i in range(FILLER):
                        gw.gateway.outbox.send(OutboundMessage.build(
                            SLOW, "B", [(148, f"filler-{i}"), (33, 1), (58, "x" * 4000)]))
                gw.call(fill)
                blocked = _stable_backlog(gw, SLOW)

                service = next(s for s in gw.gateway.registry.services
                               if type(s).__name__ == "MarketDataService")
                rng = random.Random(3)

                def tick() -> None:
                    gen.fair["XS01"] += Decimal("0.01") * rng.choice([-1, 1])   # moves the whole ladder
                    gen.tick(0.2)
                for _ in range(80):
                    sim.call_sync(tick)
                # The healthy subscriber gets its feed while the slow one's writer is blocked ...
                assert fast.expect("X", timeout=10, where={262: "r"})
                pending = gw.call(lambda: service.state.pending(SLOW))
                conflations = gw.call(lambda: service.state.queues[SLOW].conflations)
                # ... and the service keeps the slow session's updates to itself, conflated.
                assert conflations > 0, "no conflation for the slow session"
                assert pending <= LIMIT
                assert gw.gateway.outbox.backlog(SLOW) == blocked   # nothing more handed to its writer

                # The slow partner reads again: its book converges on the healthy session's.
                def settled() -> bool:
                    want = _book(list(fast.received))
                    return bool(want) and _book(slow.got) == want and gw.gateway.outbox.backlog(SLOW) == 0
                assert slow.read_until(settled, 30), "slow session never caught up"
                assert len(slow.of("B")) == FILLER
                assert 0 < len(slow.of("X")) < len([m for m in fast.received if m.msg_type == "X"])
            finally:
                slow.sock.close()
