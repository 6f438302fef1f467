"""FixEngine.build(): connectors constructed on a worker thread bind and connect nothing until
start(), which then uses them; connectors built and never started are freed by release().

Real QuickFIX connectors, a real acceptor port on 127.0.0.1 and a raw TCP probe of it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import quickfix as fix

from gateway.app.services import ServiceRegistry
from gateway.app.testing import demo_session, write_test_config
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig, Role
from gateway.fix.convert import session_id_of
from gateway.fix.engine import FixEngine
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.fix.testing import free_port

SESSIONS = [
    demo_session("bldacc", "FIX.4.4", "BLDACC1", ["0001"]),
    demo_session("bldini", "FIX.4.2", "BLDINI1", ["0002"], role="initiator", host="127.0.0.1", port=9),
]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[GatewayConfig, asyncio.AbstractEventLoop, GatewayApplication]]:
    path = write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", free_port(), sessions=SESSIONS)
    config = load_config(path)
    loop = asyncio.new_event_loop()
    outbox = QuickFixOutbox(lambda key: None, loop)
    try:
        yield config, loop, GatewayApplication(config, ServiceRegistry(config, outbox), loop, outbox)
    finally:
        loop.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _registered(engine: FixEngine, name: str) -> bool:
    """Whether QuickFIX's process-wide registry holds the session of ``name``."""
    keys = zip(engine.session_keys(), engine.config.sessions, strict=True)
    key = next(k for k, s in keys if s.name == name)
    return fix.Session.lookupSession(session_id_of(key)) is not None


def test_built_on_a_thread_then_started_on_the_loop(
        setup: tuple[GatewayConfig, asyncio.AbstractEventLoop, GatewayApplication]) -> None:
    config, loop, app = setup
    engine = FixEngine(config, app, loop=loop)
    engine.use_zone()
    worker = threading.Thread(target=engine.build)
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    built = dict(engine._built or {})
    assert set(built) == {Role.ACCEPTOR, Role.INITIATOR}
    # The sessions exist (created, onCreate ran)...
    assert _registered(engine, "bldacc") and _registered(engine, "bldini")
    port = config.gateway.listen_port
    assert not _listening(port)                              # ...but nothing is bound yet
    try:
        engine.start()
        assert engine._acceptor is built[Role.ACCEPTOR]      # the very connectors built before
        assert engine._initiator is built[Role.INITIATOR]
        assert _listening(port)
    finally:
        engine.stop(timeout=1.0)
        engine.release()
    assert not _registered(engine, "bldacc")


def test_built_and_never_started_is_freed_by_release(
        setup: tuple[GatewayConfig, asyncio.AbstractEventLoop, GatewayApplication]) -> None:
    config, loop, app = setup
    engine = FixEngine(config, app, loop=loop)
    engine.build()
    assert _registered(engine, "bldacc")
    engine.release()   # start-up failed elsewhere: the sessions leave QuickFIX's registry
    assert not _registered(engine, "bldacc") and not _registered(engine, "bldini")
    assert not _listening(config.gateway.listen_port)
