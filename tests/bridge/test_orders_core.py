"""The sans-I/O order core with plain data: no sockets, no loop, no store, no clock.

``Book`` plays the executor: it keeps what ``Record`` actions write in dicts (the durable state the
core reads back through ``OrderReads``), and collects everything else the core asks for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.bridge.orders.core import (
    Action,
    Answer,
    CallKind,
    CallZenith,
    CancelAll,
    CancelTimer,
    FixRequest,
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
    ZenithOrderUpdate,
    ZenithTransaction,
)
from gateway.bridge.orders.lifecycle import OrderState, PendingKind, is_terminal
from gateway.bridge.orders.model import OrderRecord
from gateway.config.model import Limits, SessionConfig
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.zenith.records import Order, OrderActionResponse, Transaction

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
NAME = str(KEY)
SESSION = SessionConfig(
    name="client1", begin_string="FIX.4.4", sender_comp_id="PLXTRA", target_comp_id="CLIENT1",
    accounts=("XS:0001",), account_aliases={"0001": "XS:0001"}, default_account="XS:0001", markets=("XSX",),
    limits=Limits(max_order_qty=Decimal(100_000), max_notional=Decimal(5_000_000)),
)


@dataclass
class Book:
    """The executor's side, in dicts."""

    connected: bool = True
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    clordids: set[tuple[str, str]] = field(default_factory=set)
    decisions: list[Any] = field(default_factory=list)
    execs: set[tuple[str, str]] = field(default_factory=set)
    sent: list[OutboundMessage] = field(default_factory=list)
    calls: list[CallZenith] = field(default_factory=list)
    timers: dict[tuple[str, ...], float] = field(default_factory=dict)
    other: list[Action] = field(default_factory=list)
    seq: int = 0

    # OrderReads
    def zenith_connected(self) -> bool:
        return self.connected

    def new_order_id(self) -> str:
        return self.next_request_id()

    def next_request_id(self) -> str:
        self.seq += 1
        return f"gw-{self.seq:03d}"

    def cl_ord_id_used(self, name: str, cl_ord_id: str) -> bool:
        return (name, cl_ord_id) in self.clordids

    def cl_ord_id_decided(self, name: str, cl_ord_id: str) -> bool:
        return self.cl_ord_id_used(name, cl_ord_id) or any(
            d.session == name and d.cl_ord_id == cl_ord_id for d in self.decisions)

    def order(self, request_id: str) -> OrderRecord | None:
        return self.orders.get(request_id)

    def order_for_plx(self, order_id: str, external_id: str | None = None) -> OrderRecord | None:
        for r in self.orders.values():
            if r.order_id == order_id:
                return r
        r = self.orders.get(external_id or "")
        return r if r is not None and r.order_id in (None, order_id) else None

    def find(self, name: str, cl_ord_id: str | None, order_id: str | None) -> OrderRecord | None:
        for r in self.orders.values():
            if r.session == name and (cl_ord_id in (r.cl_ord_id, r.orig_cl_ord_id)
                                      or (order_id and r.order_id == order_id)):
                return r
        return None

    def working(self, name: str | None = None) -> list[OrderRecord]:
        return [r for r in self.orders.values() if not is_terminal(r.state) and name in (None, r.session)]

    def has_unlinked(self, account: str) -> bool:
        return any(r.order_id is None and r.account == account for r in self.working())

    def exec_already_sent(self, name: str, request_id: str, exec_id: str) -> bool:
        return (name, exec_id) in self.execs

    # executing actions
    def run(self, actions: list[Action]) -> list[Action]:
        for a in actions:
            if isinstance(a, Record):
                if a.decision is not None:
                    assert not any(d.request_key == a.decision.request_key for d in self.decisions), \
                        "a request decided twice"
                    self.decisions.append(a.decision)
                if a.op is RecordOp.NEW_ORDER:
                    assert a.record is not None
                    self.clordids.add((a.name, a.record.cl_ord_id))
                elif a.op is RecordOp.CLORDID:
                    self.clordids.add((a.name, a.cl_ord_id))
                if a.record is not None:
                    self.orders[a.record.request_id] = a.record
                for r in a.reports:
                    if r.exec_id is not None:
                        if (a.name, r.exec_id) in self.execs:
                            continue  # the delivery de-duplicates by ExecID, as Delivery does
                        self.execs.add((a.name, r.exec_id))
                    self.sent.append(r.message)
            elif isinstance(a, SendFix):
                self.sent.append(a.message)
            elif isinstance(a, CallZenith):
                self.calls.append(a)
            elif isinstance(a, SetTimer):
                self.timers[a.key] = a.at
            elif isinstance(a, CancelTimer):
                self.timers.pop(a.key, None)
            else:
                self.other.append(a)
        return actions


