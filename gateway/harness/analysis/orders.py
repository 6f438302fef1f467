"""Order lifecycles rebuilt from a log: one :class:`Order` per ClOrdID chain. No I/O.

Feed every record of the logs (both directions, any number of sessions) to
:meth:`OrderBook.feed`; then read ``book.orders``. Requests (NewOrderSingle D, OrderCancelReplaceRequest
G, OrderCancelRequest F, OrderStatusRequest H) and answers (ExecutionReport 8, OrderCancelReject 9,
BusinessMessageReject j) are tied together by ClOrdID(11), OrigClOrdID(41) and OrderID(37), scoped by
session (ClOrdID is unique per session only: FIX 4.4 Vol. 4, "ClOrdID").

Inconsistencies are flagged on the order as text (``order.issues``), with the rule from FIX 4.4 Vol. 4
("Order State Change Matrices", "ExecutionReport"): CumQty(14) never goes down; LeavesQty(151) +
CumQty(14) = OrderQty(38) while the order is live; no fill after a terminal OrdStatus (Filled,
Canceled, Rejected, Expired); an ExecID(17) is not reused unless the report is a repeat (PossResend(97)
or PossDupFlag(43) = Y); every answer names a ClOrdID that was sent.

Memory grows with the number of orders (and, with ``keep_events``, with their messages), never with
the rest of the log: market data and session messages are skipped at the first look.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from gateway.harness.analysis.fastpath import Clock, field_map
from gateway.harness.readers import LogRecord
from gateway.vocab.records import SessionKey

__all__ = ["FILL_EXEC_TYPES", "ORDER_MSG_TYPES", "TERMINAL", "Order", "OrderBook", "OrderEvent"]

# OrdStatus(39) values after which nothing may happen to an order (FIX 4.4 Vol. 4, OrdStatus).
# DoneForDay(3) is left out: a GTC order comes back the next day.
TERMINAL = frozenset({"2", "4", "8", "C"})
# ExecType(150) values that carry a fill: Trade (4.4+), PartialFill / Fill (4.0-4.2).
FILL_EXEC_TYPES = frozenset({"F", "1", "2"})
ORDER_MSG_TYPES = frozenset({"D", "G", "F", "H", "8", "9", "j"})
_ZERO = Decimal(0)
_NOT_LIVE = frozenset({"2", "3", "4", "8", "C"})  # LeavesQty is 0 by rule: no Leaves + Cum check


class _Decimals(dict[bytes | None, Decimal | None]):
    """Quantity and price texts -> Decimal (None for a missing, empty or bad one), each parsed once.

    A subscript, not a function: ``_DECIMALS[f.get(b"38")]`` is a C-level lookup on the hit, and
    quantities and prices repeat, so the parse in ``__missing__`` is rare.
    """

    __slots__ = ()

    def __missing__(self, value: bytes | None) -> Decimal | None:
        found: Decimal | None = None
        if value:
            try:
                found = Decimal(value.decode("ascii"))
            except (InvalidOperation, UnicodeDecodeError):
                found = None
        if len(self) > 200_000:
            self.clear()
        self[value] = found
        return found


_DECIMALS = _Decimals()


class _Texts(dict[bytes, str]):
    """Symbols, sides, statuses: few distinct values, one str each (a subscript, as ``_Decimals``)."""

    __slots__ = ()

    def __missing__(self, value: bytes) -> str:
        found = value.decode("latin-1")
        if len(self) < 100_000:
            self[value] = found
        return found


_TEXTS = _Texts()


@dataclass(slots=True)
class OrderEvent:
    """One message of an order's story."""

    time: float | None
    record: LogRecord
    note: str = ""  # what this message did to the order, when it is worth saying


