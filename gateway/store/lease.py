"""Leases of session sets in PostgreSQL: at most one gateway instance serves a set at a time.

A lease is one row of ``leases`` per session set (the instance name): ``owner`` (a process's
unique id), ``epoch`` (the fencing token: +1 at every change of owner) and ``expires_at``. Every
time is the database's ``now()``, never a gateway's clock, so gateways on hosts whose clocks
disagree still agree on expiry. The rules (the I/O-free functions below, tested without a server):

* **Acquire** only a free or expired lease; the taker gets ``epoch + 1``.
* **Renew** only while the row still names you with the same epoch and has not expired; anything
  else means you have LOST the lease (taken over, released, or it lapsed even if nobody took it yet)
  and must stop serving the set at once: a lapsed term is never resumed, a new term is a new acquire
  with a new epoch, after which the holder reconciles like any new owner.
* **Locally**, the holder never trusts a lease past ``sent_at + ttl - margin`` on its own monotonic
  clock, where ``sent_at`` is when it sent the acquire or renew that granted it. The database set
  ``expires_at = now() + ttl`` with a ``now()`` later than ``sent_at``, so the local deadline comes
  first: a holder that checks :meth:`Lease.still_valid` before each write cannot write after a
  standby could have taken over, even if it was stopped (SIGSTOP, a long GC pause, a VM freeze)
  for longer than the ttl: on waking, its deadline has passed.
* **Fence** each write transaction with :func:`fence` (or :func:`fence_async`): it checks the row
  under ``FOR KEY SHARE``, so a takeover waits for the write to commit, and a write after a
  takeover fails (:class:`LeaseLost`). The deadline check avoids the work; the fence makes it safe.
  A writer stalled inside such a transaction would hold up the takeover until it wakes, so the
  fence sets ``idle_in_transaction_session_timeout`` to twice the ttl for its transaction (the
  server then aborts the stalled transaction and frees the row).

The SQL is a few statements in :func:`_acquire_steps` / :func:`_renew_steps` / :func:`_release_steps`,
generators that yield ``(sql, params)`` and receive the first row back; :func:`_run_sync` and
:func:`_run_async` drive the same steps in one transaction on a psycopg ``Connection`` (start-up,
threads) or ``AsyncConnection`` (the loop). :class:`LeaseKeeper` is the renewal driver for
asyncio: renew every ttl/3; on a late or failed renewal it reports the loss before anything else.

Driver: psycopg 3, which has both a sync API (short statements, or a thread, plus pipeline mode,
COPY and LISTEN/NOTIFY) and an asyncio API over one implementation, so the store and the lease
keeper share one driver; asyncpg is asyncio-only and has no sync API for start-up code and tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store.errors import StoreError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Lease",
    "LeaseError",
    "LeaseKeeper",
    "LeaseLost",
    "LeaseRow",
    "acquire",
    "acquire_async",
    "default_margin",
    "fence",
    "fence_async",
    "is_expired",
    "local_deadline",
    "may_acquire",
    "read_lease",
    "release",
    "release_async",
    "renew",
    "renew_async",
    "renew_interval",
    "renew_refusal",
    "wait_and_acquire",
]

log = logging.getLogger("gateway.store.lease")
T = TypeVar("T")
Query = tuple[str, tuple[Any, ...]]
Steps = Generator[Query, "tuple[Any, ...] | None", T]


class LeaseError(StoreError):
    """A lease statement could not run (database unreachable, misuse)."""


class LeaseLost(LeaseError):
    """The caller no longer holds the lease: stop serving its sessions now. ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"lease {name!r} lost: {reason}")
        self.name = name
        self.reason = reason


# -- the decisions (no I/O) ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LeaseRow:
    """A ``leases`` row as read (``owner`` None: free)."""

    name: str
    owner: str | None
    epoch: int
    expires_at: datetime | None


def is_expired(row: LeaseRow, db_now: datetime) -> bool:
    """Free, or its term ended at or before ``db_now`` (the database's clock)."""
    return row.owner is None or row.expires_at is None or row.expires_at <= db_now


