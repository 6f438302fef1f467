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

The statements are the PostgreSQL forms of :mod:`gateway.store.sqlite_apply`'s, idempotent the
same way (``ON CONFLICT DO NOTHING`` / ``DO UPDATE``): a batch applied twice changes nothing.
A batch is sent in pipeline mode (one round trip for its statements, after the read of the
mark); ``fence`` (e.g. :func:`gateway.store.lease.fence` with the instance's lease) runs inside
each batch's transaction so a process that lost its lease cannot commit.

psycopg 3 (not asyncpg): the store's calls are synchronous on the loop thread by design (a read
that misses memory answers at once), which psycopg's blocking API gives with server-side
prepared statements and pipelining; the lease module already uses it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict

from gateway.failpoints import crash_point
from gateway.store.database import OrderRow, OutRow
from gateway.store.errors import StoreError
from gateway.store.lease import LeaseError
from gateway.store.pg_migrate import migrate
from gateway.store.sqlite_apply import APPLIED_KEY, dumps_text

__all__ = ["CONNECT_TIMEOUT", "DEFAULT_INSTANCE", "ConcurrentWriter", "PgDatabase", "where_of"]

DEFAULT_INSTANCE = "default"
CONNECT_TIMEOUT = 5   # s: an unreachable server is reported, not waited for

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


class ConcurrentWriter(StoreError):
    """Another process wrote this instance's rows since our last batch (two owners of one set)."""


class PgDatabase:
    # A fence that refuses (LeaseLost) fails the batch like a database error: nothing of it is
    # committed and nothing that waited for it runs.
    errors: tuple[type[Exception], ...] = (psycopg.Error, LeaseError, ConcurrentWriter)

    def __init__(self, url: str, *, instance: str = DEFAULT_INSTANCE,
                 fence: Callable[[psycopg.Connection[Any]], None] | None = None) -> None:
        self.instance = instance
        self.label = f"postgresql {where_of(url)} instance {instance}"
        self._fence = fence
        self._mark: int | None = None   # the applied mark as of our last commit
        password = conninfo_to_dict(url).get("password")
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True,
                                                                 connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if password:
                reason = reason.replace(str(password), "***")
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
        # The mark is known from the last commit (this connection is the instance's only writer,
        # under its lease), so a batch is one round trip: BEGIN, the statements, the mark moved
        # only if it still is what we think, COMMIT. If another process moved it, the statement
        # fails (division by zero: no row moved) and the whole transaction with it.
        conn, inst = self.conn, self.instance
        mark = start = self._mark if self._mark is not None else self.applied_seq()
        self._mark = None   # known again only once this batch is committed
        try:
            with conn.pipeline(), conn.transaction(), conn.cursor() as cur:
                if self._fence is not None:
                    self._fence(conn)
                half = len(frames) // 2
                for i, (seq, payload) in enumerate(frames):
                    if i == half:
                        crash_point("store-apply-midway")
                    if seq > mark:
                        self._unit(cur, orjson.loads(payload))
                        mark = seq
                cur.execute("WITH moved AS (UPDATE meta SET value = %s WHERE instance = %s AND key = %s "
                            "AND value = %s RETURNING 1) SELECT 1 / (SELECT count(*) FROM moved)::int",
                            (str(mark), inst, APPLIED_KEY, str(start)))
        except psycopg.errors.DivisionByZero:
            raise ConcurrentWriter(f"instance {inst}: the applied mark is no longer {start}: another "
                                   f"process writes this instance's rows") from None
        self._mark = mark
        return mark

    def _decision(self, cur: psycopg.Cursor[Any], d: list[Any] | None) -> None:
        if d is None:
            return
        session, key, msg_type, cl_ord_id, outcome, request_id, answer, decided = d
        cur.execute(
            "INSERT INTO decisions (instance, session, request_key, msg_type, cl_ord_id, outcome, "
            "request_id, answer, decided) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, to_timestamp(%s)) "
            "ON CONFLICT DO NOTHING",
            (self.instance, session, key, msg_type, cl_ord_id, outcome, request_id,
             None if answer is None else dumps_text(answer), decided),
        )

    def _outbound(self, cur: psycopg.Cursor[Any], rows: list[list[Any]]) -> None:
        if rows:
            cur.executemany(
                "INSERT INTO outbound (instance, seq, session, exec_id, handed, msg_type, fields) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (instance, seq) DO UPDATE SET "
                "session = excluded.session, exec_id = excluded.exec_id, handed = excluded.handed, "
                "msg_type = excluded.msg_type, fields = excluded.fields",
                [(self.instance, seq, s, e, bool(h), m, dumps_text(f)) for seq, s, e, h, m, f in rows],
            )

    def _clordid(self, cur: psycopg.Cursor[Any], session: str, cl: str, rid: str | None, kind: str) -> None:
        cur.execute("INSERT INTO clordids (instance, session, cl_ord_id, request_id, kind) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (self.instance, session, cl, rid, kind))

    def _unit(self, cur: psycopg.Cursor[Any], u: list[Any]) -> None:
        inst = self.instance
        op = u[0]
        if op == "A":  # apply: order state, ExecIDs, decision, outbound rows
            _, rid, cl, oid, state, working, data, session, exec_ids, rows, decision = u
            if rid is not None:
                cur.execute("UPDATE orders SET cl_ord_id = %s, order_id = %s, state = %s, working = %s, "
                            "data = %s::jsonb WHERE instance = %s AND request_id = %s",
                            (cl, oid, state, bool(working), dumps_text(data), inst, rid))
            if exec_ids:
                cur.executemany("INSERT INTO execs (instance, session, exec_id) VALUES (%s, %s, %s) "
                                "ON CONFLICT DO NOTHING", [(inst, session, e) for e in exec_ids])
            self._decision(cur, decision)
            self._outbound(cur, rows)
        elif op == "N":  # new order
            _, session, rid, cl, account, state, data, created, decision = u
            self._clordid(cur, session, cl, rid, "D")
            self._decision(cur, decision)
            cur.execute("INSERT INTO orders (instance, request_id, session, account, cl_ord_id, order_id, "
                        "state, working, data, created) VALUES (%s, %s, %s, %s, %s, NULL, %s, TRUE, "
                        "%s::jsonb, %s) ON CONFLICT DO NOTHING",
                        (inst, rid, session, account, cl, state, dumps_text(data), created))
        elif op == "L":
            cur.execute("UPDATE orders SET order_id = %s WHERE instance = %s AND request_id = %s",
                        (u[2], inst, u[1]))
        elif op == "E":
            cur.execute("INSERT INTO execs (instance, session, exec_id) VALUES (%s, %s, %s) "
                        "ON CONFLICT DO NOTHING", (inst, u[1], u[2]))
        elif op == "C":
            _, session, cl, rid, kind, decision = u
            self._clordid(cur, session, cl, rid, kind)
            self._decision(cur, decision)
        elif op == "D":
            self._decision(cur, u[1])
        elif op == "O":
            self._outbound(cur, u[1])
        elif op == "H":
            cur.execute("UPDATE outbound SET handed = TRUE WHERE instance = %s AND seq = ANY(%s)",
                        (inst, list(u[1])))
        elif op == "X":
            cur.execute("DELETE FROM outbound WHERE instance = %s AND seq = ANY(%s)", (inst, list(u[1])))
        elif op == "R":
            cur.execute("INSERT INTO meta (instance, key, value) VALUES (%s, 'request_seq', %s) "
                        "ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value", (inst, str(u[1])))
        else:
            raise ValueError(f"unknown journal unit {op!r}")

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
