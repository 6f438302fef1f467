"""FIX order requests -> checked records -> Zenith requests (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.bridge.errors import CancelRejected, OrderRejected
from gateway.bridge.orders.mapping import (
    parse_cancel_replace,
    parse_mass_cancel,
    parse_mass_status,
    parse_new_order,
)
from gateway.bridge.orders.model import OrderRecord
from gateway.bridge.orders.zenith_requests import (
    amend_order_request,
    cancel_order_request,
    ord_rej_reason_for_errors,
    place_order_request,
    reject_from_zenith,
    trading_market,
)
from gateway.config.model import Limits, SessionConfig, Symbology
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.tags import OrdRejReason, OrdType, Side, TimeInForce

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")


def session(**over: object) -> SessionConfig:
    base: dict[str, object] = dict(
        name="client1",
        begin_string="FIX.4.4",
        sender_comp_id="PLXTRA",
        target_comp_id="CLIENT1",
        accounts=("XS:0001", "XS:0002"),
        account_aliases={"0001": "XS:0001", "0002": "XS:0002"},
        default_account="XS:0001",
        markets=("XSX",),
        limits=Limits(max_order_qty=Decimal(10_000), max_notional=Decimal(50_000)),
    )
    base.update(over)
    return SessionConfig(**base)  # type: ignore[arg-type]


def msg(msg_type: str, pairs: list[tuple[int, object]]) -> InboundMessage:
    return InboundMessage(KEY, msg_type, 7, tuple((t, str(v)) for t, v in pairs))


def d(**over: object) -> InboundMessage:
    fields: dict[int, object] = {
        11: "c1",
        1: "0001",
        55: "XS01",
        207: "XSX",
        54: "1",
        38: "100",
        40: "2",
        44: "10.05",
        59: "0",
        60: "20250101-10:00:00",
    }
    for k, v in over.items():
        tag = int(k.lstrip("t"))
        if v is None:
            fields.pop(tag, None)
        else:
            fields[tag] = v
    return msg("D", list(fields.items()))


def test_limit_day_buy_maps_to_place_order() -> None:
    order = parse_new_order(d(), session())
    assert order.account == "XS:0001" and order.fix_account == "0001"
    req = place_order_request(order, "gwabc-0000001")
    assert (req.controller, req.topic) == ("Trading", "PlaceOrder")
    assert req.data == {
        "Account": "XS:0001",
        "RequestID": "gwabc-0000001",
        "Details": {
            "Exchange": "XSX",
            "Code": "XS01",
            "Side": "Bid",
            "Style": "Market",
            "Type": "Limit",
            "LimitPrice": Decimal("10.05"),
            "Quantity": Decimal(100),
            "Validity": "UntilDay",
        },
        "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
    }


@pytest.mark.parametrize(
    ("tif", "validity"), [("0", "UntilDay"), ("1", "UntilCancel"), ("3", "FillAndKill"), ("4", "FillOrKill")]
)
def test_time_in_force(tif: str, validity: str) -> None:
    req = place_order_request(parse_new_order(d(t59=tif), session()), "r")
    assert req.data["Details"]["Validity"] == validity
    assert "ExpiryDate" not in req.data["Details"]


def test_tif_omitted_is_day() -> None:
    assert parse_new_order(d(t59=None), session()).terms.time_in_force is TimeInForce.DAY


def test_gtd_with_expire_date_and_expire_time() -> None:
    req = place_order_request(parse_new_order(d(t59="6", t432="20250630"), session()), "r")
    assert req.data["Details"]["Validity"] == "UntilCancel"
    assert req.data["Details"]["ExpiryDate"] == "2025-06-30"
    # ExpireTime cannot be honoured (Zenith ExpiryDate is a date): refused, never rewritten (F7).
    with pytest.raises(OrderRejected, match=r"ExpireTime not supported: use ExpireDate\(432\)"):
        parse_new_order(d(t59="6", t126="20250701-08:00:00"), session())


def test_gtd_without_expiry_is_rejected() -> None:
    with pytest.raises(OrderRejected, match="ExpireDate"):
        parse_new_order(d(t59="6"), session())


@pytest.mark.parametrize("tif", ["2", "5", "7", "X"])
def test_unsupported_tif_rejected(tif: str) -> None:
    with pytest.raises(OrderRejected) as err:
        parse_new_order(d(t59=tif), session())
    assert err.value.reason == OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC


def test_market_order_drops_price() -> None:
    order = parse_new_order(d(t40="1"), session())
    assert order.terms.price is None
    details = place_order_request(order, "r").data["Details"]
    assert details["Type"] == "Market" and "LimitPrice" not in details


@pytest.mark.parametrize(
    ("side", "zside", "short"),
    [("1", "Bid", None), ("2", "Ask", None), ("5", "Ask", "ShortSell"), ("6", "Ask", "ShortSellExempt")],
)
def test_sides(side: str, zside: str, short: str | None) -> None:
    details = place_order_request(parse_new_order(d(t54=side), session()), "r").data["Details"]
    assert details["Side"] == zside
    assert details.get("ShortType") == short


def test_unknown_side_rejected() -> None:
    with pytest.raises(OrderRejected, match="Side"):
        parse_new_order(d(t54="8"), session())


def test_min_qty_and_max_floor() -> None:
    details = place_order_request(parse_new_order(d(t110="50", t111="30"), session()), "r").data["Details"]
    assert details["MinimumQuantity"] == Decimal(50)
    assert details["Quantity"] == Decimal(30) and details["HiddenQuantity"] == Decimal(70)


def test_max_floor_not_below_qty_is_not_an_iceberg() -> None:
    details = place_order_request(parse_new_order(d(t111="100"), session()), "r").data["Details"]
    assert details["Quantity"] == Decimal(100) and "HiddenQuantity" not in details


def test_min_qty_above_order_qty_rejected() -> None:
    with pytest.raises(OrderRejected, match="MinQty"):
        parse_new_order(d(t110="101"), session())


def test_stop_and_stop_limit_carry_stop_loss_condition() -> None:
    stop = place_order_request(parse_new_order(d(t40="3", t99="11", t44=None), session()), "r").data
    assert stop["Details"]["Type"] == "Market" and "LimitPrice" not in stop["Details"]
    assert stop["Condition"] == {
        "Name": "StopLoss",
        "Stop": Decimal(11),
        "Reference": "Last",
        "Direction": "Up",
    }
    stop_limit = place_order_request(parse_new_order(d(t40="4", t99="9", t54="2"), session()), "r").data
    assert stop_limit["Details"]["Type"] == "Limit" and stop_limit["Details"]["LimitPrice"] == Decimal(
        "10.05"
    )
    assert stop_limit["Condition"]["Direction"] == "Down"


def test_stop_without_stop_px_rejected() -> None:
    with pytest.raises(OrderRejected, match="StopPx"):
        parse_new_order(d(t40="3"), session())


def test_limit_without_price_rejected() -> None:
    with pytest.raises(OrderRejected, match="Price"):
        parse_new_order(d(t44=None), session())


@pytest.mark.parametrize("qty", ["0", "-5", "abc"])
def test_bad_quantity_rejected(qty: str) -> None:
    with pytest.raises(OrderRejected):
        parse_new_order(d(t38=qty), session())


# --- accounts ----------------------------------------------------------------------------------


def test_account_forms() -> None:
    assert parse_new_order(d(t1="XS:0002"), session()).account == "XS:0002"
    assert parse_new_order(d(t1="0002"), session()).account == "XS:0002"
    omitted = parse_new_order(d(t1=None), session())
    assert omitted.account == "XS:0001" and omitted.fix_account is None


@pytest.mark.parametrize("account", ["XS:0009", "0009", "nobody"])
def test_non_entitled_account_rejected(account: str) -> None:
    with pytest.raises(OrderRejected) as err:
        parse_new_order(d(t1=account), session())
    assert err.value.reason == OrdRejReason.UNKNOWN_ACCOUNT
    assert account in err.value.text


def test_omitted_account_without_default_rejected() -> None:
    with pytest.raises(OrderRejected, match="default account"):
        parse_new_order(d(t1=None), session(default_account=None))


def test_trading_disabled_session_rejects() -> None:
    with pytest.raises(OrderRejected, match="not permitted to trade"):
        parse_new_order(d(), session(trading=False))


# --- instruments -------------------------------------------------------------------------------


def test_symbol_suffix_and_default_market() -> None:
    assert parse_new_order(d(t55="XS03.XSX", t207=None), session()).terms.code == "XS03"
    dm = parse_new_order(d(t207=None), session())
    assert (dm.terms.code, dm.terms.market) == ("XS01", "XSX")
    both = parse_new_order(d(t55="XS04.XSX"), session())
    assert (both.terms.code, both.terms.market) == ("XS04", "XSX")


def test_no_market_and_no_default_rejected_as_unknown_symbol() -> None:
    s = session(symbology=Symbology(default_market=None, allow_suffix=False))
    with pytest.raises(OrderRejected) as err:
        parse_new_order(d(t207=None), s)
    assert err.value.reason == OrdRejReason.UNKNOWN_SYMBOL


def test_market_not_allowed_rejected() -> None:
    with pytest.raises(OrderRejected, match="market ASX not permitted"):
        parse_new_order(d(t207="ASX"), session())


def test_symbol_whitelist() -> None:
    s = session(symbols=("XS01",))
    assert parse_new_order(d(), s).terms.code == "XS01"
    with pytest.raises(OrderRejected) as err:
        parse_new_order(d(t55="XS02"), s)
    assert err.value.reason == OrdRejReason.UNKNOWN_SYMBOL


def test_trading_market_keeps_environment_tag() -> None:
    assert trading_market("XSX") == "XSX::XSX"
    assert trading_market("XSX[Demo]") == "XSX::XSX[Demo]"


# --- limits ------------------------------------------------------------------------------------


def test_max_quantity_and_notional() -> None:
    with pytest.raises(OrderRejected) as err:
        parse_new_order(d(t38="10001", t44="1"), session())
    assert err.value.reason == OrdRejReason.EXCEEDED_CLIP_SIZE_LIMIT and "10000" in err.value.text
    with pytest.raises(OrderRejected) as err:
        parse_new_order(d(t38="5000", t44="10.01"), session())
    assert err.value.reason == OrdRejReason.EXCEEDED_MAX_NOTIONAL_ORDER_AMT and "notional" in err.value.text
    assert parse_new_order(d(t38="5000", t44="10"), session()).terms.order_qty == 5000


# --- Zenith rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "reason"),
    [
        (["Symbol"], OrdRejReason.UNKNOWN_SYMBOL),
        (["Symbol.NotFound XS99.XSX"], OrdRejReason.UNKNOWN_SYMBOL),
        (["TotalValue.Balance"], OrdRejReason.INSUFFICIENT_CREDIT_LIMIT),
        (["OrderQuantity.Exceed 5000000"], OrdRejReason.EXCEEDED_CLIP_SIZE_LIMIT),
        (["Order"], OrdRejReason.UNKNOWN_ORDER),
        (["Account.NotFound XS:0099"], OrdRejReason.UNKNOWN_ACCOUNT),
        (["LimitPrice.Distance"], OrdRejReason.OTHER),
        ([], OrdRejReason.OTHER),
    ],
)
def test_zenith_error_codes_to_ord_rej_reason(errors: list[str], reason: OrdRejReason) -> None:
    assert ord_rej_reason_for_errors(errors) == reason


def test_zenith_rejection_text_is_verbatim() -> None:
    rej = reject_from_zenith("Rejected", ["OrderPrice.TooFarAbove 10.0%", "TotalValue.Balance"])
    assert rej.text == "Plxtra Rejected: OrderPrice.TooFarAbove 10.0% TotalValue.Balance"
    assert rej.reason == OrdRejReason.PRICE_EXCEEDS_CURRENT_PRICE_BAND


def test_stop_rejection_says_stop_unsupported() -> None:
    terms = parse_new_order(d(t40="3", t99="11"), session()).terms
    rej = reject_from_zenith("Invalid", ["Operation"], terms)
    assert rej.reason == OrdRejReason.OTHER
    assert rej.text.startswith("stop orders not supported by Plxtra venue") and "Operation" in rej.text


# --- amend / cancel ----------------------------------------------------------------------------


def _record(order_id: str | None = "oid-1") -> OrderRecord:
    order = parse_new_order(d(), session())
    return OrderRecord(
        session=str(KEY),
        request_id="r1",
        cl_ord_id="c1",
        account=order.account,
        fix_account=order.fix_account,
        terms=order.terms,
        order_id=order_id,
    )


def test_amend_sends_complete_details() -> None:
    g = msg(
        "G",
        [
            (11, "c2"),
            (41, "c1"),
            (1, "0001"),
            (55, "XS01"),
            (207, "XSX"),
            (54, "1"),
            (38, "150"),
            (40, "2"),
            (44, "10.10"),
            (60, "20250101-10:00:00"),
        ],
    )
    replace = parse_cancel_replace(g, session())
    req = amend_order_request(_record(), replace.terms, "r2")
    assert (req.topic, req.data["OrderID"], req.data["RequestID"]) == ("AmendOrder", "oid-1", "r2")
    assert req.data["Details"]["Quantity"] == Decimal(150)
    assert req.data["Details"]["LimitPrice"] == Decimal("10.10")
    assert req.data["Details"]["Code"] == "XS01" and req.data["Details"]["Side"] == "Bid"
    assert "Route" not in req.data


def test_amend_cannot_change_side_or_symbol() -> None:
    base = [(11, "c2"), (41, "c1"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "150"), (40, "2"), (44, "10")]
    with pytest.raises(CancelRejected, match="Side"):
        amend_order_request(
            _record(), parse_cancel_replace(msg("G", [*base[:4], (54, "2"), *base[5:]]), session()).terms, "r"
        )
    with pytest.raises(CancelRejected, match="instrument"):
        amend_order_request(
            _record(),
            parse_cancel_replace(msg("G", [*base[:2], (55, "XS02"), *base[3:]]), session()).terms,
            "r",
        )


def test_amend_or_cancel_before_ack_is_too_late() -> None:
    with pytest.raises(CancelRejected) as err:
        cancel_order_request(_record(order_id=None), "r")
    assert err.value.reason == "0"


def test_cancel_request() -> None:
    req = cancel_order_request(_record(), "r9")
    assert (req.topic, dict(req.data)) == (
        "CancelOrder",
        {"Account": "XS:0001", "OrderID": "oid-1", "RequestID": "r9"},
    )


def test_replace_rejections_use_cxl_rej_reason_other() -> None:
    g = msg(
        "G", [(11, "c2"), (41, "c1"), (55, "XS01"), (207, "ASX"), (54, "1"), (38, "1"), (40, "2"), (44, "1")]
    )
    with pytest.raises(CancelRejected) as err:
        parse_cancel_replace(g, session())
    assert err.value.reason == "99" and "ASX" in err.value.text


def test_mass_requests() -> None:
    af = parse_mass_status(msg("AF", [(584, "m1"), (585, "7")]), session())
    assert (af.mass_status_req_id, af.req_type, af.code) == ("m1", "7", None)
    q = parse_mass_cancel(msg("q", [(11, "q1"), (530, "1"), (55, "XS02"), (207, "XSX")]), session())
    assert (q.cl_ord_id, q.req_type, q.code, q.market) == ("q1", "1", "XS02", "XSX")


def test_terms_enums() -> None:
    order = parse_new_order(d(t40="1", t54="2", t59="3"), session())
    assert (order.terms.ord_type, order.terms.side, order.terms.time_in_force) == (
        OrdType.MARKET,
        Side.SELL,
        TimeInForce.IMMEDIATE_OR_CANCEL,
    )
