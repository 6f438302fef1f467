"""Errors of the bridge (translation layer).

    GatewayError
    └── BridgeError
        ├── BridgeRejection            the partner asked for something we refuse; carries the FIX answer
        │   ├── OrderRejected          answer: ExecutionReport OrdStatus=8 with OrdRejReason(103) + Text(58)
        │   ├── CancelRejected         answer: OrderCancelReject(9) with CxlRejReason(102) + Text(58)
        │   └── BusinessRejected       answer: BusinessMessageReject(j) with BusinessRejectReason(380)
        └── InvalidTransition          an order event that the state table does not allow (a bug or a
                                       venue report we cannot place); names order, state and event

Like h11's ``error_status_hint``, every rejection says which FIX message answers it; the service turns
that into an outbound record with :mod:`gateway.bridge.orders.reports`.
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = [
    "BridgeError",
    "BridgeRejection",
    "BusinessRejected",
    "CancelRejected",
    "InvalidTransition",
    "OrderRejected",
]


class BridgeError(GatewayError):
    """Base of every error raised by :mod:`gateway.bridge`."""


class BridgeRejection(BridgeError):
    """A request that must be answered with a FIX rejection rather than acted on.

    ``reason`` is the reject reason as a :mod:`gateway.vocab.tags` enum member (or its
    wire value); ``text`` goes to Text(58) verbatim.
    """

    def __init__(self, reason: str, text: str, *, cl_ord_id: str | None = None) -> None:
        super().__init__(text)
        self.reason = str(reason)
        self.text = text
        self.cl_ord_id = cl_ord_id


class OrderRejected(BridgeRejection):
    """Answer with ExecutionReport ExecType=8 / OrdStatus=8 (OrdRejReason = ``reason``)."""


class CancelRejected(BridgeRejection):
    """Answer with OrderCancelReject(9) (CxlRejReason = ``reason``)."""


class BusinessRejected(BridgeRejection):
    """Answer with BusinessMessageReject(j) (BusinessRejectReason = ``reason``)."""


class InvalidTransition(BridgeError):
    """The per-order state table has no move for (state, event)."""

    def __init__(self, order: str, state: str, event: str) -> None:
        super().__init__(f"order {order}: no transition from state {state} on event {event}")
        self.order = order
        self.state = state
        self.event = event