class Harness:
    def __init__(self, **core_options: Any) -> None:
        self.book = Book()
        self.core = OrderCore([SESSION], self.book, **core_options)
        self.mono = 100.0
        self.rx = 0
        self.feed(SessionLogon(NAME, KEY))

    def now(self) -> Now:
        return Now(datetime(2026, 1, 5, 1, 0, tzinfo=UTC), self.mono, 1_000)

    def feed(self, event: Any) -> list[Action]:
        return self.book.run(self.core.handle(event, self.now()))

    def fix(self, msg_type: str, pairs: list[tuple[int, str]], *, repeat: bool = False) -> list[Action]:
        self.rx += 1
        extra = [(97, "Y")] if repeat else []
        msg = InboundMessage(KEY, msg_type, self.rx, (*extra, *pairs), received_ns=self.rx)
        return self.feed(FixRequest(NAME, msg))

    def new(self, cl: str, qty: str = "100", px: str = "10") -> list[Action]:
        return self.fix("D", [(11, cl), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, qty),
                              (40, "2"), (44, px), (59, "0"), (60, "20260105-01:00:00")])

    def cancel(self, cl: str, orig: str) -> list[Action]:
        return self.fix("F", [(11, cl), (41, orig), (55, "XS01"), (207, "XSX"), (54, "1"),
                              (60, "20260105-01:00:00")])

    def replace(self, cl: str, orig: str, qty: str, px: str) -> list[Action]:
        return self.fix("G", [(11, cl), (41, orig), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"),
                              (38, qty), (40, "2"), (44, px), (59, "0"), (60, "20260105-01:00:00")])

    def last_call(self) -> CallZenith:
        return self.book.calls[-1]

    def answer(self, call: CallZenith, outcome: Answer = Answer.DATA, data: Any = None,
               errors: tuple[str, ...] = ()) -> list[Action]:
        # Parsed once, as the executor does where the answer arrives.
        if call.kind in (CallKind.PLACE, CallKind.AMEND, CallKind.CANCEL) and isinstance(data, dict):
            data = OrderActionResponse.from_json(data)
        elif call.kind is CallKind.FILLS and isinstance(data, list):
            data = tuple(Transaction.from_json(row) for row in data)
        return self.feed(ZenithAnswer(call.call_id, outcome, data, errors))

    def ack(self, call: CallZenith, order_id: str = "P1") -> list[Action]:
        return self.answer(call, data={"Result": "Success", "Order": order(order_id, call, "Working")})

    def ers(self) -> list[tuple[str | None, str | None, str | None]]:
        """(MsgType, ExecType, ClOrdID) of everything sent so far."""
        out = []
        for m in self.book.sent:
            f = dict(m.fields)
            out.append((str(m.msg_type), f.get(150), f.get(11)))
        return out


def order(order_id: str, call: CallZenith | None, status: str, executed: str = "0",
          **extra: Any) -> dict[str, Any]:
    details = {"Code": "XS01", "Exchange": "XSX", "Side": "Buy", "Quantity": "100", "LimitPrice": "10"}
    obj: dict[str, Any] = {"ID": order_id, "Account": "XS:0001", "Status": status,
                           "ExecutedQuantity": executed, "Details": details}
    if call is not None:
        obj["ExternalID"] = call.request.data["RequestID"]
    obj.update(extra)
    return obj


