"""Errors of the store.

GatewayError
└── StoreError              the database (SQLite file or PostgreSQL) cannot be opened or reached, is of an
                            unknown schema, or a write failed
    └── DuplicateClOrdID    a ClOrdID already used on that session (answer: reject, OrdRejReason 6)
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["DuplicateClOrdID", "StoreError"]


class StoreError(GatewayError):
    """A store operation failed; ``path`` names the SQLite file (or the PostgreSQL server and
    instance, never with a password)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{message} ({path})" if path else message)
        self.path = path


class DuplicateClOrdID(StoreError):
    def __init__(self, session: str, cl_ord_id: str) -> None:
        super().__init__(f"duplicate ClOrdID {cl_ord_id!r} on session {session}")
        self.session = session
        self.cl_ord_id = cl_ord_id
