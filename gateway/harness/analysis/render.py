"""Text, JSON and CSV for the analyses: what the ``orders``, ``sessions`` and ``latency`` commands print.

Everything here turns finished analyses into strings or rows; nothing reads logs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from gateway.harness.analysis.fastpath import format_time
from gateway.harness.analysis.latency import LatencyMonitor, PairStats
from gateway.harness.analysis.orders import Order, OrderEvent
from gateway.harness.analysis.sessions import SessionMonitor, SideHealth
from gateway.harness.analysis.vocab import Vocabulary

__all__ = [
    "ORDER_COLUMNS",
    "latency_json",
    "latency_text",
    "order_row",
    "order_story",
    "orders_csv",
    "orders_json",
    "orders_text",
    "seconds_text",
    "sessions_json",
    "sessions_text",
]

ORDER_COLUMNS = (
    "session",
    "cl_ord_id",
    "last_cl_ord_id",
    "order_id",
    "symbol",
    "side",
    "order_qty",
    "price",
    "status",
    "fills",
    "filled_qty",
    "avg_px",
    "replaces",
    "cancels",
    "rejects",
    "first_answer_ms",
    "final_ms",
    "issues",
)
_STORY_SKIP = frozenset({8, 9, 10, 35, 49, 56, 34, 52})


def seconds_text(value: float | None) -> str:
    """A duration for people: ``850 µs``, ``12.3 ms``, ``4.20 s``."""
    if value is None:
        return "-"
    if value < 0.9995e-3:  # (a float millisecond is often 0.000999...)
        return f"{value * 1e6:.0f} µs"
    if value < 0.9995:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1000:.3f}"


def _num(value: Decimal | None) -> str:
    if value is None:
        return ""
    if value.as_tuple().exponent < -8:  # type: ignore[operator]  # an average price: 8 places will do
        value = value.quantize(Decimal("1e-8")).normalize()
    return str(value)


def order_row(order: Order, vocab: Vocabulary) -> dict[str, Any]:
    """One order as a flat dict (CSV columns, JSON object, HTML row)."""
    begin = order.begin_string
    return {
        "session": str(order.session),
        "cl_ord_id": order.cl_ord_id,
        "last_cl_ord_id": order.chain[-1],
        "order_id": order.order_id or "",
        "symbol": order.symbol or "",
        "side": vocab.meaning(begin, 54, order.side) if order.side else "",
        "order_qty": _num(order.order_qty),
        "price": _num(order.price),
        "status": vocab.meaning(begin, 39, order.status) if order.status else "(no answer)",
        "fills": order.fills,
        "filled_qty": _num(order.filled_qty) if order.fills else "0",
        "avg_px": _num(order.avg_px),
        "replaces": order.replaces,
        "cancels": order.cancels,
        "rejects": "; ".join(order.rejects or ()),
        "first_answer_ms": _ms(order.first_answer_latency),
        "final_ms": _ms(order.final_latency),
        "issues": "; ".join(order.issues or ()),
    }


def orders_text(orders: Iterable[Order], vocab: Vocabulary, *, messages: int) -> str:
    orders = list(orders)
    rows = [order_row(o, vocab) for o in orders]
    head = (
        "ClOrdID",
        "OrderID",
        "Symbol",
        "Side",
        "Qty",
        "Px",
        "Status",
        "Fills",
        "AvgPx",
        "Repl",
        "Cxl",
        "1st answer",
        "final",
        "Issues",
    )
    table = [head]
    for order, r in zip(orders, rows, strict=True):
        chain = r["cl_ord_id"] if len(order.chain) == 1 else f"{r['cl_ord_id']}>{r['last_cl_ord_id']}"
        fills = f"{r['fills']} ({r['filled_qty']})" if r["fills"] else "0"
        table.append(
            (
                chain,
                r["order_id"],
                r["symbol"],
                r["side"],
                r["order_qty"],
                r["price"],
                r["status"],
                fills,
                r["avg_px"],
                str(r["replaces"]),
                str(r["cancels"]),
                seconds_text(order.first_answer_latency),
                seconds_text(order.final_latency),
                str(len(order.issues)) if order.issues else "",
            )
        )
    widths = [min(40, max(len(row[i]) for row in table)) for i in range(len(head))]
    lines = [
        "  ".join(cell[:40].ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    flagged = [r for r in rows if r["issues"] or r["rejects"]]
    lines.append("")
    lines.append(
        f"{len(rows)} order(s) from {messages:,} message(s); "
        f"{sum(1 for r in rows if r['issues'])} with inconsistencies"
    )
    for r in flagged:
        if r["rejects"]:
            lines.append(f"  {r['cl_ord_id']}: rejected: {r['rejects']}")
        if r["issues"]:
            for issue in r["issues"].split("; "):
                lines.append(f"  {r['cl_ord_id']}: INCONSISTENT: {issue}")
    return "\n".join(lines) + "\n"


def orders_json(orders: Iterable[Order], vocab: Vocabulary) -> list[dict[str, Any]]:
    out = []
    for order in orders:
        row = order_row(order, vocab)
        row["chain"] = list(order.chain)
        row["rejects"] = list(order.rejects or ())
        row["issues"] = list(order.issues or ())
        if order.events is not None:
            row["story"] = [_event_json(e, vocab) for e in order.events]
        out.append(row)
    return out


def orders_csv(orders: Iterable[Order], vocab: Vocabulary) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ORDER_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for order in orders:
        writer.writerow(order_row(order, vocab))
    return buffer.getvalue()


def event_fields(event: OrderEvent, vocab: Vocabulary) -> str:
    """The body fields of one message, named: ``ClOrdID=o1 Side=Buy OrderQty=100 ...``."""
    message = event.record.message
    begin = message.begin_string
    parts = []
    for tag, value in message.fields:
        if tag in _STORY_SKIP:
            continue
        meaning = vocab.meaning(begin, tag, value)
        shown = value if meaning == value else f"{value}({meaning})"
        parts.append(f"{vocab.field(begin, tag)}={shown}")
    return " ".join(parts)


def _event_json(event: OrderEvent, vocab: Vocabulary) -> dict[str, Any]:
    record = event.record
    return {
        "time": format_time(event.time),
        "where": f"{record.file}:{record.line}",
        "from": record.sender,
        "to": record.target,
        "msg_type": record.msg_type,
        "name": vocab.message(record.message.begin_string, record.msg_type),
        "note": event.note,
        "fields": event_fields(event, vocab),
    }


def order_story(order: Order, vocab: Vocabulary) -> str:
    """``--order ID``: the order's row, then every message, in log order."""
    r = order_row(order, vocab)
    lines = [
        f"order {' > '.join(order.chain)} (OrderID {r['order_id'] or '-'}) in {r['session']}",
        f"  {r['side']} {r['order_qty']} {r['symbol']} @ {r['price'] or 'market'}: {r['status']}, "
        f"{r['fills']} fill(s) {r['filled_qty']} avg {r['avg_px'] or '-'}, "
        f"first answer {seconds_text(order.first_answer_latency)}, "
        f"final state {seconds_text(order.final_latency)}",
    ]
    for reject in order.rejects or ():
        lines.append(f"  rejected: {reject}")
    for issue in order.issues or ():
        lines.append(f"  INCONSISTENT: {issue}")
    lines.append("")
    for event in order.events or ():
        e = _event_json(event, vocab)
        note = f"  [{e['note']}]" if e["note"] else ""
        lines.append(
            f"{e['time']}  {e['from']} -> {e['to']}  {e['name']}({e['msg_type']}){note}  ({e['where']})"
        )
        lines.append(f"    {e['fields']}")
    return "\n".join(lines) + "\n"


