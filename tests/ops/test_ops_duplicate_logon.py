"""A second connection logging on to a session that is already logged on: QuickFIX C++ 1.16's
polled SocketConnection drops the newcomer at once (the threaded one waited up to 5 s for the
session to free up); the first partner is undisturbed.

Stock QuickFIX gives no callback and writes no log line for that drop; our build of it
(deploy/build-quickfix-ssl.sh) writes the GLOBAL log event ``gateway.ops.events.DUPLICATE_LOGON``,
which the gateway turns into a session event line and a metric (README "Operations: known
limits")."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
import quickfix as fix
from prometheus_client.parser import text_string_to_metric_families

from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import FixTestClient, free_port
from gateway.ops.events import DUPLICATE_LOGON, SessionWatch
from gateway.ops.fixlog import GatewayLogFactory
from gateway.ops.metrics import GatewayMetrics, LiveSources
from tests.ops.opshelpers import api, buy, write_admin_config

pytestmark = pytest.mark.timeout(120)


def _logon(sender: str, target: str) -> bytes:
    msg = fix.Message()
    header = msg.getHeader()
    header.setField(fix.BeginString("FIX.4.4"))
    header.setField(fix.MsgType("A"))
    header.setField(fix.SenderCompID(sender))
    header.setField(fix.TargetCompID(target))
    header.setField(fix.MsgSeqNum(1))
    header.setField(52, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()))
    msg.setField(98, "0")
    msg.setField(108, "30")
    msg.setField(141, "Y")
    return msg.toString().encode()


def test_a_second_connection_with_the_same_compids_is_refused_and_the_first_trades_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    fix_port = free_port()
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    with run_gateway_in_thread(cfg), FixTestClient(port=fix_port, tmp_path=tmp_path / "first") as first:
        first.wait_logged_on(timeout=10)
        # The second client is a plain socket: one process can hold only one QuickFIX session per ID.
        with socket.create_connection(("127.0.0.1", fix_port), timeout=10) as second:
            second.sendall(_logon("CLIENT1", "PLXTRA"))
            started = time.monotonic()
            received = b""
            while chunk := second.recv(4096):   # until the gateway closes the connection
                received += chunk
            held = time.monotonic() - started
        assert received == b""          # no Logon answer, no Logout: dropped
        assert held < 9, held           # the polled acceptor drops it at once (the threaded one waited 5 s)
        # Reported: the session event line in the gateway's log, and the metric.
        deadline = time.monotonic() + 5
        while not [r for r in caplog.records if "duplicate logon refused" in r.getMessage()]:
            assert time.monotonic() < deadline, "no duplicate-logon line in the gateway log"
            time.sleep(0.05)
        refused = [s.value for family in text_string_to_metric_families(api(admin_port, "GET", "/metrics")[1])
                   for s in family.samples if s.name == "plxtra_fix_logons_refused_total"
                   and s.labels == {"session": "client1", "reason": "duplicate"}]
        assert refused == [1.0]
        assert first.logged_on and first.logons == 1 and first.logouts == 0
        first.send("D", buy("dup-1", price="1.00"))
        first.expect("8", timeout=10, where={11: "dup-1", 150: "0"})
        assert api(admin_port, "GET", "/sessions/client1")[1]["state"] == "logged_on"


def test_the_duplicate_logon_event_writes_the_session_line_and_counts(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    from gateway.config.model import LogSettings

    metrics = GatewayMetrics(LiveSources())
    watch = SessionWatch({"FIX.4.4:PLXTRA->CLIENT1": "client1"}, metrics)
    factory = GatewayLogFactory(tmp_path, LogSettings(), watch)
    global_log = factory.create()   # the acceptor's log, as QuickFIX creates it
    caplog.set_level(logging.INFO)
    global_log.onEvent(DUPLICATE_LOGON + _logon("CLIENT1", "PLXTRA").decode())
    factory.close()
    lines = [r.getMessage() for r in caplog.records if "duplicate logon refused" in r.getMessage()]
    assert lines == ["session client1: logon refused: duplicate logon refused: session already logged on"]
    assert watch.info("client1").last_refusal == "duplicate logon refused: session already logged on"
    assert metrics.logons_refused.labels("client1", "duplicate")._value.get() == 1
