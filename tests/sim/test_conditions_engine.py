"""Order conditions (spec §7.B) in the matching engine: pure, fixed clock, counter ids."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from gateway.sim.conditions import ConditionSpec, parse_condition
from gateway.sim.engine import Engine
from gateway.sim.orders import Rejection

from .test_engine import book_view, check_invariants, make_engine, place, spec


def cond(name: str = "StopLoss", **kw: Any) -> dict[str, Any]:
    return {"Name": name, **kw}


def parsed(e: Engine, raw: Any, order_spec: Any = None) -> Any:
    s = order_spec or spec("Bid", 100, None, type_="Market", validity="UntilDay")
    return parse_condition(raw, s, e.cfg.market, e.symbol_cfgs[s.code])


def place_cond(e: Engine, acct: str, raw: dict[str, Any], *a: Any, **kw: Any):
    s = spec(*a, **kw)
    result = parsed(e, raw, s)
    assert not isinstance(result, Rejection), result
    s, c = result
    resp, step = e.place(e.accounts[acct], s, "r", c)
    assert resp["Result"] == "Success", resp
    return e.orders[resp["Order"]["ID"]], step, resp


def trade_at(e: Engine, price: str, qty: int = 10, code: str = "XS01") -> Any:
    """A print at ``price``: XS:0009 rests an ask, XS:0010 lifts it. Returns the lifting step."""
    place(e, "XS:0009", "Ask", qty, price, code=code)
    return place(e, "XS:0010", "Bid", qty, price, code=code)[1]


@pytest.mark.parametrize(
    ("raw", "result", "errors"),
    [
        (cond("Nope"), "Invalid", ["Condition.Name"]),
        ({"Stop": 5}, "Incomplete", ["Condition.Name"]),
        (cond(Stop=0), "Invalid", ["Condition.Stop"]),
        (cond(Stop="-1"), "Invalid", ["Condition.Stop"]),
        (cond(Stop="5.003"), "Invalid", ["Condition.Stop 0.01"]),
        (cond(Stop=5, Reference="Mid"), "Invalid", ["Condition.Reference"]),
        (cond(Stop=5, Direction="Sideways"), "Invalid", ["Condition.Direction"]),
        (cond("TrailingStopLoss"), "Incomplete", ["Condition.Type", "Condition.Value", "Condition.Limit"]),
        (cond("TrailingStopLoss", Type="Price", Value=1), "Incomplete", ["Condition.Limit"]),
        (cond("TrailingStopLoss", Type="Ratio", Value=1, Limit=5), "Invalid", ["Condition.Type"]),
        (cond("TrailingStopLoss", Type="Percent", Value=100, Limit=5), "Invalid", ["Condition.Value"]),
        (cond("TrailingStopLoss", Type="Price", Value=0, Limit=5), "Invalid", ["Condition.Value"]),
        (cond("TrailingStopLoss", Type="Price", Value=1, Limit="5.001"), "Invalid", ["Condition.Limit"]),
    ],
)
def test_condition_validation(raw, result, errors):
    r = parsed(make_engine(), raw)
    assert isinstance(r, Rejection) and (r.result, list(r.errors)) == (result, errors)


def test_condition_defaults_and_trailing_normalisation():
    e = make_engine()
    s, c = parsed(e, cond(Stop="5.50"))
    assert (c.reference, c.direction, c.rising, c.stop) == ("Last", "None", True, D("5.50"))
    sell = spec("Ask", 100, None, type_="Market")
    _, c = parsed(e, cond(Stop="4.50"), sell)
    assert c.rising is False  # a sell stop triggers on a fall
    _, c = parsed(e, cond(Stop="4.50", Direction="Up"), sell)
    assert c.rising is True  # an explicit Direction wins (sell-if-touched on the way up)
    s, c = parsed(e, cond("TrailingStopLoss", Type="Price", Value="0.10", Limit="4.80"), sell)
    assert (s.type, s.limit_price, c.trailing) == ("Limit", D("4.80"), True)
    conflict = parsed(
        e, cond("TrailingStopLoss", Type="Price", Value=1, Limit="4.80"), spec("Ask", 1, "4.90")
    )
    assert isinstance(conflict, Rejection) and conflict.errors == ("Condition.Limit",)
    assert parsed(e, None) is None


def test_missing_stop_defaults_to_reference_and_empty_side_is_invalid():
    e = make_engine()
    o, _, resp = place_cond(e, "XS:0001", cond(), "Bid", 10, None, type_="Market", validity="UntilDay")
    assert o.stop == D("5.00") and resp["Order"]["Condition"]["Stop"] == D("5.00")  # previous close
    s, c = parsed(e, cond(Reference="BestAsk"))
    resp, _ = e.place(e.accounts["XS:0001"], s, "r2", c)
    assert (resp["Result"], resp["Errors"]) == ("Invalid", ["Condition.Stop"])  # no ask to default to


def test_held_order_is_off_book_and_triggers_on_a_trade_through_the_stop():
    e = make_engine()
    o, step, resp = place_cond(
        e, "XS:0001", cond(Stop="5.10"), "Bid", 100, "5.20", type_="Limit", validity="UntilCancel"
    )
    assert resp["Order"]["Status"] == "Waiting" and "Exchange" not in resp["Order"]
    assert resp["Order"]["Condition"] == {
        "Name": "StopLoss",
        "Stop": D("5.10"),
        "Reference": "Last",
        "Direction": "Up",
    }
    assert o.held and not o.on_book and book_view(e)["Bid"] == []
    assert [(op, snap[0]) for _, op, _, snap in step.orders] == [("A", "Waiting")]
    assert e.accounts["XS:0001"].reserved_cash == D("520")  # funds held at the limit price
    trade_at(e, "5.05")
    assert o.status == "Waiting"
    place(e, "XS:0003", "Ask", 60, "5.15")  # rests; the stop-limit will buy it when triggered
    trade_at(e, "5.10")  # reaches the stop
    assert (o.status, o.executed, o.routed) == ("PartialFill", 60, True)
    assert book_view(e)["Bid"] == [(D("5.20"), [(o.id, 40)])]
    assert o.stop == D("5.10") and not o.held
    check_invariants(e)


def test_stop_market_sell_sweeps_and_remainder_expires():
    e = make_engine()
    o, _, _ = place_cond(
        e, "XS:0002", cond(Stop="4.90"), "Ask", 100, None, type_="Market", validity="UntilDay"
    )
    place(e, "XS:0003", "Bid", 30, "4.85")
    place(e, "XS:0004", "Bid", 30, "4.80")
    trade_at(e, "4.95")
    assert o.status == "Waiting"
    trade_at(e, "4.90")
    assert (o.status, o.executed) == ("Expired", 60)
    assert book_view(e)["Bid"] == []
    check_invariants(e)


def test_cascade_is_ordered_and_bounded():
    """Each triggered stop's trades trigger the next: processed in trigger order, without recursion."""
    e = make_engine()
    n = 30
    stops = []
    for k in range(n):
        px = D("5.00") - D("0.01") * k
        place(e, "XS:0003", "Bid", 10, str(px - D("0.01")))  # liquidity one tick under each stop
        o, _, _ = place_cond(
            e, "XS:0002", cond(Stop=str(px)), "Ask", 10, None, type_="Market", validity="UntilDay"
        )
        stops.append(o)
    step = trade_at(e, "5.00")  # the first stop triggers; its sale at 4.99 triggers the next, and so on
    assert [o.status for o in stops] == ["Filled"] * n
    fills = [(o.value / o.executed) for o in stops]
    assert fills == [D("4.99") - D("0.01") * k for k in range(n)]
    prints = [t["Price"] for t in step.symbols["XS01"].trades]
    assert prints == [D("5.00")] + [D("4.99") - D("0.01") * k for k in range(n)]
    triggered = [o.id for acct, _, o, snap in step.orders if acct == "XS:0002" and snap[0] == "OnMarket"]
    assert triggered == [o.id for o in stops]  # routed in trigger order, each once
    assert e.held_count == 0 and not e.symbols["XS01"].held
    check_invariants(e)


