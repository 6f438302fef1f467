"""Field-level values of the Zenith wire format, parsed leniently and written strictly.

JSON numbers become :class:`~decimal.Decimal` (never ``float``, §3.1) and Decimals are written
back as minimal JSON number text. Dates and date-times accept every form listed in §3.2, time
spans the .NET form of §3.3, and enumerations the documented aliases (§3.9, §8.22-23).
Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import orjson

__all__ = [
    "as_mapping",
    "dumps",
    "format_decimal",
    "loads",
    "normalize_class",
    "normalize_side",
    "optional_str",
    "parse_date",
    "parse_datetime",
    "parse_timespan",
    "required",
    "split_code",
    "split_comma",
    "str_tuple",
    "to_decimal",
    "to_int",
]

_decoder = json.JSONDecoder(parse_float=Decimal)
_decode = _decoder.decode
_scan_once: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii
# msgspec hands every non-integer number to the hook as its text: Decimal(text), as parse_float.
_fast_decode: Callable[[str | bytes], Any] = msgspec.json.Decoder(float_hook=Decimal).decode


def loads(text: str) -> Any:
    """``json.loads`` with ``parse_float=Decimal``: every frame's parse, same result or same error.

    msgspec decodes first (2.3x the stdlib C scanner on an order frame, bench/zenith_frames.py,
    issue 13): non-integers reach its ``float_hook`` as their number text, so they are the
    Decimals ``parse_float`` makes (``1E+2``, ``-0.0``, 40 digits, ``1e400`` alike), integers of
    any size are ints, the last of duplicate keys wins, and whitespace around the document is
    allowed, as in the stdlib. Everything msgspec refuses (a ``ValueError``: ``NaN``/``Infinity``
    literals, an escaped lone surrogate such as ``"\\ud800"``, a str holding a raw surrogate,
    an integer past 4,300 digits, trailing data, a syntax error) and a nesting too deep for it is
    decoded again by the stdlib, which gives its result or raises its ``json.JSONDecodeError``:
    what msgspec accepts it reads as the stdlib does (tests/zenith/test_values_decoder.py
    compares both on generated documents and every recorded frame). The transport hands text,
    not the frame's bytes: msgspec reads both at the same speed, the UTF-8 decode costs 0.1-0.2 us
    a frame, and invalid UTF-8 stays the transport's to refuse (close 1007). orjson was measured
    here and not taken: it reads every non-integer as a float, and proving a frame exact (a walk
    of the tree for floats, their number text matched) cost more than it saved."""
    try:
        return _fast_decode(text)
    except (ValueError, RecursionError):
        pass
    return _stdlib_loads(text)


def _stdlib_loads(text: str) -> Any:
    """The stdlib's decode with ``parse_float=Decimal``: the reference :func:`loads` keeps to.

    A compact document goes straight to the C scanner, skipping the Python layers of
    ``decode``/``raw_decode``; anything else (leading or trailing whitespace, extra data, a
    syntax error) goes through ``decode``, for the same result or error."""
    try:
        obj, end = _scan_once(text, 0)
    except StopIteration:
        return _decode(text)
    if end != len(text):
        return _decode(text)
    return obj


def format_decimal(value: Decimal) -> str:
    """Minimal plain number text: ``Decimal("100.000")`` -> ``100``, ``Decimal("1E+2")`` -> ``100``."""
    if not value.is_finite():
        raise ValueError(f"{value} cannot be sent as a JSON number")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def _encode(obj: Any, out: list[str]) -> None:
    # Type dispatch by exact type first: the common request payload is dicts of str and Decimal.
    t = type(obj)
    if t is str:
        out.append(_encode_str(obj))
    elif t is dict:
        out.append("{")
        first = True
        for key, value in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(key if isinstance(key, str) else str(key)))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif t is Decimal:
        out.append(format_decimal(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif t is int:
        out.append(str(obj))
    elif t is list or t is tuple:
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    elif isinstance(obj, str):  # str enums: the value, never "Class.MEMBER"
        out.append(_encode_str(obj))
    elif isinstance(obj, Decimal):
        out.append(format_decimal(obj))
    elif isinstance(obj, int):
        out.append(str(int(obj)))
    elif isinstance(obj, float):
        # Only reached if a caller passed a float: use its shortest repr, never a binary expansion.
        out.append(format_decimal(Decimal(repr(obj))))
    elif isinstance(obj, dict):
        _encode(dict(obj), out)
    elif isinstance(obj, (list, tuple)):
        _encode(list(obj), out)
    elif isinstance(obj, date):  # datetime is a date subclass
        out.append(_encode_str(obj.isoformat()))
    else:
        raise TypeError(f"cannot encode {t.__name__} as Zenith JSON")


def _plain(obj: Any) -> bool:
    """Only types whose orjson text is exactly :func:`_encode`'s: dicts with str keys, lists,
    tuples, str, int, Decimal, None, bools (a float, an enum or a date takes the slow path)."""
    t = type(obj)
    if t is dict:
        for key, value in obj.items():
            if type(key) is not str:
                return False
            t = type(value)
            if t is str or t is Decimal or t is int or value is None or t is bool:
                continue
            if t is dict:
                # A request's Details / Route: their scalars checked here, no call per object
                # (issue 13: every call of the order path's one PlaceOrder counts at 200/s).
                for key2, value2 in value.items():
                    if type(key2) is not str:
                        return False
                    t = type(value2)
                    if t is str or t is Decimal or t is int or value2 is None or t is bool:
                        continue
                    if not _plain(value2):
                        return False
                continue
            if not _plain(value):
                return False
        return True
    if t is list or t is tuple:
        return all(_plain(value) for value in obj)
    return t is str or t is Decimal or t is int or obj is None or t is bool


def _fragment(value: Any) -> Any:
    # orjson's hook for a type it does not know: a Decimal is spliced in as its number text,
    # format_decimal's (inlined: one call less per number of every request).
    if type(value) is Decimal:
        if not value.is_finite():
            raise ValueError(f"{value} cannot be sent as a JSON number")
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        return orjson.Fragment(text)
    raise TypeError


def dumps(obj: Any) -> str:
    """Compact JSON with Decimals as plain numbers (``9.95``, ``100``) and dates as ISO-8601.

    Every request body goes through here: a body of plain types (what the order path sends) is
    written by orjson (Decimals as their :func:`format_decimal` text), ~3x faster than
    :func:`_encode`; the same text, or :func:`_encode` decides (anything else, a non-ASCII
    character or DEL, which ``_encode`` escapes, an integer beyond 64 bits, a NaN Decimal's error)."""
    if _plain(obj):
        try:
            out = orjson.dumps(obj, default=_fragment)
        except (orjson.JSONEncodeError, ValueError):
            pass
        else:
            if out.isascii() and b"\x7f" not in out:   # _encode escapes DEL too
                return out.decode("ascii")
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def to_decimal(value: Any) -> Decimal | None:
    """Decimal from a JSON number or numeric string (§8.21); ``None`` stays ``None``.

    The one Zenith number parser of the gateway (bridge and market data use it too). Anything
    that is not a finite number (``"ten"``, ``""``, ``true``, NaN, Infinity) raises
    ``ValueError``: a malformed quantity or price is an error the caller must handle, never a
    silent 0 or ``None``.
    """
    if value is None:
        return None
    t = type(value)
    if t is Decimal:
        result = value
    elif t is int:
        return Decimal(value)
    elif t is str:
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    elif t is float:
        result = Decimal(repr(value))   # shortest digits, never the binary expansion
    elif isinstance(value, bool):   # JSON true/false is not a quantity
        raise ValueError(f"not a number: {value!r}")
    elif isinstance(value, int):    # int subclasses (IntEnum)
        return Decimal(int(value))
    elif isinstance(value, str):    # str subclasses (StrEnum): their value
        return to_decimal(str(value))
    elif isinstance(value, (Decimal, float)):
        return to_decimal(Decimal(value) if isinstance(value, Decimal) else float(value))
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def to_int(value: Any) -> int | None:
    """Integer from a JSON number or numeric string (``"ID":"10001"``, §4.14); ``None`` stays ``None``."""
    if value is None:
        return None
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    dec = to_decimal(value)
    assert dec is not None
    if dec != dec.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    return int(dec)


_DT = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


_fromisoformat = datetime.fromisoformat


def _tz(text: str | None, default: tzinfo) -> tzinfo:
    if text is None:
        return default
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    if hours == 0 and minutes == 0:
        return UTC
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(text: Any, default_tz: tzinfo = UTC) -> datetime | None:
    """Aware datetime from any §3.2 form; a bare date means midnight; no offset means ``default_tz``."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=default_tz)
    if type(text) is str and len(text) > 16 and text[10] == "T" and text[4] == "-":
        # The extended form with a time (what the simulator and motif-core send, §3.2) by the C
        # parser, in a fraction of the regex's time (two date-times per Order, several Orders per
        # order); only that form: it reads a date-only "20120603+10:00" as 10:00 UTC.
        try:
            parsed = _fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=default_tz)
    m = _DT.match(str(text).strip())
    if m is None:
        raise ValueError(f"not an ISO-8601 date-time: {text!r}")
    year, month, day, hh, mm, ss, frac, off = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return datetime(
        int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro,
        tzinfo=_tz(off, default_tz),
    )


def parse_date(text: Any) -> date | None:
    """Date from ``YYYY-MM-DD``, ``YYYYMMDD`` or a date-time (its date part, as written)."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    m = _DT.match(str(text).strip())
    if m is None:
        raise ValueError(f"not an ISO-8601 date: {text!r}")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


_SPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?$")


def parse_timespan(text: Any) -> timedelta | None:
    """``[-][d.]hh:mm[:ss[.fffffff]]`` (§3.3) -> timedelta; ``"1.12:20:5"`` is 1 day 12 h 20 min 5 s."""
    if text is None or text == "":
        return None
    m = _SPAN.match(str(text).strip())
    if m is None:
        raise ValueError(f"not a time span: {text!r}")
    neg, days, hours, minutes, seconds, frac = m.groups()
    span = timedelta(
        days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0),
        microseconds=int((frac or "0")[:6].ljust(6, "0")),
    )
    return -span if neg else span


