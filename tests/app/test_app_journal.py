"""The hand-off journals order-changing messages on the QuickFIX thread, before the loop sees them,
so a NewOrderSingle whose MsgSeqNum QuickFIX consumed survives a crash of the gateway process."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.app.testing import spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port

ORDER = [(1, "0001"), (55, "XS03"), (207, "XSX"), (54, "1")]


def _journaled(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_orders_are_journaled_and_a_killed_gateway_does_not_lose_them(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, "embedded", port, sessions=None)
    journal = tmp_path / "gateway.sqlite.inbound"
    with spawn_gateway_process(cfg, timeout=60) as proc:
        with FixTestClient(port=port, tmp_path=tmp_path / "c1") as c:
            c.wait_logged_on(timeout=10)
            c.send("D", [(11, "jr1"), *ORDER, (38, "7"), (40, "2"), (44, "1.00"), (59, "0"), (60, "<now>")])
            c.expect("8", timeout=10, where={11: "jr1", 150: "0"})
            c.send("H", [(11, "jr1"), *ORDER])   # not order-changing: not journaled
            c.expect("8", timeout=10, where={11: "jr1", 150: "I"})
            entries = _journaled(journal)
            assert [e["t"] for e in entries] == ["D"], entries
            assert ["11", "jr1"] in [[str(t), v] for t, v in entries[0]["f"]]
        proc.kill()   # SIGKILL: no shutdown path runs

    # The restarted gateway knows the order (store) and does not place it a second time (journal
    # replay skips ClOrdIDs the store knows): status says open with the original quantity.
    with spawn_gateway_process(cfg, timeout=60) as proc:
        with FixTestClient(port=port, tmp_path=tmp_path / "c2") as c:
            c.wait_logged_on(timeout=10)
            c.send("H", [(11, "jr1"), *ORDER])
            status = c.expect("8", timeout=10, where={11: "jr1", 150: "I"})
            assert status.get(39) == "0" and status.get(151) == "7", status
            c.send("AF", [(584, "mass1"), (585, "7")])   # every order of the session
            reports = [c.expect("8", timeout=10, where={584: "mass1"})]
            while reports[-1].get(912) != "Y":
                reports.append(c.expect("8", timeout=10, where={584: "mass1"}))
            assert [r.get(11) for r in reports].count("jr1") == 1
        assert proc.terminate(timeout=20) == 0, proc.output()
