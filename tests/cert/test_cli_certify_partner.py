"""``plxtra-fix certify-partner`` as a partner's CI runs it: a real process, a QuickFIX partner,
exit codes, JUnit/HTML, a signed record that verifies (and stops verifying when edited), and
``certify-log`` giving the same verdicts from the message log alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from qf_partner import QuickFixPartner

from gateway.fix.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _cli("certify-partner", "--port", "0").returncode == 2                     # no partner CompID
    assert _cli("certify-partner", "--partner-comp-id", "X", "--suite", "nope").returncode == 2
    assert _cli("certify-partner", "--partner-comp-id", "X", "--begin-string", "FIX.9").returncode == 2
    assert _cli("certify-log", str(tmp_path / "missing.log")).returncode == 2


def test_cli_run_record_verify_and_log_verdict(tmp_path: Path) -> None:
    port = free_port()
    record, config = tmp_path / "cert.json", tmp_path / "cert.yaml"
    config.write_text("record_key: ${PLXTRA_CERT_KEY}\n")
    env = {"PLXTRA_CERT_KEY": "s3cret"}
    questionnaire = tmp_path / "q.yaml"
    questionnaire.write_text("engine: {name: QuickFIX, version: '1.15'}\nfix_version: FIX.4.4\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "certify-partner", "--port", str(port),
         "--partner-comp-id", "QFCLI", "--begin-string", "FIX.4.4", "--timeout", "10",
         "--connect-timeout", "30", "--record", str(record), "--config", str(config),
         "--junit", str(tmp_path / "cert.xml"), "--html", str(tmp_path / "cert.html"),
         "--questionnaire", str(questionnaire)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        banner = proc.stdout.readline()
        while "waiting for" not in banner and time.monotonic() < deadline:
            banner = proc.stdout.readline()
        assert "waiting for QFCLI" in banner
        with QuickFixPartner("FIX.4.4", "QFCLI", "PLXTRA", port, tmp_path) as partner:
            out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "PASSED: 12 passed, 0 failed" in out
    assert "PASS session/resend-answered [8]" in out
    assert 'failures="0"' in (tmp_path / "cert.xml").read_text()
    page = (tmp_path / "cert.html").read_text()
    assert "too-low-seqnum" in page and "HMAC-SHA256" in page and "PASSED" in page

    data = json.loads(record.read_text())
    assert data["verdict"] == "passed" and data["partner"]["comp_id"] == "QFCLI"
    assert data["partner"]["engine"] == {"name": "QuickFIX", "version": "1.15"}
    assert data["signature"]["algorithm"] == "HMAC-SHA256"
    assert data["started"].endswith("Z") and len(data["steps"]) == 12
    verify = _cli("certify-partner", "--verify-record", str(record), "--config", str(config), env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    wrong_key = _cli("certify-partner", "--verify-record", str(record), "--config", str(config),
                     env={"PLXTRA_CERT_KEY": "other"})
    assert wrong_key.returncode == 1 and "signature mismatch" in wrong_key.stdout
    # The message log is part of the evidence: editing it breaks the record.
    log = Path(str(record) + ".messages.log")
    original = log.read_bytes()
    log.write_bytes(original.replace(b"CERT-TR-", b"CERT-XX-", 1))
    tampered = _cli("certify-partner", "--verify-record", str(record), "--config", str(config), env=env)
    assert tampered.returncode == 1 and "does not match" in tampered.stdout
    log.write_bytes(original)

    # certify-log: our log proves every step of the session suite.
    verdict = _cli("certify-log", str(log), "--suite", "session", "--json")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    steps = {s["id"]: s["status"] for s in json.loads(verdict.stdout)["steps"]}
    assert steps["test-request"] == "passed" and steps["too-low-seqnum"] == "passed"
    assert steps["resend-answered"] == "passed" and steps["logout-answered"] == "passed"
    assert "failed" not in steps.values()
    # The partner's own QuickFIX log gives the same verdict on what it shows.
    own_logs = list(partner.log_dir.glob("FIX.4.4-*.messages.current.log"))
    assert own_logs
    own = _cli("certify-log", str(own_logs[0]), "--suite", "session")
    assert own.returncode == 0, own.stdout
    assert "PASS test-request" in own.stdout


def test_cli_web_without_questionnaire_waits_for_the_answers(tmp_path: Path) -> None:
    # Nobody answers: the run waits (bounded by --prompt-timeout), runs no step and fails.
    record = tmp_path / "unanswered.json"
    done = _cli("certify-partner", "--suite", "session", "--partner-comp-id", "WEBCLI", "--port", "0",
                "--web", "127.0.0.1:0", "--prompt-timeout", "1", "--record", str(record))
    assert done.returncode == 1, done.stderr
    assert "waiting for the capability questionnaire" in done.stdout
    steps = json.loads(record.read_text())["steps"]
    assert {s["status"] for s in steps} == {"not-run"}
    assert "questionnaire was not answered within 1s" in steps[0]["reason"]
