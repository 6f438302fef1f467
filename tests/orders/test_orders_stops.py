"""FIX stop (40=3) and stop-limit (40=4) orders ride Zenith StopLoss conditions: held as New until
the market trades through the stop, then filled like any order (real simulator, activity off)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from test_orders_service import V42, V44, V50, harness, run


@pytest.mark.parametrize("begin", [V42, V44, V50])
def test_stop_market_buy_waits_then_fills_when_the_market_trades_through(tmp_path: Path,
                                                                         begin: str) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            await h.book("XS:0005", "Ask", 100, "10.10", symbol="XS05")
            h.order(begin, "stop1", "1", 50, None, symbol="XS05", ord_type="3", extra=[(99, "10.05")])
            new = await h.expect("8", {11: "stop1"})
            assert (new[39], Decimal(new[99]), new[14]) == ("0", Decimal("10.05"), "0"), new
            held = [m for m in await h.quiet(0.4) if m.msg_type == "8"]
            assert held == [], "a stop must not trade before the market reaches it"

            # Another participant trades at 10.05: Last reaches the stop, the order enters as a
            # market buy and takes the 10.10 offer.
            await h.book("XS:0006", "Ask", 10, "10.05", symbol="XS05")
            await h.book("XS:0007", "Bid", 10, "10.05", symbol="XS05")
            fill = await h.expect("8", {11: "stop1", 39: "2"}, timeout=5)
            assert (fill[32], fill[14], fill[151]) == ("50", "50", "0"), fill
            assert Decimal(fill[31]) == Decimal("10.10"), fill

    run(main)


def test_stop_limit_sell_rests_at_its_limit_after_the_trigger(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V44, "sl1", "2", 30, "9.80", symbol="XS06", ord_type="4", extra=[(99, "9.90")])
            new = await h.expect("8", {11: "sl1"})
            assert (new[150], new[39]) == ("0", "0"), new
            assert (Decimal(new[99]), Decimal(new[44])) == (Decimal("9.90"), Decimal("9.80")), new
            # A trade at 9.90 triggers it; with no bid at or above 9.80 it rests, then a bid fills it.
            await h.book("XS:0006", "Ask", 5, "9.90", symbol="XS06")
            await h.book("XS:0007", "Bid", 5, "9.90", symbol="XS06")
            await h.quiet(0.4)
            await h.book("XS:0008", "Bid", 30, "9.80", symbol="XS06")
            fill = await h.expect("8", {11: "sl1", 39: "2"}, timeout=5)
            assert (fill[32], Decimal(fill[31]), fill[14]) == ("30", Decimal("9.80"), "30"), fill

    run(main)
