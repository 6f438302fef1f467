"""A malformed value in a field the gateway only carries must not drop the Order or Transaction
(that would lose a fill it can read), while the fields it acts on stay strict."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from gateway.zenith.records import Order, Transaction

TX = {
    "ID": "t1", "Account": "A1", "OrderID": "o1", "Exchange": "XASX", "Code": "BHP",
    "TotalQuantity": 100, "AveragePrice": "45.10", "TradeDate": "2026-12-06T10:00:00Z",
}
ORDER = {
    "ID": "o1", "Account": "A1", "Status": "Filled", "ExecutedQuantity": 100, "AveragePrice": "45.10",
    "Details": {"Exchange": "XASX", "Code": "BHP", "Side": "Bid", "Style": "Market", "Quantity": 100},
}


@pytest.mark.parametrize("name, bad", [
    ("SettlementAmount", "n/a"), ("GrossAmount", "ten"), ("NetAmount", True), ("TotalUnits", "x"),
    ("UnitValue", "1,5"), ("SettlementDate", "soon"), ("TradeDate", "yesterday"),
])
def test_a_bad_informational_transaction_field_keeps_the_fill(
    name: str, bad: object, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.zenith.records"):
        tx = Transaction.from_json({**TX, name: bad})
    assert (tx.total_quantity, tx.average_price) == (Decimal(100), Decimal("45.10"))
    assert f"Transaction: field {name} ignored" in caplog.text


@pytest.mark.parametrize("name", ["TotalQuantity", "AveragePrice"])
def test_a_bad_quantity_or_price_of_a_transaction_is_still_an_error(name: str) -> None:
    with pytest.raises(ValueError):
        Transaction.from_json({**TX, name: "ten"})


@pytest.mark.parametrize("name, bad", [
    ("EstimatedValue", "?"), ("CurrentValue", "?"), ("EstimatedFees", {"Brokerage": "lots"}),
    ("CreatedDate", "today"), ("UpdatedDate", "now"), ("Route", {"Market": "XASX"}),
])
def test_a_bad_informational_order_field_keeps_the_order(name: str, bad: object) -> None:
    order = Order.from_json({**ORDER, name: bad})
    assert (order.id, order.status, order.executed_quantity) == ("o1", "Filled", Decimal(100))


def test_a_bad_executed_quantity_of_an_order_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        Order.from_json({**ORDER, "ExecutedQuantity": "garbage"})
