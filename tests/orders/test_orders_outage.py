"""End to end, Zenith outage: the simulator stops (close 1012) under a running gateway, new
orders are rejected at once with a clear Text, then the simulator comes back on the same port with
its state file; the gateway reconnects, reconciles, and reports the order's fill exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from e2e_support import book, new_order

from gateway.app.testing import run_gateway_in_thread, write_test_config
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread


def _wait(pred: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_zenith_outage_rejects_clearly_then_reconciles_exactly_once(tmp_path: Path) -> None:
    sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=5, state_path=tmp_path / "sim.sqlite")
    first = run_sim_in_thread(sim_cfg)
    sim_port, second = first.port, None
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=first.url, fix_port=port)
    try:
        client = FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path)
        with run_gateway_in_thread(cfg) as gw, client as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("z1", "0001", "1", 40, "13.00", "XS08"))
            c.expect("8", timeout=10, where={11: "z1", 150: "0"})
            first.stop()  # Plxtra goes away (close 1012)
            _wait(lambda: not gw.gateway.client.connected, 10)
            c.send("D", new_order("z2", "0001", "1", 1, "13.00", "XS08"))
            down = c.expect("8", timeout=10, where={11: "z2"})
            assert (down.get(39), down.get(58)) == ("8", "Plxtra connection unavailable")
            # Plxtra comes back on the same port with its state; the order fills; one report only.
            second = run_sim_in_thread(sim_cfg.with_overrides(port=sim_port))
            book(second, "XS:0009", "Ask", 40, "13.00", "XS08")
            fill = c.expect("8", timeout=30, where={11: "z1", 150: "F"})
            assert (fill.get(14), fill.get(39)) == ("40", "2")
            _wait(lambda: gw.gateway.client.connected, 30)
            c.expect_none("8", within=1.5, where={11: "z1"})
            c.send("D", new_order("z3", "0001", "1", 1, "1.00", "XS08"))
            c.expect("8", timeout=10, where={11: "z3", 150: "0"})
    finally:
        first.stop()
        if second is not None:
            second.stop()
