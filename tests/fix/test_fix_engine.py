"""FixEngine lifecycle errors: a clear FixEngineError, nothing left running."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.app.services import ServiceRegistry
from gateway.app.testing import write_test_config
from gateway.config.loader import load_config
from gateway.fix.engine import FixEngine
from gateway.fix.errors import FixEngineError
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import asyncio

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))   # listening: QuickFIX's wildcard bind of the same port fails
        busy.listen()
        port = busy.getsockname()[1]
        config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", port))
        outbox = QuickFixOutbox(lambda key: None)
        loop = asyncio.new_event_loop()
        try:
            app = GatewayApplication(config, ServiceRegistry(config, outbox), loop, outbox)
            engine = FixEngine(config, app)
            with pytest.raises(FixEngineError, match="failed to start"):
                engine.start()
            assert engine.logged_on() == []
            engine.stop()   # harmless after a failed start
        finally:
            loop.close()


def test_settings_restrict_acceptors_to_loopback(tmp_path: Path) -> None:
    import asyncio

    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999))
    outbox = QuickFixOutbox(lambda key: None)
    loop = asyncio.new_event_loop()
    try:
        app = GatewayApplication(config, ServiceRegistry(config, outbox), loop, outbox)
        engine = FixEngine(config, app)
        assert "\nAllowedRemoteAddresses=127.0.0.1\n" in engine.settings_text
        assert f"FileLogPath={tmp_path / 'fixlog'}" in engine.settings_text
    finally:
        loop.close()
