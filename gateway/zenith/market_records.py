"""Typed market-data and reference records (§4): depth, levels, trades, symbols, markets.

Re-exported by :mod:`gateway.zenith.records`; same tolerance rules (B/A/S sides, Equity/Option
classes, string numbers, every §3.2 date-time form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gateway.zenith.values import (
    as_mapping,
    normalize_class,
    normalize_side,
    optional_str,
    parse_date,
    parse_datetime,
    required,
    split_comma,
    str_tuple,
    to_decimal,
    to_int,
)

__all__ = ["DepthOrderChange", "LevelChange", "MarketState", "SymbolDetail", "TradeChange", "TradingState"]







# -- market data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepthOrderChange:
    """One Depth change (§4.12). ``quantity_present`` tells an absent Quantity (unchanged) from
    ``null`` (undisclosed order)."""

    op: str                                # A | U | R | C
    id: str | None = None
    side: str | None = None
    price: Decimal | None = None
    position: int | None = None
    quantity: Decimal | None = None
    quantity_present: bool = False
    has_undisclosed: bool | None = None
    broker: str | None = None
    cross_ref: str | None = None
    market: str | None = None
    attributes: tuple[str, ...] = ()

    @property
    def undisclosed(self) -> bool:
        return self.quantity_present and self.quantity is None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DepthOrderChange:
        op = str(required(obj, "O", "Depth Change"))
        o = as_mapping(obj.get("Order"))
        hu = o.get("HasUndisclosed")
        return cls(
            op=op,
            id=optional_str(o.get("ID")),
            side=normalize_side(o.get("Side")),
            price=to_decimal(o.get("Price")),
            position=to_int(o.get("Position")),
            quantity=to_decimal(o.get("Quantity")),
            quantity_present="Quantity" in o,
            has_undisclosed=None if hu is None else bool(hu),
            broker=optional_str(o.get("Broker")),
            cross_ref=optional_str(o.get("CrossRef")),
            market=optional_str(o.get("Market")),
            attributes=str_tuple(o.get("Attributes")),
        )


@dataclass(frozen=True, slots=True)
class LevelChange:
    """One Levels change (§4.13). On an add, ``price`` None means the remainder aggregate level."""

    op: str
    id: str | None = None
    side: str | None = None
    price: Decimal | None = None
    volume: Decimal | None = None
    count: int | None = None
    has_undisclosed: bool | None = None
    market: str | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> LevelChange:
        op = str(required(obj, "O", "Level Change"))
        lv = as_mapping(obj.get("Level"))
        hu = lv.get("HasUndisclosed")
        return cls(
            op=op,
            id=optional_str(lv.get("ID")),
            side=normalize_side(lv.get("Side")),
            price=to_decimal(lv.get("Price")),
            volume=to_decimal(lv.get("Volume")),
            count=to_int(lv.get("Count")),
            has_undisclosed=None if hu is None else bool(hu),
            market=optional_str(lv.get("Market")),
        )


@dataclass(frozen=True, slots=True)
class TradeChange:
    """One Trades change (§4.14): ``A``/``U`` carry a trade, ``I`` only ``id`` (the last trade id)."""

    op: str
    id: int | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    time: datetime | None = None
    flags: tuple[str, ...] = ()
    trend: str | None = None
    side: str | None = None
    affects: tuple[str, ...] = ()
    codes: str | None = None
    buy: str | None = None
    sell: str | None = None
    buy_broker: str | None = None
    sell_broker: str | None = None
    buy_cross_ref: str | None = None
    sell_cross_ref: str | None = None
    market: str | None = None
    related_id: int | None = None
    attributes: tuple[str, ...] = ()

    @property
    def is_cancel(self) -> bool:
        return "Cancel" in self.flags

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TradeChange:
        op = str(required(obj, "O", "Trade Change"))
        t = obj.get("Trade")
        if not isinstance(t, Mapping):
            return cls(op=op, id=to_int(obj.get("ID")))
        return cls(
            op=op,
            id=to_int(t.get("ID")),
            price=to_decimal(t.get("Price")),
            quantity=to_decimal(t.get("Quantity")),
            time=parse_datetime(t.get("Time")),
            flags=split_comma(t.get("Flags")),
            trend=optional_str(t.get("Trend")),
            side=normalize_side(t.get("Side")),
            affects=split_comma(t.get("Affects")),
            codes=optional_str(t.get("Codes")),
            buy=optional_str(t.get("Buy")),
            sell=optional_str(t.get("Sell")),
            buy_broker=optional_str(t.get("BuyBroker")),
            sell_broker=optional_str(t.get("SellBroker")),
            buy_cross_ref=optional_str(t.get("BuyCrossRef")),
            sell_cross_ref=optional_str(t.get("SellCrossRef")),
            market=optional_str(t.get("Market")),
            related_id=to_int(t.get("RelatedID")),
            attributes=str_tuple(t.get("Attributes")),
        )


@dataclass(frozen=True, slots=True)
class SymbolDetail:
    """Symbol Detail (§4.5), base and full fields."""

    market: str
    code: str
    name: str | None
    class_: str
    exchange: str | None = None
    subscription_data: tuple[str, ...] = ()
    trading_markets: tuple[str, ...] = ()
    alternates: Mapping[str, str] = field(default_factory=dict)
    cfi: str | None = None
    is_index: bool = False
    lot_size: Decimal | None = None
    expiry_date: date | None = None
    strike_price: Decimal | None = None
    call_or_put: str | None = None
    contract_size: Decimal | None = None
    categories: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    depth_direction: str | None = None

    @property
    def issuing_exchange(self) -> str:
        """The ``Exchange`` for order Details: the symbol's Exchange, else its Market (§5.2)."""
        return self.exchange or self.market

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SymbolDetail:
        what = "Symbol Detail"
        alt = obj.get("Alternate", obj.get("Alternates"))  # both spellings (§8.25)
        return cls(
            market=str(required(obj, "Market", what)),
            code=str(required(obj, "Code", what)),
            name=optional_str(obj.get("Name")),
            class_=normalize_class(obj.get("Class")) or "Market",
            exchange=optional_str(obj.get("Exchange")),
            subscription_data=split_comma(obj.get("SubscriptionData")),
            trading_markets=str_tuple(obj.get("TradingMarkets")),
            alternates={str(k): str(v) for k, v in as_mapping(alt).items()},
            cfi=optional_str(obj.get("CFI")),
            is_index=bool(obj.get("IsIndex", False)),
            lot_size=to_decimal(obj.get("LotSize")),
            expiry_date=parse_date(obj.get("ExpiryDate")),
            strike_price=to_decimal(obj.get("StrikePrice")),
            call_or_put=optional_str(obj.get("CallOrPut")),
            contract_size=to_decimal(obj.get("ContractSize")),
            categories=str_tuple(obj.get("Categories")),
            attributes=dict(as_mapping(obj.get("Attributes"))),
            depth_direction=optional_str(obj.get("DepthDirection")),
        )


