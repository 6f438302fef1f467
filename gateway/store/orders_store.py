"""SQLite store of the orders path (stdlib ``sqlite3``, one real file, WAL).

Why each table exists:

* ``orders`` — one row per order the gateway placed, keyed by the PlaceOrder RequestID. It is
  written *before* PlaceOrder leaves (ARCHITECTURE §3.4) so a crash between sending and hearing
  back can never orphan an order: on restart the row (with or without its Plxtra order ID) drives
  reconciliation. ``data`` holds the bridge's serialized order record (opaque here).
* ``clordids`` — every ClOrdID a session used (D, G, F, q), for duplicate detection and chains.
* ``execs`` — ExecIDs already delivered per session: the exactly-once guard.
* ``deferred`` — messages generated while a session was logged out, sent at its next logon.
* ``meta`` — the store's instance id and the RequestID counter.

Writes that belong together (new order state + its ExecIDs + deferred messages) happen in one
transaction (:meth:`Store.apply`), so a kill -9 leaves either all or none of them.
The module imports nothing of the gateway but its error root: rows are plain values.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.store.errors import DuplicateClOrdID, StoreError

__all__ = ["DeferredMessage", "Store", "StoredOrder"]

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
CREATE INDEX IF NOT EXISTS orders_by_session ON orders (session, working);
CREATE INDEX IF NOT EXISTS orders_by_order_id ON orders (order_id);
CREATE TABLE IF NOT EXISTS clordids (
    session    TEXT NOT NULL,
    cl_ord_id  TEXT NOT NULL,
    request_id TEXT,
    kind       TEXT NOT NULL,
    PRIMARY KEY (session, cl_ord_id)
);
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
"""


@dataclass(frozen=True, slots=True)
class StoredOrder:
    request_id: str
    session: str
    account: str
    cl_ord_id: str
    order_id: str | None
    state: str
    working: bool
    data: dict[str, Any]
    created: int


@dataclass(frozen=True, slots=True)
class DeferredMessage:
    seq: int
    session: str
    msg_type: str
    fields: tuple[tuple[int, str], ...]


