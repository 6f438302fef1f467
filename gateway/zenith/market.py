"""``Market`` controller facade (§4): symbol lookup, security state, trading states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.zenith.client import ZenithClient
from gateway.zenith.records import (
    DepthOrderChange,
    LevelChange,
    MarketState,
    SymbolDetail,
    TradeChange,
    TradingState,
)
from gateway.zenith.security import SecurityState

__all__ = ["MarketApi"]

CONTROLLER = "Market"


def _list(data: Any) -> list[Mapping[str, Any]]:
    return [x for x in data if isinstance(x, Mapping)] if isinstance(data, list) else []


class MarketApi:
    """Typed calls on the Market controller through a :class:`ZenithClient`."""

    def __init__(self, client: ZenithClient) -> None:
        self.client = client

    async def query_markets(self, *, timeout: float | None = None) -> list[MarketState]:
        """QueryMarkets (§4.1): every market visible to the login."""
        data = await self.client.request(CONTROLLER, "QueryMarkets", None, timeout)
        return [MarketState.from_json(m) for m in _list(data)]

    async def query_trading_states(self, market: str, *, timeout: float | None = None) -> list[TradingState]:
        """QueryTradingStates (§4.2): what each trading-state name allows."""
        data = await self.client.request(CONTROLLER, "QueryTradingStates", {"Market": market}, timeout)
        return [TradingState.from_json(s) for s in _list(data)]

    async def query_symbols(
        self,
        search_text: str,
        *,
        market: str | None = None,
        exchange: str | None = None,
        field: str | None = None,
        is_partial: bool | None = None,
        count: int | None = None,
        show_full: bool | None = None,
        timeout: float | None = None,
    ) -> list[SymbolDetail]:
        """QuerySymbols (§4.7); ``field`` is ``+``-separated (``Code+Name``)."""
        body: dict[str, Any] = {"SearchText": search_text}
        for name, value in (
            ("Market", market), ("Exchange", exchange), ("Field", field), ("IsPartial", is_partial),
            ("Count", count), ("ShowFull", show_full),
        ):
            if value is not None:
                body[name] = value
        data = await self.client.request(CONTROLLER, "QuerySymbols", body, timeout)
        return [SymbolDetail.from_json(s) for s in _list(data)]

    async def search_symbols(
        self,
        conditions: Iterable[Mapping[str, Any]] = (),
        *,
        market: str | None = None,
        exchange: str | None = None,
        full_symbol: bool | None = None,
        count: int | None = None,
        timeout: float | None = None,
    ) -> list[SymbolDetail]:
        """SearchSymbols (§4.8); conditions as documented (``{"Text":..,"Field":"Code","Match":"Exact"}``)."""
        body: dict[str, Any] = {}
        conds = [dict(c) for c in conditions]
        if conds:
            body["Conditions"] = conds
        for name, value in (
            ("Market", market), ("Exchange", exchange), ("FullSymbol", full_symbol), ("Count", count),
        ):
            if value is not None:
                body[name] = value
        data = await self.client.request(CONTROLLER, "SearchSymbols", body, timeout)
        return [SymbolDetail.from_json(s) for s in _list(data)]

    async def query_security(self, market: str, code: str, *, timeout: float | None = None) -> SecurityState:
        """QuerySecurity (§4.11): the full state."""
        body = {"Market": market, "Code": code}
        data = await self.client.request(CONTROLLER, "QuerySecurity", body, timeout)
        if not isinstance(data, Mapping):
            raise ValueError(f"QuerySecurity answered with {data!r:.200}, not a Security object")
        return SecurityState.from_json(data, code, market)

    async def query_depth_full(
        self, market: str, code: str, *, timeout: float | None = None
    ) -> list[DepthOrderChange]:
        """QueryDepthFull (§4.12): ``C`` then an ``A`` per order."""
        body = {"Market": market, "Code": code}
        data = await self.client.request(CONTROLLER, "QueryDepthFull", body, timeout)
        return [DepthOrderChange.from_json(c) for c in _list(data)]

    async def query_depth_levels(
        self, market: str, code: str, *, timeout: float | None = None
    ) -> list[LevelChange]:
        """QueryDepthLevels (§4.13)."""
        data = await self.client.request(
            CONTROLLER, "QueryDepthLevels", {"Market": market, "Code": code}, timeout
        )
        return [LevelChange.from_json(c) for c in _list(data)]

    async def query_trades(
        self,
        market: str,
        code: str,
        *,
        count: int | None = None,
        first_trade_id: int | None = None,
        last_trade_id: int | None = None,
        timeout: float | None = None,
    ) -> list[TradeChange]:
        """QueryTrades (§4.14): history after a Trades ``I`` marker."""
        body: dict[str, Any] = {"Market": market, "Code": code}
        options = (("Count", count), ("FirstTradeID", first_trade_id), ("LastTradeID", last_trade_id))
        for name, value in options:
            if value is not None:
                body[name] = value
        data = await self.client.request(CONTROLLER, "QueryTrades", body, timeout)
        return [TradeChange.from_json(c) for c in _list(data)]
