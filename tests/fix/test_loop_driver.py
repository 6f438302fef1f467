"""QuickFIX driven from the asyncio loop: no QuickFIX thread, sockets registered with the loop,
callbacks on the loop thread, QuickFIX's timer work (heartbeats) on the driver's tick, and the
inbound journal written before QuickFIX counts a message as received.

Kept in its own module with a private engine per test: QuickFIX registers sessions process-wide.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import quickfix as fix

from gateway.fix.convert import session_id_of
from gateway.fix.loop_driver import LoopDriver
from gateway.fix.testing import FixTestClient, utc_timestamp
from gateway.harness.codec import FixParser
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.wire import build_message

if TYPE_CHECKING:
    from tests.fix.conftest import EngineGateway

CLIENT1 = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")


def _order(cl_ord_id: str) -> list[tuple[int, str]]:
    return [(11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "100"), (40, "2"),
            (44, "10.00"), (59, "0"), (60, "<now>")]


def _driver(gw: EngineGateway) -> LoopDriver:
    return LoopDriver.for_loop(gw.loop)


def _local_port(fd: int) -> int | None:
    """The local port of socket ``fd`` (None for a socketpair or non-socket)."""
    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
        return None
    probe = socket.socket(fileno=os.dup(fd))
    try:
        name = probe.getsockname()
        return name[1] if isinstance(name, tuple) else None
    finally:
        probe.close()


def _peer_port(fd: int) -> int | None:
    probe = socket.socket(fileno=os.dup(fd))
    try:
        peer = probe.getpeername()
    except OSError:
        return None
    else:
        return peer[1] if isinstance(peer, tuple) else None   # a socketpair has no port
    finally:
        probe.close()


def test_sockets_are_registered_with_the_loop_and_callbacks_run_on_it(own_engine_gateway: EngineGateway,
                                                                       tmp_path: Path) -> None:
    gw = own_engine_gateway
    watched = gw.run_on_loop(lambda: dict(_driver(gw).watched))
    # The listening socket (read) and QuickFIX's internal signal socket are watched from the start.
    assert [fd for fd, mode in watched.items() if _local_port(fd) == gw.port] != []
    before = {t.name for t in threading.enumerate()}
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
        c.wait_logged_on(10)
        c.send("D", _order("loop-1"))
        c.expect("8", timeout=10, where={11: "loop-1"})
        watched = gw.run_on_loop(lambda: dict(_driver(gw).watched))
        # The accepted connection (same local port as the listener, with a peer) is watched for reading.
        [conn] = [fd for fd in watched if _local_port(fd) == gw.port and _peer_port(fd) is not None]
        assert watched[conn] & 1
        client_port = _peer_port(conn)
        # The gateway side started no thread for the connection: only the client's appear.
        gateway_threads = {t.name for t in threading.enumerate()} - before
        assert not [n for n in gateway_threads if n.startswith(("fix-writer", "Thread-"))
                    and "client" not in n.lower()], gateway_threads
    assert {m.msg_type for m in gw.service.messages} >= {"D"}
    assert gw.service.threads == {"test-loop"}
    # The connection is gone from the loop once the client went away.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        watched = gw.run_on_loop(lambda: dict(_driver(gw).watched))
        if not [fd for fd in watched if _peer_port(fd) == client_port]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("closed connection still registered with the loop")


def test_heartbeats_come_from_the_tick_on_an_idle_session(own_engine_gateway: EngineGateway,
                                                          tmp_path: Path) -> None:
    """No traffic at all: only the driver's timer can make QuickFIX send Heartbeats and TestRequests."""
    gw = own_engine_gateway
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    try:
        header = [(49, "RAWCLI"), (56, "PLXTRA"), (34, "1"), (52, utc_timestamp())]
        sock.sendall(build_message("FIX.4.4", "A", header, [(98, "0"), (108, "1"), (141, "Y")]).encode())
        parser = FixParser()
        types: list[str] = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not {"0", "1"} <= set(types):
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            parser.feed(chunk)
            while (msg := parser.next()) is not None:
                types.append(msg.msg_type)
        # A Heartbeat after 1 s of silence, then a TestRequest as we answer nothing: timer work only.
        assert types[0] == "A" and {"0", "1"} <= set(types), types
    finally:
        sock.close()


class _SeqJournal:
    """Records, for each append, QuickFIX's expected inbound MsgSeqNum at that moment."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def append(self, record: InboundMessage) -> None:
        session = fix.Session.lookupSession(session_id_of(record.session))
        self.seen.append((record.msg_seq_num, session.getExpectedTargetNum()))


def test_the_journal_append_happens_before_quickfix_counts_the_message(own_engine_gateway: EngineGateway,
                                                                       tmp_path: Path) -> None:
    gw = own_engine_gateway
    journal = _SeqJournal()
    gw.app._journal = journal
    gw.app._journal_types = frozenset({"D"})
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
        c.wait_logged_on(10)
        for i in range(3):
            c.send("D", _order(f"j-{i}"))
        for i in range(3):
            c.expect("8", timeout=10, where={11: f"j-{i}"})
    assert len(journal.seen) == 3
    # QuickFIX still expects the very MsgSeqNum being journaled: it increments after fromApp.
    assert all(seq == expected for seq, expected in journal.seen), journal.seen


def test_a_send_from_inside_from_app_waits_for_the_end_of_the_poll(own_engine_gateway: EngineGateway,
                                                                   tmp_path: Path) -> None:
    gw = own_engine_gateway
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
        c.wait_logged_on(10)
        c.send("D", _order("inside-1"))
        c.expect("8", timeout=10, where={11: "inside-1"})
    # The echo service sent while QuickFIX was inside fromApp; the outbox held it for the poll's end.
    assert gw.service.busy_when_sending and all(gw.service.busy_when_sending)
    assert gw.outbox.total_backlog() == 0


def test_a_message_in_the_same_read_as_the_logon_is_handled_at_once(
        own_engine_gateway: EngineGateway) -> None:
    """QuickFIX's polled acceptor connection used to handle only the Logon of its first read and
    leave the rest in its buffer until the partner sent again (deploy/patch-quickfix.py)."""
    gw = own_engine_gateway
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        def header(seq: int) -> list[tuple[int, str]]:
            return [(49, "RAWCLI"), (56, "PLXTRA"), (34, str(seq)), (52, utc_timestamp())]
        logon = build_message("FIX.4.4", "A", header(1), [(98, "0"), (108, "30"), (141, "Y")])
        order = build_message("FIX.4.4", "D", header(2),
                              [(11, "piped-1"), (1, "0007"), (55, "XS01"), (54, "1"), (38, "100"), (40, "1"),
                               (60, utc_timestamp())])
        sock.sendall((logon + order).encode())   # one segment: one read on the gateway side
        parser = FixParser()
        got: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "8" not in got:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            parser.feed(chunk)
            while (msg := parser.next()) is not None:
                got.append(msg.msg_type)
        assert got[:1] == ["A"] and "8" in got, got
