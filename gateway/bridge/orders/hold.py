"""Holding a terminal order status until the fills it covers are reported (finding F1). No I/O.

Zenith publishes ``Orders`` and ``Transactions`` on separate, unsynchronised topics (Zenith §5.3,
§8.37): an IOC that trades and expires can be published ``Expired, ExecutedQuantity 1006`` before
any of its three transactions. FIX (4.4 Vol. 4 Appendix D, e.g. D.29) wants the fills first
(OrdStatus 1 with LeavesQty = OrderQty - CumQty), then the terminal report with CumQty = all that
traded. So a terminal ``Orders`` update whose ``ExecutedQuantity`` exceeds what the reported fills
cover is *held* here; the service releases it when transactions make up the difference, or at the
deadline after fetching the order's transactions with ``QueryTransactions`` (then releases it
whatever came back: a fill is never dropped, a late one is still reported after the terminal).

Meanwhile the order is updated with a *working view* of the held update (same quantities and
terms, status not terminal), so acceptance and a replace published with it are still reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.bridge.orders.lifecycle import OrderState, is_terminal, zenith_status_ends_order
from gateway.bridge.orders.model import OrderRecord, PlxOrder, PlxTransaction

__all__ = [
    "HOLD_TIMEOUT", "FillHold", "awaiting_fills", "transactions_in", "working_view",
]

HOLD_TIMEOUT = 2.0
"""Seconds to wait for the covering transactions before asking QueryTransactions for them."""

def awaiting_fills(record: OrderRecord, order: PlxOrder) -> bool:
    """True if ``order`` would end ``record`` before the fills its ExecutedQuantity counts."""
    return (
        zenith_status_ends_order(order.status)
        and not is_terminal(record.state)
        and order.executed_quantity > record.cum_qty
    )


def working_view(record: OrderRecord, order: PlxOrder) -> PlxOrder:
    """``order`` with a non-terminal status (a suspended order stays suspended)."""
    status = "Suspended" if record.state is OrderState.SUSPENDED else "PartiallyFilled"
    return replace(order, status=status)


def transactions_in(
    rows: Iterable[Mapping[str, Any]] | None, order_id: str | None = None
) -> list[PlxTransaction]:
    """QueryTransactions rows (unordered, Zenith §5.17) as transactions sorted by trade time (ties
    keep the server's order), only those of ``order_id`` when given."""
    txs = (PlxTransaction.from_json(x) for x in rows or ())
    mine = (x for x in txs if order_id is None or x.order_id == order_id)
    return sorted(mine, key=lambda x: x.trade_date)


@dataclass(slots=True)
class _Held:
    order: PlxOrder
    deadline: float


class FillHold:
    """Held terminal updates by order RequestID, each with a deadline (monotonic seconds)."""

    def __init__(self, timeout: float = HOLD_TIMEOUT) -> None:
        self.timeout = timeout
        self._held: dict[str, _Held] = {}

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, request_id: str, order: PlxOrder, now: float) -> bool:
        """Hold (or replace the held) ``order``; True if newly held (the caller arms a timer)."""
        held = self._held.get(request_id)
        if held is not None:
            held.order = order  # a later update supersedes; the deadline stays
            return False
        self._held[request_id] = _Held(order, now + self.timeout)
        return True

    def covered(self, record: OrderRecord) -> PlxOrder | None:
        """The held update, removed, once ``record``'s fills cover its ExecutedQuantity."""
        held = self._held.get(record.request_id)
        if held is None or record.cum_qty < held.order.executed_quantity:
            return None
        del self._held[record.request_id]
        return held.order

    def release(self, request_id: str) -> PlxOrder | None:
        """The held update, removed, whatever the fills (deadline passed)."""
        held = self._held.pop(request_id, None)
        return held.order if held is not None else None

    def due(self, now: float) -> list[str]:
        return [rid for rid, h in self._held.items() if h.deadline <= now]
