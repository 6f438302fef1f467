"""The SQLite store on a real file: intent-named methods, atomic apply, survival of kill -9."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.store import DuplicateClOrdID, Store, StoreError
from gateway.store.journal import encode_block
from gateway.store.orders_store import SEEN_MIN, Decision, SeenFilter

S1 = "FIX.4.4:PLXTRA->CLIENT1"
S2 = "FIX.4.2:PLXTRA->CLIENT2"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "gw.sqlite")
    yield s
    s.close()


def _new(store: Store, rid: str, cl: str, session: str = S1, account: str = "XS:0001") -> None:
    store.record_new_order(
        session=session,
        request_id=rid,
        cl_ord_id=cl,
        account=account,
        state="A",
        data={"rid": rid, "cl": cl},
        created=len(rid),
    )


def test_wal_mode_on_a_real_file(tmp_path: Path, store: Store) -> None:
    assert (tmp_path / "gw.sqlite").exists()
    mode = sqlite3.connect(tmp_path / "gw.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_request_ids_are_unique_and_persist_across_reopen(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.sqlite")
    ids = [s.allocate_request_id() for _ in range(5)]
    s.close()
    s = Store(tmp_path / "a.sqlite")
    more = [s.allocate_request_id() for _ in range(5)]
    s.close()
    assert len(set(ids + more)) == 10
    assert ids[0].split("-")[0] == more[0].split("-")[0]  # same store, same namespace
    # IDs are reserved in blocks: after a reopen they continue beyond every ID handed out before.
    numbers = [int(i.rsplit("-", 1)[1]) for i in ids + more]
    assert numbers[:5] == sorted(numbers[:5]) and min(numbers[5:]) > max(numbers[:5])
    other = Store(tmp_path / "b.sqlite")
    assert other.allocate_request_id().split("-")[0] != ids[0].split("-")[0]  # a new store never reuses
    other.close()


def test_record_new_order_and_lookups(store: Store) -> None:
    _new(store, "r1", "c1")
    assert store.cl_ord_id_used(S1, "c1") and not store.cl_ord_id_used(S2, "c1")
    o = store.order("r1")
    assert o is not None and (o.session, o.cl_ord_id, o.order_id, o.state, o.working) == (
        S1,
        "c1",
        None,
        "A",
        True,
    )
    assert o.data == {"rid": "r1", "cl": "c1"}
    store.link_order_id("r1", "oid-1")
    assert store.order_by_order_id("oid-1").request_id == "r1"  # type: ignore[union-attr]
    assert store.order_by_cl_ord_id(S1, "c1").request_id == "r1"  # type: ignore[union-attr]
    assert store.order_by_cl_ord_id(S2, "c1") is None


def test_duplicate_clordid_is_refused_per_session(store: Store) -> None:
    _new(store, "r1", "c1")
    with pytest.raises(DuplicateClOrdID) as err:
        _new(store, "r2", "c1")
    assert err.value.cl_ord_id == "c1" and err.value.session == S1
    assert isinstance(err.value, StoreError)
    assert store.order("r2") is None  # nothing half-written
    _new(store, "r3", "c1", session=S2)  # another session may use it


def test_clordid_chain(store: Store) -> None:
    _new(store, "r1", "c1")
    store.record_clordid_chain(S1, "c2", "r1", "G")
    store.record_clordid_chain(S1, "c3", "r1", "F")
    assert {store.order_by_cl_ord_id(S1, c).request_id for c in ("c1", "c2", "c3")} == {"r1"}  # type: ignore
    with pytest.raises(DuplicateClOrdID):
        store.record_clordid_chain(S1, "c2", "r1", "G")
    store.record_clordid(S1, "q1", None, "q")
    assert store.cl_ord_id_used(S1, "q1") and store.order_by_cl_ord_id(S1, "q1") is None


def test_exec_ids_once_per_session(store: Store) -> None:
    assert store.mark_exec_sent(S1, "oid-1-F7") is True
    assert store.mark_exec_sent(S1, "oid-1-F7") is False
    assert store.exec_already_sent(S1, "oid-1-F7") and not store.exec_already_sent(S2, "oid-1-F7")


def test_apply_is_one_transaction(store: Store) -> None:
    _new(store, "r1", "c1")
    store.apply(
        request_id="r1",
        cl_ord_id="c2",
        order_id="oid-1",
        state="1",
        working=True,
        data={"cum": "10"},
        session=S1,
        exec_ids=["oid-1-0", "oid-1-F1"],
        deferred=[(S1, "8", [(17, "oid-1-F1")])],
    )
    o = store.order("r1")
    assert o is not None and (o.cl_ord_id, o.order_id, o.state, o.data) == ("c2", "oid-1", "1", {"cum": "10"})
    assert store.exec_already_sent(S1, "oid-1-0") and store.exec_already_sent(S1, "oid-1-F1")
    assert [d.fields for d in store.deferred_for(S1)] == [((17, "oid-1-F1"),)]
    # A failing apply (exec IDs without a session) leaves everything as it was.
    with pytest.raises(StoreError):
        store.apply(
            request_id="r1",
            cl_ord_id="c9",
            order_id="oid-1",
            state="2",
            working=False,
            data={},
            exec_ids=["oid-1-F2"],
        )
    o = store.order("r1")
    assert o is not None and o.state == "1" and o.cl_ord_id == "c2"


def test_working_orders_and_session_listing(store: Store) -> None:
    _new(store, "r1", "c1")
    _new(store, "r22", "c2")
    _new(store, "r333", "c3", session=S2, account="XS:0002")
    store.apply(request_id="r22", cl_ord_id="c2", order_id="o2", state="2", working=False, data={})
    assert [o.request_id for o in store.working_orders()] == ["r1", "r333"]
    assert [o.request_id for o in store.orders_for_session(S1)] == ["r1", "r22"]
    assert [o.request_id for o in store.orders_for_session(S1, working_only=True)] == ["r1"]
    assert [o.request_id for o in store.orders_for_account("XS:0002")] == ["r333"]


def test_deferred_messages_in_order_until_dropped(store: Store) -> None:
    store.defer_message(S1, "8", [(11, "a")])
    store.defer_message(S2, "9", [(11, "b")])
    store.defer_message(S1, "8", [(11, "c")])
    got = store.deferred_for(S1)
    assert [(d.msg_type, d.fields) for d in got] == [("8", ((11, "a"),)), ("8", ((11, "c"),))]
    store.drop_deferred([got[0].seq])
    assert [d.fields for d in store.deferred_for(S1)] == [((11, "c"),)]
    assert len(store.deferred_for(S2)) == 1


def test_reopen_finds_everything(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    s = Store(path)
    _new(s, "r1", "c1")
    s.link_order_id("r1", "oid-1")
    s.mark_exec_sent(S1, "oid-1-0")
    s.defer_message(S1, "8", [(17, "oid-1-0")])
    s.close()
    s = Store(path)
    assert s.order_by_order_id("oid-1") is not None and s.exec_already_sent(S1, "oid-1-0")
    assert s.cl_ord_id_used(S1, "c1") and len(s.deferred_for(S1)) == 1
    s.close()


def test_survives_kill_9_right_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    script = textwrap.dedent(f"""
        import os, signal
        from gateway.store import Store
        s = Store({str(path)!r})
        rid = s.allocate_request_id()
        s.record_new_order(session={S1!r}, request_id=rid, cl_ord_id="c1", account="XS:0001", state="A",
                           data={{"x": 1}}, created=1)
        s.mark_exec_sent({S1!r}, "e1")
        print(rid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == -9, proc.stderr
    rid = proc.stdout.strip()
    s = Store(path)
    o = s.order(rid)
    assert o is not None and o.cl_ord_id == "c1" and s.exec_already_sent(S1, "e1")
    assert s.allocate_request_id() != rid
    s.close()


def test_unopenable_path_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as err:
        Store(blocker / "sub" / "gw.sqlite")
    assert "sub" in str(err.value) or err.value.path is not None


def test_outbound_rows_pending_until_confirmed(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    s = Store(path)
    _new(s, "r1", "c1")
    seqs = s.apply(request_id="r1", cl_ord_id="c1", order_id="o1", state="0", working=True, data={},
                   session=S1, exec_ids=["o1-0"], outbound=[(S1, "o1-0", True, "8", [(17, "o1-0")])])
    held = s.apply(request_id=None, session=S2, exec_ids=["x-8"],
                   outbound=[(S2, "x-8", False, "8", [(17, "x-8")])])
    assert len(seqs) == 1 and len(held) == 1
    (row,) = s.deferred_for(S1)
    assert (row.seq, row.exec_id, row.handed, row.fields) == (seqs[0], "o1-0", True, ((17, "o1-0"),))
    s.confirm_sent(seqs[0])  # buffered: not committed yet
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM outbound").fetchone()[0] == 2
    s.flush()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM outbound").fetchone()[0] == 1
    s.mark_handed(held)
    assert [r.handed for r in s.deferred_for(S2)] == [True]
    s.close()


def test_confirmations_ride_the_next_transaction(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    s = Store(path)
    (seq,) = s.apply(request_id=None, session=S1, exec_ids=["e1"],
                     outbound=[(S1, "e1", True, "8", [(17, "e1")])])
    s.confirm_sent(seq)
    s.record_clordid(S1, "q1", None, "q")  # any commit carries the buffered confirmation
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM outbound").fetchone()[0] == 0
    s.close()


def test_schema_1_deferred_rows_move_to_outbound(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO deferred (session, msg_type, fields) VALUES (?, '8', '[[11, \"old\"]]')", (S1,))
    db.commit()
    db.close()
    s = Store(path)
    (row,) = s.deferred_for(S1)
    assert (row.fields, row.exec_id, row.handed) == (((11, "old"),), None, False)
    s.close()


def _committed_orders(path: Path) -> int:
    """What a restart after kill -9 would see: a store opened on a copy of the files as they are
    now (the SQLite file, its WAL and the store's journal)."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for f in path.parent.iterdir():
            if f.name.startswith(path.name) and not f.name.endswith("-shm"):
                shutil.copyfile(f, Path(tmp) / f.name)
        s = Store(Path(tmp) / path.name)
        try:
            return len(s.orders_for_session(S1))
        finally:
            s.close()


def test_group_commit_one_transaction_per_loop_turn(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "gw.sqlite"

    async def main() -> None:
        s = Store(path)
        s.group_commit(asyncio.get_running_loop())
        events: list[str] = []
        _new(s, "r1", "c1")
        s.after_commit(lambda: events.append(f"sent after commit, visible={_committed_orders(path)}"))
        _new(s, "r2", "c2")
        with pytest.raises(DuplicateClOrdID):  # a failing write undoes only itself
            _new(s, "r3", "c1")
        assert _committed_orders(path) == 0 and events == []  # nothing durable, nothing sent
        assert s.order("r2") is not None  # the loop's own reads see the open group
        await s.durable()
        assert events == ["sent after commit, visible=2"]
        assert s.order("r3") is None
        s.after_commit(lambda: events.append("now"))  # nothing open: runs at once
        assert events[-1] == "now"
        _new(s, "r4", "c4")
        s.close()  # commits the open group
        assert _committed_orders(path) == 3

    asyncio.run(main())


def test_seen_filter_has_no_false_negatives_and_grows(tmp_path: Path) -> None:
    f = SeenFilter(0)  # sized for SEEN_MIN keys: 3x that forces two more layers
    keys = [(S1, f"ORD{i:08d}") for i in range(3 * SEEN_MIN)]
    for key in keys:
        f.add(key)
    assert all(key in f for key in keys)
    others = sum((S1, f"NEW{i:08d}") in f for i in range(20_000))
    assert others < 20_000 * 0.02  # measured about 0.5%: a few database reads, never a wrong answer
    assert f.nbytes <= (1 + 2 + 4) * SEEN_MIN * SeenFilter.BITS_PER_KEY // 8


def test_clordids_of_earlier_runs_are_used_after_restart_and_trim(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    s = Store(path, keep_recent=2, apply_in_thread=False)
    for i in range(20):
        _new(s, f"r{i}", f"c{i}")
    s.record_clordid(S2, "q1", None, "q")
    s.flush()
    s.close()
    s = Store(path, keep_recent=2, apply_in_thread=False)
    try:
        # Read from the database at open: the filter lets none of them through as new.
        assert all(s.cl_ord_id_used(S1, f"c{i}") for i in range(20)) and s.cl_ord_id_used(S2, "q1")
        assert not s.cl_ord_id_used(S2, "c1") and not s.cl_ord_id_used(S1, "q1")
        with pytest.raises(DuplicateClOrdID):
            _new(s, "r99", "c7")
        _new(s, "r20", "c20")
        s.group_commit(None)  # the database catches up; memory keeps 2 entries per index
        _new(s, "r21", "c21")
        _new(s, "r22", "c22")
        assert s.cl_ord_id_used(S1, "c20") and not s.cl_ord_id_used(S1, "c23")
        with pytest.raises(DuplicateClOrdID):
            s.record_clordid(S1, "c20", "r20", "G")
    finally:
        s.close()


def test_a_big_clordid_table_fills_the_filter_on_the_loop_and_is_exact_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.store import orders_store

    path = tmp_path / "gw.sqlite"
    s = Store(path, apply_in_thread=False)
    for i in range(30):
        _new(s, f"r{i}", f"c{i:02d}", session=S1 if i % 2 else S2)
    s.close()
    # 30 keys in the database, 7 read at open, the rest 4 per page on the loop
    monkeypatch.setattr(orders_store, "SEEN_OPEN_KEYS", 7)
    monkeypatch.setattr(orders_store, "SEEN_PAGE", 4)
    s = Store(path, apply_in_thread=False)

    def check() -> None:
        assert all(s.cl_ord_id_used(S1 if i % 2 else S2, f"c{i:02d}") for i in range(30))
        assert not any(s.cl_ord_id_used(S2 if i % 2 else S1, f"c{i:02d}") for i in range(30))

    async def run() -> None:
        s.group_commit(asyncio.get_running_loop())
        assert not s._seen_cl.filled
        check()  # not filled yet: the database answers
        _new(s, "r30", "c30")  # written while filling: memory answers for it (the filter once it leaves)
        for _ in range(200):
            if s._seen_cl.filled:
                break
            await asyncio.sleep(0.01)
        assert s._seen_cl.filled
        check()
        assert s.cl_ord_id_used(S1, "c30") and not s.cl_ord_id_used(S1, "c31")
        s.group_commit(None)

    try:
        asyncio.run(run())
    finally:
        s.close()


def test_new_requests_are_undecided_without_a_database_read_and_old_decisions_are_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision filter (as the ClOrdID one): a request key never decided is answered from
    memory; one decided by an earlier run, or that left memory, is read from the database; while
    the filter fills (on the loop, a page at a time) every miss reads the database."""
    from gateway.store import orders_store

    path = tmp_path / "gw.sqlite"
    s = Store(path, keep_recent=2, apply_in_thread=False)
    for i in range(30):
        rid = f"r{i}"
        decision = Decision(S1, f"k{i:02d}", "D", f"c{i}", "accepted", rid)
        s.record_new_order(session=S1, request_id=rid, cl_ord_id=f"c{i}", account="XS:0001", state="A",
                           data={}, created=i, decision=decision)
    s.decide(Decision(S2, "k99", "D", "x1", "rejected", None, ("8", [(58, "no")])))
    s.close()
    monkeypatch.setattr(orders_store, "SEEN_OPEN_KEYS", 7)
    monkeypatch.setattr(orders_store, "SEEN_PAGE", 4)
    s = Store(path, keep_recent=2, apply_in_thread=False)
    reads: list[str] = []
    s._db.conn.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: reads.append(sql) if "FROM decisions WHERE session" in sql else None)

    def check() -> None:
        assert all(s.is_decided(S1, f"k{i:02d}") for i in range(30)) and s.is_decided(S2, "k99")
        got = s.decision(S2, "k99")
        assert got is not None and got.answer == ("8", ((58, "no"),)) and got.outcome == "rejected"
        assert s.decision(S1, "k07") == Decision(S1, "k07", "D", "c7", "accepted", "r7")
        assert not s.is_decided(S2, "k00") and s.decision(S1, "k30") is None

    async def run() -> None:
        s.group_commit(asyncio.get_running_loop())
        assert not s._seen_dec.filled
        reads.clear()
        check()
        assert any("k30" in r for r in reads)  # not filled: a new key is read from the database
        for _ in range(200):
            if s._seen_dec.filled:
                break
            await asyncio.sleep(0.01)
        assert s._seen_dec.filled
        check()
        reads.clear()
        for i in range(30, 60):  # new requests, decided now: not one database read
            assert s.decision(S1, f"k{i}") is None and not s.is_decided(S1, f"k{i}")
            s.record_new_order(session=S1, request_id=f"r{i}", cl_ord_id=f"c{i}", account="XS:0001",
                               state="A", data={}, created=i,
                               decision=Decision(S1, f"k{i}", "D", f"c{i}", "accepted", f"r{i}"))
            assert s.is_decided(S1, f"k{i}")
        assert reads == []
        s.group_commit(None)
        assert s.is_decided(S1, "k30") and s.decision(S1, "k31") is not None  # left memory: read back
        assert reads

    try:
        asyncio.run(run())
    finally:
        s.close()


def test_commit_first_commits_the_turns_first_event_at_once_and_the_rest_at_its_end(tmp_path: Path) -> None:
    """Store.commit_first: the first event of a loop turn is durable (and its sends leave) at
    once; the events after it in the same turn share one journal write at the turn's end; the
    next turn starts over. One end-of-turn callback per turn, none per event."""
    path = tmp_path / "gw.sqlite"

    async def main() -> None:
        s = Store(path)
        s.group_commit(asyncio.get_running_loop())
        assert s._journal is not None
        writes: list[int] = []
        write = s._journal.write_frames   # the store's one write per commit
        s._journal.write_frames = (  # type: ignore[method-assign]
            lambda frames: (writes.append(len(encode_block(frames))), write(frames))[1])
        sent: list[str] = []
        _new(s, "r1", "c1")
        s.after_commit(lambda: sent.append("r1"))
        s.commit_first()
        assert sent == ["r1"] and len(writes) == 1   # first event: journaled and sent now
        for n in (2, 3):   # a burst in the same turn
            _new(s, f"r{n}", f"c{n}")
            s.after_commit(lambda n=n: sent.append(f"r{n}"))
            s.commit_first()
        assert sent == ["r1"] and len(writes) == 1   # waiting for the end of the turn
        await asyncio.sleep(0)
        assert sent == ["r1", "r2", "r3"] and len(writes) == 2   # one write for both
        _new(s, "r4", "c4")   # the next turn: its first event is committed at once again
        s.after_commit(lambda: sent.append("r4"))
        s.commit_first()
        assert sent[-1] == "r4" and len(writes) == 3
        await asyncio.sleep(0)
        s.commit_first()   # a turn without writes: nothing to write, nothing scheduled for ever
        await asyncio.sleep(0)
        _new(s, "r5", "c5")
        s.after_commit(lambda: sent.append("r5"))
        s.commit_first()
        assert sent[-1] == "r5" and len(writes) == 4
        s.group_commit(None)   # leaving the loop in the middle of a turn...
        s.group_commit(asyncio.get_running_loop())   # ...and coming back: no stale turn state
        _new(s, "r6", "c6")
        s.after_commit(lambda: sent.append("r6"))
        s.commit_first()
        assert sent[-1] == "r6"
        s.close()
        assert _committed_orders(path) == 6

    asyncio.run(main())


def test_confirmations_on_the_loop_ride_the_next_commit_or_the_apply_tick(tmp_path: Path) -> None:
    """A delivery confirmation costs no journal write of its own: the next order's commit carries
    it, and when none comes the apply tick journals it (a crash repeats at most that much)."""
    path = tmp_path / "gw.sqlite"

    async def main() -> None:
        s = Store(path, apply_in_thread=False, apply_every=0.05)
        s.group_commit(asyncio.get_running_loop())
        assert s._journal is not None
        blocks: list[bytes] = []
        write = s._journal.write_frames   # the store's one write per commit
        s._journal.write_frames = (  # type: ignore[method-assign]
            lambda frames: (blocks.append(encode_block(frames)), write(frames))[1])
        (seq,) = s.apply(request_id=None, session=S1, exec_ids=["e1"],
                         outbound=[(S1, "e1", True, "8", [(17, "e1")])])
        s.commit_first()
        assert len(blocks) == 1
        s.confirm_sent(seq)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(blocks) == 1   # no write of its own at the end of the turn
        _new(s, "r1", "c1")
        s.commit_first()
        assert len(blocks) == 2 and b'["X",[' in blocks[1]   # carried by the next commit
        (seq2,) = s.apply(request_id=None, session=S1, exec_ids=["e2"],
                          outbound=[(S1, "e2", True, "8", [(17, "e2")])])
        await asyncio.sleep(0)   # the turn's end commits it
        s.confirm_sent(seq2)
        assert len(blocks) == 3
        for _ in range(100):   # bounded: the tick is 0.05 s away
            if len(blocks) == 4:
                break
            await asyncio.sleep(0.01)
        assert len(blocks) == 4 and b'["X",[' in blocks[3]   # journaled by the apply tick
        for _ in range(100):
            if sqlite3.connect(path).execute("SELECT COUNT(*) FROM outbound").fetchone()[0] == 0:
                break
            await asyncio.sleep(0.01)
        assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM outbound").fetchone()[0] == 0
        s.close()

    asyncio.run(main())


def test_apply_on_the_loop_waits_while_an_answer_is_due_but_not_for_ever(tmp_path: Path) -> None:
    """Store.apply_when_idle: the database's catching up is put off while busy() (a PlaceOrder
    answer is due), by APPLY_WAIT at a time, and runs anyway after APPLY_WAIT_MAX waits."""
    from gateway.store import orders_store

    path = tmp_path / "gw.sqlite"

    def applied() -> int:
        return sqlite3.connect(path).execute("SELECT COUNT(*) FROM orders").fetchone()[0]

    async def wait_for(cond: Callable[[], bool], limit: float) -> float:
        t0 = asyncio.get_running_loop().time()
        for _ in range(int(limit / 0.005)):
            if cond():
                break
            await asyncio.sleep(0.005)
        return asyncio.get_running_loop().time() - t0

    async def main() -> None:
        s = Store(path, apply_in_thread=False, apply_every=0.02)
        s.group_commit(asyncio.get_running_loop())
        busy = [True]
        s.apply_when_idle(lambda: busy[0])
        _new(s, "r1", "c1")
        s.commit_first()
        await asyncio.sleep(0.02 + 3 * orders_store.APPLY_WAIT)
        assert applied() == 0   # due, but an answer is expected
        busy[0] = False
        assert await wait_for(lambda: applied() == 1, 1.0) < 0.5   # idle: applied at the next try
        busy[0] = True   # busy for ever: applied after at most APPLY_WAIT_MAX waits
        _new(s, "r2", "c2")
        s.commit_first()
        await wait_for(lambda: applied() == 2, 2.0)
        assert applied() == 2
        s.apply_when_idle(None)
        s.close()

    asyncio.run(main())


def test_keys_written_join_the_filters_when_they_leave_memory_and_stay_exact(tmp_path: Path) -> None:
    """A new order's write adds nothing to the ClOrdID and decision filters (memory answers for
    its keys); a key joins its filter when it leaves memory (the database holds it, more than
    ``keep_recent`` entries): from then on the filter lets it through to a database read, so no
    written key is ever answered "new", on the loop or after a restart."""
    path = tmp_path / "gw.sqlite"
    s = Store(path, keep_recent=3, apply_in_thread=False)
    reads: list[str] = []
    s._db.conn.set_trace_callback(reads.append)  # type: ignore[attr-defined]

    def order(i: int) -> None:
        s.record_new_order(session=S1, request_id=f"r{i}", cl_ord_id=f"c{i}", account="XS:0001", state="A",
                           data={"i": i}, created=i,
                           decision=Decision(S1, f"k{i}", "D", f"c{i}", "accepted", f"r{i}"))

    async def run() -> None:
        s.group_commit(asyncio.get_running_loop())
        for i in range(10):
            order(i)
        # Written, not applied: in memory only, not (yet) in the filters.
        assert all(s._seen_cl.surely_new((S1, f"c{i}")) for i in range(10))
        assert all(s._seen_dec.surely_new((S1, f"k{i}")) for i in range(10))
        reads.clear()
        assert all(s.cl_ord_id_used(S1, f"c{i}") and s.is_decided(S1, f"k{i}") for i in range(10))
        assert not s.cl_ord_id_used(S1, "c10") and s.decision(S1, "k10") is None
        assert not [r for r in reads if "clordids" in r or "decisions" in r]  # memory and filters
        with pytest.raises(DuplicateClOrdID):
            order(3)
        s.group_commit(None)  # the database catches up: all but the 3 newest leave memory
        left = [i for i in range(10) if (S1, f"c{i}") not in s._clordids.items]
        assert left == list(range(7))
        assert not any(s._seen_cl.surely_new((S1, f"c{i}")) for i in left)
        assert not any(s._seen_dec.surely_new((S1, f"k{i}")) for i in left)
        reads.clear()
        assert all(s.cl_ord_id_used(S1, f"c{i}") and s.is_decided(S1, f"k{i}") for i in range(10))
        assert reads  # the keys that left memory: confirmed by the database
        got = s.decision(S1, "k0")
        assert got is not None and got.request_id == "r0"
        with pytest.raises(DuplicateClOrdID):
            order(0)

    try:
        asyncio.run(run())
    finally:
        s.close()
    s = Store(path, keep_recent=3, apply_in_thread=False)
    try:
        assert all(s.cl_ord_id_used(S1, f"c{i}") and s.is_decided(S1, f"k{i}") for i in range(10))
        assert not s.cl_ord_id_used(S1, "c10") and not s.is_decided(S1, "k10")
    finally:
        s.close()


def test_store_records_compare_and_hash_by_value() -> None:
    """StoredOrder, Decision and DeferredMessage are no longer frozen (a frozen __init__ costs a
    setattr per field on every order write): still equal and hashable by value, and ``replace``
    makes the changed copy without touching the original."""
    from dataclasses import replace

    from gateway.store.orders_store import DeferredMessage, StoredOrder

    d1 = Decision(S1, "k1", "D", "c1", "rejected", None, ("8", ((58, "no"),)))
    d2 = Decision(S1, "k1", "D", "c1", "rejected", None, ("8", ((58, "no"),)))
    o1 = StoredOrder("r1", S1, "XS:0001", "c1", None, "A", True, {"i": 1}, 5)
    m1 = DeferredMessage(1, S1, "8", ((17, "e1"),), "e1", True)
    assert d1 == d2 and hash(d1) == hash(d2) and len({d1, d2}) == 1
    assert hash(m1) == hash(DeferredMessage(1, S1, "8", ((17, "e1"),), "e1", True))
    o2 = replace(o1, state="0", order_id="o1")
    assert (o1.state, o1.order_id, o2.state, o2.order_id) == ("A", None, "0", "o1") and o1 != o2
