"""Sans-I/O core: containers, §1.13 classification, calls, subscriptions -- no socket."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from gateway.zenith.errors import (
    ZenithConnectionError,
    ZenithInvalidText,
    ZenithRequestError,
    ZenithSubscriptionLost,
)
from gateway.zenith.events import StreamReset, SubscriptionClosed, SubscriptionData
from gateway.zenith.protocol import (
    ERROR_HOLD,
    MAX_SUB_DROPS,
    CallFailed,
    CallResult,
    ControllerError,
    Deliver,
    ErrorHeld,
    ZenithProtocol,
    backoff_delay,
    backoff_start,
    error_from_data,
    refresh_delay,
)


def ready_core() -> ZenithProtocol:
    core = ZenithProtocol()
    core.connection_made()
    core.resubscribe()
    return core


def frame(**fields: object) -> str:
    return json.dumps(fields)


def deliver_to(outcome: object) -> list[object]:
    """Run a Deliver the way the edge does; returns the events each active subscriber saw."""
    assert isinstance(outcome, Deliver)
    seen = []
    for sub in outcome.subscriptions:
        if sub.active:
            sub.callback(outcome.event)
            seen.append(outcome.event)
    return seen


# -- calls -------------------------------------------------------------------------------------


def test_call_frame_and_result_with_decimals() -> None:
    core = ready_core()
    body = {"LimitPrice": Decimal("9.950"), "Quantity": 100}
    tid, text = core.start_call("Trading", "PlaceOrder", body, "w1")
    assert tid == 1
    assert json.loads(text) == {
        "Controller": "Trading", "Topic": "PlaceOrder", "TransactionID": 1,
        "Data": {"LimitPrice": 9.95, "Quantity": 100},
    }
    assert '"LimitPrice":9.95' in text  # plain minimal number, never a float expansion
    tid2, _ = core.start_call("Market", "QueryMarkets", None, "w2")
    assert tid2 == 2
    # Topic is ignored on results (§1.6): an Identify-topic answer still completes call 1.
    out = core.receive(
        '{"Controller":"Trading","Topic":"Identify","TransactionID":1,"Data":{"Price":10.05,"N":3}}'
    )
    assert isinstance(out, CallResult)
    assert out.waiter == "w1"
    assert out.data == {"Price": Decimal("10.05"), "N": 3}
    assert type(out.data["Price"]) is Decimal and type(out.data["N"]) is int
    assert core.pending_count == 1
    # A second answer with the same ID (late/duplicate) is dropped.
    assert core.receive('{"Controller":"Trading","Topic":"PlaceOrder","TransactionID":1,"Data":{}}') is None


def test_transaction_id_as_string_or_decimal_still_matches() -> None:
    core = ready_core()
    core.start_call("Market", "QueryMarkets", None, "a")
    core.start_call("Market", "QueryMarkets", None, "b")
    first = core.receive('{"TransactionID":"1","Data":[]}')
    second = core.receive('{"TransactionID":2.0,"Data":[]}')
    assert isinstance(first, CallResult) and first.waiter == "a"
    assert isinstance(second, CallResult) and second.waiter == "b"
    assert core.receive('{"TransactionID":[3],"Data":[]}') is None


def test_call_defaults_apply_when_properties_missing() -> None:
    core = ready_core()
    core.start_call("Zenith", "ServerInfo", None, "w")
    out = core.receive('{"TransactionID":1}')  # Controller/Action/Data all defaulted (§1.4)
    assert isinstance(out, CallResult) and out.data is None


def test_error_alone_fails_after_hold() -> None:
    core = ready_core()
    tid, _ = core.start_call("Trading", "PlaceOrder", {}, "w")
    out = core.receive(frame(Controller="Trading", Topic="PlaceOrder", Action="Error", TransactionID=tid,
                             Data="Account.NotFound XS:9999"))
    assert isinstance(out, ErrorHeld)
    assert out.transaction_id == tid and out.delay == ERROR_HOLD
    failed = core.expire_error(tid)
    assert isinstance(failed, CallFailed) and failed.waiter == "w"
    assert isinstance(failed.error, ZenithRequestError)
    assert (failed.error.code, failed.error.suffix) == ("Account.NotFound", "XS:9999")
    assert failed.error.topic == "PlaceOrder"
    assert core.pending_count == 0
    assert core.expire_error(tid) is None


def test_error_then_result_completes_with_warning() -> None:
    core = ready_core()
    tid, _ = core.start_call("Market", "QueryMixedMarket", {"Markets": ["XSX"]}, "w")
    assert isinstance(core.receive(frame(Controller="Market", Action="Error", TransactionID=tid,
                                         Data="Strategy Bad")), ErrorHeld)
    # A second error does not ask for a second timer.
    second = frame(Controller="Market", Action="Error", TransactionID=tid, Data="Market.Tag")
    assert core.receive(second) is None
    out = core.receive(frame(Controller="Market", Topic="QueryMixedMarket", TransactionID=tid, Data=None))
    assert isinstance(out, CallResult)
    assert [w.code for w in out.warnings] == ["Strategy", "Market.Tag"]
    assert core.expire_error(tid) is None  # the hold timer finds nothing to fail


def test_two_errors_combine_when_no_result() -> None:
    core = ready_core()
    tid, _ = core.start_call("Market", "X", None, "w")
    core.receive(frame(Action="Error", TransactionID=tid, Data="Fault"))
    core.receive(frame(Action="Error", TransactionID=tid, Data="Retry"))
    failed = core.expire_error(tid)
    assert failed is not None
    assert failed.error.errors == (("Fault", ""), ("Retry", ""))


@pytest.mark.parametrize(
    ("data", "code", "suffix", "count"),
    [
        ("Symbol.NotFound NOPE.XSX", "Symbol.NotFound", "NOPE.XSX", 1),
        ("Authority", "Authority", "", 1),
        (["Limited", "Market.NotFound ABC DEF"], "Limited", "", 2),
        ({"Code": "Account.Authority XS:0002"}, "Account.Authority", "XS:0002", 1),
        ({"Result": "Reject"}, "Reject", "", 1),
        ({"Weird": 1}, "Error", '{"Weird":1}', 1),
        (None, "Error", "", 1),
    ],
)
def test_error_data_shapes(data: object, code: str, suffix: str, count: int) -> None:
    err = error_from_data("Market", "T", data)
    assert (err.code, err.suffix) == (code, suffix)
    assert len(err.errors) == count
    assert err.data == data
    if isinstance(data, list):
        assert err.errors[1] == ("Market.NotFound", "ABC DEF")  # split at the FIRST space only


def test_error_for_unknown_transaction_is_controller_error() -> None:
    core = ready_core()
    out = core.receive(frame(Controller="Trading", Action="Error", Data="Fault"))
    assert isinstance(out, ControllerError) and out.error.code == "Fault"
    out = core.receive(frame(Controller="Trading", Action="Error", TransactionID=99, Data="Fault"))
    assert isinstance(out, ControllerError)


def test_not_connected_call_raises_and_loss_fails_pending() -> None:
    core = ZenithProtocol()
    with pytest.raises(ZenithConnectionError):
        core.start_call("Market", "QueryMarkets", None, "w")
    core.connection_made()
    core.start_call("Market", "QueryMarkets", None, "a")
    core.start_call("Market", "QueryMarkets", None, "b")
    err = ZenithConnectionError("gone", 1001)
    failed = core.connection_lost(err)
    assert [f.waiter for f in failed] == ["a", "b"]
    assert all(f.error is err for f in failed)
    assert core.pending_count == 0
    # TransactionIDs keep counting across connections: a stale timer can never hit a new call.
    core.connection_made()
    tid, _ = core.start_call("Market", "QueryMarkets", None, "c")
    assert tid == 3


def test_abandon_sends_cancel_and_ignores_late_result() -> None:
    core = ready_core()
    tid, _ = core.start_call("Trading", "QueryOrders", {"Account": "XS:0001"}, "w")
    assert core.abandon_call(tid, "someone-else") is None  # waiter identity is checked
    cancel = core.abandon_call(tid, "w")
    assert cancel is not None
    assert json.loads(cancel) == {"Controller": "Trading", "Topic": "QueryOrders", "Action": "Cancel",
                                  "TransactionID": tid}
    assert core.abandon_call(tid, "w") is None
    assert core.receive(frame(Controller="Trading", Topic="QueryOrders", TransactionID=tid, Data=[])) is None


def test_non_object_frame_raises() -> None:
    core = ready_core()
    with pytest.raises(ValueError):
        core.receive("[1,2]")
    with pytest.raises(ValueError):
        core.receive("not json")


# -- subscriptions -----------------------------------------------------------------------------


def test_refcount_one_sub_on_the_wire() -> None:
    core = ready_core()
    got_a: list[object] = []
    got_b: list[object] = []
    a, frames_a, d = core.subscribe("Market", "Depth!XS01.XSX", got_a.append)
    assert d is None
    assert [json.loads(f) for f in frames_a] == [
        {"Controller": "Market", "Topic": "Depth!XS01.XSX", "Action": "Sub", "Confirm": True}
    ]
    b, frames_b, d = core.subscribe("Market", "Depth!XS01.XSX", got_b.append)
    assert frames_b == [] and d is None  # snapshot not seen yet: b simply joins
    assert core.subscriber_count("Market", "Depth!XS01.XSX") == 2

    out = core.receive('{"Controller":"Market","Topic":"Depth!XS01.XSX","Data":[{"O":"C"}]}')
    deliver_to(out)
    confirm = '{"Controller":"Market","Topic":"Depth!XS01.XSX","Action":"Sub","Confirm":true}'
    assert core.receive(confirm) is None
    assert got_a == got_b == [SubscriptionData("Market", "Depth!XS01.XSX", [{"O": "C"}])]

    assert core.unsubscribe(a) == []
    (unsub,) = core.unsubscribe(b)
    assert json.loads(unsub) == {"Controller": "Market", "Topic": "Depth!XS01.XSX", "Action": "Unsub",
                                 "Confirm": True}
    assert core.unsubscribe(b) == []
    # Publishes still in flight for the old subscription are dropped.
    assert core.receive('{"Controller":"Market","Topic":"Depth!XS01.XSX","Data":[{"O":"R"}]}') is None


def test_same_topic_other_controller_is_another_key() -> None:
    core = ready_core()
    _, f1, _ = core.subscribe("Market", "X", lambda e: None)
    _, f2, _ = core.subscribe("Trading", "X", lambda e: None)
    assert len(f1) == len(f2) == 1


def test_late_joiner_resyncs_and_old_stream_is_drained() -> None:
    core = ready_core()
    old: list[object] = []
    new: list[object] = []
    core.subscribe("Market", "Security!XS01.XSX", old.append)
    deliver_to(core.receive('{"Controller":"Market","Topic":"Security!XS01.XSX","Data":{"Code":"XS01","Last":10}}'))
    _, frames, reset = core.subscribe("Market", "Security!XS01.XSX", new.append)
    assert [json.loads(f)["Action"] for f in frames] == ["Unsub", "Sub"]
    deliver_to(reset)
    assert old[-1] == StreamReset("Market", "Security!XS01.XSX")
    assert new == []
    # A diff of the old stream, still in flight, must not reach anyone.
    assert core.receive('{"Controller":"Market","Topic":"Security!XS01.XSX","Data":{"Last":11}}') is None
    assert core.receive('{"Controller":"Market","Topic":"Security!XS01.XSX","Action":"Unsub"}') is None
    deliver_to(core.receive('{"Controller":"Market","Topic":"Security!XS01.XSX","Data":{"Code":"XS01","Last":11}}'))
    snapshot = SubscriptionData("Market", "Security!XS01.XSX", {"Code": "XS01", "Last": 11})
    assert old[-1] == snapshot and new == [snapshot]


def test_resync_can_be_disabled() -> None:
    core = ready_core()
    core.subscribe("Market", "T", lambda e: None)
    core.receive('{"Controller":"Market","Topic":"T","Data":[]}')
    _, frames, reset = core.subscribe("Market", "T", lambda e: None, resync=False)
    assert frames == [] and reset is None


def test_subscription_failure_error_then_echo() -> None:
    core = ready_core()
    got: list[object] = []
    core.subscribe("Market", "Depth!NOPE.XSX", got.append)
    out = core.receive(frame(Controller="Market", Topic="Depth!NOPE.XSX", Action="Error",
                             Data="Symbol.NotFound NOPE.XSX"))
    deliver_to(out)
    assert len(got) == 1 and isinstance(got[0], SubscriptionClosed)
    assert got[0].error is not None and got[0].error.code == "Symbol.NotFound"
    assert core.subscriber_count("Market", "Depth!NOPE.XSX") == 0
    # The failed-Sub echo (§1.7.2) is swallowed, even if the owner subscribed again meanwhile.
    again: list[object] = []
    core.subscribe("Market", "Depth!NOPE.XSX", again.append)
    assert core.receive(frame(Controller="Market", Topic="Depth!NOPE.XSX", Action="Sub",
                              Data="Symbol.NotFound NOPE.XSX")) is None
    assert core.subscriber_count("Market", "Depth!NOPE.XSX") == 1


def test_sub_failure_without_prior_error() -> None:
    core = ready_core()
    got: list[object] = []
    core.subscribe("Market", "Trades!X.XSX", got.append)
    deliver_to(core.receive(frame(Controller="Market", Topic="Trades!X.XSX", Action="Sub",
                                  Data=["Symbol.Unavailable X.XSX"])))
    assert isinstance(got[0], SubscriptionClosed) and got[0].error.code == "Symbol.Unavailable"


def test_sub_action_with_object_data_is_data() -> None:
    core = ready_core()
    got: list[object] = []
    core.subscribe("Market", "Markets", got.append)
    deliver_to(core.receive('{"Controller":"Market","Topic":"Markets","Action":"Sub","Data":[{"Code":"XSX"}]}'))
    assert got == [SubscriptionData("Market", "Markets", [{"Code": "XSX"}])]


def test_server_unsubscribe_after_error_closes_with_reason() -> None:
    core = ready_core()
    got: list[object] = []
    core.subscribe("Market", "Security!XS01.XSX", got.append)
    core.receive('{"Controller":"Market","Topic":"Security!XS01.XSX","Data":{"Code":"XS01"}}')
    core.receive('{"Controller":"Market","Topic":"Security!XS01.XSX","Action":"Sub","Confirm":true}')
    out = core.receive(frame(Controller="Market", Topic="Security!XS01.XSX", Action="Error",
                             Data="Symbol.Authority XS01.XSX"))
    assert isinstance(out, ControllerError)  # confirmed topic: wait for the Unsub that follows
    unsub = frame(Controller="Market", Topic="Security!XS01.XSX", Action="Unsub", Confirm=True)
    deliver_to(core.receive(unsub))
    assert isinstance(got[-1], SubscriptionClosed)
    assert got[-1].error.code == "Symbol.Authority"
    assert core.subscriber_count("Market", "Security!XS01.XSX") == 0


def test_unsubscribed_topic_data_dropped() -> None:
    core = ready_core()
    assert core.receive('{"Controller":"Market","Topic":"Depth!XS09.XSX","Data":[]}') is None


def test_reconnect_resubscribes_with_stream_reset() -> None:
    core = ready_core()
    live: list[object] = []
    core.subscribe("Trading", "Orders!XS:0001", live.append)
    deliver_to(core.receive('{"Controller":"Trading","Topic":"Orders!XS:0001","Data":[{"O":"C"}]}'))
    core.connection_lost(ZenithConnectionError("gone", 1006))
    # Subscribed while offline: nothing on the wire, no reset later.
    offline: list[object] = []
    _, frames, _ = core.subscribe("Market", "Depth!XS02.XSX", offline.append)
    assert frames == []
    assert core.receive('{"Controller":"Trading","Topic":"Orders!XS:0001","Data":[]}') is None
    core.connection_made()
    # Not ready until authenticated: a new subscription waits for resubscribe().
    _, frames, _ = core.subscribe("Market", "Levels!XS03.XSX", lambda e: None)
    assert frames == []
    deliveries, frames = core.resubscribe()
    topics = sorted(json.loads(f)["Topic"] for f in frames)
    assert topics == ["Depth!XS02.XSX", "Levels!XS03.XSX", "Orders!XS:0001"]
    for d in deliveries:
        deliver_to(d)
    assert live[-1] == StreamReset("Trading", "Orders!XS:0001")
    assert offline == []


def test_close_all_tells_subscribers() -> None:
    core = ready_core()
    got: list[object] = []
    core.subscribe("Market", "Markets", got.append)
    err = ZenithConnectionError("stopped")
    for d in core.close_all(err):
        deliver_to(d)
    assert got == [SubscriptionClosed("Market", "Markets", err)]


def test_subscription_close_is_idempotent() -> None:
    released = []
    core = ready_core()
    sub, _, _ = core.subscribe("Market", "Markets", lambda e: None, released.append)
    sub.close()
    sub.close()
    assert released == [sub] and not sub.active


# -- policies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1008, 1011, 1012])
def test_reconnect_codes_start_from_the_initial_delay(code: int | None) -> None:
    assert backoff_start(code) == 0


@pytest.mark.parametrize("code", [1002, 1007, 1009, 4000, 4001])
def test_fatal_codes_still_reconnect_but_from_the_longest_delay(code: int) -> None:
    start = backoff_start(code)
    assert backoff_delay(start, 0.25, 30.0, lambda: 1.0) == 30.0


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert backoff_delay(0, 0.5, 30, lambda: 0.0) == 0.25
    assert backoff_delay(0, 0.5, 30, lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 30, lambda: 1.0) == 4.0
    assert backoff_delay(20, 0.5, 30, lambda: 1.0) == 30.0
    assert backoff_delay(500, 0.5, 30, lambda: 0.5) == 22.5


def test_refresh_delay() -> None:
    assert refresh_delay(3600) == pytest.approx(2880)   # 80 %
    assert refresh_delay(600) == pytest.approx(420)     # 3 minutes before expiry
    assert refresh_delay(100) == pytest.approx(50)      # short lifetimes: half-way


# -- text that is not valid, and subscriptions that keep killing the connection (issue 9) ---------

NOT_TEXT = "XS02\udcff\udcfe"   # bytes 0xFF 0xFE of a FIX field, as the SWIG binding decodes them


def test_topic_that_is_not_text_is_refused_locally() -> None:
    core = ready_core()
    got: list[object] = []
    sub, frames, delivery = core.subscribe("Market", f"Security!{NOT_TEXT}.XSX", got.append)
    assert frames == []   # nothing on the wire
    assert core.topics() == []
    deliver_to(delivery)
    (closed,) = got
    assert isinstance(closed, SubscriptionClosed) and isinstance(closed.error, ZenithInvalidText)
    assert closed.error.code == "Data.InvalidText"
    sub.close()   # harmless
    assert core.resubscribe() == ([], [])   # and never re-sent


def test_call_with_a_value_that_is_not_text_is_refused_before_it_is_registered() -> None:
    core = ready_core()
    with pytest.raises(ZenithInvalidText) as info:
        core.start_call("Trading", "PlaceOrder", {"Account": "XS:0001", "Details": {"Code": NOT_TEXT}}, None)
    assert isinstance(info.value, ZenithRequestError)   # a definite refusal for the caller
    with pytest.raises(ZenithInvalidText):
        core.start_call("Trading", NOT_TEXT, None, None)
    assert core.pending_count == 0


def test_valid_non_ascii_text_still_goes_out() -> None:
    core = ready_core()
    # An astral character is escaped as a surrogate *pair* by the encoder: valid text.
    _, text = core.start_call("Trading", "PlaceOrder", {"Text": "caf\u00e9 \U0001f600 \\ud"}, None)
    assert json.loads(text)["Data"]["Text"] == "caf\u00e9 \U0001f600 \\ud"
    _, frames, _ = core.subscribe("Market", "Security!CAF\u00c9.XSX", lambda e: None)
    assert len(frames) == 1


def _drop(core: ZenithProtocol) -> list[object]:
    core.connection_lost(ZenithConnectionError("gone", 1006))
    seen: list[object] = []
    for d in core.take_abandoned():
        seen += deliver_to(d)
    core.connection_made()
    core.resubscribe()
    return seen


def test_sub_first_unanswered_at_every_drop_is_given_up_after_a_bound() -> None:
    core = ready_core()
    got: dict[str, list[object]] = {"ok": [], "bad": [], "after": []}
    core.subscribe("Market", "Depth!XS01.XSX", got["ok"].append)
    core.subscribe("Market", "Depth!KILL.XSX", got["bad"].append)
    core.subscribe("Market", "Depth!XS03.XSX", got["after"].append)   # sent after it: never processed
    for drop in range(1, MAX_SUB_DROPS + 1):
        # The server answers the first Sub, then dies on the second one.
        core.receive('{"Controller":"Market","Topic":"Depth!XS01.XSX","Data":[{"O":"C"}]}')
        seen = _drop(core)
        if drop < MAX_SUB_DROPS:
            assert seen == [] and len(core.topics()) == 3
    assert isinstance(got["bad"][-1], SubscriptionClosed)
    assert isinstance(got["bad"][-1].error, ZenithSubscriptionLost)
    assert got["bad"][-1].error.drops == MAX_SUB_DROPS
    assert sorted(t for _, t in core.topics()) == ["Depth!XS01.XSX", "Depth!XS03.XSX"]
    assert not [e for e in got["ok"] + got["after"] if isinstance(e, SubscriptionClosed)]


def test_an_answer_forgives_earlier_drops() -> None:
    core = ready_core()
    got: list[object] = []
    core.subscribe("Market", "Depth!XS01.XSX", got.append)
    for _ in range(5 * MAX_SUB_DROPS):
        _drop(core)   # unrelated drop before the answer
        _drop(core)
        core.receive('{"Controller":"Market","Topic":"Depth!XS01.XSX","Action":"Sub","Confirm":true}')
    assert core.subscriber_count("Market", "Depth!XS01.XSX") == 1
    assert not [e for e in got if isinstance(e, SubscriptionClosed)]


def _confirm(core: ZenithProtocol, topic: str) -> None:
    core.receive(frame(Controller="Market", Topic=topic, Action="Sub", Confirm=True))


def _subs(frames: list[str]) -> list[str]:
    return [json.loads(f)["Topic"] for f in frames if json.loads(f).get("Action") == "Sub"]


def test_after_a_suspicious_drop_topics_are_subscribed_one_at_a_time() -> None:
    """Answers lost with a dropped batch must not blame an innocent topic: after a drop that left
    a Sub unanswered, the next connection sends the next Sub only once the previous is answered."""
    core = ZenithProtocol()
    got: dict[str, list[object]] = {t: [] for t in ("A", "KILL", "C")}
    for topic, events in got.items():
        core.subscribe("Market", topic, events.append)
    core.connection_made()
    _, frames = core.resubscribe()
    assert _subs(frames) == ["A", "KILL", "C"]   # normal mode: one burst
    # The server dies on KILL and the answer to A, written in the same batch, is lost too.
    core.connection_lost(ZenithConnectionError("gone", 1006))
    for _ in range(MAX_SUB_DROPS):
        core.connection_made()
        _, frames = core.resubscribe()
        assert _subs(frames) == ["A"]
        _confirm(core, "A")
        assert _subs(core.outbox) == ["KILL"]
        core.outbox.clear()
        core.connection_lost(ZenithConnectionError("gone", 1006))
        for d in core.take_abandoned():
            deliver_to(d)
    assert isinstance(got["KILL"][-1], SubscriptionClosed)
    assert not [e for e in got["A"] + got["C"] if isinstance(e, SubscriptionClosed)]
    # Next connection: A then C, one at a time, then back to bursts.
    core.connection_made()
    _, frames = core.resubscribe()
    assert _subs(frames) == ["A"]
    _confirm(core, "A")
    assert _subs(core.outbox) == ["C"]
    core.outbox.clear()
    core.receive(frame(Controller="Market", Topic="C", Data=[{"O": "C"}]))
    assert core.outbox == []
    _, frames, _ = core.subscribe("Market", "D", lambda e: None)
    _, more, _ = core.subscribe("Market", "E", lambda e: None)
    assert _subs(frames + more) == ["D", "E"]


def test_call_text_is_the_container_with_its_head_cached() -> None:
    """start_call's frame text, the (controller, topic) head cached: the text written before."""
    from gateway.zenith.values import dumps

    core = ZenithProtocol()
    core.connection_made()
    for controller, topic in [("Trading", "PlaceOrder"), ("Trading", "PlaceOrder"), ("Market", 'Q"x\\y'),
                              ("Trading", "caf\u00e9 \U0001F600"), ("Trading", "PlaceOrder")]:
        body = {"Account": "XS:0001", "Details": {"LimitPrice": Decimal("9.950"), "Quantity": 100}}
        tid, text = core.start_call(controller, topic, body, object())
        enc = json.encoder.encode_basestring_ascii
        assert text == (f'{{"Controller":{enc(controller)},"Topic":{enc(topic)},'
                        f'"TransactionID":{tid},"Data":{dumps(body)}}}')
    with pytest.raises(ZenithInvalidText):
        core.start_call("Trading", "Place\ud800", {}, object())
    with pytest.raises(ZenithInvalidText):   # still refused after a valid call cached its head
        core.start_call("Trading", "PlaceOrder", {"A": "\ud800"}, object())
