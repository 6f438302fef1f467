"""Leases of session sets: the rules without a server, then a real PostgreSQL server.

Run as a script (``python test_pg_lease.py child URL NAME TTL``) this file is the child process of
the SIGSTOP test: it holds a lease with a LeaseKeeper and writes fenced rows while it is valid.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.store.lease import (
    Lease,
    LeaseKeeper,
    LeaseLost,
    LeaseRow,
    acquire,
    acquire_async,
    fence,
    fence_async,
    is_expired,
    local_deadline,
    may_acquire,
    read_lease,
    release,
    renew,
    renew_interval,
    renew_refusal,
    wait_and_acquire,
)
from gateway.store.pg_migrate import migrate

T0 = datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC)
_names = itertools.count(1)


def _never() -> float:
    """A clock stuck at 0: the local deadline check always passes, so only the database decides."""
    return 0.0


# -- the rules, no server ---------------------------------------------------------------------------

def test_a_free_or_expired_lease_may_be_taken_and_a_running_term_not() -> None:
    held = LeaseRow("a", "me", 3, T0 + timedelta(seconds=5))
    assert may_acquire(None, T0)
    assert may_acquire(LeaseRow("a", None, 3, None), T0)
    assert not may_acquire(held, T0)                          # nobody, its holder included
    assert may_acquire(held, T0 + timedelta(seconds=5))       # expires_at itself is past the term
    assert is_expired(held, T0 + timedelta(seconds=6)) and not is_expired(held, T0)


def test_only_the_owner_at_its_epoch_may_renew_and_only_before_expiry() -> None:
    row = LeaseRow("a", "me", 3, T0 + timedelta(seconds=5))
    assert renew_refusal(row, "me", 3, T0) is None
    assert "taken over by you at epoch 4" in (renew_refusal(LeaseRow("a", "you", 4, row.expires_at),
                                                            "me", 3, T0) or "")
    assert "taken over" in (renew_refusal(row, "me", 2, T0) or "")          # stale epoch, same owner
    assert "expired" in (renew_refusal(row, "me", 3, T0 + timedelta(seconds=5)) or "")
    assert "released" in (renew_refusal(LeaseRow("a", None, 3, None), "me", 3, T0) or "")
    assert "gone" in (renew_refusal(None, "me", 3, T0) or "")


def test_the_local_deadline_is_before_the_database_expiry_and_renewals_come_three_per_ttl() -> None:
    assert local_deadline(100.0, 3.0, 0.3) == pytest.approx(102.7)
    assert renew_interval(3.0) == pytest.approx(1.0)
    lease = Lease("a", "me", 1, 3.0, T0, deadline=102.7, margin=0.3)
    assert lease.still_valid(102.69) and not lease.still_valid(102.7)


# -- a real server ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def db_url(pg_server) -> str:   # type: ignore[no-untyped-def]
    url = pg_server.create_database("lease_tests")
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.execute("CREATE TABLE lease_writes (name TEXT, owner TEXT, epoch BIGINT, n INT, "
                     "at TIMESTAMPTZ DEFAULT clock_timestamp())")
        conn.commit()
    return url


@pytest.fixture
def name() -> str:
    return f"set{next(_names)}"


def _conn(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def _wait_acquire(conn: psycopg.Connection, name: str, owner: str, ttl: float, limit: float = 5.0) -> Lease:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = acquire(conn, name, owner, ttl)
        if got is not None:
            return got
        time.sleep(0.02)
    raise AssertionError(f"{owner} could not take {name} within {limit} s")


def test_two_owners_race_and_exactly_one_wins(db_url: str, name: str) -> None:
    owners = [f"owner-{i}" for i in range(6)]
    conns = [_conn(db_url) for _ in owners]
    barrier = threading.Barrier(len(owners))
    won: dict[str, Lease | None] = {}

    def race(owner: str, conn: psycopg.Connection) -> None:
        barrier.wait(timeout=10)
        won[owner] = acquire(conn, name, owner, 30.0)

    threads = [threading.Thread(target=race, args=pair) for pair in zip(owners, conns, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    winners = [lease for lease in won.values() if lease is not None]
    assert len(won) == 6 and len(winners) == 1
    assert winners[0].epoch == 1
    row, _ = read_lease(conns[0], name)
    assert row is not None and row.owner == winners[0].owner and row.epoch == 1
    for c in conns:
        c.close()


def test_expiry_hands_the_lease_over_with_a_higher_epoch_and_the_old_owner_cannot_renew(
        db_url: str, name: str) -> None:
    with _conn(db_url) as a, _conn(db_url) as b:
        old = acquire(a, name, "A", 0.4)
        assert old is not None and old.epoch == 1
        assert acquire(b, name, "B", 0.4) is None            # A's term is running
        started = time.monotonic()
        new = _wait_acquire(b, name, "B", 5.0)
        assert new.epoch == 2 and time.monotonic() - started < 2.0
        assert not old.still_valid()                          # A's own clock said stop before B took it
        with pytest.raises(LeaseLost, match="local deadline"):
            renew(a, old)                                     # the local check refuses first...
        with pytest.raises(LeaseLost, match="taken over by B at epoch 2"):
            renew(a, old, clock=_never)                       # ...and the database refuses anyway
        row, _ = read_lease(a, name)
        assert row is not None and (row.owner, row.epoch) == ("B", 2)


def test_a_renew_with_a_stale_epoch_cannot_steal_the_lease_back(db_url: str, name: str) -> None:
    with _conn(db_url) as a, _conn(db_url) as b:
        first = acquire(a, name, "A", 0.2)
        assert first is not None
        second = _wait_acquire(b, name, "B", 5.0)
        row_before, _ = read_lease(a, name)
        stale_same_owner = Lease(name, "B", 1, 5.0, second.expires_at, deadline=1e12, margin=0.0)
        for stale in (first, stale_same_owner):
            with pytest.raises(LeaseLost, match="taken over"):
                renew(a, stale, clock=_never)
        assert not release(a, first)                          # nor release it
        row_after, _ = read_lease(a, name)
        assert row_after == row_before                        # untouched: same owner, epoch, expiry
        assert renew(b, second).epoch == 2                    # and B still renews


def test_a_lapsed_lease_is_lost_even_when_nobody_took_it(db_url: str, name: str) -> None:
    with _conn(db_url) as a:
        lease = acquire(a, name, "A", 0.1)
        assert lease is not None
        time.sleep(0.25)
        with pytest.raises(LeaseLost, match="expired"):
            renew(a, lease, clock=_never)
        again = acquire(a, name, "A", 5.0)                    # a new term, with a new epoch
        assert again is not None and again.epoch == 2


def test_release_lets_a_standby_take_over_at_once(db_url: str, name: str) -> None:
    with _conn(db_url) as a, _conn(db_url) as b:
        held = acquire(a, name, "A", 60.0)
        assert held is not None and acquire(b, name, "B", 60.0) is None
        assert release(a, held)
        taken = acquire(b, name, "B", 60.0)
        assert taken is not None and taken.epoch == 2


def test_the_fence_refuses_a_write_after_a_takeover_and_a_takeover_waits_for_a_write_in_flight(
        db_url: str, name: str) -> None:
    with _conn(db_url) as a, _conn(db_url) as b:
        lease = acquire(a, name, "A", 0.5)
        assert lease is not None
        taken: list[float] = []
        with a.transaction():
            fence(a, lease)                                   # holds the row in KEY SHARE
            a.execute("INSERT INTO lease_writes (name, owner, epoch, n) VALUES (%s, 'A', 1, 1)", (name,))
            thread = threading.Thread(target=lambda: taken.append(
                (_wait_acquire(b, name, "B", 10.0), time.monotonic())[1]))
            thread.start()
            time.sleep(0.8)                                   # well past A's expiry
            assert taken == [], "the standby took the lease while a fenced write was open"
            committed = time.monotonic()
        thread.join(timeout=10)
        assert taken and taken[0] >= committed
        with pytest.raises(LeaseLost, match="fence"), a.transaction():
            fence(a, lease)
            a.execute("INSERT INTO lease_writes (name, owner, epoch, n) VALUES (%s, 'A', 1, 2)", (name,))
        rows = a.execute("SELECT n FROM lease_writes WHERE name = %s", (name,)).fetchall()
        assert rows == [(1,)]


def test_a_renewal_does_not_wait_for_the_owners_own_fenced_write(db_url: str, name: str) -> None:
    """The owner's store commit (fence: KEY SHARE) and its keeper's renewal run in one process; if
    either waited for the other's open transaction, the two could block each other for good."""
    with _conn(db_url) as a, _conn(db_url) as b:
        lease = acquire(a, name, "A", 5.0)
        assert lease is not None
        renewed: list[Lease] = []
        with a.transaction():
            fence(a, lease)                                   # a fenced write in flight
            thread = threading.Thread(target=lambda: renewed.append(renew(b, lease)), daemon=True)
            thread.start()
            thread.join(timeout=3)
            assert renewed, "the renewal waited for the owner's open fenced write"
        assert renewed[0].epoch == lease.epoch


