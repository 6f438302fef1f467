"""Applying Plxtra events to one order: record in, (record, ExecutionReports) out. No I/O.

This is the orders bridge's h11 ``Connection``: the service reads the :class:`OrderRecord` from
the store, calls one ``on_*`` function with the event and ``now``, writes the returned record and
sends the returned reports whose ExecID the store has not seen. Every state change goes through
:func:`gateway.bridge.orders.lifecycle.next_state`.

ExecIDs (ARCHITECTURE §7) are derived from Plxtra identity, never from a counter, so a restart
recomputes the same ID for the same event and the store's ``exec_already_sent`` drops it:

======================  =============================================
event                   ExecID
======================  =============================================
accepted (New)          ``{order_id}-0``
fill                    ``{order_id}-F{transaction ID}``
replaced                ``{order_id}-5-{amend RequestID}``
canceled / expired      ``{order_id}-4`` / ``{order_id}-C``
rejected after accept   ``{order_id}-8``
rejected by PlaceOrder  ``{place RequestID}-8``
pending cancel/replace  ``{order_id}-6-{cancel RequestID}`` / ``{order_id}-E-{amend RequestID}``
suspended / resumed     ``{order_id}-9-{UpdatedDate}`` / ``{order_id}-D-{UpdatedDate}``
======================  =============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from gateway.bridge.orders.lifecycle import (
    ZENITH_STATUS_EVENTS,
    OrderEvent,
    OrderState,
    PendingKind,
    is_terminal,
    next_state,
)
from gateway.bridge.orders.model import FixVersion, OrderRecord
from gateway.bridge.orders.reports import exec_type_for_fill, execution_report
from gateway.vocab.records import OutboundMessage, SessionKey
from gateway.vocab.tags import ExecType, OrdStatus
from gateway.zenith.records import Order, Transaction

__all__ = [
    "Outcome",
    "Report",
    "clear_pending",
    "errors_text",
    "fill_of",
    "on_amend_accepted",
    "on_order_lost",
    "on_order_update",
    "on_place_accepted",
    "on_place_rejected",
    "on_transaction",
    "pending_report",
]


@dataclass(slots=True, unsafe_hash=True)
class Report:
    """One message to deliver; ``exec_id`` set means "send at most once per session"."""

    exec_id: str | None
    message: OutboundMessage


@dataclass(slots=True, unsafe_hash=True)
class Outcome:
    record: OrderRecord
    reports: tuple[Report, ...] = ()


# Enum members read for every order event, bound once (a member read through its class costs a
# descriptor call on Python 3.11, about 100 ns; a module global about 20 ns).
_PENDING_NEW, _SUSPENDED = OrderState.PENDING_NEW, OrderState.SUSPENDED
_ACCEPTED, _REJECTED, _SUSPEND = OrderEvent.ACCEPTED, OrderEvent.REJECTED, OrderEvent.SUSPENDED
_REPLACE, _NEW = PendingKind.REPLACE, ExecType.NEW


def _oid(record: OrderRecord) -> str:
    return record.order_id or record.request_id


def _accept(record: OrderRecord, session: SessionKey, version: FixVersion, now: datetime,
            order_id: str | None = None) -> Outcome:
    """PENDING_NEW -> NEW with its ExecutionReport New; unchanged in any other state. ``order_id``
    links the Plxtra order ID in the same copy of the record (one copy per accepted order)."""
    if record.state is not _PENDING_NEW:
        return Outcome(record.evolve(order_id=order_id) if order_id is not None else record)
    oid = order_id or _oid(record)
    state = next_state(oid, record.state, _ACCEPTED)
    if order_id is not None:
        record = record.evolve(order_id=order_id, state=state)
    else:
        record = record.evolve(state=state)
    exec_id = f"{oid}-0"
    er = execution_report(session, version, record, exec_id=exec_id, exec_type=_NEW, now=now)
    return Outcome(record, (Report(exec_id, er),))


def on_place_accepted(
    record: OrderRecord, order: Order | None, session: SessionKey, version: FixVersion, now: datetime
) -> Outcome:
    """PlaceOrder answered ``Success``: link the Plxtra order ID and report New."""
    link = order.id if order is not None and record.order_id is None else None
    return _accept(record, session, version, now, link)


def on_place_rejected(
    record: OrderRecord, reason: str, text: str, session: SessionKey, version: FixVersion, now: datetime
) -> Outcome:
    """PlaceOrder refused (``Result`` != Success, an ``Error``, or no connection)."""
    if record.state is not OrderState.PENDING_NEW:
        return Outcome(record)
    record = record.evolve(state=next_state(_oid(record), record.state, OrderEvent.REJECTED))
    exec_id = f"{record.request_id}-8"
    er = execution_report(
        session,
        version,
        record,
        exec_id=exec_id,
        exec_type=ExecType.REJECTED,
        now=now,
        text=text,
        ord_rej_reason=reason,
    )
    return Outcome(record, (Report(exec_id, er),))


def fill_of(tx: Transaction) -> tuple[Decimal, Decimal] | None:
    """(quantity, price) of one execution: ``TotalQuantity`` and ``AveragePrice``, both "Always"
    for a Market-style transaction (Zenith §5.17). None when one is absent: nothing can be
    reported for it (the core logs and skips it; never a fill of 0)."""
    if tx.total_quantity is None or tx.average_price is None:
        return None
    return tx.total_quantity, tx.average_price


def on_transaction(
    record: OrderRecord, tx: Transaction, session: SessionKey, version: FixVersion, now: datetime
) -> Outcome:
    """One execution (Zenith §5.17): a partial fill or the fill, keyed by transaction ID. A
    transaction without quantity or price (:func:`fill_of`) changes nothing."""
    fill = fill_of(tx)
    if fill is None:
        return Outcome(record)
    qty, px = fill
    if record.order_id is None:
        record = record.evolve(order_id=tx.order_id)
    accepted = _accept(record, session, version, now)
    record = accepted.record
    cum_qty = record.cum_qty + qty
    cum_value = record.cum_value + qty * px
    done = cum_qty >= record.terms.order_qty
    event = OrderEvent.FILL if done else OrderEvent.PARTIAL_FILL
    # A trade reported after a cancel/expiry still happened: report it, keep the final state.
    terminal = is_terminal(record.state)
    state = record.state if terminal else next_state(_oid(record), record.state, event)
    record = record.evolve(cum_qty=cum_qty, cum_value=cum_value, state=state)
    exec_id = f"{_oid(record)}-F{tx.id}"
    er = execution_report(
        session,
        version,
        record,
        exec_id=exec_id,
        exec_type=exec_type_for_fill(version, state is OrderState.FILLED),
        now=now,
        last_qty=qty,
        last_px=px,
    )
    return Outcome(record, (*accepted.reports, Report(exec_id, er)))


_EXEC_TYPES = {
    OrderEvent.CANCELED: (ExecType.CANCELED, "4"),
    OrderEvent.EXPIRED: (ExecType.EXPIRED, "C"),
    OrderEvent.REJECTED: (ExecType.REJECTED, "8"),
}


def on_order_update(
    record: OrderRecord, order: Order, session: SessionKey, version: FixVersion, now: datetime
) -> Outcome:
    """An ``Orders`` publish or a ``QueryOrders`` row for this order (Zenith §5.11).

    Fills are reported from transactions, not from ``ExecutedQuantity``, so a status of
    ``PartialFill``/``Filled`` only confirms acceptance. Terminal statuses and suspensions are
    reported here. A status the table cannot place raises :class:`InvalidTransition`.
    """
    event = ZENITH_STATUS_EVENTS.get(order.status)
    state = record.state
    if (event is None and record.order_id is not None and state is not _PENDING_NEW
            and state is not _SUSPENDED and record.pending_kind is not _REPLACE):
        # The common update: a working order's status that moves nothing (fills come from
        # transactions), no replace it could show. What the steps below give, without them.
        return Outcome(record)
    if record.order_id is None:
        record = record.evolve(order_id=order.id)
    reports: list[Report] = []
    if _shows_pending_amend(record, order):
        # The amended order is published before our AmendOrder answer is read (Zenith §8.37 says
        # nothing about the order in which a client sees them): report the replace now, so that
        # fills that follow are measured against the new quantity.
        replaced = on_amend_accepted(record, session, version, now)
        record = replaced.record
        reports += replaced.reports
    if event is _REJECTED and record.state is _PENDING_NEW:
        record = record.evolve(state=next_state(_oid(record), record.state, event))
        exec_id = f"{_oid(record)}-8"
        er = execution_report(
            session,
            version,
            record,
            exec_id=exec_id,
            exec_type=ExecType.REJECTED,
            now=now,
            ord_rej_reason="99",
            text=f"Plxtra order status {order.status}",
        )
        return Outcome(record, (Report(exec_id, er),))
    accepted = _accept(record, session, version, now)
    record = accepted.record
    reports = [*accepted.reports, *reports]
    if is_terminal(record.state):
        return Outcome(record, tuple(reports))
    if event in _EXEC_TYPES:
        exec_type, suffix = _EXEC_TYPES[event]
        cl_ord_id = orig = None
        ours = record.pending_kind is PendingKind.CANCEL and record.pending_cl_ord_id
        if event is OrderEvent.CANCELED and ours:
            # Our cancel request: the ER answers its ClOrdID and chains to the order's current one.
            cl_ord_id, orig = record.pending_cl_ord_id, record.cl_ord_id
        record = record.evolve(state=next_state(_oid(record), record.state, event))
        if cl_ord_id is not None:
            record = record.evolve(
                cl_ord_id=cl_ord_id,
                orig_cl_ord_id=orig,
                pending_kind=None,
                pending_cl_ord_id=None,
                pending_request_id=None,
                pending_terms=None,
            )
        exec_id = f"{_oid(record)}-{suffix}"
        er = execution_report(
            session, version, record, exec_id=exec_id, exec_type=exec_type, now=now, orig_cl_ord_id=orig
        )
        reports.append(Report(exec_id, er))
    elif event is _SUSPEND and record.state is not _SUSPENDED:
        record = record.evolve(state=next_state(_oid(record), record.state, event))
        exec_id = f"{_oid(record)}-9-{order.updated_text}"
        reports.append(
            Report(
                exec_id,
                execution_report(
                    session, version, record, exec_id=exec_id, exec_type=ExecType.SUSPENDED, now=now
                ),
            )
        )
    elif event is None and record.state is _SUSPENDED:
        resume = OrderEvent.RESUMED_PARTIAL if record.cum_qty else OrderEvent.RESUMED
        record = record.evolve(state=next_state(_oid(record), record.state, resume))
        exec_id = f"{_oid(record)}-D-{order.updated_text}"
        reports.append(
            Report(
                exec_id,
                execution_report(
                    session, version, record, exec_id=exec_id, exec_type=ExecType.RESTATED, now=now
                ),
            )
        )
    return Outcome(record, tuple(reports))


ORDER_LOST_TEXT = "order no longer known to Plxtra"


def on_order_lost(record: OrderRecord, session: SessionKey, version: FixVersion, now: datetime) -> Outcome:
    """Reconciliation found that Plxtra no longer knows a working order (e.g. an end-of-day purge,
    or a venue restarted without its state): report it Canceled, unsolicited, with the reason in
    Text, so that status and cancel answers agree with what Plxtra will say (finding F2)."""
    if is_terminal(record.state) or record.order_id is None:
        return Outcome(record)
    record = clear_pending(record).evolve(
        state=next_state(_oid(record), record.state, OrderEvent.CANCELED))
    exec_id = f"{_oid(record)}-4"
    er = execution_report(session, version, record, exec_id=exec_id, exec_type=ExecType.CANCELED, now=now,
                          text=ORDER_LOST_TEXT)
    return Outcome(record, (Report(exec_id, er),))


def _shows_pending_amend(record: OrderRecord, order: Order) -> bool:
    """True if ``order`` (an Orders publish) already carries the terms of our pending replace."""
    terms = record.pending_terms
    quantity = order.details.quantity
    if record.pending_kind is not _REPLACE or terms is None or quantity is None:
        return False
    visible = terms.max_floor if terms.max_floor is not None else terms.order_qty
    return (
        quantity == visible
        and order.details.limit_price == terms.price
        and (
            record.terms.order_qty != terms.order_qty
            or record.terms.price != terms.price
            or record.terms.max_floor != terms.max_floor
        )
    )


def on_amend_accepted(
    record: OrderRecord, session: SessionKey, version: FixVersion, now: datetime
) -> Outcome:
    """AmendOrder answered ``Success``: the pending terms become the order's, ClOrdID chains."""
    if (record.pending_kind is not PendingKind.REPLACE or record.pending_terms is None
            or record.pending_cl_ord_id is None):
        return Outcome(record)
    request_id = record.pending_request_id
    old_cl = record.cl_ord_id
    state = record.state
    if not is_terminal(state):
        state = next_state(_oid(record), state, OrderEvent.REPLACED)
    record = record.evolve(
        terms=record.pending_terms,
        cl_ord_id=record.pending_cl_ord_id,
        orig_cl_ord_id=old_cl,
        state=state,
        pending_kind=None,
        pending_cl_ord_id=None,
        pending_request_id=None,
        pending_terms=None,
    )
    if record.cum_qty >= record.terms.order_qty and not is_terminal(record.state):
        record = record.evolve(state=next_state(_oid(record), record.state, OrderEvent.FILL))
    exec_id = f"{_oid(record)}-5-{request_id}"
    # FIX 4.2 reports the replacement itself as OrdStatus 5; 4.4+ report the order's own status.
    ord_status = OrdStatus.REPLACED if version is FixVersion.FIX42 and not is_terminal(record.state) else None
    er = execution_report(
        session,
        version,
        record,
        exec_id=exec_id,
        exec_type=ExecType.REPLACED,
        now=now,
        orig_cl_ord_id=old_cl,
        ord_status=ord_status,
    )
    return Outcome(record, (Report(exec_id, er),))


