"""TradingApi / MarketApi against the real simulator: every record parses what the server sends."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.zenith import SubscriptionData, ZenithClient
from gateway.zenith.market import MarketApi
from gateway.zenith.records import OrderChange, OrderDetails, TradeChange, Transaction
from gateway.zenith.security import SecurityState
from gateway.zenith.trading import TradingApi


def run(tmp_path: Path, body: Any) -> None:
    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        try:
            await client.start()
            await asyncio.wait_for(body(client), 20.0)
        finally:
            await client.close()
            await sim.stop()

    asyncio.run(main(), debug=True)


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def limit(side: str, price: str, qty: int = 100, code: str = "XS02") -> OrderDetails:
    return OrderDetails(
        exchange="XSX",
        code=code,
        side=side,
        type="Limit",
        limit_price=Decimal(price),
        quantity=Decimal(qty),
        validity="UntilDay",
    )


def test_market_reference_data(tmp_path: Path) -> None:
    async def body(client: ZenithClient) -> None:
        api = MarketApi(client)
        markets = await api.query_markets()
        xsx = next(m for m in markets if m.code == "XSX")
        assert xsx.feed == "Active" and xsx.states.get("XSX::XSX")
        states = {s.name: s for s in await api.query_trading_states("XSX")}
        assert states[xsx.status or "Open"].allows_action("OrderPlace")
        symbols = await api.query_symbols("XS0", market="XSX")
        assert {"XS01", "XS09"} <= {s.code for s in symbols}
        found = await api.search_symbols([{"Text": "XS01", "Field": "Code", "Match": "Exact"}], market="XSX")
        assert [s.code for s in found] == ["XS01"]
        assert "XSX::XSX" in found[0].trading_markets and found[0].class_ == "Market"
        sec = await api.query_security("XSX", "XS01")
        assert isinstance(sec, SecurityState) and sec.code == "XS01" and sec.market == "XSX"
        assert sec.trading_state and sec.currency == "AUD"

    run(tmp_path, body)


def test_order_lifecycle_through_facades_and_subscriptions(tmp_path: Path) -> None:
    async def body(client: ZenithClient) -> None:
        trading = TradingApi(client)
        market = MarketApi(client)
        accounts = {a.id: a for a in await trading.query_accounts()}
        provider = accounts["XS:0001"].provider or "OMS"
        statuses = {s.code: s for s in await trading.query_order_statuses(provider)}
        assert any(s.completed for s in statuses.values())

        orders: list[OrderChange] = []
        trades: list[TradeChange] = []
        txs: list[Any] = []

        def on_orders(ev: Any) -> None:
            if isinstance(ev, SubscriptionData):
                orders.extend(OrderChange.from_json(c) for c in ev.data)

        def on_trades(ev: Any) -> None:
            if isinstance(ev, SubscriptionData):
                trades.extend(TradeChange.from_json(c) for c in ev.data)

        def on_txs(ev: Any) -> None:
            if isinstance(ev, SubscriptionData):
                txs.extend(Transaction.changes_from_json(ev.data))

        client.subscribe("Trading", "Orders!XS:0001", on_orders)
        client.subscribe("Market", "Trades!XS02.XSX", on_trades)
        client.subscribe("Trading", "Transactions!XS:0001", on_txs)
        await wait_until(lambda: bool(orders) and bool(trades) and bool(txs))
        assert orders[0].op == "C" and trades[0].op == "I" and txs[0][0] == "I"

        placed = await trading.place_order("XS:0001", limit("Bid", "9.90"), request_id="f-1")
        assert placed.ok and placed.order is not None
        oid = placed.order.id
        amended = await trading.amend_order("XS:0001", oid, limit("Bid", "9.95", 200), request_id="f-2")
        assert amended.ok, amended.errors
        await wait_until(
            lambda: any(c.order and c.order.id == oid and c.order.details.quantity == 200 for c in orders)
        )
        depth = await market.query_depth_full("XSX", "XS02")
        assert depth[0].op == "C" and any(d.price == Decimal("9.95") for d in depth[1:])

        # Another account sells into it: a trade, an execution for XS:0001, a fill on the order.
        sold = await trading.place_order("XS:0002", limit("Ask", "9.95", 50), request_id="f-3")
        assert sold.ok, sold.errors
        await wait_until(lambda: any(t.op == "A" for t in trades) and any(t[2] for t in txs))
        trade = next(t for t in trades if t.op == "A")
        assert trade.price == Decimal("9.95") and trade.quantity == 50
        tx = next(t[2] for t in txs if t[2])
        assert tx.order_id == oid and tx.total_quantity == 50 and tx.average_price == Decimal("9.95")
        await wait_until(
            lambda: any(c.order and c.order.id == oid and c.order.executed_quantity == 50 for c in orders)
        )
        history = await trading.query_transactions("XS:0001", order_id=oid)
        assert [t.id for t in history] == [tx.id]
        assert (await market.query_trades("XSX", "XS02"))[-1].id == trade.id

        cancelled = await trading.cancel_order("XS:0001", oid, request_id="f-4")
        assert cancelled.ok
        await wait_until(
            lambda: any(
                c.order
                and c.order.id == oid
                and statuses.get(c.order.status)
                and statuses[c.order.status].completed
                for c in orders
            )
        )
        (final,) = await trading.query_orders("XS:0001", oid)
        assert final.executed_quantity == 50 and final.leaves_quantity == 150

        holdings = await trading.query_holdings("XS:0001", "XSX", "XS02")
        assert holdings and holdings[0].code == "XS02"
        balances = await trading.query_balances("XS:0001")
        assert any(b.type and b.currency == "AUD" for b in balances)

        rejected = await trading.place_order("XS:0001", limit("Bid", "-1"), request_id="f-5")
        assert not rejected.ok and rejected.error_codes

    run(tmp_path, body)