class Store:
    """The gateway's SQLite state. Use from one thread (the loop); every method is one transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (kill -9); only power loss can drop the
            # last transactions, which FIX resend and reconciliation then cover.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            with self._tx():
                version = self._meta("schema_version")
                if version is None:
                    self._set_meta("schema_version", _SCHEMA_VERSION)
                    # A fresh store gets a fresh RequestID namespace, so a deleted store can never
                    # replay old RequestIDs (Zenith answers a repeated RequestID with the old result).
                    self._set_meta("instance", os.urandom(3).hex())
                    self._set_meta("request_seq", "0")
                elif version != _SCHEMA_VERSION:
                    raise StoreError(f"unknown store schema version {version}", path=str(self.path))
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open store: {exc}", path=str(self.path)) from exc

    def close(self) -> None:
        self._db.close()

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _wrap(self, what: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{what}: {exc}", path=str(self.path))

    # --- identifiers ----------------------------------------------------------------------

    def allocate_request_id(self) -> str:
        """A new Zenith RequestID, unique for this store forever (persisted counter)."""
        try:
            with self._tx():
                seq = int(self._meta("request_seq") or "0") + 1
                self._set_meta("request_seq", str(seq))
                instance = self._meta("instance")
        except sqlite3.Error as exc:
            raise self._wrap("allocate_request_id", exc) from exc
        return f"gw{instance}-{seq:07d}"

    # --- ClOrdIDs ---------------------------------------------------------------------------

    def cl_ord_id_used(self, session: str, cl_ord_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM clordids WHERE session = ? AND cl_ord_id = ?", (session, cl_ord_id)
        ).fetchone()
        return row is not None

    def record_clordid(self, session: str, cl_ord_id: str, request_id: str | None, kind: str) -> None:
        """Remember a ClOrdID of a G/F/q (``kind``); raises :class:`DuplicateClOrdID` if used."""
        try:
            with self._tx() as db:
                self._insert_clordid(db, session, cl_ord_id, request_id, kind)
        except sqlite3.Error as exc:
            raise self._wrap("record_clordid", exc) from exc

    def _insert_clordid(
        self, db: sqlite3.Connection, session: str, cl_ord_id: str, request_id: str | None, kind: str
    ) -> None:
        try:
            db.execute(
                "INSERT INTO clordids (session, cl_ord_id, request_id, kind) VALUES (?, ?, ?, ?)",
                (session, cl_ord_id, request_id, kind),
            )
        except sqlite3.IntegrityError:
            raise DuplicateClOrdID(session, cl_ord_id) from None

    # --- orders -----------------------------------------------------------------------------

    def record_new_order(
        self,
        *,
        session: str,
        request_id: str,
        cl_ord_id: str,
        account: str,
        state: str,
        data: dict[str, Any],
        created: int,
    ) -> None:
        """ClOrdID -> RequestID -> session, written before PlaceOrder leaves.

        Raises :class:`DuplicateClOrdID` (nothing written) if the session already used the ClOrdID.
        """
        try:
            with self._tx() as db:
                self._insert_clordid(db, session, cl_ord_id, request_id, "D")
                db.execute(
                    "INSERT INTO orders (request_id, session, account, cl_ord_id, order_id, state, "
                    "working, data, created) VALUES (?, ?, ?, ?, NULL, ?, 1, ?, ?)",
                    (request_id, session, account, cl_ord_id, state, json.dumps(data), created),
                )
        except sqlite3.Error as exc:
            raise self._wrap("record_new_order", exc) from exc

    def link_order_id(self, request_id: str, order_id: str) -> None:
        """Attach the Plxtra order ID to the order placed with ``request_id``."""
        try:
            with self._tx() as db:
                db.execute("UPDATE orders SET order_id = ? WHERE request_id = ?", (order_id, request_id))
        except sqlite3.Error as exc:
            raise self._wrap("link_order_id", exc) from exc

    def record_clordid_chain(self, session: str, cl_ord_id: str, request_id: str, kind: str) -> None:
        """Alias of :meth:`record_clordid` naming the intent: ``cl_ord_id`` now also names the order."""
        self.record_clordid(session, cl_ord_id, request_id, kind)

    def apply(
        self,
        *,
        request_id: str,
        cl_ord_id: str,
        order_id: str | None,
        state: str,
        working: bool,
        data: dict[str, Any],
        session: str | None = None,
        exec_ids: Sequence[str] = (),
        deferred: Iterable[tuple[str, str, Sequence[tuple[int, str]]]] = (),
    ) -> None:
        """Save an order's new state, mark its ExecIDs sent and queue deferred messages: one commit."""
        try:
            with self._tx() as db:
                db.execute(
                    "UPDATE orders SET cl_ord_id = ?, order_id = ?, state = ?, working = ?, data = ? "
                    "WHERE request_id = ?",
                    (cl_ord_id, order_id, state, int(working), json.dumps(data), request_id),
                )
                if exec_ids:
                    if session is None:
                        raise StoreError("apply: exec_ids need a session", path=str(self.path))
                    db.executemany(
                        "INSERT OR IGNORE INTO execs (session, exec_id) VALUES (?, ?)",
                        [(session, e) for e in exec_ids],
                    )
                self._insert_deferred(db, deferred)
        except sqlite3.Error as exc:
            raise self._wrap("apply", exc) from exc

    def _row(self, row: tuple[Any, ...] | None) -> StoredOrder | None:
        if row is None:
            return None
        return StoredOrder(
            request_id=row[0],
            session=row[1],
            account=row[2],
            cl_ord_id=row[3],
            order_id=row[4],
            state=row[5],
            working=bool(row[6]),
            data=json.loads(row[7]),
            created=row[8],
        )

    _COLS = "request_id, session, account, cl_ord_id, order_id, state, working, data, created"

    def order(self, request_id: str) -> StoredOrder | None:
        return self._row(
            self._db.execute(
                f"SELECT {self._COLS} FROM orders WHERE request_id = ?", (request_id,)
            ).fetchone()
        )

    def order_by_order_id(self, order_id: str) -> StoredOrder | None:
        return self._row(
            self._db.execute(f"SELECT {self._COLS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        )

    def order_by_cl_ord_id(self, session: str, cl_ord_id: str) -> StoredOrder | None:
        """The order that ``cl_ord_id`` names on ``session`` (any ClOrdID of its chain)."""
        row = self._db.execute(
            "SELECT request_id FROM clordids WHERE session = ? AND cl_ord_id = ?", (session, cl_ord_id)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return self.order(row[0])

    def orders_for_session(self, session: str, *, working_only: bool = False) -> list[StoredOrder]:
        sql = f"SELECT {self._COLS} FROM orders WHERE session = ?"
        if working_only:
            sql += " AND working = 1"
        rows = self._db.execute(sql + " ORDER BY created, request_id", (session,)).fetchall()
        return [o for o in map(self._row, rows) if o is not None]

    def working_orders(self) -> list[StoredOrder]:
        rows = self._db.execute(
            f"SELECT {self._COLS} FROM orders WHERE working = 1 ORDER BY created, request_id"
        ).fetchall()
        return [o for o in map(self._row, rows) if o is not None]

    def orders_for_account(self, account: str) -> list[StoredOrder]:
        rows = self._db.execute(
            f"SELECT {self._COLS} FROM orders WHERE account = ? ORDER BY created", (account,)
        ).fetchall()
        return [o for o in map(self._row, rows) if o is not None]

    # --- executions -------------------------------------------------------------------------

    def exec_already_sent(self, session: str, exec_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM execs WHERE session = ? AND exec_id = ?", (session, exec_id)
        ).fetchone()
        return row is not None

    def mark_exec_sent(self, session: str, exec_id: str) -> bool:
        """Record ``exec_id`` as delivered; False if it already was."""
        try:
            with self._tx() as db:
                cur = db.execute(
                    "INSERT OR IGNORE INTO execs (session, exec_id) VALUES (?, ?)", (session, exec_id)
                )
                return cur.rowcount == 1
        except sqlite3.Error as exc:
            raise self._wrap("mark_exec_sent", exc) from exc

    # --- deferred messages ------------------------------------------------------------------

    def _insert_deferred(
        self, db: sqlite3.Connection, items: Iterable[tuple[str, str, Sequence[tuple[int, str]]]]
    ) -> None:
        db.executemany(
            "INSERT INTO deferred (session, msg_type, fields) VALUES (?, ?, ?)",
            [(s, m, json.dumps([list(f) for f in fields])) for s, m, fields in items],
        )

    def defer_message(self, session: str, msg_type: str, fields: Sequence[tuple[int, str]]) -> None:
        """Keep a message for ``session`` until it logs on again (survives restarts)."""
        try:
            with self._tx() as db:
                self._insert_deferred(db, [(session, msg_type, fields)])
        except sqlite3.Error as exc:
            raise self._wrap("defer_message", exc) from exc

    def deferred_for(self, session: str) -> list[DeferredMessage]:
        rows = self._db.execute(
            "SELECT seq, session, msg_type, fields FROM deferred WHERE session = ? ORDER BY seq", (session,)
        ).fetchall()
        return [
            DeferredMessage(r[0], r[1], r[2], tuple((int(a), str(b)) for a, b in json.loads(r[3])))
            for r in rows
        ]

    def drop_deferred(self, seqs: Iterable[int]) -> None:
        try:
            with self._tx() as db:
                db.executemany("DELETE FROM deferred WHERE seq = ?", [(s,) for s in seqs])
        except sqlite3.Error as exc:
            raise self._wrap("drop_deferred", exc) from exc
