"""The QuickFIX message and event logs the gateway writes: lines in QuickFIX FileLog's format, held
for the loop turn and written at its end for every session at once (one ``call_soon`` per turn),
written at once off a loop, and a day's lines stay in that day's file when the turn crosses
midnight. Real files, a real asyncio loop, the real SessionWatch fed alongside."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import quickfix as fix

from gateway.config.model import LogSettings
from gateway.ops.events import SessionWatch
from gateway.ops.fixlog import GatewayLogFactory
from gateway.ops.masking import MASK
from gateway.ops.metrics import GatewayMetrics

C1, C2 = "FIX.4.4:PLXTRA->CLIENT1", "FIX.4.4:PLXTRA->CLIENT2"
LINE = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}\.\d{6}000 : (.*)$")   # FileLog: nanosecond digits


def _raw(msg_type: str, seq: int, body: str = "") -> str:
    return (f"8=FIX.4.4\x019=99\x0135={msg_type}\x0134={seq}\x0149=CLIENT1\x01"
            f"52=20261206-11:00:00.000\x0156=PLXTRA\x01{body}10=000\x01")


def _texts(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().decode().split("\n")[:-1]:
        found = LINE.match(line)
        assert found is not None, line   # every line in FileLog's format
        out.append(found.group(1))
    return out


def _factory(tmp_path: Path, metrics: GatewayMetrics | None = None) -> tuple[GatewayLogFactory, SessionWatch]:
    watch = SessionWatch({C1: "client1", C2: "client2"}, metrics)
    return GatewayLogFactory(tmp_path, LogSettings(), watch), watch


def test_lines_of_a_turn_reach_the_files_at_its_end_in_order_for_every_session(tmp_path: Path) -> None:
    metrics = GatewayMetrics()
    factory, watch = _factory(tmp_path, metrics)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    log2 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT2"))
    d = _raw("D", 2, "11=A1\x0138=100\x01")
    logon = _raw("A", 1, "98=0\x01108=30\x01553=alice\x01554=S3cret-pw\x01")
    er = _raw("8", 2, "11=A1\x01150=0\x01")
    files1 = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    files2 = tmp_path / "FIX.4.4-PLXTRA-CLIENT2.messages.current.log"
    event1 = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.event.current.log"
    turns: list[tuple[list[str], list[str], list[str]]] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        before = len(loop._ready)   # type: ignore[attr-defined]
        log1.onIncoming(logon)
        log1.onEvent("Received logon")
        log1.onIncoming(d)
        log2.onIncoming(d)
        log1.onOutgoing(er)
        # one callback for the whole factory, whatever the number of sessions and lines
        assert len(loop._ready) == before + 1   # type: ignore[attr-defined]
        turns.append((_texts(files1), _texts(files2), _texts(event1)))   # nothing written yet
        await asyncio.sleep(0)
        turns.append((_texts(files1), _texts(files2), _texts(event1)))
        log2.onOutgoing(er)
        await asyncio.sleep(0)
        turns.append((_texts(files1), _texts(files2), _texts(event1)))

    asyncio.run(run())
    masked_logon = logon.replace("554=S3cret-pw", f"554={MASK}")
    assert turns[0] == ([], [], [])
    assert turns[1] == ([masked_logon, d, er], [d], ["Received logon"])
    assert turns[2] == ([masked_logon, d, er], [d, er], ["Received logon"])
    assert "S3cret-pw" not in files1.read_text()
    # the watch saw every message, in and out: the D was answered (a first-answer observation)
    assert watch.info("client1").last_in_type == "D" and watch.info("client1").last_out_type == "8"
    assert watch.info("client2").last_out_type == "8"
    assert metrics.messages.labels("client1", "in", "D").value == 1.0
    assert metrics.messages.labels("client2", "out", "8").value == 1.0
    factory.close()


def test_off_a_loop_each_line_is_written_at_once_and_close_writes_what_waits(tmp_path: Path) -> None:
    factory, _ = _factory(tmp_path)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.event.current.log"
    log1.onEvent("Created session")   # e.g. the engine built on a worker thread
    assert _texts(path) == ["Created session"]

    async def run() -> None:
        log1.onEvent("Connecting to 127.0.0.1 on port 1")
        factory.close()   # the stop: lines waiting for the turn's end are not lost

    asyncio.run(run())
    assert _texts(path) == ["Created session", "Connecting to 127.0.0.1 on port 1"]


def test_a_turn_across_midnight_keeps_each_line_in_its_days_file(tmp_path: Path) -> None:
    factory, _ = _factory(tmp_path)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    current = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    today = datetime.now(UTC).strftime("%Y%m%d")

    async def run() -> None:
        log1.onIncoming(_raw("0", 5))
        # midnight passes within the turn, between the two hand-overs: the line is put in its day's
        # file by the time QuickFIX handed it over, not by the time of the turn's flush
        time.sleep(0.002)
        log1._messages.rotate_at = time.time()   # type: ignore[attr-defined]
        time.sleep(0.002)
        log1.onIncoming(_raw("0", 6))
        await asyncio.sleep(0)

    asyncio.run(run())
    assert _texts(tmp_path / f"FIX.4.4-PLXTRA-CLIENT1.messages.{today}.log") == [_raw("0", 5)]
    assert _texts(current) == [_raw("0", 6)]
    factory.close()


def test_a_worker_threads_event_is_written_at_once_while_the_loops_turn_is_open(tmp_path: Path) -> None:
    factory, _ = _factory(tmp_path)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    events = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.event.current.log"
    seen: list[list[str]] = []

    async def run() -> None:
        log1.onEvent("Received logon")   # on the loop: waits for the turn's end
        seen.append(_texts(events))
        # e.g. a connector stopped by a reload in a worker thread
        worker = threading.Thread(target=log1.onEvent, args=("Disconnecting",))
        worker.start()
        worker.join(5)
        seen.append(_texts(events))

    asyncio.run(run())
    assert seen == [[], ["Received logon", "Disconnecting"]]
    factory.close()


def _stamp_of(path: Path, index: int) -> float:
    line = path.read_bytes().decode().split("\n")[index]
    # the first 6 of the 9 fraction digits: microseconds
    return datetime.strptime(line[:24] + " +0000", "%Y%m%d-%H:%M:%S.%f %z").timestamp()


def test_callbacks_only_keep_the_text_the_flush_stamps_lines_and_feeds_the_watch_with_hand_over_times(
        tmp_path: Path) -> None:
    """Issue 13: onIncoming/onOutgoing run before the order moves, so they only keep the text and
    its time; the turn's flush writes lines stamped with those times and gives the watch the same
    figures it would have had at once: last in/out, counters, the D -> first answer time."""
    metrics = GatewayMetrics()
    factory, watch = _factory(tmp_path, metrics)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    files1 = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    d, er = _raw("D", 2, "11=A1\x0138=100\x01"), _raw("8", 2, "11=A1\x01150=0\x01")
    seen: dict[str, object] = {}

    async def run() -> None:
        seen["d_at"] = time.time()
        log1.onIncoming(d)
        time.sleep(0.02)   # the order's work between the D and its ER
        seen["er_at"] = time.time()
        log1.onOutgoing(er)
        # nothing classified, counted or written yet: the turn has not ended
        seen["counted"] = metrics.messages.labels("client1", "in", "D").value
        seen["answers"] = sum(metrics.order_first_answer.labels("client1").counts)
        time.sleep(0.05)   # the rest of the turn: must not count in any figure
        await asyncio.sleep(0)

    asyncio.run(run())
    assert seen["counted"] == 0.0 and seen["answers"] == 0
    assert _texts(files1) == [d, er]
    d_at, er_at = seen["d_at"], seen["er_at"]
    assert isinstance(d_at, float) and isinstance(er_at, float)
    # the lines' stamps and the watch's times are the hand-over times, not the flush's
    assert abs(_stamp_of(files1, 0) - d_at) < 0.005 and abs(_stamp_of(files1, 1) - er_at) < 0.005
    info = watch.info("client1")
    assert info.last_in is not None and abs(info.last_in.timestamp() - d_at) < 0.005
    assert info.last_out is not None and abs(info.last_out.timestamp() - er_at) < 0.005
    assert metrics.messages.labels("client1", "in", "D").value == 1.0
    assert metrics.orders.labels("client1", "accepted").value == 1.0
    answer = metrics.order_first_answer.labels("client1")
    assert sum(answer.counts) == 1 and 0.015 < answer.total < 0.045
    factory.close()


def test_the_watch_sees_messages_and_events_of_a_turn_in_quickfixs_order(tmp_path: Path) -> None:
    """A logon then a Logout then QuickFIX's "Disconnecting" in one turn is a logout, not a
    refused logon: the event is handed to the watch after the Logout it follows. A Logout that
    answers a Logon we never acknowledged is a refusal."""
    metrics = GatewayMetrics()
    factory, watch = _factory(tmp_path, metrics)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    log2 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT2"))
    logon = _raw("A", 1, "98=0\x01108=30\x01")

    async def run() -> None:
        log1.onIncoming(logon)
        log1.onOutgoing(logon)
        log1.onOutgoing(_raw("5", 2, "58=bye\x01"))
        log1.onEvent("Disconnecting")
        log2.onIncoming(logon)
        log2.onOutgoing(_raw("5", 1, "58=Invalid username or password\x01"))
        log2.onEvent("Disconnecting")
        await asyncio.sleep(0)

    asyncio.run(run())
    one, two = watch.info("client1"), watch.info("client2")
    assert one.logons == 1 and one.last_refusal is None and one.last_logout_text == "bye"
    assert one.sent_logon is False and one.heartbeat_interval == 30
    assert two.last_refusal == "Invalid username or password"
    assert metrics.logons_refused.labels("client1", "credentials")._value.get() == 0
    assert metrics.logons_refused.labels("client2", "credentials")._value.get() == 1
    factory.close()


def test_a_reader_of_the_watch_on_the_loop_sees_the_current_turn(tmp_path: Path) -> None:
    """The admin API's session view (SessionWatch.info) settles the turn before it reads."""
    factory, watch = _factory(tmp_path)
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    files1 = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    seen: list[object] = []

    async def run() -> None:
        log1.onIncoming(_raw("D", 2, "11=A1\x01"))
        info = watch.info("client1")   # same turn, before the flush's call_soon
        seen.extend([info.last_in_type, _texts(files1)])
        await asyncio.sleep(0)

    asyncio.run(run())
    assert seen == ["D", [_raw("D", 2, "11=A1\x01")]]
    factory.close()


