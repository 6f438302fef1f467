"""Typed records from the spec's own shapes, with the documented alternatives (§8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from gateway.zenith.records import (
    AccountState,
    Balance,
    DepthOrderChange,
    Holding,
    LevelChange,
    MarketState,
    Order,
    OrderActionResponse,
    OrderChange,
    OrderDetails,
    OrderRoute,
    OrderStatus,
    SymbolDetail,
    TradeChange,
    TradingState,
    Transaction,
    order_details_to_json,
    order_route_to_json,
)
from gateway.zenith.security import SecurityState, apply_security_diff
from gateway.zenith.values import dumps, loads

AEST = timezone(timedelta(hours=10))

# §9.5's acknowledgement, as the wire would carry it.
ACK = loads(
    '{"Result":"Success","RequestID":"gw-000001","EstimatedValue":995,"Order":{"ID":"3f1c2a9e",'
    '"Account":"XS:0001","ExternalID":"gw-000001","Status":"Pending","Currency":"AUD","EstimatedValue":995,'
    '"CurrentValue":0,"CreatedDate":"2025-06-03T10:15:31.200+10:00","UpdatedDate":"2025-06-03T10:15:31.200+10:00",'
    '"Style":"Market","Details":{"Exchange":"XSX","Code":"XS01","Side":"Bid","Style":"Market","Type":"Limit",'
    '"LimitPrice":9.95,"Quantity":100,"Validity":"UntilDay"},"Route":{"Algorithm":"Market","Market":"XSX::XSX"},'
    '"ExecutedQuantity":0,"AveragePrice":null}}'
)


def test_order_action_response_success() -> None:
    resp = OrderActionResponse.from_json(ACK)
    assert resp.ok and resp.request_id == "gw-000001" and resp.estimated_value == Decimal(995)
    order = resp.order
    assert order is not None
    assert order.details.limit_price == Decimal("9.95") and order.details.side == "Bid"
    assert order.route == OrderRoute("Market", "XSX::XSX", {})
    assert order.created_date == datetime(2025, 6, 3, 10, 15, 31, 200000, tzinfo=AEST)
    assert order.executed_quantity == 0 and order.average_price is None
    assert order.leaves_quantity == Decimal(100)


def test_order_action_response_rejection_and_legacy_fees() -> None:
    resp = OrderActionResponse.from_json(
        {
            "Result": "Rejected",
            "RequestID": "r",
            "Errors": ["LimitPrice.Maximum 17.05", "OrderValue.Exceed"],
            "EstimatedBrokerage": "9.90",
            "EstimatedTax": 0.99,
        }
    )
    assert not resp.ok
    assert resp.error_codes == (("LimitPrice.Maximum", "17.05"), ("OrderValue.Exceed", ""))
    assert resp.estimated_fees == {"Brokerage": Decimal("9.90"), "Tax": Decimal("0.99")}
    modern = OrderActionResponse.from_json(
        {"Result": "Success", "EstimatedFees": {"Brokerage": 5}, "EstimatedBrokerage": 9}
    )
    assert modern.estimated_fees == {"Brokerage": Decimal(5)}


def test_order_tolerates_aliases_and_string_numbers() -> None:
    raw = dict(ACK["Order"])
    raw["Style"] = "Equity"
    raw["Details"] = {
        **raw["Details"],
        "Side": "B",
        "Style": "Option",
        "Quantity": "250",
        "ExpiryDate": "2025-06-30T00:00:00.000Z",
    }
    raw["ExecutedQuantity"] = "50"
    raw["UpdatedDate"] = "20250603T101532Z"
    order = Order.from_json(raw)
    assert order.style == "Market" and order.details.style == "Market" and order.details.side == "Bid"
    assert order.details.quantity == Decimal(250) and order.executed_quantity == Decimal(50)
    assert order.details.expiry_date == date(2025, 6, 30)
    assert order.updated_date == datetime(2025, 6, 3, 10, 15, 32, tzinfo=UTC)
    with pytest.raises(ValueError, match="'Account'"):
        Order.from_json({k: v for k, v in ACK["Order"].items() if k != "Account"})


def test_order_details_to_json_round_trip() -> None:
    details = OrderDetails(
        exchange="XSX",
        code="XS01",
        side="Ask",
        type="Limit",
        limit_price=Decimal("10.100"),
        quantity=Decimal(100),
        validity="UntilCancel",
        expiry_date=date(2025, 7, 1),
    )
    body = order_details_to_json(details)
    assert dumps(body) == (
        '{"Exchange":"XSX","Code":"XS01","Side":"Ask","Style":"Market","Type":"Limit",'
        '"LimitPrice":10.1,"Quantity":100,"Validity":"UntilCancel","ExpiryDate":"2025-07-01"}'
    )
    assert OrderDetails.from_json(loads(dumps(body))) == details
    assert order_route_to_json(OrderRoute("Market", "XSX::XSX")) == {
        "Algorithm": "Market",
        "Market": "XSX::XSX",
    }


def test_order_change_wrappers() -> None:
    add = OrderChange.from_json({"O": "A", "Order": ACK["Order"]})
    assert add.op == "A" and add.order is not None and add.account == "XS:0001"
    clear = OrderChange.from_json({"O": "C", "Account": "XS:0001"})
    assert clear.order is None and clear.account == "XS:0001"
    remove = OrderChange.from_json({"O": "R", "Order": {"ID": "x", "Account": "XS:0002"}})
    assert remove.order is None and remove.order_id == "x" and remove.account == "XS:0002"


def test_transaction_and_changes() -> None:
    raw = {
        "ID": "t1",
        "Exchange": "XSX",
        "Code": "XS01",
        "TradingMarket": "XSX::XSX",
        "Account": "XS:0001",
        "Style": "Market",
        "TradeDate": "2025-06-03T10:16:00.000+10:00",
        "SettlementDate": "2025-06-05",
        "GrossAmount": 995,
        "NetAmount": 995,
        "SettlementAmount": 1004.9,
        "OrderID": "o1",
        "TotalQuantity": 100,
        "AveragePrice": 9.95,
    }
    tx = Transaction.from_json(loads(dumps(raw)))
    assert tx.average_price == Decimal("9.95") and tx.settlement_amount == Decimal("1004.9")
    assert tx.settlement_date == datetime(2025, 6, 5, tzinfo=UTC)
    changes = Transaction.changes_from_json(
        [{"O": "I", "Account": "XS:0001"}, {"O": "A", "Transaction": raw}]
    )
    assert changes[0] == ("I", "XS:0001", None)
    assert changes[1][0] == "A" and changes[1][2] is not None and changes[1][2].id == "t1"


def test_depth_level_trade_changes() -> None:
    add = DepthOrderChange.from_json(
        {"O": "A", "Order": {"ID": "d1", "Side": "B", "Price": 10, "Position": "3", "Quantity": None}}
    )
    assert add.side == "Bid" and add.position == 3 and add.undisclosed
    upd = DepthOrderChange.from_json({"O": "U", "Order": {"ID": "d1", "Quantity": 300}})
    assert upd.quantity == 300 and not upd.undisclosed and upd.price is None
    assert DepthOrderChange.from_json({"O": "C"}).id is None
    lvl = LevelChange.from_json(
        {"O": "A", "Level": {"ID": "l1", "Side": "Ask", "Price": None, "Volume": 5, "Count": 2}}
    )
    assert lvl.price is None and lvl.volume == 5 and lvl.count == 2
    init = TradeChange.from_json({"O": "I", "ID": "10000"})
    assert init.id == 10000
    trade = TradeChange.from_json(
        {
            "O": "A",
            "Trade": {
                "ID": 7,
                "Price": 10.05,
                "Quantity": 100,
                "Side": "S",
                "Flags": "Cancel, OffMarket",
                "RelatedID": 3,
                "Time": "2014-03-20T10:00:01+10:00",
            },
        }
    )
    assert trade.is_cancel and trade.side == "Ask" and trade.related_id == 3
    assert trade.time == datetime(2014, 3, 20, 10, 0, 1, tzinfo=AEST)


def test_reference_records() -> None:
    sym = SymbolDetail.from_json(
        {
            "Market": "XSX",
            "Code": "XS01",
            "Name": None,
            "Class": "Equity",
            "SubscriptionData": "Asset, Trades,DepthFull",
            "TradingMarkets": ["XSX::XSX"],
            "Alternates": {"RIC": "XS01.X"},
            "LotSize": 1,
        }
    )
    assert sym.class_ == "Market" and sym.subscription_data == ("Asset", "Trades", "DepthFull")
    assert sym.alternates == {"RIC": "XS01.X"} and sym.issuing_exchange == "XSX"
    mkt = MarketState.from_json(
        {
            "Code": "XSX",
            "Feed": "Active",
            "TradingDate": "2025-06-03",
            "Status": "Open",
            "States": [{"Name": "XSX::XSX", "Status": "Open"}],
        }
    )
    assert mkt.states == {"XSX::XSX": "Open"} and mkt.trading_date == date(2025, 6, 3)
    acct = AccountState.from_json(
        {"Operation": "Add", "Account": {"ID": "XS:0001", "Feed": "Active", "CategoryCodes": ["A"]}}
    )
    assert acct.id == "XS:0001" and acct.categories == ("A",)
    st = OrderStatus.from_json({"Code": "Filled", "Allows": "Move", "Reason": "Normal,Completed"})
    assert st.completed and st.allows_action("Move") and not st.allows_action("Cancel")
    pre = TradingState.from_json(
        {"Name": "PreOpen", "Reason": "Normal", "Allows": "OrdersOnly, ReportCancel"}
    )
    assert pre.allows_action("OrderPlace") and not pre.allows_action("Match")
    hold = Holding.from_json(
        {
            "O": "A",
            "Holding": {
                "Account": "XS:0001",
                "Exchange": "XSX",
                "Code": "XS01",
                "Style": "Market",
                "Cost": 100,
                "Currency": "AUD",
                "TotalQuantity": 10,
                "TotalAvailable": 5,
                "AveragePrice": 10,
            },
        }
    )
    assert hold.total_available == 5
    assert Balance.from_json({"Account": "XS:0001", "Type": "", "Currency": "", "Amount": 0}).is_clear


def test_security_diff_absent_unchanged_null_clears() -> None:
    full = {
        "Code": "XS01",
        "Market": "XSX",
        "Class": "Market",
        "Last": Decimal("10.05"),
        "BestBid": Decimal(10),
        "BidQuantity": 200,
        "TradingState": "Open",
    }
    state, changed = apply_security_diff(None, full)
    assert changed == frozenset(full)
    state2, changed = apply_security_diff(
        state, {"BidQuantity": 300, "BestBid": None, "Last": Decimal("10.05")}
    )
    assert changed == {"BidQuantity", "BestBid"}
    assert state2["BidQuantity"] == 300 and "BestBid" not in state2 and state["BestBid"] == 10  # input kept
    # A new full state replaces: fields it omits revert to defaults.
    state3, changed = apply_security_diff(state2, {"Code": "XS01", "Market": "XSX", "Class": "Market"})
    assert "Last" not in state3 and "Last" in changed


def test_security_state_defaults_and_apply() -> None:
    sec = SecurityState.from_json(
        {"Code": "XS01", "Market": "XSX", "Class": "Equity", "Last": 10}, "XS01", "XSX"
    )
    assert sec.class_ == "Market" and sec.exchange == "XSX" and sec.name == ""
    assert sec.bid_quantity == 0 and sec.trend == "None" and sec.best_bid is None
    sec2, changed = sec.apply({"BestBid": Decimal("9.99"), "Last": None})
    assert sec2.best_bid == Decimal("9.99") and sec2.last is None and changed == {"BestBid", "Last"}
    assert sec2.code == "XS01"