# -- sessions ---------------------------------------------------------------------------------------------
def _side_json(side: SideHealth, vocab: Vocabulary, begin: str, heart_bt_int: int) -> dict[str, Any]:
    return {
        "sender": side.sender,
        "messages": side.messages,
        "by_type": {f"{vocab.message(begin, t)}({t})": n for t, n in sorted(side.by_type.items())},
        "gaps": [
            {
                "first": g.first,
                "last": g.last,
                "time": format_time(g.time),
                "requested": g.requested,
                "filled": g.filled,
                "size": g.size,
                "how": g.how[:20],
            }
            for g in side.gaps
        ],
        "seq_too_low": side.seq_too_low,
        "poss_dup": side.poss_dup,
        "poss_resend": side.poss_resend,
        "resend_requests": side.resend_requests,
        "resend_ranges": [[b, e] for b, e in side.resend_ranges[:100]],
        "gap_fills": [[b, e] for b, e in side.gap_fills[:100]],
        "resets": side.resets,
        "logons": side.logons,
        "logouts": side.logouts,
        "rejects": side.rejects,
        "heart_bt_int": side.heart_bt_int or heart_bt_int,
        "heartbeat_gaps": side.heartbeat_gaps.summary(),
        "late_heartbeats": side.late_heartbeats,
        "max_silence": side.max_silence,
        "test_requests": side.test_requests,
        "test_answered": side.test_answers.count,
        "test_answer_time": side.test_answers.summary(),
        "test_missed": side.test_missed,
        "skew": {
            "min": side.skew_min,
            "max": side.skew_max,
            "mean": side.skew_total / side.skew_count if side.skew_count else None,
        },
    }


