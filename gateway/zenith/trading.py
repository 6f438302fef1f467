"""``Trading`` controller facade (§5): builds request bodies, returns records.

Business rejections of order actions come back as an :class:`OrderActionResponse` with
``ok`` False and the Appendix E codes in ``errors`` (§5.10 channel 1); action errors (unknown
account, no permission) raise :class:`~gateway.zenith.errors.ZenithRequestError` (channel 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from gateway.zenith.client import ZenithClient
from gateway.zenith.records import (
    AccountState,
    Balance,
    Holding,
    Order,
    OrderActionResponse,
    OrderDetails,
    OrderRoute,
    OrderStatus,
    Transaction,
    order_details_to_json,
    order_route_to_json,
)

__all__ = ["TradingApi", "default_route"]

CONTROLLER = "Trading"


def default_route(details: OrderDetails) -> OrderRoute:
    """Route ``Market`` to the exchange's main board ``EX::EX`` (XOSP's ``XSX::XSX``, §7.X)."""
    return OrderRoute("Market", f"{details.exchange}::{details.exchange}")


def _list(data: Any) -> list[Mapping[str, Any]]:
    return [x for x in data if isinstance(x, Mapping)] if isinstance(data, list) else []


class TradingApi:
    """Typed calls on the Trading controller through a :class:`ZenithClient`."""

    def __init__(self, client: ZenithClient) -> None:
        self.client = client

    async def _order_action(
        self, topic: str, body: dict[str, Any], timeout: float | None
    ) -> OrderActionResponse:
        data = await self.client.request(CONTROLLER, topic, body, timeout)
        if not isinstance(data, Mapping):
            raise ValueError(f"{topic} answered with {data!r:.200}, not an Order Action Response")
        return OrderActionResponse.from_json(data)

    async def place_order(
        self,
        account: str,
        details: OrderDetails,
        route: OrderRoute | None = None,
        *,
        request_id: str | None = None,
        flags: Iterable[str] = (),
        condition: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> OrderActionResponse:
        """PlaceOrder (§5.3). ``request_id`` makes retries idempotent on the server (§8.41)."""
        body: dict[str, Any] = {
            "Account": account,
            "Details": order_details_to_json(details),
            "Route": order_route_to_json(route or default_route(details)),
        }
        _add_options(body, request_id, flags, condition)
        return await self._order_action("PlaceOrder", body, timeout)

    async def amend_order(
        self,
        account: str,
        order_id: str,
        details: OrderDetails,
        route: OrderRoute | None = None,
        *,
        request_id: str | None = None,
        flags: Iterable[str] = (),
        condition: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> OrderActionResponse:
        """AmendOrder (§5.4): ``details`` is the complete new Details; no route keeps the old one."""
        body: dict[str, Any] = {
            "Account": account, "OrderID": order_id, "Details": order_details_to_json(details),
        }
        if route is not None:
            body["Route"] = order_route_to_json(route)
        _add_options(body, request_id, flags, condition)
        return await self._order_action("AmendOrder", body, timeout)

    async def cancel_order(
        self,
        account: str,
        order_id: str,
        *,
        request_id: str | None = None,
        flags: Iterable[str] = (),
        timeout: float | None = None,
    ) -> OrderActionResponse:
        """CancelOrder (§5.5)."""
        body: dict[str, Any] = {"Account": account, "OrderID": order_id}
        _add_options(body, request_id, flags, None)
        return await self._order_action("CancelOrder", body, timeout)

    async def query_orders(
        self, account: str, order_id: str | None = None, *, timeout: float | None = None
    ) -> list[Order]:
        """QueryOrders (§5.11): plain Order objects (no change wrapper)."""
        body: dict[str, Any] = {"Account": account}
        if order_id is not None:
            body["OrderID"] = order_id
        data = await self.client.request(CONTROLLER, "QueryOrders", body, timeout)
        return [Order.from_json(o.get("Order", o) if "O" in o else o) for o in _list(data)]

    async def query_transactions(
        self,
        account: str,
        *,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        count: int | None = None,
        order_id: str | None = None,
        exchange: str | None = None,
        code: str | None = None,
        trading_market: str | None = None,
        timeout: float | None = None,
    ) -> list[Transaction]:
        """QueryTransactions (§5.17): executions, e.g. to find fills missed while disconnected."""
        body: dict[str, Any] = {"Account": account}
        for name, value in (
            ("FromDate", from_date), ("ToDate", to_date), ("Count", count), ("OrderID", order_id),
            ("Exchange", exchange), ("Code", code), ("TradingMarket", trading_market),
        ):
            if value is not None:
                body[name] = value
        data = await self.client.request(CONTROLLER, "QueryTransactions", body, timeout)
        return [Transaction.from_json(t.get("Transaction", t) if "O" in t else t) for t in _list(data)]

    async def query_accounts(self, *, timeout: float | None = None) -> list[AccountState]:
        """QueryAccounts (§5.1): every account visible to the login."""
        data = await self.client.request(CONTROLLER, "QueryAccounts", None, timeout)
        return [AccountState.from_json(a) for a in _list(data)]

    async def query_order_statuses(
        self, provider: str, exchange: str | None = None, *, timeout: float | None = None
    ) -> list[OrderStatus]:
        """QueryOrderStatuses (§5.13): what each status code allows; ``provider`` from the account."""
        body: dict[str, Any] = {"Provider": provider}
        if exchange is not None:
            body["Exchange"] = exchange
        data = await self.client.request(CONTROLLER, "QueryOrderStatuses", body, timeout)
        return [OrderStatus.from_json(s) for s in _list(data)]

    async def query_holdings(
        self,
        account: str,
        exchange: str | None = None,
        code: str | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Holding]:
        """QueryHoldings (§5.15); change wrappers are unwrapped (§8.45)."""
        body: dict[str, Any] = {"Account": account}
        if exchange is not None:
            body["Exchange"] = exchange
        if code is not None:
            body["Code"] = code
        data = await self.client.request(CONTROLLER, "QueryHoldings", body, timeout)
        return [Holding.from_json(h) for h in _list(data) if not ("O" in h and "Holding" not in h)]

    async def query_balances(self, account: str, *, timeout: float | None = None) -> list[Balance]:
        """QueryBalances (§5.16)."""
        data = await self.client.request(CONTROLLER, "QueryBalances", {"Account": account}, timeout)
        return [Balance.from_json(b) for b in _list(data)]


def _add_options(body: dict[str, Any], request_id: str | None, flags: Iterable[str],
                 condition: Mapping[str, Any] | None) -> None:
    """The optional fields every order action shares (§5.3-5.5): omitted when not given."""
    if request_id is not None:
        body["RequestID"] = request_id
    if flags:
        body["Flags"] = list(flags)
    if condition is not None:
        body["Condition"] = dict(condition)
