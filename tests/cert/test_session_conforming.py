"""A conforming engine (QuickFIX initiator, file store) passes the ``session`` suite with no human
action on FIX 4.2, 4.4 and 5.0 SP2; the record and the message log come out consistent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from qf_partner import QuickFixPartner

from gateway.cert.record import build_record, sign_record, verify_record, write_record
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite


async def _certify(begin: str, comp: str, tmp_path: Path) -> CertRun:
    log_path = tmp_path / "cert.messages.log"
    run = CertRun([load_suite("session")], CertOptions(begin, comp, "PLXTRA", port=0, timeout=10,
                                                       connect_timeout=20, run_timeout=90,
                                                       log_path=log_path))
    await run.start()
    try:
        with QuickFixPartner(begin, comp, "PLXTRA", run.port, tmp_path):
            await run.run()
    finally:
        await run.stop()
    return run


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4", "FIXT.1.1"])
def test_quickfix_partner_passes_session_suite(begin: str, tmp_path: Path) -> None:
    comp = "QFP" + begin.replace(".", "")[-2:]
    run = asyncio.run(_certify(begin, comp, tmp_path))
    failed = [f"{s.key}: {s.reason}" for s in run.states if s.status != "passed"]
    assert failed == []
    assert len(run.states) == 12
    # The record names the suite by content hash and the log by its SHA-256, and verifies.
    key = b"test-key"
    record = sign_record(build_record(run, log_path=tmp_path / "cert.messages.log"), key)
    write_record(tmp_path / "cert.json", record)
    assert record["verdict"] == "passed"
    assert record["suites"][0]["sha256"] == load_suite("session").sha256
    assert verify_record(tmp_path / "cert.json", key).ok
    data = json.loads((tmp_path / "cert.json").read_text())
    data["steps"][0]["status"] = "failed"
    (tmp_path / "cert.json").write_text(json.dumps(data))
    assert not verify_record(tmp_path / "cert.json", key).ok


def test_plxtra_initiates_to_a_quickfix_acceptor(tmp_path: Path) -> None:
    """--connect: Plxtra's side initiates to the partner's acceptor and runs the same suite."""
    from gateway.fix.testing import free_port

    port = free_port()

    async def main() -> CertRun:
        run = CertRun([load_suite("session")], CertOptions("FIX.4.4", "QFACC", "PLXTRA", timeout=10,
                                                           connect_timeout=20, run_timeout=90,
                                                           connect=("127.0.0.1", port), heartbeat=1))
        await run.start()
        try:
            with QuickFixPartner("FIX.4.4", "QFACC", "PLXTRA", port, tmp_path, acceptor=True):
                await run.run()
        finally:
            await run.stop()
        return run

    run = asyncio.run(main())
    assert [f"{s.key}: {s.reason}" for s in run.states if s.status != "passed"] == []
