"""The orders service: the executor of :class:`gateway.bridge.orders.core.OrderCore` (ARCHITECTURE §3).

Every order decision is the core's. This module only turns what happens on the loop into core
events (FIX requests admitted by the throttle, Zenith answers, ``Orders!`` / ``Transactions!``
publishes, timers, logons and logouts, connection changes, reconciliation's query rows), calls
``core.handle(event, now)`` synchronously (no task per order), and executes the actions it returns,
in order:

* ``Record`` -> the one Store method it names (``record_new_order``, ``record_clordid``, ``apply``
  through :class:`gateway.app.orders_delivery.Delivery`). The store's group commit makes the loop
  turn's writes durable at its end; the ExecutionReports an ``apply`` carries are handed to the
  outbox only after that commit (``Store.after_commit``), exactly once in the FIX sense.
* ``SendFix`` -> :meth:`Delivery.send` (after the commit of what came before; held while logged out).
* ``CallZenith`` -> a Zenith request sent once the decision behind it is committed
  (``Store.after_commit``), through the client's callback API (``send_request``): no task or
  future per call; the answer is parsed once and fed to the core as a ``ZenithAnswer`` event
  straight from the client's dispatch of the frame (a timeout from the request's timer, a lost
  connection from the client's loss handling).
* ``SetTimer`` / ``CancelTimer`` -> :class:`gateway.app.timer_queue.TimerQueue` (one loop timer for
  all of them) feeding ``TimerFired`` back.
* ``Logout`` -> the outbox's logout; ``Reconcile`` -> :meth:`OrdersService.reconcile`.

Reconciliation (after start, a reconnect or a StreamReset) is edge code too: it asks Plxtra
(QueryTransactions, QueryOrders) and feeds the rows to the core as the same events the feed brings,
so missed fills are reported through the same exactly-once path.

Every Zenith payload of the order path is parsed here, once, into the one payload model
(:mod:`gateway.zenith.records`: ``Order``, ``Transaction``, ``OrderActionResponse``; strict where
Zenith §5.2 / §5.17 say "Always"): a malformed object is logged and skipped, the others of its
publish or query still count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from gateway.app.orders_cache import OrderCache, OrderLookup
from gateway.app.orders_delivery import Delivery
from gateway.app.throttle import throttle_answer
from gateway.app.timer_queue import TimerQueue
from gateway.bridge.errors import InvalidTransition
from gateway.bridge.orders.core import (
    CONNECTION_UNAVAILABLE,
    Action,
    Answer,
    CallKind,
    CallZenith,
    CancelAll,
    CancelTimer,
    DecisionNote,
    Event,
    FixRequest,
    Logout,
    Now,
    OrderCore,
    OrderLost,
    Reconcile,
    Reconciled,
    Record,
    RecordOp,
    SendFix,
    SessionLogon,
    SessionLogout,
    SetTimer,
    Throttled,
    TimerFired,
    ZenithAnswer,
    ZenithConnection,
    ZenithOrderUpdate,
    ZenithTransaction,
    request_key,
)
from gateway.bridge.orders.hold import transactions_in
from gateway.bridge.orders.model import (
    OrderRecord,
    fix_version,
    record_from_data,
    record_to_data,
)
from gateway.bridge.orders.reference import needs_reference
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.failpoints import crash_point
from gateway.store import DuplicateClOrdID, Store, StoreError, open_store
from gateway.store.inbound_journal import InboundJournal, journal_for, journal_path, replayable
from gateway.store.orders_store import Decision
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.zenith import (
    StreamReset,
    SubscriptionClosed,
    SubscriptionData,
    ZenithConnectionError,
    ZenithError,
    ZenithRequestError,
    ZenithTimeout,
)
from gateway.zenith.records import Order, OrderActionResponse, Transaction
from gateway.zenith.records_typed import decode_action_answer, decode_orders_publish

__all__ = ["CONNECTION_UNAVAILABLE", "OrdersService", "open_store", "request_key"]

log = logging.getLogger("gateway.app.orders")

_T = TypeVar("_T")
# What a malformed Zenith object raises in a ``from_json`` (a missing "Always" field, a bad number
# or date, an object where a list belongs...).
_MALFORMED = (KeyError, ValueError, TypeError, AttributeError)
_ORDER_ACTIONS = (CallKind.PLACE, CallKind.AMEND, CallKind.CANCEL)


def _published(data: Any, field: str) -> list[Any]:
    """The ``field`` objects (``Order`` / ``Transaction``) added or updated by a Zenith publish
    (a list of ``{"O": "A"|"U"|..., field: {...}}`` changes, §5.11 / §5.17)."""
    if not isinstance(data, list):
        return []
    return [c[field] for c in data if isinstance(c, dict) and c.get("O") in ("A", "U") and field in c]


def _parse_each(rows: Iterable[Any], parse: Callable[[Mapping[str, Any]], _T], what: str) -> list[_T]:
    """Each object parsed once; a malformed one is logged with the reason and skipped (never read
    as zeros), so that it cannot hide the others."""
    out: list[_T] = []
    for row in rows:
        try:
            if not isinstance(row, Mapping):
                raise ValueError("not a JSON object")
            out.append(parse(row))
        except _MALFORMED as exc:
            log.error("malformed %s skipped: %s: %.300r", what, exc, row)
    return out


def _action_response(data: Any, topic: str) -> Any:
    """An Order Action Response (§5.10) parsed once. Its ``Order`` is optional and "not
    synchronised" with the feed (§5.3): a malformed one is dropped, logged, and the ``Result``
    stands (the feed and reconciliation bring the order). Not an object: returned as it is (the
    core refuses it as an unexpected answer). Already an OrderActionResponse: the client's typed
    decode (``decode_action_answer``), which gives one only where this parse would give the same."""
    if type(data) is OrderActionResponse:
        return data
    if not isinstance(data, Mapping):
        return data
    try:
        return OrderActionResponse.from_json(data)
    except _MALFORMED as exc:
        if data.get("Result") is not None and "Order" in data:
            log.error("%s answer %s: malformed Order dropped: %s", topic, data.get("RequestID"), exc)
            with contextlib.suppress(*_MALFORMED):
                return OrderActionResponse.from_json({k: v for k, v in data.items() if k != "Order"})
        log.error("%s: malformed answer: %s: %.300r", topic, exc, data)
        return OrderActionResponse("Error", None, errors=(f"malformed {topic} answer: {exc}",))


def _key_of(session: SessionConfig | SessionKey) -> SessionKey:
    """The unqualified key naming a session in the store and in ``config.sessions``."""
    return SessionKey(session.begin_string, session.sender_comp_id, session.target_comp_id)


def _decision(note: DecisionNote | None) -> Decision | None:
    if note is None:
        return None
    outcome = Decision.ACCEPTED if note.accepted else Decision.REJECTED
    return Decision(session=note.session, request_key=note.request_key, msg_type=note.msg_type,
                    cl_ord_id=note.cl_ord_id, outcome=outcome, request_id=note.request_id, answer=note.answer)


class _Reads:
    """:class:`gateway.bridge.orders.core.OrderReads` over the store, its cache and the client."""

    def __init__(self, store: Store, orders: OrderLookup, cache: OrderCache, delivery: Delivery,
                 client: Any) -> None:
        self._store, self._orders, self._cache, self._delivery = store, orders, cache, delivery
        self._client = client

    def zenith_connected(self) -> bool:
        return bool(self._client.connected)

    def new_order_id(self) -> str:
        request_id = self._store.allocate_request_id()
        self._delivery.fresh_order(request_id)  # no earlier run can have reported on it
        return request_id

    def next_request_id(self) -> str:
        return self._store.allocate_request_id()

    def cl_ord_id_used(self, name: str, cl_ord_id: str) -> bool:
        return self._store.cl_ord_id_used(name, cl_ord_id)

    def cl_ord_id_decided(self, name: str, cl_ord_id: str) -> bool:
        return self._store.cl_ord_id_decided(name, cl_ord_id)

    def order(self, request_id: str) -> OrderRecord | None:
        return self._orders.load(request_id)

    def order_for_plx(self, order_id: str, external_id: str | None = None) -> OrderRecord | None:
        return self._orders.for_order_id(order_id, external_id)

    def find(self, name: str, cl_ord_id: str | None, order_id: str | None) -> OrderRecord | None:
        return self._orders.find(name, cl_ord_id, order_id)

    def working(self, name: str | None = None) -> list[OrderRecord]:
        return self._cache.working(name)

    def has_unlinked(self, account: str) -> bool:
        return self._cache.has_unlinked(account)

    def exec_already_sent(self, name: str, request_id: str, exec_id: str) -> bool:
        return self._delivery.already_sent(name, request_id, exec_id)


class OrdersService:
    """FixService for D, F, G, H, AF and q (interfaces.md); every method runs on the loop thread.

    Sessions are named in the store by their key text (``FIX.4.4:PLXTRA->CLIENT1``).
    """

    msg_types = frozenset({"D", "F", "G", "H", "AF", "q"})

    def __init__(
        self,
        client: Any,
        outbox: Any,
        config: GatewayConfig,
        store: Store,
        *,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        allow_stop_orders: bool = True,
        pending_reports: bool = False,
        journal: InboundJournal | None = None,
        pending_status_after: float | None = None,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._config = config
        self._store = store
        self._wall = clock or partial(datetime.now, UTC)  # no Python frame per event
        self._monotonic = monotonic
        self._delivery = Delivery(store, outbox)
        self._logged_on = self._delivery.logged_on  # the same dict: name -> logged-on key
        self._cache = OrderCache()
        self._orders = OrderLookup(self._cache, store)
        self._core = OrderCore(
            config.sessions, _Reads(store, self._orders, self._cache, self._delivery, client),
            allow_stop_orders=allow_stop_orders, pending_reports=pending_reports,
            # A request Plxtra has not answered after this long gets ER Pending New / Pending Cancel /
            # Pending Replace, so a partner is never left without a status (the outcome follows).
            pending_status_after=(pending_status_after if pending_status_after is not None
                                  else config.gateway.pending_status_after),
            cancel_on_disconnect=config.gateway.cancel_on_disconnect,
        )
        self._timers = TimerQueue(self._timer_fired, monotonic)
        self._names: dict[int, tuple[SessionConfig, str]] = {}
        self._wrote = False  # an event wrote to the store or queued a send behind its commit
        self._asked = 0   # Zenith calls sent and not answered yet (the store's apply waits for them)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Reconciliation waits for the calls it started: a future per call only then.
        self._call_waiters: dict[str, asyncio.Future[None]] = {}
        self._closed = False
        self._subs: list[Any] = []
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_again = False
        self._started = False
        # D/F/G/q QuickFIX accepted in an earlier run and never decided: decided at start
        # (gateway.store.inbound_journal)
        self._journal = journal or journal_for(journal_path(store.path))
        self._started_ns = time.time_ns()

    # --- the funnel: one event in, its actions executed --------------------------------------------

    def _now(self) -> Now:
        return Now(self._wall(), self._monotonic(), time.time_ns())

    def _feed(self, event: Event) -> list[str]:
        """Hand ``event`` to the core and execute its actions; returns the Zenith calls started.

        A failure on a FIX request reaches the dispatcher (which answers it with a 35=j); on any
        other event it is logged and costs that event only."""
        self._wrote = False
        timers: list[SetTimer | CancelTimer] = []
        try:
            if isinstance(event, FixRequest):
                calls = self._execute(self._core.handle(event, self._now()), timers)
            else:
                try:
                    calls = self._execute(self._core.handle(event, self._now()), timers)
                except (InvalidTransition, StoreError, KeyError, ValueError) as exc:
                    log.error("cannot handle %r: %s", event, exc)
                    return []
            if self._wrote and self._store.journaling:
                # The first event of a loop turn is committed at once, its PlaceOrder or report sent
                # now; the rest of a burst at the end of the turn (Store.commit_first). Not when a
                # commit is a database transaction (PostgreSQL): a burst would then cost two per turn.
                self._store.commit_first()
            return calls
        finally:
            # Timers (a pending-status deadline seconds away, a fill hold) are set after the event's
            # sends: bookkeeping no send waits for; still within the event, in the core's order.
            for op in timers:
                if isinstance(op, SetTimer):
                    self._timers.set(op.key, op.at)
                else:
                    self._timers.cancel(op.key)

    def _execute(self, actions: Iterable[Action], timers: list[SetTimer | CancelTimer]) -> list[str]:
        calls: list[str] = []
        for action in actions:
            if isinstance(action, Record):
                self._wrote = True
                self._record(action)
            elif isinstance(action, SendFix):
                self._wrote = True
                self._delivery.send(action.name, action.message)
            elif isinstance(action, CallZenith):
                self._wrote = True
                calls.append(action.call_id)
                # Sent once this turn's writes are durable (now, if nothing is waiting).
                self._store.after_commit(partial(self._send_call, action))
            elif isinstance(action, (SetTimer, CancelTimer)):
                timers.append(action)   # executed after the sends (_feed)
            elif isinstance(action, Logout):
                key = self._logged_on.get(action.name)
                if key is not None and hasattr(self._outbox, "logout"):
                    # Every throttled message is answered; the outbox merges repeated logouts into one.
                    self._outbox.logout(key, action.text)
            elif isinstance(action, Reconcile):
                self._schedule_reconcile()
        return calls

    def _record(self, action: Record) -> None:
        decision = _decision(action.decision)
        if action.op is RecordOp.NEW_ORDER:
            record = action.record
            assert record is not None
            try:
                self._store.record_new_order(session=action.name, request_id=record.request_id,
                                             cl_ord_id=record.cl_ord_id, account=record.account,
                                             state=record.state.value, data=record_to_data(record),
                                             created=record.created_ns, decision=decision)
            except DuplicateClOrdID:  # the core checked: only a concurrent writer could do this
                log.error("%s: ClOrdID %s taken under the core", action.name, record.cl_ord_id)
                raise
            self._cache.put(record)
        elif action.op is RecordOp.CLORDID:
            self._store.record_clordid(action.name, action.cl_ord_id, action.request_id, action.kind,
                                       decision)
        else:
            self._delivery.deliver(action.name, action.record, action.reports, action.request_id, decision)
            if action.record is not None:
                # after the commit call: a failed write leaves the cache as the store
                self._cache.put(action.record)

    def _answer_due(self) -> bool:
        return self._asked > 0

    def _timer_fired(self, key: Any) -> None:
        self._feed(TimerFired(key))

    def _send_call(self, action: CallZenith) -> None:
        """One Zenith request; its answer comes back through :meth:`_answered`, no task."""
        if self._closed:
            return
        request = action.request
        self._client.send_request(request.controller, request.topic, dict(request.data),
                                  partial(self._answered, action),
                                  decode=decode_action_answer if action.kind in _ORDER_ACTIONS else None)
        self._asked += 1

    def _answered(self, action: CallZenith, data: Any, error: Exception | None) -> None:
        """The completion of ``action``'s request (from the client's dispatch, timer or loss
        handling): parsed once, fed to the core."""
        self._asked -= 1
        if self._closed:
            return
        errors: tuple[str, ...] = ()
        if error is None:
            outcome = Answer.DATA
            if action.kind is CallKind.PLACE:
                crash_point("place-answered")
            if action.kind in _ORDER_ACTIONS:
                data = _action_response(data, action.request.topic)
            elif action.kind is CallKind.FILLS and isinstance(data, list):
                data = tuple(_parse_each(data, Transaction.from_json, "QueryTransactions row"))
        elif isinstance(error, ZenithRequestError):  # an Error container: nothing was done
            outcome, errors = Answer.ERROR, tuple(f"{c} {s}".strip() for c, s in error.errors)
        elif isinstance(error, (ZenithConnectionError, ZenithTimeout)):
            outcome, errors = Answer.UNKNOWN, (str(error),)
        else:
            # A query's failure carries no data; an order action's leaves its outcome unknown.
            outcome = Answer.UNKNOWN if action.kind in _ORDER_ACTIONS else Answer.ERROR
            errors = (str(error),)
        if outcome is Answer.UNKNOWN and action.kind in (CallKind.AMEND, CallKind.CANCEL):
            log.warning("%s %s unanswered (%s)", action.request.topic, action.request.data.get("RequestID"),
                        " ".join(errors))
        try:
            self._feed(ZenithAnswer(action.call_id, outcome, data, errors))
        finally:
            waiter = self._call_waiters.pop(action.call_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    # --- lifecycle ---------------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """Every Plxtra account of every trading session, once each."""
        return list(dict.fromkeys(a for s in self._core.sessions() if s.trading for a in s.accounts))

    def add_sessions(self, sessions: Iterable[SessionConfig]) -> list[str]:
        """Sessions added by a reload (loop thread): known from now on, and the Plxtra accounts
        no session traded before are subscribed; returns those accounts."""
        before = set(self.accounts())
        self._core.add_sessions(sessions)
        new = [a for a in self.accounts() if a not in before]
        if self._started:
            for account in new:
                self._subscribe(account)
            if new and self._client.connected:
                self._spawn(self.reconcile(), "orders-reconcile-reload")
        return new

    def _subscribe(self, account: str) -> None:
        self._subs.append(self._client.subscribe("Trading", f"Orders!{account}", self._on_orders_event,
                                                 decode=decode_orders_publish))
        self._subs.append(self._client.subscribe("Trading", f"Transactions!{account}", self._on_tx_event))

    async def start(self) -> None:
        """Subscribe ``Orders!``/``Transactions!`` per account, then reconcile the store with Plxtra."""
        if self._started:
            return
        self._started = True
        self._store.group_commit(asyncio.get_running_loop())  # one commit per loop turn
        # The database's catching up (about 1 ms per batch on the loop) waits while an answer is
        # due: at a paced rate it then runs after an order's ExecutionReport, not in front of it.
        self._store.apply_when_idle(self._answer_due)
        self._cache.load(record_from_data(o.data) for o in self._store.working_orders())
        for account in self.accounts():
            self._subscribe(account)
        self._client.add_connection_listener(self._on_connection)
        # Requests of an earlier run that were journaled but never decided are decided now, once,
        # whether or not Plxtra is reachable (unreachable: the decision is a reject, and recorded).
        self._replay_journal()
        if self._client.connected:
            self._spawn(self.reconcile(), "orders-reconcile-startup")

    def _replay_journal(self) -> None:
        """Decide the journaled requests of an earlier run that have no decision in the store
        (QuickFIX accepted them, a crash came before the decision was committed), then drop that
        run's records. A decided request (rejected ones included) is never replayed."""

        def decided(msg: InboundMessage) -> bool:
            name = self._core.session_name(msg.session)
            return name is None or self._store.is_decided(name, request_key(msg))

        for msg in replayable(self._journal.records(), self._started_ns, decided):
            name = self._core.session_name(msg.session)
            assert name is not None
            log.warning("%s: deciding journaled %s ClOrdID %s (MsgSeqNum %d) left undecided by a crash",
                        name, msg.msg_type, msg.get(t.CL_ORD_ID), msg.msg_seq_num)
            self._feed(FixRequest(name, msg))
        self._spawn(self._compact_journal(), "orders-journal-compact")

    async def _compact_journal(self) -> None:
        await self._store.durable()  # the replayed orders' rows first
        self._journal.compact(lambda m: m.received_ns >= self._started_ns)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.remove_connection_listener(self._on_connection)
        for sub in self._subs:
            with contextlib.suppress(Exception):
                sub.close()
        self._subs.clear()
        self._timers.close()
        self._store.apply_when_idle(None)
        self._closed = True  # answers of calls still with the client change nothing now
        for waiter in self._call_waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        self._call_waiters.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._delivery.close()
        self._store.group_commit(None)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("orders task %s failed", task.get_name(), exc_info=task.exception())

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until no Zenith call is running or backing off: tests and orderly shutdown."""
        deadline = self._monotonic() + timeout
        while (self._tasks or self._core.busy) and self._monotonic() < deadline:
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - self._monotonic()))
            else:
                await asyncio.sleep(0.05)

    # --- FIX session events ------------------------------------------------------------------

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None:
        """Mark the session live and send what was kept for it while it was away, in order."""
        name = str(_key_of(session))
        self._feed(SessionLogon(name, key))
        sent = self._delivery.logon(name, key)
        if sent:
            log.info("%s: sent %d message(s) kept while logged out or unconfirmed", name, sent)

    def on_logout(self, key: SessionKey) -> None:
        name = self._core.session_name(key)
        if name is None:
            return
        self._delivery.logout(name)
        self._feed(SessionLogout(name))

    # --- inbound FIX ---------------------------------------------------------------------------

    def _name_of(self, session: SessionConfig) -> str:
        """The store's name of ``session`` (its key text), built once per config object: a
        SessionKey and its text cost about 4 us per message on the bench machine."""
        known = self._names.get(id(session))
        if known is not None and known[0] is session:  # the entry holds it: its id is not reused
            return known[1]
        name = str(_key_of(session))
        self._names[id(session)] = (session, name)
        return name

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None:
        """A request the session's throttle admitted (the registry applies it to every message)."""
        name = self._name_of(session)
        if not self._core.ignored_repeat(name, msg):
            self._feed(FixRequest(name, msg))

    def refuse_throttled(self, msg: InboundMessage, session: SessionConfig, text: str) -> None:
        """Over the message rate (F6): the throttle words the answer, the core decides it durably
        (one decision, an ExecID from the store); the registry logs the session out if configured."""
        name = self._name_of(session)
        if self._core.ignored_repeat(name, msg):
            return
        rid = self._store.allocate_request_id()
        answer = throttle_answer(msg, fix_version(session), text, self._wall(), exec_id=f"{rid}-8")
        answer_id = f"{rid}-8" if msg.msg_type == "D" else f"{rid}-9"
        self._feed(Throttled(name, msg, answer, answer_id, False))

    # --- Zenith subscriptions ------------------------------------------------------------------

    def _on_orders_event(self, event: Any) -> None:
        if type(event) is SubscriptionData and type(event.data) is tuple:
            # Typed by the client (decode_orders_publish): the Orders _parse_each would make.
            for order in event.data:
                self.handle_order(order)
            return
        self._on_event(event, "Order", Order.from_json, self.handle_order)

    def _on_tx_event(self, event: Any) -> None:
        self._on_event(event, "Transaction", Transaction.from_json, self.handle_transaction)

    def _on_event(self, event: Any, field: str, parse: Callable[[Mapping[str, Any]], _T],
                  handle: Callable[[_T], None]) -> None:
        if isinstance(event, SubscriptionData):
            for obj in _parse_each(_published(event.data, field), parse, f"{field} of a publish"):
                handle(obj)
        elif isinstance(event, StreamReset):
            self._schedule_reconcile()  # a fresh snapshot follows; fills come from queries
        elif isinstance(event, SubscriptionClosed):
            log.error("Zenith closed %s: %s", event.topic, event.error)

    def handle_order(self, order: Order) -> None:
        """An ``Orders`` change or a ``QueryOrders`` row."""
        self._feed(ZenithOrderUpdate(order))

    def handle_transaction(self, tx: Transaction) -> None:
        """One execution (exactly once: the core skips a reported one)."""
        self._feed(ZenithTransaction(tx))

    async def _query(self, topic: str, data: dict[str, Any], *, missing_ok: bool = False) -> list[Any] | None:
        """A Trading query's rows; None if it failed ([] for "no such order" when ``missing_ok``)."""
        try:
            rows = await self._client.request("Trading", topic, data)
        except ZenithError as exc:
            if missing_ok and isinstance(exc, ZenithRequestError) and any(
                    c.startswith("Order") for c, _ in exc.errors):
                return []
            log.warning("%s %s failed: %s", topic, data, exc)
            return None
        return list(rows) if isinstance(rows, list) else []

    # --- reconciliation ------------------------------------------------------------------------

    def _on_connection(self, connected: bool) -> None:
        self._feed(ZenithConnection(connected))

    def _schedule_reconcile(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: shutting down
            self._spawn(self.reconcile(), "orders-reconcile")

    async def reconcile(self) -> None:
        """Bring every working order up to date with Plxtra; safe to run any number of times."""
        if self._reconcile_lock.locked():
            self._reconcile_again = True
            return
        async with self._reconcile_lock:
            for _ in range(3):  # bounded; a later trigger retries
                self._reconcile_again = False
                await self._reconcile_once()
                if not self._reconcile_again:
                    break

    async def _reconcile_once(self) -> None:
        working = self._store.working_orders()
        if not working or not self._client.connected:
            return
        sessions = {str(_key_of(s)): s for s in self._core.sessions()}
        unacked = [o.request_id for o in working if o.order_id is None]
        # PlaceOrders never answered go again (same RequestID, idempotent) before the queries, except
        # those needing a notional check: they may have left before the crash, and only after the
        # check passed; QueryOrders below finds them if Plxtra has them.
        plain: list[str] = []
        unchecked: list[str] = []
        for request_id in unacked:
            record = self._orders.load(request_id)
            if record is None:
                continue
            session = sessions.get(record.session)
            (unchecked if session is not None and needs_reference(record.terms, session) else plain).append(
                request_id)
        await self._settled(self._feed(Reconciled(replace=tuple(plain))))
        for account in sorted({o.account for o in working}):
            txs = await self._query("QueryTransactions", {"Account": account})
            orders = await self._query("QueryOrders", {"Account": account}) if txs is not None else None
            if txs is None or orders is None:
                continue
            for tx in transactions_in(_parse_each(txs, Transaction.from_json, "QueryTransactions row")):
                self.handle_transaction(tx)
            for order in _parse_each(orders, Order.from_json, "QueryOrders row"):
                self.handle_order(order)
            # Raw IDs: an order Plxtra lists, even malformed, is not lost.
            known = {str(o.get("ID")) for o in orders if isinstance(o, dict)}
            for stored in working:
                if stored.account == account and stored.order_id and stored.order_id not in known:
                    await self._check_lost(stored.request_id, account, stored.order_id)
        # accepted F/G whose Amend/Cancel nobody is sending (a restart); then the unchecked orders
        self._feed(Reconciled(redrive=tuple(o.request_id for o in working)))
        await self._settled(self._feed(Reconciled(replace=tuple(unchecked))))

    async def _settled(self, calls: list[str]) -> None:
        """Wait (bounded by the client's request timeout) for the calls reconciliation started."""
        if not calls or self._closed:
            return
        loop = asyncio.get_running_loop()
        waiters = []
        for call_id in calls:
            waiter = self._call_waiters.get(call_id)
            if waiter is None:
                waiter = self._call_waiters[call_id] = loop.create_future()
            waiters.append(waiter)
        # An answer, a timeout or a lost connection settles each; the bound covers a send that
        # never happened (a failed group commit drops what depended on it).
        limit = float(getattr(self._client, "request_timeout", 10.0)) + 5.0
        await asyncio.wait(waiters, timeout=limit)
        for call_id in calls:
            waiter = self._call_waiters.get(call_id)
            if waiter is not None and waiter.done():
                del self._call_waiters[call_id]

    async def _check_lost(self, request_id: str, account: str, order_id: str) -> None:
        """A working order missing from QueryOrders: ask for it by ID; if Plxtra has no such
        order, report it Canceled (F2). Any doubt (a failed query) keeps it."""
        rows = await self._query("QueryOrders", {"Account": account, "OrderID": order_id}, missing_ok=True)
        if rows is not None and not any(str(o.get("ID")) == order_id for o in rows):
            self._feed(OrderLost(request_id))

    # --- operations: entry points of the admin API (gateway.ops.control) ------------------------

    def open_order_count(self, name: str) -> int:
        """Working orders of session ``name`` (its key text, as the store names sessions)."""
        return len(self._cache.working(name))

    def queued_report_count(self, name: str) -> int:
        """Reports kept for ``name`` while it is logged out (0 while it is logged on)."""
        return 0 if name in self._logged_on else len(self._store.deferred_for(name))

    def cancel_all(self, *, name: str | None = None, account: str | None = None) -> int:
        """Kill switch: cancel every working order of a session and/or Plxtra account, as cancel on
        disconnect does (unsolicited Canceled reports follow). Returns how many were asked."""
        count = len([r for r in self._cache.working(name) if account is None or r.account == account])
        self._feed(CancelAll(name, account))
        return count

