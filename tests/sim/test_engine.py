"""Matching engine, table-driven and pure: no sockets, a fixed clock and counter ids."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from gateway.sim.config import load_sim_config
from gateway.sim.engine import Engine
from gateway.sim.orders import OrderSpec


def make_engine() -> Engine:
    counter = itertools.count(1)
    return Engine(
        load_sim_config(None).with_overrides(activity=False),
        lambda: datetime(2025, 6, 3, tzinfo=UTC),
        lambda: f"id-{next(counter):06d}",
    )


def spec(
    side, qty, price=None, type_="Limit", validity="UntilCancel", hidden=None, minimum=None, code="XS01"
):
    return OrderSpec(
        exchange="XSX",
        code=code,
        side=side,
        style="Market",
        type=type_,
        limit_price=None if price is None else D(str(price)),
        quantity=D(qty),
        hidden_quantity=None if hidden is None else D(hidden),
        minimum_quantity=None if minimum is None else D(minimum),
        validity=validity,
        expiry_date=None,
        short_type=None,
        instructions=(),
        route={"Algorithm": "Market", "Market": "XSX::XSX"},
    )


def place(e, acct, *a, **kw):
    resp, step = e.place(e.accounts[acct], spec(*a, **kw), "r")
    assert resp["Result"] == "Success", resp
    return e.orders[resp["Order"]["ID"]], step


def check_invariants(e: Engine) -> None:
    for sym in e.symbols.values():
        assert not sym.book.crossed()
    for o in e.orders.values():
        fills = sum(
            (D(str(t["TotalQuantity"])) for t in e.accounts[o.account].transactions if t["OrderID"] == o.id),
            D(0),
        )
        assert fills == o.executed, (o.id, fills, o.executed)


def book_view(e, code="XS01"):
    b = e.symbols[code].book
    return {
        side: [(lvl.price, [(o.id, o.display) for o in lvl.orders.values()]) for lvl in b.levels(side)]
        for side in ("Bid", "Ask")
    }


def test_price_time_priority_and_partial_fills():
    e = make_engine()
    a1, _ = place(e, "XS:0001", "Ask", 100, "10.00")
    a2, _ = place(e, "XS:0002", "Ask", 100, "10.00")
    a3, _ = place(e, "XS:0003", "Ask", 100, "9.99")
    b, step = place(e, "XS:0004", "Bid", 250, "10.00")
    assert b.executed == 250
    trades = step.symbols["XS01"].trades
    assert [(t["Price"], t["Quantity"], t["Sell"]) for t in trades] == [
        (D("9.99"), 100, a3.depth_id),
        (D("10.00"), 100, a1.depth_id),
        (D("10.00"), 50, a2.depth_id),
    ]
    assert (a1.status, a2.status, a3.status, b.status) == ("Filled", "PartialFill", "Filled", "Filled")
    assert b.value == D("9.99") * 100 + D("10.00") * 150
    assert [t["ID"] for t in trades] == [1, 2, 3]
    check_invariants(e)


@pytest.mark.parametrize(
    ("validity", "qty", "resting", "status", "executed"),
    [
        ("FillAndKill", 150, 100, "Expired", 100),
        ("FillOrKill", 150, 100, "Expired", 0),
        ("FillOrKill", 100, 100, "Filled", 100),
        ("UntilCancel", 150, 100, "PartialFill", 100),
        ("UntilDay", 50, 100, "Filled", 50),
        ("AllOrNone", 150, 100, "OnMarket", 0),
    ],
)
def test_validities(validity, qty, resting, status, executed):
    e = make_engine()
    place(e, "XS:0001", "Ask", resting, "10.00")
    o, _ = place(e, "XS:0002", "Bid", qty, "10.00", validity=validity)
    assert (o.status, o.executed) == (status, executed)
    check_invariants(e)


def test_all_or_none_waits_off_book_then_fills_whole():
    e = make_engine()
    place(e, "XS:0001", "Ask", 100, "10.00")
    aon, _ = place(e, "XS:0002", "Bid", 150, "10.00", validity="AllOrNone")
    assert not aon.on_book and book_view(e)["Bid"] == []
    place(e, "XS:0003", "Ask", 50, "10.00")
    assert (aon.status, aon.executed) == ("Filled", 150)
    check_invariants(e)


def test_minimum_quantity():
    e = make_engine()
    place(e, "XS:0001", "Ask", 100, "10.00")
    o, _ = place(e, "XS:0002", "Bid", 300, "10.00", minimum=200)
    assert (o.status, o.executed) == ("Expired", 0)
    o2, _ = place(e, "XS:0002", "Bid", 300, "10.00", minimum=100)
    assert (o2.status, o2.executed) == ("PartialFill", 100) and o2.on_book


def test_market_market_to_limit_and_best():
    e = make_engine()
    place(e, "XS:0001", "Ask", 100, "10.00")
    place(e, "XS:0001", "Ask", 100, "10.05")
    m, _ = place(e, "XS:0002", "Bid", 150, None, type_="Market", validity="FillAndKill")
    assert (m.status, m.executed) == ("Filled", 150)
    mtl, _ = place(e, "XS:0002", "Bid", 100, None, type_="MarketToLimit")
    assert (mtl.executed, mtl.status, mtl.price, mtl.on_book) == (50, "PartialFill", D("10.05"), True)
    mkt, _ = place(e, "XS:0003", "Bid", 10, None, type_="Market", validity="UntilDay")
    assert (mkt.status, mkt.executed) == ("Expired", 0)  # no liquidity: remainder expires
    best, _ = place(e, "XS:0003", "Bid", 10, None, type_="Best")
    assert best.price == D("10.05") and best.on_book  # joins best own-side price
    check_invariants(e)


def test_iceberg_refresh_loses_priority():
    e = make_engine()
    ice, step = place(e, "XS:0001", "Ask", 100, "10.00", hidden=200)
    assert step.symbols["XS01"].depth[0]["Order"]["HasUndisclosed"] is True and ice.display == 100
    other, _ = place(e, "XS:0002", "Ask", 100, "10.00")
    _, step = place(e, "XS:0003", "Bid", 150, "10.00")
    # peak of 100 traded, refreshed behind `other`, which takes the next 50
    sells = [t["Sell"] for t in step.symbols["XS01"].trades]
    assert sells == [ice.depth_id, other.depth_id]
    assert book_view(e)["Ask"] == [(D("10.00"), [(other.id, 50), (ice.id, 100)])]
    assert ice.hidden == 100
    check_invariants(e)


@pytest.mark.parametrize(
    ("new_qty", "new_price", "keeps_priority"),
    [(50, "10.00", True), (150, "10.00", False), (100, "10.01", False)],
)
def test_amend_priority_rules(new_qty, new_price, keeps_priority):
    e = make_engine()
    first, _ = place(e, "XS:0001", "Bid", 100, "10.00")
    place(e, "XS:0002", "Bid", 100, "10.00")
    new = spec("Bid", new_qty, new_price)
    resp, _ = e.amend(e.accounts["XS:0001"], first, new, "a1")
    assert resp["Result"] == "Success"
    place(e, "XS:0003", "Ask", 1, new_price)  # who is first in the queue at the amended price?
    assert (first.executed == 1) == (keeps_priority or new_price != "10.00")
    check_invariants(e)


def test_amend_immutable_fields_and_status():
    e = make_engine()
    o, _ = place(e, "XS:0001", "Bid", 100, "10.00")
    resp, _ = e.amend(e.accounts["XS:0001"], o, spec("Ask", 100, "10.00"), "x")
    assert resp["Result"] == "Invalid" and resp["Errors"] == ["Side"]
    resp, _ = e.amend(e.accounts["XS:0001"], o, spec("Bid", 100, "10.00", code="XS02"), "x")
    assert resp["Errors"] == ["Symbol"]
    e.cancel(e.accounts["XS:0001"], o, "c")
    resp, _ = e.amend(e.accounts["XS:0001"], o, spec("Bid", 100, "10.00"), "x")
    assert resp == {"Result": "Rejected", "RequestID": "x", "Errors": ["Order.Status"]}


def test_amend_price_through_the_spread_trades():
    e = make_engine()
    place(e, "XS:0001", "Ask", 100, "10.05")
    b, _ = place(e, "XS:0002", "Bid", 100, "10.00")
    e.amend(e.accounts["XS:0002"], b, spec("Bid", 100, "10.05"), "a")
    assert b.status == "Filled"
    check_invariants(e)


def test_funds_holdings_and_balances():
    e = make_engine()
    acct = e.accounts["XS:0001"]
    resp, _ = e.place(acct, spec("Bid", 10_000_000, "10.00"), "big")
    assert resp["Errors"] == ["TotalValue.Balance"]
    resp, _ = e.place(acct, spec("Ask", 100_001, "10.00"), "sell")
    assert resp["Errors"] == ["TotalQuantity.Holdings"]
    place(e, "XS:0001", "Bid", 1000, "10.00")
    assert acct.trading_balance == acct.cash - 10_000
    place(e, "XS:0002", "Ask", 400, "10.00")
    assert acct.cash == D(10_000_000) - 4000 and acct.holdings["XS01"].quantity == 100_400
    assert e.accounts["XS:0002"].available("XS01") == 100_000 - 400


def test_random_flow_keeps_invariants():
    import random

    e = make_engine()
    rng = random.Random(3)
    for i in range(600):
        side = rng.choice(("Bid", "Ask"))
        price = D("10.00") + D(rng.randint(-5, 5)) / 100
        kind = rng.random()
        acct = f"XS:{rng.randint(1, 10):04d}"
        if kind < 0.1:
            e.place(
                e.accounts[acct],
                spec(side, rng.randint(1, 300), None, type_="Market", validity="FillAndKill"),
                f"m{i}",
            )
        elif kind < 0.2:
            open_orders = [o for o in e.accounts[acct].orders.values() if o.on_book]
            if open_orders:
                e.cancel(e.accounts[acct], rng.choice(open_orders), f"c{i}")
        else:
            e.place(
                e.accounts[acct],
                spec(side, rng.randint(1, 300), price, hidden=rng.choice((None, None, 100))),
                f"p{i}",
            )
        assert not e.symbols["XS01"].book.crossed()
    check_invariants(e)


def test_good_till_date_expires_after_its_date():
    e = make_engine()
    gtd = spec("Bid", 10, "9.00")
    gtd = OrderSpec(
        **{
            **{f: getattr(gtd, f) for f in gtd.__dataclass_fields__ if f != "total"},
            "expiry_date": datetime(2025, 6, 3).date(),
        }
    )
    resp, _ = e.place(e.accounts["XS:0001"], gtd, "g")
    o = e.orders[resp["Order"]["ID"]]
    day, _ = place(e, "XS:0001", "Bid", 10, "9.00", validity="UntilDay")
    assert e.expire(datetime(2025, 6, 3).date(), end_of_day=False).orders == []
    step = e.expire(datetime(2025, 6, 4).date(), end_of_day=False)
    assert [(x[2].id, x[3][0]) for x in step.orders] == [(o.id, "Expired")] and day.status == "OnMarket"
    assert not e.symbols["XS01"].book.crossed() and len(e.symbols["XS01"].book.orders) == 1


def test_generator_is_deterministic_for_a_seed():
    from gateway.sim.server import SimServer

    def books(seed):
        srv = SimServer(load_sim_config(None).with_overrides(seed=seed, trades_per_second=50.0), port=0)
        srv.generator.seed_books()
        for _ in range(20):
            srv.generator.tick(0.2)
        return [
            (code, s.book.depth_snapshot(), [(t["Price"], t["Quantity"]) for t in s.trades])
            for code, s in srv.engine.symbols.items()
        ]

    first = books(5)
    assert first == books(5)
    assert first != books(6)
    assert sum(len(t) for _, _, t in first) > 0
