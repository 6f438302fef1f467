"""Shutdown of the FIX engine: Logout on every session, answered, services told.

Kept apart from test_fix_sessions.py: QuickFIX registers sessions process-wide, so this test's
private engine must not coexist with that module's shared one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.fix.testing import FixTestClient

if TYPE_CHECKING:
    from tests.fix.conftest import EngineGateway


def client(gw: EngineGateway, tmp_path: Path, begin: str, sender: str) -> FixTestClient:
    return FixTestClient(begin_string=begin, sender=sender, target="PLXTRA", port=gw.port,
                         tmp_path=tmp_path)


def test_clean_shutdown_sends_logout_on_every_session(own_engine_gateway: EngineGateway,
                                                      tmp_path: Path) -> None:
    gw = own_engine_gateway
    with client(gw, tmp_path, "FIX.4.4", "CLIENT1") as c1, client(gw, tmp_path, "FIX.4.2", "CLIENT2") as c2:
        c1.wait_logged_on(timeout=10)
        c2.wait_logged_on(timeout=10)
        started = time.monotonic()
        gw.stop()
        assert time.monotonic() - started < 6
        for c in (c1, c2):
            logout = c.expect("5", timeout=5, admin=True)
            assert logout.get(58) == "Gateway shutting down"
            c.wait_logged_out(timeout=5)
        assert gw.engine.logged_on() == []
    # Session events reach the services on the loop (queued before this no-op call).
    logouts = gw.run_on_loop(lambda: list(gw.service.logouts))
    assert sorted(k.target_comp_id for k in logouts) == ["CLIENT1", "CLIENT2"]
