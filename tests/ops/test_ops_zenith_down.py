"""A gateway started while Zenith is down serves anyway: /readyz says what is missing, partners
log on and their orders are rejected with a clear Text, and it trades as soon as Zenith is up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread
from tests.ops.opshelpers import api, buy, write_admin_config

pytestmark = pytest.mark.timeout(120)


def test_gateway_starts_without_zenith_and_serves_once_it_is_up(tmp_path: Path) -> None:
    fix_port, zenith_port = free_port(), free_port()
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    text = cfg.read_text(encoding="utf-8").replace("url: embedded", f"url: ws://127.0.0.1:{zenith_port}/Zenith")
    cfg.write_text(text, encoding="utf-8")
    with run_gateway_in_thread(cfg, timeout=30):
        status, ready = api(admin_port, "GET", "/readyz")
        assert status == 503 and ready["ready"] is False
        assert "zenith" in ready["not_ready"] and "not connected" in ready["not_ready"]["zenith"]
        with FixTestClient(port=fix_port, tmp_path=tmp_path) as c:
            c.wait_logged_on(timeout=10)            # partners keep their session (documented choice)
            c.send("D", buy("down-1", price="1.00"))
            rejected = c.expect("8", timeout=10, where={11: "down-1"})
            assert rejected.get(150) == "8" and rejected.get(58), rejected

            sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7,
                                                           state_path=tmp_path / "sim.sqlite")
            with run_sim_in_thread(sim_cfg, port=zenith_port):
                deadline = time.monotonic() + 40
                while api(admin_port, "GET", "/readyz")[0] != 200:
                    assert time.monotonic() < deadline, "gateway never became ready"
                    time.sleep(0.2)
                c.send("D", buy("up-1", price="1.00"))
                assert c.expect("8", timeout=10, where={11: "up-1"}).get(150) == "0"
