"""The outbox on the loop thread: a partner that stops reading delays only itself (QuickFIX's polled
connection queues its bytes and the loop waits for its socket to be writable); on_sent, backlog,
logout, and what shutdown reports."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.fix.loop_driver import LoopDriver
from gateway.fix.testing import FixTestClient, utc_timestamp
from gateway.harness.codec import FixParser
from gateway.vocab.records import OutboundMessage, SessionKey
from gateway.vocab.wire import build_message

if TYPE_CHECKING:
    from tests.fix.conftest import EngineGateway

SLOW = SessionKey("FIX.4.4", "PLXTRA", "RAWCLI")
HEALTHY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
FLOOD = 3000            # x ~4 KB: far more than the socket buffers of both ends can hold
PAD = "x" * 4000


class Recorder:
    """on_sent results with the thread they ran on."""

    def __init__(self) -> None:
        self.results: dict[str, bool] = {}
        self.threads: set[str] = set()
        self.done = threading.Event()
        self.expected = 0

    def callback(self, name: str):  # type: ignore[no-untyped-def]
        def on_sent(ok: bool) -> None:
            self.results[name] = ok
            self.threads.add(threading.current_thread().name)
            if len(self.results) >= self.expected:
                self.done.set()
        return on_sent


def _slow_logon(port: int) -> socket.socket:
    """A raw FIX client with a tiny receive buffer that reads the Logon answer, then nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # before connect: caps the window
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    header = [(49, "RAWCLI"), (56, "PLXTRA"), (34, "1"), (52, utc_timestamp())]
    sock.sendall(build_message("FIX.4.4", "A", header, [(98, "0"), (108, "30"), (141, "Y")]).encode())
    parser = FixParser()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        parser.feed(sock.recv(4096))
        msg = parser.next()
        if msg is not None:
            assert msg.msg_type == "A", msg
            return sock
    raise AssertionError("no Logon answer")


