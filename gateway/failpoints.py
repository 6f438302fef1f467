"""Crash points: named places where a test can have the process killed (SIGKILL) on purpose.

The state-safety tests kill the gateway at each step of a request's intake (journal written,
decision committed, PlaceOrder answered, answer handed to QuickFIX) and check, after a restart,
that nothing was lost or decided twice. A crash point costs one string comparison when unset.
Set ``PLXTRA_FIX_CRASH_AT=<point>`` in the environment of a gateway process; the first time the
process reaches that point it kills itself with SIGKILL (no shutdown code runs, as with kill -9).
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = frozenset({
    "journal-appended", "decision-committed", "place-answered", "answer-handed",
    "store-apply-midway",  # gateway.store: halfway through a batch applied to SQLite
})

_armed = os.environ.get("PLXTRA_FIX_CRASH_AT") or None
if _armed is not None and _armed not in CRASH_POINTS:
    raise SystemExit(f"PLXTRA_FIX_CRASH_AT={_armed!r}: not one of {sorted(CRASH_POINTS)}")


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if ``PLXTRA_FIX_CRASH_AT`` names ``name``."""
    if _armed is not None and _armed == name:
        os.kill(os.getpid(), signal.SIGKILL)
