"""The PostgreSQL backend of the store (issue 14): the :class:`~gateway.store.database.Database`
seam over one psycopg 3 connection.

The store runs "commit per turn" on it (``Store(..., database=...)`` forces ``journal=False``): the
units of one loop turn are applied here in ONE transaction, together with the instance's applied
mark, before any of the turn's after_commit callbacks or durable waiters run. There is no local
journal: a standby on another host must find everything in the database.

Every row carries the instance (the session set it serves, ``default`` without ``instances:``)
as the first column of its key; this class reads and writes its own instance's rows only, so
instances sharing one database never see each other's orders, ClOrdIDs, decisions, ExecIDs or
outbound rows, and each has its own RequestID namespace and applied mark (``meta``).

A batch is ONE statement, ``SELECT store_apply(instance, mark, units)``: the units travel as the
journal's JSON, and the function (``pg_schema/0003_store_apply.sql``) runs the PostgreSQL forms of
:mod:`gateway.store.sqlite_apply`'s statements, idempotent the same way (``ON CONFLICT``: a batch
applied twice changes nothing). Measured (bench/store_ops.py): statements sent one by one from
Python, even pipelined, cost the loop about 1.1 ms of CPU per order (psycopg's per-statement
work); client-bound multi-statement text about 0.8 ms (and the server plans every statement);
one call per turn costs it about 0.5 ms per order (4 turns), and its plans are cached per
connection.
``fence`` (e.g. :func:`gateway.store.lease.fence` with the instance's lease) runs inside each
batch's transaction so a process that lost its lease cannot commit.

psycopg 3 (not asyncpg): the store's calls are synchronous on the loop thread by design (a read
that misses memory answers at once), which psycopg's blocking API gives with server-side
prepared statements; the lease module already uses it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from gateway.config.instances import DEFAULT_INSTANCE
from gateway.failpoints import crash_point
from gateway.store.database import OrderRow, OutRow
from gateway.store.errors import StoreError
from gateway.store.lease import LeaseError
from gateway.store.pg_migrate import migrate
from gateway.store.sqlite_apply import APPLIED_KEY

__all__ = ["CONNECT_TIMEOUT", "DEFAULT_INSTANCE", "ConcurrentWriter", "PgDatabase", "where_of"]

CONNECT_TIMEOUT = 5   # s: an unreachable server is reported, not waited for

_APPLY = "SELECT store_apply(%s, %s, %s::jsonb)"
_ORDER_COLS = "request_id, session, account, cl_ord_id, order_id, state, working, data, created"
_SEARCHABLE = frozenset({"session", "account"})

Frames = Sequence[tuple[int, bytes]]


def where_of(url: str) -> str:
    """``host:port/database`` of a PostgreSQL URL: for messages, never with the password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable PostgreSQL URL)"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _password_of(url: str) -> str | None:
    try:
        got = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        return None
    return None if got is None else str(got)


class ConcurrentWriter(StoreError):
    """Another process wrote this instance's rows since our last batch (two owners of one set)."""


