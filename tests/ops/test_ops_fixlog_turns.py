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
