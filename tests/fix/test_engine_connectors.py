"""FixEngine with both roles: one SessionSettings per connector, each holding only its own
sessions, verified before any connector is built; a wrong text is a clear FixEngineError."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app.services import ServiceRegistry
from gateway.app.testing import demo_session, write_test_config
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig, Role
from gateway.config.quickfix_settings import render_connector_settings
from gateway.fix.engine import FixEngine
from gateway.fix.errors import FixEngineError
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.fix.testing import free_port

SESSIONS = [
    demo_session("engacc", "FIX.4.4", "ENGACC1", ["0001"]),
    demo_session("engini", "FIX.4.2", "ENGINI1", ["0002"], role="initiator", host="127.0.0.1", port=9),
]


@pytest.fixture
def mixed(tmp_path: Path) -> Iterator[tuple[GatewayConfig, GatewayApplication]]:
    path = write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", free_port(), sessions=SESSIONS)
    config = load_config(path)
    outbox = QuickFixOutbox(lambda key: None)
    loop = asyncio.new_event_loop()
    try:
        yield config, GatewayApplication(config, ServiceRegistry(config, outbox), loop, outbox)
    finally:
        loop.close()


def test_each_connector_gets_only_its_sessions(mixed: tuple[GatewayConfig, GatewayApplication]) -> None:
    config, app = mixed
    engine = FixEngine(config, app)
    assert engine.has_acceptor_sessions and engine.has_initiator_sessions
    assert list(engine.settings) == [Role.ACCEPTOR, Role.INITIATOR]
    [acc] = engine.settings[Role.ACCEPTOR].getSessions()
    [ini] = engine.settings[Role.INITIATOR].getSessions()
    assert (acc.toString(), ini.toString()) == ("FIX.4.4:PLXTRA->ENGACC1", "FIX.4.2:PLXTRA->ENGINI1")
    assert engine.settings[Role.ACCEPTOR].get(acc).has("SocketAcceptPort")
    assert engine.settings[Role.INITIATOR].get(ini).getInt("SocketConnectPort") == 9
    assert "ENGACC1" in engine.settings_text and "ENGINI1" in engine.settings_text


def test_a_text_mixing_roles_is_refused_before_anything_starts(
        mixed: tuple[GatewayConfig, GatewayApplication]) -> None:
    config, app = mixed
    texts = render_connector_settings(config)
    both = texts[Role.ACCEPTOR] + "\n" + texts[Role.INITIATOR].split("\n\n", 1)[1]
    with pytest.raises(FixEngineError, match="ENGINI1 lacks SocketAcceptPort"):
        FixEngine(config, app, {Role.ACCEPTOR: both, Role.INITIATOR: texts[Role.INITIATOR]})
