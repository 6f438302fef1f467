"""The sans-I/O order core: ``OrderCore.handle(event, now) -> list[Action]`` (STYLE.md: h11, websockets).

Every order decision of the gateway is taken here, one event at a time, synchronously; the caller
(:mod:`gateway.app.orders_service`, the *executor*) owns I/O, time and asyncio. It turns FIX
requests, Zenith answers and publishes, timers and session changes into the events below, calls
:meth:`OrderCore.handle`, and executes the returned actions in order:

* :class:`Record` -- a state change the store must make durable, one store method each
  (``record_new_order``, ``record_clordid``, ``apply``); an ``APPLY`` carries the ExecutionReports
  committed with it, handed to QuickFIX only once the commit is durable.
* :class:`SendFix` -- a message without ExecID bookkeeping (a status answer), sent after the commit
  of everything recorded before it.
* :class:`CallZenith` -- a Zenith request; its completion comes back as a :class:`ZenithAnswer`
  with the same ``call_id``. The executor sends it only once the store is durable.
* :class:`SetTimer` / :class:`CancelTimer` -- :class:`TimerFired` with the same key at ``at``
  (the executor's monotonic clock, :attr:`Now.mono`).
* :class:`Logout`, :class:`Reconcile` -- session logout (throttle), and a request to reconcile
  with Plxtra (the executor's queries feed their rows back as events).

The core reads (never writes) durable state through :class:`OrderReads`, implemented by the
executor over the store and its in-memory order cache; the core's own bookkeeping (calls in
flight, orders waiting for a PlaceOrder answer, held terminal updates) is in memory and rebuilt
by reconciliation after a restart. Rules kept here:

* One decision per request, rejects included: every D/F/G/q ends in exactly one ``Record`` carrying
  its :class:`DecisionNote`; a PossResend/PossDup repeat of a decided ClOrdID gets nothing.
* One Zenith order action in flight per order: a cancel sent right behind its NewOrderSingle waits
  for the PlaceOrder answer (queued here, no lock, no task).
* A PlaceOrder answer is handled before an ``Orders`` update of the same order that overtook it:
  such updates are kept until the answer (or its failure) is handled. A transaction that overtook
  the answer names a Plxtra order ID not linked yet: it is kept too (bounded), and applied as soon
  as a PlaceOrder answer links that ID (reconciliation stays the fallback).
* An AmendOrder/CancelOrder whose outcome is unknown (timeout, connection lost) is never answered
  with a reject: it is sent again, same RequestID, after a back-off (Plxtra answers a repeated
  RequestID with its first result, Zenith §8.41).
* A fill is skipped before it is applied when its ExecID was already sent (store), so a replayed
  transaction changes nothing; every other report is de-duplicated by ExecID at delivery.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from gateway.bridge.errors import BridgeRejection, CancelRejected, InvalidTransition, OrderRejected
from gateway.bridge.orders.flow import (
    Outcome,
    Report,
    clear_pending,
    errors_text,
    fill_of,
    on_amend_accepted,
    on_order_lost,
    on_order_update,
    on_place_accepted,
    on_place_rejected,
    on_transaction,
    pending_report,
)
from gateway.bridge.orders.hold import FillHold, awaiting_fills, transactions_in, working_view
from gateway.bridge.orders.lifecycle import (
    HoldDo,
    HoldEvent,
    OrderState,
    PendingDo,
    PendingEvent,
    PendingKind,
    is_terminal,
    pending_move,
)
from gateway.bridge.orders.mapping import (
    parse_cancel,
    parse_cancel_replace,
    parse_mass_status,
    parse_new_order,
)
from gateway.bridge.orders.model import (
    FixVersion,
    OrderRecord,
    OrderTerms,
    ZenithRequest,
    fix_version,
)
from gateway.bridge.orders.queries import (
    MassCancelRefused,
    answer_mass_status,
    answer_status,
    check_amendable,
    cxl_reason_for_errors,
    mass_cancel_request,
    mass_cancel_response,
    refuse_mass_cancel,
    select_orders,
    unsupported_in_version,
)
from gateway.bridge.orders.reference import ReferenceCache, needs_reference, notional_rejection
from gateway.bridge.orders.reports import (
    cancel_reject,
    execution_report,
    mass_cancel_report,
    reject_unknown_order,
)
from gateway.bridge.orders.zenith_requests import (
    STOP_UNSUPPORTED_TEXT,
    amend_order_request,
    cancel_order_request,
    place_order_request_for,
    reject_from_zenith,
)
from gateway.config.model import SessionConfig
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.rejects import reject_inbound
from gateway.vocab.tags import (
    BusinessRejectReason,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    OrdRejReason,
    OrdType,
)
from gateway.zenith.records import Order, OrderActionResponse, Transaction

__all__ = [
    "ACTIONS",
    "CONNECTION_UNAVAILABLE",
    "DECIDED_TYPES",
    "EVENTS",
    "Action",
    "Answer",
    "CallKind",
    "CallZenith",
    "CancelAll",
    "CancelTimer",
    "DecisionNote",
    "Event",
    "FixRequest",
    "Logout",
    "Now",
    "OrderCore",
    "OrderLost",
    "OrderReads",
    "Reconcile",
    "Reconciled",
    "Record",
    "RecordOp",
    "SendFix",
    "SessionLogon",
    "SessionLogout",
    "SetTimer",
    "Throttled",
    "TimerFired",
    "ZenithAnswer",
    "ZenithConnection",
    "ZenithOrderUpdate",
    "ZenithTransaction",
    "request_key",
]

log = logging.getLogger("gateway.bridge.orders.core")

CONNECTION_UNAVAILABLE = "Plxtra connection unavailable"
DECIDED_TYPES = frozenset({"D", "F", "G", "q"})
"""Requests that change orders: each is decided once, durably, and journaled until it is."""

_POSS_DUP, _POSS_RESEND = 43, 97
_MAX_ORPHANS = 10_000   # order IDs with transactions waiting for their PlaceOrder answer

_RESPONSE_TO = {PendingKind.CANCEL: CxlRejResponseTo.ORDER_CANCEL_REQUEST,
                PendingKind.REPLACE: CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST}
RETRY_FIRST, RETRY_MAX = 0.25, 5.0  # back-off of an Amend/Cancel whose outcome is unknown (s)


def request_key(msg: InboundMessage) -> str:
    """The identity of one received request, the same in the journal and in the store: arrival
    time (ns) and MsgSeqNum. Two sends of one ClOrdID (a PossResend repeat) are two requests."""
    return f"{msg.received_ns}:{msg.msg_seq_num}"


@dataclass(slots=True, unsafe_hash=True)
class Now:
    """The time of one event: ``wall`` for FIX timestamps, ``mono`` for timers (the executor's
    loop clock), ``ns`` (wall, ns since the epoch) for order creation times."""

    wall: datetime
    mono: float
    ns: int


# --- events ------------------------------------------------------------------------------------


@dataclass(slots=True, unsafe_hash=True)
class FixRequest:
    """A D, F, G, H, AF or q from session ``name`` (its key text), admitted by the throttle."""

    name: str
    msg: InboundMessage


@dataclass(slots=True, unsafe_hash=True)
class Throttled:
    """A request over its session's message rate (finding F6): ``answer`` (built by the throttle,
    edge code) refuses it, its ExecID/answer ID ``answer_id`` stable across restarts; then a
    logout when ``logout``."""

    name: str
    msg: InboundMessage
    answer: OutboundMessage
    answer_id: str
    logout: bool


class Answer(StrEnum):
    DATA = "data"  # the Zenith response Data (a dict with Result for order actions, rows for queries)
    ERROR = "error"  # an Error container: the request was refused, nothing was done
    UNKNOWN = "unknown"  # timeout / connection lost / not connected: it may or may not have been done


@dataclass(slots=True, unsafe_hash=True)
class ZenithAnswer:
    """The completion of the :class:`CallZenith` named ``call_id``. ``data`` (outcome DATA) is
    parsed once, where the answer arrives: an ``OrderActionResponse`` for PLACE, AMEND and CANCEL,
    a tuple of ``Transaction`` for FILLS, the ``QuerySecurity`` object for REFERENCE."""

    call_id: str
    outcome: Answer
    data: Any = None
    errors: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class ZenithOrderUpdate:
    """An ``Orders`` publish, or a ``QueryOrders`` row of reconciliation."""

    order: Order


@dataclass(slots=True, unsafe_hash=True)
class ZenithTransaction:
    """A ``Transactions`` publish, or a ``QueryTransactions`` row of reconciliation."""

    tx: Transaction


@dataclass(slots=True, unsafe_hash=True)
class TimerFired:
    """A :class:`SetTimer` came due: pending status (``pending``), Amend/Cancel retry (``retry``),
    fill-hold deadline (``hold``)."""

    key: tuple[str, ...]


@dataclass(slots=True, unsafe_hash=True)
class SessionLogon:
    """A FIX session logged on (reports are addressed to the key it logged on with)."""

    name: str
    key: SessionKey


@dataclass(slots=True, unsafe_hash=True)
class SessionLogout:
    """A FIX session logged out: cancel on disconnect when configured."""

    name: str


@dataclass(slots=True, unsafe_hash=True)
class ZenithConnection:
    """The Zenith connection came up (reconcile) or went down."""

    up: bool


@dataclass(slots=True, unsafe_hash=True)
class Reconciled:
    """Reconciliation's verdicts on working orders: ``replace`` are PlaceOrders never answered to
    send again (same RequestID), ``redrive`` orders whose accepted F/G nobody is sending (a
    restart)."""

    replace: tuple[str, ...] = ()
    redrive: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class OrderLost:
    """Plxtra answered QueryOrders by ID without the working order ``request_id`` (finding F2)."""

    request_id: str


@dataclass(slots=True, unsafe_hash=True)
class CancelAll:
    """Kill switch (admin API): cancel every working order of a session and/or account."""

    name: str | None = None
    account: str | None = None


EVENTS: tuple[type, ...] = (FixRequest, Throttled, ZenithAnswer, ZenithOrderUpdate, ZenithTransaction,
                            TimerFired, SessionLogon, SessionLogout, ZenithConnection, Reconciled, OrderLost,
                            CancelAll)
Event = (FixRequest | Throttled | ZenithAnswer | ZenithOrderUpdate | ZenithTransaction | TimerFired
         | SessionLogon | SessionLogout | ZenithConnection | Reconciled | OrderLost | CancelAll)


# --- actions -----------------------------------------------------------------------------------


@dataclass(slots=True, unsafe_hash=True)
class DecisionNote:
    """The decision on one D/F/G/q: accepted as ``request_id``, or rejected with ``answer``."""

    session: str
    request_key: str
    msg_type: str
    cl_ord_id: str
    accepted: bool
    request_id: str | None = None
    answer: tuple[str, Sequence[tuple[int, str]]] | None = None


class RecordOp(StrEnum):
    NEW_ORDER = "record_new_order"  # ClOrdID -> RequestID -> session, the order row, the decision
    CLORDID = "record_clordid"  # a ClOrdID of an F/G/q (chained to its order) with its decision
    APPLY = "apply"  # an order's new state, its reports (ExecIDs + outbound rows), a decision


@dataclass(slots=True, unsafe_hash=True)
class Record:
    """A state change the store must make durable (``op`` names the store method), with the
    reports committed with it (sent by the executor after the commit, exactly once by ExecID)."""

    op: RecordOp
    name: str
    record: OrderRecord | None = None
    reports: tuple[Report, ...] = ()
    decision: DecisionNote | None = None
    request_id: str | None = None  # APPLY without record: names the request; CLORDID: the order
    cl_ord_id: str = ""  # CLORDID
    kind: str = ""  # CLORDID: F, G or q


@dataclass(slots=True, unsafe_hash=True)
class SendFix:
    """A message without ExecID bookkeeping (status answers), after the commit of what came before."""

    name: str
    message: OutboundMessage


class CallKind(StrEnum):
    PLACE = "place"
    AMEND = "amend"
    CANCEL = "cancel"
    REFERENCE = "reference"  # QuerySecurity for a market order's notional check
    FILLS = "fills"  # QueryTransactions of one order whose terminal update is held


@dataclass(slots=True, unsafe_hash=True)
class CallZenith:
    """A Zenith request, sent once the store is durable; answered by a :class:`ZenithAnswer`."""

    call_id: str
    kind: CallKind
    request: ZenithRequest


@dataclass(slots=True, unsafe_hash=True)
class SetTimer:
    """Feed :class:`TimerFired` with ``key`` at ``at`` (monotonic seconds); replaces a timer of that key."""

    key: tuple[str, ...]
    at: float


@dataclass(slots=True, unsafe_hash=True)
class CancelTimer:
    """Forget the timer of ``key``, if still armed."""

    key: tuple[str, ...]


@dataclass(slots=True, unsafe_hash=True)
class Logout:
    """Log the FIX session out (throttle action ``logout``)."""

    name: str
    text: str


@dataclass(slots=True, unsafe_hash=True)
class Reconcile:
    """Reconcile working orders with Plxtra (queries; their rows come back as events)."""

    reason: str


ACTIONS: tuple[type, ...] = (Record, SendFix, CallZenith, SetTimer, CancelTimer, Logout, Reconcile)
Action = Record | SendFix | CallZenith | SetTimer | CancelTimer | Logout | Reconcile


class OrderReads(Protocol):
    """What the core reads of durable state (the executor implements it over the store)."""

    def zenith_connected(self) -> bool: ...
    def new_order_id(self) -> str: ...  # a RequestID for a new order (no earlier report possible)
    def next_request_id(self) -> str: ...
    def cl_ord_id_used(self, name: str, cl_ord_id: str) -> bool: ...
    def cl_ord_id_decided(self, name: str, cl_ord_id: str) -> bool: ...
    def order(self, request_id: str) -> OrderRecord | None: ...
    def order_for_plx(self, order_id: str, external_id: str | None = None) -> OrderRecord | None: ...
    def find(self, name: str, cl_ord_id: str | None, order_id: str | None) -> OrderRecord | None: ...
    def working(self, name: str | None = None) -> list[OrderRecord]: ...
    def has_unlinked(self, account: str) -> bool: ...
    def exec_already_sent(self, name: str, request_id: str, exec_id: str) -> bool: ...


# --- the core's own bookkeeping ------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    """A Zenith call in flight for order ``order`` (its PlaceOrder RequestID)."""

    kind: CallKind
    order: str
    request: ZenithRequest
    cl_ord_id: str | None = None  # AMEND/CANCEL: the F/G's ClOrdID (None: unsolicited cancel)
    orig: str = ""
    name: str = ""
    delay: float = RETRY_FIRST


@dataclass(slots=True, unsafe_hash=True)
class _Work:
    """An Amend/Cancel waiting for the order's previous Zenith call to finish."""

    kind: PendingKind
    cl_ord_id: str | None
    orig: str
    name: str


