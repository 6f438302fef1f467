"""The store on PostgreSQL (a real throw-away server, tests/pg_server.py): kill -9 while writing in
loop turns, instances sharing one database, the lease fence, an unreachable server, and
``open_store`` choosing the backend from the configuration."""

from __future__ import annotations

import asyncio
import itertools
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from gateway.config.loader import load_config_text
from gateway.store import DuplicateClOrdID, Store, StoreError, open_store
from gateway.store.journal import journal_file
from gateway.store.lease import acquire, fence, release
from gateway.store.orders_store import Decision
from gateway.store.pg_database import PgDatabase

S1 = "FIX.4.4:PLXTRA->CLIENT1"
REPO = Path(__file__).resolve().parents[2]
_names = itertools.count(1)


@pytest.fixture(scope="module")
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_server").create_database("pg_store"))


def _instance() -> str:
    return f"i{next(_names)}"


def _pg_store(url: str, instance: str, tmp_path: Path, **kw: object) -> Store:
    return Store(tmp_path / "gw.sqlite", database=lambda: PgDatabase(url, instance=instance, **kw))  # type: ignore[arg-type]


def _new(s: Store, rid: str, cl: str, decision: Decision | None = None) -> None:
    s.record_new_order(session=S1, request_id=rid, cl_ord_id=cl, account="XS:0001", state="A",
                       data={"cl": cl}, created=1, decision=decision)


# --- kill -9 -------------------------------------------------------------------------------------

_CHILD = """
import asyncio, sys, time
from gateway.store import Store
from gateway.store.orders_store import Decision
from gateway.store.pg_database import PgDatabase

url, instance, path, S1 = sys.argv[1:5]

async def main():
    s = Store(path, database=lambda: PgDatabase(url, instance=instance))
    s.group_commit(asyncio.get_running_loop())
    end = time.monotonic() + 30           # bounded: the parent kills it long before
    i = 0
    while time.monotonic() < end and i < 50_000:
        for _ in range(3):                # three orders per loop turn, one transaction
            rid = s.allocate_request_id()
            d = Decision(S1, f"k{i}", "D", f"c{i}", "accepted", rid)
            s.record_new_order(session=S1, request_id=rid, cl_ord_id=f"c{i}", account="XS:0001",
                               state="A", data={"i": i}, created=i, decision=d)
            (seq,) = s.apply(request_id=rid, cl_ord_id=f"c{i}", order_id=f"o{i}", state="0", working=True,
                             data={"i": i, "cum": "0"}, session=S1, exec_ids=[f"o{i}-0"],
                             outbound=[(S1, f"o{i}-0", True, "8", [(17, f"o{i}-0")])])
            s.after_commit(lambda i=i, rid=rid: print(i, rid, flush=True))
            i += 1
        await asyncio.sleep(0)

asyncio.run(main())
"""


def _check_acknowledged(s: Store, acked: list[tuple[int, str]]) -> None:
    for i, rid in acked:
        o = s.order(rid)
        assert o is not None and (o.cl_ord_id, o.order_id, o.state, o.data) == (
            f"c{i}", f"o{i}", "0", {"i": i, "cum": "0"}), (i, rid)
        assert s.exec_already_sent(S1, f"o{i}-0") and s.is_decided(S1, f"k{i}")


