"""``plxtra-fix sim`` as a real process: log in, watch XS01 depth, trade against the generated market."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from .conftest import Raw, order

ROOT = Path(__file__).resolve().parents[2]


def test_sim_command_serves_the_spec(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "sim",
            "--port",
            "0",
            "--seed",
            "3",
            "--state",
            str(tmp_path / "s.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(ws://127\.0\.0\.1:\d+/Zenith)", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        c = Raw(m.group(1))
        assert (
            c.rpc(
                "Auth",
                "AuthOwner",
                {"Provider": "Bearer", "ClientID": "t", "UserName": "XospAdmin", "Password": "xosp"},
            )["Data"]["Result"]
            == "Success"
        )
        depth = c.sub("Market", "Depth!XS01.XSX")["Data"]
        asks = sorted(x["Order"]["Price"] for x in depth[1:] if x["Order"]["Side"] == "Ask")
        assert asks, depth
        r = c.rpc("Trading", "PlaceOrder", order(qty=50, price=str(asks[-1])))["Data"]
        assert r["Result"] == "Success"
        changes = c.publishes("Depth!XS01.XSX", timeout=5)["Data"]
        assert any(ch["O"] in ("U", "R") for ch in changes)
        q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": r["Order"]["ID"]})["Data"][0]
        assert q["Status"] == "Filled" and q["ExecutedQuantity"] == 50
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_empty_state_flag_means_no_state_file(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "gateway", "sim", "--port", "0", "--activity", "off", "--state", ""]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(ws://127\.0\.0\.1:\d+/Zenith)", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        c = Raw(m.group(1), token="demo")
        assert c.rpc("Trading", "PlaceOrder", order(qty=10, price="4.00"))["Data"]["Result"] == "Success"
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no "None", no "" file, nothing


def test_log_lines_are_utc_with_milliseconds_and_z(tmp_path):
    """Same timestamp layout as the gateway's log (``2026-11-25 22:53:22.709Z INFO ...``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TZ="America/New_York")   # local zone must not leak in
    cmd = [sys.executable, "-m", "gateway", "sim", "--port", "0", "--activity", "off", "--state", ""]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "ws://127.0.0.1:" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    lines = [x for x in err.splitlines() if x.strip()]
    assert any("serving ws://127.0.0.1:" in x for x in lines), err
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d{3}Z (INFO|WARNING|ERROR|DEBUG) +\S+: ")
    for x in lines:
        m = stamp.match(x)
        assert m, x
        when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - when).total_seconds()) < 120, x   # UTC, not local time
