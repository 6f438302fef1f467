"""State safety: every order-changing request is decided once, and an answer once given is final.

Real processes and sockets: the gateway runs as ``plxtra-fix run`` (killed with SIGKILL at named
crash points of the intake, see gateway.failpoints), the partner is a QuickFIX initiator, Plxtra is
the simulator with its own state file; every test checks the FIX side and Plxtra's side.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_support import new_order

from gateway.app.testing import (
    DEMO_SESSIONS,
    demo_session,
    run_gateway_in_thread,
    spawn_gateway_process,
    write_test_config,
)
from gateway.failpoints import CRASH_POINTS
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import SimHandle, run_sim_in_thread
from gateway.vocab.records import InboundMessage
from gateway.zenith import ZenithClient

ACCOUNT = "XS:0001"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimHandle]:
    """A simulator of its own (no market activity), so every order it holds is one of this test's."""
    handle = run_sim_in_thread(load_sim_config(None).with_overrides(
        activity=False, seed=3, state_path=tmp_path / "sim.sqlite"))
    try:
        yield handle
    finally:
        handle.stop()


def plxtra_orders(sim: SimHandle, account: str = ACCOUNT) -> list[dict[str, Any]]:
    """Every order Plxtra (the simulator) holds for ``account``, asked over Zenith."""

    async def query() -> Any:
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        await client.start()
        try:
            return await client.request("Trading", "QueryOrders", {"Account": account})
        finally:
            await client.close()

    return list(sim.call(query))


def quantities(orders: list[dict[str, Any]]) -> list[Decimal]:
    return sorted(Decimal(str(o["Details"]["Quantity"])) for o in orders)


def limited_config(tmp_path: Path, sim: SimHandle, port: int, max_qty: int) -> Path:
    client1 = demo_session("client1", "FIX.4.4", "CLIENT1", ["0001", "0002"],
                           limits={"max_order_qty": max_qty})
    return write_test_config(tmp_path, zenith_url=sim.url, fix_port=port,
                             sessions=[client1, *DEMO_SESSIONS[1:]])


def answers(received: list[InboundMessage], cl: str) -> list[InboundMessage]:
    return [m for m in received if m.msg_type in ("8", "9") and m.get(11) == cl]


def assert_final(received: list[InboundMessage], cl: str) -> None:
    """An answer once given is final: each ExecID (or reject) comes once as a fresh message; any
    other copy is PossResend(97)=Y with the same body."""
    fresh: dict[str, InboundMessage] = {}
    for m in answers(received, cl):
        ident = m.get(17) or m.get(58) or ""
        if m.get(97) != "Y":
            assert ident not in fresh, f"{cl}: answer {ident} sent twice without PossResend: {m}"
            fresh[ident] = m
    for m in answers(received, cl):
        if m.get(97) == "Y" and (m.get(17) or m.get(58) or "") in fresh:
            first = fresh[m.get(17) or m.get(58) or ""]
            assert body(m) == body(first), f"PossResend copy differs: {m} vs {first}"


def body(m: InboundMessage) -> list[tuple[int, str]]:
    return [(t, v) for t, v in m.fields if t not in (34, 43, 52, 97, 122, 369)]


def wait_until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


# --- a rejected request is never executed --------------------------------------------------------


def test_rejected_order_is_not_placed_after_a_restart_with_a_raised_limit(
        tmp_path: Path, sim: SimHandle) -> None:
    port = free_port()
    cfg = limited_config(tmp_path, sim, port, 1_000)
    client = FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path)
    proc = spawn_gateway_process(cfg)
    try:
        with client as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("big1", "0001", "1", 2_000, "10.00", "XS01"))
            rej = c.expect("8", timeout=10, where={11: "big1"})
            assert (rej.get(39), rej.get(150)) == ("8", "8") and "exceeds" in (rej.get(58) or ""), rej
            assert proc.terminate() == 0, proc.output()   # a clean stop
            c.wait_logged_out(timeout=10)
            # The operator raises the limit; the restarted gateway must not revisit the decision.
            cfg = limited_config(tmp_path, sim, port, 1_000_000)
            proc = spawn_gateway_process(cfg)
            c.wait_logged_on(timeout=20)
            c.expect_none("8", within=2.0, where={11: "big1"})
            assert "replaying" not in proc.output() and "deciding journaled" not in proc.output()
            assert len(answers(c.received, "big1")) == 1
            # The session still trades: a fresh order under the new limit is placed.
            c.send("D", new_order("big2", "0001", "1", 2_000, "10.00", "XS01"))
            c.expect("8", timeout=10, where={11: "big2", 150: "0"})
        assert quantities(plxtra_orders(sim)) == [Decimal(2000)]   # big2 only
    finally:
        proc.terminate()


