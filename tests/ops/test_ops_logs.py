"""Logs an operator can read: session events in the gateway's log (text and JSON), secrets
masked in every file the gateway writes and in ``decode``, QuickFIX logs that rotate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.app.testing import demo_session, spawn_gateway_process, write_test_config
from gateway.config.model import LogSettings
from gateway.fix.testing import FixTestClient, free_port
from gateway.ops.fixlog import RotatingFile
from gateway.ops.masking import MASK, mask_fix

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "S3cret-partner-pw"


def _wait_for(predicate, timeout: float = 10.0) -> None:   # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_json_log_has_session_events_and_no_secret_reaches_any_file(tmp_path: Path) -> None:
    fix_port = free_port()
    session = demo_session("client1", "FIX.4.4", "CLIENT1", ["0001"],
                           credentials={"username": "alice", "password": PASSWORD})
    cfg = write_test_config(tmp_path, "embedded", fix_port, sessions=[session])
    with spawn_gateway_process(cfg, extra_args=["--log-format", "json"], timeout=60) as proc:
        with FixTestClient(port=fix_port, tmp_path=tmp_path / "bad", username="alice",
                           password="wrong-password-1") as c:
            refused = c.expect("5", timeout=10, admin=True)
            assert refused.get(58).endswith("Invalid username or password")
        good = tmp_path / "good"
        with FixTestClient(port=fix_port, tmp_path=good, username="alice", password=PASSWORD) as c:
            c.wait_logged_on(timeout=10)
            c.logout("bye")
        _wait_for(lambda: "Logout received: bye" in proc.output())
        assert proc.terminate(timeout=20) == 0
        output = proc.output()

    events = []
    for line in output.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))   # every log line is one JSON object
    messages = [(e["logger"], e["message"]) for e in events]
    assert all(set(e) >= {"time", "level", "logger", "message"} and e["time"].endswith("Z") for e in events)
    assert any(lg == "gateway.session" and m.startswith("session client1: logon refused: ")
               and m.endswith("Invalid username or password") for lg, m in messages), messages
    assert any(lg == "gateway.session" and m.startswith("session client1: logged on") for lg, m in messages)
    assert ("gateway.session", "session client1: Logout received: bye") in messages

    # No secret in clear: gateway output, QuickFIX message and event logs, stores.
    assert PASSWORD not in output and "wrong-password-1" not in output
    fixlogs = list((tmp_path / "fixlog").glob("*.log"))
    assert any("messages" in p.name for p in fixlogs)
    for path in fixlogs:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert PASSWORD not in text and "wrong-password-1" not in text, path
    logon_lines = [line for p in fixlogs for line in p.read_text().splitlines() if "\x0135=A\x01" in line
                   and "\x01554=" in line]
    assert logon_lines and all(f"\x01554={MASK}\x01" in line for line in logon_lines)

    # decode masks by default, shows the value only when asked.
    messages_log = next(p for p in fixlogs if p.name.startswith("FIX.4.4-PLXTRA-CLIENT1.messages"))
    client_log = next((tmp_path / "good").rglob("FIX.4.4-CLIENT1-PLXTRA.messages.current.log"))   # unmasked
    assert PASSWORD in client_log.read_text()
    decode = [sys.executable, "-m", "gateway", "decode", str(client_log), "--msg-type", "A", "--compact"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shown = subprocess.run(decode, capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0, shown.stderr
    assert PASSWORD not in shown.stdout and MASK in shown.stdout
    revealed = subprocess.run([*decode, "--show-secrets"], capture_output=True, text=True, timeout=60,
                              env=env)
    assert PASSWORD in revealed.stdout
    assert messages_log.exists()


def test_mask_fix_covers_every_delimiter_and_keeps_other_fields() -> None:
    raw = "8=FIX.4.4\x019=10\x0135=A\x01553=alice\x01554=pw\x01925=new\x01108=30\x01"
    masked = f"8=FIX.4.4\x019=10\x0135=A\x01553=alice\x01554={MASK}\x01925={MASK}\x01108=30\x01"
    assert mask_fix(raw) == masked
    assert mask_fix("35=A|554=pw|58=x") == f"35=A|554={MASK}|58=x"
    assert mask_fix("35=A^A554=pw^A58=x") == f"35=A^A554={MASK}^A58=x"
    assert mask_fix("35=A\x011554=keep\x01") == "35=A\x011554=keep\x01"   # tag 1554 is not 554


def test_quickfix_logs_rotate_daily_and_by_size_and_old_ones_are_deleted(tmp_path: Path) -> None:
    now = [1_767_225_600.0]   # 2026-01-01 00:00:00 UTC
    daily = RotatingFile(tmp_path, "FIX.4.4-A-B", "messages", LogSettings(rotate="daily", keep_days=2),
                         clock=lambda: now[0])
    daily.write("day one\n")
    now[0] += 86_400
    daily.write("day two\n")
    assert (tmp_path / "FIX.4.4-A-B.messages.20260101.log").read_text() == "day one\n"
    assert (tmp_path / "FIX.4.4-A-B.messages.current.log").read_text() == "day two\n"
    old = tmp_path / "FIX.4.4-A-B.messages.20251201.log"
    old.write_text("ancient\n")
    os.utime(old, (now[0] - 10 * 86_400, now[0] - 10 * 86_400))
    now[0] += 86_400
    daily.write("day three\n")
    assert not old.exists()                                           # older than keep_days: deleted
    assert (tmp_path / "FIX.4.4-A-B.messages.20260102.log").exists()
    daily.close()

    sized = RotatingFile(tmp_path / "s", "GLOBAL", "event", LogSettings(rotate="size", max_bytes=100),
                         clock=lambda: now[0])
    for i in range(30):
        sized.write(f"event {i:04d}\n")   # 11 bytes each: a new file about every 9 lines
    sized.close()
    files = sorted((tmp_path / "s").glob("GLOBAL.event.*.log"))
    assert len(files) >= 4
    assert all(f.stat().st_size <= 100 for f in files)
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert sorted(lines) == [f"event {i:04d}" for i in range(30)]   # nothing lost
