"""Trading and market-data conformance over the wire (spec §4, §5, §9), activity off for exact books."""

from __future__ import annotations

from decimal import Decimal as D

from .conftest import order


def test_worked_session_place_fill_and_publishes(client):
    c = client
    depth = c.sub("Market", "Depth!XS01.XSX")
    assert depth["Data"] == [{"O": "C"}]
    assert c.sub("Market", "Levels!XS01.XSX")["Data"] == [{"O": "C"}]
    assert c.sub("Market", "Trades!XS01.XSX")["Data"] == [{"O": "I", "ID": 0}]
    sec = c.sub("Market", "Security!XS01.XSX")["Data"]
    assert sec["CFI"] == "EXXXXX" and sec["TradingState"] == "Open" and "BestBid" not in sec
    assert c.sub("Trading", "Orders!XS:0001")["Data"] == [{"O": "C", "Account": "XS:0001"}]
    assert c.sub("Trading", "Transactions!XS:0002")["Data"] == [{"O": "I", "Account": "XS:0002"}]
    c.sub("Trading", "Requests!XS:0001")
    r = c.rpc("Trading", "PlaceOrder", order(qty=100, price="9.95", rid="gw-1"))["Data"]
    assert r["Result"] == "Success" and r["RequestID"] == "gw-1" and r["Order"]["Status"] == "Pending"
    oid = r["Order"]["ID"]
    assert r["Order"]["ExternalID"] == "gw-1" and oid == oid.lower() and len(oid) == 36
    reqs = c.publishes("Requests!XS:0001")["Data"]
    assert [x["O"] for x in reqs] == ["A", "R"]
    orders = c.publishes("Orders!XS:0001")["Data"]
    assert [(x["O"], x["Order"]["Status"]) for x in orders] == [("A", "Pending"), ("U", "OnMarket")]
    depth_id = orders[1]["Order"]["DepthOrderID"]
    assert orders[1]["Order"]["TradingMarket"] == "XSX::XSX"
    d = c.publishes("Depth!XS01.XSX")["Data"]
    assert d == [
        {
            "O": "A",
            "Order": {"ID": depth_id, "Side": "Bid", "Price": D("9.95"), "Position": 1, "Quantity": 100},
        }
    ]
    lv = c.publishes("Levels!XS01.XSX")["Data"]
    assert lv[0]["O"] == "A" and lv[0]["Level"]["Volume"] == 100 and lv[0]["Level"]["Count"] == 1
    level_id = lv[0]["Level"]["ID"]
    assert c.publishes("Security!XS01.XSX")["Data"] == {
        "BestBid": D("9.95"),
        "BidCount": 1,
        "BidQuantity": 100,
    }
    # a seller hits it for 40
    s = c.rpc("Trading", "PlaceOrder", order(side="Ask", qty=40, price="9.95", account="XS:0002"))["Data"]
    assert s["Result"] == "Success"
    filled = c.publishes("Orders!XS:0001")["Data"]
    assert filled[-1]["Order"]["Status"] == "PartialFill" and filled[-1]["Order"]["ExecutedQuantity"] == 40
    assert filled[-1]["Order"]["AveragePrice"] == D("9.95")
    assert c.publishes("Depth!XS01.XSX")["Data"] == [{"O": "U", "Order": {"ID": depth_id, "Quantity": 60}}]
    assert c.publishes("Levels!XS01.XSX")["Data"] == [
        {"O": "U", "Level": {"ID": level_id, "Volume": 60, "Count": 1}}
    ]
    t = c.publishes("Trades!XS01.XSX")["Data"][0]
    assert (
        t["O"] == "A"
        and t["Trade"]["ID"] == 1
        and t["Trade"]["Buy"] == depth_id
        and t["Trade"]["Side"] == "Ask"
    )
    tx = c.publishes("Transactions!XS:0002")["Data"][0]["Transaction"]
    assert tx["TotalQuantity"] == 40 and tx["GrossAmount"] == D("398") and tx["Account"] == "XS:0002"
    diff = c.publishes("Security!XS01.XSX")["Data"]
    assert (
        diff["Last"] == D("9.95")
        and diff["BidQuantity"] == 60
        and diff["Volume"] == 40
        and "Code" not in diff
    )
    trades = c.rpc("Market", "QueryTrades", {"Market": "XSX", "Code": "XS01", "Count": 10})["Data"]
    assert [x["Trade"]["ID"] for x in trades] == [1]
    # cancel
    cx = c.rpc("Trading", "CancelOrder", {"Account": "XS:0001", "OrderID": oid, "RequestID": "gw-2"})["Data"]
    assert cx["Result"] == "Success"
    assert c.publishes("Orders!XS:0001")["Data"][-1]["Order"]["Status"] == "Cancelled"
    assert c.publishes("Depth!XS01.XSX")["Data"] == [{"O": "R", "Order": {"ID": depth_id}}]
    assert c.publishes("Levels!XS01.XSX")["Data"] == [{"O": "R", "Level": {"ID": level_id}}]
    q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": oid})["Data"]
    assert q[0]["Status"] == "Cancelled" and q[0]["ExecutedQuantity"] == 40
    audit = c.rpc("Trading", "QueryOrderAudit", {"Account": "XS:0001", "OrderID": oid})["Data"]
    assert [a["Order"]["Status"] for a in audit] == ["Pending", "OnMarket", "PartialFill", "Cancelled"]


