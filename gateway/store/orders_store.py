"""SQLite store of the orders path (stdlib ``sqlite3``, one real file, WAL).

Why each table exists:

* ``orders`` — one row per order the gateway placed, keyed by the PlaceOrder RequestID. It is
  written *before* PlaceOrder leaves (ARCHITECTURE §3.4) so a crash between sending and hearing
  back can never orphan an order: on restart the row (with or without its Plxtra order ID) drives
  reconciliation. ``data`` holds the bridge's serialized order record (opaque here).
* ``clordids`` — every ClOrdID a session used (D, G, F, q), for duplicate detection and chains.
* ``execs`` — ExecIDs already generated per session: the "never twice" guard.
* ``outbound`` — messages not yet confirmed handed to QuickFIX, with their full content:
  ``handed = 0`` held (the session was logged out: send at its next logon), ``handed = 1``
  given to the FIX engine and not yet confirmed by ``on_sent(True)``. A kill -9 between the
  two leaves the row, and the next logon sends it again with PossResend(97)=Y (the receiver
  de-duplicates by ExecID): exactly once in the FIX sense. Confirmed rows are deleted.
* ``deferred`` — the outbound table of schema 1; its rows are moved to ``outbound`` on open.
* ``decisions`` — the one decision made on each order-changing request (D, F, G, q), keyed on
  the request's identity (session, ``request_key``: arrival time and MsgSeqNum, as journaled):
  accepted (with the RequestID it became) or rejected (with the answer that was sent). It is
  written in the same transaction as the decision's effects, so a restart replays only journaled
  requests that were never decided, and a PossResend/PossDup repeat of a decided ClOrdID is
  recognised and ignored.
* ``meta`` — the store's instance id and the RequestID counter.

Writes that belong together (new order state + its ExecIDs + its outbound rows) are one atomic
unit (:meth:`Store.apply`), so a kill -9 leaves either all or none of them.

Speed (one loop thread): with :meth:`Store.group_commit` the units written during one turn of
the event loop share one transaction (each unit a SAVEPOINT), committed at the end of the turn;
what depends on a unit being durable waits for that commit — sends to QuickFIX
(:meth:`Store.after_commit`) and requests to Zenith (:meth:`Store.durable`) — so the
write-ahead rule holds: the row is committed before the request or the report leaves.
``PRAGMA synchronous=NORMAL`` with WAL: a commit is durable against a process crash (kill -9:
the WAL frames are in the OS page cache) though not against power loss (FIX resend and
reconciliation then cover the last commits). RequestIDs are reserved in blocks (unused IDs of a
block are skipped after a restart, never reused); delivery confirmations are buffered and
committed with the next transaction (losing them only causes a PossResend copy); WAL
checkpoints run on a background thread (:mod:`gateway.store.checkpoint`).
The module imports nothing of the gateway but its error root: rows are plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.failpoints import crash_point
from gateway.store.checkpoint import Checkpointer
from gateway.store.errors import DuplicateClOrdID, StoreError

__all__ = [
    "Decision", "DeferredMessage", "OutboundRow", "Store", "StoredOrder", "open_store", "store_path_of",
]

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
);
CREATE INDEX IF NOT EXISTS decisions_by_cl_ord_id ON decisions (session, cl_ord_id);
"""

_REQUEST_ID_BLOCK = 512

log = logging.getLogger("gateway.store")

# (session, exec_id or None, handed, msg_type, fields)
OutboundRow = tuple[str, str | None, bool, str, Sequence[tuple[int, str]]]


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
class Decision:
    """The decision on one order-changing request: ``outcome`` ``accepted`` (``request_id`` is the
    Plxtra request it became, None for a mass cancel) or ``rejected`` (``answer`` the reject sent:
    MsgType and body fields)."""

    session: str
    request_key: str
    msg_type: str
    cl_ord_id: str
    outcome: str
    request_id: str | None = None
    answer: tuple[str, Sequence[tuple[int, str]]] | None = None

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class DeferredMessage:
    """An ``outbound`` row: ``handed`` True means it may already have reached the partner."""

    seq: int
    session: str
    msg_type: str
    fields: tuple[tuple[int, str], ...]
    exec_id: str | None = None
    handed: bool = False


