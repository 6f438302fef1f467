"""Every reject path answers with the most specific reason its FIX version's dictionary knows.

One table per reason field (OrdRejReason 103, CxlRejReason 102, BusinessRejectReason 380,
MDReqRejReason 281): what goes in, the reason the bridge picks, and the value on the wire for
FIX 4.2, 4.4 and 5.0SP2 (a value a version does not enumerate would make a validating partner
Reject the whole message). The wire values are also checked against QuickFIX's dictionaries.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

import pytest

from gateway.bridge.errors import BridgeRejection, CancelRejected, OrderRejected
from gateway.bridge.marketdata.request import MarketDataRejected, parse_market_data_request
from gateway.bridge.orders.lifecycle import OrderState
from gateway.bridge.orders.mapping import parse_cancel_replace, parse_new_order
from gateway.bridge.orders.model import FixVersion, OrderRecord
from gateway.bridge.orders.queries import check_amendable, cxl_reason_for_errors
from gateway.bridge.orders.reference import notional_rejection
from gateway.bridge.orders.reports import cancel_reject, reject_unknown_order
from gateway.bridge.orders.zenith_requests import reject_from_zenith
from gateway.config.dictionaries import locate_dictionaries
from gateway.config.model import Limits, SessionConfig
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.rejects import reject_inbound

NOW = datetime(2025, 1, 2, 10, 0, tzinfo=UTC)
V42, V44, V50 = FixVersion.FIX42, FixVersion.FIX44, FixVersion.FIX50SP2
KEYS = {V42: SessionKey("FIX.4.2", "PLXTRA", "C"), V44: SessionKey("FIX.4.4", "PLXTRA", "C"),
        V50: SessionKey("FIXT.1.1", "PLXTRA", "C")}
FILES = {V42: "FIX42.xml", V44: "FIX44.xml", V50: "FIX50SP2.xml"}


def session(**over: object) -> SessionConfig:
    base: dict[str, object] = dict(
        name="c", begin_string="FIX.4.4", sender_comp_id="PLXTRA", target_comp_id="C",
        accounts=("XS:0001",), account_aliases={"0001": "XS:0001"}, default_account="XS:0001",
        limits=Limits(max_order_qty=Decimal(10_000), max_notional=Decimal(50_000)))
    base.update(over)
    return SessionConfig(**base)  # type: ignore[arg-type]


def order_msg(msg_type: str = "D", key: SessionKey = KEYS[V44], **over: object) -> InboundMessage:
    fields: dict[int, object] = {11: "c2", 41: "c1", 1: "0001", 55: "XS01", 207: "XSX", 54: "1", 38: "100",
                                 40: "2", 44: "10", 59: "0", 60: "20250102-10:00:00"}
    if msg_type == "D":
        fields.pop(41)
    for k, v in over.items():
        if v is None:
            fields.pop(int(k[1:]), None)
        else:
            fields[int(k[1:])] = v
    return InboundMessage(key, msg_type, 5, tuple((tag, str(v)) for tag, v in fields.items()))


def _raises(fn: Callable[[], object]) -> BridgeRejection:
    with pytest.raises(BridgeRejection) as err:
        fn()
    return err.value


def _market_terms():   # type: ignore[no-untyped-def]
    return parse_new_order(order_msg(t40="1", t44=None), session(limits=Limits())).terms


def _query_error(text: str) -> OrderRejected:
    # What the orders service hands over when QuerySecurity fails (ZenithError text).
    rej = notional_rejection(_market_terms(), session(), {"Result": "Error", "Errors": [text]}, "m1")
    assert rej is not None
    return rej


def _d(**over: object) -> BridgeRejection:
    return _raises(lambda: parse_new_order(order_msg(**over), session()))


def _no_reference() -> OrderRejected:
    rej = notional_rejection(_market_terms(), session(), {"Code": "XS01"}, "m1")   # empty book, no trade
    assert rej is not None
    return rej


def _cxl(*errors: str) -> CancelRejected:
    return CancelRejected(cxl_reason_for_errors(errors), " ".join(errors))


def _record(**over: object) -> OrderRecord:
    terms = parse_new_order(order_msg(), session()).terms
    return dataclasses.replace(OrderRecord("c", "r1", "c1", "XS:0001", "0001", terms, OrderState.NEW, "P1"),
                               **over)


# (case, how the bridge refuses, expected reason chosen, wire value for 4.2 / 4.4 / 5.0SP2)
ORD_REJ: list[tuple[str, Callable[[], BridgeRejection], str, tuple[str, str, str]]] = [
    ("symbol not in the session's list",
     lambda: _raises(lambda: parse_new_order(order_msg(t55="XS09"), session(symbols=("XS01",)))),
     "1", ("1", "1", "1")),
    ("market order, unknown symbol (QuerySecurity fails)",
     lambda: _query_error("Zenith error on Market:QuerySecurity: Symbol.NotFound XS99.XSX"),
     "1", ("1", "1", "1")),
    ("market order, no reference price",
     lambda: _no_reference(),
     "19", ("0", "99", "19")),
    ("market order, query timed out",
     lambda: _query_error("Zenith Market:QuerySecurity (TransactionID 4) got no answer within 10 s"),
     "19", ("0", "99", "19")),
    ("unknown account", lambda: _d(t1="0009"),
     "15", ("0", "15", "15")),
    ("quantity over max_order_qty", lambda: _d(t38="10001", t44="1"),
     "26", ("3", "3", "26")),
    ("notional over max_notional", lambda: _d(t38="5001"),
     "27", ("3", "3", "27")),
    ("zero quantity", lambda: _d(t38="0"),
     "13", ("0", "13", "13")),
    ("unsupported TimeInForce", lambda: _d(t59="2"),
     "11", ("0", "11", "11")),
    ("Zenith: market not trading", lambda: reject_from_zenith("Rejected", ["Symbol.Status"]),
     "2", ("2", "2", "2")),
    ("Zenith: unknown symbol", lambda: reject_from_zenith("Invalid", ["Symbol"]), "1", ("1", "1", "1")),
    ("Zenith: off the tick table", lambda: reject_from_zenith("Invalid", ["LimitPrice 0.01"]),
     "18", ("0", "99", "18")),
    ("Zenith: price band", lambda: reject_from_zenith("Rejected", ["OrderPrice.TooFarAbove 10.0%"]),
     "16", ("3", "3", "16")),
    ("Zenith: funds", lambda: reject_from_zenith("Rejected", ["TotalValue.Balance"]), "25", ("3", "3", "25")),
    ("Zenith: holdings", lambda: reject_from_zenith("Rejected", ["TotalQuantity.Holdings"]),
     "3", ("3", "3", "3")),
    ("Zenith: lot size", lambda: reject_from_zenith("Invalid", ["TotalQuantity"]), "13", ("0", "13", "13")),
    ("Zenith: unknown account", lambda: reject_from_zenith("Error", ["Account.NotFound XS:0099"]),
     "15", ("0", "15", "15")),
    ("Zenith: order value", lambda: reject_from_zenith("Rejected", ["OrderValue.Exceed 1000000"]),
     "27", ("3", "3", "27")),
]

CXL_REJ: list[tuple[str, Callable[[], BridgeRejection], str, tuple[str, str, str]]] = [
    ("unknown order", lambda: _raises(lambda: check_amendable(
        None, "c2", cl_ord_id_used=False, connected=True, unavailable="x")), "1", ("1", "1", "1")),
    ("duplicate ClOrdID", lambda: _raises(lambda: check_amendable(_record(), "c2", cl_ord_id_used=True,
                                                                  connected=True, unavailable="x")),
     "6", ("2", "6", "6")),
    ("order already filled", lambda: _raises(lambda: check_amendable(
        _record(state=OrderState.FILLED), "c2", cl_ord_id_used=False, connected=True, unavailable="x")),
     "0", ("0", "0", "0")),
    ("cancel already pending", lambda: _raises(lambda: check_amendable(
        _record(pending_kind="F", pending_cl_ord_id="cx"), "c2", cl_ord_id_used=False, connected=True,
        unavailable="x")), "3", ("3", "3", "3")),
    ("Plxtra unreachable", lambda: _raises(lambda: check_amendable(
        _record(), "c2", cl_ord_id_used=False, connected=False, unavailable="x")), "2", ("2", "2", "2")),
    ("replace over the quantity limit",
     lambda: _raises(lambda: parse_cancel_replace(order_msg("G", t38="10001", t44="1"), session())),
     "99", ("2", "99", "99")),
    ("Zenith: order finished", lambda: _cxl("Order.Status"), "0", ("0", "0", "0")),
    ("Zenith: unknown order", lambda: _cxl("Order"), "1", ("1", "1", "1")),
    ("Zenith: amend off the tick table", lambda: _cxl("LimitPrice 0.01"), "18", ("2", "99", "18")),
    ("Zenith: amend outside the price band", lambda: _cxl("OrderPrice.TooFarBelow -10.0%"),
     "8", ("2", "99", "8")),
]

BUSINESS_REJ: list[tuple[str, str, tuple[str, str, str]]] = [
    ("unknown ID", "1", ("1", "1", "1")),
    ("unknown security", "2", ("2", "2", "2")),
    ("unsupported message type", "3", ("3", "3", "3")),
    ("application not available", "4", ("4", "4", "4")),
    ("not authorized", "6", ("0", "6", "6")),
    ("throttle limit exceeded", "8", ("0", "0", "8")),
]

MD_REJ: list[tuple[str, dict[str, object], dict[str, object], str]] = [
    ("no instrument", {"t146": None, "t55": None}, {}, "0"),
    ("market not permitted", {"t207": "ASX"}, {}, "3"),
    ("market data not permitted", {}, {"market_data": False}, "3"),
    ("subscription type", {"t263": "7"}, {}, "4"),
    ("negative depth", {"t264": "-1"}, {}, "5"),
    ("update type", {"t265": "5"}, {}, "6"),
    ("aggregated book", {"t266": "X"}, {}, "7"),
    ("entry type", {"t269": "Z"}, {}, "8"),
]


@cache
def enumerated(version: FixVersion, tag: int) -> frozenset[str]:
    root = ET.parse(locate_dictionaries(needed=(FILES[version],)).path(FILES[version])).getroot()
    field = next(f for f in root.iter("field") if f.get("number") == str(tag))
    return frozenset(v.get("enum") or "" for v in field.iter("value"))


def _wire(msg, tag: int) -> str | None:   # type: ignore[no-untyped-def]
    return dict(msg.fields).get(tag)


@pytest.mark.parametrize(("case", "refuse", "reason", "wire"), ORD_REJ, ids=[c[0] for c in ORD_REJ])
def test_ord_rej_reason(case: str, refuse, reason: str, wire: tuple[str, str, str]) -> None:   # type: ignore[no-untyped-def]
    rej = refuse()
    assert isinstance(rej, OrderRejected) and rej.reason == reason, (case, rej.reason, rej.text)
    for version, want in zip((V42, V44, V50), wire, strict=True):
        er = reject_unknown_order(KEYS[version], version, order_msg(key=KEYS[version]), NOW, exec_id="e1",
                                  ord_rej_reason=rej.reason, text=rej.text)
        got = _wire(er, t.ORD_REJ_REASON)
        assert got == want, f"{case} on {version}: 103={got}, want {want}"
        assert got in enumerated(version, t.ORD_REJ_REASON), f"{version} does not enumerate 103={got}"


@pytest.mark.parametrize(("case", "refuse", "reason", "wire"), CXL_REJ, ids=[c[0] for c in CXL_REJ])
def test_cxl_rej_reason(case: str, refuse, reason: str, wire: tuple[str, str, str]) -> None:   # type: ignore[no-untyped-def]
    rej = refuse()
    assert isinstance(rej, CancelRejected) and rej.reason == reason, (case, rej.reason, rej.text)
    for version, want in zip((V42, V44, V50), wire, strict=True):
        nine = cancel_reject(KEYS[version], version, cl_ord_id="c2", orig_cl_ord_id="c1",
                             response_to=t.CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST, reason=rej.reason,
                             text=rej.text, now=NOW)
        got = _wire(nine, t.CXL_REJ_REASON)
        assert got == want, f"{case} on {version}: 102={got}, want {want}"
        assert got in enumerated(version, t.CXL_REJ_REASON), f"{version} does not enumerate 102={got}"


@pytest.mark.parametrize(("case", "reason", "wire"), BUSINESS_REJ, ids=[c[0] for c in BUSINESS_REJ])
def test_business_reject_reason(case: str, reason: str, wire: tuple[str, str, str]) -> None:
    for version, want in zip((V42, V44, V50), wire, strict=True):
        j = reject_inbound(order_msg(key=KEYS[version]), reason, case, version=version)
        got = _wire(j, t.BUSINESS_REJECT_REASON)
        assert got == want, f"{case} on {version}: 380={got}, want {want}"
        assert got in enumerated(version, t.BUSINESS_REJECT_REASON)


@pytest.mark.parametrize(("case", "over", "session_over", "reason"), MD_REJ, ids=[c[0] for c in MD_REJ])
@pytest.mark.parametrize("version", [V42, V44, V50])
def test_md_req_rej_reason(case: str, over: dict[str, object], session_over: dict[str, object], reason: str,
                           version: FixVersion) -> None:
    fields: dict[str, object] = {"t262": "m1", "t263": "1", "t264": "1", "t265": "1", "t267": "1",
                                 "t269": "0", "t146": "1", "t55": "XS01", "t207": "XSX"}
    fields.update(over)
    pairs = tuple((int(k[1:]), str(v)) for k, v in fields.items() if v is not None)
    msg = InboundMessage(KEYS[version], "V", 3, pairs)
    with pytest.raises(MarketDataRejected) as err:
        parse_market_data_request(msg, session(**session_over))
    assert err.value.reason == reason, (case, err.value.reason, err.value.text)
    assert reason in enumerated(version, t.MD_REQ_REJ_REASON)