def test_kill_9_while_writing_in_turns_keeps_every_acknowledged_unit(db_url: str, tmp_path: Path) -> None:
    instance = _instance()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, db_url, instance, str(tmp_path / "gw.sqlite"), S1],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + 30
    try:
        # Kill it mid-stream, once a few hundred orders were acknowledged.
        while out.count(b"\n") < 300 and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                out += os.read(proc.stdout.fileno(), 65536)
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -9, err.decode()[-2000:]
    lines = (out + rest).decode().splitlines()
    acked = [(int(a), b) for a, b in (line.split() for line in lines if line.count(" ") == 1)]
    assert len(acked) >= 300
    assert not journal_file(tmp_path / "gw.sqlite").exists()   # no local journal with PostgreSQL

    s = _pg_store(db_url, instance, tmp_path)
    try:
        _check_acknowledged(s, acked)
        # A turn is one transaction: every order in the database has all of its turn's writes.
        with psycopg.connect(db_url) as conn:
            orders = conn.execute("SELECT count(*), count(order_id) FROM orders WHERE instance = %s",
                                  (instance,)).fetchone()
            execs = conn.execute("SELECT count(*) FROM execs WHERE instance = %s", (instance,)).fetchone()
            outbound = conn.execute("SELECT count(*) FROM outbound WHERE instance = %s",
                                    (instance,)).fetchone()
        assert orders is not None and orders[0] == orders[1] >= len(acked)
        assert execs == outbound == (orders[0],)
        assert len(s.deferred_for(S1)) == orders[0]
        assert s.allocate_request_id() not in {rid for _, rid in acked}
    finally:
        s.close()


