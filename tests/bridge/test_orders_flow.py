"""Plxtra events -> order record + ExecutionReports, per FIX version (pure).

Every report built here is also validated against the QuickFIX data dictionary of its version
(the partner's engine would reject anything else at session level).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import quickfix as fix

from gateway.bridge.orders.flow import (
    on_amend_accepted,
    on_order_update,
    on_place_accepted,
    on_place_rejected,
    on_transaction,
)
from gateway.bridge.orders.lifecycle import OrderState
from gateway.bridge.orders.lifecycle import PendingKind as _K
from gateway.bridge.orders.model import (
    FixVersion,
    OrderRecord,
    OrderTerms,
    record_from_data,
    record_to_data,
)
from gateway.bridge.orders.reports import (
    cancel_reject,
    mass_cancel_report,
    no_orders_status,
    reject_unknown_order,
    status_report,
)
from gateway.config.dictionaries import locate_dictionaries
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.rejects import reject_inbound
from gateway.vocab.tags import CxlRejResponseTo, OrdType, Side
from gateway.zenith.records import Order, Transaction

NOW = datetime(2025, 6, 3, 0, 15, 30, 123000, tzinfo=UTC)
DICT_DIR = locate_dictionaries().directory
KEYS = {
    FixVersion.FIX42: SessionKey("FIX.4.2", "PLXTRA", "CLIENT2"),
    FixVersion.FIX44: SessionKey("FIX.4.4", "PLXTRA", "CLIENT1"),
    FixVersion.FIX50SP2: SessionKey("FIXT.1.1", "PLXTRA", "CLIENT3"),
}
VERSIONS = list(KEYS)
_DD: dict[str, fix.DataDictionary] = {}


def _dd(name: str) -> fix.DataDictionary:
    if name not in _DD:
        _DD[name] = fix.DataDictionary(str(DICT_DIR / name))
    return _DD[name]


def validate(m: OutboundMessage, version: FixVersion) -> dict[int, str]:
    """Validate ``m`` against the version's dictionary as a partner engine would; return its fields."""
    begin = "FIXT.1.1" if version is FixVersion.FIX50SP2 else version.value
    body = f"35={m.msg_type}\x0149=PLXTRA\x0156=CLIENT\x0134=2\x0152=20250603-00:15:30.123\x01"
    body += "".join(f"{t}={v}\x01" for t, v in m.fields)
    head = f"8={begin}\x019={len(body)}\x01"
    raw = head + body
    raw += f"10={sum(raw.encode()) % 256:03d}\x01"
    if version is FixVersion.FIX50SP2:
        session_dd, app_dd = _dd("FIXT11.xml"), _dd("FIX50SP2.xml")
    else:
        session_dd = app_dd = _dd(f"FIX{version.value[4]}{version.value[6]}.xml")
    parsed = fix.Message(raw, session_dd, app_dd, False)
    fix.DataDictionary.validate(parsed, session_dd, app_dd)
    out: dict[int, str] = {}
    for t, v in m.fields:
        out.setdefault(t, v)
    return out


TERMS = OrderTerms(
    code="XS01",
    market="XSX",
    side=Side.BUY,
    ord_type=OrdType.LIMIT,
    order_qty=Decimal(100),
    price=Decimal("10.05"),
)


def record(version: FixVersion = FixVersion.FIX44, **over: object) -> OrderRecord:
    base = OrderRecord(
        session=str(KEYS[version]),
        request_id="gwx-0000001",
        cl_ord_id="c1",
        account="XS:0001",
        fix_account="0001",
        terms=TERMS,
    )
    return base.evolve(**over) if over else base


def plx(status: str, updated: str = "2025-06-03T10:15:31.205+10:00", quantity: Decimal | None = None,
        limit_price: Decimal | None = None) -> Order:
    """A Zenith Order (§5.2) as the executor parses it from the feed."""
    details: dict[str, object] = {"Exchange": "XSX", "Code": "XS01", "Side": "Bid", "Style": "Market",
                                  "Type": "Limit", "Validity": "UntilDay"}
    if quantity is not None:
        details["Quantity"] = quantity
    if limit_price is not None:
        details["LimitPrice"] = limit_price
    return Order.from_json({"ID": "oid-1", "Account": "XS:0001", "Status": status,
                            "ExternalID": "gwx-0000001", "UpdatedDate": updated, "Details": details})


