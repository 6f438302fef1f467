"""The readers on logs written by a real QuickFIX engine (acceptor + initiator on 127.0.0.1)."""
# Own CompIDs: QuickFIX registers sessions process-wide; never share IDs with a gateway test.

from __future__ import annotations

import socket
import time
from pathlib import Path

import quickfix as fix

from gateway.harness.readers import LogReader
from gateway.vocab.records import SessionKey

RAW_DATA = "a\x01b\nc"  # SOH and a newline inside RawData(96): the log line breaks in two


class _App(fix.Application):  # type: ignore[misc]  # QuickFIX names its callbacks in camelCase
    def __init__(self) -> None:
        super().__init__()
        self.logged_on = False

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.logged_on = True

    def onLogout(self, session_id: fix.SessionID) -> None:
        pass

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(path: Path, text: str) -> fix.SessionSettings:
    path.write_text(text)
    return fix.SessionSettings(str(path))


def _run_quickfix_pair(tmp_path: Path) -> None:
    port = _free_port()
    common = (
        f"StartTime=00:00:00\nEndTime=00:00:00\nFileLogPath={tmp_path / 'logs'}\n"
        f"FileStorePath={tmp_path / 'store'}\nUseDataDictionary=N\n"
    )
    acceptor_settings = _settings(
        tmp_path / "acceptor.cfg",
        f"[DEFAULT]\nConnectionType=acceptor\nSocketAcceptHost=127.0.0.1\nSocketAcceptPort={port}\n{common}"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=READACC\nTargetCompID=READINI\n",
    )
    initiator_settings = _settings(
        tmp_path / "initiator.cfg",
        f"[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n"
        f"HeartBtInt=30\nReconnectInterval=1\n{common}"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=READINI\nTargetCompID=READACC\n",
    )
    server, client = _App(), _App()
    # The factories must outlive the acceptor/initiator: QuickFIX keeps raw pointers to them.
    factories = (fix.FileStoreFactory(acceptor_settings), fix.FileLogFactory(acceptor_settings),
                 fix.FileStoreFactory(initiator_settings), fix.FileLogFactory(initiator_settings))
    # ThreadedSocketAcceptor, as the gateway uses: the single-threaded SocketAcceptor's stop()
    # called from this thread segfaulted about one run in four (QuickFIX 1.16).
    acceptor = fix.ThreadedSocketAcceptor(server, factories[0], acceptor_settings, factories[1])
    initiator = fix.SocketInitiator(client, factories[2], initiator_settings, factories[3])
    acceptor.start()
    try:
        initiator.start()
        try:
            deadline = time.monotonic() + 15
            while not (client.logged_on and server.logged_on) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.logged_on and server.logged_on, "QuickFIX sessions did not log on"
            order = fix.Message()
            order.getHeader().setField(fix.MsgType("D"))
            order.setField(fix.ClOrdID("ord-1"))
            order.setField(fix.Side("1"))
            order.setField(fix.Symbol("XS01"))
            order.setField(fix.RawDataLength(len(RAW_DATA)))
            order.setField(fix.RawData(RAW_DATA))
            assert fix.Session.sendToTarget(order, fix.SessionID("FIX.4.4", "READINI", "READACC"))
            # bounded wait until the acceptor has received and logged it, then log out
            received = tmp_path / "logs" / "FIX.4.4-READACC-READINI.messages.current.log"
            deadline = time.monotonic() + 10
            while b"\x0135=D\x01" not in received.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            initiator.stop()
    finally:
        acceptor.stop(True)   # the initiator has logged out: nothing to wait for
        del acceptor, initiator, factories   # in this order: the engines before their factories


def test_real_quickfix_logs_and_store(tmp_path: Path) -> None:
    _run_quickfix_pair(tmp_path)
    ours = tmp_path / "logs" / "FIX.4.4-READACC-READINI.messages.current.log"
    theirs = tmp_path / "logs" / "FIX.4.4-READINI-READACC.messages.current.log"
    events = sorted((tmp_path / "logs").glob("*.event.current.log"))
    reader = LogReader([ours, theirs, *events])
    records = list(reader)
    assert reader.problems == []
    assert reader.formats[str(ours)] == "quickfix"
    by_file: dict[str, list[tuple[str, str, str | None]]] = {str(ours): [], str(theirs): []}
    for r in records:
        by_file[r.file].append((r.msg_type, r.sender, r.direction))
        assert r.time is not None and r.time_text is not None
        assert r.session == SessionKey("FIX.4.4", "READACC", "READINI")
    # the acceptor's log: the order came in; the initiator's: it went out
    assert ("D", "READINI", "in") in by_file[str(ours)]
    assert ("D", "READINI", "out") in by_file[str(theirs)]
    assert [t for t, _, _ in by_file[str(ours)]][:2] == ["A", "A"]
    assert by_file[str(ours)][0] == ("A", "READINI", "in")
    assert by_file[str(ours)][1] == ("A", "READACC", "out")
    order = next(r for r in records if r.msg_type == "D")
    assert order.message.get(96) == RAW_DATA and order.message.checksum_ok

    # the initiator's store body holds what it sent, back to back, the order's newline included
    store = LogReader([tmp_path / "store" / "FIX.4.4-READINI-READACC.body"])
    sent = list(store)
    assert store.problems == []
    assert [r.msg_type for r in sent][:2] == ["A", "D"]
    assert all(r.direction == "out" for r in sent)