def clear_pending(record: OrderRecord) -> OrderRecord:
    return record.evolve(
        pending_kind=None, pending_cl_ord_id=None, pending_request_id=None, pending_terms=None
    )


def errors_text(result: str, errors: Sequence[str]) -> str:
    return f"Plxtra {result}: {' '.join(errors)}" if errors else f"Plxtra {result}"


def pending_report(
    record: OrderRecord, session: SessionKey, version: FixVersion, now: datetime
) -> Report | None:
    """ExecutionReport Pending Cancel (F) / Pending Replace (G) for the request just marked pending
    on ``record``, sent before Plxtra answers (FIX 4.4 Vol 4, D.1 and D.2 order state tables).

    OrdStatus 6 / E with ExecType 6 / E (FIX 4.2: the same values, ExecTransType 0); ClOrdID is
    the request's, OrigClOrdID the order's current one; quantities are the order's as they are.
    """
    kind, cl_ord_id, request_id = record.pending_kind, record.pending_cl_ord_id, record.pending_request_id
    if kind is None or cl_ord_id is None or request_id is None:
        return None
    exec_type = ExecType.PENDING_CANCEL if kind is PendingKind.CANCEL else ExecType.PENDING_REPLACE
    exec_id = f"{_oid(record)}-{exec_type.value}-{request_id}"
    status = OrdStatus.PENDING_CANCEL if kind is PendingKind.CANCEL else OrdStatus.PENDING_REPLACE
    er = execution_report(session, version, record, exec_id=exec_id, exec_type=exec_type, now=now,
                          ord_status=status, cl_ord_id=cl_ord_id, orig_cl_ord_id=record.cl_ord_id)
    return Report(exec_id, er)
