"""End to end: a QuickFIX initiator -> the real gateway (thread or process) -> the real simulator.

Each FIX version trades through the whole path: new, partial fill and fill against a book built
from another account, replace, status, cancel, rejects, mass status and mass cancel.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import CLIENTS, NOW, book, new_order

from gateway.app.testing import run_gateway_in_thread, write_test_config
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.testing import SimHandle


@pytest.mark.parametrize("begin", list(CLIENTS))
def test_order_lifecycle_per_version(tmp_path: Path, sim: SimHandle, begin: str) -> None:
    target, account, appl_ver = CLIENTS[begin]
    symbol = {"FIX.4.2": "XS03", "FIX.4.4": "XS04", "FIXT.1.1": "XS05"}[begin]
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port)
    trade = "1" if begin == "FIX.4.2" else "F"
    done = "2" if begin == "FIX.4.2" else "F"
    with (
        run_gateway_in_thread(cfg),
        FixTestClient(
            begin_string=begin, sender=target, port=port, tmp_path=tmp_path, default_appl_ver_id=appl_ver
        ) as c,
    ):
        c.wait_logged_on(timeout=15)
        # New + partial fill + fill against a book built from XS:0008.
        book(sim, "XS:0008", "Ask", 40, "9.00", symbol)
        c.send("D", new_order("e1", account, "1", 100, "9.10", symbol))
        new = c.expect("8", timeout=10, where={11: "e1", 150: "0"})
        assert new.get(39) == "0" and new.get(151) == "100" and new.get(1) == account
        part = c.expect("8", timeout=10, where={11: "e1", 150: trade})
        assert (part.get(32), part.get(31), part.get(14), part.get(151)) == ("40", "9", "40", "60")
        book(sim, "XS:0008", "Ask", 60, "9.10", symbol)
        fill = c.expect("8", timeout=10, where={11: "e1", 39: "2"})
        assert (fill.get(150), fill.get(14), fill.get(151)) == (done, "100", "0")
        # Amend a resting order, then cancel it; status in between.
        c.send("D", new_order("e2", account, "2", 10, "9.50", symbol))
        c.expect("8", timeout=10, where={11: "e2", 150: "0"})
        c.send(
            "G",
            [
                (11, "e3"),
                (41, "e2"),
                (1, account),
                (21, "1"),
                (55, symbol),
                (207, "XSX"),
                (54, "2"),
                (38, 20),
                (40, "2"),
                (44, "9.60"),
                (60, NOW),
            ],
        )
        rep = c.expect("8", timeout=10, where={150: "5"})
        assert (rep.get(11), rep.get(41), rep.get(38), rep.get(44)) == ("e3", "e2", "20", "9.6")
        c.send("H", [(11, "e3"), (55, symbol), (54, "2")])
        st = c.expect("8", timeout=10, where={11: "e3", 39: "0"})
        assert st.get(150) == ("0" if begin == "FIX.4.2" else "I")
        c.send("F", [(11, "e4"), (41, "e3"), (55, symbol), (54, "2"), (38, 20), (60, NOW)])
        cxl = c.expect("8", timeout=10, where={150: "4"})
        assert (cxl.get(11), cxl.get(41), cxl.get(151)) == ("e4", "e3", "0")
        # Rejects: duplicate ClOrdID, non-entitled account, cancel of a finished order.
        c.send("D", new_order("e1", account, "1", 1, "9.00", symbol))
        dup = c.expect("8", timeout=10, where={11: "e1", 39: "8"})
        assert dup.get(103) == "6"
        c.send("D", new_order("e5", "XS:0009", "1", 1, "9.00", symbol))
        bad = c.expect("8", timeout=10, where={11: "e5", 39: "8"})
        assert "XS:0009" in (bad.get(58) or "")
        c.send("F", [(11, "e6"), (41, "e1"), (55, symbol), (54, "1"), (38, 100), (60, NOW)])
        late = c.expect("9", timeout=10)
        assert (late.get(434), late.get(102)) == ("1", "0")
        if begin != "FIX.4.2":
            c.send("D", new_order("e7", account, "1", 5, "1.00", symbol))
            c.expect("8", timeout=10, where={11: "e7", 150: "0"})
            c.send("AF", [(584, "ms"), (585, "7")])
            ms = c.expect("8", timeout=10, where={584: "ms"})
            assert (ms.get(11), ms.get(912)) == ("e7", "Y")
            c.send("q", [(11, "e8"), (530, "7"), (60, NOW)])
            r = c.expect("r", timeout=10)
            assert (r.get(531), r.get(533)) == ("7", "1")
            c.expect("8", timeout=10, where={11: "e8", 150: "4"})
        assert c.errors == []
