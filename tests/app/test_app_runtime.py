"""The Gateway runtime end to end: embedded simulator over a real WebSocket, real services,
QuickFIX acceptor on 127.0.0.1; in a thread and as a `plxtra-fix run` subprocess."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app.cli_run import banner
from gateway.app.runtime import Gateway
from gateway.app.testing import run_gateway_in_thread, spawn_gateway_process, write_test_config
from gateway.config.loader import load_config
from gateway.fix.testing import FixTestClient, free_port


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "gateway", "run", *args], capture_output=True, text=True,
                          timeout=90, env=dict(os.environ, PYTHONPATH=str(root)), cwd=cwd)


def buy(cl_ord_id: str, price: str = "10.20") -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "100"), (40, "2"),
            (44, price), (59, "0"), (60, "<now>")]


def test_gateway_in_thread_on_embedded_simulator(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, "embedded", port)
    with run_gateway_in_thread(cfg) as gw:
        assert gw.gateway.embedded and gw.gateway.zenith_url.startswith("ws://127.0.0.1:")
        assert gw.gateway.registry.handled_types >= {"D", "F", "G", "V"}
        with FixTestClient(port=port, tmp_path=tmp_path) as c:
            c.wait_logged_on(timeout=10)
            c.send("D", buy("rt-1"))
            new = c.expect("8", timeout=10, where={11: "rt-1", 150: "0"})
            assert new.get(37)                                   # the Plxtra order ID
            c.send("R", [(131, "q"), (146, 1), (55, "XS01")])    # nobody handles quotes
            assert c.expect("j", timeout=5).get(380) == "3"
            gw.stop()
            logout = c.expect("5", timeout=10, admin=True)
            assert logout.get(58) == "Gateway shutting down"


def test_plxtra_fix_run_subprocess_accepts_logon_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, "embedded", port)
    with spawn_gateway_process(cfg, timeout=60) as proc:
        with FixTestClient(port=port, tmp_path=tmp_path, sender="CLIENT2", begin_string="FIX.4.2") as c:
            c.wait_logged_on(timeout=10)
            code = proc.terminate(timeout=20)
            logout = c.expect("5", timeout=5, admin=True)
            assert logout.get(58) == "Gateway shutting down"
        output = proc.output()
        assert code == 0, output
        # QuickFIX binds every interface; the banner says so, and who may connect.
        assert f"FIX acceptor on port {port} (all interfaces; only 127.0.0.1 peers allowed)" in output
        assert "FIX acceptor on 127.0.0.1" not in output and "cannot be honoured" not in output
        assert "session client2: FIX.4.2 PLXTRA<->CLIENT2" in output
        assert "embedded simulator" in output and "gateway stopped" in output
        assert "Traceback" not in output, output


def test_plxtra_fix_run_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway:\n  listen_prot: 9878\nsessions: []\n", encoding="utf-8")
    for path, expected in ((tmp_path / "missing.yaml", "file not found"), (bad, "listen_prot")):
        done = _run(tmp_path, "--config", str(path))
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr


def test_zenith_url_override_and_unreachable_zenith_fail_cleanly(tmp_path: Path) -> None:
    cfg = write_test_config(tmp_path, "embedded", free_port(), zenith={"at_start": "fail"})
    dead = f"ws://127.0.0.1:{free_port()}/Zenith"   # nothing listens there
    done = _run(tmp_path, "--config", str(cfg), "--zenith", dead)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "plxtra-fix run:" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_banner_and_log_tell_where_the_acceptor_really_listens(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """listen_host is not an accept address in QuickFIX C++ 1.16: a wildcard is reported as such,
    a specific non-loopback address is reported as NOT enforced, with a start-up warning."""
    port = free_port()
    for host, reach in (("0.0.0.0", "(all interfaces; any peer allowed)"),
                        ("192.0.2.10",
                         "(all interfaces, any peer allowed: listen_host 192.0.2.10 is NOT enforced)")):
        cfg = load_config(write_test_config(tmp_path / host, "embedded", port, gateway={"listen_host": host}))
        gateway = Gateway(cfg)   # not started: nothing binds the port
        text = banner(gateway)
        assert text.splitlines()[0] == f"plxtra-fix gateway ready: FIX acceptor on port {port} {reach}"
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="gateway.app.runtime"):
            gateway._log_acceptor_reach()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        if host == "0.0.0.0":
            assert "WARNING" not in text and not warnings
        else:
            assert "WARNING: listen_host 192.0.2.10 cannot be honoured" in text
            assert len(warnings) == 1 and "EVERY interface" in warnings[0], warnings
