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
    "opt_bool",
    "opt_decimal",
    "opt_int",
    "opt_str",
    "parse_datetime",
    "parse_timespan",
    "req_decimal",
    "req_str",
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


def _default(obj: object) -> object:
    # json's C encoder cannot emit raw number text for a Decimal; integral values become int and the
    # others float, whose repr is the shortest round-trip text, i.e. the minimal decimal for the
    # <= 15 significant digits prices and quantities have here ("9.95", not "9.950000").
    if isinstance(obj, Decimal):
        if obj == obj.to_integral_value():
            return int(obj)
        return float(obj)
    if isinstance(obj, datetime):
        return fmt_datetime(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    raise TypeError(f"cannot encode {type(obj).__name__}")


encode = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False).encode


def decode(text: str | bytes) -> Any:
    """Parse one frame; non-integral numbers become Decimal. Raises ValueError when malformed."""
    return json.loads(text, parse_float=Decimal)


def container(
    controller: str,
    topic: str | None,
    data: Any = ABSENT,
    tid: int | None = None,
    action: str | None = None,
    confirm: bool = False,
) -> str:
    """Encode a message container following the simulator output rules of spec §1.4."""
    if isinstance(data, RawJSON):
        head = container(controller, topic, tid=tid, action=action)
        tail = ',"Confirm":true}' if confirm else "}"
        return f'{head[:-1]},"Data":{data}{tail}'
    msg: dict[str, Any] = {"Controller": controller}
    if topic is not None:
        msg["Topic"] = topic
    if action is not None and action != "Publish":
        msg["Action"] = action
    if tid is not None:
        msg["TransactionID"] = tid
    if data is not ABSENT:
        msg["Data"] = data
    if confirm:
        msg["Confirm"] = True
    return encode(msg)


def error_container(controller: str, topic: str | None, code: str, tid: int | None = None) -> str:
    return container(controller, topic, code, tid=tid, action="Error")


# ---------------------------------------------------------------- dates and times (spec §3.2, §3.3)


def fmt_datetime(dt: datetime) -> str:
    """Extended ISO-8601 with explicit offset; milliseconds only when non-zero (spec §3.2)."""
    if dt.microsecond // 1000:
        return dt.isoformat(timespec="milliseconds")
    return dt.isoformat(timespec="seconds")


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
    if isinstance(value, bool):
        raise DataError(key)
    if isinstance(value, Decimal):
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