def split_comma(text: Any) -> tuple[str, ...]:
    """Comma list inside a string (§3.4): split, trim, drop empties; a JSON array is accepted too."""
    if text is None:
        return ()
    if isinstance(text, (list, tuple)):
        return tuple(str(x).strip() for x in text if str(x).strip())
    return tuple(part.strip() for part in str(text).split(",") if part.strip())


def split_code(text: str) -> tuple[str, str]:
    """``"Code suffix..."`` -> (code, suffix), split at the first space (§1.10, §7.D-E)."""
    text = text.strip()
    code, _, suffix = text.partition(" ")
    return code, suffix.strip()


_SIDES = {"Bid": "Bid", "B": "Bid", "Buy": "Bid", "Ask": "Ask", "A": "Ask", "S": "Ask", "Sell": "Ask"}


def normalize_side(value: Any) -> str | None:
    """``Bid``/``Ask``; the doc examples' ``B``/``A``/``S`` are accepted (§8.22)."""
    if value is None:
        return None
    return _SIDES.get(str(value), str(value))


def normalize_class(value: Any) -> str | None:
    """``Market``/``ManagedFund``; pre-2.0 ``Equity``/``Option`` mean ``Market`` (§8.23)."""
    if value is None:
        return None
    text = str(value)
    return "Market" if text in ("Equity", "Option") else text


# -- record-building helpers shared by records.py and market_records.py ------------------------

EMPTY_MAPPING: Mapping[str, Any] = {}


def required(obj: Mapping[str, Any], name: str, what: str) -> Any:
    """``obj[name]``; a missing or null value raises ValueError naming the record and field."""
    value = obj.get(name)
    if value is None:
        raise ValueError(f"{what}: required field {name!r} missing in {dict(obj)!r:.300}")
    return value


def optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a JSON object, else an empty mapping (tolerant of absent/odd shapes)."""
    if type(value) is dict:  # what the JSON decoder makes: no ABC check
        return value
    return value if isinstance(value, Mapping) else EMPTY_MAPPING


def str_tuple(value: Any) -> tuple[str, ...]:
    """A JSON array as a tuple of strings; anything else as ()."""
    if isinstance(value, (list, tuple)):
        return tuple(str(x) for x in value)
    return ()