class _Order:
    """Per-order transient state: the call in flight, the work behind it, updates held back.

    Each order has one while its PlaceOrder is in flight, most never anything else: the
    containers are made when first needed (None: empty)."""

    __slots__ = ("call", "driving", "early", "queue")

    def __init__(self) -> None:
        self.call: str | None = None
        self.queue: deque[_Work] | None = None
        self.early: list[Order] | None = None  # Orders updates ahead of the PlaceOrder answer
        self.driving: set[str] | None = None  # F/G ClOrdIDs a call or queue entry is sending

    def undrive(self, cl_ord_id: str) -> None:
        if self.driving:
            self.driving.discard(cl_ord_id)


_Step = Callable[[OrderRecord, SessionKey, FixVersion, datetime], Outcome]
_CALL_PREFIX = {kind: f"{kind.value}-" for kind in CallKind}  # call IDs: "place-12"

# Enum members read on every order event, bound once: a member read through its class is a
# descriptor call (about 100 ns on Python 3.11), a module global about 20 ns.
_ACTION_CALLS = frozenset((CallKind.AMEND, CallKind.CANCEL))  # the order's Amend/Cancel slot
_PLACE_CALLS = frozenset((CallKind.PLACE, CallKind.REFERENCE))  # calls before the order is placed
_STOP_TYPES = frozenset((OrdType.STOP, OrdType.STOP_LIMIT))
_PLACE, _NEW_ORDER, _APPLY = CallKind.PLACE, RecordOp.NEW_ORDER, RecordOp.APPLY
_UNKNOWN, _ERROR, _FIX42 = Answer.UNKNOWN, Answer.ERROR, FixVersion.FIX42


