"""FIX time formats (UTCTimestamp, UTCDateOnly, UTCTimeOnly) from aware datetimes.

The one place the gateway turns a moment into FIX time text, so that every message carries the
same precision: milliseconds unless a caller asks otherwise (whole seconds for QuickFIX
acceptance scripts, microseconds for log analysis). Naive datetimes are taken as UTC, which is
what every clock in the gateway hands out; aware ones are converted.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_date_only", "utc_time_only", "utc_timestamp", "utc_timestamp_from_epoch"]

_DIGITS = (0, 3, 6)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fraction(moment: datetime, digits: int) -> str:
    if digits == 3:
        return f".{moment.microsecond // 1000:03d}"
    if digits == 6:
        return f".{moment.microsecond:06d}"
    if digits == 0:
        return ""
    raise ValueError(f"FIX time precision must be one of {_DIGITS} digits, not {digits}")


def utc_timestamp(moment: datetime, digits: int = 3) -> str:
    """UTCTimestamp ``YYYYMMDD-HH:MM:SS[.sss|.ssssss]`` (FIX 4.2+; 6 digits from FIX 4.4 on)."""
    moment = _utc(moment)
    return (f"{moment.year:04d}{moment.month:02d}{moment.day:02d}-"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{_fraction(moment, digits)}")


def utc_timestamp_from_epoch(seconds: float, digits: int = 3) -> str:
    """:func:`utc_timestamp` of a POSIX time (log and capture readers hold those)."""
    return utc_timestamp(datetime.fromtimestamp(seconds, UTC), digits)


def utc_date_only(moment: datetime) -> str:
    """UTCDateOnly ``YYYYMMDD`` (e.g. MDEntryDate 272)."""
    moment = _utc(moment)
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"


def utc_time_only(moment: datetime, digits: int = 3) -> str:
    """UTCTimeOnly ``HH:MM:SS[.sss]`` (e.g. MDEntryTime 273)."""
    moment = _utc(moment)
    return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{_fraction(moment, digits)}"