def tx(tid: str, qty: str, px: str) -> Transaction:
    return Transaction.from_json({"ID": tid, "Account": "XS:0001", "OrderID": "oid-1", "Exchange": "XSX",
                                  "Code": "XS01", "TotalQuantity": qty, "AveragePrice": px})


def accepted(version: FixVersion) -> OrderRecord:
    return on_place_accepted(record(version), plx("Pending"), KEYS[version], version, NOW).record


@pytest.mark.parametrize("version", VERSIONS)
def test_new(version: FixVersion) -> None:
    out = on_place_accepted(record(version), plx("Pending"), KEYS[version], version, NOW)
    assert out.record.state is OrderState.NEW and out.record.order_id == "oid-1"
    [report] = out.reports
    f = validate(report.message, version)
    assert report.exec_id == f[17] == "oid-1-0"
    assert (f[150], f[39], f[37], f[11], f[1], f[55], f[207], f[54]) == (
        "0",
        "0",
        "oid-1",
        "c1",
        "0001",
        "XS01",
        "XSX",
        "1",
    )
    assert (f[38], f[14], f[151], f[6], f[44]) == ("100", "0", "100", "0", "10.05")
    assert f[60] == "20250603-00:15:30.123"
    assert (20 in f) == (version is FixVersion.FIX42)
    if version is FixVersion.FIX42:
        assert f[20] == "0"


@pytest.mark.parametrize("version", VERSIONS)
def test_partial_then_full_fill(version: FixVersion) -> None:
    rec = accepted(version)
    first = on_transaction(rec, tx("7", "40", "10.00"), KEYS[version], version, NOW)
    f = validate(first.reports[-1].message, version)
    assert first.record.state is OrderState.PARTIALLY_FILLED
    assert f[17] == "oid-1-F7" and f[39] == "1"
    assert f[150] == ("1" if version is FixVersion.FIX42 else "F")
    assert (f[32], f[31], f[14], f[151], f[6]) == ("40", "10", "40", "60", "10")
    second = on_transaction(first.record, tx("8", "60", "10.05"), KEYS[version], version, NOW)
    g = validate(second.reports[-1].message, version)
    assert second.record.state is OrderState.FILLED
    assert g[150] == ("2" if version is FixVersion.FIX42 else "F") and g[39] == "2"
    assert (g[32], g[31], g[14], g[151], g[6]) == ("60", "10.05", "100", "0", "10.03")


def test_cum_plus_leaves_equals_qty_while_working() -> None:
    rec = accepted(FixVersion.FIX44)
    for i, q in enumerate(["10", "5", "25", "1"]):
        rec = on_transaction(rec, tx(str(i), q, "10"), KEYS[FixVersion.FIX44], FixVersion.FIX44, NOW).record
        assert rec.cum_qty + rec.leaves_qty == rec.order_qty
    rec = on_order_update(rec, plx("Cancelled"), KEYS[FixVersion.FIX44], FixVersion.FIX44, NOW).record
    assert rec.state is OrderState.CANCELED and rec.leaves_qty == 0 and rec.cum_qty == 41


def test_fill_before_acknowledgement_reports_new_first() -> None:
    out = on_transaction(record(), tx("1", "100", "10"), KEYS[FixVersion.FIX44], FixVersion.FIX44, NOW)
    assert [r.exec_id for r in out.reports] == ["oid-1-0", "oid-1-F1"]
    assert out.record.state is OrderState.FILLED


def test_acknowledgement_after_orders_publish_adds_nothing() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    first = on_order_update(record(), plx("OnMarket"), key, v, NOW)
    assert [r.exec_id for r in first.reports] == ["oid-1-0"]
    again = on_place_accepted(first.record, plx("Pending"), key, v, NOW)
    assert again.reports == () and again.record == first.record


def test_exec_ids_are_stable_across_recomputation() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    a = on_transaction(accepted(v), tx("99", "10", "10"), key, v, NOW)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    b = on_transaction(record_from_data(record_to_data(accepted(v))), tx("99", "10", "10"), key, v, later)
    assert a.reports[0].exec_id == b.reports[0].exec_id == "oid-1-F99"