def test_rejection_shapes(client):
    c = client
    r = c.rpc("Trading", "PlaceOrder", order(account="XS:9999"))
    assert r["Action"] == "Error" and r["Data"] == "Account.NotFound XS:9999"
    cases = [
        (order(code="NOPE"), "Invalid", ["Symbol"]),
        (order(qty=0), "Invalid", ["TotalQuantity"]),
        (order(price="-1"), "Invalid", ["LimitPrice"]),
        (order(price="10.003"), "Invalid", ["LimitPrice 0.01"]),
        (order(type_="Market", price="10"), "Invalid", ["LimitPrice.Given"]),
        (order(validity="Forever"), "Invalid", ["Validity"]),
        (order(qty=10_000_000, price="10.00"), "Rejected", ["TotalValue.Balance"]),
        (order(side="Ask", qty=200_000), "Rejected", ["TotalQuantity.Holdings"]),
        (
            {"Account": "XS:0001", "Route": {"Algorithm": "Market", "Market": "XSX::XSX"}},
            "Incomplete",
            ["Details"],
        ),
    ]
    for body, result, errors in cases:
        d = c.rpc("Trading", "PlaceOrder", body)["Data"]
        assert (d["Result"], d["Errors"]) == (result, errors), body
        assert len(d["RequestID"]) == 22
    d = c.rpc("Trading", "CancelOrder", {"Account": "XS:0001", "OrderID": "nope"})["Data"]
    assert (d["Result"], d["Errors"]) == ("Invalid", ["Order"])
    assert (
        c.rpc("Trading", "PlaceOrder", {"Account": "XS:0001", "Details": "x"})["Data"] == "Data.Deserialise"
    )


def test_duplicate_request_id_returns_original(client):
    c = client
    first = c.rpc("Trading", "PlaceOrder", order(rid="dup-1"))["Data"]
    again = c.rpc("Trading", "PlaceOrder", order(rid="dup-1", qty=5))["Data"]
    assert again == first
    orders = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001"})["Data"]
    assert len(orders) == 1


