"""The store's write-ahead journal on real files: kill -9 at each stage (journal written, database
batch half applied, torn tail), then a reopened store answers every public read as the
acknowledged state; done orders leave memory within the bound; the apply thread."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.store import DuplicateClOrdID, Store
from gateway.store.journal import Journal, encode_block, encode_frame, journal_file, read_frames
from gateway.store.orders_store import Decision, StoredOrder

S1 = "FIX.4.4:PLXTRA->CLIENT1"
S2 = "FIX.4.2:PLXTRA->CLIENT2"
REPO = Path(__file__).resolve().parents[2]

# One order's life as the orders service writes it, i = 0..n-1: D accepted (decision), linked,
# New report, then (odd i) filled and done; every third New report confirmed sent; G on i % 4 == 1;
# a rejected request and a held message for S2 on i % 5 == 0.
_WORKLOAD = """
import asyncio, json, os, signal, sys
from gateway.store import Store
from gateway.store.orders_store import Decision

S1, S2 = {S1!r}, {S2!r}

def one(s, i):
    rid = s.allocate_request_id()
    s.record_new_order(session=S1, request_id=rid, cl_ord_id=f"c{{i}}", account="XS:000" + str(1 + i % 2),
                       state="A", data={{"i": i, "px": "4.00"}}, created=1000 + i,
                       decision=Decision(S1, f"k{{i}}", "D", f"c{{i}}", "accepted", rid))
    s.link_order_id(rid, f"o{{i}}")
    (seq,) = s.apply(request_id=rid, cl_ord_id=f"c{{i}}", order_id=f"o{{i}}", state="0", working=True,
                     data={{"i": i, "cum": "0"}}, session=S1, exec_ids=[f"o{{i}}-0"],
                     outbound=[(S1, f"o{{i}}-0", True, "8", [(17, f"o{{i}}-0"), (150, "0")])])
    if i % 3 == 0:
        s.confirm_sent(seq)
    if i % 2:
        s.apply(request_id=rid, cl_ord_id=f"c{{i}}", order_id=f"o{{i}}", state="2", working=False,
                data={{"i": i, "cum": "10"}}, session=S1, exec_ids=[f"o{{i}}-F1"])
        s.mark_exec_sent(S1, f"o{{i}}-F1-copy")
    if i % 4 == 1:
        s.record_clordid_chain(S1, f"g{{i}}", rid, "G",
                               Decision(S1, f"kg{{i}}", "G", f"g{{i}}", "accepted", rid))
    if i % 5 == 0:
        s.decide(Decision(S1, f"kr{{i}}", "F", f"r{{i}}", "rejected",
                          answer=("9", [(11, f"r{{i}}"), (58, "too late")])))
        s.defer_message(S2, "8", [(17, f"held{{i}}")])
    return rid
"""


def _child(path: Path, body: str, *, n: int, env: dict[str, str] | None = None,
           **store_kw: Any) -> tuple[int, list[str]]:
    """Run the workload in a child process that ends with SIGKILL; (exit code, acknowledged lines)."""
    script = _WORKLOAD.format(S1=S1, S2=S2) + textwrap.dedent(f"""
        async def main():
            s = Store({str(path)!r}, **{store_kw!r})
            s.group_commit(asyncio.get_running_loop())
            n = {n}
        """) + textwrap.indent(textwrap.dedent(body), "    ") + textwrap.dedent("""
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    return proc.returncode, proc.stdout.split() if proc.returncode == -9 else [proc.stderr]


# Each order in its own loop turns; a line is printed once its writes are durable (acknowledged).
_ACK_EACH = """
for i in range(n):
    one(s, i)
    await s.durable()
    print(i, flush=True)
"""


