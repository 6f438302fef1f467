"""The prompted ``market-data`` suite driven by a scripted partner reading the JSON view: the real
gateway answers with a snapshot, incremental updates (the maker's bid) and a reject."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from raw_partners import ScriptedMarketDataPartner

from gateway.cert.httpview import StatusServer
from gateway.cert.proxy import GatewayBackend
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4", "FIXT.1.1"])
def test_scripted_partner_passes_market_data_suite(begin: str, tmp_path: Path) -> None:
    async def main() -> tuple[CertRun, ScriptedMarketDataPartner]:
        options = CertOptions(begin, "MDSCRIPT", "PLXTRA", port=0, timeout=5, prompt_timeout=10,
                              connect_timeout=20, run_timeout=90)
        run = CertRun([load_suite("market-data")], options,
                      backend=GatewayBackend(begin, "MDSCRIPT", workdir=tmp_path / "backend"))
        await run.start()
        view = StatusServer(run)
        await view.start()
        partner = ScriptedMarketDataPartner(run.port, begin, "MDSCRIPT", view_port=view.port)
        task = asyncio.create_task(partner.run(duration=80))
        try:
            await run.run()
        finally:
            await run.stop()
            await view.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return run, partner

    run, partner = asyncio.run(main())
    assert [(s.step.id, s.status, s.reason) for s in run.states if s.status != "passed"] == []
    types = [m.msg_type for m in partner.received]
    assert "W" in types and "X" in types and "Y" in types
    reject = next(m for m in partner.received if m.msg_type == "Y")
    assert reject.get(281) == "0"          # MDReqRejReason: unknown symbol
