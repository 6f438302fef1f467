"""The order-path records (Order, OrderDetails, OrderRoute, OrderActionResponse, Transaction) are
built by ``from_json`` without their dataclass ``__init__`` (records._builder): what comes out must
be the very object the dataclass would have built -- same type, fields, equality, hash, repr and
immutability -- and the inlined checks must raise what ``required`` raised."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from gateway.zenith.records import Order, OrderActionResponse, OrderDetails, OrderRoute, Transaction
from gateway.zenith.values import loads

ORDER = loads(
    '{"ID":"3f1c2a9e","Account":"XS:0001","ExternalID":"gw-1","DepthOrderID":"d-1","Status":"OnMarket",'
    '"Exchange":"XSX","TradingMarket":"XSX::XSX","Currency":"AUD","EstimatedValue":995.5,"CurrentValue":0,'
    '"EstimatedFees":{"Brokerage":9.95,"Tax":0.995},"CreatedDate":"2025-06-03T10:15:31.200+10:00",'
    '"UpdatedDate":"2025-06-03T10:15:31.250+10:00","Style":"Equity","Children":["c1"],"Condition":{"Kind":"x"},'
    '"Details":{"Exchange":"XSX","Code":"XS01","Side":"B","Style":"Option","Type":"Limit","LimitPrice":9.95,'
    '"Quantity":100,"HiddenQuantity":"50","Validity":"UntilDay","ExpiryDate":"2025-06-30",'
    '"Instructions":["PSS"],"PhysicalDelivery":1},'
    '"Route":{"Algorithm":"Market","Market":"XSX::XSX","Extra":1},"ExecutedQuantity":40,"AveragePrice":9.9}'
)
TX = loads(
    '{"ID":"t1","Account":"XS:0001","OrderID":"3f1c2a9e","Exchange":"XSX","Code":"XS01","Style":"Market",'
    '"TradeDate":"2025-06-03T10:15:32+10:00","GrossAmount":398,"TotalQuantity":40,"AveragePrice":9.95,'
    '"TotalUnits":"ten"}'
)


def _rebuilt(obj: Any) -> Any:
    """The same record built through the dataclass's own __init__ (nested records too)."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    for name, value in values.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            values[name] = _rebuilt(value)
    return type(obj)(**values)


def _hash(obj: Any) -> int | str:
    try:
        return hash(obj)
    except TypeError as exc:
        return str(exc)


@pytest.mark.parametrize("record", [
    Order.from_json(ORDER),
    OrderDetails.from_json(ORDER["Details"]),
    OrderRoute.from_json(ORDER["Route"]),
    OrderActionResponse.from_json({"Result": "Success", "RequestID": "gw-1", "Order": ORDER,
                                   "EstimatedBrokerage": 9.95}),
    Transaction.from_json(TX),
], ids=lambda r: type(r).__name__)
def test_a_built_record_is_the_dataclass_instance_it_would_have_been(record: Any) -> None:
    reference = _rebuilt(record)
    assert type(record) is type(reference)
    assert record == reference and reference == record
    assert _hash(record) == _hash(reference)   # a record holding a dict is unhashable either way
    assert repr(record) == repr(reference)
    assert dataclasses.astuple(record) == dataclasses.astuple(reference)
    assert not hasattr(record, "__dict__")   # still slotted
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.__setattr__(dataclasses.fields(record)[0].name, "changed")
    assert dataclasses.replace(record) == record


def test_the_values_are_those_of_the_helpers() -> None:
    order = Order.from_json(ORDER)
    assert (order.id, order.account, order.status) == ("3f1c2a9e", "XS:0001", "OnMarket")
    assert order.style == order.details.style == "Market"
    assert (order.details.side, order.details.limit_price) == ("Bid", Decimal("9.95"))
    assert order.details.hidden_quantity == Decimal(50) and order.details.physical_delivery is True
    assert order.details.instructions == ("PSS",) and order.details.expiry_date.isoformat() == "2025-06-30"
    assert order.route is not None and order.route.extra == {"Extra": 1}
    assert order.estimated_fees == {"Brokerage": Decimal("9.95"), "Tax": Decimal("0.995")}
    assert order.current_fees == {} and order.children == ("c1",) and order.condition == {"Kind": "x"}
    assert order.executed_quantity == 40 and order.leaves_quantity == Decimal(110)
    assert order.updated_text == "2025-06-03T10:15:31.250+10:00"
    tx = Transaction.from_json(TX)
    assert tx.total_units is None and tx.gross_amount == 398 and tx.settlement_date is None


@pytest.mark.parametrize(("parse", "obj", "message"), [
    (Order.from_json, {k: v for k, v in ORDER.items() if k != "Status"}, "Order: required field 'Status'"),
    (Order.from_json, {**ORDER, "ID": None}, "Order: required field 'ID'"),
    (Order.from_json, {**ORDER, "Details": {"Exchange": "XSX", "Side": "Bid"}},
     "Order Details: required field 'Code'"),
    (Order.from_json, {**ORDER, "ExecutedQuantity": "lots"}, "not a number"),
    (OrderRoute.from_json, {"Market": "XSX"}, "Order Route: required field 'Algorithm'"),
    (OrderActionResponse.from_json, {"RequestID": "x"}, "Order Action Response: required field 'Result'"),
    (Transaction.from_json, {k: v for k, v in TX.items() if k != "OrderID"},
     "Transaction: required field 'OrderID'"),
])
def test_a_missing_or_malformed_field_the_gateway_acts_on_still_raises(parse: Any, obj: Any,
                                                                        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(obj)


def test_a_malformed_carried_field_costs_only_that_field(caplog: pytest.LogCaptureFixture) -> None:
    order = Order.from_json({**ORDER, "CreatedDate": "yesterday", "CurrentFees": {"Tax": "n/a"}})
    assert order.created_date is None and order.current_fees == {}
    assert order.updated_date is not None and order.estimated_value == Decimal("995.5")
    warned = sorted(r.getMessage().split(",")[0] for r in caplog.records)
    assert warned == ["Order: field CreatedDate ignored", "Order: field CurrentFees ignored"], warned