@pytest.mark.parametrize(("point", "kept"), [("decision-committed", True), ("store-apply-midway", False)])
def test_crash_points_around_the_commit(db_url: str, tmp_path: Path, point: str, kept: bool) -> None:
    """``decision-committed`` (the same moment as with SQLite): after the commit, before any
    after_commit callback: the decision is kept. ``store-apply-midway``: the batch is built and
    not yet sent: nothing of it is in the database, and nothing that waited for it ran."""
    instance = _instance()
    script = textwrap.dedent("""
        import asyncio, sys
        from gateway.store import Store
        from gateway.store.orders_store import Decision
        from gateway.store.pg_database import PgDatabase
        url, instance, path, S1 = sys.argv[1:5]
        async def main():
            s = Store(path, database=lambda: PgDatabase(url, instance=instance))
            s.group_commit(asyncio.get_running_loop())
            s.decide(Decision(S1, "k1", "F", "c1", "rejected", answer=("9", [(58, "no")])))
            s.after_commit(lambda: print("callback ran", flush=True))
            await s.durable()
        asyncio.run(main())
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLXTRA_FIX_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", script, db_url, instance, str(tmp_path / "gw.sqlite"), S1],
                          capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == -9 and proc.stdout == "", proc.stderr
    s = _pg_store(db_url, instance, tmp_path)
    try:
        d = s.decision(S1, "k1")
        if kept:
            assert d is not None and d.outcome == "rejected" and d.answer == ("9", ((58, "no"),))
        else:
            assert d is None and not s.is_decided(S1, "k1")
    finally:
        s.close()


# --- instances -----------------------------------------------------------------------------------

def test_two_instances_on_one_database_do_not_see_each_others_rows(db_url: str, tmp_path: Path) -> None:
    na, nb = _instance(), _instance()
    a, b = _pg_store(db_url, na, tmp_path / "a"), _pg_store(db_url, nb, tmp_path / "b")
    try:
        ra, rb = a.allocate_request_id(), b.allocate_request_id()
        assert ra.split("-")[0] != rb.split("-")[0]        # RequestID namespaces of their own
        _new(a, ra, "c1", Decision(S1, "k1", "D", "c1", "accepted", ra))
        _new(b, rb, "c1")                                 # the same session and ClOrdID: no duplicate
        with pytest.raises(DuplicateClOrdID):
            _new(a, "rx", "c1")
        a.link_order_id(ra, "oid-a")
        (sa,) = a.apply(request_id=ra, cl_ord_id="c1", order_id="oid-a", state="0", working=True, data={},
                        session=S1, exec_ids=["e1"], outbound=[(S1, "e1", True, "8", [(17, "e1")])])
        (sb,) = b.apply(request_id=None, session=S1, exec_ids=["e2"],
                        outbound=[(S1, "e2", True, "8", [(17, "e2")])])
        assert sa == sb == 1                               # each instance numbers its own outbound rows
    finally:
        a.close()
        b.close()
    for _ in range(2):   # as written, then reopened from the database alone
        a, b = _pg_store(db_url, na, tmp_path / "a"), _pg_store(db_url, nb, tmp_path / "b")
        try:
            assert [o.request_id for o in a.working_orders()] == [ra]
            assert [o.request_id for o in b.working_orders()] == [rb]
            assert a.order(rb) is None and b.order(ra) is None
            assert a.order_by_order_id("oid-a") is not None and b.order_by_order_id("oid-a") is None
            assert a.order_by_cl_ord_id(S1, "c1").request_id == ra  # type: ignore[union-attr]
            assert b.order_by_cl_ord_id(S1, "c1").request_id == rb  # type: ignore[union-attr]
            assert a.is_decided(S1, "k1") and not b.is_decided(S1, "k1")
            assert a.exec_already_sent(S1, "e1") and not a.exec_already_sent(S1, "e2")
            assert b.exec_already_sent(S1, "e2") and not b.exec_already_sent(S1, "e1")
            assert [m.fields for m in a.deferred_for(S1)] == [((17, "e1"),)]
            assert [m.fields for m in b.deferred_for(S1)] == [((17, "e2"),)]
            assert [o.request_id for o in a.orders_for_account("XS:0001")] == [ra]
        finally:
            a.close()
            b.close()


def test_a_fence_that_refuses_commits_nothing_and_runs_no_callback(db_url: str, tmp_path: Path) -> None:
    """With the instance's lease as fence, a process that lost the lease cannot commit."""
    instance = _instance()
    with psycopg.connect(db_url, autocommit=True) as admin:
        lease = acquire(admin, instance, "me", 30.0)
        assert lease is not None
        holder = {"lease": lease}

        async def main() -> None:
            s = _pg_store(db_url, instance, tmp_path, fence=lambda conn: fence(conn, holder["lease"]))
            s.group_commit(asyncio.get_running_loop())
            ran: list[str] = []
            _new(s, "r1", "c1")
            s.after_commit(lambda: ran.append("r1"))
            await s.durable()
            assert release(admin, lease)                  # the lease is gone (a standby may take it)
            _new(s, "r2", "c2")
            s.after_commit(lambda: ran.append("r2"))
            with pytest.raises(StoreError):
                await s.durable()
            assert ran == ["r1"]
            s._db.close()   # the process would stop here: no close() that writes

        asyncio.run(main())
        rows = admin.execute("SELECT request_id FROM orders WHERE instance = %s", (instance,)).fetchall()
        assert rows == [("r1",)]


# --- opening -------------------------------------------------------------------------------------

def test_an_unparsable_url_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot reach PostgreSQL") as err:
        Store(tmp_path / "gw.sqlite", database=lambda: PgDatabase("postgresql://u:pw-x9@[::1/db"))
    assert "pw-x9" not in str(err.value)


def test_an_unreachable_server_is_named_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]   # nothing listens once closed
    url = f"postgresql://plxtra:s3cret-pw@127.0.0.1:{port}/gw"
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "gw.sqlite", database=lambda: PgDatabase(url))
    assert f"127.0.0.1:{port}" in str(err.value) and "s3cret-pw" not in str(err.value)


def test_a_wrong_password_is_a_store_error_without_the_password(db_url: str, tmp_path: Path) -> None:
    bad = psycopg.conninfo.make_conninfo(db_url, password="wrong-pw-123")
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "gw.sqlite", database=lambda: PgDatabase(bad))
    assert "wrong-pw-123" not in str(err.value) and "127.0.0.1:" in str(err.value)


def _config(tmp_path: Path, store_line: str, password: str = "") -> object:
    text = (f"gateway:\n{store_line}  store_path: st/gw.sqlite\n"
            "sessions:\n  - name: c1\n    begin_string: FIX.4.4\n    sender_comp_id: PLXTRA\n"
            "    target_comp_id: C1\n    accounts: [\"0001\"]\n")
    return load_config_text(text, base_dir=tmp_path, env={"PGPASSWORD": password})