@dataclass(slots=True, eq=False)
class Order:
    """One order: a ClOrdID chain in one session."""

    session: SessionKey
    cl_ord_id: str  # the first ClOrdID (NewOrderSingle, or the first one seen)
    begin_string: str
    # Memory per order is what limits a big log (0.42 orders per message in bench/replay.py's log):
    # the chain beyond its first ClOrdID, the OrderID and the issue texts are kept in their cheapest
    # form and shown through the properties below.
    later_cl_ord_ids: list[str] | None = None
    order_id_bytes: bytes | None = None
    unknown_answer: bool = False  # first seen in an answer to a ClOrdID never sent
    symbol: str | None = None
    side: str | None = None
    ord_type: str | None = None
    order_qty: Decimal | None = None
    price: Decimal | None = None
    status: str | None = None  # OrdStatus(39) of the last answer
    fills: int = 0
    filled_qty: Decimal = _ZERO
    notional: Decimal = _ZERO
    cum_qty: Decimal | None = None
    replace_requests: int = 0
    replaces: int = 0
    cancel_requests: int = 0
    cancels: int = 0
    rejects: list[str] | None = None  # lists made on first use: most orders never need them
    requested_at: float | None = None
    first_answer_at: float | None = None
    final_at: float | None = None
    request_seen: bool = False  # the NewOrderSingle is in the log
    issue_list: list[str] | None = None
    last_exec_id: bytes | None = None
    exec_ids: set[bytes] | None = None  # made at the second ExecID
    events: list[OrderEvent] | None = None
    states: list[tuple[str, str]] | None = None  # (ExecType, OrdStatus) per report, kept with events

    @property
    def chain(self) -> list[str]:
        """Every ClOrdID of the order, in order."""
        return [self.cl_ord_id, *(self.later_cl_ord_ids or ())]

    @property
    def order_id(self) -> str | None:
        return None if self.order_id_bytes is None else self.order_id_bytes.decode("latin-1")

    @property
    def issues(self) -> list[str] | None:
        """The inconsistencies found, as text; None when there are none."""
        if not self.unknown_answer:
            return self.issue_list
        return [f"ExecutionReport for unknown ClOrdID {self.cl_ord_id}", *(self.issue_list or ())]

    @property
    def avg_px(self) -> Decimal | None:
        return self.notional / self.filled_qty if self.filled_qty else None

    @property
    def first_answer_latency(self) -> float | None:
        if self.requested_at is None or self.first_answer_at is None:
            return None
        return self.first_answer_at - self.requested_at

    @property
    def final_latency(self) -> float | None:
        if self.requested_at is None or self.final_at is None:
            return None
        return self.final_at - self.requested_at

    @property
    def ids(self) -> set[str]:
        """Every identifier a support engineer may ask about: the ClOrdIDs and the OrderID."""
        found = set(self.chain)
        if self.order_id:
            found.add(self.order_id)
        return found


