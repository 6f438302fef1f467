"""The store of the orders path: state in memory, made durable by a write-ahead journal, with
the SQLite file (stdlib ``sqlite3``, WAL) brought up to date behind it, off the order path.

Why each table exists (the database keeps the schema of earlier versions, unchanged):

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
  written in the same unit as the decision's effects, so a restart replays only journaled
  requests that were never decided, and a PossResend/PossDup repeat of a decided ClOrdID is
  recognised and ignored.
* ``meta`` — the store's instance id, the RequestID counter, and ``applied_seq``: the last
  journal record the tables hold.

How a write becomes durable (one loop thread, :meth:`Store.group_commit`):

1. A public write method validates against memory (e.g. :class:`DuplicateClOrdID`), encodes one
   *unit* (orjson; for SQLite an order's data and each outbound row's fields as JSON pieces after
   the unit's head, :func:`~gateway.store.sqlite_apply.encode_unit`: the apply stores them without
   parsing them), gives it the next journal sequence number and updates memory. Every read is
   answered from memory (a done order that left memory is read back from SQLite).
2. At the end of the loop turn (``call_soon``) the turn's units are appended to the journal
   (``<store>.journal``, :mod:`gateway.store.journal`) with ONE ``write()``; then the crash point
   ``decision-committed``, then the :meth:`Store.durable` waiters and :meth:`Store.after_commit`
   callbacks (sends to QuickFIX, requests to Zenith). That is the write-ahead rule: nothing
   leaves before the journal block holding its decision is written.
3. Every :data:`APPLY_EVERY` seconds the journaled units are applied to SQLite in one
   transaction that also records ``applied_seq`` (:mod:`gateway.store.sqlite_apply`): on the
   loop in slices of :data:`APPLY_SLICE` records (the gateway's default, ``gateway.store_apply:
   loop``, since QuickFIX runs on the loop too) or on a thread (:mod:`gateway.store.apply_thread`).
   Measured (bench/store_ops.py, the
   store's calls for one order in 4 loop turns): the thread takes about 50 us per order off the
   loop's CPU (sqlite3 releases the GIL inside SQLite, so that part runs on the other core; the
   thread wakes once per batch, not per order); the total CPU is about the same; at 200
   orders/s the step latency p99 was lower with the thread in 3 runs of 4. End to end
   (bench/order_roundtrip.py, before QuickFIX runs on the loop) the thread gave the better p99
   and throughput, the loop the better p50 (by about 0.4 ms: one more thread asking for the
   GIL). Measured again with QuickFIX on the loop and the apply by net effect (the gateway with
   the simulator, /work/briefs/tools/drive.py, two interleaved rounds, shared machine): at max
   rate the thread costs more, 756 / 691 us of process CPU per order against 581 / 543 on the
   loop, with a worse p50 (222 / 175 ms of queueing against 152 / 131); at 200/s CPU 1,280 /
   1,690 against 1,515 / 1,440 us and p50 2.5 / 2.4 ms against 2.5 / 2.1: no gain, so the
   loop stays the default. The journal is truncated once the database holds all of it, and
   rotated (``.old`` segment) while the thread lags behind.
4. Opening the store applies the journal records above ``applied_seq`` (a torn last record is
   not read), empties the journal and loads memory: working orders and outbound rows. Memory
   then holds what this process wrote; done orders beyond the :attr:`Store.keep_done` most
   recent, and index entries (ClOrdIDs, order IDs, decisions, ExecIDs) beyond
   :attr:`Store.keep_recent` per index, leave it once the database holds them. A read that
   misses memory is an indexed point query on SQLite (~5 us), which is exact because memory
   holds everything the database may not have yet. The two misses every new request would pay
   (its ClOrdID unused? its request key undecided?) are answered by Bloom filters of the
   database's keys (:class:`SeenFilter`, exact on "not seen"; 1.1 us against 4.8-6.9 us for
   ``decision()`` of a new key, 20k decisions in the file), a hit confirmed by SQLite. A key
   this process writes joins its filter when it leaves memory, not on its write: memory is asked
   first, and a new order's write then pays no filter update.

Durability: a journal write is in the kernel when ``write()`` returns, so it survives a process
crash (kill -9) but not a power loss; ``fsync=True`` adds an fsync per block for that (FIX
resend and reconciliation with Plxtra otherwise cover the last blocks after a power loss).
Two ways to make a turn durable, behind the same methods: ``journal=True`` (default, "journal +
async apply": SQLite on this machine) and ``journal=False`` ("commit per turn": the turn's units
are applied to the database in one transaction at the end of the turn, before its callbacks).
Without a loop (``group_commit(None)``) every write is one transaction of its own, after the
database has caught up with the journal.

Backends (:mod:`gateway.store.database`, the seam: apply a batch with its mark, meta, the point
reads of memory misses, the rows loaded at open): the SQLite file (default) and PostgreSQL
(:mod:`gateway.store.pg_database`, ``Store(path, database=...)`` or :func:`open_store` with
``gateway.store: postgresql://...``), which always runs commit per turn with no local journal (a
standby on another host must find everything in the database); its rows are those of one
instance. Measured (bench/store_ops.py, one order's store calls in 4 loop turns, loopback server
with fsync off, shared 2-core machine, two runs): loop CPU 0.49-0.55 ms per order (journal + apply
thread: 0.13 ms), plus 0.9-1.3 ms of PostgreSQL server CPU; back to back 1.5-1.9 ms per order
(journal: 0.14 ms); step latency p50 0.37-0.46 ms, p99 2.1-2.4 ms at 500 orders/s (journal: 0.05
and 0.21-0.25 ms). Two of the four turns also read the database on a miss (a new ClOrdID, a new
decision's key): one round trip each.

RequestIDs are reserved in blocks (unused IDs of a block are skipped after a restart, never
reused); delivery confirmations are buffered and journaled with the next block, or by the apply
tick when none comes (losing them only causes a PossResend copy); on the loop the apply waits while
the order path expects an answer (:meth:`Store.apply_when_idle`); WAL checkpoints run on a background thread
(:mod:`gateway.store.checkpoint`). The module imports nothing of the gateway but the store's own
modules, its error root and crash points: rows are plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from gateway.failpoints import crash_point
from gateway.store.apply_thread import ApplyThread
from gateway.store.database import Database, OrderRow, SqliteDatabase
from gateway.store.errors import DuplicateClOrdID, StoreError
from gateway.store.journal import Journal, journal_file
from gateway.store.sqlite_apply import encode_unit

__all__ = [
    "APPLY_EVERY", "KEEP_DONE", "Decision", "DeferredMessage", "OutboundRow", "SeenFilter", "Store",
    "StoredOrder", "open_store", "store_path_of",
]

APPLY_EVERY = 0.1
"""Seconds between two batches applied to SQLite (what the journal holds beyond the database)."""

APPLY_WAIT = 0.001
APPLY_WAIT_MAX = 10
"""While an answer is expected (:meth:`Store.apply_when_idle`) the apply on the loop waits
:data:`APPLY_WAIT` s, at most :data:`APPLY_WAIT_MAX` times in a row (then it runs anyway), unless
more than :data:`APPLY_SLICE` records wait (it is behind: catching up comes first): at 200
orders/s a batch (about 1 ms of the loop) then runs between an order's ExecutionReport and the
next order instead of in front of a PlaceOrder answer that arrives meanwhile."""

KEEP_DONE = 10_000
"""Done orders kept in memory (most recently written first); older ones are read from SQLite."""

KEEP_RECENT = 50_000
"""Entries kept in memory per index (ClOrdIDs, order IDs, decisions, ExecIDs) once applied."""

APPLY_SLICE = 600
"""Apply on the loop: records per transaction (about 150 orders' worth at 50 in flight, 4-5 ms of
the loop, what 300 records cost before the apply by net effect). A batch coalesces more the more
of an order's life it holds: 300 -> 600 records took the apply from 33.4 to 29.4 us per order
(/tmp script in the commit, best of 7; 1000: 29.6 with a 21 ms longest slice)."""

ROTATE_BYTES = 4 << 20
"""Apply thread: a journal segment this big is rotated (the database lags it while the loop writes)."""

_REQUEST_ID_BLOCK = 512

SEEN_MIN = 1 << 16
"""Keys the ClOrdID filter is first sized for (128 KB), whatever the database holds."""

SEEN_OPEN_KEYS = 50_000
"""ClOrdIDs of the database added to the filter at open (1.3 to 2.5 us a key: 65-125 ms)."""

SEEN_PAGE = 1_000
SEEN_FILL_EVERY = 0.01
"""The rest: a page of SEEN_PAGE keys (1.3-2.5 ms of the loop) every SEEN_FILL_EVERY seconds."""

log = logging.getLogger("gateway.store")

_dumps = orjson.dumps
_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS

# (session, exec_id or None, handed, msg_type, fields)
OutboundRow = tuple[str, str | None, bool, str, Sequence[tuple[int, str]]]


# Not ``frozen`` (never changed once built all the same; ``replace`` makes the changed copy): a
# frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, and a StoredOrder is
# built on every order write, a Decision on every decision (bench/store_ops.py ``--calls``).
# ``unsafe_hash`` keeps them hashable as the frozen ones were.
@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
class DeferredMessage:
    """An ``outbound`` row: ``handed`` True means it may already have reached the partner."""

    seq: int
    session: str
    msg_type: str
    fields: tuple[tuple[int, str], ...]
    exec_id: str | None = None
    handed: bool = False


class Store:
    """The gateway's order state: memory, a write-ahead journal, and SQLite brought up to date
    behind them. Use from one thread (the loop); every write is one atomic unit."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        apply_in_thread: bool = True,
        journal: bool = True,
        keep_done: int = KEEP_DONE,
        keep_recent: int = KEEP_RECENT,
        apply_every: float = APPLY_EVERY,
        database: Callable[[], Database] | None = None,
    ) -> None:
        """``path``: the SQLite file, unless ``database`` opens another backend (then ``path`` only
        names a local folder's file for the caller's own use, and the store runs ``journal=False``:
        a local journal is of no use to a standby on another host)."""
        self.path = Path(path)
        self.keep_done = keep_done
        self.keep_recent = keep_recent
        self._apply_every = apply_every
        self._apply_in_thread = apply_in_thread
        self._journal_on = journal and database is None
        self._loop: asyncio.AbstractEventLoop | None = None  # set: group commit per loop turn
        self._open = False  # a block of this turn's records is waiting for its journal write
        self._turn_pending = False  # the end of this loop turn is scheduled (_end_turn)
        self._committed_early = False  # commit_first() committed in this loop turn
        self._block: list[tuple[int, bytes]] = []
        self._after: list[Callable[[], object]] = []
        self._durable: asyncio.Future[None] | None = None
        self._confirmed: list[int] = []  # outbound seqs confirmed sent, journaled with the next block
        self._decided_in_group = False  # the open block holds a decision (crash point)
        self._unapplied: list[tuple[int, bytes]] = []  # journaled, not yet handed to the database
        self._apply_handle: asyncio.Handle | None = None
        self._busy: Callable[[], bool] | None = None   # apply_when_idle
        self._waited = 0   # apply ticks put off in a row (APPLY_WAIT_MAX)
        self._thread: ApplyThread | None = None
        self._journal: Journal | None = None
        self._errors: tuple[type[Exception], ...]
        if database is not None:
            self._db: Database = database()
            self._errors = self._db.errors
            self._where = self._db.label
            try:
                self._seq = self._db.applied_seq()
                self._written = self._applied = self._seq
                self._load()
            except self._errors as exc:
                self._db.close()
                raise StoreError(f"cannot open store: {exc}", path=self._where) from exc
        else:
            self._where = str(self.path)
            self._errors = SqliteDatabase.errors
            try:
                self._db = SqliteDatabase(self.path)
                self._journal = Journal(journal_file(self.path), fsync=fsync)
                self._seq = self._recover()
                self._written = self._applied = self._seq
                self._load()
            except (sqlite3.Error, OSError, ValueError) as exc:
                raise StoreError(f"cannot open store: {exc}", path=self._where) from exc
        self._write_errors: tuple[type[Exception], ...] = (OSError, *self._errors)
        self._data_as_text = self._db.data_as_text
        self._db.opened()

    @property
    def orders_in_memory(self) -> int:
        """Orders held in memory (every working order, at most :attr:`keep_done` done ones once
        the database has caught up)."""
        return len(self._orders)

    @property
    def entries_in_memory(self) -> int:
        """Index entries held in memory (ClOrdIDs, order IDs, decisions, ExecIDs)."""
        return sum(map(len, (self._by_order_id, self._clordids, self._decisions, self._decided_cl,
                             self._execs)))

    @property
    def journal_bytes(self) -> int:
        """Bytes in the journal's current segment (what the database may not hold yet)."""
        return 0 if self._journal is None else self._journal.size

    @property
    def journaling(self) -> bool:
        """True when a group commit is one journal ``write()``; False when it is a database
        transaction (PostgreSQL), which callers should not multiply."""
        return self._journal_on

    # --- recovery and loading -----------------------------------------------------------------

    def _recover(self) -> int:
        """Apply what the journal holds beyond the database's mark (a torn tail is not read),
        then empty the journal: from here on the database holds everything."""
        assert self._journal is not None
        mark = self._db.applied_seq()
        frames = [f for f in self._journal.records() if f[0] > mark]
        if frames:
            mark = self._db.apply(frames)
            log.info("store: %d journal record(s) applied at open", len(frames))
        self._journal.truncate()
        self._journal.drop_old()
        return mark

    def _load(self) -> None:
        db = self._db
        self._instance = db.meta("instance") or ""
        self._request_seq = int(db.meta("request_seq") or "0")  # the highest RequestID reserved
        self._next_rid = self._rid_limit = 0
        self._orders: dict[str, StoredOrder] = {}  # working orders and recent done ones
        self._done: OrderedDict[str, int] = OrderedDict()  # done orders in memory -> seq of last write
        for row in db.working_orders():
            order = _row(row)
            self._orders[order.request_id] = order
        # Index entries this process wrote; older ones, and those that left memory once the
        # database held them, are looked up in the database (an indexed point query).
        self._seen_cl = _KeyFilter(db.clordid_count(), db.clordid_keys)
        self._seen_dec = _KeyFilter(db.decision_count(), db.decision_keys)
        self._by_order_id = _Recent()   # order_id -> request_id
        self._clordids = _Recent(self._seen_cl)      # (session, cl_ord_id) -> request_id or None
        self._decisions = _Recent(self._seen_dec)    # (session, request_key) -> Decision
        self._decided_cl = _Recent()    # (session, cl_ord_id) of a decision -> True
        self._execs = _Recent()         # (session, exec_id) -> True
        # Every ClOrdID (and every decision's request key) the database holds plus those written
        # since: once filled, a new ClOrdID is answered "unused" and a new request "undecided"
        # without a database read (a hit is confirmed by one). The database's keys are read in
        # pages: at open up to SEEN_OPEN_KEYS per table (the whole table would slow the start by
        # 1.3-2.5 s per 1M keys), the rest on the loop (group_commit), a page per SEEN_FILL_EVERY
        # seconds; until a filter is full, its checks read the database. A key this process writes
        # joins its filter when it leaves memory (_Recent.trim): until then memory answers for it.
        self._seen_handle: asyncio.TimerHandle | None = None
        self._fill_seen(SEEN_OPEN_KEYS)
        # seq -> row; a row written by apply() stays the list its unit holds until it is read
        # (deferred_for, mark_handed: a logon), since most are confirmed and dropped unread.
        self._outbound: dict[int, DeferredMessage | list[Any]] = {}
        for seq, s, m, f, e, h in db.outbound():
            self._outbound[seq] = DeferredMessage(seq, s, m, _fields(f), e, h)
        self._next_out = max([0, *self._outbound, db.outbound_top()]) + 1

    # --- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Journal the open block, bring the database fully up to date and empty the journal."""
        self.group_commit(None)  # also stops filling the ClOrdID filter
        with contextlib.suppress(*self._errors, StoreError, OSError):
            self.flush()
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        if self._journal is not None:
            self._journal.close()
        self._db.close()

    def flush(self) -> None:
        """Make durable now: the open block and buffered delivery confirmations."""
        if self._open:
            self._commit_group()
        if self._confirmed:
            unit = ["X", self._confirmed]
            self._confirmed = []
            if self._loop is not None:
                self._open = True
                self._block.append(self._frame(unit))
                self._commit_group()
            else:
                self._apply_now([self._frame(unit)], "flush")

    # --- group commit -------------------------------------------------------------------------

    def group_commit(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """With a loop: the records written during one loop turn are journaled with one write at
        the end of the turn (``call_soon``), and the database is brought up to date later, off
        the order path. Whatever depends on a write being durable waits for the journal write:
        :meth:`after_commit` callbacks (sends to the FIX side) and :meth:`durable` (requests to
        Zenith). None: first the database catches up with everything journaled, then each write
        is one SQLite transaction of its own (the "commit per write" mode)."""
        if loop is None:
            if self._open:
                self._commit_group()
            self._catch_up()
        self._loop = loop
        # A turn's end scheduled on a loop left behind finds nothing open; this loop schedules its own.
        self._turn_pending = self._committed_early = False
        if self._seen_handle is not None:
            self._seen_handle.cancel()
            self._seen_handle = None
        if loop is not None and not self._filters_filled:
            self._seen_handle = loop.call_later(SEEN_FILL_EVERY, self._fill_seen_later)

    def after_commit(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` once everything written so far is durable (now, if it already is)."""
        if self._open:
            self._after.append(fn)
        else:
            fn()

    async def durable(self) -> None:
        """Return once everything written so far is durable."""
        if self._open:
            if self._durable is None:
                self._durable = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._durable)

    def commit_first(self) -> None:
        """Commit now if nothing was committed early in this loop turn yet, else leave the turn's
        writes to its end. The write-ahead rule only asks that nothing leaves before the journal
        block holding its decision is written; waiting for the end of the turn is for batching.
        The first event of a turn (at 200 orders/s every order is alone in its turn) then sends
        its PlaceOrder or ExecutionReport a loop turn earlier, and a burst costs at most one more
        journal write per turn. One flag and the turn's one end callback (scheduled by the
        turn's first write) do the bookkeeping: no loop look-up or callback of its own per event."""
        if self._committed_early:
            return
        if self._loop is not None:
            self._committed_early = True
            if not self._turn_pending:   # nothing written this turn (confirmations only)
                self._turn_pending = True
                self._loop.call_soon(self._end_turn)
        self.flush()

    def _end_turn(self) -> None:
        self._turn_pending = False
        self._committed_early = False
        if self._open:
            self._commit_group()

    def _commit_group(self) -> None:
        self._open = False
        if self._confirmed:
            self._block.append(self._frame(["X", self._confirmed]))
            self._confirmed = []
        block, self._block = self._block, []
        after, self._after = self._after, []
        durable, self._durable = self._durable, None
        decided, self._decided_in_group = self._decided_in_group, False
        if not block:
            return
        try:
            if self._journal is not None and self._journal_on:
                self._journal.write_frames(block)
            else:
                self._on_applied(self._db.apply(block))
        except self._write_errors as exc:
            # Nothing that depended on these writes has left the process; memory is now ahead of
            # the files, which only a restart (reconciliation) repairs.
            log.critical("store journal write failed, %d dependent action(s) dropped: %s", len(after), exc)
            if durable is not None:
                durable.set_exception(StoreError(f"group commit: {exc}", path=self._where))
                durable.exception()  # retrieved: waiters re-raise it
            return
        self._written = block[-1][0]
        if self._journal_on:
            self._unapplied.extend(block)
        if decided:
            crash_point("decision-committed")
        if durable is not None:
            durable.set_result(None)
        for fn in after:
            try:
                fn()
            except Exception:
                log.exception("after-commit action failed")
        if self._apply_handle is None and self._loop is not None and self._journal_on:
            self._apply_handle = self._loop.call_later(self._apply_every, self._apply_tick)

    # --- bringing the database up to date -----------------------------------------------------

    def apply_when_idle(self, busy: Callable[[], bool] | None) -> None:
        """Put the apply on the loop off while ``busy()`` (an answer the order path waits for is
        due), by :data:`APPLY_WAIT` s at a time, at most :data:`APPLY_WAIT_MAX` times in a row."""
        self._busy = busy

    def _apply_tick(self) -> None:
        """Timer: hand the journaled records to the database (on the loop, or to the thread)."""
        # Not behind (more than a slice waiting: catching up comes first) and not for ever.
        if (self._busy is not None and not self._apply_in_thread and self._waited < APPLY_WAIT_MAX
                and self._loop is not None and 0 < len(self._unapplied) <= APPLY_SLICE and self._busy()):
            self._waited += 1
            self._apply_handle = self._loop.call_later(APPLY_WAIT, self._apply_tick)
            return
        self._waited = 0
        if self._confirmed and not self._open:
            # Delivery confirmations no later commit carried (confirm_sent): journaled now, so a
            # crash repeats at most this tick's worth of reports (PossResend). The handle is still
            # set: the commit does not schedule another tick.
            with contextlib.suppress(*self._write_errors):
                self.flush()
        self._apply_handle = None
        frames, self._unapplied = self._unapplied, []
        assert self._journal is not None  # only the journal mode applies later
        if self._apply_in_thread:
            if frames:
                if self._thread is None:
                    self._thread = ApplyThread(self.path)
                self._thread.submit(frames)
                if self._journal.size > ROTATE_BYTES:
                    self._journal.rotate(self._written)
            if self._thread is not None:
                mark = self._thread.marks()
                if mark:
                    self._on_applied(mark)
            busy = self._thread is not None and self._thread.outstanding > 0
        else:
            # A slice at a time, each its own transaction, with the loop's other callbacks in
            # between: one slice stalls the order path for ~2 ms, not for the whole batch.
            if len(frames) > APPLY_SLICE:
                frames, rest = frames[:APPLY_SLICE], frames[APPLY_SLICE:]
                self._unapplied[:0] = rest
            if frames:
                try:
                    self._on_applied(self._db.apply(frames))
                except self._errors as exc:
                    log.error("store: applying %d journal record(s) failed, retrying: %s", len(frames), exc)
                    self._unapplied[:0] = frames
                    busy = True
                else:
                    busy = False
                if self._unapplied and not busy and self._loop is not None and not self._loop.is_closed():
                    self._apply_handle = self._loop.call_soon(self._apply_tick)
                    return
            busy = bool(self._unapplied)
        if busy and self._loop is not None and not self._loop.is_closed():
            self._apply_handle = self._loop.call_later(self._apply_every, self._apply_tick)

    def _catch_up(self) -> None:
        """Synchronously: the database holds every journaled record, the journal is empty."""
        if self._apply_handle is not None:
            self._apply_handle.cancel()
            self._apply_handle = None
        if self._thread is not None:
            mark = self._thread.sync()
            if mark:
                self._on_applied(mark)
        if self._unapplied:
            frames, self._unapplied = self._unapplied, []
            try:
                self._on_applied(self._db.apply(frames))
            except self._errors as exc:
                self._unapplied = frames
                raise self._wrap("apply", exc) from exc
        elif self._applied < self._written and self._journal is not None:
            # The thread failed its last batch: the journal still has it.
            frames = [f for f in self._journal.records() if f[0] > self._applied]
            self._on_applied(self._db.apply(frames))

    def _on_applied(self, mark: int) -> None:
        self._applied = max(self._applied, mark)
        journal = self._journal
        if journal is None:
            pass
        elif self._applied >= self._written and not self._unapplied:
            journal.truncate()  # everything it holds is in the database
        elif journal.old_last_seq is not None and self._applied >= journal.old_last_seq:
            journal.drop_old()
        # Done orders and index entries leave memory once the database has them (reads then fall
        # back to it).
        applied, bound = self._applied, self.keep_recent
        for index in (self._by_order_id, self._clordids, self._decisions, self._decided_cl, self._execs):
            index.trim(applied, bound)
        done, orders = self._done, self._orders
        while len(done) > self.keep_done:
            rid, seq = next(iter(done.items()))
            if seq > self._applied:
                break
            del done[rid]
            orders.pop(rid, None)

    # --- writing a unit ---------------------------------------------------------------------

    def _frame(self, unit: list[Any], pieces: Sequence[bytes] = ()) -> tuple[int, bytes]:
        try:
            payload = encode_unit(unit, pieces)
        except TypeError as exc:
            raise StoreError(f"cannot serialize {unit[0]!r} record: {exc}", path=self._where) from exc
        self._seq += 1
        return self._seq, payload

    def _write(self, unit: list[Any], what: str, *, decided: bool = False,
               pieces: Sequence[bytes] = ()) -> int:
        """Journal ``unit`` with this turn's block, or (no loop) commit it to SQLite now. Raises
        StoreError before anything is written; the caller updates memory after it returns.
        ``decided``: the unit holds a decision (crash point once it is durable). ``pieces``: the
        JSON columns the unit carries outside its head (:func:`~gateway.store.sqlite_apply.encode_unit`)."""
        frame = self._frame(unit, pieces)
        if self._loop is not None:
            self._decided_in_group = self._decided_in_group or decided
            self._block.append(frame)
            if not self._open:
                self._open = True
                if not self._turn_pending:
                    self._turn_pending = True
                    self._loop.call_soon(self._end_turn)
        else:
            frames = [frame]
            if self._confirmed:
                frames.insert(0, self._frame(["X", self._confirmed]))
                self._confirmed = []
            self._apply_now(frames, what)
            if decided:
                crash_point("decision-committed")
        return frame[0]

    def _apply_now(self, frames: list[tuple[int, bytes]], what: str) -> None:
        if self._unapplied:
            frames = self._unapplied + frames
        try:
            mark = self._db.apply(frames)
        except self._errors as exc:
            raise self._wrap(what, exc) from exc
        self._unapplied = []
        self._written = frames[-1][0]
        self._on_applied(mark)

    def _wrap(self, what: str, exc: Exception) -> StoreError:
        return StoreError(f"{what}: {exc}", path=self._where)

    def _piece(self, value: Any, what: str) -> bytes:
        """A JSON column as a piece of its unit (for a database that stores the text as it is:
        encoded once here, never escaped into the head, never parsed by the apply)."""
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise StoreError(f"cannot serialize {what}: {exc}", path=self._where) from exc

    def _decision_unit(self, decision: Decision | None) -> list[Any] | None:
        if decision is None:
            return None
        d = decision
        return [d.session, d.request_key, d.msg_type, d.cl_ord_id, d.outcome, d.request_id,
                None if d.answer is None else [d.answer[0], d.answer[1]], int(time.time())]

    def _remember_decision(self, decision: Decision | None, seq: int) -> None:
        if decision is None:
            return
        if self.decision(decision.session, decision.request_key) is not None:
            return  # decided once: a second write (a bug, or a replay) never overwrites the first
        if decision.answer is not None:
            decision = replace(decision, answer=_answer(decision.answer))
        key = (decision.session, decision.request_key)
        self._decisions.put(key, decision, seq)
        self._decided_cl.put((decision.session, decision.cl_ord_id), True, seq)

    def _put_order(self, order: StoredOrder, seq: int) -> None:
        rid = order.request_id
        self._orders[rid] = order
        if order.working:
            self._done.pop(rid, None)
        else:
            self._done[rid] = seq
            self._done.move_to_end(rid)
        if order.order_id is not None and seq:
            got = self._by_order_id.items.get(order.order_id)
            if got is None or got[0] != rid:
                self._by_order_id.put(order.order_id, rid, seq)

    # --- identifiers ----------------------------------------------------------------------

    def allocate_request_id(self) -> str:
        """A new Zenith RequestID, unique for this store forever (persisted counter).

        A block of IDs is reserved with one record; after a restart the rest of it is skipped.
        """
        if self._next_rid >= self._rid_limit:
            start = self._request_seq + 1
            top = start + _REQUEST_ID_BLOCK - 1
            self._write(["R", top], "allocate_request_id")
            self._request_seq = top
            self._next_rid, self._rid_limit = start, start + _REQUEST_ID_BLOCK
        seq = self._next_rid
        self._next_rid += 1
        return f"gw{self._instance}-{seq:07d}"

    # --- ClOrdIDs ---------------------------------------------------------------------------

    def cl_ord_id_used(self, session: str, cl_ord_id: str) -> bool:
        key = (session, cl_ord_id)
        if key in self._clordids.items:
            return True
        if self._seen_cl.surely_new(key):
            return False  # never used (the common case, a new ClOrdID): no database read
        return self._db.clordid(session, cl_ord_id)[0]

    @property
    def _filters_filled(self) -> bool:
        return self._seen_cl.filled and self._seen_dec.filled

    def _fill_seen(self, limit: int) -> None:
        """Add up to ``limit`` of the database's keys of each table to its filter."""
        self._seen_cl.fill(limit)
        self._seen_dec.fill(limit)

    def _fill_seen_later(self) -> None:
        self._seen_handle = None
        if self._filters_filled or self._loop is None:
            return
        try:
            self._fill_seen(SEEN_PAGE)
        except self._errors as exc:  # the checks keep reading the database, exact as before
            log.warning("store: key filters not filled (%s); each new ClOrdID / request reads the database",
                        exc)
            return
        if not self._filters_filled:
            self._seen_handle = self._loop.call_later(SEEN_FILL_EVERY, self._fill_seen_later)

    def record_clordid(self, session: str, cl_ord_id: str, request_id: str | None, kind: str,
                       decision: Decision | None = None) -> None:
        """Remember a ClOrdID of a G/F/q (``kind``), with the ``decision`` that accepted it, in one
        unit; raises :class:`DuplicateClOrdID` (nothing written) if the session used it."""
        if self.cl_ord_id_used(session, cl_ord_id):
            raise DuplicateClOrdID(session, cl_ord_id)
        seq = self._write(["C", session, cl_ord_id, request_id, kind, self._decision_unit(decision)],
                          "record_clordid", decided=decision is not None)
        self._clordids.put((session, cl_ord_id), request_id, seq)
        self._remember_decision(decision, seq)

    def record_clordid_chain(self, session: str, cl_ord_id: str, request_id: str, kind: str,
                             decision: Decision | None = None) -> None:
        """Alias of :meth:`record_clordid` naming the intent: ``cl_ord_id`` now also names the order."""
        self.record_clordid(session, cl_ord_id, request_id, kind, decision)

    # --- decisions --------------------------------------------------------------------------

    def decide(self, decision: Decision) -> None:
        """Record a decision whose effects are written elsewhere in this loop turn."""
        seq = self._write(["D", self._decision_unit(decision)], "decide", decided=True)
        self._remember_decision(decision, seq)

    def decision(self, session: str, request_key: str) -> Decision | None:
        key = (session, request_key)
        got = self._decisions.items.get(key)
        if got is not None:
            return got[0]
        if self._seen_dec.surely_new(key):
            return None  # a new request (every D, F, G, q on arrival): no database read
        row = self._db.decision(session, request_key)
        if row is None:
            return None
        answer = _answer(row[4]) if row[4] is not None else None
        return Decision(session, request_key, row[0], row[1], row[2], row[3], answer)

    def is_decided(self, session: str, request_key: str) -> bool:
        key = (session, request_key)
        if key in self._decisions.items:
            return True
        return not self._seen_dec.surely_new(key) and self._db.has_decision(session, request_key)

    def cl_ord_id_decided(self, session: str, cl_ord_id: str) -> bool:
        """True if a request carrying ``cl_ord_id`` was already decided on ``session`` (accepted:
        the ClOrdID is in use; or rejected)."""
        return (session, cl_ord_id) in self._decided_cl.items or self.cl_ord_id_used(session, cl_ord_id) \
            or self._db.cl_ord_id_decided(session, cl_ord_id)

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
        before PlaceOrder leaves. ``data`` is kept as given: the caller must not change it later.

        Raises :class:`DuplicateClOrdID` (nothing written) if the session already used the ClOrdID.
        """
        if self.cl_ord_id_used(session, cl_ord_id):
            raise DuplicateClOrdID(session, cl_ord_id)
        if request_id in self._orders:
            raise StoreError(f"record_new_order: RequestID {request_id} exists", path=self._where)
        unit = ["N", session, request_id, cl_ord_id, account, state, data, created,
                self._decision_unit(decision)]
        pieces: tuple[bytes, ...] = ()
        if self._data_as_text:
            unit[6], pieces = None, (self._piece(data, "order data"),)
        seq = self._write(unit, "record_new_order", decided=decision is not None, pieces=pieces)
        self._clordids.put((session, cl_ord_id), request_id, seq)
        self._remember_decision(decision, seq)
        order = StoredOrder(request_id, session, account, cl_ord_id, None, state, True, data, created)
        self._put_order(order, seq)

    def link_order_id(self, request_id: str, order_id: str) -> None:
        """Attach the Plxtra order ID to the order placed with ``request_id``."""
        seq = self._write(["L", request_id, order_id], "link_order_id")
        order = self.order(request_id)
        if order is not None:
            self._put_order(StoredOrder(request_id, order.session, order.account, order.cl_ord_id, order_id,
                                        order.state, order.working, order.data, order.created), seq)

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
        if exec_ids and session is None:
            raise StoreError("apply: exec_ids need a session", path=self._where)
        data = data or {}
        first = out_seq = self._next_out
        rows: list[list[Any]] = []
        for s, m, f in deferred:
            rows.append([out_seq, s, None, False, m, f])
            out_seq += 1
        for s, e, h, m, f in outbound:
            rows.append([out_seq, s, e, bool(h), m, f])
            out_seq += 1
        if self._data_as_text:
            # The JSON columns as pieces after the head (sqlite_apply.encode_unit); memory keeps
            # the rows with their fields. One try for every piece: an ER's unit is on the answer's
            # critical path (no method call per piece).
            try:
                pieces = [_dumps(data, option=_NON_STR_KEYS)]
                pieces += [_dumps(row[5], option=_NON_STR_KEYS) for row in rows]
            except TypeError as exc:
                raise StoreError(f"cannot serialize order data or message fields: {exc}",
                                 path=self._where) from exc
            unit: list[Any] = ["A", request_id, cl_ord_id, order_id, state, working, None, session,
                               list(exec_ids), [[r[0], r[1], r[2], r[3], r[4], None] for r in rows],
                               self._decision_unit(decision)]
        else:
            pieces = []
            unit = ["A", request_id, cl_ord_id, order_id, state, working, data, session, list(exec_ids), rows,
                    self._decision_unit(decision)]
        seq = self._write(unit, "apply", decided=decision is not None, pieces=pieces)
        self._next_out = out_seq
        if request_id is not None:
            old = self._orders.get(request_id) or self.order(request_id)
            if old is not None:
                self._put_order(StoredOrder(request_id, old.session, old.account, cl_ord_id, order_id,
                                            state, working, data, old.created), seq)
        if exec_ids:
            for e in exec_ids:
                self._execs.put((session, e), True, seq)
        if decision is not None:
            self._remember_decision(decision, seq)
        outbound_rows = self._outbound
        for row in rows:
            # Built into a DeferredMessage only if read: not in front of the report's send.
            outbound_rows[row[0]] = row
        return list(range(first + len(rows) - len(outbound), first + len(rows)))

    def order(self, request_id: str) -> StoredOrder | None:
        order = self._orders.get(request_id)
        if order is not None:
            return order
        # Not in memory: a done order that left it, whose last state the database holds.
        row = self._db.order(request_id)
        if row is None:
            return None
        order = _row(row)
        self._put_order(order, 0)
        return order

    def order_by_order_id(self, order_id: str) -> StoredOrder | None:
        got = self._by_order_id.items.get(order_id)
        if got is not None:
            rid = got[0]
        else:
            found = self._db.request_id_of(order_id)
            if found is None:
                return None
            rid = found
        order = self.order(rid)
        # Memory is newer than the database: the order may have been linked to another ID since.
        return order if order is not None and order.order_id == order_id else None

    def order_by_cl_ord_id(self, session: str, cl_ord_id: str) -> StoredOrder | None:
        """The order that ``cl_ord_id`` names on ``session`` (any ClOrdID of its chain)."""
        got = self._clordids.items.get((session, cl_ord_id))
        rid = got[0] if got is not None else self._db.clordid(session, cl_ord_id)[1]
        return None if rid is None else self.order(rid)

    def _merged(self, where: str, arg: str, keep: Callable[[StoredOrder], bool]) -> list[StoredOrder]:
        """Orders from the database overlaid with memory (newer, and possibly not applied yet)."""
        found = {o.request_id: o for o in map(_row, self._db.orders_where(where, arg))}
        found.update((rid, o) for rid, o in self._orders.items() if keep(o))
        return sorted(found.values(), key=lambda o: (o.created, o.request_id))

    def orders_for_session(self, session: str, *, working_only: bool = False) -> list[StoredOrder]:
        orders = self._merged("session", session, lambda o: o.session == session)
        return [o for o in orders if o.working] if working_only else orders

    def working_orders(self) -> list[StoredOrder]:
        # Working orders never leave memory.
        return sorted((o for o in self._orders.values() if o.working),
                      key=lambda o: (o.created, o.request_id))

    def orders_for_account(self, account: str) -> list[StoredOrder]:
        return self._merged("account", account, lambda o: o.account == account)

    # --- executions -------------------------------------------------------------------------

    def exec_already_sent(self, session: str, exec_id: str) -> bool:
        return (session, exec_id) in self._execs.items or self._db.exec_sent(session, exec_id)

    def mark_exec_sent(self, session: str, exec_id: str) -> bool:
        """Record ``exec_id`` as delivered; False if it already was."""
        if self.exec_already_sent(session, exec_id):
            return False
        seq = self._write(["E", session, exec_id], "mark_exec_sent")
        self._execs.put((session, exec_id), True, seq)
        return True

    # --- outbound messages (held for a logged-out session, or handed and unconfirmed) ---------

    def defer_message(self, session: str, msg_type: str, fields: Sequence[tuple[int, str]]) -> None:
        """Keep a message for ``session`` until it logs on again (survives restarts)."""
        seq = self._next_out
        self._write(["O", [[seq, session, None, False, msg_type, fields]]], "defer_message")
        self._next_out += 1
        self._outbound[seq] = DeferredMessage(seq, session, msg_type, _fields(fields))

    def deferred_for(self, session: str) -> list[DeferredMessage]:
        """Every outbound row of ``session`` not yet confirmed, oldest first."""
        found: list[DeferredMessage] = []
        rows = self._outbound
        for seq, m in rows.items():
            if type(m) is list:
                if m[1] != session:
                    continue
                m = rows[seq] = _deferred(m)   # same key: the dict's size and order stay
            elif m.session != session:   # type: ignore[union-attr]
                continue
            found.append(m)   # type: ignore[arg-type]
        return found

    def mark_handed(self, seqs: Iterable[int]) -> None:
        """Held rows given to the FIX engine: from now on a re-send carries PossResend=Y."""
        seqs = list(seqs)
        self._write(["H", seqs], "mark_handed")
        for s in seqs:
            row = self._outbound.get(s)
            if row is not None:
                self._outbound[s] = replace(_deferred(row) if type(row) is list else row,  # type: ignore[type-var]
                                            handed=True)

    def confirm_sent(self, seq: int) -> None:
        """QuickFIX accepted outbound row ``seq``; forgotten durably with the next write (or
        :meth:`flush`), with a loop by the apply tick at the latest (:data:`APPLY_EVERY`): losing
        the confirmation in a crash only causes a PossResend copy."""
        self._confirmed.append(seq)
        self._outbound.pop(seq, None)
        if self._apply_handle is None and self._journal_on and self._loop is not None:
            # Journaled by the next commit or, if none comes first, by the apply tick.
            self._apply_handle = self._loop.call_later(self._apply_every, self._apply_tick)

    def drop_deferred(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        self._write(["X", seqs], "drop_deferred")
        for s in seqs:
            self._outbound.pop(s, None)


class _Recent:
    """Index entries written by this process, oldest first. :meth:`trim` lets the oldest go once
    the database holds them (their write's seq is applied) and there are more than ``bound``.

    ``seen``: the key filter of the index's table (a :class:`_KeyFilter`), told of a key when it
    leaves memory, not when it is written: a read asks memory first, so the filter only has to
    know the keys memory no longer answers for, and a new order's write pays no filter update
    (two Bloom additions of about 1.5 us each, hot, per new order)."""

    __slots__ = ("_order", "items", "seen")

    def __init__(self, seen: _KeyFilter | None = None) -> None:
        self.items: dict[Any, tuple[Any, int]] = {}  # key -> (value, seq of the write)
        self._order: deque[tuple[int, Any]] = deque()
        self.seen = seen

    def __len__(self) -> int:
        return len(self.items)

    def put(self, key: Any, value: Any, seq: int) -> None:
        self.items[key] = (value, seq)
        self._order.append((seq, key))

    def trim(self, applied: int, bound: int) -> None:
        items, order = self.items, self._order
        while len(order) > bound:
            seq, key = order[0]
            if seq > applied:
                return
            order.popleft()
            got = items.get(key)
            if got is not None and got[1] == seq:  # not written again since
                if self.seen is not None:
                    self.seen.add(key)  # before it leaves: "not in memory, not in the filter" stays exact
                del items[key]


class _KeyFilter:
    """A :class:`SeenFilter` of one table's keys, filled from the database a page at a time while
    the store adds the keys it writes: once :attr:`filled`, "not in" is exact."""

    __slots__ = ("_keys", "after", "filter")

    def __init__(self, count: int, keys: Callable[[tuple[str, str], int], list[tuple[str, str]]]) -> None:
        self.filter = SeenFilter(count)
        self.after: tuple[str, str] | None = ("", "")  # the last key read; None: filled
        self._keys = keys

    @property
    def filled(self) -> bool:
        return self.after is None

    def add(self, key: tuple[str, str]) -> None:
        self.filter.add(key)

    def surely_new(self, key: tuple[str, str]) -> bool:
        return self.after is None and key not in self.filter

    def fill(self, limit: int) -> None:
        """Add up to ``limit`` of the database's keys, a page at a time."""
        after = self.after
        while after is not None and limit > 0:
            asked = min(limit, SEEN_PAGE)
            page = self._keys(after, asked)
            for key in page:
                self.filter.add(key)
            limit -= asked
            after = page[-1] if len(page) == asked else None  # a short page: the last one
        self.after = after


class SeenFilter:
    """A Bloom filter of (session, ClOrdID) keys: "not in" is exact, "in" may be wrong (about 0.2%
    of keys never added), so a hit is confirmed by the database. Why not a set: a set of the keys
    costs about 160 bytes per ClOrdID (160 MB per 1M orders kept in the database); this costs 16
    bits per key with up to 4x headroom (2 to 8 MB per 1M: sized for twice the keys at open,
    rounded up to a power of two), and a lookup takes about 1 us against a 3.4 us SQLite read.

    Sized for ``expected`` keys (at least :data:`SEEN_MIN`); when more are added a layer twice as
    big is started (a lookup probes each layer), so the false-hit rate stays bounded.
    """

    __slots__ = ("_count", "_layers")

    BITS_PER_KEY = 16
    PROBES = 4

    def __init__(self, expected: int = 0) -> None:
        self._layers: list[tuple[bytearray, int, int]] = []  # (bits, mask, capacity)
        self._count = 0
        self._grow(max(SEEN_MIN, 2 * expected))

    def _grow(self, capacity: int) -> None:
        nbits = 1 << max(13, (capacity * self.BITS_PER_KEY - 1).bit_length())  # a power of two: mask
        self._layers.append((bytearray(nbits >> 3), nbits - 1, capacity))
        self._count = 0

    @property
    def nbytes(self) -> int:
        return sum(len(bits) for bits, _, _ in self._layers)

    def add(self, key: tuple[str, str]) -> None:
        bits, mask, capacity = self._layers[-1]
        if self._count >= capacity:
            self._grow(2 * capacity)
            bits, mask, _ = self._layers[-1]
        self._count += 1
        h = hash(key)
        step = (h >> 32) | 1  # double hashing: probes h, h + step, h + 2 step, h + 3 step
        # The PROBES (4) probes written out: a Python loop costs about a third more.
        p = h & mask
        bits[p >> 3] |= 1 << (p & 7)
        p = (h + step) & mask
        bits[p >> 3] |= 1 << (p & 7)
        p = (h + 2 * step) & mask
        bits[p >> 3] |= 1 << (p & 7)
        p = (h + 3 * step) & mask
        bits[p >> 3] |= 1 << (p & 7)

    def __contains__(self, key: object) -> bool:
        h = hash(key)
        step = (h >> 32) | 1
        for bits, mask, _ in self._layers:
            # Most keys asked are new: the first probe usually answers.
            p = h & mask
            if not bits[p >> 3] & (1 << (p & 7)):
                continue
            p = (h + step) & mask
            if not bits[p >> 3] & (1 << (p & 7)):
                continue
            p = (h + 2 * step) & mask
            if not bits[p >> 3] & (1 << (p & 7)):
                continue
            p = (h + 3 * step) & mask
            if bits[p >> 3] & (1 << (p & 7)):
                return True
        return False


def _row(row: OrderRow) -> StoredOrder:
    return StoredOrder(*row)


def _fields(fields: Iterable[Sequence[Any]]) -> tuple[tuple[int, str], ...]:
    return tuple((int(a), str(b)) for a, b in fields)


def _deferred(row: list[Any]) -> DeferredMessage:
    """An outbound row as apply() writes it (``[seq, session, exec_id, handed, msg_type, fields]``)."""
    seq, session, exec_id, handed, msg_type, fields = row
    return DeferredMessage(seq, session, msg_type, _fields(fields), exec_id, bool(handed))


def _answer(answer: Sequence[Any]) -> tuple[str, tuple[tuple[int, str], ...]]:
    return str(answer[0]), _fields(answer[1])


def store_path_of(config: Any) -> Path:
    """Where ``config.gateway.store_path`` points (a GatewayConfig; relative paths are relative to
    the config file)."""
    path = Path(config.gateway.store_path)
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    return path


def open_store(config: Any, *, instance: str | None = None,
               fence: Callable[[Any], None] | None = None) -> Store:
    """The store ``config`` names. ``gateway.store`` set (a PostgreSQL URL, password already
    substituted): the instance's rows in that database (``instance``, default ``default``),
    committed once per loop turn, each batch's transaction first calling ``fence`` with the
    connection (e.g. :func:`gateway.store.lease.fence` with the instance's lease, so that a
    process that lost it commits nothing); :func:`store_path_of` then only names the local
    folder's file for the caller's own files. Otherwise the SQLite file at :func:`store_path_of`,
    with the settings ``gateway.store_fsync`` (each journal write also survives a power loss) and
    ``gateway.store_apply`` (``loop``, the default, or ``thread``: where SQLite is brought up to
    date; with QuickFIX driven from the loop the thread costs more than it saves: it competes for
    the GIL, 11-14 context switches per order against 0.04, bench/order_roundtrip.py).

    Raises :class:`StoreError` when the database cannot be opened (an unreachable server is named
    by host:port, never with its password)."""
    gw = config.gateway
    pg = getattr(gw, "store", None)
    if pg is not None:
        from gateway.store.pg_database import DEFAULT_INSTANCE, PgDatabase  # psycopg only when used

        url, name = pg.url, instance or DEFAULT_INSTANCE
        return Store(store_path_of(config), journal=False,
                     database=lambda: PgDatabase(url, instance=name, fence=fence))
    return Store(store_path_of(config), fsync=bool(getattr(gw, "store_fsync", False)),
                 apply_in_thread=getattr(gw, "store_apply", "loop") == "thread")