def tx(tx_id: str, qty: str, order_id: str = "P1") -> ZenithTransaction:
    return ZenithTransaction(Transaction.from_json(
        {"ID": tx_id, "Account": "XS:0001", "OrderID": order_id, "Exchange": "XSX", "Code": "XS01",
         "TotalQuantity": Decimal(qty), "AveragePrice": Decimal("10")}))


# --- decisions: exactly once ----------------------------------------------------------------------


def test_new_order_is_decided_recorded_then_placed_and_reported_new() -> None:
    h = Harness()
    actions = h.new("c1")
    kinds = [type(a).__name__ for a in actions]
    assert kinds == ["Record", "CallZenith"]  # the order row (with its decision) before the PlaceOrder
    rec = actions[0]
    assert isinstance(rec, Record) and rec.op is RecordOp.NEW_ORDER and rec.decision is not None
    assert rec.decision.accepted and rec.decision.request_id == rec.record.request_id  # type: ignore[union-attr]
    call = h.last_call()
    assert call.kind is CallKind.PLACE and call.request.data["RequestID"] == rec.record.request_id  # type: ignore[union-attr]
    h.ack(call)
    assert h.ers() == [("8", "0", "c1")]
    assert h.book.orders[call.request.data["RequestID"]].state is OrderState.NEW


def test_every_reject_is_one_decision_and_a_duplicate_clordid_is_refused() -> None:
    h = Harness()
    h.new("c1")
    h.new("c1")  # duplicate ClOrdID
    h.fix("D", [(11, "c2"), (55, "XS01")])  # malformed: rejected by the mapping
    h.book.connected = False
    h.new("c3")  # Plxtra unreachable
    decisions = h.book.decisions
    assert [(d.cl_ord_id, d.accepted) for d in decisions] == [("c1", True), ("c1", False), ("c2", False),
                                                              ("c3", False)]
    assert [e[1] for e in h.ers()] == ["8", "8", "8"]  # ExecType Rejected, one per reject
    assert all(d.answer is not None for d in decisions[1:])  # each reject recorded with its decision


def test_poss_resend_repeat_of_a_decided_clordid_is_ignored() -> None:
    h = Harness()
    h.new("c1")
    before = (len(h.book.decisions), len(h.book.calls), len(h.book.sent))
    assert h.fix("D", [(11, "c1"), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "1"),
                       (40, "2"), (44, "1"), (60, "20260105-01:00:00")], repeat=True) == []
    assert (len(h.book.decisions), len(h.book.calls), len(h.book.sent)) == before
    # a PossResend of a ClOrdID never seen is processed
    h.fix("D", [(11, "c9"), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "1"), (40, "2"),
                (44, "1"), (60, "20260105-01:00:00")], repeat=True)
    assert h.book.decisions[-1].cl_ord_id == "c9"


def test_throttled_request_is_decided_rejected_once() -> None:
    h = Harness()
    msg = InboundMessage(KEY, "D", 50, ((11, "t1"),), received_ns=50)
    answer = OutboundMessage(KEY, "8", ((11, "t1"), (150, "8")))
    h.feed(Throttled(NAME, msg, answer, "gw-x-8", logout=True))
    assert [(d.cl_ord_id, d.accepted) for d in h.book.decisions] == [("t1", False)]
    assert h.book.sent == [answer] and [type(a).__name__ for a in h.book.other] == ["Logout"]


def test_exec_id_is_never_sent_twice_and_a_replayed_fill_changes_nothing() -> None:
    h = Harness()
    h.new("c1")
    h.ack(h.last_call())
    h.feed(tx("T1", "40"))
    rid = next(iter(h.book.orders))
    assert h.book.orders[rid].cum_qty == Decimal(40)
    assert h.feed(tx("T1", "40")) == []  # the same transaction again (reconciliation replay)
    assert h.book.orders[rid].cum_qty == Decimal(40)
    h.feed(ZenithOrderUpdate(Order.from_json(order("P1", None, "Working"))))
    exec_ids = [dict(m.fields).get(17) for m in h.book.sent]
    assert len(exec_ids) == len(set(exec_ids)) == 2  # New, then the fill


