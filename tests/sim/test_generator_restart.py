"""Generated market activity, restart with a state file, and fault injection."""

from __future__ import annotations

import time
from decimal import Decimal as D

from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread

from .conftest import Raw, order, quiet_config


def test_generator_keeps_deep_books_and_trades_flow(tmp_path):
    cfg = load_sim_config(None).with_overrides(seed=11, trades_per_second=20.0, tick_seconds=0.05)
    with run_sim_in_thread(cfg) as h:
        c = Raw(h.url, token="demo")
        for code in ("XS01", "XS07"):
            snap = c.sub("Market", f"Depth!{code}.XSX")["Data"]
            orders = [x["Order"] for x in snap[1:]]
            for side in ("Bid", "Ask"):
                prices = sorted({o["Price"] for o in orders if o["Side"] == side}, reverse=side == "Bid")
                best = prices[0]
                near = sum(
                    o["Quantity"]
                    for o in orders
                    if o["Side"] == side and abs(o["Price"] - best) <= 5 * D("0.01")
                )
                assert near >= 1000, (code, side, near)
        c.sub("Market", "Trades!XS01.XSX")
        deadline = time.monotonic() + 10
        seen = 0
        while seen == 0 and time.monotonic() < deadline:
            ids = c.rpc("Market", "QueryTrades", {"Market": "XSX", "Code": "XS01"})["Data"]
            seen = len(ids)
            time.sleep(0.1)
        assert seen > 0
        # a client order crossing the spread fills against the generated market
        sec = c.rpc("Market", "QuerySecurity", {"Market": "XSX", "Code": "XS03"})["Data"]
        r = c.rpc("Trading", "PlaceOrder", order(code="XS03", qty=100, price=str(sec["BestAsk"])))["Data"]
        oid = r["Order"]["ID"]
        q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": oid})["Data"][0]
        assert q["Status"] == "Filled" and q["ExecutedQuantity"] == 100
        c.close()


def test_restart_keeps_orders_fills_positions_and_request_ids(tmp_path):
    cfg = quiet_config(tmp_path)
    with run_sim_in_thread(cfg) as h:
        c = Raw(h.url, token="demo")
        rest = c.rpc("Trading", "PlaceOrder", order(qty=100, price="10.00", rid="keep-1"))["Data"]
        c.rpc("Trading", "PlaceOrder", order(side="Ask", qty=30, price="10.00", account="XS:0002", rid="s-1"))
        port = h.port
        c.close()
    with run_sim_in_thread(cfg, port=port) as h2:
        c = Raw(h2.url, token="demo")
        q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001"})["Data"]
        assert [(o["ID"], o["Status"], o["ExecutedQuantity"]) for o in q] == [
            (rest["Order"]["ID"], "PartialFill", 30)
        ]
        depth = c.sub("Market", "Depth!XS01.XSX")["Data"]
        assert [(x["Order"]["Price"], x["Order"]["Quantity"]) for x in depth[1:]] == [(D("10.00"), 70)]
        tx = c.rpc("Trading", "QueryTransactions", {"Account": "XS:0002"})["Data"]
        assert len(tx) == 1 and tx[0]["TotalQuantity"] == 30
        h = c.rpc("Trading", "QueryHoldings", {"Account": "XS:0002", "Exchange": "XSX", "Code": "XS01"})[
            "Data"
        ]
        assert h[0]["TotalQuantity"] == 100_000 - 30
        again = c.rpc("Trading", "PlaceOrder", order(qty=1, price="10.00", rid="keep-1"))["Data"]
        assert again["Order"]["ID"] == rest["Order"]["ID"]
        assert (
            c.rpc("Market", "QueryTrades", {"Market": "XSX", "Code": "XS01"})["Data"][0]["Trade"]["ID"] == 1
        )
        new = c.rpc("Trading", "PlaceOrder", order(side="Ask", qty=70, price="10.00", account="XS:0002"))[
            "Data"
        ]
        assert new["Result"] == "Success" and new["Order"]["ID"] != rest["Order"]["ID"]
        q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": rest["Order"]["ID"]})["Data"][0]
        assert q["Status"] == "Filled"
        c.close()
