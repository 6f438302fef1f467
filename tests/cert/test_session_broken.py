"""Broken partners fail the ``session`` suite at the right step, with the reason named."""

from __future__ import annotations

import asyncio

import pytest
from raw_partners import IgnoresTestRequest, NoResendOnGap, RawPartner, ResendWithNewSeqNums

from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite


async def _certify(partner_cls: type[RawPartner], comp: str) -> CertRun:
    options = CertOptions("FIX.4.4", comp, "PLXTRA", port=0, timeout=3, connect_timeout=10,
                          run_timeout=60, max_failures=1)
    run = CertRun([load_suite("session")], options)
    await run.start()
    partner = partner_cls(run.port, "FIX.4.4", comp)
    task = asyncio.create_task(partner.run(duration=40))
    try:
        await run.run()
    finally:
        await run.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return run


@pytest.mark.parametrize(("partner", "step", "reason"), [
    (IgnoresTestRequest, "test-request", "no 0 Heartbeat matching"),
    (NoResendOnGap, "gap-detected", "no 2 ResendRequest"),
    (ResendWithNewSeqNums, "resend-answered", "without PossDupFlag(43)=Y: a new message instead"),
])
def test_broken_partner_fails_named_step(partner: type[RawPartner], step: str, reason: str) -> None:
    run = asyncio.run(_certify(partner, "BRK" + partner.__name__[:6].upper()))
    by_id = {s.step.id: s for s in run.states}
    failed = [s for s in run.states if s.status == "failed"]
    assert [s.step.id for s in failed] == [step], [(s.step.id, s.reason) for s in failed]
    assert reason in by_id[step].reason
    # Every step before the broken behaviour passed: the fault is pinned to one step.
    index = [s.step.id for s in run.states].index(step)
    assert all(s.status == "passed" for s in run.states[:index])
    assert not run.passed
