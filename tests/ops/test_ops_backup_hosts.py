"""An initiator session whose primary host is down logs on through its backup host."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app.testing import run_gateway_in_thread, write_test_config
from gateway.fix.testing import free_port
from tests.ops.opshelpers import start_venue

pytestmark = pytest.mark.timeout(120)


def test_initiator_falls_back_to_its_backup_host(tmp_path: Path) -> None:
    dead_port, backup_port = free_port(), free_port()
    venue, acceptor = start_venue(tmp_path, backup_port)
    try:
        session = {"name": "venue", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                   "target_comp_id": "VENUE", "role": "initiator", "host": "127.0.0.1", "port": dead_port,
                   "backup_hosts": [{"host": "127.0.0.1", "port": backup_port}], "heartbeat_interval": 30,
                   "trading": False, "reset_on_logon": True}
        cfg = write_test_config(tmp_path, "embedded", free_port(), sessions=[session], message_store="memory")
        with run_gateway_in_thread(cfg):
            # The primary refuses at once; QuickFIX tries the next host at the next reconnect (5 s).
            assert venue.logged_on.wait(30), "never logged on through the backup host"
    finally:
        acceptor.stop(True)
