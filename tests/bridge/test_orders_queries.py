"""Answers computed from stored order records alone (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.bridge.errors import CancelRejected
from gateway.bridge.orders.lifecycle import OrderState, PendingKind
from gateway.bridge.orders.model import FixVersion, MassStatusRequest, OrderRecord, OrderTerms
from gateway.bridge.orders.queries import (
    MassCancelRefused,
    answer_mass_status,
    answer_status,
    check_amendable,
    cxl_reason_for_errors,
    mass_cancel_request,
    select_orders,
    unsupported_in_version,
)
from gateway.config.model import SessionConfig
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.tags import OrdType, Side

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
NOW = datetime(2025, 6, 3, tzinfo=UTC)
SESSION = SessionConfig(
    name="c1",
    begin_string="FIX.4.4",
    sender_comp_id="PLXTRA",
    target_comp_id="CLIENT1",
    accounts=("XS:0001", "XS:0002"),
    default_account="XS:0001",
)


def rec(cl: str, code: str = "XS01", account: str = "XS:0001", **over: object) -> OrderRecord:
    terms = OrderTerms(
        code=code,
        market="XSX",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        order_qty=Decimal(10),
        price=Decimal(1),
    )
    base = OrderRecord(
        session=str(KEY),
        request_id=f"r-{cl}",
        cl_ord_id=cl,
        account=account,
        fix_account=None,
        terms=terms,
        state=OrderState.NEW,
        order_id=f"o-{cl}",
    )
    return base.evolve(**over) if over else base


def test_check_amendable_order_of_checks() -> None:
    def reason(record: OrderRecord | None, used: bool = False, connected: bool = True) -> str:
        with pytest.raises(CancelRejected) as err:
            check_amendable(record, "c9", cl_ord_id_used=used, connected=connected, unavailable="down")
        return err.value.reason

    assert reason(rec("a"), used=True) == "6"
    assert reason(None) == "1"
    assert reason(rec("a", state=OrderState.FILLED)) == "0"
    assert reason(rec("a", pending_kind=PendingKind.CANCEL, pending_cl_ord_id="p")) == "3"
    assert reason(rec("a"), connected=False) == "2"
    ok = rec("a")
    assert check_amendable(ok, "c9", cl_ord_id_used=False, connected=True, unavailable="down") is ok


@pytest.mark.parametrize(
    ("errors", "reason"),
    [(["Order.Status"], "0"), (["Status"], "0"), (["Order"], "1"), (["Retry"], "99"), ([], "99")],
)
def test_cxl_reason_for_errors(errors: list[str], reason: str) -> None:
    assert cxl_reason_for_errors(errors) == reason


def test_select_orders() -> None:
    records = [rec("a"), rec("b", code="XS02"), rec("c", account="XS:0002")]
    assert [r.cl_ord_id for r in select_orders(records)] == ["a", "b", "c"]
    assert [r.cl_ord_id for r in select_orders(records, code="XS02", market="XSX")] == ["b"]
    assert [r.cl_ord_id for r in select_orders(records, account="XS:0002")] == ["c"]
    assert select_orders(records, side="2") == []


def test_mass_status_by_security_and_all() -> None:
    records = [rec("a"), rec("b", code="XS02")]
    every = answer_mass_status(KEY, FixVersion.FIX44, MassStatusRequest("m", "7"), records, NOW)
    assert [dict(m.fields)[11] for m in every] == ["a", "b"]
    assert [dict(m.fields).get(912) for m in every] == [None, "Y"]
    one = answer_mass_status(
        KEY, FixVersion.FIX44, MassStatusRequest("m", "1", code="XS02", market="XSX"), records, NOW
    )
    assert [dict(m.fields)[11] for m in one] == ["b"]
    none = answer_mass_status(
        KEY, FixVersion.FIX44, MassStatusRequest("m", "1", code="XS09", market="XSX"), records, NOW
    )
    assert dict(none[0].fields)[911] == "0"


def test_status_answer_echoes_request_id() -> None:
    h = InboundMessage(KEY, "H", 5, ((11, "a"), (55, "XS01"), (54, "1"), (790, "q7")))
    f = dict(answer_status(KEY, FixVersion.FIX44, h, rec("a"), NOW).fields)
    assert (f[150], f[790], f[39]) == ("I", "q7", "0")


def test_mass_cancel_scope_refusals() -> None:
    def refusal(pairs: list[tuple[int, str]]) -> str:
        with pytest.raises(MassCancelRefused) as err:
            mass_cancel_request(InboundMessage(KEY, "q", 3, tuple(pairs)), SESSION)
        return err.value.reason

    assert refusal([(11, "q"), (530, "3")]) == "0"
    assert refusal([(11, "q"), (530, "1")]) == "1"
    assert refusal([(11, "q"), (530, "1"), (55, "XS01"), (207, "ASX")]) == "1"
    ok = mass_cancel_request(InboundMessage(KEY, "q", 3, ((11, "q"), (530, "7"), (1, "XS:0002"))), SESSION)
    assert (ok.req_type, ok.account) == ("7", "XS:0002")


def test_unsupported_in_version() -> None:
    m = unsupported_in_version(KEY, FixVersion.FIX42, InboundMessage(KEY, "AF", 9, ()))
    assert (m.msg_type, dict(m.fields)[380], dict(m.fields)[372]) == ("j", "3", "AF")
