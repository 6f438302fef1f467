"""The gateway with ``gateway.store: postgresql://...``: its order state lives in a real PostgreSQL
server (issue 14, item 1), committed once per loop turn before anything leaves, and survives a
kill -9 of the gateway: the restarted gateway answers a status request from that state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.app.testing import spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port

ORDER = [(1, "0001"), (55, "XS03"), (207, "XSX"), (54, "1"), (38, "5"), (40, "2"), (44, "1.00"), (59, "0"),
         (60, "<now>")]


def test_order_state_in_postgresql_survives_kill_9(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.create_database("gateway_e2e")
    user, host, port = pg_server.user, pg_server.host, pg_server.port
    store = f"postgresql://{user}:${{PGPASSWORD}}@{host}:{port}/gateway_e2e"
    fix_port = free_port()
    sim_yaml = tmp_path / "sim.yaml"
    sim_yaml.write_text("seed: 3\nmarket:\n  activity: off\n", encoding="utf-8")
    cfg = write_test_config(tmp_path, "embedded", fix_port, gateway={"store": store},
                            zenith={"sim_config": str(sim_yaml)})
    monkeypatch.setenv("PGPASSWORD", pg_server.password)   # the config reads it; so does the gateway

    first = spawn_gateway_process(cfg, timeout=60)
    try:
        with FixTestClient(port=fix_port, tmp_path=tmp_path / "client") as c:
            c.wait_logged_on(timeout=15)
            c.send("D", [(11, "pg1"), *ORDER])
            new = c.expect("8", timeout=10, where={11: "pg1", 150: "0"})
        order_id = new.get(37)
    finally:
        first.kill()   # kill -9: nothing is flushed on the way out

    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT instance, cl_ord_id, order_id FROM orders").fetchall()
        decided = conn.execute("SELECT outcome FROM decisions WHERE cl_ord_id = 'pg1'").fetchall()
    assert rows == [("default", "pg1", order_id)]
    assert len(decided) == 1, decided   # decided once
    assert not (tmp_path / "gateway.sqlite").exists()   # the order state never went to a local file

    second = spawn_gateway_process(cfg, timeout=60)
    try:
        with FixTestClient(port=fix_port, tmp_path=tmp_path / "client") as c:
            c.wait_logged_on(timeout=15)
            c.send("H", [(11, "pg1"), (55, "XS03"), (207, "XSX"), (54, "1")])
            status = c.expect("8", timeout=10, where={11: "pg1", 150: "I"})
        assert (status.get(37), status.get(39)) == (order_id, "0")
    finally:
        second.terminate()
