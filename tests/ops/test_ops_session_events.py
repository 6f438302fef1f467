"""Session events from the wire to the gateway's log and metrics: an unknown CompID, a partner
that stops heart-beating, a garbled message answered with a session Reject."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import free_port
from gateway.harness.codec import FixParser, encode
from tests.ops.opshelpers import api, write_admin_config

pytestmark = pytest.mark.timeout(120)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def _logon(sender: str, hb: int = 30) -> bytes:
    return encode("FIX.4.4", [(35, "A"), (49, sender), (56, "PLXTRA"), (34, "1"), (52, _now()), (98, "0"),
                              (108, str(hb)), (141, "Y")])


def _messages_until_closed(sock: socket.socket, timeout: float) -> list:   # type: ignore[type-arg]
    parser, got = FixParser(), []
    sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not data:
            break
        parser.feed(data)
        while (msg := parser.next()) is not None:
            got.append(msg)
    return got


def _metric(port: int, name: str, **labels: str) -> float | None:
    text = api(port, "GET", "/metrics")[1]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def _until(predicate, timeout: float = 10.0) -> None:   # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_unknown_compid_heartbeat_timeout_and_reject_reach_log_and_metrics(tmp_path: Path, caplog) -> None:   # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    fix_port = free_port()
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    with run_gateway_in_thread(cfg):
        # Unknown CompID: QuickFIX drops the connection; the gateway says who knocked.
        with socket.create_connection(("127.0.0.1", fix_port), timeout=5) as sock:
            sock.sendall(_logon("CLIENT9"))
            assert all(m.msg_type != "A" for m in _messages_until_closed(sock, 5))
        _until(lambda: _metric(admin_port, "plxtra_fix_logons_refused_total", session="unknown",
                               reason="unknown_session") == 1)

        # A partner that logs on with HeartBtInt=1 and then falls silent: TestRequest, then timeout.
        with socket.create_connection(("127.0.0.1", fix_port), timeout=5) as sock:
            sock.sendall(_logon("CLIENT1", hb=1))
            got = _messages_until_closed(sock, 15)
        assert [m.msg_type for m in got][:1] == ["A"] and "1" in [m.msg_type for m in got]   # TestRequest
        _until(lambda: _metric(admin_port, "plxtra_fix_heartbeat_timeouts_total", session="client1") == 1)

        # A message with a value of the wrong type: the gateway's session Reject is logged with its reason.
        with socket.create_connection(("127.0.0.1", fix_port), timeout=5) as sock:
            sock.sendall(_logon("CLIENT1"))
            sock.sendall(encode("FIX.4.4", [(35, "D"), (49, "CLIENT1"), (56, "PLXTRA"), (34, "2"),
                                            (52, _now()), (11, "bad-1"), (54, "1"), (55, "XS01"),
                                            (38, "many"), (40, "2"), (44, "1.00"), (60, _now())]))
            sock.settimeout(5)
            time.sleep(1.0)
        _until(lambda: _metric(admin_port, "plxtra_fix_session_rejects_total", session="client1",
                               direction="out") == 1)

    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.session"]
    assert any("FIX.4.4:PLXTRA->CLIENT9" in line and "logon refused: unknown session" in line
               for line in lines), lines
    assert any(line.startswith("session client1: heartbeat timeout") for line in lines), lines
    assert any(line.startswith("session client1: Reject sent RefSeqNum=2") and "RefTagID=38" in line
               for line in lines), lines
