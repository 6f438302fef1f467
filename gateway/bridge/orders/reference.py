"""Notional limit for market orders: a reference price per symbol. No I/O.

A limit order's notional is price x quantity. A market order has no price, so the session's
``max_notional`` is checked against a reference taken from Zenith ``QuerySecurity`` (§4.11):
the touch the order would trade against first (``BestAsk`` for a buy, ``BestBid`` for a sell),
else ``Last``, else ``Close``. The estimate is the touch, not a sweep of the book: a market order
that walks several levels can trade somewhat above it; desks that need a hard cap send limit
orders. When no reference is known (empty book and no trade) the order is rejected rather than
placed unchecked. References are cached per symbol for :data:`REFERENCE_TTL` seconds so a burst
of market orders costs one query.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.bridge.errors import OrderRejected
from gateway.bridge.orders.model import OrderTerms, to_decimal
from gateway.bridge.orders.zenith_requests import ord_rej_reason_for_errors
from gateway.config.model import SessionConfig
from gateway.vocab.tags import OrdRejReason, OrdType, Side

__all__ = [
    "NO_REFERENCE_TEXT",
    "REFERENCE_TTL",
    "ReferenceCache",
    "check_market_notional",
    "needs_reference",
    "notional_rejection",
    "reference_price",
]

REFERENCE_TTL = 2.0
NO_REFERENCE_TEXT = "no reference price for the market order notional check"
_BUY_SIDES = frozenset({Side.BUY})


_MARKET = OrdType.MARKET  # read for every order: a module global, not the enum's descriptor


def needs_reference(terms: OrderTerms, session: SessionConfig) -> bool:
    """True for a market order on a session with a notional limit."""
    limited = session.limits.max_notional is not None
    return limited and terms.ord_type is _MARKET and terms.price is None


def reference_price(security: Mapping[str, Any], side: Side) -> Decimal | None:
    """The reference of a ``QuerySecurity`` answer for an order on ``side`` (see module doc)."""
    first = "BestAsk" if side in _BUY_SIDES else "BestBid"
    for name in (first, "Last", "Close"):
        try:
            px = to_decimal(security.get(name))
        except ValueError:  # a malformed price is no reference; the next one may be
            continue
        if px is not None and px > 0:
            return px
    return None


def check_market_notional(terms: OrderTerms, session: SessionConfig, reference: Decimal | None,
                          cl_ord_id: str) -> None:
    """Raise :class:`OrderRejected` (OrdRejReason 3) when the estimated notional is over the limit."""
    limit = session.limits.max_notional
    if limit is None:
        return
    if reference is None:
        raise OrderRejected(OrdRejReason.REFERENCE_PRICE_NOT_AVAILABLE, NO_REFERENCE_TEXT,
                            cl_ord_id=cl_ord_id)
    notional = reference * terms.order_qty
    if notional > limit:
        raise OrderRejected(
            OrdRejReason.EXCEEDED_MAX_NOTIONAL_ORDER_AMT,
            f"estimated notional {notional} (reference {reference}) exceeds session maximum {limit}",
            cl_ord_id=cl_ord_id,
        )


def notional_rejection(terms: OrderTerms, session: SessionConfig, security: Mapping[str, Any],
                       cl_ord_id: str) -> OrderRejected | None:
    """The rejection for a market order given a ``QuerySecurity`` answer, or None if it may go.

    An Error answer (``{"Result": "Error", "Errors": [...]}``) is judged by its Zenith codes first:
    ``Symbol.NotFound`` means the symbol is unknown (103=1), which says more than "no reference".
    """
    if security.get("Result") == "Error":
        reason = _error_reason(security.get("Errors") or ())
        if reason is not None:
            errors = "; ".join(str(e) for e in security.get("Errors") or ())
            return OrderRejected(reason, f"Plxtra: {errors}", cl_ord_id=cl_ord_id)
    try:
        check_market_notional(terms, session, reference_price(security, terms.side), cl_ord_id)
    except OrderRejected as exc:
        return exc
    return None


def _error_reason(errors: Any) -> OrdRejReason | None:
    """The reason the codes in a failed query name, or None when they name nothing specific (a
    timeout, a dropped connection): then the order fails for want of a reference price."""
    # The service passes each error as text, e.g. "Zenith error on Market:QuerySecurity: Symbol.NotFound
    # XS99.XSX": every dotted word is tried as a code, since the code need not come first.
    words = [w.rstrip(":;,") for e in errors for w in str(e).split() if "." in w and w[:1].isupper()]
    reason = ord_rej_reason_for_errors(words)
    return None if reason is OrdRejReason.OTHER else reason


class ReferenceCache:
    """``QuerySecurity`` answers per (market, code), fresh for ``ttl`` seconds of ``now``."""

    def __init__(self, ttl: float = REFERENCE_TTL, size: int = 4096) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: dict[tuple[str, str], tuple[float, Mapping[str, Any]]] = {}

    def get(self, market: str, code: str, now: float) -> Mapping[str, Any] | None:
        entry = self._entries.get((market, code))
        if entry is None or now - entry[0] > self._ttl:
            return None
        return entry[1]

    def put(self, market: str, code: str, security: Mapping[str, Any], now: float) -> None:
        """Remember an answer; one without any price (an error) is not kept."""
        if reference_price(security, Side.BUY) is None and reference_price(security, Side.SELL) is None:
            return
        if len(self._entries) >= self._size:
            self._entries.clear()  # bounded; a refill costs one query per symbol
        self._entries[(market, code)] = (now, security)
