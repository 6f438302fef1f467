"""The store's contract, run against both backends: the SQLite file (journal + apply) and
PostgreSQL (commit per turn, on a real throw-away server: tests/pg_server.py).

Every public method is exercised, and each test reopens the store after close and checks that it
gives the same answers; with tiny memory bounds every read also goes to the database.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.store import DuplicateClOrdID, Store, StoreError
from gateway.store.orders_store import Decision, StoredOrder
from gateway.store.pg_database import PgDatabase

S1 = "FIX.4.4:PLXTRA->CLIENT1"
S2 = "FIX.4.2:PLXTRA->CLIENT2"

_instances = itertools.count(1)


@dataclass
class Backend:
    name: str
    open: Callable[..., Store]          # the same storage at every call
    other: Callable[[], Store]          # a storage of its own (a new RequestID namespace)
    durable_orders: Callable[[], int]   # orders a restarted process would find, now


@pytest.fixture(scope="module")
def contract_db(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_server").create_database("store_contract"))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "gw.sqlite"

        def copy_count() -> int:
            # What a restart after kill -9 would see: a store opened on a copy of the files now.
            with tempfile.TemporaryDirectory() as tmp:
                for f in path.parent.iterdir():
                    if f.name.startswith(path.name) and not f.name.endswith("-shm"):
                        shutil.copyfile(f, Path(tmp) / f.name)
                s = Store(Path(tmp) / path.name)
                try:
                    return len(s.orders_for_session(S1))
                finally:
                    s.close()

        yield Backend("sqlite", lambda **kw: Store(path, **kw), lambda: Store(tmp_path / "other.sqlite"),
                      copy_count)
        return
    url = request.getfixturevalue("contract_db")
    instance = f"t{next(_instances)}"

    def pg_count() -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM orders WHERE instance = %s AND session = %s",
                               (instance, S1)).fetchone()
            return int(row[0]) if row else 0

    yield Backend(
        "postgresql",
        lambda **kw: Store(tmp_path / "gw.sqlite", database=lambda: PgDatabase(url, instance=instance), **kw),
        lambda: Store(tmp_path / "gw.sqlite", database=lambda: PgDatabase(url, instance=instance + "x")),
        pg_count,
    )


def _new(store: Store, rid: str, cl: str, session: str = S1, account: str = "XS:0001",
         decision: Decision | None = None) -> None:
    store.record_new_order(session=session, request_id=rid, cl_ord_id=cl, account=account, state="A",
                           data={"rid": rid, "cl": cl, "n": [1, 2.5, None]}, created=len(rid),
                           decision=decision)


def _o(o: StoredOrder | None) -> Any:
    return None if o is None else (o.request_id, o.session, o.account, o.cl_ord_id, o.order_id, o.state,
                                   o.working, o.data, o.created)


def _reopened(backend: Backend, check: Callable[[Store], None]) -> None:
    """``check`` on a reopened store, once with memory as loaded and once with bounds of 0 (every
    done order and index entry read from the database)."""
    for kw in ({}, {"keep_done": 0, "keep_recent": 0}):
        s = backend.open(**kw)
        try:
            check(s)
        finally:
            s.close()


def test_request_ids_are_unique_and_persist_across_reopen(backend: Backend) -> None:
    s = backend.open()
    ids = [s.allocate_request_id() for _ in range(5)]
    s.close()
    s = backend.open()
    more = [s.allocate_request_id() for _ in range(5)]
    s.close()
    assert len(set(ids + more)) == 10
    assert ids[0].split("-")[0] == more[0].split("-")[0]  # same store, same namespace
    numbers = [int(i.rsplit("-", 1)[1]) for i in ids + more]
    assert numbers[:5] == sorted(numbers[:5]) and min(numbers[5:]) > max(numbers[:5])
    other = backend.other()
    assert other.allocate_request_id().split("-")[0] != ids[0].split("-")[0]
    other.close()


def test_orders_lookups_and_lists_survive_reopen(backend: Backend) -> None:
    s = backend.open()
    _new(s, "r1", "c1")
    _new(s, "r22", "c2")
    _new(s, "r333", "c3", session=S2, account="XS:0002")
    s.link_order_id("r1", "oid-1")
    s.link_order_id("r22", "oid-2")
    s.apply(request_id="r22", cl_ord_id="c2", order_id="oid-2", state="2", working=False, data={"cum": "5"})
    with pytest.raises(DuplicateClOrdID) as err:
        _new(s, "r4", "c1")
    assert err.value.cl_ord_id == "c1" and isinstance(err.value, StoreError)

    def check(st: Store) -> None:
        assert st.cl_ord_id_used(S1, "c1") and not st.cl_ord_id_used(S2, "c1")
        assert _o(st.order("r1")) == ("r1", S1, "XS:0001", "c1", "oid-1", "A", True,
                                      {"rid": "r1", "cl": "c1", "n": [1, 2.5, None]}, 2)
        assert _o(st.order_by_order_id("oid-2")) == ("r22", S1, "XS:0001", "c2", "oid-2", "2", False,
                                                     {"cum": "5"}, 3)
        assert st.order_by_order_id("oid-9") is None and st.order("r4") is None
        assert st.order_by_cl_ord_id(S1, "c1").request_id == "r1"  # type: ignore[union-attr]
        assert st.order_by_cl_ord_id(S2, "c1") is None
        assert [o.request_id for o in st.working_orders()] == ["r1", "r333"]
        assert [o.request_id for o in st.orders_for_session(S1)] == ["r1", "r22"]
        assert [o.request_id for o in st.orders_for_session(S1, working_only=True)] == ["r1"]
        assert [o.request_id for o in st.orders_for_account("XS:0002")] == ["r333"]

    check(s)
    s.close()
    _reopened(backend, check)


def test_clordid_chains_decisions_and_exec_ids_survive_reopen(backend: Backend) -> None:
    s = backend.open()
    _new(s, "r1", "c1", decision=Decision(S1, "k1", "D", "c1", Decision.ACCEPTED, "r1"))
    s.record_clordid_chain(S1, "c2", "r1", "G", Decision(S1, "k2", "G", "c2", Decision.ACCEPTED, "r1"))
    s.record_clordid(S1, "q1", None, "q")
    with pytest.raises(DuplicateClOrdID):
        s.record_clordid_chain(S1, "c2", "r1", "G")
    rejected = Decision(S1, "k3", "F", "c9", Decision.REJECTED, answer=("9", [(11, "c9"), (58, "too late")]))
    s.decide(rejected)
    s.decide(Decision(S1, "k3", "F", "c9", Decision.ACCEPTED, "r1"))  # decided once: never overwritten
    assert s.mark_exec_sent(S1, "e1") is True and s.mark_exec_sent(S1, "e1") is False

    def check(st: Store) -> None:
        assert {st.order_by_cl_ord_id(S1, c).request_id for c in ("c1", "c2")} == {"r1"}  # type: ignore
        assert st.cl_ord_id_used(S1, "q1") and st.order_by_cl_ord_id(S1, "q1") is None
        d = st.decision(S1, "k3")
        assert d is not None and (d.outcome, d.request_id, d.answer) == (
            "rejected", None, ("9", ((11, "c9"), (58, "too late"))))
        assert st.decision(S1, "k1") == Decision(S1, "k1", "D", "c1", "accepted", "r1")
        assert st.is_decided(S1, "k2") and not st.is_decided(S1, "k4") and not st.is_decided(S2, "k1")
        assert st.cl_ord_id_decided(S1, "c9") and st.cl_ord_id_decided(S1, "c2")
        assert not st.cl_ord_id_decided(S1, "c8")
        assert st.exec_already_sent(S1, "e1") and not st.exec_already_sent(S2, "e1")
        assert st.mark_exec_sent(S1, "e1") is False

    check(s)
    s.close()
    _reopened(backend, check)


def test_apply_is_one_unit_and_a_failing_one_leaves_nothing(backend: Backend) -> None:
    s = backend.open()
    _new(s, "r1", "c1")
    s.apply(request_id="r1", cl_ord_id="c2", order_id="oid-1", state="1", working=True, data={"cum": "10"},
            session=S1, exec_ids=["oid-1-0", "oid-1-F1"], deferred=[(S1, "8", [(17, "oid-1-F1")])],
            decision=Decision(S1, "k9", "G", "c2", Decision.ACCEPTED, "r1"))
    with pytest.raises(StoreError):
        s.apply(request_id="r1", cl_ord_id="c9", order_id="oid-1", state="2", working=False, data={},
                exec_ids=["oid-1-F2"])

    def check(st: Store) -> None:
        o = st.order("r1")
        assert o is not None and (o.cl_ord_id, o.order_id, o.state, o.data) == ("c2", "oid-1", "1",
                                                                                {"cum": "10"})
        assert st.exec_already_sent(S1, "oid-1-0") and st.exec_already_sent(S1, "oid-1-F1")
        assert not st.exec_already_sent(S1, "oid-1-F2") and st.is_decided(S1, "k9")
        assert [d.fields for d in st.deferred_for(S1)] == [((17, "oid-1-F1"),)]

    check(s)
    s.close()
    _reopened(backend, check)


def test_outbound_rows_from_held_to_handed_to_confirmed(backend: Backend) -> None:
    s = backend.open()
    _new(s, "r1", "c1")
    (handed,) = s.apply(request_id="r1", cl_ord_id="c1", order_id="o1", state="0", working=True, data={},
                        session=S1, exec_ids=["o1-0"], outbound=[(S1, "o1-0", True, "8", [(17, "o1-0")])])
    (held,) = s.apply(request_id=None, session=S2, exec_ids=["x-8"],
                      outbound=[(S2, "x-8", False, "8", [(17, "x-8")])])
    s.defer_message(S1, "8", [(11, "a")])
    s.defer_message(S1, "9", [(11, "b")])
    s.defer_message(S2, "8", [(11, "c")])
    a, b = s.deferred_for(S1)[1:]
    s.mark_handed([held])
    s.drop_deferred([a.seq])
    s.confirm_sent(handed)
    s.flush()
    top = max(m.seq for m in s.deferred_for(S1) + s.deferred_for(S2))

    def check(st: Store) -> None:
        assert [(m.seq, m.msg_type, m.fields, m.handed) for m in st.deferred_for(S1)] == [
            (b.seq, "9", ((11, "b"),), False)]
        assert [(m.exec_id, m.fields, m.handed) for m in st.deferred_for(S2)] == [
            ("x-8", ((17, "x-8"),), True), (None, ((11, "c"),), False)]

    check(s)
    s.close()
    _reopened(backend, check)
    s = backend.open()
    s.defer_message(S1, "8", [(11, "d")])
    assert s.deferred_for(S1)[-1].seq > top  # numbering continues after a reopen
    s.close()


def test_group_commit_nothing_leaves_before_the_turn_is_durable(backend: Backend) -> None:
    async def main() -> None:
        s = backend.open()
        s.group_commit(asyncio.get_running_loop())
        events: list[str] = []
        _new(s, "r1", "c1")
        s.after_commit(lambda: events.append(f"sent, durable={backend.durable_orders()}"))
        _new(s, "r2", "c2")
        with pytest.raises(DuplicateClOrdID):  # a failing write undoes only itself
            _new(s, "r3", "c1")
        assert backend.durable_orders() == 0 and events == []
        assert s.order("r2") is not None  # the loop's own reads see the open turn
        await s.durable()
        assert events == ["sent, durable=2"]
        s.after_commit(lambda: events.append("now"))  # nothing open: runs at once
        assert events[-1] == "now"
        _new(s, "r4", "c4")
        s.close()  # commits the open turn
        assert backend.durable_orders() == 3

    asyncio.run(main())

    def check(st: Store) -> None:
        assert [o.request_id for o in st.working_orders()] == ["r1", "r2", "r4"]

    _reopened(backend, check)