# --- ordering ---------------------------------------------------------------------------------------


def test_place_answer_is_handled_before_an_update_that_overtook_it() -> None:
    h = Harness()
    h.new("c1")
    call = h.last_call()
    # the Orders publish arrives first (same read as the answer): held, nothing reported yet
    assert h.feed(ZenithOrderUpdate(Order.from_json(order("P1", call, "Cancelled")))) == []
    h.ack(call)
    assert h.ers() == [("8", "0", "c1"), ("8", "4", "c1")]  # New (the answer) then Canceled (the update)


def test_a_fill_that_overtook_the_place_answer_is_reported_right_after_it() -> None:
    h = Harness()
    h.new("c1")
    call = h.last_call()
    # the Transactions publish arrives first (its order ID is not linked yet): kept, nothing sent
    actions = h.feed(tx("T1", "40"))
    assert h.ers() == [] and any(isinstance(a, Reconcile) for a in actions)
    h.ack(call)   # links P1: New, then the fill it had overtaken, at once (no reconciliation needed)
    assert h.ers() == [("8", "0", "c1"), ("8", "F", "c1")]
    h.feed(tx("T1", "40"))   # the same fill again (e.g. from reconciliation) changes nothing
    assert h.ers() == [("8", "0", "c1"), ("8", "F", "c1")]


def test_cancel_right_behind_new_order_waits_for_the_place_answer() -> None:
    h = Harness()
    h.new("c1")
    place = h.last_call()
    h.book.orders[place.request.data["RequestID"]] = h.book.orders[place.request.data["RequestID"]].evolve(
        order_id="P1")  # (linked by an early publish: cancellable, yet the PlaceOrder is unanswered)
    actions = h.cancel("x1", "c1")
    assert not any(isinstance(a, CallZenith) for a in actions)  # queued behind the PlaceOrder
    h.ack(place)
    assert h.last_call().kind is CallKind.CANCEL


# --- pending cancel / replace --------------------------------------------------------------------------


def _working(h: Harness) -> str:
    h.new("c1")
    h.ack(h.last_call())
    return next(iter(h.book.orders))


def test_replace_success_chains_the_clordid() -> None:
    h = Harness()
    rid = _working(h)
    h.replace("c2", "c1", "50", "11")
    assert h.book.orders[rid].pending_kind is PendingKind.REPLACE
    amend = h.last_call()
    assert amend.kind is CallKind.AMEND
    h.answer(amend, data={"Result": "Success"})
    rec = h.book.orders[rid]
    assert rec.pending_kind is None and rec.cl_ord_id == "c2" and rec.terms.order_qty == Decimal(50)
    assert h.ers()[-1] == ("8", "5", "c2")


def test_second_request_while_pending_is_refused_already_pending() -> None:
    h = Harness()
    _working(h)
    h.replace("c2", "c1", "50", "11")
    h.cancel("x1", "c1")
    last = h.book.sent[-1]
    assert last.msg_type == "9" and dict(last.fields)[102] == "3"
    assert [d.accepted for d in h.book.decisions] == [True, True, False]


def test_cancel_refused_by_plxtra_clears_pending_and_answers_9() -> None:
    h = Harness()
    rid = _working(h)
    h.cancel("x1", "c1")
    h.answer(h.last_call(), Answer.ERROR, errors=("OrderNotFound",))
    assert h.book.orders[rid].pending_kind is None
    assert h.book.sent[-1].msg_type == "9" and dict(h.book.sent[-1].fields)[11] == "x1"