def test_best_bid_reference_triggers_on_book_change():
    e = make_engine()
    place(e, "XS:0003", "Bid", 10, "5.00")
    o, _, _ = place_cond(
        e, "XS:0002", cond(Stop="4.95", Reference="BestBid"), "Ask", 10, "4.90", validity="UntilCancel"
    )
    assert o.status == "Waiting"
    bid = next(x for x in e.accounts["XS:0003"].orders.values() if x.status == "OnMarket")
    place(e, "XS:0004", "Bid", 5, "4.95")
    resp, _ = e.cancel(e.accounts["XS:0003"], bid, "c")  # best bid falls to 4.95: triggers
    assert resp["Result"] == "Success"
    assert (o.status, o.executed) == ("PartialFill", 5)
    assert book_view(e)["Ask"] == [(D("4.90"), [(o.id, 5)])]
    check_invariants(e)


@pytest.mark.parametrize(
    ("side", "trail", "prints", "stops", "trigger"),
    [
        # sell: the stop rises with the price, never falls, and triggers on the way down
        (
            "Ask",
            ("Price", "0.10"),
            ["5.00", "5.20", "5.15", "5.30"],
            ["4.90", "5.10", "5.10", "5.20"],
            "5.20",
        ),
        ("Ask", ("Percent", "10"), ["5.00", "6.00", "5.50"], ["4.50", "5.40", "5.40"], "5.40"),
        # buy: the stop falls with the price and triggers on the way up
        ("Bid", ("Price", "0.10"), ["5.00", "4.80", "4.85"], ["5.10", "4.90", "4.90"], "4.90"),
    ],
)
def test_trailing_stop_follows_the_reference(side, trail, prints, stops, trigger):
    e = make_engine()
    typ, value = trail
    limit = "4.00" if side == "Ask" else "6.00"
    raw = cond("TrailingStopLoss", Type=typ, Value=value, Limit=limit)
    trade_at(e, prints[0])
    o, _, _ = place_cond(e, "XS:0001", raw, side, 10, None, type_="Market", validity="UntilCancel")
    assert (o.spec.type, o.spec.limit_price) == ("Limit", D(limit))
    seen = [o.stop]
    for px in prints[1:]:
        trade_at(e, px)
        seen.append(o.stop)
    assert seen == [D(s) for s in stops] and o.status == "Waiting"
    trade_at(e, trigger)
    assert not o.held and o.routed  # entered as a limit at Limit
    assert o.price == D(limit)
    check_invariants(e)


