"""The whole order lifecycle as tables, in one file (STYLE.md: h11 ``_state.py``). No I/O.

Three tables, each a dict whose keys are (state, event) and whose values are the next state (and,
for the two side machines, what the gateway must do). Code never encodes a move in an if-chain:
:mod:`gateway.bridge.orders.flow` and :mod:`gateway.bridge.orders.core` look the move up here, and
``python -m gateway.bridge.orders.lifecycle --markdown`` writes ``docs/order-lifecycle.md`` from
these same tables (a test fails when the committed page differs).

1. **OrdStatus** (``TRANSITIONS``): the FIX OrdStatus(39) an order reports, moved by what Plxtra
   tells us happened to it.

   * An order starts ``PENDING_NEW`` when the PlaceOrder request leaves; it becomes ``NEW`` on the
     Zenith acknowledgement (``Result`` Success) or on its first ``Orders`` publish, whichever
     comes first (Zenith §5.3: the two are not synchronised).
   * Fills come from the ``Transactions`` feed (one transaction per execution, Zenith §5.17); a
     fill leaves the order ``PARTIALLY_FILLED`` until CumQty reaches OrderQty, then ``FILLED``.
     A fill may arrive before the acknowledgement, so ``PENDING_NEW`` accepts fills too.
   * Replacing keeps the fill state (a replaced partially filled order is still partially filled).
   * ``FILLED``, ``CANCELED``, ``REJECTED`` and ``EXPIRED`` are terminal: nothing leaves them.
   * ``SUSPENDED`` (Zenith status ``Suspended``, symbol halted while resting) can be cancelled,
     expire, or resume (to ``NEW`` or ``PARTIALLY_FILLED`` according to its fills).

2. **Pending cancel / replace** (``PENDING_TRANSITIONS``): at most one OrderCancelRequest (F) or
   OrderCancelReplaceRequest (G) per order is with Plxtra at a time; its answer, its timeout, and
   the order's own feed settle it.

3. **Fill hold** (``HOLD_TRANSITIONS``): a terminal ``Orders`` update whose ExecutedQuantity is
   ahead of the fills reported so far is held (the order is shown working meanwhile) until the
   covering transactions arrive, or until a deadline after which the order's transactions are
   fetched and the held update is applied whatever came back (finding F1).

A move that is not in the OrdStatus table raises :class:`InvalidTransition` naming order, state and
event; the two side tables answer None for a move they do not have (the event is then stale).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from enum import Enum, StrEnum
from typing import Any

from gateway.bridge.errors import InvalidTransition

__all__ = [
    "HOLD_TRANSITIONS",
    "NO_PENDING",
    "PENDING_TRANSITIONS",
    "TERMINAL",
    "TRANSITIONS",
    "ZENITH_STATUS_EVENTS",
    "HoldDo",
    "HoldEvent",
    "HoldState",
    "OrderEvent",
    "OrderState",
    "PendingDo",
    "PendingEvent",
    "PendingKind",
    "hold_move",
    "is_terminal",
    "markdown",
    "next_state",
    "pending_move",
    "transition_table",
    "zenith_status_ends_order",
]


# --- 1. OrdStatus --------------------------------------------------------------------------------


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

# Derived from the table, not listed by hand: a state is terminal when no move leaves it.
TERMINAL: frozenset[OrderState] = frozenset(s for s in OrderState if not any(k[0] is s for k in TRANSITIONS))
"""States with no way out: cancel/replace requests against them are 'too late'."""


def is_terminal(state: OrderState) -> bool:
    """The one answer to "is this order finished?" (LeavesQty 0, too late to cancel, not working)."""
    return state in TERMINAL


def next_state(order: str, state: OrderState, event: OrderEvent) -> OrderState:
    """The state after ``event``; raises :class:`InvalidTransition` if the table has no move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(order, state.name, event.name) from None


ZENITH_STATUS_EVENTS: dict[str, OrderEvent] = {
    "Cancelled": _E.CANCELED,
    "Canceled": _E.CANCELED,
    "Expired": _E.EXPIRED,
    "Rejected": _E.REJECTED,
    "Suspended": _E.SUSPENDED,
}
"""Zenith Order ``Status`` values (§5.2) that move the OrdStatus table; any other status only
confirms acceptance (fills are counted from transactions, never from ExecutedQuantity)."""


def _ends_order(status: str) -> bool:
    event = ZENITH_STATUS_EVENTS.get(status)
    return event is not None and is_terminal(TRANSITIONS.get((_S.NEW, event), _S.NEW))


# Read for every Orders update: the answer of the tables above, worked out once.
_ENDING_STATUSES = frozenset(status for status in ZENITH_STATUS_EVENTS if _ends_order(status))


