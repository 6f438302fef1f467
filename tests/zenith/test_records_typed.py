"""Typed decoding of the order path's hot payloads gives what the lenient path gives, or refuses.

The rule under test (gateway/zenith/records_typed.py): for every document, either the typed
decoder refuses it (one of ``protocol.DECODE_REFUSED``; the client then hands the generic decode
to the orders service, which decides as before), or it returns exactly what the lenient path
(``values.loads`` of the ``Data``, then ``_action_response`` / ``_published`` + ``_parse_each``
+ ``Order.from_json``) returns: same types at every level, Decimals with the same digits and
exponent, datetimes with the same offset, and the lenient path logged nothing for it. Checked on
named cases, seeded generated documents and every frame of a simulator session; and the
container read with its ``Data`` raw (``protocol._Frame``) gives the same outcome as the whole
frame's generic decode, for every generated frame.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.app.orders_service import _action_response, _parse_each, _published
from gateway.zenith import SubscriptionData
from gateway.zenith.protocol import (
    DECODE_REFUSED,
    CallFailed,
    CallResult,
    ControllerError,
    Deliver,
    ErrorHeld,
    ZenithProtocol,
    _frame_decode,
)
from gateway.zenith.protocol import _value as data_value
from gateway.zenith.records import Order, OrderActionResponse
from gateway.zenith.records_typed import decode_action_answer, decode_orders_publish
from gateway.zenith.values import loads
from tests.zenith.sim_session import simulator_session
from tests.zenith.test_values_decoder import _number, _string, _value, _ws, same

REFUSED = object()


def same_model(a: Any, b: Any) -> bool:
    """Equal and of the same type at every level, through the records' dataclasses; Decimals by
    sign, digits and exponent; datetimes by value and offset."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same_model(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, Mapping):
        return list(a) == list(b) and all(same_model(a[k], b[k]) for k in a)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same_model(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is Decimal:
        return a.as_tuple() == b.as_tuple()
    if type(a) is datetime:
        return a == b and a.utcoffset() == b.utcoffset() and a.tzinfo == b.tzinfo
    return bool(a == b)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def logged() -> Iterator[list[logging.LogRecord]]:
    """Every record the gateway's loggers emit inside the block."""
    handler = _Records()
    root = logging.getLogger("gateway")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _typed(decode: Any, text: str) -> Any:
    try:
        return decode(text)
    except DECODE_REFUSED:
        return REFUSED


def check_answer(text: str) -> bool:
    """The rule for one action answer's Data text; returns whether the typed decoder accepted it."""
    typed = _typed(decode_action_answer, text)
    try:
        generic = loads(text)
    except ValueError:
        assert typed is REFUSED, text
        return False
    with logged() as records:
        lenient = _action_response(generic, "PlaceOrder")
    if typed is REFUSED:
        return False
    assert same_model(typed, lenient), (text, typed, lenient)
    assert not records, (text, [r.getMessage() for r in records])
    return True


def check_publish(text: str) -> bool:
    """The rule for one Orders publish's Data text."""
    typed = _typed(decode_orders_publish, text)
    try:
        generic = loads(text)
    except ValueError:
        assert typed is REFUSED, text
        return False
    with logged() as records:
        lenient = _parse_each(_published(generic, "Order"), Order.from_json, "Order of a publish")
    if typed is REFUSED:
        return False
    assert type(typed) is tuple
    assert same_model(list(typed), lenient), (text, typed, lenient)
    assert not records, (text, [r.getMessage() for r in records])
    return True


# -- named cases ------------------------------------------------------------------------------------

DETAILS = ('{"Exchange":"XSX","Code":"XS01","Side":"Bid","Style":"Market","Type":"Limit",'
           '"LimitPrice":%(price)s,"Quantity":100,"Validity":"UntilDay"%(dx)s}')
ORDER = ('{"ID":"61d0cb86","Account":"XS:0001","ExternalID":"Jz8","Status":"%(status)s",'
         '"Currency":"AUD","EstimatedValue":995,"CurrentValue":0,'
         '"CreatedDate":"2026-12-06T13:53:56.846+00:00","UpdatedDate":"%(updated)s",'
         '"Style":"Market","Details":' + DETAILS + ',"Route":%(route)s,"ExecutedQuantity":0,'
         '"AveragePrice":null%(ox)s}')


def order(price: str = "9.95", status: str = "Pending", updated: str = "2026-12-06T13:53:56.846+00:00",
          route: str = '{"Algorithm":"Market","Market":"XSX::XSX"}', ox: str = "", dx: str = "") -> str:
    return ORDER % {"price": price, "status": status, "updated": updated, "route": route, "ox": ox, "dx": dx}


def answer(order_text: str | None = None, extra: str = "") -> str:
    body = '{"Result":"Success","RequestID":"Jz8","EstimatedValue":995' + extra
    if order_text is not None:
        body += ',"Order":' + order_text
    return body + "}"


ACCEPTED_ANSWERS = [
    answer(order()),
    answer(order("9.950")),                      # digits kept: Decimal("9.950")
    answer(order("1E+2")),
    answer(order("-0.0")),
    answer(order('"9.95"')),                      # a number as a string (§8.21)
    answer(order("12345678901234567890.123456789012345678901")),
    answer(order("995")),
    answer(),                                    # no Order
    answer(None, ',"Order":null'),
    '{"Result":"Rejected","RequestID":"Jz8","Errors":["OrderLimitPrice 9.95","Other"]}',
    '{"Result":"Rejected","Errors":"OneString"}',
    answer(order(), ',"EstimatedBrokerage":1.10,"EstimatedTax":0.11'),
    answer(order(), ',"EstimatedFees":{"Brokerage":1.10,"Tax":"0.11"}'),
    answer(order(ox=',"Children":["a",1],"Condition":{"Name":"x","Price":1.5},"Unknown":[1,{"a":null}]')),
    answer(order(ox=',"EstimatedFees":{"Brokerage":2.5}')),
    answer(order(route='{"Algorithm":"BestMarket","Extra":1.25,"More":{"a":[1,2.50]}}')),
    answer(order(route="null")),
    answer(order(route='"not an object"')),      # not an object: no route, no warning
    answer(order(updated="2026-12-06T13:53:56+10:00")),
    answer(order(updated="20261206T135356Z")),
    answer(order(updated="2026-12-06")),
    answer(order(updated="2026-12-06T13:53:56.1234567")),  # no offset: UTC
    answer(order(dx=',"ExecutedQuantity":40,"AveragePrice":9.9')),
    answer(order(ox=',"Status":"OnMarket","ID":"second"')),  # duplicate keys: the last wins
    answer(order(ox=',"\\u0049D":"escaped"')),  # the same key written with an escape: the last wins
    answer(order().replace('"Side":"Bid"', '"Side":"B"').replace('"Style":"Market"', '"Style":"Equity"')),
    answer(order(dx=',"PhysicalDelivery":0,"Instructions":"x","ExpiryDate":"2026-12-31"')),
    answer(order(ox=',"ExecutedQuantity":null', dx=',"ExecutedQuantity":40')),  # null on the Order wins
    answer(order().replace(',"ExecutedQuantity":0', ""), ',"X":1'),  # from Details (absent there: None)
]

REFUSED_ANSWERS = [
    answer(order('"ten"')),                      # malformed price: the lenient path drops the Order
    answer(order(updated="yesterday")),          # a warning and None on the lenient path
    answer(order(route='{"Market":"XSX::XSX"}')),  # Route without Algorithm: a warning
    answer(order(ox=',"EstimatedFees":{"Brokerage":"x"}')),
    answer(order(ox=',"ID":null')),
    answer(order().replace('"Details":{', '"Details":"x","D":{')),
    answer(None, ',"Order":"a string"'),
    answer(None, ',"Order":{"ID":"x"}'),         # not a full Order: dropped and logged
    answer(order(ox=',"ID":12345')),             # a number where text belongs: the lenient str()
    answer(None, ',"RequestID":7'),
    '{"RequestID":"Jz8"}',                       # no Result
    '{"Result":null}',
    '[1,2]',
    '"Success"',
    'null',
]


def test_named_answers_typed_equal_lenient() -> None:
    for text in ACCEPTED_ANSWERS:
        assert check_answer(text), text


def test_named_answers_the_lenient_path_must_decide_are_refused() -> None:
    for text in REFUSED_ANSWERS:
        assert not check_answer(text), text


def test_typed_answer_keeps_decimal_digits_and_types() -> None:
    got = decode_action_answer(answer(order("9.950")))
    assert type(got) is OrderActionResponse and got.order is not None
    assert got.order.details.limit_price.as_tuple() == Decimal("9.950").as_tuple()  # type: ignore[union-attr]
    assert got.estimated_value == Decimal(995) and type(got.estimated_value) is Decimal
    assert got.order.updated_text == "2026-12-06T13:53:56.846+00:00"


def change(op: str, order_text: str | None = None, extra: str = "") -> str:
    return '{"O":"' + op + '"' + ("" if order_text is None else ',"Order":' + order_text) + extra + "}"


ACCEPTED_PUBLISHES = [
    "[]",
    "[" + change("A", order()) + "," + change("U", order("9.96", "OnMarket")) + "]",
    '[{"O":"C","Account":"XS:0001"},' + change("A", order()) + "]",
    "[" + change("R", order()) + "]",            # a full Order on an R: skipped as before
    '[{"O":"A"},{"O":"U","Account":"XS:0001"}]',   # an A/U without "Order": skipped
    "[" + change("A", order(), ',"O":"X"') + "]",  # duplicate O: the last wins, skipped
]

REFUSED_PUBLISHES = [
    '[{"O":"R","Order":{"ID":"x","Account":"XS:0001"}}]',  # R with ID + Account only
    '[{"O":"A","Order":null}]',
    "[" + change("A", order('"ten"')) + "," + change("U", order()) + "]",
    "[1," + change("A", order()) + "]",
    '{"O":"A"}',
    "null",
]


def test_named_publishes_typed_equal_lenient() -> None:
    for text in ACCEPTED_PUBLISHES:
        assert check_publish(text), text
    for text in REFUSED_PUBLISHES:
        assert not check_publish(text), text


# -- generated documents ---------------------------------------------------------------------------

_ORDER_FIELDS = ["ID", "Account", "Status", "Currency", "ExternalID", "DepthOrderID", "Exchange",
                 "TradingMarket", "Style", "EstimatedFees", "CurrentFees", "EstimatedValue", "CurrentValue",
                 "CreatedDate", "UpdatedDate", "Children", "Condition", "ExecutedQuantity", "AveragePrice",
                 "Route", "Details", "Other"]
_DETAIL_FIELDS = ["Exchange", "Code", "Side", "Style", "Type", "LimitPrice", "Quantity", "HiddenQuantity",
                  "MinimumQuantity", "Validity", "ExpiryDate", "ShortType", "BrokerageSchedule",
                  "Instructions", "UnitType", "UnitAmount", "Currency", "PhysicalDelivery",
                  "ExecutedQuantity", "AveragePrice", "Other"]
_ANSWER_FIELDS = ["Result", "RequestID", "Errors", "EstimatedFees", "EstimatedBrokerage", "EstimatedTax",
                  "EstimatedValue", "Order", "Other"]
_TYPICAL = {
    "LimitPrice": ["9.95", "1", '"9.95"', "1E+2", "0.10"], "Quantity": ["100", '"100"', "1.5"],
    "Side": ['"Bid"', '"Ask"', '"S"'], "Style": ['"Market"', '"ManagedFund"', '"Option"'],
    "CreatedDate": ['"2026-12-06T13:53:56.846+00:00"', '"2026-12-06"', '"20120603+10:00"'],
    "UpdatedDate": ['"2026-12-06T13:53:56.846+00:00"', '"2026-12-06T13:53:56Z"'],
    "EstimatedFees": ['{"Brokerage":1.10}', "{}", '{"Tax":"0.1","Brokerage":null}'],
    "Route": ['{"Algorithm":"Market","Market":"XSX::XSX"}', '{"Algorithm":"Best","X":[1.5]}'],
    "Errors": ['["A 1","B"]', '"A"', "[]"], "Result": ['"Success"', '"Rejected"'],
    "Children": ['["a","b"]', '"a"'], "Condition": ['{"Name":"x"}', "[1]"],
    "ExpiryDate": ['"2026-12-31"', '"20261231"'], "PhysicalDelivery": ["true", "0"],
}


_NOISE = [0.0, 0.0, 0.01, 0.03, 0.1, 0.3]   # per document: the share of fields given odd values


def _field(rng: random.Random, name: str, depth: int, noise: float) -> str | None:
    """A value for ``name``: mostly a typical one, else (at the rate ``noise``) null, absent, or
    anything at all."""
    roll = rng.random() / noise if noise else 1.0
    if roll < 0.2:
        return None                      # absent
    if roll < 0.4:
        return "null"
    if roll < 0.7:
        return _value(rng, 2)
    if roll < 0.85:
        return _number(rng)
    if roll < 1.0:
        return _string(rng)
    if name == "Details":
        return _object(rng, _DETAIL_FIELDS, depth, noise)
    if name == "Order":
        return _object(rng, _ORDER_FIELDS, depth, noise)
    if name in _TYPICAL:
        return rng.choice(_TYPICAL[name])
    if name in ("EstimatedValue", "CurrentValue", "ExecutedQuantity", "AveragePrice", "HiddenQuantity",
                "MinimumQuantity", "UnitAmount", "EstimatedBrokerage", "EstimatedTax"):
        return _number(rng)
    return '"' + rng.choice(["XSX", "XS01", "XS:0001", "Limit", "UntilDay", "id-1", ""]) + '"'


def _object(rng: random.Random, names: list[str], depth: int, noise: float) -> str:
    items = []
    for name in names:
        value = _field(rng, name, depth - 1, noise)
        if value is not None:
            items.append(f'{_ws(rng)}"{name}":{_ws(rng)}{value}')
        if rng.random() < noise / 5:     # a duplicate key now and then: the last wins
            items.append(f'"{name}":{_field(rng, name, depth - 1, noise) or "null"}')
    if rng.random() < 0.2:
        rng.shuffle(items)
    return "{" + ",".join(items) + "}"


def test_generated_answers_typed_equal_lenient() -> None:
    rng = random.Random(20261219)
    accepted = 0
    for _ in range(1500):
        if check_answer(_object(rng, _ANSWER_FIELDS, 3, rng.choice(_NOISE))):
            accepted += 1
    # Both ways really ran: a share typed, the rest left to the lenient path.
    assert 300 < accepted < 1200, accepted


def test_generated_publishes_typed_equal_lenient() -> None:
    rng = random.Random(20261220)
    accepted = 0
    for _ in range(1000):
        changes = []
        for _ in range(rng.randrange(0, 4)):
            op = rng.choice(['"A"', '"U"', '"U"', '"R"', '"C"', "null", "1"])
            noise = rng.choice(_NOISE)
            body = _object(rng, _ORDER_FIELDS, 2, noise) if rng.random() < 0.95 else _value(rng, 1)
            parts = [f'"O":{op}'] + ([f'"Order":{body}'] if rng.random() < 0.95 else [])
            changes.append("{" + ",".join(parts) + "}")
        if check_publish("[" + ",".join(changes) + "]"):
            accepted += 1
    assert 50 < accepted < 950, accepted


# -- the container read with its Data raw ----------------------------------------------------------


def _outcome(core: ZenithProtocol, text: str) -> Any:
    try:
        out = core.receive(text)
    except (ValueError, TypeError, RecursionError) as exc:  # TypeError: an unhashable Topic, as before
        return ("error", type(exc).__name__)
    if out is None:
        return None
    if type(out) is CallResult:
        return ("result", out.data, len(out.warnings))
    if type(out) is Deliver:
        event = out.event
        return ("deliver", type(event).__name__, getattr(event, "data", None), getattr(event, "error", None)
                and str(event.error))  # type: ignore[union-attr]
    if type(out) is CallFailed:
        return ("failed", str(out.error))
    if type(out) is ErrorHeld:
        return ("held", out.transaction_id)
    if type(out) is ControllerError:
        return ("controller", str(out.error))
    raise AssertionError(out)


def _core(raw_frames: bool) -> ZenithProtocol:
    core = ZenithProtocol()
    core.connection_made()
    core.resubscribe()
    for topic in ("Orders!XS:0001", "Depth!XS01.XSX"):
        core.subscribe("Trading", topic, lambda event: None)
        core.receive('{"Controller":"Trading","Topic":"' + topic + '","Action":"Sub","Confirm":true}')
    for _ in range(3):
        core.start_call("Trading", "QueryOrders", None, object())
    core._typed = raw_frames    # the container read with its Data raw, no decoder anywhere
    return core


def test_raw_container_reads_every_frame_as_the_whole_decode() -> None:
    rng = random.Random(20261221)
    raw_taken = 0
    for i in range(3000):
        items = []
        for key in ("Controller", "Topic", "Action", "TransactionID", "Confirm", "Data", "Data", "X"):
            roll = rng.random()
            if roll < 0.3:
                continue
            if key == "Topic" and roll < 0.8:
                value = rng.choice(['"Orders!XS:0001"', '"Depth!XS01.XSX"', '"Other"'])
            elif key == "Action" and roll < 0.8:
                value = rng.choice(['"Publish"', '"Error"', '"Sub"', '"Unsub"', '"Cancel"'])
            elif key == "TransactionID" and roll < 0.8:
                value = rng.choice(["1", "2", '"3"', "2.0", "9", "null"])
            elif key == "Controller" and roll < 0.8:
                value = '"Trading"'
            elif key == "Confirm" and roll < 0.8:
                value = rng.choice(["true", "false"])
            else:
                value = _value(rng, 3)
            items.append(f'{_ws(rng)}"{key}"{_ws(rng)}:{_ws(rng)}{value}')
        text = _ws(rng) + "{" + ",".join(items) + "}" + _ws(rng)
        if i % 5 == 4 and text:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(["", "\ud800", "NaN", ",", "]"]) + text[at + 1:]
        whole, raw = _core(False), _core(True)
        a, b = _outcome(whole, text), _outcome(raw, text)
        assert same(list(a) if isinstance(a, tuple) else a,
                    list(b) if isinstance(b, tuple) else b), (text, a, b)
        assert whole.pending_count == raw.pending_count
        try:
            _frame_decode(text)
            raw_taken += 1
        except ValueError:
            pass
    assert raw_taken > 1500, raw_taken


def test_protocol_hands_typed_data_only_to_the_call_and_topic_that_asked() -> None:
    core = ZenithProtocol()
    core.connection_made()
    core.resubscribe()
    got: list[Any] = []
    sub, _, _ = core.subscribe("Trading", "Orders!XS:0001", got.append, decode=decode_orders_publish)
    tid_typed, _ = core.start_call("Trading", "PlaceOrder", {}, "typed", decode_action_answer)
    tid_plain, _ = core.start_call("Trading", "PlaceOrder", {}, "plain")
    frame = '{"Controller":"Trading","Topic":"PlaceOrder","TransactionID":%d,"Data":%s}'
    typed = core.receive(frame % (tid_typed, answer(order())))
    plain = core.receive(frame % (tid_plain, answer(order())))
    assert type(typed) is CallResult and type(typed.data) is OrderActionResponse
    assert type(plain) is CallResult and type(plain.data) is dict
    assert same_model(typed.data, _action_response(plain.data, "PlaceOrder"))
    # A refused answer comes as the generic decode, for the lenient path.
    tid, _ = core.start_call("Trading", "PlaceOrder", {}, "typed", decode_action_answer)
    bad = core.receive(frame % (tid, answer(order('"ten"'))))
    assert type(bad) is CallResult and type(bad.data) is dict
    publish = '{"Controller":"Trading","Topic":"Orders!XS:0001","Data":[' + change("A", order()) + "]}"
    out = core.receive(publish)
    assert type(out) is Deliver and type(out.event) is SubscriptionData and type(out.event.data) is tuple
    # A second subscriber without the decoder: both get the generic data from then on.
    other, _, _ = core.subscribe("Trading", "Orders!XS:0001", got.append, resync=False)
    out = core.receive(publish)
    assert type(out) is Deliver and type(out.event.data) is list  # type: ignore[union-attr]
    core.unsubscribe(other)
    out = core.receive(publish)
    assert type(out) is Deliver and type(out.event.data) is tuple  # type: ignore[union-attr]
    sub.close()


def test_a_failing_decoder_costs_nothing_but_its_own_shortcut() -> None:
    core = ZenithProtocol()
    core.connection_made()

    def broken(raw: Any) -> Any:
        raise RuntimeError("a fault in a decoder")

    tid, _ = core.start_call("Trading", "PlaceOrder", {}, "waiter", broken)
    out = core.receive(f'{{"Controller":"Trading","Topic":"PlaceOrder","TransactionID":{tid},'
                       f'"Data":{answer(order())}}}')
    assert type(out) is CallResult and out.data == loads(answer(order())) and core.pending_count == 0


# -- a real session's frames -------------------------------------------------------------------------


def test_every_frame_of_a_simulator_session_typed_equals_lenient(tmp_path: Path) -> None:
    """Every PlaceOrder/AmendOrder/CancelOrder answer and Orders publish of a real simulator
    session, through both paths; and the typed path is the one the standard frames take."""
    frames: list[str] = []
    answers: list[Any] = []
    publishes: list[Any] = []
    others: list[Any] = []   # market data and transactions: the generic decode, through the raw container

    async def main() -> None:
        async with simulator_session(tmp_path, activity=True, seed=11, frames=frames) as client:
            def on_orders(event: Any) -> None:
                if type(event) is SubscriptionData:
                    publishes.append(event.data)

            def on_other(event: Any) -> None:
                if type(event) is SubscriptionData:
                    others.append(event.data)

            client.subscribe("Trading", "Orders!XS:0001", on_orders, decode=decode_orders_publish)
            for controller, topic in (("Trading", "Transactions!XS:0001"), ("Market", "Trades!XS02.XSX"),
                                      ("Market", "Depth!XS02.XSX"), ("Market", "Security!XS02.XSX")):
                client.subscribe(controller, topic, on_other)
            await asyncio.sleep(0.2)

            def limit(side: str, price: str, qty: int) -> dict[str, Any]:
                return {"Exchange": "XSX", "Code": "XS02", "Side": side, "Style": "Market", "Type": "Limit",
                        "LimitPrice": Decimal(price), "Quantity": qty, "Validity": "UntilDay"}

            done = asyncio.get_running_loop().create_future()

            def call(topic: str, body: dict[str, Any]) -> None:
                def on_answer(data: Any, error: Any) -> None:
                    answers.append(data)
                    if not done.done() and len(answers) >= 4:
                        done.set_result(None)
                client.send_request("Trading", topic, body, on_answer, decode=decode_action_answer)

            route = {"Algorithm": "Market", "Market": "XSX::XSX"}
            call("PlaceOrder", {"Account": "XS:0001", "Details": limit("Bid", "9.95", 100),
                                "RequestID": "t-1", "Route": route})
            call("PlaceOrder", {"Account": "XS:0001", "Details": limit("Ask", "9.90", 40),
                                "RequestID": "t-2", "Route": route})
            await asyncio.sleep(0.3)
            placed = next(a for a in answers if isinstance(a, OrderActionResponse) and a.order is not None)
            call("AmendOrder", {"Account": "XS:0001", "ID": placed.order.id,  # type: ignore[union-attr]
                                "Details": limit("Bid", "9.96", 200), "RequestID": "t-3"})
            call("CancelOrder", {"Account": "XS:0001", "ID": placed.order.id,  # type: ignore[union-attr]
                                 "RequestID": "t-4"})
            await asyncio.wait_for(done, 5.0)
            await asyncio.sleep(0.3)

    asyncio.run(asyncio.wait_for(main(), 20.0))
    checked = typed_answers = typed_publishes = 0
    for text in frames:
        msg = loads(text)
        topic, data = msg.get("Topic", ""), msg.get("Data")
        frame = _frame_decode(text)
        # The container read with its Data raw: the same fields and Data as the whole decode.
        assert [frame.Controller, frame.Topic, frame.Action, frame.TransactionID, frame.Confirm] == [
            msg.get(k) for k in ("Controller", "Topic", "Action", "TransactionID", "Confirm")]
        assert same(data_value(frame.Data, text, None), data), text
        raw = bytes(frame.Data).decode()
        if topic in ("PlaceOrder", "AmendOrder", "CancelOrder") and "TransactionID" in msg:
            typed_answers += check_answer(raw)
            checked += 1
        elif topic.startswith("Orders!") and isinstance(data, list):
            typed_publishes += check_publish(raw)
            checked += 1
    assert len(answers) == 4 and typed_answers == 4, (answers, typed_answers)
    # Every answer reached the callback typed, every publish of A/U changes too.
    assert all(type(a) is OrderActionResponse for a in answers), answers
    assert publishes and typed_publishes >= 3, (typed_publishes, len(publishes))
    assert sum(type(p) is tuple for p in publishes) == typed_publishes
    assert checked >= 7, checked
    assert others and all(type(d) in (list, dict) for d in others)