def test_amend_and_cancel_while_held():
    e = make_engine()
    o, _, _ = place_cond(e, "XS:0001", cond(Stop="5.10"), "Bid", 100, "5.20", validity="UntilCancel")
    s2 = spec("Bid", 50, "5.30")
    s2, c2 = parsed(e, cond(Stop="5.20"), s2)
    resp, step = e.amend(e.accounts["XS:0001"], o, s2, "a", c2)
    assert resp["Result"] == "Success" and resp["Order"]["Status"] == "Waiting"
    assert (o.stop, o.spec.quantity, o.held) == (D("5.20"), 50, True)
    assert [(op, snap[0]) for _, op, _, snap in step.orders] == [("U", "Waiting")]
    assert all(not ch.depth for ch in step.symbols.values())  # nothing on the book moved
    assert e.accounts["XS:0001"].reserved_cash == D("265")
    # a stop-limit may become a stop-market while held
    s3, c3 = parsed(e, cond(Stop="5.20"), spec("Bid", 50, None, type_="Market", validity="UntilDay"))
    resp, _ = e.amend(e.accounts["XS:0001"], o, s3, "a2", c3)
    assert resp["Result"] == "Success" and o.spec.type == "Market"
    trade_at(e, "5.15")
    assert o.status == "Waiting"
    resp, _ = e.cancel(e.accounts["XS:0001"], o, "c")
    assert resp["Result"] == "Success" and o.status == "Cancelled" and not o.held
    assert e.accounts["XS:0001"].reserved_cash == 0 and e.held_count == 0
    trade_at(e, "5.30")
    assert o.status == "Cancelled" and o.executed == 0


def test_triggered_order_condition_is_fixed():
    e = make_engine()
    o, _, _ = place_cond(e, "XS:0001", cond(Stop="5.10"), "Bid", 100, "5.00", validity="UntilCancel")
    trade_at(e, "5.10")
    assert o.status == "OnMarket" and o.on_book
    same = ConditionSpec("StopLoss", D("5.10"), "Last", "None", True)
    s, _ = parsed(e, cond(Stop="5.10"), spec("Bid", 80, "5.00"))
    resp, _ = e.amend(e.accounts["XS:0001"], o, s, "a1", same)
    assert resp["Result"] == "Success" and o.spec.quantity == 80
    other = ConditionSpec("StopLoss", D("5.20"), "Last", "None", True)
    resp, _ = e.amend(e.accounts["XS:0001"], o, s, "a2", other)
    assert (resp["Result"], resp["Errors"]) == ("Rejected", ["Order.Status"])


def test_day_stop_expires_while_held_and_market_closed_does_not_trigger():
    e = make_engine()
    day, _, _ = place_cond(e, "XS:0001", cond(Stop="5.10"), "Bid", 10, "5.20", validity="UntilDay")
    gtc, _, _ = place_cond(e, "XS:0001", cond(Stop="5.10"), "Bid", 10, "5.20", validity="UntilCancel")
    place(e, "XS:0003", "Bid", 10, "5.00")
    bb, _, _ = place_cond(
        e, "XS:0002", cond(Stop="4.95", Reference="BestBid"), "Ask", 10, "4.90", validity="UntilCancel"
    )
    e.status = "Closed"
    step = e.new_day(e.today())
    assert day.status == "Expired" and not day.held
    assert gtc.status == "Waiting" and gtc.held
    assert [s[1] for s in step.orders] == ["U"]
    bid = next(x for x in e.accounts["XS:0003"].orders.values() if x.status == "OnMarket")
    e.cancel(e.accounts["XS:0003"], bid, "c")  # the bid side empties, but the market is closed
    assert bb.status == "Waiting"
    e.status = "Open"
    place(e, "XS:0004", "Bid", 5, "4.95")  # a book change while open: the stop triggers
    assert (bb.status, bb.executed) == ("PartialFill", 5)
