"""Answers that need only the stored order records: status requests, mass status, mass cancel
scope, and the checks a cancel/replace must pass before it is sent. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from gateway.bridge.errors import BridgeRejection, CancelRejected
from gateway.bridge.orders.lifecycle import is_terminal
from gateway.bridge.orders.mapping import parse_mass_cancel
from gateway.bridge.orders.model import FixVersion, MassCancelRequest, MassStatusRequest, OrderRecord
from gateway.bridge.orders.reports import (
    mass_cancel_report,
    no_orders_status,
    reject_unknown_order,
    status_report,
)
from gateway.config.model import SessionConfig
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.rejects import reject_inbound
from gateway.vocab.tags import BusinessRejectReason, CxlRejReason, MassCancelResponse, OrdRejReason

__all__ = [
    "MassCancelRefused",
    "answer_mass_status",
    "answer_status",
    "check_amendable",
    "cxl_reason_for_errors",
    "mass_cancel_request",
    "mass_cancel_response",
    "refuse_mass_cancel",
    "select_orders",
    "stamp",
    "unsupported_in_version",
]


def stamp(now: datetime) -> str:
    """Compact UTC time used to make status ExecIDs unique (status answers are never re-sent)."""
    return now.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")


def check_amendable(
    record: OrderRecord | None,
    cl_ord_id: str,
    *,
    cl_ord_id_used: bool,
    connected: bool,
    unavailable: str,
    orig_cl_ord_id: str = "",
    account: str | None = None,
) -> OrderRecord:
    """Raise the :class:`CancelRejected` a cancel/replace deserves, or return the order it targets.

    Order of checks as a partner expects them: duplicate ClOrdID, unknown order, finished order
    (too late), another request pending, stale OrigClOrdID (FIX 4.4 Vol. 4: "ClOrdID of the previous
    non-rejected order", F8), a change of Account (F12), venue unreachable.
    """
    if cl_ord_id_used:
        raise CancelRejected(CxlRejReason.DUPLICATE_CL_ORD_ID, f"duplicate ClOrdID {cl_ord_id}")
    if record is None:
        raise CancelRejected(CxlRejReason.UNKNOWN_ORDER, "unknown order")
    if is_terminal(record.state):
        raise CancelRejected(CxlRejReason.TOO_LATE_TO_CANCEL, f"order is {record.state.name.lower()}")
    if record.pending_kind is not None:
        raise CancelRejected(
            CxlRejReason.ALREADY_PENDING,
            f"a cancel or replace ({record.pending_cl_ord_id}) is already pending",
        )
    if orig_cl_ord_id and orig_cl_ord_id != record.cl_ord_id:
        raise CancelRejected(
            CxlRejReason.OTHER, f"OrigClOrdID is not the latest ClOrdID (latest: {record.cl_ord_id})"
        )
    if account is not None and account != record.account:
        raise CancelRejected(CxlRejReason.OTHER, "account cannot be changed")
    if not connected:
        raise CancelRejected(CxlRejReason.BROKER_OPTION, unavailable)
    return record


def cxl_reason_for_errors(errors: Iterable[str]) -> str:
    """CxlRejReason(102) for a refused AmendOrder/CancelOrder (Zenith Appendix E codes)."""
    errors = [str(e) for e in errors]
    codes = [e.split(" ", 1)[0] for e in errors]
    if any(c in ("Order.Status", "Status", "OrderType.Status") for c in codes):
        return CxlRejReason.TOO_LATE_TO_CANCEL
    if "Order" in codes:
        return CxlRejReason.UNKNOWN_ORDER
    if any(c in ("OrderPrice.TooFarAbove", "OrderPrice.TooFarBelow") for c in codes):
        return CxlRejReason.PRICE_EXCEEDS_CURRENT_PRICE_BAND
    if any(e.startswith("LimitPrice ") for e in errors):   # "LimitPrice <tick>": off the tick grid
        return CxlRejReason.INVALID_PRICE_INCREMENT
    return CxlRejReason.OTHER


def select_orders(
    records: Iterable[OrderRecord],
    account: str | None = None,
    code: str | None = None,
    market: str | None = None,
    side: str | None = None,
) -> list[OrderRecord]:
    return [
        r
        for r in records
        if (account is None or r.account == account)
        and (code is None or (r.terms.code, r.terms.market) == (code, market))
        and (side is None or r.terms.side.value == side)
    ]


def answer_status(
    key: SessionKey, version: FixVersion, msg: InboundMessage, record: OrderRecord | None, now: datetime
) -> OutboundMessage:
    """OrderStatusRequest(H) -> ExecutionReport status (unknown order: OrdStatus 8, OrdRejReason 5)."""
    extra = [] if version is FixVersion.FIX42 else [(t.ORD_STATUS_REQ_ID, msg.get(t.ORD_STATUS_REQ_ID))]
    if record is None:
        return reject_unknown_order(
            key, version, msg, now, exec_id=f"status-{stamp(now)}", ord_rej_reason=OrdRejReason.UNKNOWN_ORDER,
            text="unknown order", status=True, extra=extra,
        )  # fmt: skip
    exec_id = f"{record.order_id or record.request_id}-I-{stamp(now)}"
    return status_report(key, version, record, now, exec_id=exec_id, extra=extra)


def answer_mass_status(
    key: SessionKey,
    version: FixVersion,
    request: MassStatusRequest,
    records: Sequence[OrderRecord],
    now: datetime,
) -> list[OutboundMessage]:
    """One status report per matching working order; TotNumReports on each, LastRptRequested=Y on the last."""
    if request.req_type == "1":
        records = select_orders(records, request.account, request.code, request.market)
    else:
        records = select_orders(records, request.account)
    if not records:
        return [
            no_orders_status(key, version, request.mass_status_req_id, now, exec_id=f"status-{stamp(now)}")
        ]
    out = []
    for i, record in enumerate(records):
        extra = [
            (t.MASS_STATUS_REQ_ID, request.mass_status_req_id),
            (t.TOT_NUM_REPORTS, len(records)),
            (t.LAST_RPT_REQUESTED, True if i == len(records) - 1 else None),
        ]
        exec_id = f"{record.order_id or record.request_id}-I-{stamp(now)}"
        out.append(status_report(key, version, record, now, exec_id=exec_id, extra=extra))
    return out


class MassCancelRefused(BridgeRejection):
    """An OrderMassCancelRequest answered with MassCancelResponse 0 (``reason`` = MassCancelRejectReason)."""


def mass_cancel_request(msg: InboundMessage, session: SessionConfig) -> MassCancelRequest:
    """The scope of an OrderMassCancelRequest(q); supported: 1 (by security) and 7 (all orders)."""
    req_type = msg.get(t.MASS_CANCEL_REQUEST_TYPE) or ""
    if req_type not in ("1", "7"):
        raise MassCancelRefused("0", f"MassCancelRequestType {req_type} not supported (1 by security, 7 all)")
    try:
        request = parse_mass_cancel(msg, session)
    except BridgeRejection as exc:
        raise MassCancelRefused("1", exc.text) from None
    if req_type == "1" and request.code is None:
        raise MassCancelRefused("1", "MassCancelRequestType 1 needs Symbol(55)")
    return request


def mass_cancel_response(request: MassCancelRequest) -> str:
    return MassCancelResponse.ALL_ORDERS if request.req_type == "7" else MassCancelResponse.BY_SECURITY


def refuse_mass_cancel(
    key: SessionKey, version: FixVersion, msg: InboundMessage, report_id: str, refusal: BridgeRejection,
    now: datetime,
) -> OutboundMessage:  # fmt: skip
    return mass_cancel_report(
        key, version, cl_ord_id=msg.get(t.CL_ORD_ID) or "", report_id=report_id,
        request_type=msg.get(t.MASS_CANCEL_REQUEST_TYPE) or "7", response=MassCancelResponse.REQUEST_REJECTED,
        affected=(), now=now, text=refusal.text, reject_reason=refusal.reason,
    )  # fmt: skip


def unsupported_in_version(key: SessionKey, version: FixVersion, msg: InboundMessage) -> OutboundMessage:
    """BusinessMessageReject(j) reason 3 for a message the version's dictionary does not define."""
    return reject_inbound(
        msg, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE,
        f"MsgType {msg.msg_type} is not defined in {version.value}", version=version,
    )  # fmt: skip
