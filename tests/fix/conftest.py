"""An engine-level gateway for FIX tests: real QuickFIX acceptor on 127.0.0.1, the real
hand-off and registry, and a small echo service instead of Zenith-backed services (these
tests are about the engine, not about orders)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.app.services import ServiceRegistry
from gateway.app.testing import DEMO_SESSIONS, write_test_config
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.fix.engine import FixEngine, load_dictionaries
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.fix.loop_driver import LoopDriver
from gateway.fix.testing import free_port
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey

EXTRA_SESSIONS = (
    {"name": "secure", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA", "target_comp_id": "SECURE",
     "credentials": {"username": "secure-user", "password": "s3cret"}, "trading": True,
     "accounts": ["0005"]},
    {"name": "noreset", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA", "target_comp_id": "NORESET",
     "accept_reset_seq_num_flag": False, "accounts": ["0006"]},
    {"name": "raw", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA", "target_comp_id": "RAWCLI",
     "accounts": ["0007"]},
)


class EchoService:
    """Answers D with an ExecutionReport (with a Parties group) and V with a snapshot W
    (with an MDEntries group); ClOrdID / MDReqID starting with ``boom`` raises."""

    msg_types = frozenset({"D", "V"})

    def __init__(self, outbox: QuickFixOutbox) -> None:
        self.outbox = outbox
        self.messages: list[InboundMessage] = []
        self.threads: set[str] = set()             # where on_message ran
        self.busy_when_sending: list[bool] = []     # QuickFIX inside a poll when an answer was sent
        self.logons: list[SessionKey] = []
        self.logouts: list[SessionKey] = []

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None:
        self.messages.append(msg)
        self.threads.add(threading.current_thread().name)
        self.busy_when_sending.append(LoopDriver.for_loop(asyncio.get_running_loop()).busy)
        if msg.msg_type == "D":
            cl_ord_id = msg.get(11) or ""
            if cl_ord_id.startswith("boom"):
                raise RuntimeError("service bug on purpose")
            fields: list[tuple[int, object]] = [
                (37, f"O-{cl_ord_id}"), (11, cl_ord_id), (17, f"E-{cl_ord_id}"), (150, "0"), (39, "0"),
                (55, msg.get(55)), (54, msg.get(54)), (38, msg.get(38)), (151, msg.get(38)), (14, 0), (6, 0),
            ]
            if msg.session.begin_string == "FIX.4.2":
                fields.append((20, "0"))   # ExecTransType, required in 4.2
            else:
                fields += [(453, 2), (448, "XS:0001"), (447, "D"), (452, 24),
                           (448, "PLXTRA"), (447, "D"), (452, 1)]
            self.outbox.send(OutboundMessage.build(msg.session, "8", fields))
        else:
            req_id = msg.get(262) or ""
            if req_id.startswith("boom"):
                raise RuntimeError("service bug on purpose")
            # QuickFIX's FIX50SP2.xml makes LastUpdateTime(779) required in W.
            stamp = "20260101-00:00:00.000" if msg.session.begin_string == "FIXT.1.1" else None
            self.outbox.send(OutboundMessage.build(msg.session, "W", [
                (262, req_id), (55, msg.get(55)), (779, stamp), (268, 3),
                (269, "0"), (270, "10.19"), (271, "500"),
                (269, "1"), (270, "10.21"), (271, "300"),
                (269, "2"), (270, "10.20"), (271, "100"),
            ]))

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None:
        self.logons.append(key)

    def on_logout(self, key: SessionKey) -> None:
        self.logouts.append(key)


@dataclass
class EngineGateway:
    config: GatewayConfig
    port: int
    loop: asyncio.AbstractEventLoop
    outbox: QuickFixOutbox
    registry: ServiceRegistry
    service: EchoService
    app: GatewayApplication
    engine: FixEngine
    thread: threading.Thread
    stopped: bool = field(default=False)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.outbox.drain(2.0)
            self.engine.stop(timeout=5.0)
            if self.outbox.close(5.0):
                self.engine.release()

    def run_on_loop(self, fn, *args, timeout: float = 5.0):  # type: ignore[no-untyped-def]
        async def call():  # type: ignore[no-untyped-def]
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)


def start_engine_gateway(tmp_path: Path, message_store: str = "memory") -> EngineGateway:
    port = free_port()
    cfg_path = write_test_config(tmp_path, zenith_url="ws://127.0.0.1:9/Zenith", fix_port=port,
                                 sessions=[*DEMO_SESSIONS, *EXTRA_SESSIONS], message_store=message_store)
    config = load_config(cfg_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-loop", daemon=True)
    thread.start()
    outbox = QuickFixOutbox(load_dictionaries(config).get, loop)
    service = EchoService(outbox)
    registry = ServiceRegistry(config, outbox, [service])
    app = GatewayApplication(config, registry, loop, outbox)
    engine = FixEngine(config, app)
    engine.start()
    return EngineGateway(config, port, loop, outbox, registry, service, app, engine, thread)


@contextlib.contextmanager
def engine_gateway_running(tmp_path: Path) -> Iterator[EngineGateway]:
    gw = start_engine_gateway(tmp_path)
    try:
        yield gw
    finally:
        gw.stop()
        gw.loop.call_soon_threadsafe(gw.loop.stop)
        gw.thread.join(5)
        if not gw.thread.is_alive():
            gw.loop.close()


@pytest.fixture(scope="module")
def engine_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineGateway]:
    """One engine per test module (loading FIX50SP2.xml alone takes about a second)."""
    with engine_gateway_running(tmp_path_factory.mktemp("gw")) as gw:
        yield gw


@pytest.fixture
def own_engine_gateway(tmp_path: Path) -> Iterator[EngineGateway]:
    """A private engine, for tests that stop it."""
    with engine_gateway_running(tmp_path / "gw") as gw:
        yield gw
