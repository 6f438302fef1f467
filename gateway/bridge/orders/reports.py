"""FIX answers as :class:`OutboundMessage` records: ExecutionReport(8), OrderCancelReject(9),
BusinessMessageReject(j) and OrderMassCancelReport(r), each per FIX version.

Version differences handled here (checked against the QuickFIX dictionaries):

* FIX 4.2: ExecTransType(20) is required (0 new, 3 status); ExecType(150) 1/2 for partial fill /
  fill; a replace reports OrdStatus 5; a status answer is ExecTransType=3 with ExecType = the
  current OrdStatus and ExecID "0"; OrdRejReason only 0-8 and CxlRejReason only 0-3 exist, so
  broader reasons fall back to 0 (broker option) / 2 with the detail in Text(58).
* FIX 4.4 and 5.0SP2: no tag 20; ExecType F for trades, I for status; replace reports the new
  order's own OrdStatus. From 5.0 OrderMassCancelReport needs MassActionReportID(1369).

Nothing here reads a clock: ``now`` (aware UTC) comes in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from gateway.bridge.orders.model import FixVersion, OrderRecord
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.tags import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    MsgType,
    OrdStatus,
)
from gateway.vocab.times import utc_timestamp

__all__ = [
    "cancel_reject",
    "exec_type_for_fill",
    "execution_report",
    "mass_cancel_report",
    "no_orders_status",
    "reject_unknown_order",
    "status_report",
]


def _ord_rej_reason(version: FixVersion, reason: str | None) -> str | None:
    return None if reason is None else t.reason_for_version(t.ORD_REJ_REASON, version.value, reason)


def _cxl_rej_reason(version: FixVersion, reason: str) -> str:
    return t.reason_for_version(t.CXL_REJ_REASON, version.value, reason) or CxlRejReason.OTHER


def exec_type_for_fill(version: FixVersion, done: bool) -> ExecType:
    if version is FixVersion.FIX42:
        return ExecType.FILL if done else ExecType.PARTIAL_FILL
    return ExecType.TRADE


def _account(record: OrderRecord) -> str:
    # Echo Account(1) as the partner sent it (an alias stays an alias); else the Plxtra ID.
    return record.fix_account or record.account


def execution_report(
    session: SessionKey,
    version: FixVersion,
    record: OrderRecord,
    *,
    exec_id: str,
    exec_type: ExecType | str,
    now: datetime,
    ord_status: str | None = None,
    cl_ord_id: str | None = None,
    orig_cl_ord_id: str | None = None,
    last_qty: Decimal | None = None,
    last_px: Decimal | None = None,
    text: str | None = None,
    ord_rej_reason: str | None = None,
    exec_trans_type: str = ExecTransType.NEW,
    extra: Iterable[tuple[int, object]] = (),
) -> OutboundMessage:
    """An ExecutionReport for ``record`` (its state after the event being reported).

    ``ord_status`` defaults to the record's state; CumQty + LeavesQty = OrderQty while the
    order works, LeavesQty = 0 once it is done (FIX 4.4 Vol 4 "Order State Changes").
    """
    terms = record.terms
    pairs: list[tuple[int, object]] = [
        (t.ORDER_ID, record.order_id or "NONE"),
        (t.CL_ORD_ID, cl_ord_id or record.cl_ord_id),
        (t.ORIG_CL_ORD_ID, orig_cl_ord_id),
        (t.EXEC_ID, exec_id),
    ]
    if version is FixVersion.FIX42:
        pairs.append((t.EXEC_TRANS_TYPE, exec_trans_type))
    pairs += [
        (t.EXEC_TYPE, exec_type),
        (t.ORD_STATUS, ord_status or record.state.value),
        (t.ORD_REJ_REASON, _ord_rej_reason(version, ord_rej_reason)),
        (t.ACCOUNT, _account(record)),
        # The instrument as the client sent it (F4): "XS02.XSX" stays so, with no 207 added.
        (t.SYMBOL, record.fix_symbol or terms.code),
        (t.SECURITY_EXCHANGE, record.fix_exchange if record.fix_symbol else terms.market),
        (t.SIDE, terms.side),
        (t.ORDER_QTY, terms.order_qty),
        (t.ORD_TYPE, terms.ord_type),
        (t.PRICE, terms.price),
        (t.STOP_PX, terms.stop_px),
        (t.TIME_IN_FORCE, terms.time_in_force),
        (t.EXPIRE_DATE, terms.expire_date.strftime("%Y%m%d") if terms.expire_date else None),
        (t.MIN_QTY, terms.min_qty),
        (t.MAX_FLOOR, terms.max_floor),
        (t.LAST_QTY, last_qty),
        (t.LAST_PX, last_px),
        (t.LEAVES_QTY, record.leaves_qty),
        (t.CUM_QTY, record.cum_qty),
        (t.AVG_PX, record.avg_px),
        (t.TRANSACT_TIME, utc_timestamp(now)),
        (t.TEXT, text),
    ]
    pairs += list(extra)
    return OutboundMessage.build(session, MsgType.EXECUTION_REPORT, pairs)


def status_report(
    session: SessionKey,
    version: FixVersion,
    record: OrderRecord,
    now: datetime,
    *,
    exec_id: str,
    extra: Iterable[tuple[int, object]] = (),
) -> OutboundMessage:
    """Answer to OrderStatusRequest(H) / one report of an OrderMassStatusRequest(AF)."""
    if version is FixVersion.FIX42:
        # FIX 4.2: ExecTransType=3 (Status), ExecType = current OrdStatus, ExecID "0".
        return execution_report(
            session,
            version,
            record,
            exec_id="0",
            exec_type=record.state.value,
            exec_trans_type=ExecTransType.STATUS,
            now=now,
            extra=extra,
        )
    return execution_report(
        session, version, record, exec_id=exec_id, exec_type=ExecType.ORDER_STATUS, now=now, extra=extra
    )


def reject_unknown_order(
    session: SessionKey,
    version: FixVersion,
    msg: InboundMessage,
    now: datetime,
    *,
    exec_id: str,
    ord_rej_reason: str,
    text: str,
    status: bool = False,
    extra: Iterable[tuple[int, object]] = (),
) -> OutboundMessage:
    """An ExecutionReport OrdStatus=8 built from the request alone (no order record exists).

    Used for a NewOrderSingle refused before it reached Plxtra (``status`` False: ExecType 8) and
    for an OrderStatusRequest naming an unknown order (``status`` True: ExecType I / 4.2 status).
    """
    if status and version is not FixVersion.FIX42:
        exec_type: str = ExecType.ORDER_STATUS
    else:
        exec_type = ExecType.REJECTED
    pairs: list[tuple[int, object]] = [
        (t.ORDER_ID, msg.get(t.ORDER_ID) or "NONE"),
        (t.CL_ORD_ID, msg.get(t.CL_ORD_ID)),
        (t.EXEC_ID, "0" if status and version is FixVersion.FIX42 else exec_id),
    ]
    if version is FixVersion.FIX42:
        pairs.append((t.EXEC_TRANS_TYPE, ExecTransType.STATUS if status else ExecTransType.NEW))
    pairs += [
        (t.EXEC_TYPE, exec_type),
        (t.ORD_STATUS, OrdStatus.REJECTED),
        (t.ORD_REJ_REASON, _ord_rej_reason(version, ord_rej_reason)),
        (t.ACCOUNT, msg.get(t.ACCOUNT)),
        (t.SYMBOL, msg.get(t.SYMBOL) or "[N/A]"),
        (t.SECURITY_EXCHANGE, msg.get(t.SECURITY_EXCHANGE)),
        (t.SIDE, msg.get(t.SIDE) or "1"),
        (t.ORDER_QTY, msg.get(t.ORDER_QTY)),
        (t.ORD_TYPE, msg.get(t.ORD_TYPE)),
        (t.PRICE, msg.get(t.PRICE)),
        (t.TIME_IN_FORCE, msg.get(t.TIME_IN_FORCE)),
        (t.LEAVES_QTY, 0),
        (t.CUM_QTY, 0),
        (t.AVG_PX, 0),
        (t.TRANSACT_TIME, utc_timestamp(now)),
        (t.TEXT, text),
    ]
    pairs += list(extra)
    return OutboundMessage.build(session, MsgType.EXECUTION_REPORT, pairs)


def no_orders_status(
    session: SessionKey, version: FixVersion, mass_status_req_id: str, now: datetime, exec_id: str
) -> OutboundMessage:
    """The single report answering an OrderMassStatusRequest that matches no order."""
    pairs: list[tuple[int, object]] = [
        (t.ORDER_ID, "NONE"),
        (t.EXEC_ID, exec_id),
        (t.EXEC_TYPE, ExecType.ORDER_STATUS),
        (t.ORD_STATUS, OrdStatus.REJECTED),
        (t.SYMBOL, "[N/A]"),
        (t.SIDE, "1"),
        (t.LEAVES_QTY, 0),
        (t.CUM_QTY, 0),
        (t.AVG_PX, 0),
        (t.TRANSACT_TIME, utc_timestamp(now)),
        (t.MASS_STATUS_REQ_ID, mass_status_req_id),
        (t.TOT_NUM_REPORTS, 0),
        (t.LAST_RPT_REQUESTED, True),
        (t.TEXT, "no orders match the request"),
    ]
    return OutboundMessage.build(session, MsgType.EXECUTION_REPORT, pairs)


def cancel_reject(
    session: SessionKey,
    version: FixVersion,
    *,
    cl_ord_id: str,
    orig_cl_ord_id: str,
    response_to: CxlRejResponseTo,
    reason: str,
    text: str,
    now: datetime,
    record: OrderRecord | None = None,
    account: str | None = None,
) -> OutboundMessage:
    """OrderCancelReject(9). For an unknown order OrderID is "NONE" and OrdStatus 8 (FIX 4.4 Vol 4)."""
    if record is not None:
        order_id = record.order_id or "NONE"
        ord_status = record.state.value
        account = record.fix_account or record.account
    else:
        order_id, ord_status = "NONE", OrdStatus.REJECTED
    pairs: list[tuple[int, object]] = [
        (t.ORDER_ID, order_id),
        (t.CL_ORD_ID, cl_ord_id),
        (t.ORIG_CL_ORD_ID, orig_cl_ord_id or "NONE"),
        (t.ORD_STATUS, ord_status),
        (t.ACCOUNT, account),
        (t.CXL_REJ_RESPONSE_TO, response_to),
        (t.CXL_REJ_REASON, _cxl_rej_reason(version, reason)),
        (t.TRANSACT_TIME, utc_timestamp(now) if version is not FixVersion.FIX42 else None),
        (t.TEXT, text),
    ]
    return OutboundMessage.build(session, MsgType.ORDER_CANCEL_REJECT, pairs)


def mass_cancel_report(
    session: SessionKey,
    version: FixVersion,
    *,
    cl_ord_id: str,
    report_id: str,
    request_type: str,
    response: str,
    affected: Iterable[OrderRecord],
    now: datetime,
    text: str | None = None,
    reject_reason: str | None = None,
) -> OutboundMessage:
    """OrderMassCancelReport(r): what was cancelled (TotalAffectedOrders + NoAffectedOrders group)."""
    orders = list(affected)
    pairs: list[tuple[int, object]] = [(t.ORDER_ID, report_id), (t.CL_ORD_ID, cl_ord_id)]
    if version is FixVersion.FIX50SP2:
        pairs.append((t.MASS_ACTION_REPORT_ID, report_id))
    pairs += [
        (t.MASS_CANCEL_REQUEST_TYPE, request_type),
        (t.MASS_CANCEL_RESPONSE, response),
        (t.MASS_CANCEL_REJECT_REASON, reject_reason),
        (t.TOTAL_AFFECTED_ORDERS, len(orders)),
    ]
    if orders:
        pairs.append((t.NO_AFFECTED_ORDERS, len(orders)))
        for o in orders:
            orig_tag = t.AFFECTED_ORIG_CL_ORD_ID if version is FixVersion.FIX50SP2 else t.ORIG_CL_ORD_ID
            pairs.append((orig_tag, o.cl_ord_id))
            pairs.append((t.AFFECTED_ORDER_ID, o.order_id or "NONE"))
    pairs += [(t.TRANSACT_TIME, utc_timestamp(now)), (t.TEXT, text)]
    return OutboundMessage.build(session, MsgType.ORDER_MASS_CANCEL_REPORT, pairs)

