"""``plxtra-fix admin`` as a real subprocess against a running gateway's admin API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import FixTestClient, free_port
from tests.ops.opshelpers import TOKEN, write_admin_config

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def admin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "admin", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_admin_cli_tables_json_actions_and_errors(tmp_path: Path) -> None:
    fix_port = free_port()
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    with run_gateway_in_thread(cfg), FixTestClient(port=fix_port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=10)

        out = admin("--config", str(cfg), "sessions")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].split()[:3] == ["NAME", "ROLE", "STATE"]
        row = next(line for line in lines if line.startswith("client1"))
        assert "logged_on" in row and "127.0.0.1" in row

        url = f"http://127.0.0.1:{admin_port}"
        out = admin("--url", url, "--token", TOKEN, "--json", "session", "client2")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["state"] == "logged_out"

        out = admin("--config", str(cfg), "health")
        assert out.returncode == 0 and out.stdout.startswith("ready"), out.stdout

        out = admin("--config", str(cfg), "metrics")
        assert out.returncode == 0 and "plxtra_fix_session_logged_on" in out.stdout

        out = admin("--config", str(cfg), "reset-seq", "client1")   # logged on: refused, says why
        assert out.returncode == 1 and "log it out first" in out.stderr

        out = admin("--config", str(cfg), "logout", "client1", "--text", "end of day")
        assert out.returncode == 0, out.stderr
        assert c.expect("5", timeout=10, admin=True).get(58) == "end of day"

        out = admin("--url", url, "sessions", env={"PLXTRA_ADMIN_TOKEN": "nope" * 5})
        assert out.returncode == 1 and "unauthorized" in out.stderr

        out = admin("--config", str(cfg), "session", "nobody")
        assert out.returncode == 1 and "no session named 'nobody'" in out.stderr

    out = admin("--url", f"http://127.0.0.1:{admin_port}", "--token", TOKEN, "sessions")
    assert out.returncode == 3 and "cannot reach" in out.stderr