def _db_count(path: Path, sql: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def _workload() -> Any:
    """The workload's ``one(store, i)`` in this process."""
    ns: dict[str, Any] = {}
    exec(_WORKLOAD.format(S1=S1, S2=S2), ns)  # the workload text is this module's own constant
    return ns["one"]


def _view(s: Store, n: int) -> dict[str, Any]:
    """Every public read of the store, for the keys the workload uses (RequestIDs replaced by the
    order index, since each store has its own RequestID namespace)."""
    def order(o: StoredOrder | None) -> Any:
        return None if o is None else (o.session, o.account, o.cl_ord_id, o.order_id, o.state, o.working,
                                       o.data, o.created)

    def dec(d: Decision | None) -> Any:
        return None if d is None else (d.session, d.request_key, d.msg_type, d.cl_ord_id, d.outcome,
                                       d.request_id is not None, d.answer)

    view: dict[str, Any] = {}
    for i in range(n):
        rid_order = s.order_by_cl_ord_id(S1, f"c{i}")
        view[f"order {i}"] = order(rid_order)
        view[f"by rid {i}"] = order(s.order(rid_order.request_id)) if rid_order else None
        view[f"by oid {i}"] = order(s.order_by_order_id(f"o{i}"))
        view[f"by g {i}"] = order(s.order_by_cl_ord_id(S1, f"g{i}"))
        view[f"used {i}"] = (s.cl_ord_id_used(S1, f"c{i}"), s.cl_ord_id_used(S1, f"g{i}"),
                             s.cl_ord_id_used(S2, f"c{i}"), s.cl_ord_id_decided(S1, f"r{i}"))
        view[f"decisions {i}"] = [dec(s.decision(S1, k)) for k in (f"k{i}", f"kg{i}", f"kr{i}")]
        view[f"decided {i}"] = [s.is_decided(S1, k) for k in (f"k{i}", f"kg{i}", f"kr{i}")]
        view[f"execs {i}"] = [s.exec_already_sent(S1, e) for e in (f"o{i}-0", f"o{i}-F1", f"o{i}-F1-copy")]
    view["session"] = [order(o) for o in s.orders_for_session(S1)]
    view["working"] = [order(o) for o in s.orders_for_session(S1, working_only=True)]
    view["all working"] = [order(o) for o in s.working_orders()]
    view["account"] = [order(o) for o in s.orders_for_account("XS:0002")]
    view["outbound"] = {name: [(d.session, d.msg_type, d.fields, d.exec_id, d.handed)
                               for d in s.deferred_for(name)] for name in (S1, S2)}
    return view


def _reference(tmp_path: Path, n: int, *, written: int | None = None) -> dict[str, Any]:
    """The view of orders 0..n-1 in a store of its own that ran ``written`` (default n) orders
    with no crash: the answers a reopened store must give."""
    one = _workload()
    total = n if written is None else written

    async def main() -> dict[str, Any]:
        s = Store(tmp_path / f"reference-{n}-{total}" / "gw.sqlite")
        s.group_commit(asyncio.get_running_loop())
        for i in range(total):
            one(s, i)
            await s.durable()
        view = _view(s, n)
        s.close()
        return view

    return asyncio.run(main())


def _assert_reopened_equals(path: Path, reference: dict[str, Any], n: int) -> None:
    s = Store(path)
    try:
        assert _view(s, n) == reference
        # The database holds it all now, and the journal is empty.
        assert _db_count(path, "SELECT COUNT(*) FROM orders") == n
        assert s.journal_bytes == 0
        fresh = s.allocate_request_id()
        assert all(o.request_id != fresh for o in s.orders_for_session(S1))
    finally:
        s.close()
    again = Store(path)  # and once more, from the database alone
    try:
        assert _view(again, n) == reference
    finally:
        again.close()


# --- kill -9 ----------------------------------------------------------------------------------


def test_kill_9_after_journal_write_before_database_apply(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    n = 12
    code, acked = _child(path, _ACK_EACH, n=n, apply_every=60.0)  # the database never gets a batch
    assert code == -9, acked
    assert acked == [str(i) for i in range(n)]
    assert _db_count(path, "SELECT COUNT(*) FROM orders") == 0  # all of it lives in the journal
    assert journal_file(path).stat().st_size > 0
    _assert_reopened_equals(path, _reference(tmp_path, n), n)


def test_kill_9_with_commit_per_turn(tmp_path: Path) -> None:
    """``journal=False``: each turn is one SQLite transaction before its callbacks run."""
    path = tmp_path / "gw.sqlite"
    n = 8
    code, acked = _child(path, _ACK_EACH, n=n, journal=False)
    assert code == -9 and acked == [str(i) for i in range(n)], acked
    assert _db_count(path, "SELECT COUNT(*) FROM orders") == n  # in the database, not the journal
    assert journal_file(path).stat().st_size == 0
    _assert_reopened_equals(path, _reference(tmp_path, n), n)


@pytest.mark.parametrize("in_thread", [False, True], ids=["apply-on-loop", "apply-thread"])
def test_kill_9_in_the_middle_of_a_database_batch(tmp_path: Path, in_thread: bool) -> None:
    path = tmp_path / "gw.sqlite"
    # A first run leaves a database with a mark (applied and closed cleanly): 3 orders.
    one = _workload()

    async def first() -> None:
        s = Store(path)
        s.group_commit(asyncio.get_running_loop())
        for i in range(3):
            one(s, i)
            await s.durable()
        s.close()

    asyncio.run(first())
    mark = _db_count(path, "SELECT value FROM meta WHERE key = 'applied_seq'")
    assert mark > 0
    # The second run adds orders 3..19 in one batch; the process dies halfway through applying it.
    body = """
    for i in range(3, n):
        one(s, i)
        await s.durable()
        print(i, flush=True)
    await asyncio.sleep(10)  # the apply timer fires and the crash point kills the process
    """
    code, acked = _child(path, body, n=20, apply_every=0.2, apply_in_thread=in_thread,
                         env={"PLXTRA_FIX_CRASH_AT": "store-apply-midway"})
    assert code == -9, acked
    assert acked == [str(i) for i in range(3, 20)]
    # The half-applied batch was rolled back: the database is as the first run left it.
    assert _db_count(path, "SELECT value FROM meta WHERE key = 'applied_seq'") == mark
    assert _db_count(path, "SELECT COUNT(*) FROM orders") == 3
    _assert_reopened_equals(path, _reference(tmp_path, 20), 20)


def test_torn_journal_tail_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    n = 6
    code, acked = _child(path, _ACK_EACH, n=n, apply_every=60.0)
    assert code == -9 and len(acked) == n
    journal = journal_file(path)
    frames, end = read_frames(journal.read_bytes())
    assert end == journal.stat().st_size and [s for s, _ in frames] == list(range(1, len(frames) + 1))
    # A write cut by the crash: the first half of a record for an order nobody acknowledged.
    torn = encode_frame(frames[-1][0] + 1, json.dumps(
        ["N", S1, "never", "c-torn", "XS:0001", "A", {}, 1, None]).encode())
    with journal.open("ab") as f:
        f.write(torn[: len(torn) // 2])
    _assert_reopened_equals(path, _reference(tmp_path, n), n)
    s = Store(path)
    try:
        assert not s.cl_ord_id_used(S1, "c-torn")
        s.record_clordid(S1, "after", None, "q")  # numbering goes on after the dropped record
    finally:
        s.close()
    assert _db_count(path, "SELECT COUNT(*) FROM clordids WHERE cl_ord_id = 'after'") == 1


def test_corrupt_record_ends_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    code, acked = _child(path, _ACK_EACH, n=4, apply_every=60.0)
    assert code == -9 and len(acked) == 4
    journal = journal_file(path)
    data = journal.read_bytes()
    frames, _ = read_frames(data)
    last = encode_frame(frames[-1][0] + 1, b'["E","' + S1.encode() + b'","flipped"]')
    bad = bytearray(last)
    bad[-3] ^= 0xFF  # one payload byte changed: the crc no longer matches
    journal.write_bytes(data + bytes(bad))
    assert read_frames(journal.read_bytes()) == (frames, len(data))
    s = Store(path)
    try:
        assert not s.exec_already_sent(S1, "flipped") and s.exec_already_sent(S1, "o3-0")
    finally:
        s.close()


# --- in one process -----------------------------------------------------------------------------


def test_clean_close_applies_everything_and_empties_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    n = 10
    one = _workload()

    async def main() -> dict[str, Any]:
        s = Store(path, apply_every=60.0)
        s.group_commit(asyncio.get_running_loop())
        for i in range(n):
            one(s, i)
            await s.durable()
        assert _db_count(path, "SELECT COUNT(*) FROM orders") == 0 and s.journal_bytes > 0
        view = _view(s, n)
        s.close()
        return view

    view = asyncio.run(main())
    assert journal_file(path).stat().st_size == 0
    assert _db_count(path, "SELECT COUNT(*) FROM orders") == n
    assert view == _reference(tmp_path, n)
    _assert_reopened_equals(path, view, n)


def test_nothing_is_sent_before_its_block_is_in_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    one = _workload()

    async def main() -> None:
        s = Store(path, apply_every=60.0)
        s.group_commit(asyncio.get_running_loop())
        seen: list[int] = []
        one(s, 0)
        s.after_commit(lambda: seen.append(journal_file(path).stat().st_size))
        assert seen == [] and journal_file(path).stat().st_size == 0
        await s.durable()
        assert seen and seen[0] > 0  # the callback ran after the block was written
        frames, _ = read_frames(journal_file(path).read_bytes())
        assert len(frames) == 7  # R, N, L, A, X(confirmation), D, O: one write for the whole turn
        s.close()

    asyncio.run(main())


@pytest.mark.parametrize("in_thread", [False, True], ids=["apply-on-loop", "apply-thread"])
def test_done_orders_leave_memory_within_the_bound_and_are_read_back(tmp_path: Path, in_thread: bool) -> None:
    path = tmp_path / "gw.sqlite"
    n = 40
    one = _workload()

    async def main() -> dict[str, Any]:
        s = Store(path, keep_done=5, keep_recent=8, apply_every=0.01, apply_in_thread=in_thread)
        s.group_commit(asyncio.get_running_loop())
        for i in range(n):
            one(s, i)
            await s.durable()
        deadline = time.monotonic() + 5
        while s.journal_bytes and time.monotonic() < deadline:  # the applier catches up
            await asyncio.sleep(0.01)
        working = sum(1 for i in range(n) if i % 2 == 0)
        one(s, n)  # one more write after the catch-up: eviction runs with it
        await s.durable()
        while s.journal_bytes and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert s.orders_in_memory <= working + 1 + 5
        assert s.orders_in_memory < n
        assert s.entries_in_memory <= 5 * 8  # five indexes, each at its bound
        view = _view(s, n)  # evicted orders and index entries answered from SQLite
        with pytest.raises(DuplicateClOrdID):  # an evicted ClOrdID is still refused
            s.record_clordid(S1, "c0", None, "q")
        s.close()
        return view

    view = asyncio.run(main())
    assert view == _reference(tmp_path, n, written=n + 1)


@pytest.mark.parametrize("rotate", [False, True])
def test_apply_thread_brings_the_database_up_to_date(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rotate: bool) -> None:
    import gateway.store.orders_store as orders_store

    if rotate:
        monkeypatch.setattr(orders_store, "ROTATE_BYTES", 300)
    path = tmp_path / "gw.sqlite"
    n = 30
    one = _workload()
    olds: list[bool] = []

    async def main() -> dict[str, Any]:
        s = Store(path, apply_in_thread=True, apply_every=0.01)
        s.group_commit(asyncio.get_running_loop())
        for i in range(n):
            one(s, i)
            await s.durable()
            olds.append(Path(str(journal_file(path)) + ".old").exists())
            await asyncio.sleep(0.002)
        deadline = time.monotonic() + 5
        while (s.journal_bytes or _db_count(path, "SELECT COUNT(*) FROM orders") < n) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert _db_count(path, "SELECT COUNT(*) FROM orders") == n  # applied by the thread
        view = _view(s, n)
        s.close()
        return view

    view = asyncio.run(main())
    assert any(olds) == rotate  # the journal was rotated while the thread applied
    assert not Path(str(journal_file(path)) + ".old").exists()
    assert view == _reference(tmp_path, n)
    _assert_reopened_equals(path, view, n)


def test_journal_frames_and_segments(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    j.write(encode_frame(1, b"a") + encode_frame(2, b"bb"))
    assert j.rotate(2) and not j.rotate(3)  # one old segment at a time
    j.write(encode_frame(3, b"ccc"))
    assert list(j.records()) == [(1, b"a"), (2, b"bb"), (3, b"ccc")]
    j.drop_old()
    assert list(j.records()) == [(3, b"ccc")]
    j.truncate()
    assert list(j.records()) == [] and j.size == 0
    j.close()
    assert read_frames(b"\x01\x00") == ([], 0)  # a header cut short


def test_a_block_is_its_frames_encoded_one_by_one() -> None:
    """encode_block (the store's write of a loop turn) is exactly the frames of encode_frame joined,
    whatever the frames carry after the payload (the store's unit objects)."""
    frames = [(7, b'["E","S1","e1"]', ("E", "S1", "e1")), (8, b"", None), (2**40, b"x" * 70_000)]
    block = encode_block(frames)
    assert block == b"".join(encode_frame(f[0], f[1]) for f in frames)
    assert read_frames(block) == ([(f[0], f[1]) for f in frames], len(block))
    assert encode_block([]) == b""


def test_write_frames_appends_exactly_the_block_of_its_frames(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's write of a loop turn (headers and payloads handed to writev unjoined) leaves the
    bytes encode_block gives, and so the records read_frames reads: for one record, for more
    parts than one writev takes, and when the kernel takes only part of the writev."""
    from gateway.store import journal as journal_mod

    path = tmp_path / "j.journal"
    j = Journal(path)
    one = [(1, b'["N","S1"]\n{"a":1}')]
    many = [(i, f'["E","S1","e{i}"]'.encode()) for i in range(2, 2 + journal_mod._IOV_MAX)]  # 2x parts
    j.write_frames(one)
    j.write_frames(many)
    # A short writev: the kernel took 13 bytes (part of the first header); the rest follows.
    monkeypatch.setattr(journal_mod.os, "writev", lambda fd, parts: os.write(fd, b"".join(parts)[:13]))
    last = [(10_000, b"x" * 5000), (10_001, b"y")]
    j.write_frames(last)
    j.close()
    want = encode_block(one) + encode_block(many) + encode_block(last)
    assert path.read_bytes() == want and j.size == len(want)
    assert read_frames(want)[0] == [(f[0], f[1]) for f in one + many + last]


def test_a_journal_of_the_previous_version_is_recovered(tmp_path: Path) -> None:
    """Units as the store wrote them before the pieces (an order's data as a JSON string inside the
    unit, an outbound row's fields inline), left in the journal by a kill -9, are applied at open:
    the reopened store answers with their state, and writes its own units after them."""
    path = tmp_path / "gw.sqlite"
    Store(path).close()  # the file and its schema, mark 0
    data_n = json.dumps({"i": 0, "state": "A"}, separators=(",", ":"))
    data_a = json.dumps({"i": 0, "state": "0"}, separators=(",", ":"))
    units = [
        ["N", S1, "r1", "c1", "XS:0001", "A", data_n, 1000, [S1, "k1", "D", "c1", "accepted", "r1", None, 1]],
        ["A", "r1", "c1", "o1", "0", True, data_a, S1, ["o1-0"], [[1, S1, "o1-0", True, "8", [[17, "o1-0"]]]],
         None],
    ]
    journal = Journal(journal_file(path))
    journal.write(encode_block([(i + 1, json.dumps(u).encode()) for i, u in enumerate(units)]))
    journal.close()
    s = Store(path)
    try:
        want = StoredOrder("r1", S1, "XS:0001", "c1", "o1", "0", True, {"i": 0, "state": "0"}, 1000)
        assert s.order("r1") == want
        assert s.exec_already_sent(S1, "o1-0") and s.is_decided(S1, "k1")
        assert [(m.seq, m.fields, m.handed) for m in s.deferred_for(S1)] == [(1, ((17, "o1-0"),), True)]
        assert journal_file(path).stat().st_size == 0
        s.record_new_order(session=S1, request_id="r2", cl_ord_id="c2", account="XS:0001", state="A",
                           data={"i": 1}, created=1001)
        s.apply(request_id="r2", cl_ord_id="c2", order_id="o2", state="0", working=True,
                data={"i": 1, "n": 2}, session=S1, exec_ids=["o2-0"],
                outbound=[(S1, "o2-0", True, "8", ((17, "o2-0"),))])
    finally:
        s.close()
    s = Store(path)
    try:
        assert s.order("r2") == StoredOrder("r2", S1, "XS:0001", "c2", "o2", "0", True, {"i": 1, "n": 2},
                                            1001)
        assert [m.fields for m in s.deferred_for(S1)] == [((17, "o1-0"),), ((17, "o2-0"),)]
    finally:
        s.close()