def test_reference_queries(client):
    c = client
    ticks = c.rpc("Market", "QueryTickTables", {"Market": "XSX"})["Data"]
    assert ticks[0]["Code"] == "XSX" and ticks[0]["Steps"][-1]["Size"] == D("0.01")
    states = {s["Name"] for s in c.rpc("Market", "QueryTradingStates", {"Market": "XSX"})["Data"]}
    assert {"Open", "PreOpen", "Suspended"} <= states
    syms = c.rpc(
        "Market",
        "SearchSymbols",
        {"Market": "XSX", "Conditions": [{"Text": "XS0", "Field": "Code", "Match": "FromStart"}]},
    )["Data"]
    assert [s["Code"] for s in syms] == [f"XS0{n}" for n in range(1, 10)] and syms[0]["CFI"] == "EXXXXX"
    q = c.rpc("Market", "QuerySymbols", {"Market": "XSX", "SearchText": "XS1", "Field": "Code"})["Data"]
    assert [s["Code"] for s in q] == ["XS10"]
    assert (
        c.rpc("Market", "QuerySymbols", {"Markets": ["ZZ"], "SearchText": "X"})["Data"]
        == "Market.NotFound ZZ"
    )
    symbols = c.sub("Market", "Symbols!Market.XSX")["Data"]
    assert symbols[0] == {"O": "C"} and len(symbols) == 11
    accts = c.rpc("Trading", "QueryAccounts")["Data"]
    assert (
        accts[0]
        == {
            "ID": "XS:0001",
            "Name": "XOSP Account 0001",
            "Feed": "Active",
            "Provider": "OMS",
            "Currency": "AUD",
        }
        and len(accts) == 10
    )
    ta = c.sub("Trading", "TradingAccounts")["Data"]
    assert ta[0] == {"Operation": "Clear"} and ta[1]["Operation"] == "Add"
    st = c.rpc("Trading", "QueryOrderStatuses", {"Provider": "OMS"})["Data"]
    assert {s["Code"] for s in st} == {
        "Pending",
        "Waiting",
        "OnMarket",
        "PartialFill",
        "Filled",
        "Cancelled",
        "Expired",
        "Rejected",
        "Suspended",
    }
    assert len(c.rpc("Trading", "QueryRequestStatuses", {"Provider": "OMS"})["Data"]) == 5
    assert c.rpc("Trading", "QueryTradingMarkets", {"Provider": "OMS"})["Data"][0]["Code"] == "XSX::XSX"
    bal = c.rpc("Trading", "QueryBalances", {"Account": "XS:0001"})["Data"]
    assert {(b["Type"], b["Amount"]) for b in bal} == {("NetBalance", 10_000_000), ("Trading", 10_000_000)}
    h = c.rpc("Trading", "QueryHoldings", {"Account": "XS:0001", "Exchange": "XSX", "Code": "XS01"})["Data"]
    assert h[0]["TotalQuantity"] == 100_000 and h[0]["TotalAvailable"] == 100_000
    b = c.sub("Trading", "Balances!XS:0001")["Data"]
    assert b[0] == {"Account": "XS:0001", "Type": "", "Currency": "", "Amount": 0}
    hs = c.sub("Trading", "Holdings!XS:0001")["Data"]
    assert hs[0] == {"O": "C", "Account": "XS:0001"} and len(hs) == 11
    calc = c.rpc("Trading", "CalculateOrder", order(qty=10, price="10.00"))["Data"]
    assert calc["Result"] == "Success" and calc["EstimatedValue"] == 100


def test_amend_and_move(client):
    c = client
    o = c.rpc("Trading", "PlaceOrder", order(qty=100, price="10.00"))["Data"]["Order"]
    body = order(qty=80, price="10.01")
    body["OrderID"] = o["ID"]
    a = c.rpc("Trading", "AmendOrder", body)["Data"]
    assert a["Result"] == "Success"
    q = c.rpc("Trading", "QueryOrders", {"Account": "XS:0001", "OrderID": o["ID"]})["Data"][0]
    assert q["Details"]["LimitPrice"] == D("10.01") and q["Details"]["Quantity"] == 80
    c.sub("Trading", "Orders!XS:0003")
    m = c.rpc("Trading", "MoveOrder", {"Account": "XS:0001", "OrderID": o["ID"], "Destination": "XS:0003"})[
        "Data"
    ]
    assert m["Result"] == "Success" and m["Order"]["Account"] == "XS:0003"
    added = c.publishes("Orders!XS:0003")["Data"]
    assert added[0]["O"] == "A" and added[0]["Order"]["Account"] == "XS:0003"


