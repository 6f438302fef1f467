"""The orders service: FIX order messages <-> Zenith Trading, on the asyncio loop (ARCHITECTURE §3).

The edge around the pure bridge: it reads the clock, allocates RequestIDs from the store, calls
Zenith, writes the store and hands answers to the :class:`Outbox`. Rules it keeps:

* The order row (ClOrdID -> RequestID -> session) is committed before PlaceOrder leaves.
* Each order is driven by one task at a time (a lock per order): a cancel sent right behind
  its NewOrderSingle waits for the PlaceOrder answer instead of failing.
* Subscription callbacks (``Orders!{account}``, ``Transactions!{account}``) are synchronous:
  load record -> bridge -> store -> send, with no await in between, so they never interleave.
* Every ExecutionReport carrying an ExecID is delivered exactly once in the FIX sense: the
  ExecID and the full report are committed together with the order's new state before the
  report is handed to the outbox; ``on_sent`` confirms it; an unconfirmed one is sent again
  at the next logon with PossResend=Y (:mod:`gateway.app.orders_delivery`). A fill is
  skipped *before* it is applied when its ExecID (from the transaction ID) was already sent.
* A report for a session that is logged out is kept in the store and sent at its next logon
  (QuickFIX resend cannot help when the partner logs on with ResetSeqNumFlag=Y).
* Orders are read from an in-memory cache written through to the store; an ``Orders``
  publish that changes nothing the FIX side can see writes nothing.
* After startup, a reconnect or a StreamReset, reconciliation re-issues PlaceOrder for orders
  never acknowledged (same RequestID: Zenith answers a repeated RequestID idempotently, §8.41),
  then replays QueryTransactions and QueryOrders through the same exactly-once path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any

from gateway.app.orders_cache import OrderCache, OrderLookup
from gateway.app.orders_delivery import Delivery
from gateway.app.throttle import ThrottleGate, throttle_answer, throttle_text
from gateway.bridge.errors import BridgeRejection, CancelRejected, InvalidTransition, OrderRejected
from gateway.bridge.orders.flow import (
    Outcome,
    Report,
    clear_pending,
    errors_text,
    on_amend_accepted,
    on_order_lost,
    on_order_update,
    on_place_accepted,
    on_place_rejected,
    on_transaction,
    pending_report,
)
from gateway.bridge.orders.hold import FillHold, awaiting_fills, transactions_in, working_view
from gateway.bridge.orders.lifecycle import TERMINAL, OrderState, PendingKind
from gateway.bridge.orders.mapping import (
    parse_cancel,
    parse_cancel_replace,
    parse_mass_status,
    parse_new_order,
)
from gateway.bridge.orders.model import (
    FixVersion,
    NewOrder,
    OrderRecord,
    OrderTerms,
    PlxOrder,
    PlxTransaction,
    ZenithRequest,
    fix_version,
    published,
    record_from_data,
    record_to_data,
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
    business_reject,
    cancel_reject,
    execution_report,
    mass_cancel_report,
    reject_unknown_order,
)
from gateway.bridge.orders.zenith_requests import (
    STOP_UNSUPPORTED_TEXT,
    amend_order_request,
    cancel_order_request,
    place_order_request,
    reject_from_zenith,
)
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.failpoints import crash_point
from gateway.store import DuplicateClOrdID, Store, StoreError, open_store
from gateway.store.inbound_journal import JOURNALED, InboundJournal, journal_for, journal_path, replayable
from gateway.store.orders_store import Decision
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.tags import (
    BusinessRejectReason,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    OrdRejReason,
    OrdType,
)

__all__ = ["CONNECTION_UNAVAILABLE", "OrdersService", "open_store"]

log = logging.getLogger("gateway.app.orders")

CONNECTION_UNAVAILABLE = "Plxtra connection unavailable"
_F, _G = PendingKind.CANCEL, PendingKind.REPLACE
_POSS_DUP, _POSS_RESEND = 43, 97
_RESPONSE_TO = {_F: CxlRejResponseTo.ORDER_CANCEL_REQUEST, _G: CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST}


def _key_of(session: SessionConfig | SessionKey) -> SessionKey:
    """The unqualified key naming a session in the store and in ``config.sessions``."""
    return SessionKey(session.begin_string, session.sender_comp_id, session.target_comp_id)


def request_key(msg: InboundMessage) -> str:
    """The identity of one received request, the same in the journal and in the store: arrival
    time (ns) and MsgSeqNum. Two sends of one ClOrdID (a PossResend repeat) are two requests."""
    return f"{msg.received_ns}:{msg.msg_seq_num}"


def _is_repeat(msg: InboundMessage) -> bool:
    """PossResend(97)=Y or PossDupFlag(43)=Y: the sender may have sent this request before."""
    return msg.get(_POSS_RESEND) == "Y" or msg.get(_POSS_DUP) == "Y"


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
        self._now = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        # The simulator accepts an order Condition but does not honour it, so a stop order would
        # trade at once. Stops are refused unless the venue is known to implement StopLoss.
        self._allow_stop_orders = allow_stop_orders
        # ExecutionReport Pending Cancel / Pending Replace before Plxtra answers an F / G.
        self._pending_reports = pending_reports
        # A request Plxtra has not answered after this long gets ER Pending New / Pending Cancel /
        # Pending Replace, so a partner is never left without a status (the outcome follows).
        self._pending_status_after = (pending_status_after if pending_status_after is not None
                                      else config.gateway.pending_status_after)
        self._pending_timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._sessions = {str(_key_of(s)): (_key_of(s), s) for s in config.sessions}
        self._delivery = Delivery(store, outbox)
        self._logged_on = self._delivery.logged_on  # the same dict: name -> logged-on key
        self._cache = OrderCache()
        self._orders = OrderLookup(self._cache, store)
        self._references = ReferenceCache()  # QuerySecurity answers for market-order notional checks
        self._gate = ThrottleGate(monotonic, self._handle, self._refuse, self._spawn)
        self._holds = FillHold()  # terminal updates waiting for their fills (F1)
        self._hold_timers: dict[str, asyncio.TimerHandle] = {}
        self._locks: dict[str, list[Any]] = {}  # request_id -> [Lock, users]
        self._driving: set[tuple[str, str]] = set()  # (request_id, F/G ClOrdID) a task is sending
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subs: list[Any] = []
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_again = False
        self._started = False
        # D/F/G/q QuickFIX accepted in an earlier run and never decided: decided at start
        # (gateway.store.inbound_journal)
        self._journal = journal or journal_for(journal_path(store.path))
        self._started_ns = time.time_ns()

    # --- lifecycle ---------------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """Every Plxtra account of every trading session, once each."""
        return list(dict.fromkeys(a for _, s in self._sessions.values() if s.trading for a in s.accounts))

    def add_sessions(self, sessions: Iterable[SessionConfig]) -> list[str]:
        """Sessions added by a reload (loop thread): known from now on, and the Plxtra accounts
        no session traded before are subscribed; returns those accounts."""
        before = set(self.accounts())
        for s in sessions:
            self._sessions[str(_key_of(s))] = (_key_of(s), s)
        new = [a for a in self.accounts() if a not in before]
        if self._started:
            subscribe = self._client.subscribe
            for account in new:
                self._subs.append(subscribe("Trading", f"Orders!{account}", self._on_orders_event))
                self._subs.append(subscribe("Trading", f"Transactions!{account}", self._on_tx_event))
            if new and self._client.connected:
                self._spawn(self.reconcile(), "orders-reconcile-reload")
        return new

    async def start(self) -> None:
        """Subscribe ``Orders!``/``Transactions!`` per account, then reconcile the store with Plxtra."""
        if self._started:
            return
        self._started = True
        self._store.group_commit(asyncio.get_running_loop())  # one commit per loop turn
        self._cache.load(record_from_data(o.data) for o in self._store.working_orders())
        for account in self.accounts():
            self._subs.append(self._client.subscribe("Trading", f"Orders!{account}", self._on_orders_event))
            self._subs.append(self._client.subscribe("Trading", f"Transactions!{account}", self._on_tx_event))
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
            entry = self._sessions.get(str(_key_of(msg.session)))
            return entry is None or self._store.is_decided(str(entry[0]), request_key(msg))

        for msg in replayable(self._journal.records(), self._started_ns, decided):
            name, session = str(_key_of(msg.session)), self._sessions[str(_key_of(msg.session))][1]
            log.warning("%s: deciding journaled %s ClOrdID %s (MsgSeqNum %d) left undecided by a crash",
                        name, msg.msg_type, msg.get(t.CL_ORD_ID), msg.msg_seq_num)
            if not self._ignored_repeat(msg, name):
                self._handle(msg, session, name)
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
        for timer in (*self._hold_timers.values(), *self._pending_timers.values()):
            timer.cancel()
        self._hold_timers.clear()
        self._pending_timers.clear()
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

    @contextlib.asynccontextmanager
    async def _lock(self, request_id: str) -> AsyncIterator[None]:
        """Serialize the tasks driving one order; the lock is forgotten when nobody holds or waits."""
        entry = self._locks.get(request_id)
        if entry is None:
            entry = self._locks[request_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(request_id, None)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until no request task is running: tests and orderly shutdown."""
        deadline = self._monotonic() + timeout
        while self._tasks and self._monotonic() < deadline:
            await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - self._monotonic()))

    # --- FIX session events ------------------------------------------------------------------

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None:
        """Mark the session live and send what was kept for it while it was away, in order."""
        name = str(_key_of(session))
        sent = self._delivery.logon(name, key)
        if sent:
            log.info("%s: sent %d message(s) kept while logged out or unconfirmed", name, sent)

    def on_logout(self, key: SessionKey) -> None:
        entry = self._sessions.get(str(_key_of(key)))
        if entry is None:
            return
        name = str(entry[0])
        self._delivery.logout(name)
        if entry[1].cancel_on_disconnect or self._config.gateway.cancel_on_disconnect:
            working = self._cache.working(name)
            if working:
                log.info("%s: cancel on disconnect, %d working order(s)", name, len(working))
            for stored in working:
                self._drive(_F, stored.request_id, None, "", name)

    # --- inbound FIX ---------------------------------------------------------------------------

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None:
        name = str(_key_of(session))
        if not self._ignored_repeat(msg, name):
            self._gate.admit(name, msg, session)

    def _ignored_repeat(self, msg: InboundMessage, name: str) -> bool:
        """A PossResend / PossDup repeat of a request already decided changes nothing and gets no
        answer of any kind (FIX: a possible resend already processed is not processed again)."""
        if msg.msg_type not in JOURNALED or not _is_repeat(msg):
            return False
        cl_ord_id = msg.get(t.CL_ORD_ID) or ""
        if not self._store.cl_ord_id_decided(name, cl_ord_id):
            return False  # never seen: a resend of a request we did not get; it is processed
        log.info("%s: ignored %s MsgSeqNum %d, a repeat (PossResend/PossDup) of decided ClOrdID %s",
                 name, msg.msg_type, msg.msg_seq_num, cl_ord_id)
        return True

    def _decision(self, name: str, msg: InboundMessage, request_id: str | None,
                  answer: OutboundMessage | None = None) -> Decision:
        """The decision on ``msg``: rejected with ``answer``, else accepted as ``request_id``."""
        return Decision(
            session=name, request_key=request_key(msg), msg_type=msg.msg_type,
            cl_ord_id=msg.get(t.CL_ORD_ID) or "",
            outcome=Decision.REJECTED if answer is not None else Decision.ACCEPTED,
            request_id=request_id, answer=(answer.msg_type, answer.fields) if answer is not None else None,
        )

    def _answer_decided(self, name: str, msg: InboundMessage, answer: OutboundMessage,
                        answer_id: str) -> None:
        """Send the reject that decides ``msg``, recorded with that decision in one unit and
        delivered exactly once (``answer_id`` plays the ExecID: re-sent with PossResend after a
        crash, never twice otherwise)."""
        self._delivery.deliver(name, None, [Report(answer_id, answer)],
                               decision=self._decision(name, msg, None, answer))

    def _handle(self, msg: InboundMessage, session: SessionConfig, name: str) -> None:
        version = fix_version(session)
        if msg.msg_type in ("AF", "q") and version is FixVersion.FIX42:
            return self._send(name, unsupported_in_version(msg.session, version, msg))
        handler = {
            "D": self._new_order,
            "G": self._cancel_or_replace,
            "F": self._cancel_or_replace,
            "H": self._status,
            "AF": self._mass_status,
            "q": self._mass_cancel,
        }[msg.msg_type]
        handler(msg, session, name, version)

    def _refuse(self, name: str, msg: InboundMessage, session: SessionConfig, logout: bool) -> None:
        """Over the message rate: answer the message (F6), then log out for action ``logout``."""
        rid = self._store.allocate_request_id()
        answer = throttle_answer(msg, fix_version(session), throttle_text(session.limits), self._now(),
                                 exec_id=f"{rid}-8")
        if msg.msg_type in JOURNALED:  # a refused order-changing request is decided: rejected
            self._answer_decided(name, msg, answer, f"{rid}-8" if msg.msg_type == "D" else f"{rid}-9")
        else:
            self._send(name, answer)
        if logout and name in self._logged_on and hasattr(self._outbox, "logout"):
            # Every throttled message is answered; the outbox merges repeated logouts into one.
            self._outbox.logout(self._logged_on[name], "Message rate limit exceeded")

    # D -------------------------------------------------------------------------------------

    def _new_order(self, msg: InboundMessage, session: SessionConfig, name: str, version: FixVersion) -> None:
        now = self._now()
        request_id = self._store.allocate_request_id()
        self._delivery.fresh_order(request_id)

        def reject(reason: str, text: str) -> None:
            er = reject_unknown_order(msg.session, version, msg, now, exec_id=f"{request_id}-8",
                                      ord_rej_reason=reason, text=text)
            self._delivery.deliver(name, None, [Report(f"{request_id}-8", er)], request_id,
                                   decision=self._decision(name, msg, None, er))

        try:
            order = parse_new_order(msg, session)
        except OrderRejected as exc:
            return reject(exc.reason, exc.text)
        if order.terms.ord_type in (OrdType.STOP, OrdType.STOP_LIMIT) and not self._allow_stop_orders:
            return reject(OrdRejReason.OTHER, STOP_UNSUPPORTED_TEXT)
        if not self._client.connected:  # (connected: record_new_order below refuses a duplicate)
            if self._store.cl_ord_id_used(name, order.cl_ord_id):
                return reject(OrdRejReason.DUPLICATE_ORDER, f"duplicate ClOrdID {order.cl_ord_id}")
            return reject(OrdRejReason.OTHER, CONNECTION_UNAVAILABLE)
        record = OrderRecord(session=name, request_id=request_id, cl_ord_id=order.cl_ord_id,
                             account=order.account, fix_account=order.fix_account, terms=order.terms,
                             created_ns=time.time_ns(), fix_symbol=order.fix_symbol,
                             fix_exchange=order.fix_exchange)
        try:
            self._store.record_new_order(session=name, request_id=request_id, cl_ord_id=order.cl_ord_id,
                                         account=order.account, state=record.state.value,
                                         data=record_to_data(record), created=record.created_ns,
                                         decision=self._decision(name, msg, request_id))
        except DuplicateClOrdID:
            return reject(OrdRejReason.DUPLICATE_ORDER, f"duplicate ClOrdID {order.cl_ord_id}")
        self._cache.put(record)
        self._watch_pending(request_id, "D", order.cl_ord_id)
        self._spawn(self._place(request_id, place_order_request(order, request_id)),
                    f"orders-place-{request_id}")

    def _watch_pending(self, request_id: str, kind: str, cl_ord_id: str) -> None:
        """Give the partner a definite status if Plxtra has not answered ``kind`` (D, F or G)
        within ``pending_status_after``: ER Pending New / Pending Cancel / Pending Replace."""
        if self._pending_status_after <= 0:
            return
        key = (request_id, cl_ord_id)
        old = self._pending_timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._pending_timers[key] = asyncio.get_running_loop().call_later(
            self._pending_status_after, self._pending_status_due, request_id, kind, cl_ord_id)

    def _pending_status_due(self, request_id: str, kind: str, cl_ord_id: str) -> None:
        self._pending_timers.pop((request_id, cl_ord_id), None)
        record = self._load(request_id)
        if record is None:
            return
        name = record.session
        if kind == "D":
            if record.state is not OrderState.PENDING_NEW or record.cl_ord_id != cl_ord_id:
                return  # answered meanwhile
            exec_id = f"{request_id}-{ExecType.PENDING_NEW.value}"
            er = execution_report(self._key(name), self._version(name), record, exec_id=exec_id,
                                  exec_type=ExecType.PENDING_NEW, now=self._now())
            log.warning("%s: PlaceOrder %s (ClOrdID %s) unanswered after %.1f s: Pending New sent",
                        name, request_id, cl_ord_id, self._pending_status_after)
            self._delivery.deliver(name, record, [Report(exec_id, er)])
            return
        if record.pending_kind != kind or record.pending_cl_ord_id != cl_ord_id:
            return  # answered meanwhile
        pending = pending_report(record, self._key(name), self._version(name), self._now())
        if pending is not None:  # its ExecID is fixed: sent at most once, even with pending_reports on
            log.warning("%s: %s ClOrdID %s unanswered after %.1f s: pending status sent",
                        name, kind, cl_ord_id, self._pending_status_after)
            self._delivery.deliver(name, record, [pending])

    async def _place(self, request_id: str, request: ZenithRequest) -> None:
        async with self._lock(request_id):
            if await self._notional_ok(request_id):
                await self._place_locked(request_id, request)

    async def _notional_ok(self, request_id: str) -> bool:
        """Market orders on a session with ``max_notional``: check against a reference price
        (gateway.bridge.orders.reference); False (and the order rejected) when over the limit."""
        record = self._load(request_id)
        session = self._sessions[record.session][1] if record is not None else None
        if record is None or session is None or not needs_reference(record.terms, session):
            return True
        terms, now = record.terms, self._monotonic()
        security = self._references.get(terms.market, terms.code, now)
        if security is None:  # an Error answer carries no price: the check then rejects
            query = {"Market": terms.market, "Code": terms.code}
            security = await self._call_order_action(ZenithRequest("Market", "QuerySecurity", query))
            self._references.put(terms.market, terms.code, security, now)
        rej = notional_rejection(terms, session, security, record.cl_ord_id)
        if rej is not None:
            reason, text = rej.reason, rej.text
            self._apply_to(request_id, lambda r, k, v, at: on_place_rejected(r, reason, text, k, v, at))
        return rej is None

    async def _place_locked(self, request_id: str, request: ZenithRequest) -> None:
        from gateway.zenith import ZenithConnectionError, ZenithRequestError, ZenithTimeout

        try:
            data = await self._call(request)
            crash_point("place-answered")
        except ZenithRequestError as exc:  # an Error container: nothing was placed
            data = {"Result": "Error", "Errors": [f"{c} {s}".strip() for c, s in exc.errors]}
        except (ZenithConnectionError, ZenithTimeout) as exc:
            # It may or may not have reached Plxtra: the order stays PENDING_NEW and reconciliation
            # re-issues it with the same RequestID (idempotent, §8.41) once connected.
            log.warning("PlaceOrder %s unanswered (%s); will reconcile", request_id, exc)
            if self._client.connected:
                self._spawn(self.reconcile(), "orders-reconcile-after-timeout")
            return
        if not isinstance(data, dict):
            data = {"Result": "Error", "Errors": [f"unexpected answer {data!r}"]}
        if data.get("Result") == "Success":
            plx = PlxOrder.from_json(data["Order"]) if isinstance(data.get("Order"), dict) else None
            self._apply_to(request_id, lambda r, k, v, now: on_place_accepted(r, plx, k, v, now))
            return
        errors = [str(e) for e in data.get("Errors") or []]
        stored = self._load(request_id)
        rej = reject_from_zenith(str(data.get("Result") or "Error"), errors, stored.terms if stored else None)
        self._apply_to(request_id, lambda r, k, v, now: on_place_rejected(r, rej.reason, rej.text, k, v, now))

    async def _call(self, request: ZenithRequest) -> Any:
        await self._store.durable()  # the order row (and pending request) is committed first
        return await self._client.request(request.controller, request.topic, dict(request.data))

    # G / F ---------------------------------------------------------------------------------

    def _cancel_reject(self, name: str, kind: str, cl_ord_id: str, orig: str, rej: BridgeRejection,
                       record: OrderRecord | None, account: str | None = None,
                       request: InboundMessage | None = None) -> None:
        """OrderCancelReject, delivered exactly once like a report; ``request`` is the F/G this
        reject decides (None: a later refusal of a request decided accepted)."""
        to = _RESPONSE_TO[kind]
        answer = cancel_reject(self._key(name), self._version(name), cl_ord_id=cl_ord_id, orig_cl_ord_id=orig,
                               response_to=to, reason=rej.reason, text=rej.text, now=self._now(),
                               record=record, account=account)
        answer_id = f"{self._store.allocate_request_id()}-9"
        if request is not None:
            self._answer_decided(name, request, answer, answer_id)
        else:
            self._delivery.deliver(name, None, [Report(answer_id, answer)])

    def _cancel_or_replace(
        self, msg: InboundMessage, session: SessionConfig, name: str, version: FixVersion
    ) -> None:
        kind = PendingKind(msg.msg_type)
        cl_ord_id, orig = msg.get(t.CL_ORD_ID) or "", msg.get(t.ORIG_CL_ORD_ID) or ""
        record = self._orders.find(name, orig, msg.get(t.ORDER_ID))
        terms: OrderTerms | None = None
        account: str | None = None
        try:
            if kind == _G:
                replace = parse_cancel_replace(msg, session)
                terms, account = replace.terms, replace.account
            else:
                parse_cancel(msg)
            record = check_amendable(record, cl_ord_id,
                                     cl_ord_id_used=self._store.cl_ord_id_used(name, cl_ord_id),
                                     connected=self._client.connected, unavailable=CONNECTION_UNAVAILABLE,
                                     orig_cl_ord_id=orig, account=account)
            self._store.record_clordid_chain(name, cl_ord_id, record.request_id, kind,
                                             decision=self._decision(name, msg, record.request_id))
        except (CancelRejected, DuplicateClOrdID) as exc:
            rej = (
                exc
                if isinstance(exc, CancelRejected)
                else CancelRejected(CxlRejReason.DUPLICATE_CL_ORD_ID, str(exc))
            )
            return self._cancel_reject(name, kind, cl_ord_id, orig, rej, record, msg.get(t.ACCOUNT),
                                       request=msg)
        # Mark the request pending now, before any await: a second F/G right behind it is then
        # refused "already pending" (CxlRejReason 3) instead of racing it.
        self._mark_pending(record, kind, cl_ord_id, terms)
        self._watch_pending(record.request_id, kind, cl_ord_id)
        self._drive(kind, record.request_id, cl_ord_id, orig, name)

    def _mark_pending(self, record: OrderRecord, kind: str, cl_ord_id: str, terms: OrderTerms | None,
                      *, report: bool = True) -> None:
        zen_request_id = self._store.allocate_request_id()
        record = record.evolve(pending_kind=kind, pending_cl_ord_id=cl_ord_id,
                               pending_request_id=zen_request_id, pending_terms=terms)
        name = record.session
        pending = None
        if report and (self._pending_reports or self._sessions[name][1].pending_reports):
            pending = pending_report(record, self._key(name), self._version(name), self._now())
        self._deliver(name, Outcome(record, (pending,) if pending is not None else ()))

    def _still_pending(
        self, request_id: str, kind: str, cl_ord_id: str, orig: str, name: str
    ) -> OrderRecord | None:
        """The order if our request is still the pending one and the order still works; else answer 9.

        Returns None (nothing to send to Plxtra) when the order finished while the request waited
        for its turn, or when a cancel was already reported on this ClOrdID.
        """
        record = self._load(request_id)
        if record is None:
            return None
        mine = record.pending_kind == kind and record.pending_cl_ord_id == cl_ord_id
        if mine and record.state not in TERMINAL:
            return record
        if record.cl_ord_id == cl_ord_id:  # already answered (e.g. Canceled reported)
            return None
        if mine:
            record = clear_pending(record)
            self._save(record)
        reason = CancelRejected(CxlRejReason.TOO_LATE_TO_CANCEL, f"order is {record.state.name.lower()}")
        self._cancel_reject(name, kind, cl_ord_id, orig, reason, record)
        return None

    def _drive(self, kind: str, request_id: str, cl_ord_id: str | None, orig: str, name: str) -> None:
        """Start the task that sends the Amend (G) or Cancel (F; ``cl_ord_id`` None: unsolicited)
        of an order. Marked as driven from now on: reconciliation re-sends only the pending
        requests nobody drives (after a restart)."""
        key = (request_id, cl_ord_id or "")
        self._driving.add(key)
        if kind == _G:
            assert cl_ord_id is not None
            task = self._spawn(self._amend(request_id, cl_ord_id, orig, name), "orders-amend")
        else:
            task = self._spawn(self._cancel_order(request_id, cl_ord_id, orig, name), "orders-cancel")
        task.add_done_callback(lambda _: self._driving.discard(key))

    async def _amend(self, request_id: str, cl_ord_id: str, orig: str, name: str) -> None:
        async with self._lock(request_id):
            record = self._still_pending(request_id, _G, cl_ord_id, orig, name)
            if record is None or record.pending_terms is None or record.pending_request_id is None:
                return
            try:
                request = amend_order_request(record, record.pending_terms, record.pending_request_id)
            except CancelRejected as exc:
                self._save(clear_pending(record))
                return self._cancel_reject(name, _G, cl_ord_id, orig, exc, record)
            data = await self._until_answered(request, request_id, cl_ord_id)
            if data is None:
                return
            if data.get("Result") == "Success":
                return self._apply_to(request_id, lambda r, k, v, now: on_amend_accepted(r, k, v, now))
            self._refused(request_id, _G, cl_ord_id, orig, data, name)

    async def _cancel_order(self, request_id: str, cl_ord_id: str | None, orig: str, name: str) -> None:
        """Cancel one order; ``cl_ord_id`` None means unsolicited (cancel on disconnect)."""
        async with self._lock(request_id):
            if cl_ord_id is None:
                record = self._load(request_id)
                if record is None or record.state in TERMINAL:
                    return
                zen_request_id = self._store.allocate_request_id()
            else:
                record = self._still_pending(request_id, _F, cl_ord_id, orig, name)
                if record is None or record.pending_request_id is None:
                    return
                zen_request_id = record.pending_request_id
            try:
                request = cancel_order_request(record, zen_request_id)
            except CancelRejected as exc:
                if cl_ord_id is not None:
                    self._save(clear_pending(record))
                    self._cancel_reject(name, _F, cl_ord_id, orig, exc, record)
                return
            data = await self._until_answered(request, request_id, cl_ord_id)
            if data is not None and data.get("Result") != "Success":  # success: the Orders publish
                self._refused(request_id, _F, cl_ord_id, orig, data, name)

    async def _until_answered(self, request: ZenithRequest, request_id: str,
                              cl_ord_id: str | None) -> dict[str, Any] | None:
        """Send an Amend/Cancel until Plxtra answers it. A timeout or a lost connection leaves its
        outcome unknown (it may have been executed), so it is never answered with a reject: the
        same request (same RequestID: Plxtra answers a repeat with the original result) goes again
        after a backoff. None when the order's feed settled it meanwhile (finished, or the request
        is no longer the pending one)."""
        from gateway.zenith import ZenithConnectionError, ZenithRequestError, ZenithTimeout

        delay = 0.25
        while True:
            try:
                data = await self._call(request)
            except ZenithRequestError as exc:  # an Error container: nothing was done
                return {"Result": "Error", "Errors": [f"{c} {s}".strip() for c, s in exc.errors]}
            except (ZenithConnectionError, ZenithTimeout) as exc:
                record = self._load(request_id)
                if (record is None or record.state in TERMINAL
                        or (cl_ord_id is not None and record.pending_cl_ord_id != cl_ord_id)):
                    return None
                log.warning("%s %s unanswered (%s); sending it again in %.2f s",
                            request.topic, request.data.get("RequestID"), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            return data if isinstance(data, dict) else {"Result": "Error", "Errors": [repr(data)]}

    async def _call_order_action(self, request: ZenithRequest) -> dict[str, Any]:
        from gateway.zenith import ZenithError

        try:
            data = await self._call(request)
        except ZenithError as exc:
            return {"Result": "Error", "Errors": [str(exc)]}
        return data if isinstance(data, dict) else {"Result": "Error", "Errors": [repr(data)]}

    def _refused(
        self, request_id: str, kind: str, cl_ord_id: str | None, orig: str, data: dict[str, Any], name: str
    ) -> None:
        """Amend/Cancel answered with Result != Success: clear the pending request, answer 9."""
        record = self._load(request_id)
        if record is None:
            return
        if record.pending_kind == kind and record.pending_cl_ord_id == cl_ord_id:
            record = clear_pending(record)
            self._save(record)
        if cl_ord_id is not None and record.cl_ord_id != cl_ord_id:
            errors = [str(e) for e in data.get("Errors") or []]
            rej = CancelRejected(cxl_reason_for_errors(errors), errors_text(str(data.get("Result")), errors))
            self._cancel_reject(name, kind, cl_ord_id, orig, rej, record)

    # H / AF / q ----------------------------------------------------------------------------

    def _status(self, msg: InboundMessage, session: SessionConfig, name: str, version: FixVersion) -> None:
        record = self._orders.find(name, msg.get(t.CL_ORD_ID), msg.get(t.ORDER_ID))
        self._send(name, answer_status(msg.session, version, msg, record, self._now()))

    def _mass_status(
        self, msg: InboundMessage, session: SessionConfig, name: str, version: FixVersion
    ) -> None:
        try:
            request = parse_mass_status(msg, session)
        except BridgeRejection as exc:
            reason = BusinessRejectReason.UNKNOWN_SECURITY
            return self._send(
                name, business_reject(msg.session, version, msg, reason, exc.text, t.MASS_STATUS_REQ_ID)
            )
        for er in answer_mass_status(msg.session, version, request, self._cache.working(name), self._now()):
            self._send(name, er)

    def _mass_cancel(
        self, msg: InboundMessage, session: SessionConfig, name: str, version: FixVersion
    ) -> None:
        now = self._now()
        cl_ord_id = msg.get(t.CL_ORD_ID) or ""
        report_id = f"mc-{self._store.allocate_request_id()}"
        try:
            request = mass_cancel_request(msg, session)
            if not self._client.connected:
                raise MassCancelRefused("99", CONNECTION_UNAVAILABLE)
            try:
                self._store.record_clordid(name, cl_ord_id, None, "q", self._decision(name, msg, None))
            except DuplicateClOrdID:
                raise MassCancelRefused("99", f"duplicate ClOrdID {cl_ord_id}") from None
        except MassCancelRefused as exc:
            refusal = refuse_mass_cancel(msg.session, version, msg, report_id, exc, now)
            return self._answer_decided(name, msg, refusal, report_id)
        records = [
            r
            for r in select_orders(self._cache.working(name), request.account, request.code, request.market,
                                   request.side)
            if r.pending_kind is None and r.order_id is not None
        ]
        report = mass_cancel_report(msg.session, version, cl_ord_id=cl_ord_id, report_id=report_id,
                                    request_type=request.req_type, response=mass_cancel_response(request),
                                    affected=records, now=now)
        self._delivery.deliver(name, None, [Report(report_id, report)])
        for record in records:
            self._mark_pending(record, _F, cl_ord_id, None, report=False)  # the r reports them
            self._drive(_F, record.request_id, cl_ord_id, record.cl_ord_id, name)

    # --- Zenith subscriptions ------------------------------------------------------------------

    def _on_orders_event(self, event: Any) -> None:
        self._on_event(event, "Order", lambda obj: self.handle_order(PlxOrder.from_json(obj)))

    def _on_tx_event(self, event: Any) -> None:
        self._on_event(event, "Transaction",
                       lambda obj: self.handle_transaction(PlxTransaction.from_json(obj)))

    def _on_event(self, event: Any, field: str, handle: Callable[[Any], None]) -> None:
        from gateway.zenith import StreamReset, SubscriptionClosed, SubscriptionData

        if isinstance(event, SubscriptionData):
            for obj in published(event.data, field):
                self._guard(handle, obj)
        elif isinstance(event, StreamReset):
            self._schedule_reconcile()  # a fresh snapshot follows; fills come from queries
        elif isinstance(event, SubscriptionClosed):
            log.error("Zenith closed %s: %s", event.topic, event.error)

    def _guard(self, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            fn(arg)
        except (InvalidTransition, StoreError, KeyError, ValueError) as exc:
            log.error("cannot apply %r: %s", arg, exc)

    def handle_order(self, order: PlxOrder) -> None:
        """An ``Orders`` change or a ``QueryOrders`` row (synchronous: load, apply, save, send)."""
        record = self._orders.for_order_id(order.id, order.external_id)
        if record is None:  # not placed through this gateway
            return
        if awaiting_fills(record, order):  # F1: fills first, then the terminal report
            if self._holds.hold(record.request_id, order, self._monotonic()):
                self._hold_timers[record.request_id] = asyncio.get_running_loop().call_later(
                    self._holds.timeout, self._hold_expired, record.request_id)
            order = working_view(record, order)
        self._apply(record, lambda r, k, v, now: on_order_update(r, order, k, v, now))

    def handle_transaction(self, tx: PlxTransaction) -> None:
        """One execution; skipped before it is applied if its ExecID was already sent."""
        record = self._orders.for_order_id(tx.order_id)
        if record is None:
            # Possibly ours before its order ID is known (PlaceOrder answer and Orders publish not
            # seen yet): reconciliation links unacknowledged orders, then replays transactions.
            if self._cache.has_unlinked(tx.account):
                self._schedule_reconcile()
            return
        if not self._delivery.already_sent(record.session, record.request_id, f"{tx.order_id}-F{tx.id}"):
            self._apply(record, lambda r, k, v, now: on_transaction(r, tx, k, v, now))
        if record.request_id in self._holds:
            record = self._load(record.request_id)
            held = self._holds.covered(record) if record is not None else None
            if held is not None:
                self._release(record.request_id, held)

    def _release(self, request_id: str, held: PlxOrder) -> None:
        """Apply a held terminal update now that its fills are reported (or the wait is over)."""
        timer = self._hold_timers.pop(request_id, None)
        if timer is not None:
            timer.cancel()
        self._apply_to(request_id, lambda r, k, v, now: on_order_update(r, held, k, v, now))

    def _hold_expired(self, request_id: str) -> None:
        self._hold_timers.pop(request_id, None)
        if request_id in self._holds:
            self._spawn(self._fetch_fills(request_id), f"orders-fills-{request_id}")

    async def _fetch_fills(self, request_id: str) -> None:
        """The covering transactions did not come: ask QueryTransactions for the order's, apply
        them (exactly once: already reported ones are skipped), then release the terminal update."""
        record = self._load(request_id)
        if record is not None and record.order_id is not None:
            query = {"Account": record.account, "OrderID": record.order_id}
            rows = await self._query("QueryTransactions", query)
            for tx in transactions_in(rows, record.order_id):
                self._guard(self.handle_transaction, tx)
        held = self._holds.release(request_id)
        if held is not None:
            self._release(request_id, held)

    async def _query(self, topic: str, data: dict[str, Any], *, missing_ok: bool = False) -> list[Any] | None:
        """A Trading query's rows; None if it failed ([] for "no such order" when ``missing_ok``)."""
        from gateway.zenith import ZenithError, ZenithRequestError

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
        if connected:
            self._schedule_reconcile()

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
        unchecked: list[str] = []
        for stored in working:
            if stored.order_id is None:
                async with self._lock(stored.request_id):
                    record = self._load(stored.request_id)
                    if (
                        record is not None
                        and record.order_id is None
                        and record.state is OrderState.PENDING_NEW
                    ):
                        if needs_reference(record.terms, self._sessions[record.session][1]):
                            # It may have left before the crash, and only after its check passed:
                            # never re-place unchecked; QueryOrders below finds it if Plxtra has it.
                            unchecked.append(record.request_id)
                            continue
                        new = NewOrder(record.cl_ord_id, record.account, record.fix_account, record.terms)
                        await self._place_locked(record.request_id,
                                                 place_order_request(new, record.request_id))
        for account in sorted({o.account for o in working}):
            txs = await self._query("QueryTransactions", {"Account": account})
            orders = await self._query("QueryOrders", {"Account": account}) if txs is not None else None
            if txs is None or orders is None:
                continue
            for tx in transactions_in(txs):
                self._guard(self.handle_transaction, tx)
            for obj in orders or ():
                self._guard(self.handle_order, PlxOrder.from_json(obj))
            known = {str(o.get("ID")) for o in orders or () if isinstance(o, dict)}
            for stored in working:
                if stored.account == account and stored.order_id and stored.order_id not in known:
                    await self._check_lost(stored.request_id, account, stored.order_id)
        for stored in working:  # accepted F/G whose Amend/Cancel nobody is sending (a restart)
            record = self._load(stored.request_id)
            if (record is None or record.pending_kind not in (_F, _G) or record.pending_cl_ord_id is None
                    or (record.request_id, record.pending_cl_ord_id) in self._driving):
                continue
            log.info("%s: re-sending the pending %s of order %s (ClOrdID %s)", record.session,
                     record.pending_kind, record.request_id, record.pending_cl_ord_id)
            self._drive(record.pending_kind, record.request_id, record.pending_cl_ord_id, record.cl_ord_id,
                        record.session)
        for request_id in unchecked:  # not at Plxtra: check now, then place or reject
            record = self._load(request_id)
            if record is not None and record.order_id is None and record.state is OrderState.PENDING_NEW:
                new = NewOrder(record.cl_ord_id, record.account, record.fix_account, record.terms)
                await self._place(request_id, place_order_request(new, request_id))

    async def _check_lost(self, request_id: str, account: str, order_id: str) -> None:
        """A working order missing from QueryOrders: ask for it by ID; if Plxtra has no such
        order, report it Canceled (F2). Any doubt (a failed query) keeps it."""
        rows = await self._query("QueryOrders", {"Account": account, "OrderID": order_id}, missing_ok=True)
        if rows is not None and not any(str(o.get("ID")) == order_id for o in rows):
            log.warning("order %s (%s) is no longer known to Plxtra: reported Canceled", order_id, request_id)
            self._apply_to(request_id, lambda r, k, v, now: on_order_lost(r, k, v, now))

    # --- store and delivery --------------------------------------------------------------------

    def _key(self, name: str) -> SessionKey:
        return self._logged_on.get(name) or self._sessions[name][0]

    def _version(self, name: str) -> FixVersion:
        return fix_version(self._sessions[name][1])

    def _load(self, request_id: str) -> OrderRecord | None:
        return self._orders.load(request_id)

    def _save(self, record: OrderRecord) -> None:
        self._deliver(record.session, Outcome(record))

    def _apply(
        self, record: OrderRecord, fn: Callable[[OrderRecord, SessionKey, FixVersion, datetime], Outcome]
    ) -> None:
        name = record.session
        outcome = fn(record, self._key(name), self._version(name), self._now())
        if outcome.reports or outcome.record != record:  # else nothing the FIX side can see changed
            self._deliver(name, outcome)

    def _apply_to(
        self, request_id: str, fn: Callable[[OrderRecord, SessionKey, FixVersion, datetime], Outcome]
    ) -> None:
        record = self._load(request_id)
        if record is not None:
            self._apply(record, fn)

    def _deliver(self, name: str, outcome: Outcome) -> None:
        """Commit the record with its new reports in one transaction, then send them."""
        self._delivery.deliver(name, outcome.record, outcome.reports)
        self._cache.put(outcome.record)  # after the commit: a failed write leaves the cache as the store

    def _send(self, name: str, msg: OutboundMessage) -> None:
        """A message without ExecID bookkeeping (rejects, status answers): now, or at next logon."""
        self._delivery.send(name, msg)

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
        working = [r for r in self._cache.working(name) if account is None or r.account == account]
        for stored in working:
            self._spawn(self._cancel_order(stored.request_id, None, "", stored.session), "orders-cancel-all")
        return len(working)