def test_cancel_success_waits_for_the_feed_then_reports_canceled_on_the_f_clordid() -> None:
    h = Harness()
    rid = _working(h)
    h.cancel("x1", "c1")
    n = len(h.book.sent)
    h.answer(h.last_call(), data={"Result": "Success"})
    assert len(h.book.sent) == n and h.book.orders[rid].pending_kind is PendingKind.CANCEL
    h.feed(ZenithOrderUpdate(Order.from_json(order("P1", None, "Cancelled"))))
    assert h.ers()[-1] == ("8", "4", "x1") and h.book.orders[rid].pending_kind is None


def test_amend_timeout_is_sent_again_with_the_same_request_id_never_rejected() -> None:
    h = Harness()
    rid = _working(h)
    h.replace("c2", "c1", "50", "11")
    amend = h.last_call()
    n_sent = len(h.book.sent)
    h.answer(amend, Answer.UNKNOWN, errors=("timeout",))
    assert len(h.book.sent) == n_sent  # no reject: the outcome is unknown
    (key, at), = ((k, v) for k, v in h.book.timers.items() if k[0] == "retry")
    assert at == h.mono + 0.25
    h.mono = at
    h.feed(TimerFired(key))
    again = h.last_call()
    assert again is not amend and again.request == amend.request  # same RequestID
    assert h.core.busy
    h.answer(again, Answer.UNKNOWN)
    assert max(v for k, v in h.book.timers.items() if k[0] == "retry") == h.mono + 0.5  # backing off
    h.feed(TimerFired(key))
    h.answer(h.last_call(), data={"Result": "Success"})
    assert h.book.orders[rid].cl_ord_id == "c2" and not h.core.busy


def test_cancel_timeout_retry_stops_when_the_feed_settles_the_order() -> None:
    h = Harness()
    rid = _working(h)
    h.cancel("x1", "c1")
    cancel = h.last_call()
    h.answer(cancel, Answer.UNKNOWN)
    h.feed(ZenithOrderUpdate(Order.from_json(order("P1", None, "Cancelled"))))
    calls = len(h.book.calls)
    h.feed(TimerFired(("retry", cancel.call_id)))
    assert len(h.book.calls) == calls and not h.core.busy
    assert h.book.orders[rid].state is OrderState.CANCELED


def test_pending_status_timer_reports_pending_once() -> None:
    h = Harness(pending_status_after=2.0)
    _working(h)
    h.cancel("x1", "c1")
    key = next(k for k in h.book.timers if k[0] == "pending" and k[-1] == "F")
    h.feed(TimerFired(key))
    h.feed(TimerFired(key))
    assert [e for e in h.ers() if e[1] == "6"] == [("8", "6", "x1")]


def test_pending_new_timer_goes_with_a_definite_placeorder_answer_and_stays_without_one() -> None:
    """An answered D needs no Pending New: its timer is cancelled with the answer (a timer firing
    for nothing costs an event per order). An unknown outcome keeps it: Pending New then follows."""
    h = Harness(pending_status_after=2.0)
    h.new("c1")
    call = h.last_call()
    key = ("pending", call.request.data["RequestID"], "c1", "D")
    assert h.book.timers == {key: h.mono + 2.0}
    h.ack(call)
    assert key not in h.book.timers and h.ers() == [("8", "0", "c1")]

    h.new("c2")
    call = h.last_call()
    key = ("pending", call.request.data["RequestID"], "c2", "D")
    h.answer(call, Answer.UNKNOWN, errors=("timeout",))
    assert key in h.book.timers
    h.feed(TimerFired(key))
    assert h.ers()[-1] == ("8", "A", "c2")


def test_cancel_on_a_finished_order_is_too_late() -> None:
    h = Harness()
    _working(h)
    h.feed(ZenithOrderUpdate(Order.from_json(order("P1", None, "Expired"))))
    h.cancel("x1", "c1")
    assert h.book.sent[-1].msg_type == "9" and dict(h.book.sent[-1].fields)[102] == "0"


# --- fill hold ---------------------------------------------------------------------------------------


