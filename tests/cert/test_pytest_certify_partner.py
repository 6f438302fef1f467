"""``pytest SUITE.yaml --certify-partner``: a partner gates its CI on the suite, one pytest item
per step, through the project's pytest plugin (a real pytest process, a QuickFIX partner)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from qf_partner import QuickFixPartner

from gateway.app.testing import wait_for_port
from gateway.fix.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
# An environment installed before the plugin had its entry point loads it by module name.
PLUGIN = [] if any(e.name == "plxtra_partner_certification" for e in entry_points(group="pytest11")) \
    else ["-p", "gateway.cert.pytest_plugin"]


def test_pytest_runs_session_suite_as_items(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "specs/partner-certification/session.yaml", "--certify-partner",
         "--certify-partner-comp-id", "PYQF", "--certify-partner-port", str(port),
         "--certify-partner-timeout", "10", "-p", "no:cacheprovider", "-v", *PLUGIN,
         "--junitxml", str(tmp_path / "j.xml")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, 60, alive=lambda: proc.poll() is None)
        with QuickFixPartner("FIX.4.4", "PYQF", "PLXTRA", port, tmp_path):
            out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "12 passed" in out
    assert "session.yaml::too-low-seqnum PASSED" in out
    assert 'tests="12"' in (tmp_path / "j.xml").read_text()


def test_pytest_certify_partner_fails_when_nobody_connects(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "specs/partner-certification/session.yaml", "--certify-partner",
         "--certify-partner-comp-id", "NOBODY", "--certify-partner-port", str(free_port()),
         "--certify-partner-connect-timeout", "2", "-p", "no:cacheprovider", "-q", *PLUGIN],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout
    assert "12 failed" in out.stdout
    assert "the partner did not log on" in out.stdout and "the partner never logged on" in out.stdout