def sessions_json(monitor: SessionMonitor, vocab: Vocabulary) -> list[dict[str, Any]]:
    out = []
    for key, health in monitor.sessions.items():
        out.append(
            {
                "session": str(key),
                "first_time": format_time(health.first_time),
                "last_time": format_time(health.last_time),
                "heart_bt_int": health.heart_bt_int,
                "resend_storms": health.storms,
                "sides": [
                    _side_json(s, vocab, key.begin_string, health.heart_bt_int) for s in health.sides.values()
                ],
                "events": [
                    {
                        "time": format_time(e.time),
                        "side": e.side,
                        "kind": e.kind,
                        "text": e.text,
                        "where": f"{e.file}:{e.line}" if e.file else "",
                    }
                    for e in health.events
                ],
                "dropped_events": health.dropped_events,
            }
        )
    return out


def _side_text(side: SideHealth, vocab: Vocabulary, begin: str, heart_bt_int: int) -> list[str]:
    types = ", ".join(
        f"{vocab.message(begin, t)} {n}" for t, n in sorted(side.by_type.items(), key=lambda i: -i[1])
    )
    hb = side.heart_bt_int or heart_bt_int
    lines = [f"  {side.sender} sent {side.messages:,}: {types}"]
    if side.gaps:
        for g in side.gaps[:20]:
            state = "filled" if g.filled >= g.size else f"{g.filled}/{g.size} filled"
            asked = "asked back by ResendRequest" if g.requested else "never asked back"
            how = "; ".join(dict.fromkeys(g.how[:5])) or "nothing resent"
            lines.append(f"    gap {g.first}..{g.last} at {format_time(g.time)}: {asked}, {state} ({how})")
        if len(side.gaps) > 20:
            lines.append(f"    ... and {len(side.gaps) - 20} more gaps")
    else:
        lines.append("    no sequence gaps")
    if side.seq_too_low:
        lines.append(f"    MsgSeqNum too low (duplicate / out of order, no PossDup): {side.seq_too_low}")
    if side.resend_requests:
        ranges = ", ".join(f"{b}..{e or 'inf'}" for b, e in side.resend_ranges[:10])
        lines.append(f"    ResendRequests sent: {side.resend_requests} ({ranges})")
    if side.gap_fills:
        ranges = ", ".join(f"{b}..{e}" for b, e in side.gap_fills[:10])
        lines.append(f"    GapFills sent: {len(side.gap_fills)} ({ranges})")
    if side.poss_dup or side.poss_resend:
        lines.append(f"    PossDupFlag=Y: {side.poss_dup}, PossResend=Y: {side.poss_resend}")
    if side.resets:
        lines.append(f"    SequenceReset-Reset: {side.resets}")
    lines.append(
        f"    logons {side.logons}, logouts {len(side.logouts)}"
        + "".join(f"; logout: {reason}" for reason in side.logouts[:5])
    )
    for reject in side.rejects[:10]:
        lines.append(f"    session Reject: {reject}")
    hq = side.heartbeat_gaps
    if hq.count:
        lines.append(
            f"    heartbeats: {hq.count}, interval p50 {seconds_text(hq.quantile(0.5))}, "
            f"p99 {seconds_text(hq.quantile(0.99))}, max {seconds_text(hq.max)} "
            f"(HeartBtInt {hb}s); late {side.late_heartbeats}"
        )
    lines.append(f"    longest silence {seconds_text(side.max_silence)}")
    if side.test_requests:
        ta = side.test_answers
        lines.append(
            f"    TestRequests sent {side.test_requests}: answered {ta.count} "
            f"(p50 {seconds_text(ta.quantile(0.5))}, max {seconds_text(ta.max if ta.count else None)}), "
            f"missed {side.test_missed}"
        )
    if side.skew_count:
        mean = side.skew_total / side.skew_count
        lines.append(
            f"    log time - SendingTime: min {seconds_text(abs(side.skew_min or 0))}"
            f"{' (negative)' if (side.skew_min or 0) < 0 else ''}, mean {mean * 1000:.3f} ms, "
            f"max {seconds_text(abs(side.skew_max or 0))}{' (negative)' if (side.skew_max or 0) < 0 else ''}"
        )
    return lines