def test_an_owner_stalled_inside_a_fenced_write_holds_up_a_takeover_two_ttl_at_most(
        db_url: str, name: str) -> None:
    """A stopped or cut-off owner inside a fenced write keeps the row in KEY SHARE, which a takeover
    waits for; the fence sets idle_in_transaction_session_timeout to twice the ttl, so the server ends
    that transaction and the standby takes over then, instead of whenever the owner wakes."""
    ttl, stall = 1.0, 8.0
    taken: list[float] = []

    def standby() -> None:
        asyncio.run(wait_and_acquire(db_url, name, "B", ttl))
        taken.append(time.monotonic())

    with _conn(db_url) as a:
        lease = acquire(a, name, "A", ttl)
        assert lease is not None
        thread = threading.Thread(target=standby, daemon=True)
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout), a.transaction():
            fence(a, lease)
            began = time.monotonic()
            thread.start()
            time.sleep(stall)        # the owner stalls with its write open
        thread.join(timeout=10)
    assert taken, "the standby never took over"
    # the server's idle timeout (2 ttl from the fence, past the expiry) + a poll (ttl/3) + slack
    assert taken[0] - began < 2 * ttl + ttl / 3 + 2.5


def test_the_keeper_renews_every_third_of_the_ttl_and_reports_a_takeover(db_url: str, name: str) -> None:
    async def scenario() -> tuple[int, str, bool, list[str]]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            lease = await acquire_async(conn, name, "A", 1.2)
            assert lease is not None
            lost: list[str] = []
            keeper = LeaseKeeper(db_url, lease, on_lost=lost.append)
            task = asyncio.create_task(keeper.run())
            await asyncio.sleep(1.3)
            renewals = keeper.renewals
            assert keeper.still_valid() and not task.done()
            # An operator (or a bug) hands the set to someone else: the next renewal finds out.
            await conn.execute("UPDATE leases SET owner = 'intruder', epoch = epoch + 1 WHERE name = %s",
                               (name,))
            reason = await asyncio.wait_for(task, timeout=3.0)
            return renewals, reason, keeper.still_valid(), lost

    renewals, reason, valid, lost = asyncio.run(scenario())
    assert 2 <= renewals <= 4          # 1.3 s at one renewal per 0.4 s, on a loaded machine
    assert "taken over by intruder" in reason and lost == [reason] and not valid