@pytest.mark.parametrize("version", VERSIONS)
def test_place_rejected(version: FixVersion) -> None:
    out = on_place_rejected(
        record(version), "3", "Plxtra Rejected: TotalValue.Balance", KEYS[version], version, NOW
    )
    f = validate(out.reports[0].message, version)
    assert out.record.state is OrderState.REJECTED
    assert (f[150], f[39], f[58], f[151], f[37]) == (
        "8",
        "8",
        "Plxtra Rejected: TotalValue.Balance",
        "0",
        "NONE",
    )
    assert f[103] == "3"
    assert out.reports[0].exec_id == "gwx-0000001-8"


def test_fix42_reject_reasons_outside_dictionary_fall_back() -> None:
    v = FixVersion.FIX42
    out = on_place_rejected(record(v), "99", "x", KEYS[v], v, NOW)
    assert validate(out.reports[0].message, v)[103] == "0"
    out = on_place_rejected(
        record(FixVersion.FIX44), "15", "x", KEYS[FixVersion.FIX44], FixVersion.FIX44, NOW
    )
    assert validate(out.reports[0].message, FixVersion.FIX44)[103] == "15"


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_of_our_request_chains_clordid(version: FixVersion) -> None:
    rec = accepted(version).evolve(pending_kind=_K.CANCEL, pending_cl_ord_id="c2", pending_request_id="gwx-2")
    out = on_order_update(rec, plx("Cancelled"), KEYS[version], version, NOW)
    f = validate(out.reports[0].message, version)
    assert (f[150], f[39], f[11], f[41], f[17], f[151]) == ("4", "4", "c2", "c1", "oid-1-4", "0")
    assert out.record.cl_ord_id == "c2" and out.record.pending_kind is None


def test_unsolicited_cancel_and_expiry() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    out = on_order_update(accepted(v), plx("Cancelled"), key, v, NOW)
    f = validate(out.reports[0].message, v)
    assert (f[11], 41 in f) == ("c1", False)
    out = on_order_update(accepted(v), plx("Expired"), key, v, NOW)
    f = validate(out.reports[0].message, v)
    assert (f[150], f[39], f[17]) == ("C", "C", "oid-1-C")


def test_status_updates_without_state_change_report_nothing() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    rec = accepted(v)
    for status in ("Pending", "OnMarket", "PartialFill", "Filled"):
        assert on_order_update(rec, plx(status), key, v, NOW).reports == ()
    done = on_order_update(rec, plx("Cancelled"), key, v, NOW).record
    assert on_order_update(done, plx("Cancelled"), key, v, NOW).reports == ()


def test_market_rejection_after_acceptance() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    out = on_order_update(accepted(v), plx("Rejected"), key, v, NOW)
    assert out.record.state is OrderState.REJECTED and out.reports[0].exec_id == "oid-1-8"
    out = on_order_update(record(), plx("Rejected"), key, v, NOW)
    assert out.record.state is OrderState.REJECTED and len(out.reports) == 1


def test_suspend_and_resume() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    # The ExecIDs carry UpdatedDate exactly as Plxtra sent it (the same after a restart or upgrade).
    s = on_order_update(accepted(v), plx("Suspended", updated="2025-06-03T10:15:31.205+10:00"), key, v, NOW)
    f = validate(s.reports[0].message, v)
    assert s.record.state is OrderState.SUSPENDED and (f[150], f[17]) == (
        "9", "oid-1-9-2025-06-03T10:15:31.205+10:00")
    r = on_order_update(s.record, plx("OnMarket", updated="20250603T101532Z"), key, v, NOW)
    f = validate(r.reports[0].message, v)
    assert r.record.state is OrderState.NEW
    assert (f[150], f[39], f[17]) == ("D", "0", "oid-1-D-20250603T101532Z")


@pytest.mark.parametrize("version", VERSIONS)
def test_replace(version: FixVersion) -> None:
    new_terms = dataclasses.replace(TERMS, order_qty=Decimal(150), price=Decimal("10.10"))
    rec = on_transaction(accepted(version), tx("5", "30", "10"), KEYS[version], version, NOW).record
    rec = rec.evolve(
        pending_kind=_K.REPLACE, pending_cl_ord_id="c2", pending_request_id="gwx-9", pending_terms=new_terms
    )
    out = on_amend_accepted(rec, KEYS[version], version, NOW)
    f = validate(out.reports[0].message, version)
    assert (f[150], f[11], f[41], f[38], f[44], f[14], f[151]) == (
        "5",
        "c2",
        "c1",
        "150",
        "10.1",
        "30",
        "120",
    )
    assert f[39] == ("5" if version is FixVersion.FIX42 else "1")
    assert f[17] == "oid-1-5-gwx-9"
    assert out.record.state is OrderState.PARTIALLY_FILLED and out.record.terms.order_qty == 150


