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
from datetime import UTC, datetime
from decimal import Decimal

from gateway.bridge.orders.lifecycle import OrderState
from gateway.bridge.orders.model import FixVersion, OrderRecord, OrderTerms
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey, decimal_text
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
    "transact_time",
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


# The report's tags as module constants (one global look-up each, not a module attribute too).
_ORDER_ID, _CL_ORD_ID, _ORIG_CL_ORD_ID, _EXEC_ID, _EXEC_TRANS_TYPE = (
    t.ORDER_ID, t.CL_ORD_ID, t.ORIG_CL_ORD_ID, t.EXEC_ID, t.EXEC_TRANS_TYPE)
_EXEC_TYPE, _ORD_STATUS, _ORD_REJ_REASON, _ACCOUNT, _SYMBOL, _SECURITY_EXCHANGE = (
    t.EXEC_TYPE, t.ORD_STATUS, t.ORD_REJ_REASON, t.ACCOUNT, t.SYMBOL, t.SECURITY_EXCHANGE)
_LAST_QTY, _LAST_PX, _LEAVES_QTY, _CUM_QTY, _AVG_PX, _TRANSACT_TIME, _TEXT = (
    t.LAST_QTY, t.LAST_PX, t.LEAVES_QTY, t.CUM_QTY, t.AVG_PX, t.TRANSACT_TIME, t.TEXT)
_STATE_TEXT = {state: state.value for state in OrderState}  # not the enum's value property per report
_FIX42 = FixVersion.FIX42  # read per report: a module global, not the enum's descriptor
_EXEC_TYPE_TEXT: dict[str, str] = {m: m.value for m in ExecType}


def _wire(value: object) -> str:
    """A field value as :meth:`OutboundMessage.build` writes it (never None here)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]  # narrowed by the type check
    if kind is Decimal:
        return decimal_text(value)  # type: ignore[arg-type]
    if isinstance(value, str):  # a StrEnum: str() is its wire value
        return str(value)
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _quantity(value: Decimal) -> str:
    # CumQty, LeavesQty and AvgPx are zero on most reports; the text cache keeps no zero.
    if value:
        return decimal_text(value)
    return "-0" if value.is_signed() else "0"


def _terms_fields(terms: OrderTerms) -> list[tuple[int, str]]:
    """Side(54) .. MaxFloor(111) of ``terms`` as wire text. Not kept on the terms: a cache there
    holds ten more objects per order for as long as the order is remembered, which costs more
    in garbage collection (orders_micro ``service``) than building them again for a later report."""
    out = [(t.SIDE, str(terms.side)), (t.ORDER_QTY, _wire(terms.order_qty)),
           (t.ORD_TYPE, str(terms.ord_type))]
    if terms.price is not None:
        out.append((t.PRICE, _wire(terms.price)))
    if terms.stop_px is not None:
        out.append((t.STOP_PX, _wire(terms.stop_px)))
    out.append((t.TIME_IN_FORCE, str(terms.time_in_force)))
    if terms.expire_date:
        out.append((t.EXPIRE_DATE, terms.expire_date.strftime("%Y%m%d")))
    if terms.min_qty is not None:
        out.append((t.MIN_QTY, _wire(terms.min_qty)))
    if terms.max_floor is not None:
        out.append((t.MAX_FLOOR, _wire(terms.max_floor)))
    return out


# The UTCTimestamp text of the second being reported, by its POSIX second: from one report to
# the next only the milliseconds change.
_second: list[tuple[float, str]] = [(-1.0, "")]
_MILLIS = tuple(f".{ms:03d}" for ms in range(1000))


def transact_time(now: datetime) -> str:
    """``utc_timestamp(now)``, the date and time of day formatted once per second."""
    if now.tzinfo is not UTC:
        return utc_timestamp(now)
    second = now.timestamp() // 1
    last, text = _second[0]
    if second != last:
        text = utc_timestamp(now, 0)
        _second[0] = (second, text)
    return text + _MILLIS[now.microsecond // 1000]


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

    The fields are written directly, in the order and with the texts :meth:`OutboundMessage.build`
    gives the same pairs (a None leaves its tag out): one report per order event, on the critical
    path of every answer (tests/bridge/test_orders_equivalence.py compares the two).
    """
    terms = record.terms
    if cl_ord_id is None or cl_ord_id == "":
        cl_ord_id = record.cl_ord_id
    out: list[tuple[int, str]] = [
        (_ORDER_ID, record.order_id or "NONE"),
        (_CL_ORD_ID, cl_ord_id if type(cl_ord_id) is str else _wire(cl_ord_id)),
    ]
    if orig_cl_ord_id is not None:
        out.append((_ORIG_CL_ORD_ID, _wire(orig_cl_ord_id)))
    out.append((_EXEC_ID, exec_id if type(exec_id) is str else _wire(exec_id)))
    if version is _FIX42:
        out.append((_EXEC_TRANS_TYPE, _wire(exec_trans_type)))
    status = ord_status if ord_status else _STATE_TEXT[record.state]
    out.append((_EXEC_TYPE, _EXEC_TYPE_TEXT.get(exec_type) or _wire(exec_type)))
    out.append((_ORD_STATUS, status if type(status) is str else _wire(status)))
    if ord_rej_reason is not None:
        reason = _ord_rej_reason(version, ord_rej_reason)
        if reason is not None:
            out.append((_ORD_REJ_REASON, _wire(reason)))
    account = record.fix_account or record.account
    out.append((_ACCOUNT, account if type(account) is str else _wire(account)))
    # The instrument as the client sent it (F4): "XS02.XSX" stays so, with no 207 added.
    symbol = record.fix_symbol
    if symbol:
        exchange = record.fix_exchange
    else:
        symbol, exchange = terms.code, terms.market
    out.append((_SYMBOL, symbol if type(symbol) is str else _wire(symbol)))
    if exchange is not None:
        out.append((_SECURITY_EXCHANGE, exchange if type(exchange) is str else _wire(exchange)))
    out += _terms_fields(terms)
    if last_qty is not None:
        out.append((_LAST_QTY, _wire(last_qty)))
    if last_px is not None:
        out.append((_LAST_PX, _wire(last_px)))
    out.append((_LEAVES_QTY, _quantity(record.leaves_qty)))
    out.append((_CUM_QTY, _quantity(record.cum_qty)))
    out.append((_AVG_PX, _quantity(record.avg_px)))
    out.append((_TRANSACT_TIME, transact_time(now)))
    if text is not None:
        out.append((_TEXT, text if type(text) is str else _wire(text)))
    for tag, value in extra:
        if value is not None:
            out.append((tag, _wire(value)))
    return OutboundMessage(session, MsgType.EXECUTION_REPORT, tuple(out))


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