def test_a_standby_waits_while_the_owner_renews_and_takes_over_within_ttl_plus_poll(
        db_url: str, name: str) -> None:
    ttl = 1.0

    async def scenario() -> tuple[Lease, float, list[LeaseRow | None], int]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            held = await acquire_async(conn, name, "active", ttl)
            assert held is not None
        keeper = LeaseKeeper(db_url, held, on_lost=lambda reason: None)
        renewing = asyncio.create_task(keeper.run())
        seen: list[LeaseRow | None] = []
        standby = asyncio.create_task(wait_and_acquire(db_url, name, "standby", ttl, on_wait=seen.append))
        await asyncio.sleep(2.0)                  # 2 ttl: the active renews, the standby waits
        assert not standby.done()
        renewing.cancel()                         # the active dies (no more renewals)
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        died = time.monotonic()
        got = await asyncio.wait_for(standby, timeout=5)
        return got, time.monotonic() - died, seen, keeper.renewals

    got, waited, seen, renewals = asyncio.run(scenario())
    assert renewals >= 4 and got.owner == "standby" and got.epoch == 2
    assert seen and all(r is not None and r.owner == "active" for r in seen)
    assert waited < ttl + renew_interval(ttl) + 0.5, waited   # the bound wait_and_acquire documents


def test_the_keeper_reports_a_late_renewal_before_sending_anything(name: str) -> None:
    """A process woken past its deadline declares the loss first: here the database address is
    unusable, so any statement would have failed with another reason."""
    now = [100.0]
    lease = Lease(name, "A", 1, 0.3, T0, deadline=local_deadline(100.0, 0.3, 0.03), margin=0.03)
    lost: list[str] = []
    keeper = LeaseKeeper("postgresql://nobody@127.0.0.1:1/none", lease, on_lost=lost.append,
                         clock=lambda: now[0])

    async def scenario() -> str:
        task = asyncio.create_task(keeper.run())
        await asyncio.sleep(0)
        now[0] += 5.0                   # as if the process had been stopped for 5 s
        return await asyncio.wait_for(task, timeout=3.0)

    reason = asyncio.run(scenario())
    assert reason.startswith("renewal late") and lost == [reason] and keeper.renewals == 0


