"""``plxtra-fix sim`` as a real process: log in, watch XS01 depth, trade against the generated market."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
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
