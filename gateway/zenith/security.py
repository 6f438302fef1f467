"""Security state (§4.11): the full state then diffs, applied without I/O.

A ``Security!{Code}.{Market}`` publish is either a full state (it carries ``Code``; sent on
subscribe, after a server resynchronisation and at each new trading day) or a diff: a field
absent from a diff is unchanged, a field set to ``null`` is cleared back to its default.
:func:`apply_security_diff` works on the raw JSON dicts (what both the market-data bridge and
the gateway keep); :class:`SecurityState` is the typed view with the documented defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.zenith.values import normalize_class, parse_date, split_comma, to_decimal, to_int

__all__ = ["SecurityState", "apply_security_diff", "is_full_security"]

_MISSING = object()


def is_full_security(data: Mapping[str, Any]) -> bool:
    """A full state carries ``Code`` (the Fixed fields come only in full states, §4.11)."""
    return "Code" in data


def apply_security_diff(
    state: Mapping[str, Any] | None, diff: Mapping[str, Any]
) -> tuple[dict[str, Any], frozenset[str]]:
    """Apply one publish to the raw state; returns (new state, names of the fields that changed).

    A full state replaces everything (fields it omits revert to their defaults); a diff changes
    only the fields it names, ``null`` removing the field. The input mapping is not modified.
    """
    old = state or {}
    if is_full_security(diff):
        new = {k: v for k, v in diff.items() if v is not None}
        changed = {k for k in set(old) | set(new) if old.get(k, _MISSING) != new.get(k, _MISSING)}
        return new, frozenset(changed)
    new = dict(old)
    changed = set()
    for key, value in diff.items():
        if value is None:
            if key in new:
                del new[key]
                changed.add(key)
        elif new.get(key, _MISSING) != value:
            new[key] = value
            changed.add(key)
    return new, frozenset(changed)


def _d(raw: Mapping[str, Any], name: str, default: Decimal | None = None) -> Decimal | None:
    value = raw.get(name)
    return default if value is None else to_decimal(value)


def _s(raw: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = raw.get(name)
    return default if value is None else str(value)


_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SecurityState:
    """Typed Security (§4.11) with the documented default for every field never received."""

    code: str
    market: str
    exchange: str
    name: str
    class_: str
    cfi: str | None
    trading_state: str | None
    trading_markets: tuple[str, ...]
    currency: str | None
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal | None
    settlement: Decimal | None
    last: Decimal | None
    trend: str
    best_bid: Decimal | None
    best_ask: Decimal | None
    bid_count: int
    ask_count: int
    bid_quantity: Decimal
    ask_quantity: Decimal
    bid_undisclosed: bool
    ask_undisclosed: bool
    number_of_trades: int
    volume: Decimal
    value_traded: Decimal
    vwap: Decimal | None
    auction_price: Decimal | None
    auction_quantity: Decimal | None
    auction_remainder: Decimal | None
    open_interest: int | None
    share_issue: Decimal | None
    is_index: bool
    expiry_date: date | None
    strike_price: Decimal | None
    lot_size: Decimal | None
    board: str | None
    tick_table: str | None
    subscription_data: tuple[str, ...]
    status_note: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], code: str = "", market: str = "") -> SecurityState:
        """Typed view of a (merged) raw state; ``code``/``market`` fill in from the topic."""
        mkt = _s(raw, "Market", market) or ""
        return cls(
            code=_s(raw, "Code", code) or "",
            market=mkt,
            exchange=_s(raw, "Exchange", mkt) or mkt,
            name=_s(raw, "Name", "") or "",
            class_=normalize_class(raw.get("Class")) or "Market",
            cfi=_s(raw, "CFI"),
            trading_state=_s(raw, "TradingState"),
            trading_markets=tuple(str(x) for x in raw.get("TradingMarkets") or ()),
            currency=_s(raw, "Currency"),
            open=_d(raw, "Open"),
            high=_d(raw, "High"),
            low=_d(raw, "Low"),
            close=_d(raw, "Close"),
            settlement=_d(raw, "Settlement"),
            last=_d(raw, "Last"),
            trend=_s(raw, "Trend", "None") or "None",
            best_bid=_d(raw, "BestBid"),
            best_ask=_d(raw, "BestAsk"),
            bid_count=to_int(raw.get("BidCount")) or 0,
            ask_count=to_int(raw.get("AskCount")) or 0,
            bid_quantity=_d(raw, "BidQuantity", _ZERO) or _ZERO,
            ask_quantity=_d(raw, "AskQuantity", _ZERO) or _ZERO,
            bid_undisclosed=bool(raw.get("BidUndisclosed", False)),
            ask_undisclosed=bool(raw.get("AskUndisclosed", False)),
            number_of_trades=to_int(raw.get("NumberOfTrades")) or 0,
            volume=_d(raw, "Volume", _ZERO) or _ZERO,
            value_traded=_d(raw, "ValueTraded", _ZERO) or _ZERO,
            vwap=_d(raw, "VWAP"),
            auction_price=_d(raw, "AuctionPrice"),
            auction_quantity=_d(raw, "AuctionQuantity"),
            auction_remainder=_d(raw, "AuctionRemainder"),
            open_interest=to_int(raw.get("OpenInterest")),
            share_issue=_d(raw, "ShareIssue"),
            is_index=bool(raw.get("IsIndex", False)),
            expiry_date=parse_date(raw.get("ExpiryDate")),
            strike_price=_d(raw, "StrikePrice"),
            lot_size=_d(raw, "LotSize"),
            board=_s(raw, "Board"),
            tick_table=_s(raw, "TickTable"),
            subscription_data=split_comma(raw.get("SubscriptionData")),
            status_note=tuple(str(x) for x in raw.get("StatusNote") or ()),
            raw=dict(raw),
        )

    def apply(self, diff: Mapping[str, Any]) -> tuple[SecurityState, frozenset[str]]:
        """Apply one publish; returns the new state and the wire names of the changed fields."""
        new_raw, changed = apply_security_diff(self.raw, diff)
        return SecurityState.from_json(new_raw, self.code, self.market), changed