def _read_all(sock: socket.socket, count: int, timeout: float) -> list[tuple[int, str]]:
    """(MsgSeqNum, ExecID) of the next ``count`` ExecutionReports, reading at full speed."""
    parser = FixParser()
    got: list[tuple[int, str]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            break
        if not chunk:
            break
        parser.feed(chunk)
        while (msg := parser.next()) is not None:
            if msg.msg_type == "8":
                got.append((int(msg.get(34) or 0), msg.get(17) or ""))
    return got


def _flood(gw: EngineGateway, recorder: Recorder | None = None) -> None:
    def send_all() -> None:   # on the loop: only queues, so it returns at once
        for i in range(FLOOD):
            msg = OutboundMessage.build(SLOW, "8", [(37, "O-1"), (17, f"slow-{i}"), (150, "0"), (39, "0"),
                                                    (55, "XS01"), (54, "1"), (151, 100), (14, 0), (6, 0),
                                                    (58, PAD)])
            gw.outbox.send(msg, on_sent=recorder.callback(f"slow-{i}") if recorder else None)
    gw.run_on_loop(send_all, timeout=10)


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _backlog(gw: EngineGateway, key: SessionKey) -> int:
    """The outbox's backlog, read on the loop (QuickFIX's connections live there)."""
    return gw.run_on_loop(lambda: gw.outbox.backlog(key))


def _writers(gw: EngineGateway) -> list[int]:
    """Sockets the loop watches for writability (a connection whose send queue is not empty)."""
    driver = LoopDriver.for_loop(gw.loop)
    fds, counted = gw.run_on_loop(
        lambda: ([fd for fd, mode in driver.watched.items() if mode & 2], driver.writing))
    # The outbox asks a connection's queue only while the driver counts a socket waited on.
    assert counted == len(fds)
    return fds


def _stuck(gw: EngineGateway) -> int:
    """Wait until the slow session's queue stops draining; its backlog then."""
    last = -1
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _backlog(gw, SLOW)
        if now == last and now > 0:
            return now
        last = now
        time.sleep(0.3)
    raise AssertionError(f"slow session never blocked (backlog {_backlog(gw, SLOW)})")


# Tests with a private engine come before the module's shared one is created: QuickFIX registers
# sessions process-wide, so two live engines with the same session IDs would share their sessions.
def test_a_partner_that_stops_reading_delays_only_itself(own_engine_gateway: EngineGateway,
                                                         tmp_path: Path) -> None:
    gw = own_engine_gateway
    sock = _slow_logon(gw.port)
    try:
        _flood(gw)
        blocked = _stuck(gw)
        assert 0 < blocked < FLOOD
        # Accepted by QuickFIX, waiting in its connection: the loop watches that socket for writing.
        assert len(_writers(gw)) == 1
        assert gw.outbox.total_backlog() == 0

        with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
            c.wait_logged_on(10)
            # Orders keep working while the slow session's bytes wait for its window to open.
            for i in range(20):
                c.send("D", [(11, f"ord-{i}"), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"),
                             (38, "100"), (40, "2"), (44, "10.00"), (59, "0"), (60, "<now>")])
            for i in range(20):
                c.expect("8", timeout=10, where={11: f"ord-{i}"})

            # And a burst to the healthy session arrives whole.
            recorder = Recorder()
            recorder.expected = 2000

            def burst() -> None:
                for i in range(2000):
                    news = OutboundMessage.build(HEALTHY, "B", [(148, f"news-{i}"), (33, 1), (58, "l")])
                    gw.outbox.send(news, on_sent=recorder.callback(f"news-{i}"))
            gw.run_on_loop(burst)
            assert recorder.done.wait(20), f"{len(recorder.results)} on_sent of 2000"
            assert all(recorder.results.values())
            assert recorder.threads == {"test-loop"}
            assert _wait(lambda: len([m for m in c.received if m.msg_type == "B"]) == 2000, 20)
            heads = [m.get(148) for m in c.received if m.msg_type == "B"]
            assert heads == [f"news-{i}" for i in range(2000)]
            # Fill reports of the 20 orders may still be on their way: wait, bounded, for the queue to empty.
            assert _wait(lambda: _backlog(gw, HEALTHY) == 0, 10), _backlog(gw, HEALTHY)

            # Still blocked: the healthy traffic did not need the slow partner to move.
            assert _backlog(gw, SLOW) == blocked

            # A full queue refuses at once with on_sent(False); it never waits.
            gw.outbox.queue_limit = blocked
            refused = Recorder()
            refused.expected = 1
            refused_before = gw.outbox.refused
            gw.run_on_loop(lambda: gw.outbox.send(
                OutboundMessage.build(SLOW, "B", [(148, "late"), (33, 1), (58, "l")]),
                on_sent=refused.callback("late")))
            assert refused.done.wait(5) and refused.results == {"late": False}
            assert gw.outbox.refused == refused_before + 1
            assert _backlog(gw, SLOW) == blocked
            gw.outbox.queue_limit = 50_000

        # The slow partner reads again: everything arrives, in order, without gaps.
        got = _read_all(sock, FLOOD, 30)
        assert [e for _, e in got] == [f"slow-{i}" for i in range(FLOOD)]
        seqs = [s for s, _ in got]
        assert seqs == list(range(seqs[0], seqs[0] + FLOOD))
        assert _wait(lambda: _backlog(gw, SLOW) == 0, 5)
        # Caught up: the loop no longer waits for its socket to be writable.
        assert _wait(lambda: _writers(gw) == [], 5)
    finally:
        sock.close()


def test_close_refuses_new_sends_and_never_waits(own_engine_gateway: EngineGateway) -> None:
    """Messages QuickFIX accepted for a partner that is not reading are numbered and stored (sent
    on its ResendRequest after the next logon): on_sent(True). Once the outbox is closed (at
    shutdown, after the engine stopped) sends are refused at once with on_sent(False)."""
    gw = own_engine_gateway
    sock = _slow_logon(gw.port)
    try:
        recorder = Recorder()
        recorder.expected = FLOOD
        _flood(gw, recorder)
        assert _stuck(gw) > 0
        assert recorder.done.wait(10) and all(recorder.results.values())
        gw.engine.stop(timeout=1)   # closes the slow connection with its queue
        started = time.monotonic()
        assert gw.outbox.close(timeout=5) is True
        assert time.monotonic() - started < 0.5
        late = Recorder()
        late.expected = 1
        gw.run_on_loop(lambda: gw.outbox.send(OutboundMessage.build(SLOW, "B", [(148, "x"), (33, 1)]),
                                              on_sent=late.callback("after-close")))
        assert late.done.wait(5) and late.results == {"after-close": False}
        assert late.threads == {"test-loop"}
        gw.engine.release()
        gw.stopped = True
    finally:
        sock.close()


def test_on_sent_reports_what_quickfix_did(engine_gateway: EngineGateway, tmp_path: Path) -> None:
    gw = engine_gateway
    recorder = Recorder()
    recorder.expected = 3
    news = [(148, "hello"), (33, 1), (58, "l")]
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
        c.wait_logged_on(10)

        def send() -> None:
            gw.outbox.send(OutboundMessage.build(HEALTHY, "B", news), on_sent=recorder.callback("logged-on"))
            # Configured but not logged on: QuickFIX numbers and stores it (sent on a ResendRequest
            # after the next logon) and says True; only a reset pending would make it refuse.
            gw.outbox.send(OutboundMessage.build(SessionKey("FIX.4.2", "PLXTRA", "CLIENT2"), "B", news),
                           on_sent=recorder.callback("not-logged-on"))
            gw.outbox.send(OutboundMessage.build(SessionKey("FIX.4.4", "PLXTRA", "NOBODY"), "B", news),
                           on_sent=recorder.callback("unknown"))
        gw.run_on_loop(send)
        assert recorder.done.wait(10), recorder.results
        assert recorder.results == {"logged-on": True, "not-logged-on": True, "unknown": False}
        assert recorder.threads == {"test-loop"}
        c.expect("B", timeout=5, where={148: "hello"})


def test_logout_ends_the_session_with_the_given_text(engine_gateway: EngineGateway, tmp_path: Path) -> None:
    gw = engine_gateway
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
        c.wait_logged_on(10)

        def send_then_logout() -> None:
            gw.outbox.send(OutboundMessage.build(HEALTHY, "B", [(148, "before"), (33, 1), (58, "l")]))
            gw.outbox.logout(HEALTHY, "Throttle limit exceeded")
        gw.run_on_loop(send_then_logout)
        c.wait_logged_out(10)
        assert c.expect("B", timeout=1, where={148: "before"})   # queued first, sent first
        logout = c.expect("5", timeout=1, admin=True)
        assert logout.get(58) == "Throttle limit exceeded"


def test_after_a_logout_the_partner_can_log_on_again(engine_gateway: EngineGateway, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """QuickFIX's Session::logout also disables the session; the outbox enables it again once the
    partner is gone, so a throttle logout ends one connection, not the partnership. A burst of
    logout requests gives one Logout and one log line."""
    gw = engine_gateway
    key = SessionKey("FIX.4.2", "PLXTRA", "CLIENT2")
    caplog.set_level(logging.INFO, logger="gateway.fix.handoff")
    with FixTestClient(begin_string="FIX.4.2", sender="CLIENT2", port=gw.port, tmp_path=tmp_path) as c:
        c.wait_logged_on(10)

        def burst() -> None:
            for _ in range(50):
                gw.outbox.logout(key, "Message rate limit exceeded")
        gw.run_on_loop(burst)
        c.wait_logged_out(10)
        assert c.expect("5", timeout=1, admin=True).get(58) == "Message rate limit exceeded"
        # The client's initiator reconnects by itself (ReconnectInterval=1): the gateway accepts it.
        c.wait_logged_on(10)
        assert c.logons == 2
        c.send("D", [(11, "after-relogon"), (21, "1"), (55, "XS01"), (54, "1"), (38, "5"), (40, "1"),
                     (60, "<now>")])
        c.expect("8", timeout=5, where={11: "after-relogon"})
        logouts = [r for r in caplog.records if r.getMessage().startswith("logging out")]
        assert len(logouts) == 1, [r.getMessage() for r in logouts]
        # A second logout episode works the same way (the state was cleared, not left behind).
        gw.run_on_loop(lambda: gw.outbox.logout(key, "again"))
        assert _wait(lambda: c.logons == 3, 15), c.logons
