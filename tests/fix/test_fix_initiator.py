"""Initiator sessions: the gateway connects out, presents its credentials, and the hand-off
works in that direction too. The counterparty is a real QuickFIX acceptor on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import quickfix as fix

from gateway.app.services import ServiceRegistry
from gateway.app.testing import write_test_config
from gateway.config.dictionaries import locate_dictionaries
from gateway.config.loader import load_config
from gateway.fix.convert import key_of, to_record
from gateway.fix.engine import FixEngine, load_dictionaries
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.fix.testing import free_port
from gateway.vocab.records import InboundMessage, OutboundMessage


class Venue(fix.Application):
    """Acceptor side: records admin and application messages, answers nothing itself."""

    def __init__(self) -> None:
        super().__init__()
        self.admin: list[InboundMessage] = []
        self.app: list[InboundMessage] = []
        self.cond = threading.Condition()

    def _add(self, where: list[InboundMessage], message: fix.Message, sid: fix.SessionID) -> None:
        with self.cond:
            where.append(to_record(message, key_of(sid)))
            self.cond.notify_all()

    def onCreate(self, sid): pass
    def onLogon(self, sid): pass
    def onLogout(self, sid): pass
    def toAdmin(self, msg, sid): pass
    def toApp(self, msg, sid): pass

    def fromAdmin(self, msg, sid):
        self._add(self.admin, msg, sid)

    def fromApp(self, msg, sid):
        self._add(self.app, msg, sid)

    def wait(self, pred, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


class Sink:
    msg_types = frozenset({"8"})

    def __init__(self) -> None:
        self.logons: list[object] = []

    def on_message(self, msg, session):
        pass

    def on_logon(self, key, session):
        self.logons.append(key)

    def on_logout(self, key):
        pass


def test_initiator_logs_on_with_credentials_and_sends(tmp_path: Path) -> None:
    venue_port = free_port()
    dd = locate_dictionaries(None, needed=("FIX44.xml",)).path("FIX44.xml")
    venue_settings = fix.SessionSettings()
    venue_settings.setFromString("\n".join([
        "[DEFAULT]", "ConnectionType=acceptor", f"SocketAcceptPort={venue_port}", "NonStopSession=Y",
        f"FileLogPath={tmp_path / 'venue-log'}", f"DataDictionary={dd}", "UseDataDictionary=Y",
        "", "[SESSION]", "BeginString=FIX.4.4", "SenderCompID=VENUE1", "TargetCompID=PLXTRA",
        "HeartBtInt=30", "",
    ]))
    venue = Venue()
    venue_store, venue_log = fix.MemoryStoreFactory(), fix.FileLogFactory(venue_settings)
    acceptor = fix.ThreadedSocketAcceptor(venue, venue_store, venue_settings, venue_log)
    acceptor.start()

    cfg_path = write_test_config(tmp_path / "gw", "ws://127.0.0.1:9/Zenith", free_port(), sessions=[{
        "name": "venue1", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA", "target_comp_id": "VENUE1",
        "role": "initiator", "host": "127.0.0.1", "port": venue_port, "reset_on_logon": True,
        "credentials": {"username": "plxtra", "password": "pw-out"}, "trading": False}])
    config = load_config(cfg_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    outbox = QuickFixOutbox(load_dictionaries(config).get)
    sink = Sink()
    registry = ServiceRegistry(config, outbox, [sink])
    engine = FixEngine(config, GatewayApplication(config, registry, loop, outbox))
    try:
        engine.start()
        assert venue.wait(lambda: any(m.msg_type == "A" for m in venue.admin), 15)
        logon = next(m for m in venue.admin if m.msg_type == "A")
        assert (logon.get(553), logon.get(554), logon.get(141)) == ("plxtra", "pw-out", "Y")
        deadline = time.monotonic() + 10
        while not engine.logged_on() and time.monotonic() < deadline:
            time.sleep(0.02)
        [key] = engine.logged_on()
        assert str(key) == "FIX.4.4:PLXTRA->VENUE1"
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)   # logon event delivered
        assert sink.logons == [key]
        news = OutboundMessage.build(key, "B", [(148, "hello venue"), (33, 1), (58, "line 1")])
        loop.call_soon_threadsafe(outbox.send, news)
        assert venue.wait(lambda: any(m.get(148) == "hello venue" for m in venue.app), 10)
    finally:
        engine.stop(timeout=5)
        acceptor.stop(True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if outbox.close(5.0):
            engine.release()
