"""The self-contained HTML report of an analysis: session timelines, latency histograms, the order
table with each order's story folded in a ``<details>``, session events, and (for ``diff``) the
differences. One file, inline CSS and SVG, no script: it opens anywhere and can be mailed.
"""

from __future__ import annotations

from html import escape
from typing import Any

from gateway.harness.analysis.fastpath import format_time
from gateway.harness.analysis.pipeline import Analysis
from gateway.harness.analysis.render import event_fields, order_row, seconds_text
from gateway.harness.analysis.svg import MARK_COLOURS, histogram_svg, timeline_svg
from gateway.harness.analysis.vocab import Vocabulary

__all__ = ["MAX_HTML_ORDERS", "render_html"]

MAX_HTML_ORDERS = 2000  # a browser handles this many expandable stories comfortably

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;
vertical-align:top}th{background:#f0f0f0}.num{text-align:right}.bad{color:#c62828;font-weight:600}
.muted{color:#777}.figures span{display:inline-block;margin-right:24px}.figures b{font-size:18px}
details summary{cursor:pointer;color:#1565c0}ol.story{margin:4px 0;padding-left:20px;font:12px monospace}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;
margin-right:4px}tr.issue td{background:#fff3f3}
"""


def _e(value: object) -> str:
    return escape(str(value))


def render_html(
    analysis: Analysis,
    vocab: Vocabulary,
    *,
    title: str,
    diff_lines: list[str] | None = None,
    problems: list[str] | None = None,
) -> str:
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"
    ]
    parts.append(_figures(analysis))
    if diff_lines is not None:
        parts.append("<h2>Differences</h2>")
        if diff_lines:
            parts.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in diff_lines) + "</ul>")
        else:
            parts.append("<p>No differences.</p>")
        parts.append("<p class='muted'>The figures above and the sections below are recording A's.</p>")
    if analysis.sessions is not None:
        parts.append(_sessions(analysis, vocab))
    if analysis.latency is not None:
        parts.append(_latency(analysis))
    if analysis.orders is not None:
        parts.append(_orders(analysis, vocab))
    if problems:
        parts.append(
            "<h2>Problems in the input</h2><ul>" + "".join(f"<li>{_e(p)}</li>" for p in problems) + "</ul>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def _figures(analysis: Analysis) -> str:
    items: list[tuple[str, object]] = [("messages", f"{analysis.messages:,}")]
    if analysis.sessions is not None:
        sessions = analysis.sessions.sessions.values()
        items.append(("sessions", len(sessions)))
        items.append(("sequence gaps", sum(len(h.gaps()) for h in sessions)))
    if analysis.orders is not None:
        orders = analysis.orders.orders
        items.append(("orders", f"{len(orders):,}"))
        items.append(("orders with inconsistencies", sum(1 for o in orders if o.issues)))
    return "<p class='figures'>" + "".join(f"<span><b>{_e(v)}</b> {_e(k)}</span>" for k, v in items) + "</p>"


def _sessions(analysis: Analysis, vocab: Vocabulary) -> str:
    assert analysis.sessions is not None
    out = ["<h2>Sessions</h2>"]
    legend = "".join(f"<span><i style='background:{c}'></i>{_e(k)}</span>" for k, c in MARK_COLOURS.items())
    out.append(f"<p class='legend'>{legend}</p>")
    for key, health in analysis.sessions.sessions.items():
        out.append(f"<h3>{_e(key)}</h3>")
        marks = [(e.time, e.kind, e.text) for e in health.events if e.time is not None]
        out.append(timeline_svg(health.timeline(), marks))
        out.append(
            "<table><tr><th>side</th><th>messages</th><th>gaps</th><th>ResendRequests</th>"
            "<th>GapFills</th><th>PossDup</th><th>logons</th><th>logouts</th><th>Rejects</th>"
            "<th>heartbeat p50 / p99 / max</th><th>TestRequests (answered / missed)</th></tr>"
        )
        for side in health.sides.values():
            hq = side.heartbeat_gaps
            hb = (
                f"{seconds_text(hq.quantile(0.5))} / {seconds_text(hq.quantile(0.99))} / "
                f"{seconds_text(hq.max)}"
                if hq.count
                else "-"
            )
            cls = " class='bad'" if side.gaps or side.test_missed or side.seq_too_low else ""
            out.append(
                f"<tr{cls}><td>{_e(side.sender)}</td><td class='num'>{side.messages:,}</td>"
                f"<td class='num'>{len(side.gaps)}</td><td class='num'>{side.resend_requests}</td>"
                f"<td class='num'>{len(side.gap_fills)}</td><td class='num'>{side.poss_dup}</td>"
                f"<td class='num'>{side.logons}</td><td>{_e('; '.join(side.logouts) or '-')}</td>"
                f"<td>{_e('; '.join(side.rejects) or '-')}</td><td>{_e(hb)}</td>"
                f"<td>{side.test_requests} ({side.test_answers.count} / {side.test_missed})</td></tr>"
            )
        out.append("</table>")
        if health.events:
            rows = "".join(
                f"<tr><td>{_e(format_time(e.time))}</td><td>{_e(e.kind)}</td><td>{_e(e.text)}</td>"
                f"<td class='muted'>{_e(f'{e.file}:{e.line}' if e.file else '')}</td></tr>"
                for e in health.events[:500]
            )
            out.append(
                f"<details><summary>{len(health.events)} session event(s)</summary><table>"
                f"<tr><th>time</th><th>kind</th><th>what</th><th>where</th></tr>{rows}</table></details>"
            )
    return "".join(out)


def _latency(analysis: Analysis) -> str:
    assert analysis.latency is not None
    out = [
        "<h2>Latency</h2><table><tr><th>pair</th><th>count</th><th>unanswered</th><th>p50</th><th>p90</th>"
        "<th>p99</th><th>max</th></tr>"
    ]
    shown = [s for s in analysis.latency.pairs.values() if s.latencies.count or s.unanswered]
    for s in shown:
        q = s.latencies
        out.append(
            f"<tr><td>{_e(s.name)}</td><td class='num'>{q.count:,}</td><td class='num'>{s.unanswered}</td>"
            f"<td class='num'>{seconds_text(q.quantile(0.5))}</td>"
            f"<td class='num'>{seconds_text(q.quantile(0.9))}</td>"
            f"<td class='num'>{seconds_text(q.quantile(0.99))}</td>"
            f"<td class='num'>{seconds_text(q.max if q.count else None)}</td></tr>"
        )
    out.append("</table>")
    for s in shown:
        if s.latencies.count:
            out.append(
                f"<div style='display:inline-block;margin-right:16px'><h3>{_e(s.name)}</h3>"
                f"{histogram_svg(s.latencies.histogram(20), label=s.name + ' latency')}</div>"
            )
    if not shown:
        out.append("<p class='muted'>no request/answer pairs found</p>")
    return "".join(out)


def _orders(analysis: Analysis, vocab: Vocabulary) -> str:
    assert analysis.orders is not None
    orders = analysis.orders.orders
    out = [f"<h2>Orders ({len(orders):,})</h2>"]
    if len(orders) > MAX_HTML_ORDERS:
        out.append(f"<p class='muted'>first {MAX_HTML_ORDERS:,} shown; the CSV or JSON output has all</p>")
    out.append(
        "<table class='orders'><tr><th>ClOrdID</th><th>OrderID</th><th>symbol</th><th>side</th>"
        "<th>qty</th><th>price</th><th>status</th><th>fills</th><th>avg px</th><th>replaces</th>"
        "<th>cancels</th><th>first answer</th><th>final</th><th>rejects / issues</th><th>story</th></tr>"
    )
    for order in orders[:MAX_HTML_ORDERS]:
        r: dict[str, Any] = order_row(order, vocab)
        notes = [*(order.rejects or ()), *(order.issues or ())]
        cls = " class='issue'" if order.issues else ""
        story = ""
        if order.events:
            items = "".join(
                f"<li>{_e(format_time(e.time))} {_e(e.record.sender)} &rarr; {_e(e.record.target)} "
                f"<b>{_e(vocab.message(e.record.message.begin_string, e.record.msg_type))}</b>"
                f"{' [' + _e(e.note) + ']' if e.note else ''}<br>{_e(event_fields(e, vocab))}</li>"
                for e in order.events
            )
            story = (
                f"<details><summary>{len(order.events)} messages</summary>"
                f"<ol class='story'>{items}</ol></details>"
            )
        chain = " &gt; ".join(_e(c) for c in order.chain)
        out.append(
            f"<tr{cls}><td>{chain}</td><td>{_e(r['order_id'])}</td><td>{_e(r['symbol'])}</td>"
            f"<td>{_e(r['side'])}</td><td class='num'>{_e(r['order_qty'])}</td>"
            f"<td class='num'>{_e(r['price'])}</td><td>{_e(r['status'])}</td>"
            f"<td class='num'>{r['fills']} ({_e(r['filled_qty'])})</td><td class='num'>{_e(r['avg_px'])}</td>"
            f"<td class='num'>{r['replaces']}</td><td class='num'>{r['cancels']}</td>"
            f"<td class='num'>{seconds_text(order.first_answer_latency)}</td>"
            f"<td class='num'>{seconds_text(order.final_latency)}</td>"
            f"<td class='bad'>{'<br>'.join(_e(n) for n in notes)}</td><td>{story}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)
