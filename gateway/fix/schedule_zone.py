"""Session schedules that follow daylight-saving changes without a restart.

The settings renderer converts a zoned schedule (``time_zone: Europe/London``) to UTC at the
offset of the day it runs, so a gateway running across a DST change keeps the old offset. QuickFIX
C++ can evaluate session times in the process's local time zone instead (``UseLocalTime=Y``,
through ``localtime_r``, which applies the zone's rules at each check). :func:`localize` rewrites
the schedule lines of every session in the one time zone used by the config to local times with
``UseLocalTime=Y``; :func:`use_process_zone` makes that zone the process's (``TZ`` + ``tzset``;
the gateway's own logs are UTC whatever ``TZ`` says). With sessions in several time zones only
one can be local: the others keep the UTC conversion and a warning says they need a restart
after a DST change.
"""

from __future__ import annotations

import logging
import os
import re
import time

from gateway.config.model import GatewayConfig, SessionConfig

__all__ = ["localize", "use_process_zone"]

log = logging.getLogger("gateway.fix.schedule_zone")

_SCHEDULE_LINE = re.compile(r"^(StartTime|EndTime|StartDay|EndDay)=.*\n|^# schedule in .*\n", re.MULTILINE)


def _zoned(s: SessionConfig) -> str | None:
    sch = s.schedule
    if sch.always_on or sch.start_time is None or sch.end_time is None or sch.time_zone == "UTC":
        return None
    return sch.time_zone


def localize(config: GatewayConfig, text: str) -> tuple[str, str | None]:
    """(settings text, the zone to make the process's, or None)."""
    zones = sorted({z for s in config.sessions if (z := _zoned(s)) is not None})
    if not zones:
        return text, None
    zone = zones[0]
    if len(zones) > 1:
        log.warning("sessions use several time zones (%s): only %s follows DST changes live; the others "
                    "were converted to UTC at start and need a restart after a DST change",
                    ", ".join(zones), zone)
    blocks = re.split(r"(?=^\[SESSION\]\s*$)", text, flags=re.MULTILINE)
    out = [blocks[0]]
    for block in blocks[1:]:
        session = _session_of(config, block)
        if session is None or _zoned(session) != zone:
            out.append(block)
            continue
        sch = session.schedule
        assert sch.start_time is not None and sch.end_time is not None
        lines = ["UseLocalTime=Y", f"StartTime={sch.start_time:%H:%M:%S}", f"EndTime={sch.end_time:%H:%M:%S}"]
        if sch.start_day and sch.end_day:
            lines += [f"StartDay={sch.start_day}", f"EndDay={sch.end_day}"]
        body = _SCHEDULE_LINE.sub("", block).rstrip("\n")
        out.append(body + f"\n# schedule in {zone} local time (follows DST)\n" + "\n".join(lines) + "\n\n")
    return "".join(out), zone


def use_process_zone(zone: str | None) -> None:
    """Make ``zone`` the process's local time zone (what QuickFIX's UseLocalTime reads)."""
    if zone is None or os.environ.get("TZ") == zone:
        return
    os.environ["TZ"] = zone
    time.tzset()
    log.info("session schedules evaluated in %s local time (daylight-saving changes apply live)", zone)


def _session_of(config: GatewayConfig, block: str) -> SessionConfig | None:
    def field(name: str) -> str | None:
        found = re.search(rf"^{name}=(.*)$", block, re.MULTILINE)
        return found.group(1).strip() if found else None

    begin, sender, target = field("BeginString"), field("SenderCompID"), field("TargetCompID")
    if begin is None or sender is None or target is None:
        return None
    return config.session_for(begin, sender, target)
