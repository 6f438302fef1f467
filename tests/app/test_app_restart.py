"""`plxtra-fix run` on the embedded simulator survives a restart: the simulator keeps its state
in a file next to the gateway store, so orders the store calls open are still open at Plxtra."""

from __future__ import annotations

from pathlib import Path

from gateway.app.runtime import EMBEDDED_SIM_STATE
from gateway.app.testing import spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port

ORDER = [(1, "0001"), (55, "XS03"), (207, "XSX"), (54, "1")]


def test_resting_order_can_be_queried_and_cancelled_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, "embedded", port, sessions=None)
    with spawn_gateway_process(cfg, timeout=60) as proc:
        with FixTestClient(port=port, tmp_path=tmp_path / "c1") as c:
            c.wait_logged_on(timeout=10)
            c.send("D", [(11, "keep1"), *ORDER, (38, "5"), (40, "2"), (44, "1.00"), (59, "0"), (60, "<now>")])
            c.expect("8", timeout=10, where={11: "keep1", 150: "0"})
        assert proc.terminate(timeout=20) == 0, proc.output()
    assert (tmp_path / EMBEDDED_SIM_STATE).is_file()   # next to gateway.sqlite

    with spawn_gateway_process(cfg, timeout=60) as proc:
        with FixTestClient(port=port, tmp_path=tmp_path / "c2") as c:
            c.wait_logged_on(timeout=10)
            c.send("H", [(11, "keep1"), *ORDER])
            status = c.expect("8", timeout=10, where={11: "keep1", 150: "I"})
            assert status.get(39) == "0" and status.get(151) == "5", status
            c.send("F", [(11, "cxl1"), (41, "keep1"), *ORDER, (38, "5"), (60, "<now>")])
            done = c.expect(None, timeout=10, where={11: "cxl1"})
            assert done.msg_type == "8" and done.get(150) == "4" and done.get(39) == "4", done
        assert proc.terminate(timeout=20) == 0, proc.output()
