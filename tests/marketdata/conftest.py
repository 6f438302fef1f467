"""Fixtures for end-to-end market-data tests: the real simulator (own thread and loop) and the
real gateway (QuickFIX acceptor + loop, in this process, market-data service only); the tests
drive QuickFIX initiators (:class:`gateway.fix.testing.FixTestClient`) against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app.testing import free_port, run_gateway_in_thread, write_test_config
from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread
from tests.marketdata.mdhelpers import Market, md_only


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
    with run_sim_in_thread(cfg) as handle:
        m = Market(handle)
        try:
            yield m
        finally:
            m.close()


@pytest.fixture
def gateway_factory(tmp_path: Path, market: Market) -> Iterator[Callable[..., Any]]:
    started: list[Any] = []

    def start(sessions: Any = None, gateway: Any = None) -> Any:
        port = free_port()
        cfg = write_test_config(
            tmp_path / f"gw{len(started)}",
            zenith_url=market.url,
            fix_port=port,
            sessions=sessions,
            message_store="memory",
            gateway=gateway,
        )
        gw = run_gateway_in_thread(cfg, services=[md_only])
        started.append(gw)
        return gw

    yield start
    for gw in reversed(started):
        gw.stop()