class PgDatabase:
    # A fence that refuses (LeaseLost) fails the batch like a database error: nothing of it is
    # committed and nothing that waited for it runs.
    errors: tuple[type[Exception], ...] = (psycopg.Error, LeaseError, ConcurrentWriter)
    data_as_text = False  # store_apply stores u->6 as jsonb: the data must be the object itself

    def __init__(self, url: str, *, instance: str = DEFAULT_INSTANCE,
                 fence: Callable[[psycopg.Connection[Any]], None] | None = None) -> None:
        self.instance = instance
        self.label = f"postgresql {where_of(url)} instance {instance}"
        self._fence = fence
        self._mark: int | None = None   # the applied mark as of our last commit
        self._refused: str | None = None  # another writer was seen: every later batch is refused
        try:
            password = conninfo_to_dict(url).get("password")
            self.conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True,
                                                                 connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # libpq may echo the URL, or a password it could not parse: never pass either on.
            reason = reason.replace(url, "(the URL)")
            password = _password_of(url)
            if password:
                reason = reason.replace(password, "***")
            elif "@" in url:
                reason = "the URL cannot be parsed"
            raise StoreError(f"cannot reach PostgreSQL at {where_of(url)}: {reason}") from None
        try:
            migrate(self.conn)
            self._init_meta()
            self._mark = self.applied_seq()
        except BaseException:
            self.conn.close()
            raise

    def _init_meta(self) -> None:
        conn, inst = self.conn, self.instance
        with conn.transaction():
            # One instance's namespace of RequestIDs, distinct from every other instance's in this
            # database (Zenith answers a repeated RequestID with the old result).
            conn.execute("LOCK TABLE meta IN SHARE ROW EXCLUSIVE MODE")
            if self.meta("instance") is None:
                while True:
                    ns = os.urandom(3).hex()
                    taken = conn.execute("SELECT 1 FROM meta WHERE key = 'instance' AND value = %s",
                                         (ns,)).fetchone()
                    if taken is None:
                        break
                conn.execute("INSERT INTO meta (instance, key, value) VALUES (%s, 'instance', %s), "
                             "(%s, 'request_seq', '0'), (%s, %s, '0')", (inst, ns, inst, inst, APPLIED_KEY))

    # --- writing ------------------------------------------------------------------------------

    def apply(self, frames: Frames) -> int:
        # One round trip per batch: the units go as they are (the journal's JSON) in one
        # parameter to store_apply (migration 0003), which applies them and moves the mark in
        # this statement's transaction. The mark is the one of our last commit (this connection is
        # the instance's only writer, under its lease); if another process moved it, the call
        # fails and nothing is applied. A fence needs its own read first: an explicit transaction.
        conn, inst = self.conn, self.instance
        if self._refused is not None:
            raise ConcurrentWriter(self._refused)
        start = self._mark if self._mark is not None else self.applied_seq()
        self._mark = None   # known again only once this batch is committed
        units = b"[" + b",".join([b"[%d,%b]" % f for f in frames if f[0] > start]) + b"]"
        args = (inst, start, units.decode())
        crash_point("store-apply-midway")   # the batch sent nowhere yet: none of it is committed
        try:
            if self._fence is None:
                row = conn.execute(_APPLY, args).fetchone()
            else:
                with conn.transaction():
                    self._fence(conn)
                    row = conn.execute(_APPLY, args).fetchone()
        except psycopg.errors.SerializationFailure as exc:
            # Sticky: re-reading the mark would let this process write over the other one's rows.
            self._refused = str(exc).splitlines()[0]
            raise ConcurrentWriter(self._refused) from None
        assert row is not None
        self._mark = int(row[0])
        return self._mark

    # --- reading ------------------------------------------------------------------------------

    def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, (self.instance, *args)).fetchone()
        return row

    def applied_seq(self) -> int:
        row = self._one("SELECT value FROM meta WHERE instance = %s AND key = %s", APPLIED_KEY)
        return int(row[0]) if row else 0

    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE instance = %s AND key = %s", key)
        return None if row is None else str(row[0])

    def clordid(self, session: str, cl_ord_id: str) -> tuple[bool, str | None]:
        row = self._one("SELECT request_id FROM clordids "
                        "WHERE instance = %s AND session = %s AND cl_ord_id = %s", session, cl_ord_id)
        return (False, None) if row is None else (True, row[0])

    def clordid_count(self) -> int:
        row = self._one("SELECT COUNT(*) FROM clordids WHERE instance = %s")
        return 0 if row is None else int(row[0])

    def clordid_keys(self, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT session, cl_ord_id FROM clordids WHERE instance = %s AND (session, cl_ord_id) > (%s, %s) "
            "ORDER BY session, cl_ord_id LIMIT %s", (self.instance, *after, limit)).fetchall()
        return [(str(a), str(b)) for a, b in rows]

    def decision_count(self) -> int:
        row = self._one("SELECT COUNT(*) FROM decisions WHERE instance = %s")
        return 0 if row is None else int(row[0])

    def decision_keys(self, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT session, request_key FROM decisions WHERE instance = %s "
            "AND (session, request_key) > (%s, %s) ORDER BY session, request_key LIMIT %s",
            (self.instance, *after, limit)).fetchall()
        return [(str(a), str(b)) for a, b in rows]

    def decision(self, session: str, request_key: str) -> tuple[str, str, str, str | None, Any] | None:
        row = self._one("SELECT msg_type, cl_ord_id, outcome, request_id, answer FROM decisions "
                        "WHERE instance = %s AND session = %s AND request_key = %s", session, request_key)
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def has_decision(self, session: str, request_key: str) -> bool:
        return self._one("SELECT 1 FROM decisions WHERE instance = %s AND session = %s AND request_key = %s",
                         session, request_key) is not None

    def cl_ord_id_decided(self, session: str, cl_ord_id: str) -> bool:
        return self._one("SELECT 1 FROM decisions WHERE instance = %s AND session = %s AND cl_ord_id = %s",
                         session, cl_ord_id) is not None

    def exec_sent(self, session: str, exec_id: str) -> bool:
        return self._one("SELECT 1 FROM execs WHERE instance = %s AND session = %s AND exec_id = %s",
                         session, exec_id) is not None

    def order(self, request_id: str) -> OrderRow | None:
        row = self._one(f"SELECT {_ORDER_COLS} FROM orders WHERE instance = %s AND request_id = %s",
                        request_id)
        return None if row is None else _order(row)

    def request_id_of(self, order_id: str) -> str | None:
        row = self._one("SELECT request_id FROM orders WHERE instance = %s AND order_id = %s", order_id)
        return None if row is None else str(row[0])

    def orders_where(self, column: str, value: str) -> list[OrderRow]:
        if column not in _SEARCHABLE:
            raise ValueError(f"orders_where: {column!r}")
        return [_order(r) for r in self.conn.execute(
            f"SELECT {_ORDER_COLS} FROM orders WHERE instance = %s AND {column} = %s",
            (self.instance, value))]

    def working_orders(self) -> list[OrderRow]:
        return [_order(r) for r in self.conn.execute(
            f"SELECT {_ORDER_COLS} FROM orders WHERE instance = %s AND working", (self.instance,))]

    def outbound(self) -> list[OutRow]:
        return [(int(seq), s, m, f, e, bool(h)) for seq, s, m, f, e, h in self.conn.execute(
            "SELECT seq, session, msg_type, fields, exec_id, handed FROM outbound WHERE instance = %s "
            "ORDER BY seq", (self.instance,))]

    def outbound_top(self) -> int:
        row = self._one("SELECT coalesce(max(seq), 0) FROM outbound WHERE instance = %s")
        return int(row[0]) if row else 0

    def opened(self) -> None:
        pass

    def close(self) -> None:
        self.conn.close()


def _order(row: Sequence[Any]) -> OrderRow:
    return (row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], int(row[8]))
