"""Read a session's ``schedule:`` (``24/7`` or a daily / weekly window) into a :class:`Schedule`.

Times are ``HH:MM`` or ``HH:MM:SS`` on a 24-hour clock, in ``time_zone`` (IANA name, default UTC);
``start_day``/``end_day`` (both or neither) make the window weekly. Days are stored as QuickFIX
spells them (``Sun`` .. ``Sat``); ``quickfix_settings.py`` converts zoned times to UTC.
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import Node, ScalarNode

from gateway.config.model import Schedule
from gateway.config.yamlnodes import NodeReader, join_key

__all__ = ["ALWAYS_ON", "DAYS", "SCHEDULE_KEYS", "read_schedule"]

SCHEDULE_KEYS = ("start_time", "end_time", "time_zone", "start_day", "end_day")
DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")   # QuickFIX counts Sunday as day 1
ALWAYS_ON = "24/7"
_DAY_NAMES = {d.lower(): d for d in DAYS} | {
    "sunday": "Sun", "monday": "Mon", "tuesday": "Tue", "wednesday": "Wed", "thursday": "Thu",
    "friday": "Fri", "saturday": "Sat",
}
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")


def read_schedule(r: NodeReader, node: Node, key: str) -> Schedule | None:
    if isinstance(node, ScalarNode):
        text = r.string(node, key)
        if text is None:
            return None
        if text.replace(" ", "").lower() in (ALWAYS_ON, "always"):
            return Schedule(always_on=True)
        r.error(node, key, f"{text!r}: write '24/7' or a mapping with start_time and end_time")
        return None
    m = r.mapping(node, key, SCHEDULE_KEYS)
    if m is None:
        return None

    def opt(name: str, read) -> object:   # type: ignore[no-untyped-def]
        got = m.get(name)
        return read(r, *got) if got else None

    start = opt("start_time", _time)
    end = opt("end_time", _time)
    for name in ("start_time", "end_time"):
        if name not in m:
            r.error(node, join_key(key, name), "missing: a timed schedule needs start_time and "
                                               "end_time (HH:MM:SS), or write schedule: 24/7")
    zone = opt("time_zone", _zone) or "UTC"
    start_day = opt("start_day", _day)
    end_day = opt("end_day", _day)
    if ("start_day" in m) != ("end_day" in m):
        r.error(node, key, "start_day and end_day go together (a weekly session needs both)")
    if not isinstance(start, time) or not isinstance(end, time):
        return None
    return Schedule(always_on=False, start_time=start, end_time=end, time_zone=str(zone),
                    start_day=start_day if isinstance(start_day, str) else None,
                    end_day=end_day if isinstance(end_day, str) else None)


def _time(r: NodeReader, node: Node, key: str) -> time | None:
    text = r.string(node, key)
    if text is None:
        return None
    match = _TIME.fullmatch(text)
    if not match:
        r.error(node, key, f"{text!r} is not a time of day HH:MM:SS (24-hour clock)")
        return None
    return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _zone(r: NodeReader, node: Node, key: str) -> str | None:
    text = r.string(node, key)
    if text is None:
        return None
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        r.error(node, key, f"{text!r} is not an IANA time zone such as UTC or Australia/Sydney")
        return None
    return text


def _day(r: NodeReader, node: Node, key: str) -> str | None:
    text = r.string(node, key)
    if text is None:
        return None
    day = _DAY_NAMES.get(text.lower())
    if day is None:
        r.error(node, key, f"{text!r} is not a day of the week ({', '.join(DAYS)})")
    return day