def zenith_status_ends_order(status: str) -> bool:
    """True if a working order that Plxtra publishes with ``status`` becomes terminal."""
    return status in _ENDING_STATUSES


# --- 2. pending cancel / replace -----------------------------------------------------------------


class PendingKind(StrEnum):
    """The request with Plxtra for an order (value = its FIX MsgType, as stored in order rows)."""

    CANCEL = "F"
    REPLACE = "G"


class PendingEvent(StrEnum):
    ACCEPTED = "accepted"  # the F/G passed its checks and is decided accepted
    STATUS_DUE = "status_due"  # Plxtra has not answered within pending_status_after
    ANSWER_SUCCESS = "answer_success"  # AmendOrder / CancelOrder Result Success
    ANSWER_REFUSED = "answer_refused"  # Result != Success, or an Error container
    ANSWER_UNKNOWN = "answer_unknown"  # timeout / connection lost: it may have been executed
    RETRY_DUE = "retry_due"  # the back-off after an unknown answer is over
    REPLACE_SEEN = "replace_seen"  # an Orders publish already carries the new terms
    ORDER_CANCELED = "order_canceled"  # the order's feed says Cancelled
    ORDER_ENDED = "order_ended"  # the order filled, expired or was rejected meanwhile


class PendingDo(StrEnum):
    """What the gateway does on a pending move (besides recording the new pending state)."""

    CALL = "call Plxtra (AmendOrder / CancelOrder, RequestID fixed when accepted)"
    REPORT_PENDING = "ER Pending Cancel / Pending Replace (its ExecID is fixed: at most once)"
    NOTHING = "nothing: the Orders publish that follows reports the outcome"
    REPORT_REPLACED = "ER Replaced; the new ClOrdID names the order"
    REPORT_CANCELED = "ER Canceled answering the F's ClOrdID"
    CANCEL_REJECT = "OrderCancelReject (9) with Plxtra's reason"
    RETRY_LATER = "send the same request again after a back-off (never a reject: outcome unknown)"
    TOO_LATE = "OrderCancelReject (9) too late to cancel"


class _NoPending(Enum):
    NONE = "none"


NO_PENDING = _NoPending.NONE
PendingState = PendingKind | _NoPending

_K, _P, _D = PendingKind, PendingEvent, PendingDo
_PENDING_ROWS: list[tuple[PendingState, PendingEvent, PendingState, PendingDo]] = [
    (NO_PENDING, _P.ACCEPTED, _K.CANCEL, _D.CALL),
    (NO_PENDING, _P.ACCEPTED, _K.REPLACE, _D.CALL),
]
PENDING_TRANSITIONS: dict[tuple[PendingState, PendingEvent], tuple[PendingState, PendingDo]] = {}
for _kind in PendingKind:
    PENDING_TRANSITIONS.update({
        (_kind, _P.STATUS_DUE): (_kind, _D.REPORT_PENDING),
        (_kind, _P.ANSWER_REFUSED): (NO_PENDING, _D.CANCEL_REJECT),
        (_kind, _P.ANSWER_UNKNOWN): (_kind, _D.RETRY_LATER),
        (_kind, _P.RETRY_DUE): (_kind, _D.CALL),
        (_kind, _P.ORDER_ENDED): (NO_PENDING, _D.TOO_LATE),
    })
PENDING_TRANSITIONS.update({
    (_K.CANCEL, _P.ANSWER_SUCCESS): (_K.CANCEL, _D.NOTHING),
    (_K.CANCEL, _P.ORDER_CANCELED): (NO_PENDING, _D.REPORT_CANCELED),
    (_K.REPLACE, _P.ANSWER_SUCCESS): (NO_PENDING, _D.REPORT_REPLACED),
    (_K.REPLACE, _P.REPLACE_SEEN): (NO_PENDING, _D.REPORT_REPLACED),
    (_K.REPLACE, _P.ORDER_CANCELED): (NO_PENDING, _D.TOO_LATE),
})
"""(pending, event) -> (pending after, what to do). ACCEPTED from none is special-cased by kind in
:func:`pending_move` (the request names its kind); a request while one is pending is refused before
it is accepted (CxlRejReason 3, :func:`gateway.bridge.orders.queries.check_amendable`)."""