def test_a_quiet_session_counts_market_data_at_once_and_its_logon_in_order(tmp_path: Path) -> None:
    """log_messages: false: no message lines; W/X and heartbeats are counted and stamped at once
    (outgoing_for), a Logon sent waits for the flush like the rest and does not take the place of
    a later W as the last message out."""
    metrics = GatewayMetrics()
    watch = SessionWatch({C1: "client1"}, metrics)
    factory = GatewayLogFactory(tmp_path, LogSettings(), watch, quiet=frozenset({C1}))
    log1 = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    counted: list[float] = []

    async def run() -> None:
        log1.onIncoming(_raw("A", 1, "98=0\x01108=30\x01"))
        log1.onOutgoing(_raw("A", 1, "98=0\x01108=30\x01"))
        log1.onOutgoing(_raw("W", 2, "262=r1\x0155=XS01\x01"))
        counted.append(metrics.messages.labels("client1", "out", "W").value)
        counted.append(metrics.messages.labels("client1", "out", "A").value)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert counted == [1.0, 0.0]
    info = watch.info("client1")
    assert info.logons == 1 and info.last_out_type == "W" and info.last_in_type == "A"
    assert metrics.messages.labels("client1", "out", "A").value == 1.0
    assert _texts(tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log") == []
    factory.close()
