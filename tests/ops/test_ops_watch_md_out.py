"""Outbound market data (W/X) takes SessionWatch's short path: counted per session and MsgType in
the messages metric, and the admin API's last message out still says when and which, whatever
came before or after it. Fed the raw text QuickFIX logs, as gateway.ops.fixlog does."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import generate_latest

from gateway.ops.events import SessionWatch
from gateway.ops.metrics import GatewayMetrics

SESSION = "FIX.4.4:PLXTRA->MD1"


def _raw(msg_type: str, seq: int, body: str = "") -> str:
    return (f"8=FIX.4.4\x019=99\x0135={msg_type}\x0134={seq}\x0149=PLXTRA\x01"
            f"52=20261206-11:00:00.000\x0156=MD1\x01{body}10=000\x01")


def _count(metrics: GatewayMetrics, msg_type: str) -> float:
    needle = f'plxtra_fix_messages_total{{direction="out",msg_type="{msg_type}",session="md1"}} '
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(needle):
            return float(line[len(needle):])
    return 0.0


def test_w_and_x_out_are_counted_and_stamped_as_last_out() -> None:
    metrics = GatewayMetrics()
    watch = SessionWatch({SESSION: "md1"}, metrics)
    before = datetime.now(UTC)
    watch.outgoing(SESSION, _raw("W", 2, "262=r1\x01268=1\x01269=0\x01270=10\x01271=5\x01"))
    for seq in range(3, 8):
        watch.outgoing(SESSION, _raw("X", seq, "262=r1\x01268=1\x01279=0\x01269=0\x01270=10\x01"))
    assert (_count(metrics, "W"), _count(metrics, "X")) == (1.0, 5.0)
    info = watch.info("md1")
    assert info.last_out_type == "X"
    assert info.last_out is not None and before <= info.last_out <= datetime.now(UTC)

    time.sleep(0.002)
    watch.outgoing(SESSION, _raw("0", 8))   # a heartbeat after the market data is the last out
    info = watch.info("md1")
    assert info.last_out_type == "0" and _count(metrics, "0") == 1.0
    time.sleep(0.002)
    watch.outgoing(SESSION, _raw("X", 9, "262=r1\x01268=1\x01279=2\x01269=0\x01270=10\x01"))
    assert watch.info("md1").last_out_type == "X" and _count(metrics, "X") == 6.0


def test_a_session_named_by_a_reload_gets_its_own_md_counts() -> None:
    metrics = GatewayMetrics()
    watch = SessionWatch({}, metrics)
    watch.outgoing(SESSION, _raw("X", 2))   # unknown yet: counted under its SessionID text
    watch.set_names({SESSION: "md1"})
    watch.outgoing(SESSION, _raw("X", 3))
    assert _count(metrics, "X") == 1.0
    assert watch.info("md1").last_out_type == "X"
