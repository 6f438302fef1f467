"""The prompted ``orders`` suite end to end: a scripted partner reads the JSON view and sends what
each prompt asks; the real gateway on the certification simulator answers (fills, partial fill,
reject and unsolicited cancel chosen by quantity); broken partners fail at the named step."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from raw_partners import NoHandlInst, ReusesClOrdID, ScriptedOrdersPartner, WrongOrigClOrdID, http_json

from gateway.cert.httpview import StatusServer
from gateway.cert.proxy import GatewayBackend
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite

VERSIONS = ["FIX.4.2", "FIX.4.4", "FIXT.1.1"]


async def _certify(partner_cls: type[ScriptedOrdersPartner], comp: str, tmp_path: Path,
                   checks: dict, begin: str = "FIX.4.4") -> CertRun:
    options = CertOptions(begin, comp, "PLXTRA", port=0, timeout=5, prompt_timeout=8,
                          connect_timeout=20, run_timeout=120, log_path=tmp_path / "orders.log")
    backend = GatewayBackend(begin, comp, cancel_after=1.0, workdir=tmp_path / "backend")
    run = CertRun([load_suite("orders")], options, backend=backend)
    await run.start()
    view = StatusServer(run)
    await view.start()
    partner = partner_cls(run.port, begin, comp, view_port=view.port)
    task = asyncio.create_task(partner.run(duration=100))
    try:
        await run.run()
        checks["status"] = await http_json(view.port, "/status")
        checks["step"] = await http_json(view.port, "/steps/orders/partial-fill-cancel")
        checks["received"] = list(partner.received)
        checks["backend_errors"] = list(backend.errors)
    finally:
        await run.stop()
        await view.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return run


@pytest.mark.parametrize("begin", VERSIONS)
def test_scripted_partner_passes_orders_suite(begin: str, tmp_path: Path) -> None:
    checks: dict = {}
    run = asyncio.run(_certify(ScriptedOrdersPartner, "SCRIPTED", tmp_path, checks, begin))
    failed = [(s.step.id, s.reason) for s in run.states if s.status != "passed"]
    assert failed == [], (failed, checks["backend_errors"])
    assert checks["status"]["finished"] and checks["status"]["passed"]
    # What the partner received came from the real gateway on the deterministic market.
    reports = [(m.get(38), m.get(150), m.get(39)) for m in checks["received"] if m.msg_type == "8"]
    fill, partial = ("2", "1") if begin == "FIX.4.2" else ("F", "F")   # FIX 4.2 ExecType(150) 2/1: fills
    assert ("100", fill, "2") in reports                # 100: filled at once
    assert ("200", partial, "1") in reports             # 200: 50 filled, the rest rests
    assert any(q == "999" and e == "8" for q, e, _ in reports)  # 999: rejected
    assert ("400", "4", "4") in reports                 # 400: unsolicited cancel by Plxtra
    # The JSON view decodes the step's messages with tag names and enum meanings.
    decoded = checks["step"]["decoded"]
    names = {f["name"] for m in decoded for f in m["fields"]}
    assert {"ClOrdID", "OrigClOrdID", "OrdStatus"} <= names
    assert any(f["meaning"] for m in decoded for f in m["fields"] if f["tag"] == 35)


@pytest.mark.parametrize(("partner", "step", "reason"), [
    (ReusesClOrdID, "partial-fill-cancel", "reused: ClOrdIDs must be unique"),
    (WrongOrigClOrdID, "replace-chain", "is not the order's current ClOrdID"),
])
def test_broken_order_partner_fails_named_step(partner: type[ScriptedOrdersPartner], step: str, reason: str,
                                               tmp_path: Path) -> None:
    checks: dict = {}
    run = asyncio.run(_certify(partner, partner.__name__[:10].upper(), tmp_path, checks))
    failed = {s.step.id: s.reason for s in run.states if s.status == "failed"}
    assert list(failed) == [step], failed
    assert reason in failed[step]


def test_orders_the_gateway_rejects_fail_the_step(tmp_path: Path) -> None:
    # A D that matches the step's fields but that the real gateway refuses (FIX 4.2 without the
    # HandlInst it requires) must not pass: the Reject reaches the partner and names the tag.
    checks: dict = {}
    run = asyncio.run(_certify(NoHandlInst, "NOHANDL", tmp_path, checks, "FIX.4.2"))
    first = run.states[0]
    assert first.step.id == "limit-filled" and first.status == "failed"
    assert "with a session Reject: Required tag missing (tag 21)" in first.reason
    rejects = [m for m in checks["received"] if m.msg_type == "3"]
    assert rejects and rejects[0].get(45) == "2" and rejects[0].get(371) == "21"   # the partner's own D