def sessions_text(monitor: SessionMonitor, vocab: Vocabulary, *, max_events: int = 50) -> str:
    lines = []
    for key, health in monitor.sessions.items():
        lines.append(
            f"session {key}: {format_time(health.first_time)} .. {format_time(health.last_time)}, "
            f"HeartBtInt {health.heart_bt_int}s"
            + (f", {health.storms} ResendRequest storm(s)" if health.storms else "")
        )
        for side in health.sides.values():
            lines.extend(_side_text(side, vocab, key.begin_string, health.heart_bt_int))
        shown = health.events[:max_events] if max_events else health.events
        if shown:
            lines.append("  events:")
            for e in shown:
                where = f"  ({e.file}:{e.line})" if e.file else ""
                lines.append(f"    {format_time(e.time)}  {e.kind:20} {e.text}{where}")
            hidden = len(health.events) - len(shown) + health.dropped_events
            if hidden:
                lines.append(f"    ... and {hidden} more (--events 0 shows all)")
        lines.append("")
    if not monitor.sessions:
        lines.append("no FIX session found")
    return "\n".join(lines) + "\n"


# -- latency ----------------------------------------------------------------------------------------------
def _pair_json(stats: PairStats) -> dict[str, Any]:
    q = stats.latencies
    return {
        "pair": stats.name,
        **q.summary(),
        "unanswered": stats.unanswered,
        "untimed": stats.untimed,
        "negative": stats.negative,
        "histogram": [{"low": lo, "high": hi, "count": n} for lo, hi, n in q.histogram(20)],
        "slowest": [{"seconds": s, "id": i, "where": w} for s, i, w in sorted(stats.slowest, reverse=True)],
    }


def latency_json(monitor: LatencyMonitor) -> list[dict[str, Any]]:
    return [_pair_json(s) for s in monitor.pairs.values() if s.latencies.count or s.unanswered]


def latency_text(monitor: LatencyMonitor, *, width: int = 40) -> str:
    lines = [f"{'pair':18} {'count':>8} {'unanswered':>10} {'p50':>10} {'p90':>10} {'p99':>10} {'max':>10}"]
    shown = [s for s in monitor.pairs.values() if s.latencies.count or s.unanswered]
    for s in shown:
        q = s.latencies
        lines.append(
            f"{s.name:18} {q.count:>8,} {s.unanswered:>10,} {seconds_text(q.quantile(0.5)):>10} "
            f"{seconds_text(q.quantile(0.9)):>10} {seconds_text(q.quantile(0.99)):>10} "
            f"{seconds_text(q.max if q.count else None):>10}"
        )
    for s in shown:
        histogram = s.latencies.histogram(12)
        if not histogram:
            continue
        top = max(n for _, _, n in histogram) or 1
        lines.append("")
        lines.append(f"{s.name}: histogram (log scale)")
        for lo, hi, n in histogram:
            bar = "#" * max(1 if n else 0, round(n / top * width))
            lines.append(f"  {seconds_text(lo):>9} .. {seconds_text(hi):>9} {n:>8,} {bar}")
        for seconds, ident, where in sorted(s.slowest, reverse=True)[:3]:
            lines.append(f"  slow: {seconds_text(seconds)} {ident} ({where})")
    if not shown:
        lines.append("(no request/answer pairs found)")
    return "\n".join(lines) + "\n"
