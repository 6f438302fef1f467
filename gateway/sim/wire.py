"""Zenith JSON wire helpers: message containers, Decimal encoding, date and time-span text.

Free of I/O. The simulator encodes each publish once with :func:`encode` and sends the same string
to every subscriber (spec §3.1: decimals are bare JSON numbers with minimal text; §1.4: output rules
for the message container).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "ABSENT",
    "DataError",
    "RawJSON",
    "container",
    "decode",
    "encode",
    "error_container",
    "fmt_date",
    "fmt_datetime",
    "fmt_timespan",
    "has_invalid_text",
    "may_hold_invalid_text",
    "opt_bool",
    "opt_decimal",
    "opt_int",
    "opt_str",
    "parse_datetime",
    "parse_timespan",
    "req_decimal",
    "req_str",
    "safe_container",
]


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "ABSENT"


ABSENT: Any = _Absent()


class RawJSON(str):
    """A JSON value already encoded: :func:`container` splices it in as is (encode once, send often)."""

    __slots__ = ()


class DataError(Exception):
    """Request data that cannot be deserialised (answered with ``Data.Deserialise``)."""


_Decimal = Decimal
_INT_EXACT = 2.0**53  # below this a float holds every integer exactly
_NUMBERS: dict[Decimal, int | float] = {}  # Decimal -> the number json writes for it


def _default(obj: object) -> object:
    # json's C encoder cannot emit raw number text for a Decimal; integral values become int and the
    # others float, whose repr is the shortest round-trip text, i.e. the minimal decimal for the
    # <= 15 significant digits prices and quantities have here ("9.95", not "9.950000").
    if obj.__class__ is _Decimal:
        try:  # prices and quantities repeat: a dict hit costs a quarter of the conversion
            num = _NUMBERS.get(obj)
        except TypeError:  # a signalling NaN cannot be hashed
            num = None
        if num is not None:
            return num
        f = float(obj)
        if -_INT_EXACT < f < _INT_EXACT:  # finite and small: the float settles integrality exactly
            i = int(f)
            num = i if i == f else f
            if len(_NUMBERS) >= 8192:
                _NUMBERS.clear()
            _NUMBERS[obj] = num  # equal Decimals ("9.95", "9.950") encode the same: one entry
            return num
    if isinstance(obj, Decimal):
        if obj.is_finite() and obj == obj.to_integral_value():
            return int(obj)
        return float(obj)
    if isinstance(obj, datetime):
        return fmt_datetime(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    raise TypeError(f"cannot encode {type(obj).__name__}")


# One C encoder built up front (``JSONEncoder.encode`` builds a new one per call): compact separators,
# UTF-8 text as is, no circular-reference bookkeeping (the simulator encodes only trees it built).
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)   # private to json, untyped
_iterencode = (
    _c_make_encoder(None, _default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if _c_make_encoder is not None
    else None
)
_slow_encode = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False).encode


def encode(obj: Any) -> str:
    """Compact JSON text; Decimal as a bare number, datetime as §3.2 text."""
    if _iterencode is None or isinstance(obj, str):  # pure-Python json, or a lone string
        return _slow_encode(obj)
    return "".join(_iterencode(obj, 0))


# built once: json.loads builds a new decoder on every call that passes parse_float
_decoder = json.JSONDecoder(parse_float=Decimal)
_decode_text = _decoder.decode


def decode(text: str | bytes) -> Any:
    """Parse one frame; non-integral numbers become Decimal. Raises ValueError when malformed."""
    if not isinstance(text, str):
        text = text.decode(json.detect_encoding(text), "surrogatepass")  # as json.loads does
    elif text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _decode_text(text)


_HEADS: dict[tuple[str, str | None, str | None], str] = {}


def _head(controller: str, topic: str | None, action: str | None) -> str:
    """``{"Controller":..,"Topic":..,"Action":..`` (no closing brace), encoded once per combination."""
    key = (controller, topic, action)
    head = _HEADS.get(key)
    if head is None:
        msg: dict[str, Any] = {"Controller": controller}
        if topic is not None:
            msg["Topic"] = topic
        if action is not None and action != "Publish":
            msg["Action"] = action
        head = encode(msg)[:-1]
        if len(_HEADS) < 4096:  # topics carry symbols and accounts: bounded, not a leak
            _HEADS[key] = head
    return head


def container(
    controller: str,
    topic: str | None,
    data: Any = ABSENT,
    tid: int | None = None,
    action: str | None = None,
    confirm: bool = False,
) -> str:
    """Encode a message container following the simulator output rules of spec §1.4.

    Key order: Controller, Topic, Action, TransactionID, Data, Confirm."""
    parts = [_head(controller, topic, action)]
    if tid is not None:
        parts.append(f',"TransactionID":{tid if tid.__class__ is int else encode(tid)}')
    if data is not ABSENT:
        parts.append(',"Data":')
        parts.append(data if isinstance(data, RawJSON) else encode(data))
    parts.append(',"Confirm":true}' if confirm else "}")
    return "".join(parts)


def error_container(controller: str, topic: str | None, code: str, tid: int | None = None) -> str:
    return container(controller, topic, code, tid=tid, action="Error")


# ---------------------------------------------------------------- text that is not valid (lone surrogates)

# A JSON string may escape a UTF-16 surrogate (\uD800-\uDFFF); a pair is one valid character, a lone
# one decodes to a Python string that can never be encoded (nor echoed back). Any surrogate escape
# starts with "\ud" in either case: only such frames pay for walking the decoded message.
_SURROGATE = re.compile("[\ud800-\udfff]")


def may_hold_invalid_text(text: str) -> bool:
    """Cheap pre-check of a frame's (UTF-8-decoded) text: False means no string in it can hold a
    lone surrogate. Most frames have no backslash at all: one single-character scan (~20 ns)."""
    return "\\" in text and ("\\ud" in text or "\\uD" in text)


def has_invalid_text(obj: Any) -> bool:
    """True if any string (key or value) in the decoded ``obj`` holds a lone surrogate."""
    if isinstance(obj, str):
        return _SURROGATE.search(obj) is not None
    if isinstance(obj, dict):
        return any(has_invalid_text(k) or has_invalid_text(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(has_invalid_text(v) for v in obj)
    return False


def safe_container(
    controller: str, topic: str | None, data: Any = ABSENT, tid: int | None = None, action: str | None = None
) -> str:
    """A container whose strings may hold anything: non-ASCII is written as JSON escapes, so the
    frame is valid UTF-8 and the client reads back exactly the Controller and Topic it sent."""
    msg: dict[str, Any] = {"Controller": controller}
    if topic is not None:
        msg["Topic"] = topic
    if action is not None and action != "Publish":
        msg["Action"] = action
    if tid is not None:
        msg["TransactionID"] = tid
    if data is not ABSENT:
        msg["Data"] = data
    return json.dumps(msg, ensure_ascii=True, separators=(",", ":"), default=_default)


# ---------------------------------------------------------------- dates and times (spec §3.2, §3.3)


_DT_TEXT: dict[tuple[datetime, Any], str] = {}


def fmt_datetime(dt: datetime) -> str:
    """Extended ISO-8601 with explicit offset; milliseconds only when non-zero (spec §3.2)."""
    # The server's clock ticks in whole milliseconds, so one order's several stamps share one text.
    key = (dt, dt.tzinfo)  # equal instants in other zones print differently
    text = _DT_TEXT.get(key)
    if text is not None:
        return text
    if dt.microsecond // 1000:
        text = dt.isoformat(timespec="milliseconds")
    else:
        text = dt.isoformat(timespec="seconds")
    if len(_DT_TEXT) >= 256:
        _DT_TEXT.clear()
    _DT_TEXT[key] = text
    return text


def fmt_date(d: date) -> str:
    return d.isoformat()


def fmt_timespan(seconds: float) -> str:
    """.NET TimeSpan text ``[-][d.]hh:mm:ss[.fffffff]`` (spec §3.3)."""
    sign = "-" if seconds < 0 else ""
    ticks = round(abs(seconds) * 10_000_000)
    total_seconds, frac = divmod(ticks, 10_000_000)
    days, rem = divmod(total_seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days:
        text = f"{days}.{text}"
    if frac:
        text = f"{text}.{frac:07d}"
    return sign + text


_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?$")


def parse_timespan(text: str) -> float:
    """Parse ``[days.]hours:minutes[:seconds[.fraction]]``; raises DataError."""
    m = _TIMESPAN.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise DataError(f"bad time span {text!r}")
    neg, days, hours, minutes, secs, frac = m.groups()
    value = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(secs or 0)
    total = value + (float("0." + frac) if frac else 0.0)
    return -total if neg else total


_DT = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: object, default_tz: timezone = UTC) -> datetime:
    """Accept basic and extended ISO-8601, with or without fraction/offset, or a date alone (spec §3.2)."""
    if not isinstance(text, str):
        raise DataError(f"bad date-time {text!r}")
    m = _DT.match(text.strip())
    if not m:
        raise DataError(f"bad date-time {text!r}")
    year, month, day, hh, mi, ss, frac, off = m.groups()
    if off is None:
        tz = default_tz
    elif off == "Z":
        tz = UTC
    else:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(year), int(month), int(day), int(hh or 0), int(mi or 0), int(ss or 0), micro, tz)
    except ValueError as exc:
        raise DataError(str(exc)) from exc


# ---------------------------------------------------------------- typed field access (Data.Deserialise)


def req_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise DataError(key)
    return value


def opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(key)
    return value


def opt_bool(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise DataError(key)
    return value


def opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise DataError(key)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise DataError(key) from None
    raise DataError(key)


def opt_decimal(data: dict[str, Any], key: str) -> Decimal | None:
    """A Decimal field; numeric strings are tolerated on input (spec §3.1)."""
    value = data.get(key)
    if value is None:
        return None
    cls = value.__class__
    if cls is _Decimal:  # the usual shapes first (hot path); bool is never exactly int here
        result = value
    elif cls is int:
        result = _Decimal(value)
    elif isinstance(value, bool):
        raise DataError(key)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise DataError(key) from None
    else:
        raise DataError(key)
    if not result.is_finite():
        raise DataError(key)
    return result


def req_decimal(data: dict[str, Any], key: str) -> Decimal:
    value = opt_decimal(data, key)
    if value is None:
        raise DataError(key)
    return value
