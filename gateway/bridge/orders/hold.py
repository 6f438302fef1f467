"""Holding a terminal order status until the fills it covers are reported (finding F1). No I/O.

Zenith publishes ``Orders`` and ``Transactions`` on separate, unsynchronised topics (Zenith §5.3,
§8.37): an IOC that trades and expires can be published ``Expired, ExecutedQuantity 1006`` before
any of its three transactions. FIX (4.4 Vol. 4 Appendix D, e.g. D.29) wants the fills first
(OrdStatus 1 with LeavesQty = OrderQty - CumQty), then the terminal report with CumQty = all that
traded. So a terminal ``Orders`` update whose ``ExecutedQuantity`` exceeds what the reported fills
cover is *held* here; the service releases it when transactions make up the difference, or at the
deadline after fetching the order's transactions with ``QueryTransactions`` (then releases it
whatever came back: a fill is never dropped, a late one is still reported after the terminal).
The updates and transactions are :mod:`gateway.zenith.records` objects, parsed where they arrived.

Meanwhile the order is updated with a *working view* of the held update (same quantities and
terms, status not terminal), so acceptance and a replace published with it are still reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from gateway.bridge.orders.lifecycle import (
    HoldDo,
    HoldEvent,
    HoldState,
    OrderState,
    hold_move,
    is_terminal,
    zenith_status_ends_order,
)
from gateway.bridge.orders.model import OrderRecord
from gateway.zenith.records import Order, Transaction

__all__ = [
    "HOLD_TIMEOUT", "FillHold", "awaiting_fills", "transactions_in", "working_view",
]

_NO_DATE = datetime.min.replace(tzinfo=UTC)

HOLD_TIMEOUT = 2.0
"""Seconds to wait for the covering transactions before asking QueryTransactions for them."""

def awaiting_fills(record: OrderRecord, order: Order) -> bool:
    """True if ``order`` would end ``record`` before the fills its ExecutedQuantity counts (an
    update without ExecutedQuantity counts none)."""
    return (
        zenith_status_ends_order(order.status)
        and not is_terminal(record.state)
        and order.executed_quantity is not None
        and order.executed_quantity > record.cum_qty
    )


def working_view(record: OrderRecord, order: Order) -> Order:
    """``order`` with a non-terminal status (a suspended order stays suspended)."""
    status = "Suspended" if record.state is OrderState.SUSPENDED else "PartiallyFilled"
    return replace(order, status=status)


def transactions_in(txs: Iterable[Transaction], order_id: str | None = None) -> list[Transaction]:
    """QueryTransactions rows (unordered, Zenith §5.17) sorted by trade time (ties, and rows
    without one first, keep the server's order), only those of ``order_id`` when given."""
    mine = (x for x in txs if order_id is None or x.order_id == order_id)
    return sorted(mine, key=lambda x: x.trade_date or _NO_DATE)


@dataclass(slots=True)
class _Held:
    order: Order
    state: HoldState


class FillHold:
    """Held terminal updates by order RequestID, moved by the fill-hold table
    (:data:`gateway.bridge.orders.lifecycle.HOLD_TRANSITIONS`)."""

    def __init__(self, timeout: float = HOLD_TIMEOUT) -> None:
        self.timeout = timeout
        self._held: dict[str, _Held] = {}

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def state(self, request_id: str) -> HoldState:
        held = self._held.get(request_id)
        return held.state if held is not None else HoldState.NONE

    def step(self, request_id: str, event: HoldEvent, order: Order | None = None,
             cum_qty: Decimal | None = None) -> tuple[HoldDo, Order | None] | None:
        """Apply ``event`` to the order's hold; what to do and, on RELEASE, the held update. None
        when the table has no such move, or (FILLS_COVER) the fills do not cover it yet.
        ``order`` is the terminal update of TERMINAL_AHEAD, ``cum_qty`` the reported fills of
        FILLS_COVER."""
        held = self._held.get(request_id)
        move = hold_move(held.state if held is not None else HoldState.NONE, event)
        if move is None:
            return None
        after, do = move
        if event is HoldEvent.TERMINAL_AHEAD:
            assert order is not None
            if held is None:
                self._held[request_id] = _Held(order, after)
            else:
                held.order = order  # a later update supersedes; the deadline stays
            return do, None
        assert held is not None
        covered = held.order.executed_quantity or Decimal(0)
        if event is HoldEvent.FILLS_COVER and (cum_qty is None or cum_qty < covered):
            return None
        if after is HoldState.NONE:
            del self._held[request_id]
            return do, held.order
        held.state = after
        return do, None