def test_reject_during_a_plxtra_outage_stays_final_across_kill_9(tmp_path: Path) -> None:
    """Orders and cancels answered "Plxtra connection unavailable" are never executed later."""
    sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=4, state_path=tmp_path / "sim.sqlite")
    sim = run_sim_in_thread(sim_cfg)
    sim_port = sim.port
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port)
    proc = spawn_gateway_process(cfg)
    try:
        with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path) as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("live1", "0001", "1", 10, "5.00", "XS02"))
            c.expect("8", timeout=10, where={11: "live1", 150: "0"})
            sim.stop()   # Plxtra goes away
            c.send("D", new_order("out1", "0001", "1", 20, "5.00", "XS02"))
            down = c.expect("8", timeout=10, where={11: "out1"})
            assert (down.get(39), down.get(58)) == ("8", "Plxtra connection unavailable"), down
            c.send("F", [(11, "cx1"), (41, "live1"), (55, "XS02"), (207, "XSX"), (54, "1"), (60, "<now>")])
            cxl = c.expect("9", timeout=10, where={11: "cx1"})
            assert cxl.get(58) == "Plxtra connection unavailable", cxl
            proc.kill()
            assert proc.proc.returncode == -9
            c.wait_logged_out(timeout=10)
            sim = run_sim_in_thread(sim_cfg.with_overrides(port=sim_port))   # Plxtra is back
            proc = spawn_gateway_process(cfg)
            c.wait_logged_on(timeout=20)
            # Only a PossResend copy of an answer whose delivery the kill left unconfirmed may come.
            c.expect_none(None, within=2.5, where={11: lambda v: v in ("out1", "cx1"),
                                                   97: lambda v: v != "Y"})
            assert_final(c.received, "out1")
            assert_final(c.received, "cx1")
        orders = plxtra_orders(sim)
        assert quantities(orders) == [Decimal(10)], orders   # out1 never placed
        assert [o["Status"] for o in orders] != ["Cancelled"], orders   # cx1 never executed
    finally:
        proc.terminate()
        sim.stop()


def test_a_possresend_repeat_of_a_decided_request_is_ignored(tmp_path: Path, sim: SimHandle) -> None:
    port = free_port()
    cfg = limited_config(tmp_path, sim, port, 1_000)
    with run_gateway_in_thread(cfg), FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port,
                                                   tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=15)
        c.send("D", new_order("pr1", "0001", "1", 10, "5.00", "XS03"))
        new = c.expect("8", timeout=10, where={11: "pr1", 150: "0"})
        c.send("D", new_order("pr2", "0001", "1", 5_000, "5.00", "XS03"))   # over the limit
        c.expect("8", timeout=10, where={11: "pr2", 150: "8"})
        # Repeats flagged PossResend / PossDup (QuickFIX passes 97=Y through to the application).
        c.send("D", [(97, "Y"), *new_order("pr1", "0001", "1", 10, "5.00", "XS03")])
        c.send("D", [(97, "Y"), *new_order("pr2", "0001", "1", 5_000, "5.00", "XS03")])
        c.send("F", [(11, "prc"), (41, "pr1"), (55, "XS03"), (207, "XSX"), (54, "1"), (60, "<now>")])
        canceled = c.expect("8", timeout=10, where={11: "prc", 150: "4"})
        c.send("F", [(97, "Y"), (11, "prc"), (41, "pr1"), (55, "XS03"), (207, "XSX"), (54, "1"),
                     (60, "<now>")])
        c.expect_none(None, within=1.5, where={11: lambda v: v in ("pr1", "pr2", "prc")})
        assert [m.get(17) for m in answers(c.received, "pr1")] == [new.get(17)]
        assert len(answers(c.received, "pr2")) == 1
        assert [m.get(17) for m in answers(c.received, "prc")] == [canceled.get(17)]
        # A PossResend of a request the gateway never saw is processed as the original would be.
        c.send("D", [(97, "Y"), *new_order("pr3", "0001", "1", 7, "5.00", "XS03")])
        c.expect("8", timeout=10, where={11: "pr3", 150: "0"})
    assert quantities(plxtra_orders(sim)) == [Decimal(7), Decimal(10)]


