"""Session limits on the orders path: notional of market orders (reference price from Zenith
QuerySecurity), and the throttle action ``logout``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.bridge.errors import OrderRejected
from gateway.bridge.orders.model import OrderTerms
from gateway.bridge.orders.reference import (
    NO_REFERENCE_TEXT,
    ReferenceCache,
    check_market_notional,
    needs_reference,
    reference_price,
)
from gateway.config.model import Limits, ThrottleAction
from gateway.vocab.tags import OrdType, Side
from tests.orders.test_orders_service import V44, harness, key, run, session_config

SECURITY = {"Code": "XS01", "BestBid": Decimal("9.90"), "BestAsk": Decimal("10.10"), "Last": Decimal("10.00"),
            "Close": Decimal("9.50")}


def market(qty: int, side: Side = Side.BUY) -> OrderTerms:
    return OrderTerms(code="XS01", market="XSX", side=side, ord_type=OrdType.MARKET, order_qty=Decimal(qty))


def test_reference_is_the_touch_then_last_then_close() -> None:
    assert reference_price(SECURITY, Side.BUY) == Decimal("10.10")
    assert reference_price(SECURITY, Side.SELL) == Decimal("9.90")
    assert reference_price({"Last": 10, "BestAsk": None}, Side.BUY) == Decimal(10)
    assert reference_price({"Close": "9.5"}, Side.SELL_SHORT) == Decimal("9.5")
    assert reference_price({"Result": "Error", "Errors": ["x"]}, Side.BUY) is None


def test_market_notional_check() -> None:
    session = session_config(V44, limits=Limits(max_notional=Decimal(1000)))
    assert needs_reference(market(1), session)
    assert not needs_reference(market(1), session_config(V44, limits=Limits()))
    check_market_notional(market(99), session, Decimal("10.10"), "c1")  # 999.9
    with pytest.raises(OrderRejected) as err:
        check_market_notional(market(100), session, Decimal("10.10"), "c1")
    assert err.value.reason == "27" and "1010" in err.value.text   # 4.2/4.4 reports carry 3
    with pytest.raises(OrderRejected) as err:
        check_market_notional(market(1), session, None, "c1")
    assert err.value.text == NO_REFERENCE_TEXT


def test_reference_cache_expires_and_ignores_answers_without_price() -> None:
    cache = ReferenceCache(ttl=2.0)
    cache.put("XSX", "XS01", SECURITY, now=100.0)
    assert cache.get("XSX", "XS01", 101.5) is SECURITY
    assert cache.get("XSX", "XS01", 102.5) is None
    cache.put("XSX", "XS02", {"Result": "Error"}, now=100.0)
    assert cache.get("XSX", "XS02", 100.0) is None


def test_market_orders_are_checked_against_the_book(tmp_path: Path) -> None:
    async def main() -> None:
        limits = Limits(max_order_qty=Decimal(100_000), max_notional=Decimal(1000))
        async with harness(tmp_path, sessions=(session_config(V44, limits=limits),)) as h:
            await h.book("XS:0005", "Ask", 300, "5.00", symbol="XS02")
            # 300 x 5.00 = 1500 over the limit: rejected before anything reaches Plxtra.
            h.order(V44, "m1", "1", 300, None, symbol="XS02", ord_type="1")
            rej = await h.expect("8", {11: "m1"})
            assert (rej[150], rej[39], rej[103]) == ("8", "8", "3") and "estimated notional 1500" in rej[58]
            # 150 x 5.00 = 750: placed, and it trades against the resting ask.
            h.order(V44, "m2", "1", 150, None, symbol="XS02", ord_type="1")
            assert (await h.expect("8", {11: "m2"}))[150] == "0"
            fill = await h.expect("8", {11: "m2"})
            assert (fill[150], fill[32], fill[31]) == ("F", "150", "5")
            mine = await h.client.request("Trading", "QueryOrders", {"Account": "XS:0001"})
            assert len(mine) == 1  # only m2 was placed

    run(main)


def test_throttle_logout_rejects_and_logs_the_session_out(tmp_path: Path) -> None:
    async def main() -> None:
        limits = Limits(messages_per_second=3, throttle_action=ThrottleAction.LOGOUT)
        async with harness(tmp_path, sessions=(session_config(V44, limits=limits),)) as h:
            for i in range(4):
                h.send(V44, "H", [(11, f"t{i}"), (55, "XS01"), (54, "1")])
            j = await h.expect("j", timeout=1)
            assert (j[379], j[372]) == ("t3", "H") and "throttle" in j[58]
            assert h.outbox.logouts == [(key(V44), "Message rate limit exceeded")]

    run(main)