def test_replace_down_to_filled_quantity_completes_order() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    smaller = OrderTerms(
        code="XS01",
        market="XSX",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        order_qty=Decimal(30),
        price=Decimal("10.05"),
    )
    rec = on_transaction(accepted(v), tx("5", "30", "10"), key, v, NOW).record
    rec = rec.evolve(pending_kind=_K.REPLACE, pending_cl_ord_id="c2", pending_request_id="r",
                     pending_terms=smaller)
    out = on_amend_accepted(rec, key, v, NOW)
    assert out.record.state is OrderState.FILLED and validate(out.reports[0].message, v)[151] == "0"


@pytest.mark.parametrize("version", VERSIONS)
def test_status_report(version: FixVersion) -> None:
    rec = on_transaction(accepted(version), tx("5", "30", "10"), KEYS[version], version, NOW).record
    f = validate(status_report(KEYS[version], version, rec, NOW, exec_id="s1"), version)
    if version is FixVersion.FIX42:
        assert (f[20], f[150], f[39], f[17]) == ("3", "1", "1", "0")
    else:
        assert (f[150], f[39], f[17], 20 in f) == ("I", "1", "s1", False)
    assert (f[14], f[151]) == ("30", "70")


@pytest.mark.parametrize("version", VERSIONS)
def test_status_of_unknown_order(version: FixVersion) -> None:
    h = InboundMessage(KEYS[version], "H", 3, ((11, "zz"), (55, "XS01"), (54, "1")))
    f = validate(
        reject_unknown_order(
            KEYS[version], version, h, NOW, exec_id="s", ord_rej_reason="5", text="unknown order", status=True
        ),
        version,
    )
    assert (f[39], f[103], f[37]) == ("8", "5", "NONE")
    assert f[150] == ("8" if version is FixVersion.FIX42 else "I")


@pytest.mark.parametrize("version", VERSIONS)
def test_reject_of_request_without_record(version: FixVersion) -> None:
    d = InboundMessage(
        KEYS[version],
        "D",
        3,
        ((11, "c9"), (1, "XS:0099"), (55, "XS01"), (54, "1"), (38, "5"), (40, "2"), (44, "1")),
    )
    f = validate(
        reject_unknown_order(
            KEYS[version], version, d, NOW, exec_id="r-8", ord_rej_reason="15", text="unknown account"
        ),
        version,
    )
    assert (f[150], f[39], f[11], f[1], f[17]) == ("8", "8", "c9", "XS:0099", "r-8")
    assert f[103] == ("0" if version is FixVersion.FIX42 else "15")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("reason", ["0", "1", "3", "6", "99"])
def test_cancel_reject(version: FixVersion, reason: str) -> None:
    m = cancel_reject(
        KEYS[version],
        version,
        cl_ord_id="c3",
        orig_cl_ord_id="c1",
        response_to=CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST,
        reason=reason,
        text="no",
        now=NOW,
        record=accepted(version),
    )
    f = validate(m, version)
    assert m.msg_type == "9" and (f[11], f[41], f[434], f[39], f[37]) == ("c3", "c1", "2", "0", "oid-1")
    assert f[102] == (reason if version is not FixVersion.FIX42 or reason in "0123" else "2")


def test_cancel_reject_unknown_order() -> None:
    v = FixVersion.FIX44
    f = validate(
        cancel_reject(
            KEYS[v],
            v,
            cl_ord_id="c3",
            orig_cl_ord_id="nope",
            response_to=CxlRejResponseTo.ORDER_CANCEL_REQUEST,
            reason="1",
            text="unknown order",
            now=NOW,
            account="0001",
        ),
        v,
    )
    assert (f[37], f[39], f[102], f[434]) == ("NONE", "8", "1", "1")