class Store:
    """The gateway's SQLite state. Use from one thread (the loop); every method is one transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._next_seq = 0
        self._seq_limit = 0  # RequestIDs below this are reserved (persisted) for this process
        self._instance = ""
        self._loop: asyncio.AbstractEventLoop | None = None  # set: group commit per loop turn
        self._open = False  # a group transaction is open (committed by _commit_group)
        self._after: list[Callable[[], object]] = []
        self._durable: asyncio.Future[None] | None = None
        self._confirmed: list[int] = []  # outbound seqs confirmed sent, deleted with the next commit
        self._decided_in_group = False  # the open transaction holds a decision (crash point)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (kill -9); only power loss can drop the
            # last transactions, which FIX resend and reconciliation then cover.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # see _Checkpointer
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
                # Rows deferred by an older gateway join the outbound queue, in their order.
                self._db.execute(
                    "INSERT INTO outbound (session, exec_id, handed, msg_type, fields) "
                    "SELECT session, NULL, 0, msg_type, fields FROM deferred ORDER BY seq"
                )
                self._db.execute("DELETE FROM deferred")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open store: {exc}", path=str(self.path)) from exc
        self._checkpointer = Checkpointer(self.path)

    def close(self) -> None:
        self.group_commit(None)
        self._checkpointer.stop()
        with contextlib.suppress(sqlite3.Error, StoreError):
            self.flush()
        self._db.close()  # the last connection to close checkpoints the WAL

    def flush(self) -> None:
        """Commit now: an open group and buffered delivery confirmations."""
        if self._open:
            self._commit_group()
        if self._confirmed:
            try:
                with self._tx():
                    pass
            except sqlite3.Error as exc:
                raise self._wrap("flush", exc) from exc
            if self._open:
                self._commit_group()

    # --- group commit -------------------------------------------------------------------------

    def group_commit(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """With a loop: the writes of one loop turn share one transaction, committed at the end
        of the turn (``call_soon``); each write stays atomic on its own (a SAVEPOINT). Whatever
        depends on a write being durable waits for it: :meth:`after_commit` callbacks (sends to
        the FIX side) and :meth:`durable` (requests to Zenith). None: one commit per write."""
        if loop is None and self._open:
            self._commit_group()
        self._loop = loop

    def after_commit(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` once everything written so far is committed (now, if it already is)."""
        if self._open:
            self._after.append(fn)
        else:
            fn()

    async def durable(self) -> None:
        """Return once everything written so far is committed."""
        if self._open:
            if self._durable is None:
                self._durable = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._durable)

    def _commit_group(self) -> None:
        self._open = False
        after, self._after = self._after, []
        durable, self._durable = self._durable, None
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            # Nothing that depended on these writes has left the process; the loop's view is
            # now ahead of the file, which only a restart (reconciliation) repairs.
            log.critical("store commit failed, %d dependent action(s) dropped: %s", len(after), exc)
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            if durable is not None:
                durable.set_exception(self._wrap("commit", exc))
                durable.exception()  # retrieved: waiters re-raise it
            return
        if self._decided_in_group:
            self._decided_in_group = False
            crash_point("decision-committed")
        if durable is not None:
            durable.set_result(None)
        for fn in after:
            try:
                fn()
            except Exception:
                log.exception("after-commit action failed")

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        if self._loop is not None:
            yield from self._group_tx(db)
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            if self._confirmed:
                db.executemany("DELETE FROM outbound WHERE seq = ?", [(s,) for s in self._confirmed])
                self._confirmed.clear()
            yield db
            db.execute("COMMIT")
            if self._decided_in_group:
                self._decided_in_group = False
                crash_point("decision-committed")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _group_tx(self, db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        if not self._open:
            db.execute("BEGIN IMMEDIATE")
            self._open = True
            assert self._loop is not None
            self._loop.call_soon(self._commit_open_group)
        if self._confirmed:
            db.executemany("DELETE FROM outbound WHERE seq = ?", [(s,) for s in self._confirmed])
            self._confirmed.clear()
        db.execute("SAVEPOINT unit")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK TO unit")
            db.execute("RELEASE unit")
            raise
        db.execute("RELEASE unit")

    def _commit_open_group(self) -> None:
        if self._open:
            self._commit_group()

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
        """A new Zenith RequestID, unique for this store forever (persisted counter).

        A block of IDs is reserved with one write; after a restart the rest of it is skipped.
        """
        if self._next_seq >= self._seq_limit:
            try:
                with self._tx():
                    start = int(self._meta("request_seq") or "0") + 1
                    self._set_meta("request_seq", str(start + _REQUEST_ID_BLOCK - 1))
                    self._instance = self._meta("instance")
            except sqlite3.Error as exc:
                raise self._wrap("allocate_request_id", exc) from exc
            self._next_seq, self._seq_limit = start, start + _REQUEST_ID_BLOCK
        seq = self._next_seq
        self._next_seq += 1
        return f"gw{self._instance}-{seq:07d}"

    # --- ClOrdIDs ---------------------------------------------------------------------------

    def cl_ord_id_used(self, session: str, cl_ord_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM clordids WHERE session = ? AND cl_ord_id = ?", (session, cl_ord_id)
        ).fetchone()
        return row is not None

    def record_clordid(self, session: str, cl_ord_id: str, request_id: str | None, kind: str,
                       decision: Decision | None = None) -> None:
        """Remember a ClOrdID of a G/F/q (``kind``), with the ``decision`` that accepted it, in one
        unit; raises :class:`DuplicateClOrdID` (nothing written) if the session used it."""
        try:
            with self._tx() as db:
                self._insert_clordid(db, session, cl_ord_id, request_id, kind)
                self._insert_decision(db, decision)
        except sqlite3.Error as exc:
            raise self._wrap("record_clordid", exc) from exc

    # --- decisions --------------------------------------------------------------------------

    def _insert_decision(self, db: sqlite3.Connection, decision: Decision | None) -> None:
        if decision is None:
            return
        answer = None
        if decision.answer is not None:
            msg_type, fields = decision.answer
            answer = json.dumps([msg_type, [list(f) for f in fields]])
        # OR IGNORE: a request is decided once; a second write (a bug, or a replay racing a
        # commit) never overwrites the first decision.
        db.execute(
            "INSERT OR IGNORE INTO decisions (session, request_key, msg_type, cl_ord_id, outcome, "
            "request_id, answer, decided) VALUES (?, ?, ?, ?, ?, ?, ?, strftime('%s','now'))",
            (decision.session, decision.request_key, decision.msg_type, decision.cl_ord_id,
             decision.outcome, decision.request_id, answer),
        )
        self._decided_in_group = True

    def decide(self, decision: Decision) -> None:
        """Record a decision whose effects are written elsewhere in this loop turn."""
        try:
            with self._tx() as db:
                self._insert_decision(db, decision)
        except sqlite3.Error as exc:
            raise self._wrap("decide", exc) from exc

    def decision(self, session: str, request_key: str) -> Decision | None:
        row = self._db.execute(
            "SELECT msg_type, cl_ord_id, outcome, request_id, answer FROM decisions "
            "WHERE session = ? AND request_key = ?", (session, request_key),
        ).fetchone()
        if row is None:
            return None
        answer = None
        if row[4] is not None:
            msg_type, fields = json.loads(row[4])
            answer = (str(msg_type), tuple((int(a), str(b)) for a, b in fields))
        return Decision(session, request_key, row[0], row[1], row[2], row[3], answer)

    def is_decided(self, session: str, request_key: str) -> bool:
        return self._db.execute(
            "SELECT 1 FROM decisions WHERE session = ? AND request_key = ?", (session, request_key)
        ).fetchone() is not None

    def cl_ord_id_decided(self, session: str, cl_ord_id: str) -> bool:
        """True if a request carrying ``cl_ord_id`` was already decided on ``session`` (accepted:
        the ClOrdID is in use; or rejected)."""
        return self.cl_ord_id_used(session, cl_ord_id) or self._db.execute(
            "SELECT 1 FROM decisions WHERE session = ? AND cl_ord_id = ?", (session, cl_ord_id)
        ).fetchone() is not None

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
        decision: Decision | None = None,
    ) -> None:
        """ClOrdID -> RequestID -> session, with the ``decision`` that accepted the order, written
        before PlaceOrder leaves.

        Raises :class:`DuplicateClOrdID` (nothing written) if the session already used the ClOrdID.
        """
        try:
            with self._tx() as db:
                self._insert_clordid(db, session, cl_ord_id, request_id, "D")
                self._insert_decision(db, decision)
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

    def record_clordid_chain(self, session: str, cl_ord_id: str, request_id: str, kind: str,
                             decision: Decision | None = None) -> None:
        """Alias of :meth:`record_clordid` naming the intent: ``cl_ord_id`` now also names the order."""
        self.record_clordid(session, cl_ord_id, request_id, kind, decision)

    def apply(
        self,
        *,
        request_id: str | None,
        cl_ord_id: str = "",
        order_id: str | None = None,
        state: str = "",
        working: bool = False,
        data: dict[str, Any] | None = None,
        session: str | None = None,
        exec_ids: Sequence[str] = (),
        deferred: Iterable[tuple[str, str, Sequence[tuple[int, str]]]] = (),
        outbound: Sequence[OutboundRow] = (),
        decision: Decision | None = None,
    ) -> list[int]:
        """Save an order's new state, its ExecIDs, its outbound messages and the ``decision`` they
        answer: one atomic unit.

        ``request_id`` None saves no order (reports of a request that never became one).
        ``deferred`` are held messages (``handed`` False, no ExecID). Returns the ``outbound``
        sequence numbers of ``outbound`` (in order) for :meth:`confirm_sent`.
        """
        try:
            with self._tx() as db:
                if request_id is not None:
                    db.execute(
                        "UPDATE orders SET cl_ord_id = ?, order_id = ?, state = ?, working = ?, data = ? "
                        "WHERE request_id = ?",
                        (cl_ord_id, order_id, state, int(working), json.dumps(data or {}), request_id),
                    )
                if exec_ids:
                    if session is None:
                        raise StoreError("apply: exec_ids need a session", path=str(self.path))
                    db.executemany(
                        "INSERT OR IGNORE INTO execs (session, exec_id) VALUES (?, ?)",
                        [(session, e) for e in exec_ids],
                    )
                self._insert_decision(db, decision)
                self._insert_outbound(db, [(s, None, False, m, f) for s, m, f in deferred])
                return self._insert_outbound(db, outbound)
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

    # --- outbound messages (held for a logged-out session, or handed and unconfirmed) ---------

    def _insert_outbound(self, db: sqlite3.Connection, rows: Sequence[OutboundRow]) -> list[int]:
        seqs = []
        for session, exec_id, handed, msg_type, fields in rows:
            cur = db.execute(
                "INSERT INTO outbound (session, exec_id, handed, msg_type, fields) VALUES (?, ?, ?, ?, ?)",
                (session, exec_id, int(handed), msg_type, json.dumps(fields)),
            )
            seqs.append(int(cur.lastrowid or 0))
        return seqs

    def defer_message(self, session: str, msg_type: str, fields: Sequence[tuple[int, str]]) -> None:
        """Keep a message for ``session`` until it logs on again (survives restarts)."""
        try:
            with self._tx() as db:
                self._insert_outbound(db, [(session, None, False, msg_type, fields)])
        except sqlite3.Error as exc:
            raise self._wrap("defer_message", exc) from exc

    def deferred_for(self, session: str) -> list[DeferredMessage]:
        """Every outbound row of ``session`` not yet confirmed, oldest first."""
        self.flush()
        rows = self._db.execute(
            "SELECT seq, session, msg_type, fields, exec_id, handed FROM outbound WHERE session = ? "
            "ORDER BY seq",
            (session,),
        ).fetchall()
        return [
            DeferredMessage(r[0], r[1], r[2], tuple((int(a), str(b)) for a, b in json.loads(r[3])),
                            r[4], bool(r[5]))
            for r in rows
        ]

    def mark_handed(self, seqs: Iterable[int]) -> None:
        """Held rows given to the FIX engine: from now on a re-send carries PossResend=Y."""
        try:
            with self._tx() as db:
                db.executemany("UPDATE outbound SET handed = 1 WHERE seq = ?", [(s,) for s in seqs])
        except sqlite3.Error as exc:
            raise self._wrap("mark_handed", exc) from exc

    def confirm_sent(self, seq: int) -> None:
        """QuickFIX accepted outbound row ``seq``; deleted with the next commit (or :meth:`flush`)."""
        self._confirmed.append(seq)

    def drop_deferred(self, seqs: Iterable[int]) -> None:
        try:
            with self._tx() as db:
                db.executemany("DELETE FROM outbound WHERE seq = ?", [(s,) for s in seqs])
        except sqlite3.Error as exc:
            raise self._wrap("drop_deferred", exc) from exc


def store_path_of(config: Any) -> Path:
    """Where ``config.gateway.store_path`` points (a GatewayConfig; relative paths are relative to
    the config file)."""
    path = Path(config.gateway.store_path)
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    return path


def open_store(config: Any) -> Store:
    """The store at :func:`store_path_of` ``config``."""
    return Store(store_path_of(config))
