"""A renewal in progress must not block its own holder's fenced writes (real PostgreSQL).

The lease keeper renews on the loop's async connection in two statements (read the row, extend it),
with an await between them; the store fences each commit on the same loop with a synchronous
``SELECT ... FOR KEY SHARE``. When the renewal locked the row FOR UPDATE, a commit that came while
the keeper was suspended between its statements waited for the keeper, which waited for the loop:
the gateway hung for good (bench/instances.py, 3 of 3 two-instance runs with a 10 s ttl). These
tests hold a renewal at exactly that point and check both sides of the row lock it takes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from gateway.store.lease import _renew_steps, acquire, fence
from gateway.store.pg_migrate import migrate


@pytest.fixture(scope="module")
def db_url(pg_server) -> str:   # type: ignore[no-untyped-def]
    url: str = pg_server.create_database("lease_renew_fence")
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    return url


@pytest.fixture
def conns(db_url: str) -> Iterator[list[psycopg.Connection]]:
    opened = [psycopg.connect(db_url, connect_timeout=10) for _ in range(3)]
    for conn in opened:
        conn.execute("SET lock_timeout = '2s'")   # a regression fails in 2 s instead of hanging
        conn.commit()
    yield opened
    for conn in opened:
        conn.close()


def test_a_suspended_renewal_does_not_block_the_holders_fence_and_still_excludes_a_takeover(
        conns: list[psycopg.Connection]) -> None:
    keeper, store, other = conns
    name = f"renew-{uuid.uuid4().hex[:8]}"
    keeper.autocommit = True
    lease = acquire(keeper, name, "holder", 30.0)
    assert lease is not None
    keeper.autocommit = False

    # The keeper's renewal, stopped between its two statements (an await on the loop).
    steps = _renew_steps(lease)
    query = next(steps)
    while "FROM leases" not in query[0]:   # the transaction's settings first (its idle bound)
        query = steps.send(keeper.execute(*query).fetchone())
    row = keeper.execute(*query).fetchone()

    # The holder's store commits meanwhile: its fence must go through at once.
    fence(store, lease)
    store.commit()

    # A takeover still meets the renewal's row lock (it must wait for the renewal to end).
    other.execute("SET lock_timeout = '200ms'")
    with pytest.raises(psycopg.errors.LockNotAvailable):
        other.execute("SELECT 1 FROM leases WHERE name = %s FOR UPDATE", (name,))
    other.rollback()

    # The renewal completes as before and extends the term.
    update = steps.send(row)
    got = keeper.execute(*update).fetchone()
    with pytest.raises(StopIteration) as done:
        steps.send(got)
    keeper.commit()
    assert done.value.value >= lease.expires_at   # the new expiry
