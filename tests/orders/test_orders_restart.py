"""End to end, exactly once: a gateway process killed with SIGKILL after a New while the order
fills on the simulator, and a partner that is logged out while its order fills.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_support import book, new_order

from gateway.app.testing import run_gateway_in_thread, spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.testing import SimHandle


def _not_poss_resend(value: str | None) -> bool:
    return value != "Y"


def assert_exactly_once(received: list[Any], cl: str) -> None:
    """FIX exactly-once: each ExecID once as a fresh report; any other copy is PossResend(97)=Y
    of an ExecID the partner already has (it de-duplicates by ExecID)."""
    fresh: list[str] = []
    for m in received:
        if m.msg_type == "8" and m.get(11) == cl and m.get(97) != "Y":
            fresh.append(m.get(17))
    assert len(fresh) == len(set(fresh)), fresh
    for m in received:
        if m.msg_type == "8" and m.get(11) == cl and m.get(97) == "Y":
            assert m.get(17) in fresh or m.get(150) == "0", m


def test_kill_9_restart_delivers_the_missed_fill_exactly_once(tmp_path: Path, sim: SimHandle) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port)
    proc = spawn_gateway_process(cfg)
    try:
        with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path / "a") as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("k1", "0002", "1", 50, "11.00", "XS06"))
            new = c.expect("8", timeout=10, where={11: "k1", 150: "0"})
            proc.kill()  # SIGKILL: no shutdown code runs
            assert proc.proc.returncode == -9
            c.wait_logged_out(timeout=10)
        order_id = new.get(37)
        book(sim, "XS:0009", "Ask", 50, "11.00", "XS06")  # the fill happens while we are down
        proc = spawn_gateway_process(cfg)
        with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path / "b") as c:
            c.wait_logged_on(timeout=15)
            fill = c.expect("8", timeout=15, where={11: "k1", 150: "F"})
            assert (fill.get(37), fill.get(32), fill.get(14), fill.get(39)) == (order_id, "50", "50", "2")
            # The New may come again flagged PossResend=Y if the kill beat its delivery
            # confirmation; nothing else for k1 may come.
            c.expect_none("8", within=1.5, where={11: "k1", 97: _not_poss_resend})
            assert [m for m in c.received if m.get(11) == "k1" and m.get(150) == "F"] == [fill]
            copies = [m for m in c.received if m.get(11) == "k1" and m.get(97) == "Y"]
            for _ in copies:  # consume them: after the next restart nothing at all may come
                c.expect("8", timeout=1, where={11: "k1", 97: "Y"})
            assert all(m.get(17) == new.get(17) for m in copies)
            # A second restart, clean this time: nothing is sent again.
            proc.terminate()
            c.wait_logged_out(timeout=10)
            proc = spawn_gateway_process(cfg)
            c.wait_logged_on(timeout=20)
            c.expect_none("8", within=1.5, where={11: "k1"})
            assert_exactly_once(c.received, "k1")
            assert c.errors == []
    finally:
        proc.terminate()


def test_fill_while_partner_logged_out_arrives_at_next_logon(tmp_path: Path, sim: SimHandle) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port)
    with run_gateway_in_thread(cfg):
        with FixTestClient(begin_string="FIX.4.2", sender="CLIENT2", port=port, tmp_path=tmp_path / "a") as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("o1", "0003", "2", 30, "12.00", "XS07"))
            c.expect("8", timeout=10, where={11: "o1", 150: "0"})
            c.logout()
        book(sim, "XS:0008", "Bid", 10, "12.00", "XS07")  # two fills while nobody is logged on
        book(sim, "XS:0008", "Bid", 20, "12.00", "XS07")
        # The partner comes back with ResetSeqNumFlag=Y: QuickFIX resend cannot help; the gateway must.
        with FixTestClient(begin_string="FIX.4.2", sender="CLIENT2", port=port, tmp_path=tmp_path / "b") as c:
            c.wait_logged_on(timeout=15)
            first = c.expect("8", timeout=10, where={11: "o1", 150: "1"})
            second = c.expect("8", timeout=10, where={11: "o1", 150: "2"})
            assert (first.get(14), second.get(14), second.get(151)) == ("10", "30", "0")
            c.expect_none("8", within=1.0, where={11: "o1"})
            assert c.errors == []