def _key_of(session: SessionConfig | SessionKey) -> SessionKey:
    return SessionKey(session.begin_string, session.sender_comp_id, session.target_comp_id)


class OrderCore:
    """All order decisions; ``handle`` is the only entry that changes anything (one funnel)."""

    def __init__(
        self,
        sessions: Iterable[SessionConfig],
        reads: OrderReads,
        *,
        allow_stop_orders: bool = True,
        pending_reports: bool = False,
        pending_status_after: float = 0.0,
        cancel_on_disconnect: bool = False,
        hold_timeout: float | None = None,
    ) -> None:
        self._reads = reads
        self._sessions: dict[str, tuple[SessionKey, SessionConfig]] = {}
        self._versions: dict[str, FixVersion] = {}
        self.add_sessions(sessions)
        # The simulator accepts an order Condition but does not honour it, so a stop order would
        # trade at once. Stops are refused unless the venue is known to implement StopLoss.
        self._allow_stop_orders = allow_stop_orders
        self._pending_reports = pending_reports
        self._pending_status_after = pending_status_after
        self._cancel_on_disconnect = cancel_on_disconnect
        self._logged_on: dict[str, SessionKey] = {}
        self._orders: dict[str, _Order] = {}
        self._calls: dict[str, _Call] = {}
        # Transactions whose order ID no answered PlaceOrder has linked yet, by that ID (bounded:
        # reconciliation, requested for each, finds any that are dropped).
        self._orphans: dict[str, list[Transaction]] = {}
        self._holds = FillHold() if hold_timeout is None else FillHold(hold_timeout)
        self._references = ReferenceCache()
        self._call_seq = 0
        self._out: list[Action] = []
        self._written: dict[str, OrderRecord] = {}  # records recorded by the event being handled
        self._execs_now: set[tuple[str, str]] = set()  # ExecIDs generated by the event being handled
        self._now = Now(datetime.min, 0.0, 0)

    # --- configuration and introspection (not events: no decision is taken) ---------------------

    def add_sessions(self, sessions: Iterable[SessionConfig]) -> None:
        for s in sessions:
            name = str(_key_of(s))
            self._sessions[name] = (_key_of(s), s)
            self._versions[name] = fix_version(s)  # read for every report

    def session_name(self, session: SessionConfig | SessionKey) -> str | None:
        name = str(_key_of(session))
        return name if name in self._sessions else None

    def sessions(self) -> list[SessionConfig]:
        return [s for _, s in self._sessions.values()]

    @property
    def busy(self) -> bool:
        """True while a Zenith call is in flight or an Amend/Cancel waits (or backs off)."""
        return bool(self._calls) or any(o.call or o.queue for o in self._orders.values())

    def driving(self, request_id: str, cl_ord_id: str) -> bool:
        o = self._orders.get(request_id)
        return o is not None and o.driving is not None and cl_ord_id in o.driving

    def ignored_repeat(self, name: str, msg: InboundMessage) -> bool:
        """A PossResend / PossDup repeat of a request already decided changes nothing and gets no
        answer of any kind (FIX: a possible resend already processed is not processed again)."""
        if msg.msg_type not in DECIDED_TYPES:
            return False
        get = msg.get  # read for every order: the two tags without a helper call
        if get(_POSS_RESEND) != "Y" and get(_POSS_DUP) != "Y":
            return False
        cl_ord_id = msg.get(t.CL_ORD_ID) or ""
        if not self._reads.cl_ord_id_decided(name, cl_ord_id):
            return False  # never seen: a resend of a request we did not get; it is processed
        log.info("%s: ignored %s MsgSeqNum %d, a repeat (PossResend/PossDup) of decided ClOrdID %s",
                 name, msg.msg_type, msg.msg_seq_num, cl_ord_id)
        return True

    # --- the funnel ----------------------------------------------------------------------------

    def handle(self, event: Event, now: Now) -> list[Action]:
        """Apply one event; the actions the executor must take, in order."""
        # Three events per order: the per-event scratch (written records, ExecIDs) is emptied only
        # when the event used it, not rebuilt for each.
        self._now = now
        out = self._out = []
        try:
            self._HANDLERS[type(event)](self, event)
        finally:
            self._out = []
            if self._written:
                self._written.clear()
            if self._execs_now:
                self._execs_now.clear()
        return out

    def _emit(self, action: Action) -> None:
        if type(action) is Record:
            # The executor runs these after handle() returns: later steps of this same event
            # must see them already (the order's new state, the ExecIDs now generated).
            if action.record is not None:
                self._written[action.record.request_id] = action.record
            for r in action.reports:
                if r.exec_id:
                    self._execs_now.add((action.name, r.exec_id))
        self._out.append(action)

    def _load(self, request_id: str) -> OrderRecord | None:
        return self._written.get(request_id) or self._reads.order(request_id)

    def _fresh(self, record: OrderRecord | None) -> OrderRecord | None:
        return self._written.get(record.request_id, record) if record is not None else None

    def _for_plx(self, order_id: str, external_id: str | None = None) -> OrderRecord | None:
        return self._fresh(self._reads.order_for_plx(order_id, external_id))

    def _find(self, name: str, cl_ord_id: str | None, order_id: str | None) -> OrderRecord | None:
        return self._fresh(self._reads.find(name, cl_ord_id, order_id))

    def _working(self, name: str | None = None) -> list[OrderRecord]:
        fresh = (self._written.get(r.request_id, r) for r in self._reads.working(name))
        return [r for r in fresh if not is_terminal(r.state)]

    def _exec_sent(self, name: str, request_id: str, exec_id: str) -> bool:
        return (name, exec_id) in self._execs_now or self._reads.exec_already_sent(name, request_id, exec_id)

    # --- helpers ---------------------------------------------------------------------------------

    def _key(self, name: str) -> SessionKey:
        return self._logged_on.get(name) or self._sessions[name][0]

    def _version(self, name: str) -> FixVersion:
        return self._versions[name]

    def _order(self, request_id: str) -> _Order:
        o = self._orders.get(request_id)
        if o is None:
            o = self._orders[request_id] = _Order()
        return o

    def _forget_if_idle(self, request_id: str) -> None:
        o = self._orders.get(request_id)
        if o is not None and o.call is None and not o.queue and not o.early and not o.driving:
            del self._orders[request_id]

    def _new_call(self, kind: CallKind, order: str, request: ZenithRequest, cl_ord_id: str | None = None,
                  orig: str = "", name: str = "") -> None:
        self._call_seq += 1
        call_id = _CALL_PREFIX[kind] + str(self._call_seq)
        self._calls[call_id] = _Call(kind, order, request, cl_ord_id, orig, name)
        o = self._orders.get(order)
        if o is None:
            o = self._orders[order] = _Order()
        o.call = call_id
        self._out.append(CallZenith(call_id, kind, request))

    def _decision(self, name: str, msg: InboundMessage, request_id: str | None,
                  answer: OutboundMessage | None = None) -> DecisionNote:
        if answer is None:
            return DecisionNote(name, request_key(msg), msg.msg_type,
                                msg.get(t.CL_ORD_ID) or "", True, request_id)
        return DecisionNote(name, request_key(msg), msg.msg_type, msg.get(t.CL_ORD_ID) or "", False,
                            request_id, (answer.msg_type, answer.fields))

    def _deliver(self, name: str, outcome: Outcome, decision: DecisionNote | None = None) -> None:
        self._emit(Record(_APPLY, name, outcome.record, outcome.reports, decision))

    def _save(self, record: OrderRecord) -> None:
        self._deliver(record.session, Outcome(record))

    def _answer_decided(self, name: str, msg: InboundMessage, answer: OutboundMessage, answer_id: str,
                        request_id: str | None = None) -> None:
        """The reject that decides ``msg``, recorded with that decision in one unit and delivered
        exactly once (``answer_id`` plays the ExecID)."""
        self._emit(Record(RecordOp.APPLY, name, None, (Report(answer_id, answer),),
                          self._decision(name, msg, None, answer), request_id=request_id))

    def _apply(self, record: OrderRecord, fn: _Step) -> OrderRecord:
        name = record.session
        key = self._logged_on.get(name) or self._sessions[name][0]  # _key and _version, inlined: per event
        try:
            outcome = fn(record, key, self._versions[name], self._now.wall)
        except InvalidTransition as exc:
            log.error("cannot apply to order %s: %s", record.request_id, exc)
            return record
        # else nothing the FIX side can see changed (the same object: no field-by-field compare)
        if outcome.reports or (outcome.record is not record and outcome.record != record):
            self._deliver(name, outcome)
        return outcome.record

    def _apply_to(self, request_id: str, fn: _Step) -> OrderRecord | None:
        record = self._load(request_id)
        return self._apply(record, fn) if record is not None else None

    def _set_timer(self, key: tuple[str, ...], delay: float) -> None:
        self._emit(SetTimer(key, self._now.mono + delay))

    # --- FIX requests ----------------------------------------------------------------------------

    def _on_fix(self, ev: FixRequest) -> None:
        name, msg = ev.name, ev.msg
        version = self._versions.get(name)
        if version is None or self.ignored_repeat(name, msg):
            return
        if version is _FIX42 and msg.msg_type in ("AF", "q"):
            self._emit(SendFix(name, unsupported_in_version(msg.session, version, msg)))
            return
        self._REQUESTS[msg.msg_type](self, name, msg, version)

    def _on_throttled(self, ev: Throttled) -> None:
        """Over the message rate: answer the message (F6), then log out for action ``logout``."""
        name, msg = ev.name, ev.msg
        if msg.msg_type in DECIDED_TYPES:  # a refused order-changing request is decided: rejected
            self._answer_decided(name, msg, ev.answer, ev.answer_id)
        else:
            self._emit(SendFix(name, ev.answer))
        if ev.logout and name in self._logged_on:
            self._emit(Logout(name, "Message rate limit exceeded"))

    # D ------------------------------------------------------------------------------------------

    def _new_order(self, name: str, msg: InboundMessage, version: FixVersion) -> None:
        now = self._now.wall
        request_id = self._reads.new_order_id()
        session = self._sessions[name][1]

        def reject(reason: str, text: str) -> None:
            er = reject_unknown_order(msg.session, version, msg, now, exec_id=f"{request_id}-8",
                                      ord_rej_reason=reason, text=text)
            self._answer_decided(name, msg, er, f"{request_id}-8", request_id)

        try:
            order = parse_new_order(msg, session)
        except OrderRejected as exc:
            return reject(exc.reason, exc.text)
        if order.terms.ord_type in _STOP_TYPES and not self._allow_stop_orders:
            return reject(OrdRejReason.OTHER, STOP_UNSUPPORTED_TEXT)
        if self._reads.cl_ord_id_used(name, order.cl_ord_id):
            return reject(OrdRejReason.DUPLICATE_ORDER, f"duplicate ClOrdID {order.cl_ord_id}")
        if not self._reads.zenith_connected():
            return reject(OrdRejReason.OTHER, CONNECTION_UNAVAILABLE)
        record = OrderRecord(session=name, request_id=request_id, cl_ord_id=order.cl_ord_id,
                             account=order.account, fix_account=order.fix_account, terms=order.terms,
                             created_ns=self._now.ns, fix_symbol=order.fix_symbol,
                             fix_exchange=order.fix_exchange)
        self._emit(Record(_NEW_ORDER, name, record, decision=self._decision(name, msg, request_id)))
        if self._pending_status_after > 0:
            self._watch_pending(request_id, "D", order.cl_ord_id)
        self._place(record)

    def _place(self, record: OrderRecord, *, checked: bool = False) -> None:
        """PlaceOrder for ``record`` (same RequestID every time); a market order of a session with
        ``max_notional`` is first checked against a reference price (QuerySecurity)."""
        session = self._sessions[record.session][1]
        if not checked and needs_reference(record.terms, session):
            terms = record.terms
            security = self._references.get(terms.market, terms.code, self._now.mono)
            if security is None:  # an Error answer carries no price: the check then rejects
                query = {"Market": terms.market, "Code": terms.code}
                request = ZenithRequest("Market", "QuerySecurity", query)
                self._new_call(CallKind.REFERENCE, record.request_id, request)
                return
            if not self._notional_ok(record, security):
                return
        request = place_order_request_for(record.account, record.terms, record.request_id)
        self._new_call(_PLACE, record.request_id, request)

    def _notional_ok(self, record: OrderRecord, security: Mapping[str, Any]) -> bool:
        rej = notional_rejection(record.terms, self._sessions[record.session][1], security, record.cl_ord_id)
        if rej is None:
            return True
        reason, text = rej.reason, rej.text
        self._apply(record, lambda r, k, v, at: on_place_rejected(r, reason, text, k, v, at))
        return False

    def _watch_pending(self, request_id: str, kind: str, cl_ord_id: str) -> None:
        """Give the partner a definite status if Plxtra has not answered ``kind`` (D, F or G)
        within ``pending_status_after``: ER Pending New / Pending Cancel / Pending Replace."""
        if self._pending_status_after > 0:
            self._set_timer(("pending", request_id, cl_ord_id, kind), self._pending_status_after)

    def _unwatch_pending(self, request_id: str, kind: str) -> None:
        """The answer came: the timer of :meth:`_watch_pending` goes (it would find nothing to do,
        at the cost of an event per order)."""
        if self._pending_status_after > 0:
            record = self._load(request_id)
            if record is not None:
                self._emit(CancelTimer(("pending", request_id, record.cl_ord_id, kind)))

    def _pending_status_due(self, request_id: str, cl_ord_id: str, kind: str) -> None:
        record = self._load(request_id)
        if record is None:
            return
        name = record.session
        if kind == "D":
            if record.state is not OrderState.PENDING_NEW or record.cl_ord_id != cl_ord_id:
                return  # answered meanwhile
            exec_id = f"{request_id}-{ExecType.PENDING_NEW.value}"
            er = execution_report(self._key(name), self._version(name), record, exec_id=exec_id,
                                  exec_type=ExecType.PENDING_NEW, now=self._now.wall)
            log.warning("%s: PlaceOrder %s (ClOrdID %s) unanswered after %.1f s: Pending New sent",
                        name, request_id, cl_ord_id, self._pending_status_after)
            self._deliver(name, Outcome(record, (Report(exec_id, er),)))
            return
        if record.pending_kind != kind or record.pending_cl_ord_id != cl_ord_id:
            return  # answered meanwhile
        move = pending_move(record.pending_kind, PendingEvent.STATUS_DUE)
        if move is None or move[1] is not PendingDo.REPORT_PENDING:
            return
        pending = pending_report(record, self._key(name), self._version(name), self._now.wall)
        if pending is not None:  # its ExecID is fixed: sent at most once, even with pending_reports on
            log.warning("%s: %s ClOrdID %s unanswered after %.1f s: pending status sent",
                        name, kind, cl_ord_id, self._pending_status_after)
            self._deliver(name, Outcome(record, (pending,)))

    # F / G --------------------------------------------------------------------------------------

    def _cancel_reject(self, name: str, kind: PendingKind, cl_ord_id: str, orig: str, rej: BridgeRejection,
                       record: OrderRecord | None, account: str | None = None,
                       request: InboundMessage | None = None) -> None:
        """OrderCancelReject, delivered exactly once like a report; ``request`` is the F/G this
        reject decides (None: a later refusal of a request decided accepted)."""
        answer = cancel_reject(self._key(name), self._version(name), cl_ord_id=cl_ord_id, orig_cl_ord_id=orig,
                               response_to=_RESPONSE_TO[kind], reason=rej.reason, text=rej.text,
                               now=self._now.wall, record=record, account=account)
        answer_id = f"{self._reads.next_request_id()}-9"
        if request is not None:
            self._answer_decided(name, request, answer, answer_id)
        else:
            self._emit(Record(RecordOp.APPLY, name, None, (Report(answer_id, answer),)))

    def _cancel_or_replace(self, name: str, msg: InboundMessage, version: FixVersion) -> None:
        kind = PendingKind(msg.msg_type)
        session = self._sessions[name][1]
        cl_ord_id, orig = msg.get(t.CL_ORD_ID) or "", msg.get(t.ORIG_CL_ORD_ID) or ""
        record = self._find(name, orig, msg.get(t.ORDER_ID))
        terms: OrderTerms | None = None
        account: str | None = None
        try:
            if kind is PendingKind.REPLACE:
                replace = parse_cancel_replace(msg, session)
                terms, account = replace.terms, replace.account
            else:
                parse_cancel(msg)
            record = check_amendable(record, cl_ord_id,
                                     cl_ord_id_used=self._reads.cl_ord_id_used(name, cl_ord_id),
                                     connected=self._reads.zenith_connected(),
                                     unavailable=CONNECTION_UNAVAILABLE, orig_cl_ord_id=orig, account=account)
        except CancelRejected as exc:
            self._cancel_reject(name, kind, cl_ord_id, orig, exc, record, msg.get(t.ACCOUNT), request=msg)
            return
        self._emit(Record(RecordOp.CLORDID, name, decision=self._decision(name, msg, record.request_id),
                          request_id=record.request_id, cl_ord_id=cl_ord_id, kind=kind.value))
        # Marked pending now: a second F/G right behind it is refused "already pending"
        # (CxlRejReason 3) instead of racing it.
        self._mark_pending(record, kind, cl_ord_id, terms)
        self._watch_pending(record.request_id, kind.value, cl_ord_id)
        self._drive(kind, record.request_id, cl_ord_id, orig, name)

    def _mark_pending(self, record: OrderRecord, kind: PendingKind, cl_ord_id: str, terms: OrderTerms | None,
                      *, report: bool = True) -> None:
        move = pending_move(record.pending_kind, PendingEvent.ACCEPTED, kind)
        assert move is not None, "check_amendable refuses a request while another is pending"
        record = record.evolve(pending_kind=move[0], pending_cl_ord_id=cl_ord_id,
                               pending_request_id=self._reads.next_request_id(), pending_terms=terms)
        name = record.session
        pending = None
        if report and (self._pending_reports or self._sessions[name][1].pending_reports):
            pending = pending_report(record, self._key(name), self._version(name), self._now.wall)
        self._deliver(name, Outcome(record, (pending,) if pending is not None else ()))

    def _drive(self, kind: PendingKind, request_id: str, cl_ord_id: str | None, orig: str, name: str) -> None:
        """Queue the Amend (G) or Cancel (F; ``cl_ord_id`` None: unsolicited) of an order behind
        the order's Zenith call in flight, if any."""
        o = self._order(request_id)
        if o.queue is None:
            o.queue = deque()
        o.queue.append(_Work(kind, cl_ord_id, orig, name))
        if o.driving is None:
            o.driving = set()
        o.driving.add(cl_ord_id or "")
        self._next_work(request_id)

    def _next_work(self, request_id: str) -> None:
        """Start queued work of the order while none is in flight."""
        o = self._orders.get(request_id)
        while o is not None and o.call is None and o.queue:
            work = o.queue.popleft()
            if not self._begin(request_id, work):
                o.undrive(work.cl_ord_id or "")
        self._forget_if_idle(request_id)

    def _begin(self, request_id: str, work: _Work) -> bool:
        """Send the Amend/Cancel of ``work`` if it is still wanted; True if a call left."""
        if work.cl_ord_id is None:  # unsolicited cancel
            record = self._load(request_id)
            if record is None or is_terminal(record.state):
                return False
            zen_request_id = self._reads.next_request_id()
        else:
            record = self._still_pending(request_id, work)
            if record is None or record.pending_request_id is None:
                return False
            zen_request_id = record.pending_request_id
        try:
            if work.kind is PendingKind.REPLACE:
                if record.pending_terms is None:
                    return False
                request = amend_order_request(record, record.pending_terms, zen_request_id)
            else:
                request = cancel_order_request(record, zen_request_id)
        except CancelRejected as exc:
            if work.cl_ord_id is not None:
                self._save(clear_pending(record))
                self._cancel_reject(work.name, work.kind, work.cl_ord_id, work.orig, exc, record)
            return False
        kind = CallKind.AMEND if work.kind is PendingKind.REPLACE else CallKind.CANCEL
        self._new_call(kind, request_id, request, cl_ord_id=work.cl_ord_id, orig=work.orig, name=work.name)
        return True

    def _still_pending(self, request_id: str, work: _Work) -> OrderRecord | None:
        """The order if ``work``'s request is still the pending one and the order still works; else
        the request is settled here (None: nothing to send to Plxtra)."""
        record = self._load(request_id)
        if record is None:
            return None
        mine = record.pending_kind == work.kind and record.pending_cl_ord_id == work.cl_ord_id
        if mine and not is_terminal(record.state):
            return record
        if record.cl_ord_id == work.cl_ord_id:  # already answered (e.g. Canceled reported)
            return None
        move = pending_move(record.pending_kind if mine else None, PendingEvent.ORDER_ENDED)
        if mine and move is not None:
            record = clear_pending(record)
            self._save(record)
        assert work.cl_ord_id is not None
        reason = CancelRejected(CxlRejReason.TOO_LATE_TO_CANCEL, f"order is {record.state.name.lower()}")
        self._cancel_reject(work.name, work.kind, work.cl_ord_id, work.orig, reason, record)
        return None

    # H / AF / q ---------------------------------------------------------------------------------

    def _status(self, name: str, msg: InboundMessage, version: FixVersion) -> None:
        record = self._find(name, msg.get(t.CL_ORD_ID), msg.get(t.ORDER_ID))
        self._emit(SendFix(name, answer_status(msg.session, version, msg, record, self._now.wall)))

    def _mass_status(self, name: str, msg: InboundMessage, version: FixVersion) -> None:
        try:
            request = parse_mass_status(msg, self._sessions[name][1])
        except BridgeRejection as exc:
            reason = BusinessRejectReason.UNKNOWN_SECURITY
            self._emit(SendFix(name, reject_inbound(msg, reason, exc.text, ref_id_tag=t.MASS_STATUS_REQ_ID,
                                                    version=version)))
            return
        working = self._working(name)
        for er in answer_mass_status(msg.session, version, request, working, self._now.wall):
            self._emit(SendFix(name, er))

    def _mass_cancel(self, name: str, msg: InboundMessage, version: FixVersion) -> None:
        now = self._now.wall
        cl_ord_id = msg.get(t.CL_ORD_ID) or ""
        report_id = f"mc-{self._reads.next_request_id()}"
        try:
            request = mass_cancel_request(msg, self._sessions[name][1])
            if not self._reads.zenith_connected():
                raise MassCancelRefused("99", CONNECTION_UNAVAILABLE)
            if self._reads.cl_ord_id_used(name, cl_ord_id):
                raise MassCancelRefused("99", f"duplicate ClOrdID {cl_ord_id}")
        except MassCancelRefused as exc:
            refusal = refuse_mass_cancel(msg.session, version, msg, report_id, exc, now)
            self._answer_decided(name, msg, refusal, report_id)
            return
        self._emit(Record(RecordOp.CLORDID, name, decision=self._decision(name, msg, None),
                          cl_ord_id=cl_ord_id, kind="q"))
        records = [
            r for r in select_orders(self._working(name), request.account, request.code, request.market,
                                     request.side)
            if r.pending_kind is None and r.order_id is not None
        ]
        report = mass_cancel_report(msg.session, version, cl_ord_id=cl_ord_id, report_id=report_id,
                                    request_type=request.req_type, response=mass_cancel_response(request),
                                    affected=records, now=now)
        self._emit(Record(RecordOp.APPLY, name, None, (Report(report_id, report),)))
        for record in records:
            # no Pending Cancel of its own: the r reports them
            self._mark_pending(record, PendingKind.CANCEL, cl_ord_id, None, report=False)
            self._drive(PendingKind.CANCEL, record.request_id, cl_ord_id, record.cl_ord_id, name)

    # --- Zenith answers --------------------------------------------------------------------------

    def _on_answer(self, ev: ZenithAnswer) -> None:
        call = self._calls.get(ev.call_id)
        if call is None:
            return  # not ours (a call of an earlier core), or already settled
        o = self._order(call.order)
        action = call.kind in _ACTION_CALLS
        if action and ev.outcome is _UNKNOWN and self._retry_later(ev.call_id, call):
            return  # the order stays busy: nothing else may overtake the repeated request
        del self._calls[ev.call_id]
        if o.call == ev.call_id:
            o.call = None
        if not (action and ev.outcome is _UNKNOWN):  # else the feed settled it: nothing to answer
            self._ANSWERED[call.kind](self, call, ev)
        if action:
            o.undrive(call.cl_ord_id or "")
        if o.call is None:
            if call.kind in _PLACE_CALLS and (self._orphans or o.early):
                self._release_early(call.order)
            self._next_work(call.order)

    @staticmethod
    def _response(ev: ZenithAnswer) -> OrderActionResponse:
        """The answer as an Order Action Response (an Error container is a refusal)."""
        if ev.outcome is _ERROR:
            return OrderActionResponse("Error", None, errors=ev.errors)
        if isinstance(ev.data, OrderActionResponse):
            return ev.data
        return OrderActionResponse("Error", None, errors=(f"unexpected answer {ev.data!r}",))

    def _placed(self, call: _Call, ev: ZenithAnswer) -> None:
        request_id = call.order
        if ev.outcome is _UNKNOWN:
            # It may or may not have reached Plxtra: the order stays PENDING_NEW and reconciliation
            # re-issues it with the same RequestID (idempotent, §8.41) once connected.
            log.warning("PlaceOrder %s unanswered (%s); will reconcile", request_id, " ".join(ev.errors))
            if self._reads.zenith_connected():
                self._emit(Reconcile("place-unanswered"))
            return
        if self._pending_status_after > 0:
            self._unwatch_pending(request_id, "D")  # answered: no Pending New will be due
        response = self._response(ev)
        if response.ok:
            # Without an Order (absent, or dropped as malformed by the executor) the Orders feed
            # and reconciliation link the order ID.
            plx = response.order
            self._apply_to(request_id, lambda r, k, v, now: on_place_accepted(r, plx, k, v, now))
            return
        errors = list(response.errors)
        stored = self._load(request_id)
        rej = reject_from_zenith(response.result or "Error", errors, stored.terms if stored else None)
        self._apply_to(request_id, lambda r, k, v, now: on_place_rejected(r, rej.reason, rej.text, k, v, now))

    def _referenced(self, call: _Call, ev: ZenithAnswer) -> None:
        security: Mapping[str, Any]
        if ev.outcome is Answer.DATA and isinstance(ev.data, Mapping):
            security = ev.data
        elif ev.outcome is Answer.ERROR:
            security = {"Result": "Error", "Errors": list(ev.errors)}
        elif ev.outcome is Answer.DATA:
            security = {"Result": "Error", "Errors": [f"unexpected answer {ev.data!r}"]}
        else:
            security = {"Result": "Error"}
        record = self._load(call.order)
        if record is None:
            return
        terms = record.terms
        self._references.put(terms.market, terms.code, security, self._now.mono)
        if record.state is OrderState.PENDING_NEW and self._notional_ok(record, security):
            self._place(record, checked=True)

    def _retry_later(self, call_id: str, call: _Call) -> bool:
        """An Amend/Cancel of unknown outcome: send it again after a back-off unless the order's
        feed settled it meanwhile (True: the retry is armed)."""
        record = self._load(call.order)
        if (record is None or is_terminal(record.state)
                or (call.cl_ord_id is not None and record.pending_cl_ord_id != call.cl_ord_id)):
            return False
        kind = record.pending_kind or PendingKind.CANCEL
        move = pending_move(kind, PendingEvent.ANSWER_UNKNOWN)
        if move is None or move[1] is not PendingDo.RETRY_LATER:
            return False
        log.warning("%s %s unanswered; sending it again in %.2f s", call.request.topic,
                    call.request.data.get("RequestID"), call.delay)
        self._set_timer(("retry", call_id), call.delay)
        call.delay = min(call.delay * 2, RETRY_MAX)
        return True

    def _retry_due(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        record = self._load(call.order)
        if (record is None or is_terminal(record.state)
                or (call.cl_ord_id is not None and record.pending_cl_ord_id != call.cl_ord_id)):
            # Settled by the feed while backing off: the call is over.
            del self._calls[call_id]
            o = self._order(call.order)
            o.call = None
            o.undrive(call.cl_ord_id or "")
            self._next_work(call.order)
            return
        self._emit(CallZenith(call_id, call.kind, call.request))  # same RequestID

    def _amended(self, call: _Call, ev: ZenithAnswer) -> None:
        response = self._response(ev)
        if response.ok:
            self._apply_to(call.order, lambda r, k, v, now: on_amend_accepted(r, k, v, now))
            return
        self._refused(call, PendingKind.REPLACE, response)

    def _canceled(self, call: _Call, ev: ZenithAnswer) -> None:
        response = self._response(ev)
        if not response.ok:  # success: the Orders publish reports the cancel
            self._refused(call, PendingKind.CANCEL, response)

    def _refused(self, call: _Call, kind: PendingKind, response: OrderActionResponse) -> None:
        """Amend/Cancel answered with Result != Success: clear the pending request, answer 9."""
        record = self._load(call.order)
        if record is None:
            return
        if record.pending_kind == kind and record.pending_cl_ord_id == call.cl_ord_id:
            move = pending_move(kind, PendingEvent.ANSWER_REFUSED)
            assert move is not None and move[1] is PendingDo.CANCEL_REJECT
            record = clear_pending(record)
            self._save(record)
        if call.cl_ord_id is not None and record.cl_ord_id != call.cl_ord_id:
            errors = list(response.errors)
            rej = CancelRejected(cxl_reason_for_errors(errors), errors_text(response.result, errors))
            self._cancel_reject(call.name, kind, call.cl_ord_id, call.orig, rej, record)

    # --- Zenith feed: Orders and Transactions ----------------------------------------------------

    def _on_order(self, ev: ZenithOrderUpdate) -> None:
        order = ev.order
        record = self._for_plx(order.id, order.external_id)
        if record is None:  # not placed through this gateway
            return
        o = self._orders.get(record.request_id)
        if o is not None and o.call is not None and self._calls[o.call].kind in _PLACE_CALLS:
            # after the PlaceOrder answer, which it overtook on the wire
            if o.early is None:
                o.early = [order]
            else:
                o.early.append(order)
            return
        self._apply_order(record, order)

    def _apply_order(self, record: OrderRecord, order: Order) -> None:
        rid = record.request_id
        if awaiting_fills(record, order):  # F1: fills first, then the terminal report
            step = self._holds.step(rid, HoldEvent.TERMINAL_AHEAD, order)
            if step is not None and step[0] is HoldDo.HOLD:
                self._set_timer(("hold", rid), self._holds.timeout)
            order = working_view(record, order)
        self._apply(record, lambda r, k, v, now: on_order_update(r, order, k, v, now))

    def _release_early(self, request_id: str) -> None:
        if self._orphans:  # mostly empty: no order to look up
            record = self._load(request_id)
            if record is not None and record.order_id is not None:
                for tx in self._orphans.pop(record.order_id, ()):
                    self._apply_transaction(record, tx)
                    record = self._load(request_id) or record
        o = self._orders.get(request_id)
        if o is None or not o.early:
            return
        early, o.early = o.early, None
        for order in early:
            record = self._load(request_id)
            if record is not None:
                self._apply_order(record, order)

    def _on_transaction(self, ev: ZenithTransaction) -> None:
        """One execution; skipped before it is applied if its ExecID was already sent."""
        tx = ev.tx
        if fill_of(tx) is None:
            log.error("transaction %s of order %s skipped: no TotalQuantity/AveragePrice to report "
                      "(Zenith §5.17)", tx.id, tx.order_id)
            return
        record = self._for_plx(tx.order_id)
        if record is None:
            # Possibly ours before its order ID is known (it overtook the PlaceOrder answer): kept
            # until an answer links the ID; reconciliation also replays transactions, as a fallback.
            if self._reads.has_unlinked(tx.account):
                if len(self._orphans) >= _MAX_ORPHANS:
                    self._orphans.pop(next(iter(self._orphans)))
                self._orphans.setdefault(tx.order_id, []).append(tx)
                self._emit(Reconcile("unlinked-transaction"))
            return
        self._apply_transaction(record, tx)

    def _apply_transaction(self, record: OrderRecord, tx: Transaction) -> None:
        if not self._exec_sent(record.session, record.request_id, f"{tx.order_id}-F{tx.id}"):
            self._apply(record, lambda r, k, v, now: on_transaction(r, tx, k, v, now))
        if record.request_id in self._holds:
            self._release_held(record.request_id, HoldEvent.FILLS_COVER)

    # --- timers ----------------------------------------------------------------------------------

    def _on_timer(self, ev: TimerFired) -> None:
        key = ev.key
        if key[0] == "pending":
            self._pending_status_due(key[1], key[2], key[3])
        elif key[0] == "retry":
            self._retry_due(key[1])
        elif key[0] == "hold":
            self._hold_deadline(key[1])

    def _hold_deadline(self, request_id: str) -> None:
        if self._holds.step(request_id, HoldEvent.DEADLINE) is None:
            return
        record = self._load(request_id)
        if record is not None and record.order_id is not None:
            query = {"Account": record.account, "OrderID": record.order_id}
            self._call_seq += 1
            call_id = f"{CallKind.FILLS.value}-{self._call_seq}"
            # Not the order's action slot: a fills query never delays an Amend/Cancel.
            request = ZenithRequest("Trading", "QueryTransactions", query)
            self._calls[call_id] = _Call(CallKind.FILLS, request_id, request)
            self._emit(CallZenith(call_id, CallKind.FILLS, request))
        else:
            self._release_held(request_id, HoldEvent.FETCHED)

    def _fills_fetched(self, call: _Call, ev: ZenithAnswer) -> None:
        """The covering transactions did not come: apply the fetched ones (exactly once: already
        reported ones are skipped), then release the terminal update whatever came back."""
        if ev.outcome is Answer.DATA and isinstance(ev.data, tuple):
            record = self._load(call.order)
            for tx in transactions_in(ev.data, record.order_id if record is not None else None):
                self._on_transaction(ZenithTransaction(tx))
        self._release_held(call.order, HoldEvent.FETCHED)

    def _release_held(self, request_id: str, event: HoldEvent) -> None:
        """Apply a held terminal update now that its fills are reported (or the wait is over)."""
        record = self._load(request_id)
        step = self._holds.step(request_id, event, cum_qty=record.cum_qty if record is not None else None)
        if step is None or step[1] is None:
            return
        held = step[1]
        self._emit(CancelTimer(("hold", request_id)))
        self._apply_to(request_id, lambda r, k, v, now: on_order_update(r, held, k, v, now))

    # --- sessions, connection, reconciliation ----------------------------------------------------

    def _on_logon(self, ev: SessionLogon) -> None:
        self._logged_on[ev.name] = ev.key

    def _on_logout(self, ev: SessionLogout) -> None:
        self._logged_on.pop(ev.name, None)
        entry = self._sessions.get(ev.name)
        if entry is None or not (entry[1].cancel_on_disconnect or self._cancel_on_disconnect):
            return
        working = self._working(ev.name)
        if working:
            log.info("%s: cancel on disconnect, %d working order(s)", ev.name, len(working))
        for record in working:
            self._drive(PendingKind.CANCEL, record.request_id, None, "", ev.name)

    def _on_cancel_all(self, ev: CancelAll) -> None:
        for record in self._working(ev.name):
            if ev.account is None or record.account == ev.account:
                self._drive(PendingKind.CANCEL, record.request_id, None, "", record.session)

    def _on_connection(self, ev: ZenithConnection) -> None:
        if ev.up:
            self._emit(Reconcile("connected"))

    def _on_reconciled(self, ev: Reconciled) -> None:
        for request_id in ev.replace:
            record = self._load(request_id)
            o = self._orders.get(request_id)
            if (record is None or record.order_id is not None or record.state is not OrderState.PENDING_NEW
                    or (o is not None and o.call is not None)):
                continue
            self._place(record)
        for request_id in ev.redrive:
            record = self._load(request_id)
            if (record is None or record.pending_kind is None or record.pending_cl_ord_id is None
                    or self.driving(request_id, record.pending_cl_ord_id)):
                continue
            log.info("%s: re-sending the pending %s of order %s (ClOrdID %s)", record.session,
                     record.pending_kind.value, request_id, record.pending_cl_ord_id)
            self._drive(record.pending_kind, request_id, record.pending_cl_ord_id, record.cl_ord_id,
                        record.session)

    def _on_lost(self, ev: OrderLost) -> None:
        log.warning("order %s is no longer known to Plxtra: reported Canceled", ev.request_id)
        self._apply_to(ev.request_id, lambda r, k, v, now: on_order_lost(r, k, v, now))

    _REQUESTS: ClassVar[dict[str, Callable[[OrderCore, str, InboundMessage, FixVersion], None]]] = {
        "D": _new_order,
        "F": _cancel_or_replace,
        "G": _cancel_or_replace,
        "H": _status,
        "AF": _mass_status,
        "q": _mass_cancel,
    }

    # What answers each kind of call (a table built once, not a dict of bound methods per answer).
    _ANSWERED: ClassVar[dict[CallKind, Callable[[OrderCore, _Call, ZenithAnswer], None]]] = {
        CallKind.PLACE: _placed,
        CallKind.REFERENCE: _referenced,
        CallKind.AMEND: _amended,
        CallKind.CANCEL: _canceled,
        CallKind.FILLS: _fills_fetched,
    }

    _HANDLERS: ClassVar[dict[type, Callable[[OrderCore, Any], None]]] = {
        FixRequest: _on_fix,
        Throttled: _on_throttled,
        ZenithAnswer: _on_answer,
        ZenithOrderUpdate: _on_order,
        ZenithTransaction: _on_transaction,
        TimerFired: _on_timer,
        SessionLogon: _on_logon,
        SessionLogout: _on_logout,
        ZenithConnection: _on_connection,
        Reconciled: _on_reconciled,
        OrderLost: _on_lost,
        CancelAll: _on_cancel_all,
    }
