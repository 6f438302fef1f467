"""Per-order state machine, as a table (STYLE.md: h11 ``_state.py``).

States are the FIX OrdStatus(39) values an order can report; events are what Plxtra tells us
happened to it. Rules the table encodes:

* An order starts ``PENDING_NEW`` when the PlaceOrder request leaves; it becomes ``NEW`` on the
  Zenith acknowledgement (``Result`` Success) or on its first ``Orders`` publish, whichever
  comes first (Zenith §5.3: the two are not synchronised).
* Fills come from the ``Transactions`` feed (one transaction per execution, Zenith §5.17);
  a fill leaves the order ``PARTIALLY_FILLED`` until CumQty reaches OrderQty, then ``FILLED``.
  A fill may arrive before the acknowledgement, so ``PENDING_NEW`` accepts fills too.
* Replacing keeps the fill state (a replaced partially filled order is still partially filled).
* ``FILLED``, ``CANCELED``, ``REJECTED`` and ``EXPIRED`` are terminal: nothing leaves them.
* ``SUSPENDED`` (Zenith status ``Suspended``, symbol halted while resting) can be cancelled,
  expire, or resume (to ``NEW`` or ``PARTIALLY_FILLED`` according to its fills).

A move that is not in the table raises :class:`InvalidTransition` naming order, state and event.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.bridge.errors import InvalidTransition

__all__ = ["TERMINAL", "TRANSITIONS", "OrderEvent", "OrderState", "next_state", "transition_table"]


class OrderState(StrEnum):
    """FIX OrdStatus values the gateway reports (value = wire character)."""

    PENDING_NEW = "A"
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REJECTED = "8"
    SUSPENDED = "9"
    EXPIRED = "C"


class OrderEvent(StrEnum):
    ACCEPTED = "accepted"  # PlaceOrder Success / first Orders publish
    REJECTED = "rejected"  # PlaceOrder refused, or Zenith status Rejected
    PARTIAL_FILL = "partial_fill"  # a transaction leaving quantity open
    FILL = "fill"  # a transaction completing the order
    REPLACED = "replaced"  # AmendOrder Success
    CANCELED = "canceled"  # Zenith status Cancelled
    EXPIRED = "expired"  # Zenith status Expired (day end, IOC/FOK remainder)
    SUSPENDED = "suspended"  # Zenith status Suspended
    RESUMED = "resumed"  # back on market after a suspension, no fills yet
    RESUMED_PARTIAL = "resumed_partial"  # back on market after a suspension, with fills


_S = OrderState
_E = OrderEvent

TRANSITIONS: dict[tuple[OrderState, OrderEvent], OrderState] = {
    (_S.PENDING_NEW, _E.ACCEPTED): _S.NEW,
    (_S.PENDING_NEW, _E.REJECTED): _S.REJECTED,
    (_S.PENDING_NEW, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.PENDING_NEW, _E.FILL): _S.FILLED,
    (_S.PENDING_NEW, _E.CANCELED): _S.CANCELED,
    (_S.PENDING_NEW, _E.EXPIRED): _S.EXPIRED,
    (_S.PENDING_NEW, _E.SUSPENDED): _S.SUSPENDED,
    (_S.NEW, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.NEW, _E.FILL): _S.FILLED,
    (_S.NEW, _E.REPLACED): _S.NEW,
    (_S.NEW, _E.CANCELED): _S.CANCELED,
    (_S.NEW, _E.EXPIRED): _S.EXPIRED,
    (_S.NEW, _E.REJECTED): _S.REJECTED,
    (_S.NEW, _E.SUSPENDED): _S.SUSPENDED,
    (_S.PARTIALLY_FILLED, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, _E.FILL): _S.FILLED,
    (_S.PARTIALLY_FILLED, _E.REPLACED): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, _E.CANCELED): _S.CANCELED,
    (_S.PARTIALLY_FILLED, _E.EXPIRED): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, _E.SUSPENDED): _S.SUSPENDED,
    (_S.SUSPENDED, _E.RESUMED): _S.NEW,
    (_S.SUSPENDED, _E.RESUMED_PARTIAL): _S.PARTIALLY_FILLED,
    (_S.SUSPENDED, _E.CANCELED): _S.CANCELED,
    (_S.SUSPENDED, _E.EXPIRED): _S.EXPIRED,
    (_S.SUSPENDED, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.SUSPENDED, _E.FILL): _S.FILLED,
}

TERMINAL: frozenset[OrderState] = frozenset({_S.FILLED, _S.CANCELED, _S.REJECTED, _S.EXPIRED})
"""States with no way out: cancel/replace requests against them are 'too late'."""


def next_state(order: str, state: OrderState, event: OrderEvent) -> OrderState:
    """The state after ``event``; raises :class:`InvalidTransition` if the table has no move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(order, state.name, event.name) from None


def transition_table() -> str:
    """The table as Markdown (rows: states, columns: events), for docs drawn from the code itself."""
    events = list(OrderEvent)
    lines = ["| state \\ event | " + " | ".join(e.value for e in events) + " |",
             "|---" * (len(events) + 1) + "|"]
    for state in OrderState:
        cells = [TRANSITIONS[(state, e)].name if (state, e) in TRANSITIONS else "" for e in events]
        lines.append(f"| {state.name} ({state.value}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