def test_positions_publishes_and_chart(client):
    c = client
    c.sub("Trading", "Holdings!XS:0004")
    bal = c.sub("Trading", "Balances!XS:0004")["Data"]
    assert bal[0]["Type"] == ""
    c.rpc("Trading", "PlaceOrder", order(code="XS05", side="Ask", qty=200, price="25.00", account="XS:0005"))
    c.rpc("Trading", "PlaceOrder", order(code="XS05", side="Bid", qty=120, price="25.00", account="XS:0004"))
    h = c.publishes("Holdings!XS:0004")["Data"]
    assert h[0]["O"] == "U" and h[0]["Holding"]["TotalQuantity"] == 100_120
    b = {x["Type"]: x["Amount"] for x in c.publishes("Balances!XS:0004")["Data"]}
    assert b["NetBalance"] == D(10_000_000) - 3000 and b["Trading"] == b["NetBalance"]
    tx = c.rpc("Trading", "QueryTransactions", {"Account": "XS:0004", "Code": "XS05"})["Data"]
    assert len(tx) == 1 and tx[0]["GrossAmount"] == 3000
    held = c.rpc("Trading", "QueryHoldings", {"Account": "XS:0005", "Exchange": "XSX", "Code": "XS05"})[
        "Data"
    ][0]
    assert held["TotalQuantity"] == 100_000 - 120 and held["TotalAvailable"] == 100_000 - 200
    bars = c.rpc("Market", "QueryChartHistory", {"Market": "XSX", "Code": "XS05", "Period": "00:01:00"})[
        "Data"
    ]
    assert len(bars) == 1 and bars[0]["Volume"] == 120 and bars[0]["Open"] == D("25")


def test_new_trading_day(sim, client):
    import datetime as dt

    c = client
    body = order(code="XS06", qty=10, price="29.00", validity="UntilDay")
    day = c.rpc("Trading", "PlaceOrder", body)["Data"]
    gtc = c.rpc("Trading", "PlaceOrder", order(code="XS06", qty=10, price="28.00"))["Data"]
    c.rpc("Trading", "PlaceOrder", order(code="XS06", side="Ask", qty=5, price="30.00", account="XS:0002"))
    c.rpc("Trading", "PlaceOrder", order(code="XS06", qty=5, price="30.00", account="XS:0003"))
    c.sub("Market", "Trades!XS06.XSX")
    c.sub("Market", "Security!XS06.XSX")
    sim.call_sync(sim.server.start_day, dt.date.today() + dt.timedelta(days=1))
    assert c.publishes("Trades!XS06.XSX")["Data"] == [{"O": "I", "ID": 0}]
    sec = c.publishes("Security!XS06.XSX")["Data"]
    assert sec["Close"] == D("30") and "Last" not in sec and sec["Code"] == "XS06"
    status = {o["ID"]: o["Status"] for o in c.rpc("Trading", "QueryOrders", {"Account": "XS:0001"})["Data"]}
    assert status[day["Order"]["ID"]] == "Expired" and status[gtc["Order"]["ID"]] == "OnMarket"
    assert c.rpc("Market", "QueryTrades", {"Market": "XSX", "Code": "XS06"})["Data"] == []


def test_vetting_secure_trading_and_account_topics(tmp_path):
    from gateway.sim.testing import run_sim_in_thread

    from .conftest import Raw, quiet_config

    with run_sim_in_thread(quiet_config(tmp_path, vetting=True)) as h:
        c = Raw(h.url, token="demo")
        d = c.rpc("Trading", "PlaceOrder", order(code="XS02", price="11.50"))["Data"]
        assert (d["Result"], d["Errors"]) == ("Rejected", ["OrderPrice.TooFarAbove 10.0%"])
        d = c.rpc("Trading", "PlaceOrder", order(code="XS02", price="8.50"))["Data"]
        assert d["Errors"] == ["OrderPrice.TooFarBelow -10.0%"]
        ok = c.rpc("Trading", "PlaceOrder", order(code="XS02", price="10.50"))["Data"]
        assert ok["Result"] == "Success"
        c.send({"Controller": "Trading", "Topic": "Orders!XS:9999", "Action": "Sub"})
        assert c.expect(lambda m: m.get("Topic") == "Orders!XS:9999")["Data"] == "Account.NotFound XS:9999"
        c.close()
    (tmp_path / "x").mkdir()
    with run_sim_in_thread(quiet_config(tmp_path / "x", require_secure_trading=True)) as h:
        c = Raw(h.url, token="demo")
        ident = c.rpc("Auth", "QueryIdentify")["Data"]
        assert "Zenith/Trading" not in ident["Scope"] and "Zenith/OrderPad" not in ident["Scope"]
        d = c.rpc("Trading", "PlaceOrder", order())["Data"]
        assert (d["Result"], d["Errors"]) == ("Rejected", ["Connection"])
        assert c.rpc("Trading", "QueryOrders", {"Account": "XS:0001"})["Data"] == "Authority"
        c.close()


