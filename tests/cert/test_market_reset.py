"""Prompted steps do not depend on each other: the certification market is emptied before every
prompted step. Without it, the 150 a first step leaves resting at 10.00 would take the maker's
liquidity meant for the next step's order, which would then rest instead of filling."""

from __future__ import annotations

import asyncio
from pathlib import Path

from raw_partners import ScriptedOrdersPartner, order

from gateway.cert.httpview import StatusServer
from gateway.cert.proxy import GatewayBackend
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import parse_suite

SUITE = """
name: leftovers
versions: [FIX.4.4]
automatic: false
steps:
  - id: leave
    prompt: Send a Day limit buy of 200 XS01 at 10.00 and leave the 150 that rests.
    expect:
      - expect: D
        fields: {38: "200"}
  - id: fill
    prompt: Send a Day limit buy of 100 XS01 at 10.00; it fills at once.
    expect:
      - expect: D
        fields: {38: "100"}
"""


class LeavesOrders(ScriptedOrdersPartner):
    async def act(self, step: str) -> None:
        self.send("D", order(f"{step.upper()}-1", "200" if step == "leave" else "100", "10.00"))


class NoResetBackend(GatewayBackend):
    """The control: what the steps would see if the market were not reset."""

    async def reset(self, timeout: float = 5.0) -> int:
        return 0


def _certify(backend_cls: type[GatewayBackend], tmp_path: Path) -> tuple[CertRun, LeavesOrders]:
    async def main() -> tuple[CertRun, LeavesOrders]:
        options = CertOptions("FIX.4.4", "LEAVES", "PLXTRA", port=0, timeout=5, prompt_timeout=8,
                              connect_timeout=20, run_timeout=60)
        run = CertRun([parse_suite(SUITE, "leftovers.yaml")], options,
                      backend=backend_cls("FIX.4.4", "LEAVES", workdir=tmp_path / "backend"))
        await run.start()
        view = StatusServer(run)
        await view.start()
        partner = LeavesOrders(run.port, "FIX.4.4", "LEAVES", view_port=view.port)
        task = asyncio.create_task(partner.run(duration=50))
        try:
            await run.run()
            await asyncio.sleep(0.5)     # the last execution reports reach the partner
        finally:
            await run.stop()
            await view.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return run, partner

    return asyncio.run(main())


def test_each_prompted_step_starts_on_an_empty_market(tmp_path: Path) -> None:
    run, partner = _certify(GatewayBackend, tmp_path)
    assert [(s.step.id, s.status) for s in run.states] == [("leave", "passed"), ("fill", "passed")], \
        [s.reason for s in run.states]
    assert "market reset: 1 order(s) left by earlier steps cancelled" in run.states[1].notes
    reports = {(m.get(11), m.get(150), m.get(39), m.get(14)) for m in partner.received if m.msg_type == "8"}
    assert ("LEAVE-1", "4", "4", "50") in reports      # the leftover 150: cancelled by the reset
    assert ("FILL-1", "F", "2", "100") in reports       # the next step's order filled, as alone


def test_without_the_reset_the_next_step_depends_on_the_last(tmp_path: Path) -> None:
    _, partner = _certify(NoResetBackend, tmp_path)
    reports = {(m.get(11), m.get(150), m.get(39), m.get(14)) for m in partner.received if m.msg_type == "8"}
    assert ("FILL-1", "0", "0", "0") in reports                           # rests, unfilled
    assert not any(r[0] == "FILL-1" and r[1] == "F" for r in reports)
    assert ("LEAVE-1", "F", "1", "150") in reports     # the leftover took the maker's 100 instead
