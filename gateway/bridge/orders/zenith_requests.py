"""Checked order records -> Zenith Trading requests, and Zenith refusals -> FIX rejects (no I/O).

``*_request`` build the Zenith actions PlaceOrder / AmendOrder / CancelOrder (Zenith §5.3-5.5);
the RequestID comes in from the store. ``reject_from_zenith`` turns a Zenith ``Errors`` list
(§5.10, Appendix E, XOSP vetting codes) into a FIX reject with the codes verbatim in Text(58).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from gateway.bridge.errors import CancelRejected, OrderRejected
from gateway.bridge.orders.model import NewOrder, OrderRecord, OrderTerms, ZenithRequest
from gateway.vocab.tags import CxlRejReason, OrdRejReason, OrdType, Side, TimeInForce

__all__ = [
    "STOP_UNSUPPORTED_TEXT",
    "amend_order_request",
    "cancel_order_request",
    "ord_rej_reason_for_errors",
    "place_order_request",
    "place_order_request_for",
    "reject_from_zenith",
    "trading_market",
]

STOP_UNSUPPORTED_TEXT = "stop orders not supported by Plxtra venue"

_TIF_TO_VALIDITY = {
    TimeInForce.DAY: "UntilDay",
    TimeInForce.GOOD_TILL_CANCEL: "UntilCancel",
    TimeInForce.IMMEDIATE_OR_CANCEL: "FillAndKill",
    TimeInForce.FILL_OR_KILL: "FillOrKill",
    TimeInForce.GOOD_TILL_DATE: "UntilCancel",  # + ExpiryDate (Zenith §8.43)
}


@lru_cache(maxsize=1024)  # a handful of markets, one PlaceOrder each
def trading_market(market: str) -> str:
    """Trading market code for a data market: ``XSX`` -> ``XSX::XSX`` (XOSP board = route, §3.5).

    An environment tag stays at the end (``XSX[Demo]`` -> ``XSX::XSX[Demo]``).
    """
    tag = ""
    if market.endswith("]") and "[" in market:
        cut = market.index("[")
        market, tag = market[:cut], market[cut:]
    base = market.split(":", 1)[0]
    return f"{base}::{base}{tag}"


# --- Zenith requests -------------------------------------------------------------------------


# Enum members bound once: every PlaceOrder reads them (a member read through its class costs a
# descriptor call on Python 3.11).
_BUY = Side.BUY
_LIMIT_TYPES = frozenset((OrdType.LIMIT, OrdType.STOP_LIMIT))
_SHORT_TYPES = {Side.SELL_SHORT: "ShortSell", Side.SELL_SHORT_EXEMPT: "ShortSellExempt"}


def _details(terms: OrderTerms) -> dict[str, Any]:
    details: dict[str, Any] = {
        "Exchange": terms.market,
        "Code": terms.code,
        "Side": "Bid" if terms.side is _BUY else "Ask",
        "Style": "Market",
        "Type": "Limit" if terms.ord_type in _LIMIT_TYPES else "Market",
    }
    if terms.price is not None:
        details["LimitPrice"] = terms.price
    # MaxFloor(111): Quantity is the visible part, HiddenQuantity the rest (Zenith §5.2).
    if terms.max_floor is not None and terms.max_floor < terms.order_qty:
        details["Quantity"] = terms.max_floor
        details["HiddenQuantity"] = terms.order_qty - terms.max_floor
    else:
        details["Quantity"] = terms.order_qty
    if terms.min_qty is not None:
        details["MinimumQuantity"] = terms.min_qty
    details["Validity"] = _TIF_TO_VALIDITY[terms.time_in_force]
    if terms.expire_date is not None:
        details["ExpiryDate"] = terms.expire_date.isoformat()
    short = _SHORT_TYPES.get(terms.side)
    if short is not None:
        details["ShortType"] = short
    return details


_STOP_TYPES = frozenset((OrdType.STOP, OrdType.STOP_LIMIT))


def _condition(terms: OrderTerms) -> dict[str, Any] | None:
    if terms.ord_type not in (OrdType.STOP, OrdType.STOP_LIMIT):
        return None
    # Appendix B StopLoss: a buy stop triggers when the last price rises to the stop, a sell stop
    # when it falls to it.
    return {
        "Name": "StopLoss",
        "Stop": terms.stop_px,
        "Reference": "Last",
        "Direction": "Up" if terms.side is Side.BUY else "Down",
    }


def place_order_request(order: NewOrder, request_id: str) -> ZenithRequest:
    """Zenith ``Trading:PlaceOrder`` (§5.3) for a checked NewOrderSingle."""
    return place_order_request_for(order.account, order.terms, request_id)


def place_order_request_for(account: str, terms: OrderTerms, request_id: str) -> ZenithRequest:
    """:func:`place_order_request` from the order's account and terms (the stored record's)."""
    data: dict[str, Any] = {
        "Account": account,
        "RequestID": request_id,
        "Details": _details(terms),
        "Route": {"Algorithm": "Market", "Market": trading_market(terms.market)},
    }
    if terms.ord_type in _STOP_TYPES:
        data["Condition"] = _condition(terms)
    return ZenithRequest("Trading", "PlaceOrder", data)


def amend_order_request(record: OrderRecord, terms: OrderTerms, request_id: str) -> ZenithRequest:
    """Zenith ``Trading:AmendOrder`` (§5.4): the complete new Details; the route is kept."""
    if record.order_id is None:
        raise CancelRejected(
            CxlRejReason.TOO_LATE_TO_CANCEL,
            "order not yet acknowledged by Plxtra",
            cl_ord_id=record.cl_ord_id,
        )
    if (terms.code, terms.market) != (record.terms.code, record.terms.market):
        raise CancelRejected(
            CxlRejReason.OTHER, "instrument cannot be changed by a replace", cl_ord_id=record.cl_ord_id
        )
    if terms.side != record.terms.side:
        raise CancelRejected(
            CxlRejReason.OTHER, "Side(54) cannot be changed by a replace", cl_ord_id=record.cl_ord_id
        )
    data: dict[str, Any] = {
        "Account": record.account,
        "OrderID": record.order_id,
        "RequestID": request_id,
        "Details": _details(terms),
    }
    condition = _condition(terms)
    if condition is not None:
        data["Condition"] = condition
    return ZenithRequest("Trading", "AmendOrder", data)


def cancel_order_request(record: OrderRecord, request_id: str) -> ZenithRequest:
    """Zenith ``Trading:CancelOrder`` (§5.5)."""
    if record.order_id is None:
        raise CancelRejected(
            CxlRejReason.TOO_LATE_TO_CANCEL,
            "order not yet acknowledged by Plxtra",
            cl_ord_id=record.cl_ord_id,
        )
    return ZenithRequest(
        "Trading",
        "CancelOrder",
        {"Account": record.account, "OrderID": record.order_id, "RequestID": request_id},
    )


# --- Zenith rejections -----------------------------------------------------------------------

# Zenith Errors codes (Appendix E, XOSP vetting codes) -> the most specific OrdRejReason(103);
# a version that lacks the value gets its nearest one when the report is built (fixtags).
_LIMIT_CODES = (
    "TotalQuantity.Maximum",
    "TotalValue.Maximum",
    "Account.DailyNet",
    "Account.DailyGross",
    "OrderPrice.Exceed",
    "Side.Maximum",
)
_EXACT: dict[str, OrdRejReason] = {
    "Symbol.Status": OrdRejReason.EXCHANGE_CLOSED,          # the symbol/market is not trading now
    "TotalValue.Balance": OrdRejReason.INSUFFICIENT_CREDIT_LIMIT,
    "Balance.Exceed": OrdRejReason.INSUFFICIENT_CREDIT_LIMIT,
    "TotalQuantity.Holdings": OrdRejReason.ORDER_EXCEEDS_LIMIT,
    "Quantity.Insufficient": OrdRejReason.ORDER_EXCEEDS_LIMIT,
    "OrderQuantity.Exceed": OrdRejReason.EXCEEDED_CLIP_SIZE_LIMIT,
    "OrderValue.Exceed": OrdRejReason.EXCEEDED_MAX_NOTIONAL_ORDER_AMT,
    "OrderPrice.TooFarAbove": OrdRejReason.PRICE_EXCEEDS_CURRENT_PRICE_BAND,
    "OrderPrice.TooFarBelow": OrdRejReason.PRICE_EXCEEDS_CURRENT_PRICE_BAND,
    "TotalQuantity": OrdRejReason.INCORRECT_QUANTITY,        # not a positive multiple of the lot
    "HiddenQuantity": OrdRejReason.INCORRECT_QUANTITY,
    "MinimumQuantity": OrdRejReason.INCORRECT_QUANTITY,
    "Side": OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    "Style": OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    "OrderType": OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    "Validity": OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    "ShortType": OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
    "Exchange": OrdRejReason.UNKNOWN_SYMBOL,
    "Route.Market": OrdRejReason.UNKNOWN_SYMBOL,
    "Order": OrdRejReason.UNKNOWN_ORDER,
}


def _code_reason(code: str, suffix: str) -> OrdRejReason | None:
    if code in _EXACT:
        return _EXACT[code]
    if code in _LIMIT_CODES:
        return OrdRejReason.ORDER_EXCEEDS_LIMIT
    if code == "LimitPrice":
        # "LimitPrice <tick>" names the tick the price missed; bare: no price band at all.
        return OrdRejReason.INVALID_PRICE_INCREMENT if suffix else OrdRejReason.OTHER
    if code.startswith(("Symbol", "Route.Symbol", "Market.")):
        return OrdRejReason.UNKNOWN_SYMBOL
    if code.startswith("Account"):
        return OrdRejReason.UNKNOWN_ACCOUNT
    return None


def ord_rej_reason_for_errors(errors: Iterable[str]) -> OrdRejReason:
    """OrdRejReason(103) for a list of Zenith ``Errors`` entries (``code`` or ``code suffix``);
    the first entry with a known code decides."""
    for error in errors:
        code, _, suffix = error.strip().partition(" ")
        reason = _code_reason(code, suffix.strip())
        if reason is not None:
            return reason
    return OrdRejReason.OTHER


def reject_from_zenith(
    result: str, errors: Sequence[str], terms: OrderTerms | None = None, cl_ord_id: str | None = None
) -> OrderRejected:
    """The FIX reject for a PlaceOrder answered with ``Result`` != Success."""
    codes = " ".join(errors) if errors else result
    text = f"Plxtra {result}: {codes}"
    if terms is not None and terms.ord_type in (OrdType.STOP, OrdType.STOP_LIMIT):
        return OrderRejected(OrdRejReason.OTHER, f"{STOP_UNSUPPORTED_TEXT} ({codes})", cl_ord_id=cl_ord_id)
    return OrderRejected(ord_rej_reason_for_errors(errors), text, cl_ord_id=cl_ord_id)