def pending_move(pending: PendingKind | None, event: PendingEvent,
                 kind: PendingKind | None = None) -> tuple[PendingKind | None, PendingDo] | None:
    """The pending state after ``event`` and what to do; None when the table has no such move
    (a stale event: e.g. the answer to a request the feed settled already). ``kind`` names the
    request for ``ACCEPTED``."""
    state: PendingState = NO_PENDING if pending is None else pending
    if event is _P.ACCEPTED:
        if state is not NO_PENDING or kind is None:
            return None
        return kind, _D.CALL
    move = PENDING_TRANSITIONS.get((state, event))
    if move is None:
        return None
    after, do = move
    return (None if after is NO_PENDING else after), do


# --- 3. fill hold --------------------------------------------------------------------------------


class HoldState(StrEnum):
    NONE = "none"  # terminal updates are applied as they come
    HELD = "held"  # a terminal update waits for its fills; the order shows a working view
    FETCHING = "fetching"  # the deadline passed: QueryTransactions for the order is out


class HoldEvent(StrEnum):
    TERMINAL_AHEAD = "terminal_ahead"  # terminal Orders update, ExecutedQuantity > reported CumQty
    FILLS_COVER = "fills_cover"  # reported CumQty reached the held ExecutedQuantity
    DEADLINE = "deadline"  # HOLD_TIMEOUT passed without the covering fills
    FETCHED = "fetched"  # QueryTransactions answered (or failed); its fills are applied


class HoldDo(StrEnum):
    HOLD = "keep the update, apply a working view of it, set the deadline timer"
    SUPERSEDE = "keep the later update instead (the deadline stays)"
    RELEASE = "apply the held terminal update, cancel the timer"
    FETCH = "QueryTransactions for the order (its fills go through the exactly-once path)"


_H, _HE, _HD = HoldState, HoldEvent, HoldDo
HOLD_TRANSITIONS: dict[tuple[HoldState, HoldEvent], tuple[HoldState, HoldDo]] = {
    (_H.NONE, _HE.TERMINAL_AHEAD): (_H.HELD, _HD.HOLD),
    (_H.HELD, _HE.TERMINAL_AHEAD): (_H.HELD, _HD.SUPERSEDE),
    (_H.HELD, _HE.FILLS_COVER): (_H.NONE, _HD.RELEASE),
    (_H.HELD, _HE.DEADLINE): (_H.FETCHING, _HD.FETCH),
    (_H.FETCHING, _HE.TERMINAL_AHEAD): (_H.FETCHING, _HD.SUPERSEDE),
    (_H.FETCHING, _HE.FILLS_COVER): (_H.NONE, _HD.RELEASE),
    (_H.FETCHING, _HE.FETCHED): (_H.NONE, _HD.RELEASE),
}


def hold_move(state: HoldState, event: HoldEvent) -> tuple[HoldState, HoldDo] | None:
    """The hold state after ``event`` and what to do; None if the event is stale here."""
    return HOLD_TRANSITIONS.get((state, event))


# --- documentation drawn from the tables ------------------------------------------------------------