def test_open_store_chooses_the_backend_from_gateway_store(db_url: str, tmp_path: Path) -> None:
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    line = f"  store: postgresql://{info['user']}:${{PGPASSWORD}}@{info['host']}:{info['port']}/{info['dbname']}\n"
    s = open_store(_config(tmp_path, line, str(info["password"])))
    try:
        _new(s, "r-default", "c-default")
    finally:
        s.close()
    assert not (tmp_path / "st" / "gw.sqlite").exists()   # no SQLite file, no journal
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT instance FROM orders WHERE request_id = 'r-default'").fetchone()
    assert row == ("default",)
    fenced: list[str] = []
    s = open_store(_config(tmp_path, line, str(info["password"])), instance="named",
                   fence=lambda conn: fenced.append(type(conn).__name__))
    try:
        assert s.order("r-default") is None      # another instance's row
        _new(s, "r-named", "c-default")
        assert fenced == ["Connection"]          # the write's transaction called the fence
    finally:
        s.close()
    s = open_store(_config(tmp_path, ""))   # no gateway.store: the SQLite file as before
    try:
        assert s.order("r-default") is None
    finally:
        s.close()
    assert (tmp_path / "st" / "gw.sqlite").exists()


def test_a_second_writer_of_one_instance_is_refused_not_merged(db_url: str, tmp_path: Path) -> None:
    """Two processes writing one instance's rows (no lease in use): the one whose view of the
    applied mark is stale commits nothing."""
    instance = _instance()
    a, b = _pg_store(db_url, instance, tmp_path / "a"), _pg_store(db_url, instance, tmp_path / "b")
    try:
        _new(a, "r1", "c1")
        with pytest.raises(StoreError, match="another process writes"):
            _new(b, "r2", "c2")     # b's view of the mark is the one at its open
        _new(a, "r3", "c3")
        with pytest.raises(StoreError, match="another process writes"):
            _new(b, "r4", "c4")     # and it stays refused (no re-read of the mark)
    finally:
        a.close()
        b._db.close()   # b has units its database refused: a real process would stop here
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT request_id FROM orders WHERE instance = %s ORDER BY 1",
                            (instance,)).fetchall()
    assert [r[0] for r in rows] == ["r1", "r3"]


def test_a_batch_applied_twice_changes_nothing(db_url: str) -> None:
    """store_apply skips units at or below the mark, and each statement tolerates a repeat."""
    import orjson

    db = PgDatabase(db_url, instance=_instance())
    try:
        d = [S1, "k1", "D", "c1", "accepted", "r1", None, 1_700_000_000]
        frames = [(1, orjson.dumps(["N", S1, "r1", "c1", "XS:0001", "A", {"a": 1}, 5, d])),
                  (2, orjson.dumps(["O", [[1, S1, None, False, "8", [[11, "x"]]]]])),
                  (3, orjson.dumps(["A", "r1", "c1", "o1", "2", False, {"a": 2}, S1, ["e1"], [], None]))]
        assert db.apply(frames) == 3
        db._mark = None                     # forget the cached mark: the database's is read again
        assert db.apply(frames) == 3        # every unit at or below the mark: skipped
        # The same units again under new numbers: every statement tolerates the repeat.
        again = [(seq + 3, payload) for seq, payload in frames]
        assert db.apply(again[:2]) == 5
        assert db.order("r1") == ("r1", S1, "XS:0001", "c1", "o1", "2", False, {"a": 2}, 5)
        assert db.clordid(S1, "c1") == (True, "r1") and db.exec_sent(S1, "e1")
        assert [row[0] for row in db.outbound()] == [1] and db.applied_seq() == 5
        assert db.decision(S1, "k1") == ("D", "c1", "accepted", "r1", None)
    finally:
        db.close()
