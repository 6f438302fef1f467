"""FIX application versions the gateway speaks, and how a session's BeginString names one.

FIXT.1.1 sessions carry FIX 5.0 SP2 application messages (the only DefaultApplVerID the
gateway accepts, see ``gateway.config``), so the application version of a session follows from
its BeginString alone. Reject-reason tables (:func:`gateway.vocab.tags.reason_for_version`) and
every message builder key on :class:`FixVersion`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FixVersion"]


class FixVersion(StrEnum):
    """Application version; values are the dictionary names (``ApplVerID`` text for 5.0 SP2)."""

    FIX42 = "FIX.4.2"
    FIX44 = "FIX.4.4"
    FIX50SP2 = "FIX.5.0SP2"

    @classmethod
    def of_begin_string(cls, begin_string: str) -> FixVersion:
        """The application version of a session whose BeginString(8) is ``begin_string``."""
        if begin_string == "FIX.4.2":
            return cls.FIX42
        if begin_string == "FIX.4.4":
            return cls.FIX44
        return cls.FIX50SP2