def transition_table() -> str:
    """The OrdStatus table as Markdown (rows: states, columns: events)."""
    events = list(OrderEvent)
    lines = ["| state \\ event | " + " | ".join(e.value for e in events) + " |",
             "|---" * (len(events) + 1) + "|"]
    for state in OrderState:
        cells = [TRANSITIONS[(state, e)].name if (state, e) in TRANSITIONS else "" for e in events]
        lines.append(f"| {state.name} ({state.value}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _name(state: object) -> str:
    if state is NO_PENDING:
        return "none"
    if isinstance(state, PendingKind):
        return f"{state.name} ({state.value})"
    return str(getattr(state, "name", state))


def _rows(moves: Iterable[tuple[object, object, object, object]]) -> list[str]:
    lines = ["| state | event | next state | the gateway does |", "|---|---|---|---|"]
    lines += [f"| {_name(a)} | {getattr(e, 'value', e)} | {_name(b)} | {getattr(d, 'value', d)} |"
              for a, e, b, d in moves]
    return lines


def _table_moves(table: Mapping[Any, tuple[object, object]]) -> list[tuple[object, object, object, object]]:
    return [(a, e, b, d) for (a, e), (b, d) in table.items()]


def _first_line(obj: object) -> str:
    text = " ".join((obj.__doc__ or "").strip().split("\n\n")[0].split())
    return text.replace("``", "`").replace(":class:", "")  # reStructuredText to Markdown


def _order_path() -> list[str]:
    """The events and actions of :mod:`gateway.bridge.orders.core`, from their docstrings."""
    from gateway.bridge.orders import core

    return [
        "## The order path in one page",
        "",
        "`gateway/bridge/orders/core.py` takes every order decision: `OrderCore.handle(event, now)`",
        "returns the actions its caller must take, in order, and does no I/O (no socket, clock, store",
        "write or asyncio). `gateway/app/orders_service.py` is the executor: it turns what happens on",
        "the loop into events, calls `handle` synchronously (no task or lock per order) and executes",
        "the actions. A `CallZenith` goes out through the Zenith client's callback API",
        "(`send_request`, no task or future per call): its answer is fed back as a `ZenithAnswer`",
        "straight from the client's dispatch of the frame, a timeout from the request's own timer.",
        "Every Zenith payload is parsed once where it arrives, into the one payload model",
        "(`gateway/zenith/records.py`: `Order`, `Transaction`, `OrderActionResponse`); a malformed",
        "object is logged and skipped, never read as zeros.",
        "",
        "Durability (`gateway/store/orders_store.py`): a `Record` changes the store's state in memory",
        "at once and adds one record to the turn's journal block; at the end of the loop turn the",
        "block goes to the append-only write-ahead journal `<store>.journal` in one `write()` (group",
        "commit). The reports a `Record` carries, `SendFix` messages and `CallZenith` requests leave",
        "only after that write (`Store.after_commit`), so no answer or PlaceOrder",
        "leaves before the decision behind it is durable (against kill -9; `fsync` adds power loss).",
        "The executor commits the first event of a loop turn at once (`Store.commit_first`), so its",
        "PlaceOrder or ExecutionReport does not wait a loop turn; the rest of a burst is committed",
        "together at the end of the turn. Timers (`SetTimer`, `CancelTimer`) run after the event's",
        "sends and share one loop timer (`gateway/app/timer_queue.py`). A delivery confirmation (a",
        "report handed to QuickFIX) rides the next commit or the apply tick: after a kill -9 up to",
        "0.1 s of reports go out again with PossResend=Y and the same ExecIDs, which partners drop.",
        "The SQLite database is brought up to date from the journal later, never before an answer:",
        "every 0.1 s (waiting up to 10 ms while a PlaceOrder answer is due) the loop applies what was",
        "journaled, by its net effect per row, in slices of",
        "at most 600 records (a thread does it with `gateway.store_apply: thread`), and records the",
        "last applied sequence number with each slice; a restart loads the",
        "database, applies the journal records above that mark (a torn tail is dropped), replays",
        "undecided inbound requests, then reconciles with Plxtra. The core reads state through",
        "`OrderReads` (the executor's view of the store and its order cache).",
        "",
        "| event | meaning |",
        "|---|---|",
        *[f"| `{e.__name__}` | {_first_line(e)} |" for e in core.EVENTS],
        "",
        "| action | the executor |",
        "|---|---|",
        *[f"| `{a.__name__}` | {_first_line(a)} |" for a in core.ACTIONS],
        "",
    ]


def markdown() -> str:
    """``docs/order-lifecycle.md``: every table of this module, as the code uses it."""
    out = [
        "# Order lifecycle",
        "",
        "Generated from `gateway/bridge/orders/lifecycle.py` by",
        "`python -m gateway.bridge.orders.lifecycle --markdown > docs/order-lifecycle.md`;",
        "do not edit by hand (a test compares this page with the tables).",
        "",
        *_order_path(),
        "## 1. OrdStatus (39)",
        "",
        "Rows are the states an order reports, columns what Plxtra tells us; an empty cell is a move",
        "the gateway refuses (`InvalidTransition`). Terminal states (no move out): "
        + ", ".join(f"{s.name} ({s.value})" for s in OrderState if s in TERMINAL) + ".",
        "",
        transition_table().rstrip("\n"),
        "",
        "Zenith order statuses that move the table (any other status only confirms acceptance):",
        "",
        "| Zenith Status | event |",
        "|---|---|",
        *[f"| {status} | {event.value} |" for status, event in ZENITH_STATUS_EVENTS.items()],
        "",
        "## 2. Pending cancel / replace",
        "",
        "At most one F or G per order is with Plxtra; a second one is refused with CxlRejReason 3.",
        "The RequestID of the AmendOrder / CancelOrder is fixed when the request is accepted, so a",
        "request sent again after a timeout is answered by Plxtra with its first result.",
        "",
        *_rows([(a, e, b, d) for a, e, b, d in _PENDING_ROWS]),
        *_rows(_table_moves(PENDING_TRANSITIONS))[2:],
        "",
        "## 3. Fill hold (finding F1)",
        "",
        "A terminal Orders update whose ExecutedQuantity is ahead of the fills reported so far waits",
        "for its transactions, so that fills are reported before the terminal report.",
        "",
        *_rows(_table_moves(HOLD_TRANSITIONS)),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.bridge.orders.lifecycle")
    parser.add_argument("--markdown", action="store_true", help="print docs/order-lifecycle.md")
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help()
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
