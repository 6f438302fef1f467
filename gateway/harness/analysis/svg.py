"""Inline SVG charts drawn by hand: a session timeline and a latency histogram.

No plotting library: two chart kinds of a few dozen shapes each do not justify a dependency, and
hand-written SVG keeps the report self-contained (no script, no web font) and readable as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

__all__ = ["MARK_COLOURS", "histogram_svg", "timeline_svg"]

# event kind -> colour of its mark on the timeline
MARK_COLOURS = {
    "logon": "#2e7d32",
    "logout": "#616161",
    "gap": "#c62828",
    "resend-request": "#ef6c00",
    "gap-fill": "#f9a825",
    "storm": "#ad1457",
    "reject": "#6a1b9a",
    "test-request-missed": "#d50000",
    "seq-too-low": "#4e342e",
    "reset": "#0277bd",
    "late-heartbeat": "#8d6e63",
}
_MAX_BINS = 600


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def timeline_svg(
    per_second: dict[int, int],
    marks: Sequence[tuple[float, str, str]],
    *,
    width: int = 1000,
    height: int = 180,
) -> str:
    """Messages per second as bars, with a vertical mark per event ``(time, kind, text)``."""
    if not per_second:
        return '<p class="muted">no timestamps: no timeline</p>'
    start = min(per_second)
    end = max(max(per_second), int(max((m[0] for m in marks), default=start))) + 1
    span = max(1, end - start)
    step = max(1, -(-span // _MAX_BINS))  # seconds per bar
    bins: dict[int, int] = {}
    for second, n in per_second.items():
        b = (second - start) // step
        bins[b] = bins.get(b, 0) + n
    left, right, top, bottom = 50, 10, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(bins.values()) / step
    bar_w = plot_w / max(1, -(-span // step))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="messages per second">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for b, n in sorted(bins.items()):
        rate = n / step
        h = plot_h * rate / peak if peak else 0
        x = left + b * bar_w
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 0.5, 0.8):.1f}" '
            f'height="{h:.1f}" fill="#90caf9"><title>{_clock(start + b * step)}: {rate:.1f} msg/s'
            f"</title></rect>"
        )
    for t, kind, label in marks:
        x = left + (t - start) / span * plot_w
        colour = MARK_COLOURS.get(kind, "#000")
        parts.append(
            f'<line class="mark {escape(kind)}" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="{colour}" stroke-width="2"><title>{escape(_clock(t))} {escape(label)}</title></line>'
        )
    parts.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">{peak:.0f}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>')
    parts.append(f'<text x="{left}" y="{height - 10}" font-size="11">{_clock(start)}</text>')
    parts.append(
        f'<text x="{width - right}" y="{height - 10}" font-size="11" text-anchor="end">{_clock(end)}</text>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 10}" font-size="11" text-anchor="middle">'
        f"messages per second ({step}s per bar)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(
    bins: Sequence[tuple[float, float, int]],
    *,
    label: str,
    width: int = 480,
    height: int = 180,
) -> str:
    """Bars of ``(low, high, count)`` (log-scale bins), x labelled with the durations."""
    if not bins:
        return '<p class="muted">no data</p>'
    left, right, top, bottom = 40, 10, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(n for _, _, n in bins) or 1
    bar_w = plot_w / len(bins)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for i, (lo, hi, n) in enumerate(bins):
        h = plot_h * n / peak
        x = left + i * bar_w
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
            f'height="{h:.1f}" fill="#7e57c2"><title>{_duration(lo)} .. {_duration(hi)}: {n}'
            f"</title></rect>"
        )
    parts.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>')
    parts.append(f'<text x="{left}" y="{top + plot_h + 14}" font-size="11">{_duration(bins[0][0])}</text>')
    parts.append(
        f'<text x="{width - right}" y="{top + plot_h + 14}" font-size="11" text-anchor="end">'
        f"{_duration(bins[-1][1])}</text>"
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" font-size="11" text-anchor="middle">'
        f"{escape(label)} (log scale)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 0.9995e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 0.9995:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"