class OrderBook:
    """Rebuilds orders from records. ``feed`` each record in log order; read ``orders``.

    ``keep_events`` keeps each order's messages for its story (``--order``, HTML, diff);
    ``on_change(order, note)`` is called when an order's status changes (for ``--follow``).
    """

    def __init__(
        self,
        *,
        keep_events: bool = False,
        on_change: Callable[[Order, str], None] | None = None,
    ) -> None:
        self.keep_events = keep_events
        self.on_change = on_change
        self._notes = keep_events or on_change is not None  # notes are for stories and --follow only
        self.orders: list[Order] = []
        self.order_messages = 0  # those that concern orders
        self.unknown_answers = 0
        # per session: ClOrdID -> order, OrderID -> order (nested: no tuple key per lookup)
        self._by_cl: dict[SessionKey, dict[bytes, Order]] = {}
        self._by_order_id: dict[SessionKey, dict[bytes, Order]] = {}
        self._by_cl_id: dict[int, dict[bytes, Order]] = {}
        self._by_order_id_id: dict[int, dict[bytes, Order]] = {}  # made with _by_cl_id's entry
        self._keys: list[SessionKey] = []
        self._clock = Clock()

    # -- feeding ------------------------------------------------------------------------------------------
    def feed_many(self, records: Iterable[LogRecord]) -> int:
        """``feed`` every record; returns how many there were. Messages that are not about orders
        (most of a log: market data, heartbeats) are skipped here, without a call each."""
        types = ORDER_MSG_TYPES
        dispatch = self._dispatch
        count = 0
        for count, record in enumerate(records, 1):  # noqa: B007 (count is the result)
            msg_type = record.message.msg_type
            if msg_type in types:
                dispatch(record, msg_type)
        return count

    def feed(self, record: LogRecord) -> None:
        msg_type = record.message.msg_type
        if msg_type in ORDER_MSG_TYPES:
            self._dispatch(record, msg_type)

    def _dispatch(self, record: LogRecord, msg_type: str) -> None:
        self.order_messages += 1
        f = field_map(record.message)
        time_text = record.time_text
        t = self._clock.seconds(time_text if time_text else f.get(b"52"))
        if msg_type == "8":
            self._execution_report(record, f, t)
        elif msg_type == "D":
            self._new_order(record, f, t)
        elif msg_type in ("G", "F"):
            self._cancel_or_replace(record, f, t, msg_type)
        elif msg_type == "9":
            self._cancel_reject(record, f, t)
        elif msg_type == "H":
            order = self._find(record.session, f.get(b"11"), None, f.get(b"37"))
            if order is not None:
                self._event(order, t, record, "status request")
        else:
            self._business_reject(record, f, t)

    def find(self, identifier: str) -> list[Order]:
        """Orders that have ``identifier`` as a ClOrdID or OrderID (any session)."""
        return [o for o in self.orders if identifier in o.ids]

    # -- requests -------------------------------------------------------------------------------------------
    def _new_order(self, record: LogRecord, f: dict[bytes, bytes], t: float | None) -> None:
        cl = f.get(b"11")
        if cl is None:
            return
        session = record.session
        index = self._by_cl_id.get(id(session))
        if index is None:
            index = self._cl_index(session)
        known = index.get(cl)
        if known is not None:
            if f.get(b"43") == b"Y" or f.get(b"97") == b"Y":
                self._event(known, t, record, "repeat (PossDup/PossResend)")
            else:
                self._issue(known, f"NewOrderSingle {cl.decode('latin-1')} sent again without PossDup")
                self._event(known, t, record, "duplicate ClOrdID")
            return
        order = self._new(record, cl, index)
        order.request_seen = True
        order.requested_at = t
        self._describe(order, f)
        if order.events is not None:
            self._event(order, t, record, "new order")

    def _cancel_or_replace(
        self, record: LogRecord, f: dict[bytes, bytes], t: float | None, kind: str
    ) -> None:
        cl = f.get(b"11")
        session = record.session
        order = self._find(session, f.get(b"41"), None, f.get(b"37"))
        if order is None:
            order = self._new(record, f.get(b"41") or cl or b"?")
            self._issue(order, f"{'replace' if kind == 'G' else 'cancel'} request for unknown OrigClOrdID")
        index = self._cl_index(session)
        if cl is not None and cl not in index:
            index[cl] = order
            self._add_cl(order, cl)
        if kind == "G":
            order.replace_requests += 1
            self._event(order, t, record, "replace request")
        else:
            order.cancel_requests += 1
            self._event(order, t, record, "cancel request")
        if order.requested_at is None:
            order.requested_at = t

    # -- answers ---------------------------------------------------------------------------------------------
    def _execution_report(self, record: LogRecord, f: dict[bytes, bytes], t: float | None) -> None:
        session = record.session
        cl = f.get(b"11")
        order_id = f.get(b"37")
        key = id(session)
        index = self._by_cl_id.get(key)  # the hot path: one index, looked up in place
        if index is None:
            index = self._cl_index(session)
        by_id = self._by_order_id_id[key]  # made by _cl_index along with ``index``
        order = index.get(cl) if cl is not None else None
        if order is None:
            orig = f.get(b"41")
            if orig is not None:
                order = index.get(orig)
            if order is None and order_id is not None and order_id != b"NONE":
                order = by_id.get(order_id)
            if order is None:
                self.unknown_answers += 1
                order = self._new(record, cl or order_id or b"?", index)
                self._describe(order, f)
                if cl is not None:
                    order.unknown_answer = True
                else:
                    self._issue(order, "ExecutionReport without ClOrdID for an unknown order")
        if cl is not None and cl not in index:
            index[cl] = order
            self._add_cl(order, cl)
        if order_id and order.order_id_bytes is None and order_id != b"NONE":
            order.order_id_bytes = order_id
            by_id[order_id] = order
        exec_id = f.get(b"17")
        if exec_id is not None:
            if exec_id == order.last_exec_id or (order.exec_ids is not None and exec_id in order.exec_ids):
                if f.get(b"97") == b"Y" or f.get(b"43") == b"Y":
                    self._event(order, t, record, "repeat (PossResend)")
                    return
                # flagged, and not counted again: the same ExecID is the same execution
                self._issue(order, f"duplicate ExecID {exec_id.decode('latin-1')} without PossResend")
                self._event(order, t, record, "duplicate ExecID")
                return
            if order.last_exec_id is not None:
                if order.exec_ids is None:
                    order.exec_ids = {order.last_exec_id}
                order.exec_ids.add(exec_id)
            order.last_exec_id = exec_id
        if order.first_answer_at is None:
            order.first_answer_at = t
        texts = _TEXTS
        exec_type = texts[f.get(b"150") or b""]
        status = texts[f.get(b"39") or b""]
        dec = _DECIMALS
        previous = order.status
        if order.states is not None:
            order.states.append((exec_type, status))
        notes = []
        last_qty = dec[f.get(b"32")]
        if exec_type in FILL_EXEC_TYPES and last_qty:
            last_px = dec[f.get(b"31")] or _ZERO
            if previous in TERMINAL:
                self._issue(order, f"fill {last_qty}@{last_px} after terminal OrdStatus {previous}")
            order.fills += 1
            order.filled_qty += last_qty
            order.notional += last_qty * last_px
            if self._notes:
                notes.append(f"fill {last_qty}@{last_px}")
        cum = dec[f.get(b"14")]
        if cum is not None:
            if order.cum_qty is not None and cum < order.cum_qty:
                self._issue(order, f"CumQty went down from {order.cum_qty} to {cum}")
            order.cum_qty = cum
        if exec_type == "5":  # Replaced: the new ClOrdID now names the order, with its new terms
            order.replaces += 1
            order.order_qty = dec[f.get(b"38")] or order.order_qty
            order.price = dec[f.get(b"44")] or order.price
            notes.append("replaced")
        elif exec_type == "4":
            order.cancels += 1
            notes.append("canceled")
        elif exec_type == "8" or (status == "8" and exec_type not in FILL_EXEC_TYPES):
            reason = _reason(f, b"103", "OrdRejReason")
            self._reject(order, reason)
            notes.append(f"rejected: {reason}")
        order_qty = dec[f.get(b"38")]
        if order.order_qty is None:
            order.order_qty = order_qty
        leaves = dec[f.get(b"151")]
        qty = order_qty or order.order_qty
        live = status not in _NOT_LIVE
        if live and leaves is not None and cum is not None and qty is not None and leaves + cum != qty:
            self._issue(order, f"LeavesQty {leaves} + CumQty {cum} != OrderQty {qty}")
        if status:
            order.status = status
            if status in TERMINAL and previous not in TERMINAL:
                order.final_at = t
        if self._notes:
            note = ", ".join(notes)
            self._event(order, t, record, note)
            if status and status != previous and self.on_change is not None:
                self.on_change(order, note)

    def _cancel_reject(self, record: LogRecord, f: dict[bytes, bytes], t: float | None) -> None:
        order = self._find(record.session, f.get(b"11"), f.get(b"41"), f.get(b"37"))
        if order is None:
            self.unknown_answers += 1
            order = self._new(record, f.get(b"41") or f.get(b"11") or b"?")
            self._issue(order, f"OrderCancelReject for unknown ClOrdID {(f.get(b'11') or b'?').decode()}")
        if order.first_answer_at is None:
            order.first_answer_at = t
        to = "replace" if f.get(b"434") == b"2" else "cancel"
        reason = _reason(f, b"102", "CxlRejReason")
        self._reject(order, f"{to} rejected: {reason}")
        self._event(order, t, record, f"{to} rejected")

    def _business_reject(self, record: LogRecord, f: dict[bytes, bytes], t: float | None) -> None:
        if f.get(b"372") not in (b"D", b"G", b"F", b"H"):
            return
        order = self._find(record.session, f.get(b"379"), None, None)
        if order is None:
            return
        if order.first_answer_at is None:
            order.first_answer_at = t
        reason = _reason(f, b"380", "BusinessRejectReason")
        self._reject(order, f"business reject: {reason}")
        self._event(order, t, record, "business reject")

    # -- helpers ---------------------------------------------------------------------------------------------
    def _find(
        self, session: SessionKey, cl: bytes | None, orig: bytes | None, order_id: bytes | None
    ) -> Order | None:
        by_cl = self._by_cl_id.get(id(session)) or self._by_cl.get(session)
        if by_cl is not None:
            for key in (cl, orig):
                if key is not None:
                    order = by_cl.get(key)
                    if order is not None:
                        return order
        if order_id is not None and order_id != b"NONE":
            by_id = self._by_order_id.get(session)
            return None if by_id is None else by_id.get(order_id)
        return None

    def _cl_index(self, session: SessionKey) -> dict[bytes, Order]:
        # by id() first: the readers share one SessionKey object per session, and hashing the
        # dataclass on every message costs more than the rest of the lookup
        index = self._by_cl_id.get(id(session))
        if index is None:
            index = self._by_cl.get(session)
            if index is None:
                index = self._by_cl[session] = {}
            self._by_cl_id[id(session)] = index
            self._by_order_id_id[id(session)] = self._by_order_id.setdefault(session, {})
            self._keys.append(session)  # keeps that id() from being reused
        return index

    def _new(self, record: LogRecord, cl: bytes, index: dict[bytes, Order] | None = None) -> Order:
        order = Order(record.session, cl.decode("latin-1"), record.message.begin_string)
        if self.keep_events:
            order.events = []
            order.states = []
        if index is None:
            index = self._cl_index(record.session)
        index[cl] = order
        self.orders.append(order)
        return order

    @staticmethod
    def _describe(order: Order, f: dict[bytes, bytes]) -> None:
        texts = _TEXTS
        symbol = f.get(b"55")
        if symbol:
            order.symbol = texts[symbol]
        side = f.get(b"54")
        if side:
            order.side = texts[side]
        ord_type = f.get(b"40")
        if ord_type:
            order.ord_type = texts[ord_type]
        dec = _DECIMALS
        order.order_qty = dec[f.get(b"38")] or order.order_qty
        order.price = dec[f.get(b"44")] or order.price

    @staticmethod
    def _event(order: Order, t: float | None, record: LogRecord, note: str) -> None:
        if order.events is not None:
            order.events.append(OrderEvent(t, record, note))

    @staticmethod
    def _issue(order: Order, text: str) -> None:
        if order.issue_list is None:
            order.issue_list = []
        order.issue_list.append(text)

    @staticmethod
    def _add_cl(order: Order, cl: bytes) -> None:
        if order.later_cl_ord_ids is None:
            order.later_cl_ord_ids = []
        order.later_cl_ord_ids.append(cl.decode("latin-1"))

    @staticmethod
    def _reject(order: Order, reason: str) -> None:
        if order.rejects is None:
            order.rejects = []
        order.rejects.append(reason)


def _reason(f: dict[bytes, bytes], tag: bytes, name: str) -> str:
    """``OrdRejReason=3: Order exceeds limit`` from the code and Text(58), whichever are there."""
    code = f.get(tag)
    text_value = f.get(b"58")
    parts = []
    if code is not None:
        parts.append(f"{name}={code.decode('latin-1')}")
    if text_value:
        parts.append(text_value.decode("latin-1"))
    return ": ".join(parts) if parts else "no reason given"
