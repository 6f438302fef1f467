"""Cheap per-message access for the analysers: field maps, header peeks and log times.

The analysers run over logs of millions of messages at >= 100k msg/s (bench/log_analysis.py), so
they cannot afford ``FixMessage.fields`` (ints, tuples, data-field care) or a ``datetime`` per
message. What they use instead, and why it is still exact:

- :func:`field_map` splits a message into ``{b"tag": b"value"}``. A data field (RawData(96) & co.)
  may hold SOH, which a plain split would cut wrongly; a data field is always announced by its
  LENGTH field, so when one of those tags is present we take the codec's careful split instead.
  A repeated tag keeps its last value: the analysers read order fields that are not group members.
- :func:`header_peek` finds MsgSeqNum(34), SendingTime(52), PossDupFlag(43) and PossResend(97) by
  byte search: these tags exist only in the standard header, which comes before any body field
  (FIX 4.4 Vol. 2, "Message Format"), so the first ``<SOH>34=`` is the header's. Only a header data
  field (SecureData(91), XmlData(213)) could hide a fake one: with those present we split properly.
- :class:`Clock` turns log time texts into epoch seconds (float) with a cache per minute.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable

from gateway.harness.codec import LENGTH_TAGS, FixMessage
from gateway.harness.readers import parse_log_time
from gateway.vocab.times import utc_timestamp_from_epoch

__all__ = ["Clock", "Quantiles", "field_map", "format_time", "header_peek", "text"]

_LENGTH_KEYS = frozenset(str(t).encode() for t in LENGTH_TAGS)
# group 1: a header data field (SecureData, XmlData) that could hide fake tags; else a flag set to Y
_HEADER_DATA = re.compile(rb"\x01(?:90|212)=")
_RARE = re.compile(rb"\x01(?:(90|212)=|(?:43|97)=Y\x01)")


def field_map(message: FixMessage) -> dict[bytes, bytes]:
    """``{b"tag": b"value"}`` of the whole message (8, 9 and 10 included)."""
    raw = message.raw
    # Tags and values alternate once every SOH is an "=": split once, pair up in C. A value holding
    # "=" (Text(58) may) breaks the count and takes the careful path below.
    parts = raw.replace(b"\x01", b"=").split(b"=")
    if len(parts) == 2 * raw.count(b"\x01") + 1:
        pairs = iter(parts)
        fields = dict(zip(pairs, pairs, strict=False))
        if _LENGTH_KEYS.isdisjoint(fields):
            return fields
    return {str(t).encode(): v.encode("latin-1") for t, v in message.fields}


def header_peek(message: FixMessage) -> tuple[int, bytes | None, bool, bool]:
    """(MsgSeqNum or -1, SendingTime bytes, PossDupFlag=Y, PossResend=Y) of one message."""
    raw = message.raw
    rare = _RARE.search(raw)  # one scan for header data fields, PossDupFlag and PossResend
    if rare is not None and (rare.group(1) is not None or _HEADER_DATA.search(raw, rare.end()) is not None):
        seq_text = message.get(34)
        sent = message.get(52)
        return (
            int(seq_text) if seq_text and seq_text.isdigit() else -1,
            sent.encode("latin-1") if sent else None,
            message.get(43) == "Y",
            message.get(97) == "Y",
        )
    i = raw.find(b"\x0134=")
    seq = -1
    if i >= 0:
        j = raw.find(b"\x01", i + 4)
        digits = raw[i + 4 : j]
        if digits.isdigit():
            seq = int(digits)
    i = raw.find(b"\x0152=")
    sent_b = None
    if i >= 0:
        sent_b = raw[i + 4 : raw.find(b"\x01", i + 4)]
    if rare is None:
        return seq, sent_b, False, False
    return seq, sent_b, raw.find(b"\x0143=Y\x01") >= 0, raw.find(b"\x0197=Y\x01") >= 0


def text(value: bytes | None) -> str | None:
    """A field value for display (Latin-1, lossless), None stays None."""
    return None if value is None else value.decode("latin-1")


class Clock:
    """Log and SendingTime texts -> epoch seconds, cached per minute.

    ``20240102-10:00:00.123456`` (QuickFIX, FIX UTCTimestamp) and ``2024-01-02 10:00:00,123`` (ISO-ish)
    take the fast path: the minute is looked up, the seconds added. Anything else goes through
    ``readers.parse_log_time``. Times are UTC, as QuickFIX writes them.
    """

    __slots__ = ("_last", "_last_value", "_minutes")

    def __init__(self) -> None:
        self._minutes: dict[str, float | None] = {}
        self._last: str | bytes | None = None
        self._last_value: float | None = None

    def seconds(self, value: str | bytes | None) -> float | None:
        """Epoch seconds of a time text; None when it is not one. The last answer is remembered."""
        if value == self._last:  # logs write many lines per millisecond
            return self._last_value
        result = self._seconds(value)
        self._last, self._last_value = value, result
        return result

    def _seconds(self, value: str | bytes | None) -> float | None:
        if not value:
            return None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if len(value) >= 17 and value[8] == "-" and value[11] == ":" and value[14] == ":":
            head, rest = value[:14], value[15:]
        elif len(value) >= 19 and value[4] == "-" and value[13] == ":" and value[16] == ":":
            head, rest = value[:16], value[17:].replace(",", ".")
        else:
            when = parse_log_time(value)
            return None if when is None else when.timestamp()
        base = self._minutes.get(head, False)
        if base is False:
            when = parse_log_time(head + ":00")
            base = None if when is None else when.timestamp()
            if len(self._minutes) > 100_000:  # a very long log: start the cache afresh
                self._minutes.clear()
            self._minutes[head] = base
        if base is None:
            return None
        try:
            return base + float(rest[:12])
        except ValueError:
            when = parse_log_time(value)
            return None if when is None else when.timestamp()


def format_time(seconds: float | None) -> str:
    """Epoch seconds -> ``20240102-10:00:00.123456`` (UTC)."""
    if seconds is None:
        return "-"
    return utc_timestamp_from_epoch(seconds, 6)


class Quantiles:
    """Percentiles and a histogram of non-negative durations in constant memory.

    The first ``EXACT`` values are kept as they are, so small samples give exact percentiles. Past
    that, values fall into logarithmic buckets 2% wide (HdrHistogram's idea), so a percentile is known
    to within 2% whatever the number of values; count, sum, min and max stay exact. Memory is then the
    number of distinct buckets used (at most a few hundred between 1 µs and hours).
    """

    __slots__ = ("buckets", "count", "exact", "max", "min", "total", "zeros")

    EXACT = 4096

    _GROWTH = math.log(1.02)
    _FLOOR = 1e-6  # below one microsecond a log timestamp cannot tell: counted as zero

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.exact: list[float] | None = []
        self.count = 0
        self.zeros = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        exact = self.exact
        if exact is not None:
            exact.append(value)
            if len(exact) < self.EXACT:
                return
            self.exact = None  # from now on in buckets only
            for kept in exact:
                self._bucket(kept)
            return
        self._bucket(value)

    def _bucket(self, value: float) -> None:
        if value < self._FLOOR:
            self.zeros += 1
            return
        index = int(math.log(value / self._FLOOR) / self._GROWTH)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def extend(self, values: Iterable[float]) -> None:
        for value in values:
            self.add(value)

    def _bucket_value(self, index: int) -> float:
        # the geometric middle of the bucket: within 1% of any value in it
        return self._FLOOR * math.exp((index + 0.5) * self._GROWTH)

    def quantile(self, q: float) -> float | None:
        """The value below which a share ``q`` (0..1) of the values lie, or None when empty."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        if self.exact is not None:
            return sorted(self.exact)[rank - 1]
        if rank <= self.zeros:
            return max(0.0, self.min)
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(max(self._bucket_value(index), self.min), self.max)
        return self.max

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def histogram(self, bins: int = 20) -> list[tuple[float, float, int]]:
        """``[(low, high, count)]``: ``bins`` bins of equal width on a log scale from min to max."""
        if not self.count:
            return []
        low = max(self.min, self._FLOOR)
        high = max(self.max, low * 1.0001)
        if high <= low * 1.0001 or bins <= 1:
            return [(self.min, self.max, self.count)]
        edges = [low * (high / low) ** (i / bins) for i in range(bins + 1)]
        counts = [0] * bins
        if self.exact is not None:
            for value in self.exact:
                slot = min(bins - 1, max(0, bisect.bisect_right(edges, value) - 1))
                counts[slot] += 1
            return [(edges[i], edges[i + 1], counts[i]) for i in range(bins)]
        counts[0] += self.zeros
        for index, n in self.buckets.items():
            value = min(max(self._bucket_value(index), low), high)
            slot = min(bins - 1, max(0, bisect.bisect_right(edges, value) - 1))
            counts[slot] += n
        return [(edges[i], edges[i + 1], counts[i]) for i in range(bins)]

    def summary(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "p50": self.quantile(0.50),
            "p90": self.quantile(0.90),
            "p99": self.quantile(0.99),
            "max": self.max if self.count else None,
            "mean": self.mean,
        }
