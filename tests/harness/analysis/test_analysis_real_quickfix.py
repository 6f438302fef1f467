"""``orders`` and ``sessions`` on logs written by real QuickFIX engines: the gateway (acceptor) on the
embedded simulator and a QuickFIX initiator, over TCP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.app.testing import run_gateway_in_thread, write_test_config
from gateway.cli import main
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import SimHandle, run_sim_in_thread
from gateway.zenith import ZenithClient

SYMBOL = "XS06"


def _order(cl: str, side: str, qty: int, px: str) -> list[tuple[int, object]]:
    return [
        (11, cl),
        (1, "0001"),
        (21, "1"),
        (55, SYMBOL),
        (207, "XSX"),
        (54, side),
        (38, qty),
        (40, "2"),
        (44, px),
        (59, "0"),
        (60, "<now>"),
    ]


def _ask(sim: SimHandle, qty: int, px: str) -> None:
    async def place() -> object:
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        await client.start()
        try:
            return await client.request(
                "Trading",
                "PlaceOrder",
                {
                    "Account": "XS:0008",
                    "Details": {
                        "Exchange": "XSX",
                        "Code": SYMBOL,
                        "Side": "Ask",
                        "Style": "Market",
                        "Type": "Limit",
                        "LimitPrice": Decimal(px),
                        "Quantity": qty,
                        "Validity": "UntilDay",
                    },
                    "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
                },
            )
        finally:
            await client.close()

    assert sim.call(place)["Result"] == "Success"  # type: ignore[index]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    tmp_path = tmp_path_factory.mktemp("realfix")
    sim = run_sim_in_thread(load_sim_config(None).with_overrides(activity=False, seed=23))
    try:
        port = free_port()
        cfg = write_test_config(tmp_path, zenith_url=sim.url, fix_port=port)
        with (
            run_gateway_in_thread(cfg),
            FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", port=port, tmp_path=tmp_path) as c,
        ):
            c.wait_logged_on(timeout=15)
            _ask(sim, 40, "9.00")
            c.send("D", _order("r1", "1", 100, "9.10"))
            c.expect("8", timeout=10, where={11: "r1", 150: "F"})
            _ask(sim, 60, "9.10")
            c.expect("8", timeout=10, where={11: "r1", 39: "2"})
            c.send("D", _order("r2", "2", 10, "9.50"))
            c.expect("8", timeout=10, where={11: "r2", 150: "0"})
            c.send(
                "G",
                [
                    (11, "r3"),
                    (41, "r2"),
                    (1, "0001"),
                    (21, "1"),
                    (55, SYMBOL),
                    (207, "XSX"),
                    (54, "2"),
                    (38, 20),
                    (40, "2"),
                    (44, "9.60"),
                    (60, "<now>"),
                ],
            )
            c.expect("8", timeout=10, where={150: "5"})
            c.send("F", [(11, "r4"), (41, "r3"), (55, SYMBOL), (54, "2"), (38, 20), (60, "<now>")])
            c.expect("8", timeout=10, where={150: "4"})
    finally:
        sim.stop()
    found = sorted((tmp_path / "fixlog").glob("*.messages*.log"))
    assert found, list(tmp_path.rglob("*"))
    yield found


def test_orders_on_the_gateways_quickfix_log(capsys: pytest.CaptureFixture[str], logs: list[Path]) -> None:
    assert main(["orders", "--json", *map(str, logs)]) == 0
    captured = capsys.readouterr()
    assert "problem" not in captured.err
    orders = {o["cl_ord_id"]: o for o in json.loads(captured.out)}
    filled = orders["r1"]
    assert (filled["status"], filled["fills"], filled["filled_qty"], filled["avg_px"]) == (
        "Filled",
        2,
        "100",
        "9.06",
    )
    assert filled["issues"] == [] and filled["first_answer_ms"] != ""
    amended = orders["r2"]
    assert amended["chain"] == ["r2", "r3", "r4"] and amended["status"] == "Canceled"
    assert (amended["replaces"], amended["cancels"], amended["issues"]) == (1, 1, [])
    assert len(orders) == 2


def test_sessions_on_the_gateways_quickfix_log(capsys: pytest.CaptureFixture[str], logs: list[Path]) -> None:
    assert main(["sessions", "--json", "--strict", *map(str, logs)]) == 0
    (session,) = json.loads(capsys.readouterr().out)
    sides = {s["sender"]: s for s in session["sides"]}
    assert set(sides) == {"CLIENT1", "PLXTRA"}
    for side in sides.values():
        assert side["gaps"] == [] and side["seq_too_low"] == 0 and side["logons"] == 1
    assert sides["CLIENT1"]["by_type"]["NewOrderSingle(D)"] == 2
    assert sides["PLXTRA"]["by_type"]["ExecutionReport(8)"] == 6
