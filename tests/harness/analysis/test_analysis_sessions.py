"""``sessions``: gaps and how they were filled, a resend storm, a missed TestRequest, heartbeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from analysis_logs import LogBuilder, build_session, session_log

from gateway.cli import main
from gateway.harness.analysis.inputs import Inputs
from gateway.harness.analysis.sessions import SessionHealth, SessionMonitor


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    return session_log(tmp_path / "session.log")


@pytest.fixture()
def health(log: Path) -> SessionHealth:
    monitor = SessionMonitor()
    for record in Inputs([str(log)]):
        monitor.feed(record)
    monitor.finish()
    (only,) = monitor.sessions.values()
    return only


def test_gap_filled_by_gapfill_and_gap_filled_by_resends(health: SessionHealth) -> None:
    server = health.sides["PLXTRA"]
    first, second = server.gaps
    assert (first.first, first.last, first.requested, first.filled) == (4, 6, True, 3)
    assert first.how == ["GapFill 4..6"]
    assert (second.first, second.last, second.requested, second.filled) == (9, 10, True, 2)
    assert second.how == ["9 resent (PossDup)", "10 resent (PossDup)"]
    assert server.gap_fills == [(4, 6)] and server.poss_dup == 3 and server.seq_too_low == 0
    assert health.sides["CLIENT1"].gaps == []


def test_resend_storm_counted_once(health: SessionHealth) -> None:
    client = health.sides["CLIENT1"]
    assert client.resend_requests == 4
    assert client.resend_ranges == [(4, 6), (9, 10), (9, 10), (9, 0)]
    assert health.storms == 1
    assert [e.kind for e in health.events].count("storm") == 1


def test_testrequests_answered_and_missed(health: SessionHealth) -> None:
    client = health.sides["CLIENT1"]
    assert client.test_requests == 2 and client.test_answers.count == 1 and client.test_missed == 1
    assert client.test_answers.max == pytest.approx(0.25, abs=1e-6)
    missed = [e for e in health.events if e.kind == "test-request-missed"]
    assert len(missed) == 1 and "T1" in missed[0].text


def test_logons_logouts_rejects_and_heartbeats(health: SessionHealth) -> None:
    client, server = health.sides["CLIENT1"], health.sides["PLXTRA"]
    assert (client.logons, server.logons) == (1, 1)
    assert client.logouts == ["TestRequest T1 not answered"] and server.logouts == ["Logout acknowledged"]
    assert server.rejects == ["RefSeqNum 5, SessionRejectReason 1, Required tag missing"]
    assert client.heart_bt_int == 30 and client.heartbeat_gaps.count == 3
    assert client.heartbeat_gaps.quantile(0.5) == pytest.approx(30, abs=1e-6)
    assert client.heartbeat_gaps.max == pytest.approx(45, abs=1e-6)
    assert client.late_heartbeats == 1
    assert client.by_type == {"A": 1, "2": 4, "0": 3, "1": 2, "5": 1}


def test_sequence_number_too_low_without_possdup(tmp_path: Path) -> None:
    b = LogBuilder()
    b.logon(0)
    b.c(1, "0")  # 2
    b.c(2, "0", seq=2)  # 2 again, without PossDupFlag
    monitor = SessionMonitor()
    for record in Inputs([str(b.write(tmp_path / "low.log"))]):
        monitor.feed(record)
    monitor.finish()
    (health,) = monitor.sessions.values()
    assert health.sides["CLIENT1"].seq_too_low == 1
    assert [e.kind for e in health.events][-1] == "seq-too-low"


def test_text_json_and_strict(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    assert main(["sessions", str(log)]) == 0
    out = capsys.readouterr().out
    assert "gap 4..6 at 20240102-10:00:03.000000: asked back by ResendRequest, filled (GapFill 4..6)" in out
    assert "1 ResendRequest storm(s)" in out
    assert "TestRequests sent 2: answered 1 (p50 250.0 ms, max 250.0 ms), missed 1" in out
    assert "heartbeats: 3, interval p50 30.00 s, p99 45.00 s, max 45.00 s (HeartBtInt 30s); late 1" in out
    assert main(["sessions", "--json", str(log)]) == 0
    (session,) = json.loads(capsys.readouterr().out)
    sides = {s["sender"]: s for s in session["sides"]}
    assert [(g["first"], g["last"], g["filled"]) for g in sides["PLXTRA"]["gaps"]] == [(4, 6, 3), (9, 10, 2)]
    assert sides["CLIENT1"]["test_missed"] == 1 and session["resend_storms"] == 1
    assert main(["sessions", "--strict", str(log)]) == 1  # the missed TestRequest


def test_clean_session_passes_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    b = LogBuilder()
    b.logon(0)
    for i in range(1, 4):
        b.c(30.0 * i, "0")
        b.s(30.0 * i + 0.01, "0")
    b.c(100, "1", (112, "ping"))
    b.s(100.002, "0", (112, "ping"))
    path = b.write(tmp_path / "clean.log")
    assert main(["sessions", "--strict", str(path)]) == 0
    assert "no sequence gaps" in capsys.readouterr().out


def test_build_session_is_what_the_docstring_says() -> None:
    b = build_session(LogBuilder())
    assert b.seq == {"CLIENT1": 11, "PLXTRA": 15}