def test_terminal_update_ahead_of_its_fills_is_held_until_they_arrive() -> None:
    h = Harness()
    rid = _working(h)
    h.feed(ZenithOrderUpdate(Order.from_json(order("P1", None, "Expired", executed="60"))))
    assert not is_terminal(h.book.orders[rid].state) and ("hold", rid) in h.book.timers
    h.feed(tx("T1", "20"))
    assert not is_terminal(h.book.orders[rid].state)
    h.feed(tx("T2", "40"))  # covers ExecutedQuantity 60: released, timer cancelled
    assert h.book.orders[rid].state is OrderState.EXPIRED and ("hold", rid) not in h.book.timers
    assert [e[1] for e in h.ers()] == ["0", "F", "F", "C"]  # fills first, then Expired


def test_held_update_is_released_after_fetching_fills_at_the_deadline() -> None:
    h = Harness()
    rid = _working(h)
    h.feed(ZenithOrderUpdate(Order.from_json(order("P1", None, "Cancelled", executed="30"))))
    h.feed(TimerFired(("hold", rid)))
    fetch = h.last_call()
    assert fetch.kind is CallKind.FILLS and fetch.request.data == {"Account": "XS:0001", "OrderID": "P1"}
    rows = [{"ID": "T9", "Account": "XS:0001", "OrderID": "P1", "Exchange": "XSX", "Code": "XS01",
             "TotalQuantity": "30", "AveragePrice": "10"}]
    h.answer(fetch, data=rows)
    assert [e[1] for e in h.ers()] == ["0", "F", "4"] and h.book.orders[rid].state is OrderState.CANCELED


def test_unknown_place_outcome_asks_for_reconciliation() -> None:
    h = Harness()
    h.new("c1")
    actions = h.answer(h.last_call(), Answer.UNKNOWN, errors=("timeout",))
    assert [a for a in actions if isinstance(a, Reconcile)]
    assert next(iter(h.book.orders.values())).state is OrderState.PENDING_NEW


# --- notional check, sessions, reconciliation ------------------------------------------------------------


def _market(h: Harness, cl: str, qty: str) -> list[Action]:
    return h.fix("D", [(11, cl), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, qty), (40, "1"),
                       (59, "0"), (60, "20260105-01:00:00")])


def test_market_order_is_checked_against_a_reference_before_it_is_placed() -> None:
    h = Harness()
    _market(h, "m1", "1000")
    query = h.last_call()
    assert query.kind is CallKind.REFERENCE and query.request.topic == "QuerySecurity"
    h.answer(query, data={"BestAsk": "10"})  # 10,000 <= 5,000,000: placed
    assert h.last_call().kind is CallKind.PLACE
    _market(h, "m2", "99999")  # the cached reference: no second query; 999,990 is under the limit too
    assert h.last_call().kind is CallKind.PLACE
    h.mono += 1.0
    h.book.calls.clear()
    h.core._references = type(h.core._references)()
    _market(h, "m3", "99999")
    h.answer(h.last_call(), data={"BestAsk": "100"})  # 9,999,900 > 5,000,000: rejected, never placed
    assert h.last_call().kind is CallKind.REFERENCE and h.ers()[-1][1] == "8"


def test_logout_with_cancel_on_disconnect_cancels_every_working_order_unsolicited() -> None:
    h = Harness(cancel_on_disconnect=True)
    rid = _working(h)
    h.feed(SessionLogout(NAME))
    cancel = h.last_call()
    assert cancel.kind is CallKind.CANCEL and h.book.orders[rid].pending_kind is None  # unsolicited
    h.answer(cancel, Answer.ERROR, errors=("OrderNotFound",))
    assert h.book.sent[-1].msg_type == "8"  # no 9 for a cancel the partner did not ask for


