"""An initiator session whose primary host is down logs on through its backup host."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import quickfix as fix

from gateway.app.testing import run_gateway_in_thread, write_test_config
from gateway.fix.testing import free_port

pytestmark = pytest.mark.timeout(120)


class _Venue(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.logged_on = threading.Event()

    def onCreate(self, sessionID: fix.SessionID) -> None: ...
    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.logged_on.set()
    def onLogout(self, sessionID: fix.SessionID) -> None: ...
    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...


def test_initiator_falls_back_to_its_backup_host(tmp_path: Path) -> None:
    dead_port, backup_port = free_port(), free_port()
    settings = fix.SessionSettings()
    settings.setFromString(f"""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort={backup_port}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
FileStorePath={tmp_path / "venue-store"}

[SESSION]
BeginString=FIX.4.4
SenderCompID=VENUE
TargetCompID=PLXTRA
HeartBtInt=30
""")
    venue = _Venue()
    acceptor = fix.ThreadedSocketAcceptor(venue, fix.MemoryStoreFactory(), settings,
                                          fix.ScreenLogFactory(False, False, False))
    acceptor.start()
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