def may_acquire(row: LeaseRow | None, db_now: datetime) -> bool:
    """Only a free or expired lease may be taken, by anyone (its last owner included: a new term,
    a new epoch; a running term is never taken, not even by its holder)."""
    return row is None or is_expired(row, db_now)


def renew_refusal(row: LeaseRow | None, owner: str, epoch: int, db_now: datetime) -> str | None:
    """None when ``owner`` at ``epoch`` may renew; otherwise why the lease is lost."""
    if row is None:
        return "the lease row is gone"
    if row.owner is None:
        return f"released (epoch {row.epoch})"
    if row.owner != owner or row.epoch != epoch:
        return f"taken over by {row.owner} at epoch {row.epoch} (ours was {epoch})"
    if is_expired(row, db_now):
        return (f"expired at {row.expires_at:%H:%M:%S.%f} (database time {db_now:%H:%M:%S.%f}): "
                "not renewed in time")
    return None


def local_deadline(sent_at: float, ttl: float, margin: float) -> float:
    """Until when (monotonic) a grant sent at ``sent_at`` may be trusted: ``sent_at + ttl - margin``."""
    return sent_at + ttl - margin


def renew_interval(ttl: float) -> float:
    """Renew every third of the ttl: two renewals may fail or be slow before the lease lapses."""
    return ttl / 3


def default_margin(ttl: float) -> float:
    """Slack against clock-rate differences and scheduling: a tenth of the ttl, at most 0.5 s."""
    return min(0.5, ttl / 10)


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: what a grant (acquire or renew) said, and the local deadline it gives."""

    name: str
    owner: str
    epoch: int
    ttl: float
    expires_at: datetime        # database time, for logs and operators
    deadline: float             # monotonic: trust the lease strictly before this
    margin: float

    def still_valid(self, now: float | None = None) -> bool:
        """Check before every write: False means stop; the lease may already be someone else's."""
        return (time.monotonic() if now is None else now) < self.deadline


# -- the statements --------------------------------------------------------------------------------

_SELECT = ("SELECT name, owner, epoch, expires_at, now() FROM leases WHERE name = %s FOR UPDATE")
# A renewal only moves expires_at (no key column): FOR NO KEY UPDATE does not conflict with the
# owner's own fenced writes (FOR KEY SHARE). With FOR UPDATE, the owner's store commit (blocking, on
# the loop) waited for its keeper's renewal transaction, whose second statement needed that loop:
# both stuck for good, and a standby's acquire queued behind them (seen in bench/fault_trials.py
# --failover and bench/instances.py; tests/store/test_pg_lease_renew_fence.py, test_pg_lease.py).
# An acquire keeps FOR UPDATE: a takeover must wait for a fenced write in flight.
_SELECT_RENEW = ("SELECT name, owner, epoch, expires_at, now() FROM leases WHERE name = %s "
                 "FOR NO KEY UPDATE")


def _row(values: tuple[Any, ...] | None) -> tuple[LeaseRow | None, datetime]:
    if values is None:
        raise LeaseError("lease row vanished inside its own transaction")
    name, owner, epoch, expires_at, db_now = values
    return LeaseRow(name, owner, int(epoch), expires_at), db_now


def _idle_ms(ttl: float) -> str:
    """How long (ms) a lease or fenced transaction may sit idle: twice the ttl (see _FENCE)."""
    return str(max(1, round(2 * ttl * 1000)))


def _idle_bound(ttl: float) -> Query:
    """First statement of a lease transaction: a process stopped between its statements (they are
    awaited on an event loop) must not keep the row locked for longer than twice the ttl."""
    return ("SELECT set_config('idle_in_transaction_session_timeout', %s, true)", (_idle_ms(ttl),))