def test_cancel_all_and_order_lost() -> None:
    h = Harness()
    rid = _working(h)
    h.feed(CancelAll(account="XS:0002"))
    assert h.last_call().kind is CallKind.PLACE  # other account: nothing asked
    h.feed(CancelAll(name=NAME))
    assert h.last_call().kind is CallKind.CANCEL
    h.feed(OrderLost(rid))
    assert h.book.orders[rid].state is OrderState.CANCELED and h.ers()[-1][1] == "4"


def test_reconciled_replaces_unanswered_place_orders_and_redrives_pending_requests() -> None:
    h = Harness()
    h.new("c1")
    place = h.last_call()
    rid = place.request.data["RequestID"]
    h.feed(Reconciled(replace=(rid,)))
    assert h.last_call() is place  # a PlaceOrder still in flight is not sent twice
    h.answer(place, Answer.UNKNOWN)
    h.feed(Reconciled(replace=(rid,)))
    assert h.last_call().request == place.request  # the same RequestID again
    h.ack(h.last_call())
    # a restart: the accepted G is recorded pending, nobody sends it
    h.book.orders[rid] = h.book.orders[rid].evolve(pending_kind=PendingKind.REPLACE, pending_cl_ord_id="c2",
                                                   pending_request_id="gw-amend",
                                                   pending_terms=h.book.orders[rid].terms)
    h.core = OrderCore([SESSION], h.book)
    h.feed(Reconciled(redrive=(rid,)))
    amend = h.last_call()
    assert amend.kind is CallKind.AMEND and amend.request.data["RequestID"] == "gw-amend"
    h.feed(Reconciled(redrive=(rid,)))
    assert h.last_call() is amend  # driven already: not twice


def test_status_and_mass_cancel() -> None:
    h = Harness()
    _working(h)
    out = h.fix("H", [(11, "c1"), (55, "XS01"), (54, "1")])
    assert [type(a).__name__ for a in out] == ["SendFix"] and dict(out[0].message.fields)[39] == "0"  # type: ignore[union-attr]
    h.fix("q", [(11, "mc1"), (530, "7"), (60, "20260105-01:00:00")])
    assert h.book.sent[-1].msg_type == "r" and h.last_call().kind is CallKind.CANCEL
    assert [(d.cl_ord_id, d.accepted) for d in h.book.decisions][-1] == ("mc1", True)


def test_amend_of_unknown_outcome_on_an_order_that_filled_meanwhile_gets_no_reject() -> None:
    h = Harness()
    rid = _working(h)
    h.replace("c2", "c1", "50", "11")
    h.feed(tx("T1", "100"))  # filled while the AmendOrder is out
    n = len(h.book.sent)
    h.answer(h.last_call(), Answer.UNKNOWN)
    assert len(h.book.sent) == n and not h.core.busy  # not retried, and no 9 built from a non-answer
    assert h.book.orders[rid].state is OrderState.FILLED


# --- the one payload model: what the core does with what the spec leaves out -----------------------


def test_transaction_without_quantity_or_price_is_skipped_never_a_fill_of_zero(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    rid = _working(h)
    row = {"ID": "T1", "Account": "XS:0001", "OrderID": "P1", "Exchange": "XSX", "Code": "XS01"}
    with caplog.at_level(logging.ERROR):
        assert h.feed(ZenithTransaction(Transaction.from_json({**row, "AveragePrice": "10"}))) == []
        assert h.feed(ZenithTransaction(Transaction.from_json({**row, "TotalQuantity": "5"}))) == []
    assert [e[1] for e in h.ers()] == ["0"] and h.book.orders[rid].cum_qty == 0
    assert caplog.text.count("no TotalQuantity/AveragePrice") == 2


def test_terminal_update_without_executed_quantity_is_not_held() -> None:
    h = Harness()
    rid = _working(h)
    obj = order("P1", None, "Expired")
    del obj["ExecutedQuantity"]  # unknown: there are no fills to wait for, not "0 executed"
    h.feed(ZenithOrderUpdate(Order.from_json(obj)))
    assert h.book.orders[rid].state is OrderState.EXPIRED and ("hold", rid) not in h.book.timers
