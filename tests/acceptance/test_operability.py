"""Starting and stopping the gateway as an operator does: SIGTERM, port already taken, bad config."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, make_config, start_gateway


def test_sigterm_logs_out_every_session_and_exits_zero(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "gw")
    try:
        clients = []
        for begin, sender, ex in [("FIX.4.4", "CLIENT1", []), ("FIXT.1.1", "CLIENT3", [(1137, "9")])]:
            c = gw.connect(begin, sender)
            c.logon(reset=True, extra=ex)
            clients.append(c)
        started = time.monotonic()
        rc = None
        gw.proc.send_signal(15)
        for c in clients:
            lo = c.expect("5", timeout=20)
            assert lo[58], "Logout without a reason Text"
            c.send("5")
            assert c.closed_within(20)
            c.close()
        rc = gw.proc.wait(30)
        assert rc == 0, "".join(gw.output)[-2000:]
        assert time.monotonic() - started < 40  # generous: CI machines are shared
    finally:
        gw.stop()


def test_port_in_use_fails_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("0.0.0.0", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        (tmp_path / "w").mkdir()
        cfg = make_config(tmp_path / "w", port)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        r = subprocess.run([sys.executable, "-m", "gateway", "run", "--config", str(cfg)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert str(port) in r.stderr and "in use" in r.stderr.lower(), r.stderr[-1500:]


def test_check_config_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    cfg = make_config(tmp_path / "w", 19999)
    text = cfg.read_text().replace("    heartbeat_interval: 30 ", "    heartbeat_intervl: 30 ", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    ok = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(cfg)], env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "3 session(s)" in ok.stdout
    r = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(bad)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "heartbeat_intervl" in ln)) + 1
    assert f"bad.yaml:{line}:" in r.stderr and "heartbeat_interval" in r.stderr, r.stderr
