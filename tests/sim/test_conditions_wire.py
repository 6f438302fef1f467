"""Order conditions over the wire (spec §5.2, §5.3, §5.4, §7.B): raw WebSocket, activity off, exact books.

XS01 closes at 5.00 in the default seed data; XS:0001 places the stops, XS:0002..XS:0004 make prints.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread

from .conftest import Raw, order, quiet_config


def stop_order(
    stop: Any = "5.10",
    side: str = "Bid",
    type_: str = "Limit",
    price: Any = "5.20",
    direction: str | None = None,
    rid: str | None = None,
    **cond: Any,
) -> dict[str, Any]:
    """A PlaceOrder body with a StopLoss condition, shaped as the gateway sends it."""
    body = order(side=side, qty=100, price=price if type_ == "Limit" else None, type_=type_, rid=rid)
    condition: dict[str, Any] = {"Name": "StopLoss", "Stop": stop, "Reference": "Last"}
    condition["Direction"] = direction or ("Up" if side == "Bid" else "Down")
    condition.update(cond)
    body["Condition"] = condition
    return body


def make_print(c: Raw, price: str, qty: int = 10) -> None:
    """A trade at ``price`` between two other accounts."""
    r1 = c.rpc("Trading", "PlaceOrder", order(side="Ask", qty=qty, price=price, account="XS:0002"))["Data"]
    r2 = c.rpc("Trading", "PlaceOrder", order(side="Bid", qty=qty, price=price, account="XS:0003"))["Data"]
    assert r1["Result"] == r2["Result"] == "Success"


def orders_of(c: Raw, account: str = "XS:0001") -> list[dict[str, Any]]:
    return c.rpc("Trading", "QueryOrders", {"Account": account})["Data"]


def test_stop_limit_held_then_triggered_by_other_accounts_trades(client):
    c = client
    c.sub("Trading", "Orders!XS:0001")
    c.sub("Trading", "Requests!XS:0001")
    c.sub("Market", "Depth!XS01.XSX")
    c.sub("Market", "Trades!XS01.XSX")
    statuses = c.rpc("Trading", "QueryOrderStatuses", {"Provider": "OMS"})["Data"]
    waiting = next(s for s in statuses if s["Code"] == "Waiting")
    assert waiting == {"Code": "Waiting", "Allows": "Amend,Cancel", "Reason": "Normal,Waiting"}
    r = c.rpc("Trading", "PlaceOrder", stop_order(rid="stop-1"))["Data"]
    assert r["Result"] == "Success" and r["Order"]["Status"] == "Waiting"
    cond = {"Name": "StopLoss", "Stop": D("5.10"), "Reference": "Last", "Direction": "Up"}
    assert r["Order"]["Condition"] == cond
    assert "Exchange" not in r["Order"] and "DepthOrderID" not in r["Order"]
    oid = r["Order"]["ID"]
    req = c.publishes("Requests!XS:0001")["Data"]
    assert req[0]["Request"]["Condition"] == cond
    placed = c.publishes("Orders!XS:0001")["Data"]
    assert [(x["O"], x["Order"]["Status"]) for x in placed] == [("A", "Waiting")]
    assert placed[0]["Order"]["Condition"] == cond
    assert orders_of(c)[0]["Status"] == "Waiting" and orders_of(c)[0]["Condition"] == cond
    # a print below the stop leaves it held (and the book never shows it)
    make_print(c, "5.05")
    assert orders_of(c)[0]["Status"] == "Waiting"
    assert [x["O"] for x in c.publishes("Depth!XS01.XSX")["Data"]] == ["A"]  # XS:0002's ask
    c.publishes("Depth!XS01.XSX")  # ...lifted by XS:0003
    # liquidity above the stop, then a print at the stop: the stop-limit buys up to 5.20
    c.rpc("Trading", "PlaceOrder", order(side="Ask", qty=60, price="5.15", account="XS:0004"))
    c.publishes("Depth!XS01.XSX")
    earlier = c.drain()
    assert not [m for m in earlier if m.get("Topic") == "Orders!XS:0001"]  # untouched by the first print
    make_print(c, "5.10")
    frames = c.drain()
    updates = [
        ch["Order"]
        for m in frames
        if m.get("Topic") == "Orders!XS:0001"
        for ch in m["Data"]
        if ch["Order"]["ID"] == oid
    ]
    assert [(u["Status"], u["ExecutedQuantity"]) for u in updates] == [("OnMarket", 0), ("PartialFill", 60)]
    on_market = updates[0]
    assert on_market["Exchange"] == "XSX" and on_market["TradingMarket"] == "XSX::XSX"
    assert on_market["UpdatedDate"] >= placed[0]["Order"]["UpdatedDate"]
    assert on_market["Condition"] == cond
    trades = [ch["Trade"] for m in frames if m.get("Topic") == "Trades!XS01.XSX" for ch in m["Data"]]
    assert [(t["Price"], t["Quantity"]) for t in trades] == [(D("5.10"), 10), (D("5.15"), 60)]
    assert trades[1]["Buy"] == on_market["DepthOrderID"]
    depth = c.rpc("Market", "QueryDepthFull", {"Market": "XSX", "Code": "XS01"})["Data"]
    rows = [(x["Order"]["ID"], x["Order"]["Price"], x["Order"]["Quantity"]) for x in depth if x["O"] == "A"]
    assert rows == [(on_market["DepthOrderID"], D("5.20"), 40)]
    tx = c.rpc("Trading", "QueryTransactions", {"Account": "XS:0001", "OrderID": oid})["Data"]
    assert [(t["TotalQuantity"], t["AveragePrice"]) for t in tx] == [(60, D("5.15"))]
    audit = c.rpc("Trading", "QueryOrderAudit", {"Account": "XS:0001", "OrderID": oid})["Data"]
    assert [a["Order"]["Status"] for a in audit] == ["Waiting", "OnMarket", "PartialFill"]


def test_stop_market_sell_fills_and_expires_remainder(client):
    c = client
    c.sub("Trading", "Orders!XS:0001")
    c.sub("Trading", "Transactions!XS:0001")
    r = c.rpc("Trading", "PlaceOrder", stop_order(stop="4.90", side="Ask", type_="Market"))
    assert r["Data"]["Result"] == "Success", r
    oid = r["Data"]["Order"]["ID"]
    assert "LimitPrice" not in r["Data"]["Order"]["Details"]
    c.rpc("Trading", "PlaceOrder", order(side="Bid", qty=30, price="4.85", account="XS:0004"))
    make_print(c, "4.95")
    assert orders_of(c)[0]["Status"] == "Waiting"
    make_print(c, "4.90")
    q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": oid})["Data"][0]
    assert (q["Status"], q["ExecutedQuantity"], q["AveragePrice"]) == ("Expired", 30, D("4.85"))
    txs = [
        ch["Transaction"] for m in c.drain() if m.get("Topic") == "Transactions!XS:0001" for ch in m["Data"]
    ]
    assert [(t["OrderID"], t["TotalQuantity"]) for t in txs] == [(oid, 30)]


@pytest.mark.parametrize(
    ("side", "stop", "first", "second"), [("Bid", "5.10", "5.05", "5.12"), ("Ask", "4.90", "4.95", "4.88")]
)
def test_buy_and_sell_directions_inferred_from_side(client, side, stop, first, second):
    c = client
    body = stop_order(stop=stop, side=side, type_="Market", direction="None")
    r = c.rpc("Trading", "PlaceOrder", body)["Data"]
    assert r["Order"]["Condition"]["Direction"] == ("Up" if side == "Bid" else "Down")
    make_print(c, first)  # on the safe side of the stop
    assert orders_of(c)[0]["Status"] == "Waiting"
    make_print(c, second)  # through the stop: a stop-market with no liquidity expires untraded
    assert orders_of(c)[0]["Status"] == "Expired"


def test_trailing_stop_follows_the_price_and_publishes_each_move(client):
    c = client
    c.sub("Trading", "Orders!XS:0001")
    make_print(c, "5.00")
    body = order(side="Ask", qty=50, price=None, type_="Market")
    body["Condition"] = {"Name": "TrailingStopLoss", "Type": "Price", "Value": "0.10", "Limit": "4.50"}
    r = c.rpc("Trading", "PlaceOrder", body)["Data"]
    assert r["Result"] == "Success"
    assert r["Order"]["Details"]["Type"] == "Limit" and r["Order"]["Details"]["LimitPrice"] == D("4.50")
    assert r["Order"]["Condition"] == {
        "Name": "TrailingStopLoss",
        "Stop": D("4.90"),
        "Reference": "Last",
        "Direction": "Down",
        "Type": "Price",
        "Value": D("0.10"),
        "Limit": D("4.50"),
    }
    c.publishes("Orders!XS:0001")
    make_print(c, "5.25")
    moved = c.publishes("Orders!XS:0001")["Data"]
    assert [(x["Order"]["Status"], x["Order"]["Condition"]["Stop"]) for x in moved] == [
        ("Waiting", D("5.15"))
    ]
    make_print(c, "5.20")  # a dip above the stop: the stop stays
    assert orders_of(c)[0]["Condition"]["Stop"] == D("5.15")
    c.rpc("Trading", "PlaceOrder", order(side="Bid", qty=20, price="4.60", account="XS:0004"))
    make_print(c, "5.15")  # triggers: a limit sell at 4.50 meets the 4.60 bid
    q = orders_of(c)[0]
    assert (q["Status"], q["ExecutedQuantity"], q["Condition"]["Stop"]) == ("PartialFill", 20, D("5.15"))


def test_amend_and_cancel_while_held(client):
    c = client
    c.sub("Market", "Depth!XS01.XSX")
    r = c.rpc("Trading", "PlaceOrder", stop_order())["Data"]
    oid = r["Order"]["ID"]
    amend = stop_order(stop="5.30", price="5.40")
    amend["OrderID"] = oid
    amend["Details"]["Quantity"] = 40
    a = c.rpc("Trading", "AmendOrder", amend)["Data"]
    assert a["Result"] == "Success" and a["Order"]["Status"] == "Waiting"
    assert a["Order"]["Condition"]["Stop"] == D("5.30") and a["Order"]["Details"]["Quantity"] == 40
    # an amend without Condition keeps it
    keep = order(qty=30, price="5.40")
    keep["OrderID"] = oid
    k = c.rpc("Trading", "AmendOrder", keep)["Data"]
    assert k["Result"] == "Success" and k["Order"]["Condition"]["Stop"] == D("5.30")
    bad = dict(keep, Condition={"Name": "StopLoss", "Stop": "5.301"})
    b = c.rpc("Trading", "AmendOrder", bad)["Data"]
    assert (b["Result"], b["Errors"]) == ("Invalid", ["Condition.Stop 0.01"])
    make_print(c, "5.20")  # under the amended stop
    assert orders_of(c)[0]["Status"] == "Waiting"
    x = c.rpc("Trading", "CancelOrder", {"Account": "XS:0001", "OrderID": oid})["Data"]
    assert x["Result"] == "Success"
    make_print(c, "5.30")
    q = orders_of(c)[0]
    assert (q["Status"], q["ExecutedQuantity"]) == ("Cancelled", 0)
    depth = c.rpc("Market", "QueryDepthFull", {"Market": "XSX", "Code": "XS01"})["Data"]
    assert [x for x in depth if x["O"] == "A"] == []  # the stop never reached the book


def test_condition_rejections_on_the_wire(client):
    c = client
    cases = [
        ({"Name": "GoodTillMars"}, "Invalid", ["Condition.Name"]),
        ({"Name": "StopLoss", "Stop": 0}, "Invalid", ["Condition.Stop"]),
        ({"Name": "StopLoss", "Stop": "5.10", "Reference": "Mid"}, "Invalid", ["Condition.Reference"]),
        ({"Name": "StopLoss", "Reference": "BestAsk"}, "Invalid", ["Condition.Stop"]),  # no ask to default to
        ({"Name": "TrailingStopLoss", "Type": "Price"}, "Incomplete", ["Condition.Value", "Condition.Limit"]),
    ]
    for cond, result, errors in cases:
        body = order(qty=10, price="5.20")
        body["Condition"] = cond
        d = c.rpc("Trading", "PlaceOrder", body)["Data"]
        assert (d["Result"], d["Errors"]) == (result, errors), cond
        calc = c.rpc("Trading", "CalculateOrder", body)["Data"]
        assert (calc["Result"], calc["Errors"]) == (result, errors), cond
    body = order(qty=10, price="5.20")
    body["Condition"] = "StopLoss"
    assert c.rpc("Trading", "PlaceOrder", body)["Data"] == "Data.Deserialise"
    assert orders_of(c) == []
    ok = stop_order(type_="Market")
    calc = c.rpc("Trading", "CalculateOrder", ok)["Data"]
    assert calc["Result"] == "Success" and calc["EstimatedValue"] == D("510")  # 100 at the stop


def test_restart_keeps_a_held_stop_and_it_still_triggers(tmp_path):
    cfg = quiet_config(tmp_path)
    with run_sim_in_thread(cfg) as h:
        c = Raw(h.url, token="demo")
        trailing = order(side="Ask", qty=10, price="4.50")
        trailing["Condition"] = {"Name": "TrailingStopLoss", "Type": "Percent", "Value": 2, "Limit": "4.50"}
        make_print(c, "5.00")
        t = c.rpc("Trading", "PlaceOrder", trailing)["Data"]
        make_print(c, "5.50")
        s = c.rpc("Trading", "PlaceOrder", stop_order(stop="5.60", price="5.70", rid="held-1"))["Data"]
        before = orders_of(c)
        assert [o["Status"] for o in before] == ["Waiting", "Waiting"]
        assert before[0]["Condition"]["Stop"] == D("5.39")  # 5.50 less 2 %, rounded down to the tick
        port = h.port
        c.close()
    with run_sim_in_thread(cfg, port=port) as h2:
        c = Raw(h2.url, token="demo")
        assert orders_of(c) == before
        again = c.rpc("Trading", "PlaceOrder", stop_order(stop="5.60", price="5.70", rid="held-1"))["Data"]
        assert json.dumps(again, default=str) == json.dumps(s, default=str)  # duplicate RequestID
        make_print(c, "5.45")  # neither triggers; the trailing stop does not fall
        assert orders_of(c) == before
        c.rpc("Trading", "PlaceOrder", order(side="Ask", qty=100, price="5.65", account="XS:0004"))
        make_print(c, "5.60")  # the buy stop triggers and lifts the 5.65 offer
        q = {o["ID"]: o for o in orders_of(c)}
        assert (q[s["Order"]["ID"]]["Status"], q[s["Order"]["ID"]]["ExecutedQuantity"]) == ("Filled", 100)
        trail = q[t["Order"]["ID"]]
        assert (trail["Status"], trail["Condition"]["Stop"]) == ("Waiting", D("5.53"))  # 5.65 less 2 %
        make_print(c, "5.50")  # through the trailing stop on the way down: a limit sell at 4.50 rests
        assert {o["ID"]: o for o in orders_of(c)}[t["Order"]["ID"]]["Status"] == "OnMarket"
        c.close()


def test_generator_prints_trigger_a_stop_with_activity_on(tmp_path):
    """Market activity on: the generator's trades are reference events like any other."""
    cfg = load_sim_config(None).with_overrides(
        seed=3, trades_per_second=20.0, tick_seconds=0.05, state_path=tmp_path / "sim.sqlite"
    )
    with run_sim_in_thread(cfg) as h:
        c = Raw(h.url, token="demo")
        c.sub("Trading", "Orders!XS:0001")
        body = stop_order(stop="6.00", side="Ask", type_="Market")  # the next print at or under 6.00
        r = c.rpc("Trading", "PlaceOrder", body)["Data"]
        assert r["Order"]["Status"] == "Waiting"
        oid = r["Order"]["ID"]
        seen: list[str] = []
        for _ in range(50):  # bounded: each wait is bounded too
            m = c.publishes("Orders!XS:0001", timeout=15.0)
            seen += [ch["Order"]["Status"] for ch in m["Data"] if ch["Order"]["ID"] == oid]
            if seen[-1] in ("Filled", "Expired"):
                break
        assert seen[0] == "Waiting" and seen[1] == "OnMarket" and seen[-1] == "Filled"
        q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": oid})["Data"][0]
        assert q["ExecutedQuantity"] == 100 and q["Condition"]["Stop"] == D("6.00")
        c.close()
