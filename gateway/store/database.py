"""The seam between the store and "the database": what :class:`~gateway.store.orders_store.Store`
needs from wherever its rows live, and the SQLite implementation (the embedded default).

The store keeps its state in memory and hands the database whole batches of units (journal
records, :mod:`gateway.store.sqlite_apply` describes them); it asks the database only at open
(working orders, outbound rows, meta) and when a read misses memory (point reads). Everything a
backend must do is here, so a second backend (:mod:`gateway.store.pg_database`, PostgreSQL) is a
class with these methods and nothing of the store's logic.

Rows cross the seam as plain tuples with JSON columns already decoded: an order row is
``(request_id, session, account, cl_ord_id, order_id, state, working, data, created)``.

The SQLite schema is what each row costs the apply (bench/store_ops.py ``--apply --flood``):
``clordids`` and ``decisions`` are ``WITHOUT ROWID`` (one b-tree for the row and its key instead
of two; -0.5 us per order), and ``orders_by_session`` is on ``session`` alone: nothing asks for
``(session, working)`` (``orders_where`` filters on the session; ``working_orders`` runs once, at
open), and an index holding ``working`` is rewritten by every full ``UPDATE`` of an order (5.8 ->
4.5 us per row; an order whose "N" and "A" fall in two batches pays one). Files made by earlier
versions keep their tables and indexes (``IF NOT EXISTS``): same columns, same answers.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from gateway.store.checkpoint import Checkpointer
from gateway.store.errors import StoreError
from gateway.store.sqlite_apply import applied_seq, apply_frames

__all__ = ["Database", "OrderRow", "OutRow", "SqliteDatabase"]

OrderRow = tuple[str, str, str, str, "str | None", str, bool, Any, int]
# (seq, session, msg_type, fields, exec_id, handed)
OutRow = tuple[int, str, str, Any, "str | None", bool]
Frames = Sequence[tuple[int, bytes]]


class Database(Protocol):
    """What the store needs from its database. Methods raise one of :attr:`errors` on a failure
    of the database itself (the store wraps it in a StoreError)."""

    errors: tuple[type[Exception], ...]
    label: str                      # for messages: a file path, or a URL without its password
    data_as_text: bool              # units carry JSON columns as text pieces (see sqlite_apply)

    def apply(self, frames: Frames) -> int:
        """Apply the units above the applied mark and record the new mark, in ONE transaction;
        repeats of applied units are ignored. Returns the new mark."""
        ...

    def applied_seq(self) -> int: ...

    def meta(self, key: str) -> str | None: ...

    def clordid(self, session: str, cl_ord_id: str) -> tuple[bool, str | None]:
        """(the session used ``cl_ord_id``, the RequestID it names or None)."""
        ...

    def clordid_count(self) -> int: ...

    def clordid_keys(self, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (session, ClOrdID) used, in key order, after ``after`` (``("", "")``:
        from the first): a page of the primary key index."""
        ...

    def decision(self, session: str, request_key: str) -> tuple[str, str, str, str | None, Any] | None:
        """(msg_type, cl_ord_id, outcome, request_id, answer decoded or None)."""
        ...

    def decision_count(self) -> int: ...

    def decision_keys(self, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (session, request_key) decided, in key order, after ``after``: a page of
        the primary key index (as :meth:`clordid_keys`)."""
        ...

    def has_decision(self, session: str, request_key: str) -> bool: ...

    def cl_ord_id_decided(self, session: str, cl_ord_id: str) -> bool: ...

    def exec_sent(self, session: str, exec_id: str) -> bool: ...

    def order(self, request_id: str) -> OrderRow | None: ...

    def request_id_of(self, order_id: str) -> str | None: ...

    def orders_where(self, column: str, value: str) -> list[OrderRow]:
        """Orders whose ``column`` (``session`` or ``account``) is ``value``."""
        ...

    def working_orders(self) -> list[OrderRow]: ...

    def outbound(self) -> list[OutRow]:
        """Every outbound row, by seq."""
        ...

    def outbound_top(self) -> int:
        """The highest outbound seq ever given (0: none): new rows get higher ones."""
        ...

    def opened(self) -> None:
        """The store is open (recovered and loaded): background work may start."""
        ...

    def close(self) -> None: ...


_ORDER_COLS = "request_id, session, account, cl_ord_id, order_id, state, working, data, created"
_SEARCHABLE = frozenset({"session", "account"})

_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    request_id TEXT PRIMARY KEY,
    session    TEXT NOT NULL,
    account    TEXT NOT NULL,
    cl_ord_id  TEXT NOT NULL,
    order_id   TEXT,
    state      TEXT NOT NULL,
    working    INTEGER NOT NULL,
    data       TEXT NOT NULL,
    created    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_session ON orders (session);
CREATE INDEX IF NOT EXISTS orders_by_order_id ON orders (order_id);
CREATE TABLE IF NOT EXISTS clordids (
    session    TEXT NOT NULL,
    cl_ord_id  TEXT NOT NULL,
    request_id TEXT,
    kind       TEXT NOT NULL,
    PRIMARY KEY (session, cl_ord_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS execs (
    session TEXT NOT NULL,
    exec_id TEXT NOT NULL,
    PRIMARY KEY (session, exec_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deferred (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    session  TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    fields   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbound (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    session  TEXT NOT NULL,
    exec_id  TEXT,
    handed   INTEGER NOT NULL,
    msg_type TEXT NOT NULL,
    fields   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_by_session ON outbound (session, seq);
CREATE TABLE IF NOT EXISTS decisions (
    session     TEXT NOT NULL,
    request_key TEXT NOT NULL,
    msg_type    TEXT NOT NULL,
    cl_ord_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    request_id  TEXT,
    answer      TEXT,
    decided     INTEGER NOT NULL,
    PRIMARY KEY (session, request_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_by_cl_ord_id ON decisions (session, cl_ord_id);
"""


class SqliteDatabase:
    """The SQLite file (stdlib ``sqlite3``, WAL) behind the journal store."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    data_as_text = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self._checkpointer: Checkpointer | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; the journal in front of it is what the
        # order path waits for, so SQLite's own durability only matters for the applied mark.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA wal_autocheckpoint=0")  # see Checkpointer
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            version = self.meta("schema_version")
            if version is None:
                self._set_meta("schema_version", _SCHEMA_VERSION)
                # A fresh store gets a fresh RequestID namespace, so a deleted store can never
                # replay old RequestIDs (Zenith answers a repeated RequestID with the old result).
                self._set_meta("instance", os.urandom(3).hex())
                self._set_meta("request_seq", "0")
            elif version != _SCHEMA_VERSION:
                raise StoreError(f"unknown store schema version {version}", path=str(path))
            # Rows deferred by an older gateway join the outbound queue, in their order.
            db.execute(
                "INSERT INTO outbound (session, exec_id, handed, msg_type, fields) "
                "SELECT session, NULL, 0, msg_type, fields FROM deferred ORDER BY seq"
            )
            db.execute("DELETE FROM deferred")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def apply(self, frames: Frames) -> int:
        return apply_frames(self.conn, frames)

    def applied_seq(self) -> int:
        return applied_seq(self.conn)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def clordid(self, session: str, cl_ord_id: str) -> tuple[bool, str | None]:
        row = self.conn.execute("SELECT request_id FROM clordids WHERE session = ? AND cl_ord_id = ?",
                                (session, cl_ord_id)).fetchone()
        return (False, None) if row is None else (True, row[0])

    def clordid_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM clordids").fetchone()[0])

    def clordid_keys(self, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT session, cl_ord_id FROM clordids WHERE (session, cl_ord_id) > (?, ?) "
            "ORDER BY session, cl_ord_id LIMIT ?", (*after, limit)).fetchall()

    def decision_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def decision_keys(self, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT session, request_key FROM decisions WHERE (session, request_key) > (?, ?) "
            "ORDER BY session, request_key LIMIT ?", (*after, limit)).fetchall()

    def decision(self, session: str, request_key: str) -> tuple[str, str, str, str | None, Any] | None:
        row = self.conn.execute(
            "SELECT msg_type, cl_ord_id, outcome, request_id, answer FROM decisions "
            "WHERE session = ? AND request_key = ?", (session, request_key),
        ).fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], row[3], None if row[4] is None else json.loads(row[4])

    def has_decision(self, session: str, request_key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM decisions WHERE session = ? AND request_key = ?",
                                 (session, request_key)).fetchone() is not None

    def cl_ord_id_decided(self, session: str, cl_ord_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM decisions WHERE session = ? AND cl_ord_id = ?",
                                 (session, cl_ord_id)).fetchone() is not None

    def exec_sent(self, session: str, exec_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM execs WHERE session = ? AND exec_id = ?",
                                 (session, exec_id)).fetchone() is not None

    def order(self, request_id: str) -> OrderRow | None:
        row = self.conn.execute(f"SELECT {_ORDER_COLS} FROM orders WHERE request_id = ?",
                                (request_id,)).fetchone()
        return None if row is None else _order(row)

    def request_id_of(self, order_id: str) -> str | None:
        row = self.conn.execute("SELECT request_id FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else str(row[0])

    def orders_where(self, column: str, value: str) -> list[OrderRow]:
        if column not in _SEARCHABLE:
            raise ValueError(f"orders_where: {column!r}")
        return [_order(r) for r in self.conn.execute(
            f"SELECT {_ORDER_COLS} FROM orders WHERE {column} = ?", (value,))]

    def working_orders(self) -> list[OrderRow]:
        return [_order(r) for r in self.conn.execute(f"SELECT {_ORDER_COLS} FROM orders WHERE working = 1")]

    def outbound(self) -> list[OutRow]:
        return [(seq, s, m, json.loads(f), e, bool(h)) for seq, s, m, f, e, h in self.conn.execute(
            "SELECT seq, session, msg_type, fields, exec_id, handed FROM outbound ORDER BY seq")]

    def outbound_top(self) -> int:
        top = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbound'").fetchone()
        return int(top[0]) if top else 0

    def opened(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = Checkpointer(self.path)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.conn.close()  # the last connection to close checkpoints the WAL


def _order(row: Sequence[Any]) -> OrderRow:
    return (row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), json.loads(row[7]), row[8])