@dataclass(frozen=True, slots=True)
class MarketState:
    """Market State (§4.1): feed status, trading date and the status of each trading market."""

    code: str
    feed: str | None
    trading_date: date | None = None
    market_time: datetime | None = None
    status: str | None = None
    states: Mapping[str, str] = field(default_factory=dict)  # trading market / board -> status

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> MarketState:
        states = {}
        for item in obj.get("States") or ():
            if isinstance(item, Mapping) and item.get("Name") is not None:
                states[str(item["Name"])] = str(item.get("Status", ""))
        return cls(
            code=str(required(obj, "Code", "Market State")),
            feed=optional_str(obj.get("Feed")),
            trading_date=parse_date(obj.get("TradingDate")),
            market_time=parse_datetime(obj.get("MarketTime")),
            status=optional_str(obj.get("Status")),
            states=states,
        )


@dataclass(frozen=True, slots=True)
class TradingState:
    """Trading state (§4.2): what a state name allows."""

    name: str
    reason: str | None
    allows: frozenset[str]

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TradingState:
        return cls(
            name=str(required(obj, "Name", "Trading State")),
            reason=optional_str(obj.get("Reason")),
            allows=frozenset(split_comma(obj.get("Allows"))),
        )

    def allows_action(self, action: str) -> bool:
        """``action`` one of OrderPlace, OrderAmend, OrderMove, OrderCancel, Match, ReportCancel."""
        if "All" in self.allows or action in self.allows:
            return True
        orders_only = ("OrderPlace", "OrderAmend", "OrderMove", "OrderCancel")
        return action in orders_only and "OrdersOnly" in self.allows