# --- kill -9 at each step of the intake ----------------------------------------------------------


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
def test_kill_9_at_each_intake_step_places_the_order_once_and_answers_it(
        tmp_path: Path, sim: SimHandle, point: str) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port)
    proc = spawn_gateway_process(cfg, env={"PLXTRA_FIX_CRASH_AT": point})
    try:
        with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path) as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("k9", "0001", "1", 33, "4.00", "XS04"))
            assert proc.wait(timeout=15) == -9, proc.output()   # it crashed at the point
            c.wait_logged_out(timeout=10)
            proc = spawn_gateway_process(cfg)
            c.wait_logged_on(timeout=20)
            wait_until(lambda: any(m.get(150) == "0" for m in answers(c.received, "k9")), 15,
                       f"ER New for k9 after a crash at {point}")
            time.sleep(1.5)   # anything else for k9 would come now
            assert_final(c.received, "k9")
            # New, possibly after Pending New (a restart that keeps the loop busy past
            # pending_status_after) and PossResend copies; nothing else.
            kinds = [m.get(150) for m in answers(c.received, "k9") if m.get(97) != "Y"]
            assert kinds in (["0"], ["A", "0"]), answers(c.received, "k9")
        assert quantities(plxtra_orders(sim)) == [Decimal(33)], f"crash at {point}"
    finally:
        proc.terminate()


@pytest.mark.parametrize("point", ["decision-committed", "answer-handed"])
def test_kill_9_after_a_reject_then_a_raised_limit_never_places_it(
        tmp_path: Path, sim: SimHandle, point: str) -> None:
    port = free_port()
    proc = spawn_gateway_process(limited_config(tmp_path, sim, port, 1_000),
                                 env={"PLXTRA_FIX_CRASH_AT": point})
    try:
        with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path) as c:
            c.wait_logged_on(timeout=15)
            c.send("D", new_order("kr", "0001", "1", 5_000, "4.00", "XS05"))
            assert proc.wait(timeout=15) == -9, proc.output()
            c.wait_logged_out(timeout=10)
            proc = spawn_gateway_process(limited_config(tmp_path, sim, port, 1_000_000))
            c.wait_logged_on(timeout=20)
            # The reject that was decided before the crash is the answer (re-sent if it may not
            # have left, flagged PossResend); the raised limit changes nothing.
            wait_until(lambda: answers(c.received, "kr"), 15, "the reject of kr")
            time.sleep(1.5)   # anything else for kr would come now
            assert {m.get(150) for m in answers(c.received, "kr")} == {"8"}, answers(c.received, "kr")
            assert_final(c.received, "kr")
        assert plxtra_orders(sim) == []
    finally:
        proc.terminate()


# --- a silent Plxtra: a definite status within pending_status_after, then the real outcome ---------


def test_a_silent_plxtra_gets_the_partner_pending_new_then_the_real_outcome(
        tmp_path: Path, sim: SimHandle) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port,
                            gateway={"pending_status_after": 0.5}, zenith={"request_timeout": 1.0})
    with run_gateway_in_thread(cfg), FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port,
                                                   tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=15)
        sim.call_sync(sim.server.set_response_delay, 2.5)   # Plxtra accepts, and says nothing for 2.5 s
        sent = time.monotonic()
        c.send("D", new_order("sl1", "0001", "1", 12, "3.00", "XS07"))
        pending = c.expect("8", timeout=5, where={11: "sl1"})
        assert (pending.get(150), pending.get(39)) == ("A", "A"), pending
        assert time.monotonic() - sent < 2.0   # well before Plxtra answered
        # PlaceOrder times out at the gateway (1 s) and is re-issued with the same RequestID until
        # Plxtra answers; once it does, the partner gets New, for the one order Plxtra has.
        time.sleep(1.5)
        sim.call_sync(sim.server.set_response_delay, 0.0)
        new = c.expect("8", timeout=20, where={11: "sl1", 150: "0"})
        assert new.get(39) == "0" and new.get(37) not in (None, "NONE"), new
        # A cancel Plxtra is slow to answer: Pending Cancel, then Canceled.
        sim.call_sync(sim.server.set_response_delay, 1.5)
        c.send("F", [(11, "sl1c"), (41, "sl1"), (55, "XS07"), (207, "XSX"), (54, "1"), (60, "<now>")])
        pend_cxl = c.expect("8", timeout=5, where={11: "sl1c"})
        assert (pend_cxl.get(150), pend_cxl.get(39), pend_cxl.get(41)) == ("6", "6", "sl1"), pend_cxl
        time.sleep(2.0)   # the CancelOrder timed out at the gateway: its outcome is unknown, no reject
        sim.call_sync(sim.server.set_response_delay, 0.0)
        c.expect("8", timeout=20, where={11: "sl1c", 150: "4"})
        time.sleep(1.0)
        for cl in ("sl1", "sl1c"):   # never a reject, of the order or of the cancel
            assert not [m for m in answers(c.received, cl) if m.msg_type == "9" or m.get(150) == "8"]
    orders = plxtra_orders(sim)
    assert quantities(orders) == [Decimal(12)] and orders[0]["Status"] == "Cancelled", orders