def test_a_stopped_owner_finds_the_lease_lost_on_waking_and_never_renews_over_the_new_owner(
        db_url: str, name: str) -> None:
    """A real child process holds the lease (ttl 1.5 s) and writes fenced rows; it is SIGSTOPped for
    3 s; the parent takes the lease over, then SIGCONTs it and keeps renewing its own term."""
    ttl = 1.5
    repo = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)
    child = subprocess.Popen([sys.executable, __file__, "child", db_url, name, str(ttl)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        _wait_for(lambda: any(x.startswith("renewed") for x in lines), 10.0, lines)
        child.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        with _conn(db_url) as conn:
            mine = _wait_acquire(conn, name, "parent", ttl, limit=5.0)
            assert mine.epoch == 2
            takeover = conn.execute("SELECT acquired_at FROM leases WHERE name = %s", (name,)).fetchone()[0]
            resumed = False
            end = stopped_at + 3.0 + 1.5
            while time.monotonic() < end:                     # the parent's term goes on, renewed
                time.sleep(renew_interval(ttl))
                mine = renew(conn, mine)
                if not resumed and time.monotonic() >= stopped_at + 3.0:
                    child.send_signal(signal.SIGCONT)         # stopped for 3 s, twice the ttl
                    resumed = True
            assert child.wait(timeout=10) == 0
            row, _ = read_lease(conn, name)
            assert row is not None and (row.owner, row.epoch) == ("parent", 2)
            late = conn.execute("SELECT count(*) FROM lease_writes WHERE name = %s AND at >= %s",
                                (name, takeover)).fetchone()[0]
            early = conn.execute("SELECT count(*) FROM lease_writes WHERE name = %s AND at < %s",
                                 (name, takeover)).fetchone()[0]
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
            child.wait(timeout=10)
        reader.join(timeout=10)
    assert early > 0 and late == 0, lines
    lost = [x for x in lines if x.startswith("lost")]
    assert len(lost) == 1 and "renewal late" in lost[0], lines
    # "renewal late": the keeper declared the loss at its check before renewing, and ended there:
    # no renewal after the loss. Writes are judged by the database above (none at or after the
    # takeover).
    at_loss = int(lost[0].rsplit(" ", 2)[-2])
    assert lines[-1] == f"final renewals {at_loss}\n", lines


def _wait_for(cond, limit: float, lines: list[str]) -> None:   # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"child did not get there in {limit} s: {lines}")


# -- the child of the SIGSTOP test --------------------------------------------------------------------

async def _child(url: str, name: str, ttl: float) -> int:
    owner = f"child-{uuid.uuid4().hex[:8]}"
    # A writer stopped inside its transaction would hold the lease row in KEY SHARE and so block the
    # takeover until it wakes: the server ends such a transaction after a bound (ttl / 4 here).
    options = f"-c idle_in_transaction_session_timeout={int(ttl * 250)}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, options=options) as conn:
        lease = await acquire_async(conn, name, owner, ttl)
        if lease is None:
            print("busy")
            return 1
        print(f"acquired {lease.epoch}")
        lost = asyncio.Event()

        def on_lost(reason: str) -> None:
            print(f"lost {reason} after {keeper.renewals} renewals")
            lost.set()

        keeper = LeaseKeeper(url, lease, on_lost=on_lost)
        task = asyncio.create_task(keeper.run())
        seen, n = 0, 0
        deadline = time.monotonic() + 30
        while not lost.is_set() and time.monotonic() < deadline:
            if keeper.renewals != seen:
                seen = keeper.renewals
                print(f"renewed {seen}")
            if keeper.still_valid():   # the owner's rule: check before each write
                n += 1
                try:
                    async with conn.transaction():
                        await fence_async(conn, keeper.lease)
                        await conn.execute("INSERT INTO lease_writes (name, owner, epoch, n) "
                                           "VALUES (%s, %s, %s, %s)", (name, owner, keeper.lease.epoch, n))
                    print(f"wrote {n}")
                except (LeaseLost, psycopg.Error) as exc:
                    print(f"write refused {type(exc).__name__}")
                    if conn.broken:
                        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, options=options)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, timeout=5)
        print(f"final renewals {keeper.renewals}")
        return 0 if lost.is_set() else 2


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "child":
    sys.exit(asyncio.run(_child(sys.argv[2], sys.argv[3], float(sys.argv[4]))))


def test_a_clean_stop_never_hangs_on_a_locked_lease_row(db_url: str, name: str) -> None:
    """A stalled process holding the lease row locked must not hang the holder's stop: release
    gives up after the ttl (the lease then lapses on its own) and says so."""
    ttl = 1.5

    async def scenario() -> tuple[bool, float]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            lease = await acquire_async(conn, name, "A", ttl)
            assert lease is not None
        keeper = LeaseKeeper(db_url, lease, on_lost=lambda reason: None)
        with psycopg.connect(db_url, connect_timeout=10) as stalled:   # a transaction left open
            stalled.execute("SELECT 1 FROM leases WHERE name = %s FOR UPDATE", (name,))
            started = time.monotonic()
            # (the outer bound only turns a regression into a failure instead of a hang)
            released = await asyncio.wait_for(keeper.release(), timeout=ttl + 5.0)
            took = time.monotonic() - started
            stalled.rollback()
        return released, took

    released, took = asyncio.run(scenario())
    assert not released
    assert ttl - 0.1 <= took < ttl + 3.0   # gave up at the ttl instead of waiting for the lock
