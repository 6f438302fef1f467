"""Read-only JSON views of the engine's state: holdings, balances, Security (spec §4.11, §5.15, §5.16).

Mixed into :class:`gateway.sim.engine.Engine`; kept apart so the matching logic stays one job.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.sim.book import ASK, BID

if TYPE_CHECKING:
    from gateway.sim.config import MarketConfig, SymbolConfig
    from gateway.sim.engine import Account, SymbolState

__all__ = ["SECURITY_DEFAULTS", "EngineViews", "avg_price"]

ZERO = Decimal(0)
_AVG_Q = Decimal("0.000001")


def avg_price(value: Decimal, qty: Decimal) -> Decimal:
    return (value / qty).quantize(_AVG_Q).normalize() if qty else ZERO


# Defaults of the dynamic Security fields, used to turn a vanished field into its reset value in a diff.
SECURITY_DEFAULTS: dict[str, Any] = {
    "Open": None,
    "High": None,
    "Low": None,
    "Last": None,
    "Trend": "None",
    "BestBid": None,
    "BestAsk": None,
    "BidCount": 0,
    "AskCount": 0,
    "BidQuantity": ZERO,
    "AskQuantity": ZERO,
    "BidUndisclosed": False,
    "AskUndisclosed": False,
    "NumberOfTrades": 0,
    "Volume": ZERO,
    "ValueTraded": ZERO,
    "VWAP": None,
}


class EngineViews:
    market: MarketConfig
    status: str
    symbols: dict[str, SymbolState]
    symbol_cfgs: dict[str, SymbolConfig]

    def holding_json(self, acct: Account, code: str) -> dict[str, Any]:
        h = acct.holdings.get(code)
        quantity, cost = (h.quantity, h.cost) if h is not None else (ZERO, ZERO)
        sym = self.symbol_cfgs.get(code)
        return {
            "Exchange": self.market.code,
            "Code": code,
            "Account": acct.id,
            "Style": "Market",
            "Cost": cost,
            "Currency": sym.currency if sym else acct.currency,
            "TotalQuantity": quantity,
            "TotalAvailable": acct.available(code),
            "AveragePrice": avg_price(cost, quantity),
        }

    def balances_json(self, acct: Account) -> list[dict[str, Any]]:
        return [
            {"Account": acct.id, "Type": "NetBalance", "Currency": acct.currency, "Amount": acct.cash},
            {
                "Account": acct.id,
                "Type": "Trading",
                "Currency": acct.currency,
                "Amount": acct.trading_balance,
            },
        ]

    def security_json(self, code: str) -> dict[str, Any]:
        """Full Security state: every Fixed field plus every field differing from its default (spec §4.11)."""
        sym = self.symbols[code]
        c = sym.cfg
        d: dict[str, Any] = {
            "Code": c.code,
            "Market": self.market.code,
            "Name": c.name,
            "Class": "Market",
            "CFI": c.cfi,
            "TradingMarkets": [self.market.trading_market],
            "SubscriptionData": "All",
            "Currency": c.currency,
            "LotSize": c.lot_size,
            "Close": sym.close,
            "TickTable": c.tick_table,
            "Board": self.market.trading_market,
        }
        if c.share_issue:
            d["ShareIssue"] = c.share_issue
        d.update(self.security_dynamic(code))
        return d

    def security_dynamic(self, code: str) -> dict[str, Any]:
        """The fields that change with trading; defaults omitted (absent = default in the first publish)."""
        sym = self.symbols[code]
        d: dict[str, Any] = {"TradingState": self.status}
        for name, value in (("Open", sym.open), ("High", sym.high), ("Low", sym.low), ("Last", sym.last)):
            if value is not None:
                d[name] = value
        if sym.trend != "None":
            d["Trend"] = sym.trend
        for side, prefix in ((BID, "Bid"), (ASK, "Ask")):
            level = sym.book.best(side)
            if level is not None:
                d["Best" + prefix] = level.price
                d[prefix + "Count"] = len(level.orders)
                d[prefix + "Quantity"] = level.volume
                if level.hidden_orders:
                    d[prefix + "Undisclosed"] = True
        if sym.trades_today:
            d["NumberOfTrades"] = sym.trades_today
            d["Volume"] = sym.volume
            d["ValueTraded"] = sym.value
            d["VWAP"] = avg_price(sym.value, sym.volume)
        return d