def test_query_trades_ranges_and_identify_subscription(client):
    c = client
    for _ in range(5):
        c.rpc(
            "Trading", "PlaceOrder", order(code="XS08", side="Ask", qty=1, price="40.00", account="XS:0002")
        )
        c.rpc("Trading", "PlaceOrder", order(code="XS08", qty=1, price="40.00"))

    def ids(**kw):
        data = c.rpc("Market", "QueryTrades", {"Market": "XSX", "Code": "XS08", **kw})["Data"]
        return [x["Trade"]["ID"] for x in data]

    assert ids() == [1, 2, 3, 4, 5]
    assert ids(Count=2) == [4, 5]
    assert ids(FirstTradeID=2, Count=2) == [2, 3]
    assert ids(LastTradeID=4, Count=2) == [3, 4]
    assert ids(FirstTradeID=2, LastTradeID=4) == [2, 3, 4]
    ident = c.sub("Auth", "Identify")["Data"]
    assert ident["Result"] == "Success" and ident["AccessToken"] == "demo"
    c.rpc("Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": "demo"})
    assert c.publishes("Identify")["Data"]["Result"] == "Success"


def test_holding_appears_and_disappears(tmp_path):
    from gateway.sim.config import AccountConfig
    from gateway.sim.testing import run_sim_in_thread

    from .conftest import Raw, quiet_config

    base = quiet_config(tmp_path)
    accounts = (AccountConfig("XS:0001", "A", cash=D(100_000)), *base.accounts[1:])
    with run_sim_in_thread(base.with_overrides(accounts=accounts)) as h:
        c = Raw(h.url, token="demo")
        assert c.sub("Trading", "Holdings!XS:0001")["Data"] == [{"O": "C", "Account": "XS:0001"}]
        c.rpc(
            "Trading", "PlaceOrder", order(code="XS09", side="Ask", qty=10, price="45.00", account="XS:0002")
        )
        c.rpc("Trading", "PlaceOrder", order(code="XS09", qty=10, price="45.00"))
        added = c.publishes("Holdings!XS:0001")["Data"]
        assert added[0]["O"] == "A" and added[0]["Holding"]["TotalQuantity"] == 10
        c.rpc("Trading", "PlaceOrder", order(code="XS09", side="Ask", qty=10, price="45.00"))
        c.rpc("Trading", "PlaceOrder", order(code="XS09", qty=10, price="45.00", account="XS:0003"))
        removed = c.publishes("Holdings!XS:0001")["Data"]
        assert removed[-1]["O"] == "R"
        d = c.rpc("Trading", "PlaceOrder", order(code="XS09", qty=10_000, price="45.00"))["Data"]
        assert d["Errors"] == ["TotalValue.Balance"]
        c.close()


def test_market_status_and_trade_cancellation_faults(sim, client):
    c = client
    c.rpc("Trading", "PlaceOrder", order(code="XS04", side="Ask", qty=10, price="20.00", account="XS:0002"))
    c.rpc("Trading", "PlaceOrder", order(code="XS04", qty=10, price="20.00"))
    c.sub("Market", "Markets")
    c.sub("Market", "Security!XS04.XSX")
    c.sub("Market", "Trades!XS04.XSX")
    sim.call_sync(sim.server.set_market_status, "Closed")
    assert c.publishes("Markets")["Data"][0]["Status"] == "Closed"
    assert c.publishes("Security!XS04.XSX")["Data"] == {"TradingState": "Closed"}
    d = c.rpc("Trading", "PlaceOrder", order(code="XS04"))["Data"]
    assert (d["Result"], d["Errors"]) == ("Rejected", ["Symbol.Status"])
    sim.call_sync(sim.server.set_market_status, "Open")
    assert sim.call_sync(sim.server.cancel_trade, "XS04", 1) is True
    changes = c.publishes("Trades!XS04.XSX")["Data"]
    assert changes[0]["O"] == "A" and changes[0]["Trade"]["Flags"] == "Cancel"
    assert changes[0]["Trade"]["RelatedID"] == 1 and changes[0]["Trade"]["ID"] == 2
    assert changes[1] == {"O": "U", "Trade": {**changes[1]["Trade"], "ID": 1, "Flags": "Cancel"}}
    assert sim.call_sync(sim.server.cancel_trade, "XS04", 1) is False
