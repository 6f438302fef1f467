"""The inbound journal in PostgreSQL: the journal of :mod:`gateway.store.inbound_journal` when the
gateway's state (``gateway.store: postgresql://...``) and QuickFIX's sequence numbers are there.

Why: QuickFIX counts an inbound D/F/G/q in the database (``sessions.incoming_seqnum``), so the
partner never resends it; a journal left in the local file of a host that died would hold the only
copy of an order the loop had not decided yet, and the instance's standby, on another host, could
not replay it. Here the standby reads the rows of its instance (table ``inbound_journal``,
``pg_schema/0005_inbound_journal.sql``).

``append`` is one autocommit ``INSERT`` on the journal's own connection, made on the loop thread
inside QuickFIX's ``fromApp``: when it returns, the row is committed in PostgreSQL (a host that
dies then loses nothing). It costs the loop one round trip per D/F/G/q (see
docs/design/pg-message-store.md, "inbound journal", for the figure). It raises :class:`StoreError`
when the row is not known to be committed; the hand-off then refuses the message.

Fencing: the connection is named after the lease's term when the process runs an instance
(``PGAPPNAME`` "plxtra:<epoch>:<instance>", :mod:`gateway.app.instance`), and the trigger of 0004
refuses its writes once that term is no longer valid: a process that lost its lease can neither
append nor compact.

Runs: each journal object is one run (a random id stored with each row). :meth:`records` reports a
row of another run as received no later than this journal was opened, whatever the clock of the
host that wrote it said, so a dead host whose clock ran ahead cannot make its records look like
this run's (which the orders service neither replays nor compacts).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from gateway.store.errors import StoreError
from gateway.store.inbound_journal import decode, encode
from gateway.store.pg_database import CONNECT_TIMEOUT, DEFAULT_INSTANCE, where_of
from gateway.store.pg_migrate import migrate
from gateway.vocab.records import InboundMessage

__all__ = ["RECONNECT_EVERY", "PgInboundJournal"]

RECONNECT_EVERY = 1.0
"""s: after a broken connection, at most one reconnection try per this interval. A try blocks the
loop (up to the connect timeout): with the server down, every message must not pay that."""

_INSERT = "INSERT INTO inbound_journal (instance, run, received_ns, record) VALUES (%s, %s, %s, %s)"
_SELECT = "SELECT id, run, record FROM inbound_journal WHERE instance = %s ORDER BY id"
_DELETE = "DELETE FROM inbound_journal WHERE instance = %s AND id = ANY(%s)"
_FORGET = "DELETE FROM inbound_journal WHERE instance = %s AND run = %s AND received_ns = ANY(%s)"


def _fenced_name() -> str | None:
    # The lease's term, as QuickFIX's connections carry it; set explicitly so that an
    # application_name in the store's URL cannot take the journal out of the fence.
    name = os.environ.get("PGAPPNAME", "")
    return name if name.startswith("plxtra:") else None


class PgInboundJournal:
    """The inbound journal of one instance in PostgreSQL; ``append`` from any thread."""

    def __init__(self, url: str, *, instance: str = DEFAULT_INSTANCE) -> None:
        self.instance = instance
        self.path = f"postgresql {where_of(url)} instance {instance} inbound_journal"
        self.run = uuid.uuid4().hex
        self.opened_ns = time.time_ns()
        self._url = url
        self._lock = threading.Lock()
        self._closed = False
        self._retry_at = 0.0
        # received_ns of appends refused on a lost connection: their INSERT may have committed
        # (the reply lost). Deleted at reconnection, so that a row the partner was refused for
        # (35=j) is not replayed and placed at the next start.
        self._unknown: list[int] = []
        self._conn: psycopg.Connection[Any] | None = self._connect()
        try:
            migrate(self._conn)   # the table may be needed before the store's first connection
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        extra: dict[str, Any] = {}
        if (name := _fenced_name()) is not None:
            extra["application_name"] = name
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, **extra)
        except psycopg.Error as exc:
            # Never the URL (it may carry the password): the server is named by host:port/db.
            raise StoreError(f"cannot reach PostgreSQL for the inbound journal: {type(exc).__name__}",
                             path=self.path) from None

    @property
    def closed(self) -> bool:
        return self._closed

    def _usable(self) -> psycopg.Connection[Any]:
        """The connection, reconnected (at most once per RECONNECT_EVERY) if it broke."""
        if self._closed:
            raise StoreError("inbound journal is closed", path=self.path)
        conn = self._conn
        if conn is not None and not conn.broken and not conn.closed:
            return conn
        now = time.monotonic()
        if now < self._retry_at:
            raise StoreError("inbound journal: connection lost, reconnecting later", path=self.path)
        self._retry_at = now + RECONNECT_EVERY
        if conn is not None:
            conn.close()
        self._conn = None
        fresh = self._connect()
        if self._unknown:
            try:
                fresh.execute(_FORGET, (self.instance, self.run, self._unknown))
            except psycopg.Error as exc:
                fresh.close()
                raise StoreError(f"inbound journal: cannot drop refused appends: {_reason(exc)}",
                                 path=self.path) from None
            self._unknown = []
        self._conn = fresh
        return fresh

    def append(self, msg: InboundMessage) -> None:
        """Insert one row for ``msg``, committed when this returns; :class:`StoreError` otherwise."""
        if not msg.received_ns:
            msg = _received_at(msg, time.time_ns())   # the row's column and its record agree
        line = encode(msg).decode("utf-8").rstrip("\n")
        with self._lock:
            conn = self._usable()
            try:
                conn.execute(_INSERT, (self.instance, self.run, msg.received_ns, line))
            except psycopg.Error as exc:
                # A lost connection leaves the outcome unknown (undone at reconnection); a refused
                # statement (the fence: SQLSTATE 40001) committed nothing.
                if conn.broken:
                    self._unknown.append(msg.received_ns)
                raise StoreError(f"inbound journal append failed: {_reason(exc)}", path=self.path) from None

    def records(self) -> list[InboundMessage]:
        """Every record of this instance, in append order (unreadable rows are skipped)."""
        with self._lock:
            return [m for _, m in self._read()]

    def compact(self, keep: Callable[[InboundMessage], bool]) -> int:
        """Delete the records ``keep`` rejects; returns how many were dropped. Rows appended
        meanwhile were not read, so they are kept (neither lost nor doubled)."""
        with self._lock:
            rows = self._read(with_unreadable=True)
            drop = [row_id for row_id, msg in rows if msg is None or not keep(msg)]
            if drop:
                try:
                    self._usable().execute(_DELETE, (self.instance, drop))
                except psycopg.Error as exc:
                    raise StoreError(f"inbound journal compaction failed: {_reason(exc)}",
                                     path=self.path) from None
            return len(drop)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _read(self, *, with_unreadable: bool = False) -> list[tuple[int, Any]]:
        try:
            rows = self._usable().execute(_SELECT, (self.instance,)).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"inbound journal read failed: {_reason(exc)}", path=self.path) from None
        out: list[tuple[int, Any]] = []
        for row_id, run, record in rows:
            try:
                msg = decode(record.encode("utf-8"))
            except (ValueError, KeyError, TypeError, IndexError, UnicodeError):
                if with_unreadable:
                    out.append((int(row_id), None))
                continue
            if run != self.run and msg.received_ns >= self.opened_ns:
                msg = _received_at(msg, self.opened_ns - 1)
            out.append((int(row_id), msg))
        return out


def _received_at(msg: InboundMessage, ns: int) -> InboundMessage:
    return dataclasses.replace(msg, received_ns=ns)


def _reason(exc: psycopg.Error) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
