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


def _all_counts(metrics: GatewayMetrics, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("plxtra_fix_") and f'session="{name}"' in line and "_created{" not in line:
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_outgoing_for_gives_the_figures_of_outgoing() -> None:
    # A quiet session's log calls outgoing_for's function; a logged one outgoing: the same
    # messages must give the same metrics and the same admin API view, session events included.
    traffic = [_raw("A", 1, "98=0\x01108=30\x01"), _raw("W", 2, "262=r1\x01268=0\x01"),
               *[_raw("X", s, "262=r1\x01268=1\x01279=0\x01") for s in range(3, 7)],
               _raw("0", 7), _raw("3", 8, "45=3\x01373=5\x0158=bad\x01"),
               _raw("j", 9, "45=4\x01372=V\x01380=3\x01"), _raw("X", 10, "262=r1\x01"),
               "no MsgType at all", _raw("5", 11, "58=bye\x01")]
    slow_metrics, fast_metrics = GatewayMetrics(), GatewayMetrics()
    slow = SessionWatch({SESSION: "md1"}, slow_metrics)
    fast = SessionWatch({SESSION: "md1"}, fast_metrics)
    out = fast.outgoing_for(SESSION)
    for raw in traffic:
        slow.outgoing(SESSION, raw)
        out(raw)
    assert _all_counts(fast_metrics, "md1") == _all_counts(slow_metrics, "md1")
    assert _count(fast_metrics, "X") == 5.0 and _count(fast_metrics, "W") == 1.0
    a, b = fast.info("md1"), slow.info("md1")
    assert (a.last_out_type, a.logons, a.last_logout_text) == (b.last_out_type, b.logons, b.last_logout_text)
    assert a.last_out_type == "5" and a.logons == 1 and a.last_logout_text == "bye"


def test_outgoing_for_follows_a_reload_and_never_raises() -> None:
    metrics = GatewayMetrics()
    watch = SessionWatch({}, metrics)
    out = watch.outgoing_for(SESSION)
    out(_raw("X", 2))   # unknown yet: counted under its SessionID text
    watch.set_names({SESSION: "md1"})
    out(_raw("X", 3))   # the function made before the reload counts under the new name
    assert _count(metrics, "X") == 1.0 and watch.info("md1").last_out_type == "X"
    out(None)   # type: ignore[arg-type]   # whatever C++ hands it, nothing escapes (Py_Exit)
    assert _count(metrics, "X") == 1.0


def test_outgoing_for_counts_through_inc_when_the_counter_is_not_the_loop_family() -> None:
    # The short path adds to a LoopCounter child's value directly; any other counter (here
    # prometheus_client's own) must still be counted, through its inc().
    from prometheus_client import CollectorRegistry, Counter

    metrics = GatewayMetrics()
    registry = CollectorRegistry()
    metrics.messages = Counter("plxtra_fix_messages", "test", ["session", "direction", "msg_type"],   # type: ignore[assignment]
                               registry=registry)
    watch = SessionWatch({SESSION: "md1"}, metrics)
    out = watch.outgoing_for(SESSION)
    for seq in range(2, 7):
        out(_raw("X", seq, "262=r1\x01268=1\x01279=0\x01"))
    value = registry.get_sample_value("plxtra_fix_messages_total",
                                      {"session": "md1", "direction": "out", "msg_type": "X"})
    assert value == 5.0 and watch.info("md1").last_out_type == "X"