@pytest.mark.parametrize("version", VERSIONS)
def test_business_reject_throttle(version: FixVersion) -> None:
    d = InboundMessage(KEYS[version], "D", 12, ((11, "c9"),))
    f = validate(reject_inbound(d, "8", "throttle", ref_id_tag=11, version=version), version)
    assert (f[45], f[372], f[379]) == ("12", "D", "c9")
    assert f[380] == ("8" if version is FixVersion.FIX50SP2 else "0")


@pytest.mark.parametrize("version", [FixVersion.FIX44, FixVersion.FIX50SP2])
def test_mass_cancel_report(version: FixVersion) -> None:
    a = accepted(version)
    b = a.evolve(cl_ord_id="c7", order_id="oid-7")
    f = validate(
        mass_cancel_report(
            KEYS[version],
            version,
            cl_ord_id="q1",
            report_id="mc-1",
            request_type="7",
            response="7",
            affected=[a, b],
            now=NOW,
        ),
        version,
    )
    assert (f[531], f[533], f[534]) == ("7", "2", "2")
    m = mass_cancel_report(
        KEYS[version],
        version,
        cl_ord_id="q1",
        report_id="mc-1",
        request_type="7",
        response="7",
        affected=[a, b],
        now=NOW,
    )
    assert [v for t, v in m.fields if t == 535] == ["oid-1", "oid-7"]


@pytest.mark.parametrize("version", [FixVersion.FIX44, FixVersion.FIX50SP2])
def test_mass_status_extra_fields_and_empty_answer(version: FixVersion) -> None:
    rec = accepted(version)
    f = validate(
        status_report(
            KEYS[version], version, rec, NOW, exec_id="s", extra=[(584, "m1"), (911, 1), (912, True)]
        ),
        version,
    )
    assert (f[584], f[911], f[912]) == ("m1", "1", "Y")
    f = validate(no_orders_status(KEYS[version], version, "m2", NOW, exec_id="s"), version)
    assert (f[584], f[911], f[912], f[150]) == ("m2", "0", "Y", "I")


def test_record_round_trips_through_data() -> None:
    rec = accepted(FixVersion.FIX44).evolve(
        pending_kind=_K.REPLACE, pending_terms=TERMS, cum_qty=Decimal("1.5"), cum_value=Decimal("15.0075")
    )
    assert record_from_data(record_to_data(rec)) == rec


def test_validator_catches_a_tag_outside_the_version() -> None:
    bad = OutboundMessage.build(
        KEYS[FixVersion.FIX44],
        "8",
        [
            (37, "x"),
            (17, "e"),
            (20, "0"),
            (150, "0"),
            (39, "0"),
            (55, "XS01"),
            (54, "1"),
            (151, "1"),
            (14, "0"),
            (6, "0"),
        ],
    )
    with pytest.raises(fix.InvalidTagNumber, match="20"):
        validate(bad, FixVersion.FIX44)


def test_amended_order_published_before_the_amend_answer() -> None:
    key, v = KEYS[FixVersion.FIX44], FixVersion.FIX44
    bigger = OrderTerms(
        code="XS01",
        market="XSX",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        order_qty=Decimal(150),
        price=Decimal("10.20"),
    )
    rec = accepted(v).evolve(
        pending_kind=_K.REPLACE, pending_cl_ord_id="c2", pending_request_id="r2", pending_terms=bigger
    )
    # Unrelated publish (old terms): nothing to report yet.
    out = on_order_update(
        rec, plx("OnMarket", quantity=Decimal(100), limit_price=Decimal("10.05")), key, v, NOW
    )
    assert out.reports == () and out.record.pending_kind is _K.REPLACE
    # The amended order shows up: Replaced now, then a fill measured against 150;
    # the AmendOrder answer then adds nothing.
    out = on_order_update(
        rec, plx("OnMarket", quantity=Decimal(150), limit_price=Decimal("10.20")), key, v, NOW
    )
    assert [r.exec_id for r in out.reports] == ["oid-1-5-r2"] and out.record.cl_ord_id == "c2"
    filled = on_transaction(out.record, tx("3", "120", "10.2"), key, v, NOW)
    assert filled.record.state is OrderState.PARTIALLY_FILLED and filled.record.leaves_qty == 30
    assert on_amend_accepted(filled.record, key, v, NOW).reports == ()