def _acquire_steps(name: str, owner: str, ttl: float) -> Steps[tuple[int, datetime] | None]:
    yield _idle_bound(ttl)
    # The row exists once and for all, so racing acquirers meet on its row lock (FOR UPDATE):
    # the second one sees the first one's term and backs off.
    yield ("INSERT INTO leases (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (name,))
    row, db_now = _row((yield (_SELECT, (name,))))
    if not may_acquire(row, db_now):
        return None
    got = yield ("UPDATE leases SET owner = %s, epoch = epoch + 1, "
                 "expires_at = now() + make_interval(secs => %s), acquired_at = now(), renewed_at = now() "
                 "WHERE name = %s RETURNING epoch, expires_at",
                 (owner, ttl, name))
    assert got is not None
    return int(got[0]), got[1]


def _renew_steps(lease: Lease) -> Steps[datetime]:
    yield _idle_bound(lease.ttl)
    row, db_now = _row((yield (_SELECT_RENEW, (lease.name,))))
    refusal = renew_refusal(row, lease.owner, lease.epoch, db_now)
    if refusal is not None:
        raise LeaseLost(lease.name, refusal)
    got = yield ("UPDATE leases SET expires_at = now() + make_interval(secs => %s), renewed_at = now() "
                 "WHERE name = %s RETURNING expires_at", (lease.ttl, lease.name))
    assert got is not None
    expires_at: datetime = got[0]
    return expires_at


def _release_steps(lease: Lease) -> Steps[bool]:
    got = yield ("UPDATE leases SET owner = NULL, expires_at = NULL WHERE name = %s AND owner = %s "
                 "AND epoch = %s RETURNING epoch", (lease.name, lease.owner, lease.epoch))
    return got is not None


# The fence also bounds how long its transaction may sit idle (set_config(..., true): this transaction
# only): an owner stopped or cut off inside a fenced write would otherwise hold the row in KEY SHARE,
# and so hold up a takeover, until it woke or TCP gave up. Twice the ttl: far longer than a healthy
# commit's gap between statements, and an owner stalled that long is past its local deadline.
_FENCE = ("SELECT set_config('idle_in_transaction_session_timeout', %s, true) FROM leases "
          "WHERE name = %s AND owner = %s AND epoch = %s AND expires_at > now() FOR KEY SHARE")


def _fence_params(lease: Lease) -> tuple[str, str, str, int]:
    return (_idle_ms(lease.ttl), lease.name, lease.owner, lease.epoch)


def _check_idle(conn: Any) -> None:
    import psycopg

    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise LeaseError("lease statements need a connection with no open transaction "
                         "(their commit must not wait for the caller's)")


def _run_sync(conn: psycopg.Connection, steps: Steps[T]) -> T:
    import psycopg

    _check_idle(conn)
    try:
        with conn.transaction():
            query = next(steps)
            while True:
                cur = conn.execute(*query)
                row = cur.fetchone() if cur.description is not None else None
                try:
                    query = steps.send(row)
                except StopIteration as done:   # inside the block: the transaction commits
                    result: T = done.value
                    return result
    except psycopg.Error as exc:
        raise LeaseError(f"lease statement failed: {exc}") from exc


async def _run_async(conn: psycopg.AsyncConnection, steps: Steps[T]) -> T:
    import psycopg

    _check_idle(conn)
    try:
        async with conn.transaction():
            query = next(steps)
            while True:
                cur = await conn.execute(*query)
                row = await cur.fetchone() if cur.description is not None else None
                try:
                    query = steps.send(row)
                except StopIteration as done:
                    result: T = done.value
                    return result
    except psycopg.Error as exc:
        raise LeaseError(f"lease statement failed: {exc}") from exc


def _granted(name: str, owner: str, ttl: float, margin: float | None, sent_at: float,
             got: tuple[int, datetime] | None) -> Lease | None:
    if got is None:
        return None
    m = default_margin(ttl) if margin is None else margin
    return Lease(name, owner, got[0], ttl, got[1], local_deadline(sent_at, ttl, m), m)


def _check_ttl(ttl: float) -> None:
    if not ttl > 0:
        raise ValueError(f"lease ttl must be > 0 seconds, got {ttl}")


# -- sync API (start-up, tools, threads) ---------------------------------------------------------

def acquire(conn: psycopg.Connection, name: str, owner: str, ttl: float, *, margin: float | None = None,
            clock: Callable[[], float] = time.monotonic) -> Lease | None:
    """Take the lease if it is free or expired; None when someone holds it (try again later)."""
    _check_ttl(ttl)
    sent_at = clock()
    return _granted(name, owner, ttl, margin, sent_at, _run_sync(conn, _acquire_steps(name, owner, ttl)))


def renew(conn: psycopg.Connection, lease: Lease, *, clock: Callable[[], float] = time.monotonic) -> Lease:
    """Extend the term; raises :class:`LeaseLost` when it is no longer ours (stop serving at once)."""
    if not lease.still_valid(clock()):
        raise LeaseLost(lease.name, "the local deadline passed before the renewal was sent")
    sent_at = clock()
    expires_at = _run_sync(conn, _renew_steps(lease))
    return replace(lease, expires_at=expires_at, deadline=local_deadline(sent_at, lease.ttl, lease.margin))


def release(conn: psycopg.Connection, lease: Lease) -> bool:
    """Give the lease up (clean stop: a standby need not wait for the expiry); False if not ours."""
    return _run_sync(conn, _release_steps(lease))


def read_lease(conn: psycopg.Connection, name: str) -> tuple[LeaseRow | None, datetime]:
    """The row as it is now (no lock), with the database time, for logs and the standby's wait."""
    cur = conn.execute("SELECT name, owner, epoch, expires_at, now() FROM leases WHERE name = %s", (name,))
    got = cur.fetchone()
    if got is None:
        db_now = conn.execute("SELECT now()").fetchone()
        assert db_now is not None
        return None, db_now[0]
    return _row(got)


def fence(conn: psycopg.Connection, lease: Lease) -> None:
    """Inside the caller's write transaction: raise :class:`LeaseLost` unless the lease is still ours.

    Holding the row in KEY SHARE until the caller commits makes a takeover wait for this write.
    """
    if conn.execute(_FENCE, _fence_params(lease)).fetchone() is None:
        raise LeaseLost(lease.name, f"fence: epoch {lease.epoch} is no longer the valid term")


# -- asyncio API --------------------------------------------------------------------------------------

async def acquire_async(conn: psycopg.AsyncConnection, name: str, owner: str, ttl: float, *,
                        margin: float | None = None,
                        clock: Callable[[], float] = time.monotonic) -> Lease | None:
    _check_ttl(ttl)
    sent_at = clock()
    got = await _run_async(conn, _acquire_steps(name, owner, ttl))
    return _granted(name, owner, ttl, margin, sent_at, got)


async def renew_async(conn: psycopg.AsyncConnection, lease: Lease, *,
                      clock: Callable[[], float] = time.monotonic) -> Lease:
    if not lease.still_valid(clock()):
        raise LeaseLost(lease.name, "the local deadline passed before the renewal was sent")
    sent_at = clock()
    expires_at = await _run_async(conn, _renew_steps(lease))
    return replace(lease, expires_at=expires_at, deadline=local_deadline(sent_at, lease.ttl, lease.margin))


async def release_async(conn: psycopg.AsyncConnection, lease: Lease) -> bool:
    return await _run_async(conn, _release_steps(lease))


async def fence_async(conn: psycopg.AsyncConnection, lease: Lease) -> None:
    cur = await conn.execute(_FENCE, _fence_params(lease))
    if await cur.fetchone() is None:
        raise LeaseLost(lease.name, f"fence: epoch {lease.epoch} is no longer the valid term")


async def wait_and_acquire(conninfo: str, name: str, owner: str, ttl: float, *, poll: float | None = None,
                           margin: float | None = None,
                           on_wait: Callable[[LeaseRow | None], None] | None = None) -> Lease:
    """The standby's wait: try every ``poll`` seconds (default ttl/3) until the lease is free or
    expired, then return it. ``on_wait(row)`` is told who holds it at each refused try (for a log
    line). Database errors are retried; cancel the task to stop waiting.

    A takeover thus happens between ``ttl`` and ``ttl + poll`` (plus one round trip) after the
    holder's last renewal; a released lease is taken at the next try.
    """
    import psycopg

    _check_ttl(ttl)
    interval = renew_interval(ttl) if poll is None else poll
    conn: psycopg.AsyncConnection | None = None
    try:
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                got = await acquire_async(conn, name, owner, ttl, margin=margin)
                if got is not None:
                    return got
                if on_wait is not None:
                    cur = await conn.execute("SELECT name, owner, epoch, expires_at, now() FROM leases "
                                             "WHERE name = %s", (name,))
                    row = await cur.fetchone()
                    on_wait(_row(row)[0] if row is not None else None)
            except (psycopg.Error, LeaseError) as exc:
                log.warning("lease %s: standby could not try (%s); retrying", name, exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
            await asyncio.sleep(interval)
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class LeaseKeeper:
    """Renews a held lease on the asyncio loop every ttl/3 until it is lost or :meth:`close`\\ d.

    ``on_lost(reason)`` is called once, on the loop, as the very first thing after the keeper
    learns of the loss (before any other statement, log line or retry): the caller stops serving
    the set there. Loss is: the renewal refused (taken over, released, lapsed), or no successful
    renewal before the local deadline (database unreachable, or this process was stopped or
    starved past it). The owner must also check :meth:`still_valid` before each write.

    The keeper owns its connection (``conninfo``), separate from the store's, so a long store
    transaction never delays a renewal; it reconnects while the deadline allows.
    """

    def __init__(self, conninfo: str, lease: Lease, *, on_lost: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conninfo = conninfo
        self._lease = lease
        self._on_lost = on_lost
        self._clock = clock
        self._lost: str | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self.renewals = 0

    @property
    def lease(self) -> Lease:
        return self._lease

    @property
    def lost(self) -> str | None:
        """Why the lease was lost, or None while held."""
        return self._lost

    def still_valid(self) -> bool:
        return self._lost is None and self._lease.still_valid(self._clock())

    def _lose(self, reason: str) -> str:
        if self._lost is None:
            self._lost = reason
            self._on_lost(reason)   # first: nothing else happens before the owner knows
            log.warning("lease %s (epoch %d) lost: %s", self._lease.name, self._lease.epoch, reason)
        return self._lost

    async def run(self) -> str:
        """Renew until lost; returns the reason. Cancel it (or :meth:`close`) to stop renewing."""
        next_at = self._clock() + renew_interval(self._lease.ttl)
        retry = min(0.2, self._lease.ttl / 10)
        try:
            while True:
                await asyncio.sleep(max(0.0, next_at - self._clock()))
                now = self._clock()
                if not self._lease.still_valid(now):
                    late = now - self._lease.deadline
                    return self._lose(f"renewal late: the local deadline passed {late:.3f} s ago "
                                      "(process stopped or starved?)")
                try:
                    renewed = await asyncio.wait_for(self._renew(), timeout=self._lease.deadline - now)
                except LeaseLost as exc:
                    return self._lose(exc.reason)
                except TimeoutError:
                    return self._lose("no renewal completed before the local deadline")
                except (LeaseError, OSError) as exc:
                    await self._drop_connection()
                    if not self._lease.still_valid(self._clock()):
                        return self._lose(f"database unreachable until the local deadline: {exc}")
                    log.warning("lease %s renewal failed, retrying: %s", self._lease.name, exc)
                    next_at = self._clock() + retry
                    continue
                if not renewed.still_valid(self._clock()):   # the answer came too late to trust
                    return self._lose("the renewal's answer arrived after its own deadline")
                self._lease = renewed
                self.renewals += 1
                next_at = self._clock() + renew_interval(renewed.ttl)
        finally:
            await self._drop_connection()

    async def _renew(self) -> Lease:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except psycopg.Error as exc:
                raise LeaseError(f"cannot connect: {exc}") from exc
        return await renew_async(self._conn, self._lease, clock=self._clock)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def release(self) -> bool:
        """Clean stop: release the lease (only if still ours) so a standby takes over at once."""
        import psycopg

        if self._lost is not None:
            return False
        self._lost = "released"

        async def release() -> bool:
            async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True,
                                                             connect_timeout=10) as conn:
                return await release_async(conn, self._lease)

        # Bounded: a stop must never hang on the database (a row lock held by a stalled process, a
        # server that stopped answering); a lease not released lapses after its ttl anyway.
        try:
            return await asyncio.wait_for(release(), timeout=max(1.0, self._lease.ttl))
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("lease %s not released (it will expire): %s", self._lease.name,
                        exc or type(exc).__name__)
            return False
