"""Per-order cost of the store: the SQLite store of before (group commit of SQLite transactions)
against the journal store (memory + one journal write per loop turn, SQLite applied later, on the
loop or on a thread).

    PYTHONPATH=. python3 bench/store_ops.py [--orders 3000] [--rate 1000] [--before REF]

Stores: "sqlite (before)"; "memory + commit per turn" (the new store with ``journal=False``: reads
from memory, one SQLite transaction per turn); "journal + apply on loop" / "journal + apply thread";
"postgresql commit per turn" (issue 14: the same store on PostgreSQL, one transaction per turn over
loopback TCP; ``--pg-url`` names a server, else a throw-away one is started with tests/pg_server.py,
which runs with fsync off: the figure is the round trips and CPU, not a disk's flush).

One order makes the calls the orders service makes today, each step in its own loop turn (so each
step pays one group commit, as on the order path): allocate_request_id + record_new_order (with
its decision) | link_order_id + apply (New: ExecID, outbound row) | confirm_sent + apply (Fill,
done: ExecID, outbound row) | confirm_sent + mark_exec_sent.

Two runs per store:
* ``burst``: orders back to back; CPU per order of the loop thread (the order path) and of the
  whole process (the apply thread and the checkpointer included), with the database caught up at
  the end (close) counted in the process figure.
* ``paced``: ``--rate`` orders/s; the latency from a step's first write to its after_commit
  callback (what a send waits for), p50 / p99 / max: a batch applied on the loop shows up here.

The "before" store is read from git (``--before``, default the commit before the journal store).

``--apply``: only the apply (gateway.store.sqlite_apply): the journal records of ``--orders``
orders (``--window`` in flight) applied to a fresh SQLite file in batches of ``--slice`` records
(default the loop's APPLY_SLICE), CPU per order and per record; ``--apply-ref REF`` also times
the sqlite_apply.py of a git ref on the same records (a ref whose units it reads). ``--flood``:
the records of /work/briefs/tools/drive.py's flood instead (each order rests: its "N" with the
decision, its "A" with the New's ExecID and outbound row, that row's confirmation; the bridge's
~650-byte order record, a 20-field ExecutionReport), with the share of orders whose "N" and "A"
fall in different slices (inserted, then updated: ``--window 300 --slice 300`` puts 99% there, as
a flood's ~0.1 s between the two does). Run the copy of this file from another tree's ``bench/``
to time that tree's store on the same workload.

``--calls``: only the store's calls of the D -> New path, each alone (:func:`_calls_micro`). Figures
(best of 9, 3000 orders, two interleaved rounds, load 1.5, main 7fa6d60 -> wip-s19): record_new_order
10.2 / 11.1 -> 7.7 / 7.3 us, apply (New) 7.5 / 8.0 -> 7.4 / 6.7, journal write of one record 2.0 /
2.2 -> 2.0 / 1.8, InboundJournal.append 1.7 / 1.8 (unchanged). ``--only "journal + apply on loop"``
(4 turns per order, the apply included, best of 3, two rounds): loop CPU 116.0 / 113.4 -> 94.8 /
103.2 us per order.

Figures (shared 2-core machine, best of 5, two rounds, main 0429775 against wip-s17):
``--apply --flood``: 24.6 / 26.6 -> 23.5 / 20.5 us per order (8% split), ``--window 300 --slice
300``: 36.3 / 35.2 -> 30.5 / 32.3 (99% split); 2,080 -> 1,885 journal bytes per order.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BEFORE_REF = "c746706"
S1 = "FIX.4.4:PLXTRA->CLIENT1"


_PG: dict[str, str] = {}
_PG_RUNS = itertools.count(1)


def _old_store_module(ref: str) -> types.ModuleType:
    src = subprocess.check_output(["git", "-C", str(ROOT), "show", f"{ref}:gateway/store/orders_store.py"])
    mod = types.ModuleType("bench_store_before")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up while the class is built
    exec(compile(src, f"{ref}:gateway/store/orders_store.py", "exec"), mod.__dict__)
    return mod


def _data(i: int, state: str, cum: str) -> dict[str, Any]:
    """About the size of the bridge's order record (record_to_data)."""
    return {"session": S1, "request_id": f"r{i}", "cl_ord_id": f"c{i}", "account": "XS:0001",
            "fix_account": "XS:0001", "terms": {"side": "1", "qty": "100", "px": "4.00", "symbol": "XS04",
                                                "exchange": "XSX", "ord_type": "2", "tif": "0"},
            "state": state, "order_id": f"o{i}", "orig_cl_ord_id": None, "cum_qty": cum,
            "cum_value": "0", "pending_kind": None, "pending_cl_ord_id": None,
            "created_ns": 1_700_000_000 + i}


class Steps:
    """One order's store calls, step by step; each step returns after its after_commit ran."""

    def __init__(self, store: Any, decision_cls: Any, lat: list[float] | None) -> None:
        self.s, self.Decision, self.lat = store, decision_cls, lat

    async def _commit(self, t0: float) -> None:
        done = asyncio.get_running_loop().create_future()
        self.s.after_commit(lambda: done.set_result(None) if not done.done() else None)
        await done
        if self.lat is not None:
            self.lat.append(time.perf_counter() - t0)

    async def order(self, i: int) -> None:
        s = self.s
        t0 = time.perf_counter()
        rid = s.allocate_request_id()
        s.record_new_order(session=S1, request_id=rid, cl_ord_id=f"c{i}", account="XS:0001", state="A",
                           data=_data(i, "A", "0"), created=i,
                           decision=self.Decision(S1, f"k{i}", "D", f"c{i}", "accepted", rid))
        await self._commit(t0)
        t0 = time.perf_counter()
        s.link_order_id(rid, f"o{i}")
        (seq,) = s.apply(request_id=rid, cl_ord_id=f"c{i}", order_id=f"o{i}", state="0", working=True,
                         data=_data(i, "0", "0"), session=S1, exec_ids=[f"o{i}-0"],
                         outbound=[(S1, f"o{i}-0", True, "8", [(37, f"o{i}"), (17, f"o{i}-0"), (150, "0")])])
        await self._commit(t0)
        t0 = time.perf_counter()
        s.confirm_sent(seq)
        (seq,) = s.apply(request_id=rid, cl_ord_id=f"c{i}", order_id=f"o{i}", state="2", working=False,
                         data=_data(i, "2", "100"), session=S1, exec_ids=[f"o{i}-F1"],
                         outbound=[(S1, f"o{i}-F1", True, "8",
                                    [(37, f"o{i}"), (17, f"o{i}-F1"), (150, "F")])])
        await self._commit(t0)
        t0 = time.perf_counter()
        s.confirm_sent(seq)
        s.mark_exec_sent(S1, f"o{i}-F1")
        await self._commit(t0)


class NullStore:
    """No store at all: what the bench's own loop turns and futures cost (subtract it)."""

    def __init__(self) -> None:
        self._n = 0

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None

    def allocate_request_id(self) -> str:
        self._n += 1
        return f"r{self._n}"

    def apply(self, **kw: Any) -> list[int]:
        return [0]

    def after_commit(self, fn: Any) -> None:
        asyncio.get_running_loop().call_soon(fn)  # one turn later, as a group commit would


def _open(kind: str, path: Path, before: types.ModuleType) -> tuple[Any, Any]:
    if kind == "no store (bench overhead)":
        return NullStore(), lambda *a: None
    if kind == "sqlite (before)":
        return before.Store(path), before.Decision
    from gateway.store.orders_store import Decision, Store
    if kind == "postgresql commit per turn":
        from gateway.store.pg_database import PgDatabase

        url, instance = _PG["url"], f"bench{next(_PG_RUNS)}"
        return Store(path, database=lambda: PgDatabase(url, instance=instance)), Decision
    if kind == "memory + commit per turn":
        return Store(path, journal=False), Decision
    return Store(path, apply_in_thread=(kind == "journal + apply thread")), Decision


def _server_cpu(store: Any) -> float:
    """CPU seconds of the PostgreSQL backend serving ``store`` (0 for SQLite: it runs in-process)."""
    conn = getattr(getattr(store, "_db", None), "conn", None)
    if conn is None or not hasattr(conn, "info"):
        return 0.0
    try:
        fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0   # a server on another host
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _burst(kind: str, path: Path, before: types.ModuleType, n: int) -> dict[str, float]:
    store, decision = _open(kind, path, before)
    store.group_commit(asyncio.get_running_loop())
    steps = Steps(store, decision, None)
    for i in range(50):  # warm-up
        await steps.order(-1 - i)
    srv0 = _server_cpu(store)
    cpu0, thr0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    for i in range(n):
        await steps.order(i)
    thr1, wall1 = time.thread_time(), time.perf_counter()
    srv1 = _server_cpu(store)
    store.close()
    cpu1 = time.process_time()
    return {"loop_us": (thr1 - thr0) / n * 1e6, "process_us": (cpu1 - cpu0) / n * 1e6,
            "wall_us": (wall1 - wall0) / n * 1e6, "server_us": (srv1 - srv0) / n * 1e6}


async def _paced(kind: str, path: Path, before: types.ModuleType, n: int, rate: float) -> list[float]:
    store, decision = _open(kind, path, before)
    store.group_commit(asyncio.get_running_loop())
    lat: list[float] = []
    steps = Steps(store, decision, lat)
    tasks = []
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(steps.order(i)))
    await asyncio.gather(*tasks)
    store.close()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--rate", type=float, default=1000.0, help="orders/s of the paced run")
    ap.add_argument("--paced-orders", type=int, default=2000)
    ap.add_argument("--before", default=BEFORE_REF, help="git ref of the SQLite store of before")
    ap.add_argument("--repeat", type=int, default=3, help="burst runs per store (the best is shown)")
    ap.add_argument("--only", default="", help="run only the stores whose name contains this")
    ap.add_argument("--pg-url", default="", help="PostgreSQL for the postgresql store (default: a "
                                                 "throw-away server)")
    ap.add_argument("--apply", action="store_true", help="only the apply micro-benchmark: the journal "
                                                         "records of --orders orders applied to SQLite")
    ap.add_argument("--apply-ref", default="", help="with --apply: also time sqlite_apply.py of this git ref")
    ap.add_argument("--window", type=int, default=50, help="with --apply: orders in flight")
    ap.add_argument("--slice", type=int, default=0, help="with --apply: records per batch (0: APPLY_SLICE)")
    ap.add_argument("--flood", action="store_true",
                    help="with --apply: the records of drive.py's flood (each order rests: N, A with "
                         "the New, its confirmation)")
    ap.add_argument("--calls", action="store_true",
                    help="only the per-call micro-benchmark of the order path's store calls (hot, CPU time)")
    args = ap.parse_args()
    if args.calls:
        _calls_micro(args.orders, args.repeat)
        return
    if args.apply:
        _apply_micro(args.orders, args.repeat, args.apply_ref, args.window, args.slice, args.flood)
        return
    before = _old_store_module(args.before)
    kinds = ["no store (bench overhead)", "sqlite (before)", "memory + commit per turn",
             "journal + apply on loop", "journal + apply thread", "postgresql commit per turn"]
    kinds = kinds[:1] + [k for k in kinds[1:] if args.only in k]
    server = None
    if "postgresql commit per turn" in kinds:
        if args.pg_url:
            _PG["url"] = args.pg_url
        else:
            sys.path.insert(0, str(ROOT / "tests"))
            from pg_server import start_pg_server

            server = start_pg_server()
            _PG["url"] = server.create_database("bench_store_ops")
    try:
        _run(args, before, kinds)
    finally:
        if server is not None:
            server.stop()


def _run(args: argparse.Namespace, before: types.ModuleType, kinds: list[str]) -> None:
    print(f"store ops per order ({args.orders} orders, 4 loop turns each; best of {args.repeat})")
    print(f"{'store':26} {'loop CPU us':>12} {'process CPU us':>15} {'wall us':>9} {'server CPU us':>14}")
    for kind in kinds:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(asyncio.run(_burst(kind, Path(tmp) / "gw.sqlite", before, args.orders)))
        best = min(runs, key=lambda x: x["process_us"])
        print(f"{kind:26} {best['loop_us']:12.1f} {best['process_us']:15.1f} {best['wall_us']:9.1f} "
              f"{best['server_us']:14.1f}")
    print(f"\nstep latency (first write -> after_commit), {args.paced_orders} orders at {args.rate:.0f}/s")
    print(f"{'store':26} {'p50 us':>8} {'p99 us':>8} {'max us':>9}")
    for kind in kinds[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            lat = asyncio.run(_paced(kind, Path(tmp) / "gw.sqlite", before, args.paced_orders, args.rate))
        lat.sort()
        p99 = lat[int(len(lat) * 0.99)]
        print(f"{kind:26} {statistics.median(lat) * 1e6:8.0f} {p99 * 1e6:8.0f} {lat[-1] * 1e6:9.0f}")
    _serializers()


def _calls_micro(n: int, repeat: int) -> None:
    """The store's calls on the D -> New path, each timed alone over ``n`` orders (thread CPU time,
    best of ``repeat``, hot caches: at 200 orders/s the gateway runs them cold, about 2x): the new
    order (record_new_order with its decision and the bridge's ~650-byte record), the New's write
    (Store.apply: order state, ExecID, a 20-field ExecutionReport row), the commit's journal write
    of one record (a paced order is alone in its loop turn) and the inbound journal's append of a D.
    ``GATEWAY_ROOT``-free: run the copy of this file from another tree's ``bench/`` to time that
    tree's store."""
    from gateway.store import Store
    from gateway.store.inbound_journal import InboundJournal
    from gateway.store.journal import Journal, encode_block
    from gateway.store.orders_store import Decision
    from gateway.vocab.records import InboundMessage, SessionKey

    clock = time.thread_time
    results: dict[str, float] = {}

    def best(label: str, fn: Any) -> None:
        results[label] = min(fn() for _ in range(repeat)) / n * 1e6

    with tempfile.TemporaryDirectory() as tmp:
        blocks: list[Any] = []

        async def store_calls(k: int) -> tuple[float, float]:
            store = Store(Path(tmp) / f"calls{k}.sqlite", apply_every=1e6)  # nothing applied meanwhile
            store.group_commit(asyncio.get_running_loop())
            orders = []
            for i in range(n):
                rid = store.allocate_request_id()
                decision = Decision(S1, f"17{i:09d}:{i}", "D", f"c{i}", "accepted", rid)
                orders.append((rid, _flood_data(i), decision, [(S1, f"e{i}-0", True, "8", _er_fields(i))]))
            t0 = clock()
            for i, (rid, data, decision, _) in enumerate(orders):
                store.record_new_order(session=S1, request_id=rid, cl_ord_id=f"c{i}", account="XS:0001",
                                       state="A", data={**data, "state": "A", "order_id": None}, created=i,
                                       decision=decision)
            t1 = clock()
            for i, (rid, data, _, rows) in enumerate(orders):
                store.apply(request_id=rid, cl_ord_id=f"c{i}", order_id=data["order_id"], state="0",
                            working=True, data=data, session=S1, exec_ids=[f"e{i}-0"], outbound=rows)
            t2 = clock()
            blocks[:] = store._block
            store._block, store._open, store._unapplied = [], False, []
            store.close()
            return t1 - t0, t2 - t1

        runs = [asyncio.run(store_calls(k)) for k in range(repeat)]
        results["Store.record_new_order (D, decision)"] = min(r[0] for r in runs) / n * 1e6
        results["Store.apply (New: state, ExecID, ER row)"] = min(r[1] for r in runs) / n * 1e6
        frames = blocks[:n]  # N and A records, one per commit
        journal = Journal(Path(tmp) / "calls.journal")
        write_frames = getattr(journal, "write_frames", None)

        def commit_write() -> float:
            journal.truncate()
            t0 = clock()
            if write_frames is not None:
                for f in frames:
                    write_frames([f])
            else:
                for f in frames:
                    journal.write(encode_block([f]))
            return clock() - t0

        best("journal write of one record (encode + write)", commit_write)
        key = SessionKey("FIX.4.4", "CLIENT1", "PLXTRA")
        fields = ((35, "D"), (49, "CLIENT1"), (56, "PLXTRA"), (34, "12"), (52, "20261206-18:00:00.123456"),
                  (11, "c1234567"), (1, "XS:0001"), (55, "XS04"), (207, "XSX"), (54, "1"), (38, "100"),
                  (40, "2"), (44, "4.00"), (59, "0"), (60, "20261206-18:00:00.123"), (21, "1"), (15, "AUD"))
        msgs = [InboundMessage(key, "D", i, fields, 1_700_000_000_000_000_000 + i) for i in range(n)]
        inbound = InboundJournal(Path(tmp) / "calls.inbound")

        def append() -> float:
            t0 = clock()
            for m in msgs:
                inbound.append(m)
            return clock() - t0

        best("InboundJournal.append (a D)", append)
        inbound.close()
        journal.close()
    print(f"store calls of the D -> New path, us per call (hot, thread CPU, best of {repeat}, {n} orders)")
    for label, us in results.items():
        print(f"  {label:44} {us:7.2f}")


def _serializers(n: int = 20_000) -> None:
    """Encoding and decoding one ``apply`` unit (the biggest record of an order)."""
    import json

    import orjson

    unit = ["A", "r1", "c1", "o1", "2", False, _data(1, "2", "100"), S1, ["o1-F1"],
            [[7, S1, "o1-F1", True, "8", [(37, "o1"), (17, "o1-F1"), (150, "F")]]], None]
    print(f"\nserializer, one apply unit ({len(orjson.dumps(unit))} bytes), us per record")
    for name, dumps, loads in (
        ("stdlib json", lambda u: json.dumps(u, separators=(",", ":")).encode(), json.loads),
        ("orjson", orjson.dumps, orjson.loads),
    ):
        payload = dumps(unit)
        t0 = time.perf_counter()
        for _ in range(n):
            dumps(unit)
        t1 = time.perf_counter()
        for _ in range(n):
            loads(payload)
        t2 = time.perf_counter()
        print(f"{name:12} encode {(t1 - t0) / n * 1e6:5.2f}  decode {(t2 - t1) / n * 1e6:5.2f}")


def _flood_data(i: int) -> dict[str, Any]:
    """The bridge's order record of a resting limit order at the size drive.py's floods write
    (record_to_data: ~650 bytes of JSON)."""
    d = _data(i, "0", "0")
    d["terms"].update(expire=None, stop_px=None, display_qty=None, min_qty=None, text=None, handling=None,
                      exec_inst=None, currency="AUD")
    d.update(order_id=f"00000000-0000-0000-0000-{i:012d}", pending_request_id=None, pending_terms=None,
             fix_symbol="XS04", fix_exchange="XSX", created_ns=1_700_000_000_000_000_000 + i)
    return d


def _er_fields(i: int) -> tuple[tuple[int, str], ...]:
    """An ExecutionReport New's body as the delivery journals it (OutboundMessage.fields: about 20
    (int, str) pairs)."""
    return ((37, f"00000000-0000-0000-0000-{i:012d}"), (11, f"c{i}"), (17, f"e{i}-0"), (150, "0"),
            (39, "0"), (1, "XS:0001"), (55, "XS04"), (207, "XSX"), (54, "1"), (38, "100"), (40, "2"),
            (44, "4.00"), (59, "0"), (151, "100"), (14, "0"), (6, "0"), (60, "20261206-16:00:00.000000"),
            (15, "AUD"), (528, "A"), (581, "1"))


def _flood_order(store: Any, decision_cls: Any, i: int) -> Any:
    """drive.py's flood per order (a D that rests): the new order with its decision, then in a
    later turn the New (order state, ExecID, one outbound row), then its delivery confirmed."""
    rid = store.allocate_request_id()
    data = _flood_data(i)
    store.record_new_order(session=S1, request_id=rid, cl_ord_id=f"c{i}", account="XS:0001", state="A",
                           data={**data, "state": "A", "order_id": None}, created=i,
                           decision=decision_cls(S1, f"1700000000{i:09d}:{i}", "D", f"c{i}", "accepted", rid))
    return rid, data


def _journal_records(n: int, window: int, flood: bool = False) -> list[tuple[int, bytes]]:
    """The journal records of ``n`` orders (Steps: 4 loop turns each), ``window`` of them in
    flight at a time (the order_roundtrip driver's window is 50), as the store wrote them.
    ``flood``: drive.py's flood instead (orders rest: N, then A with the New, then its confirmation)."""
    from gateway.store import Store
    from gateway.store.orders_store import Decision

    async def run(path: Path) -> list[tuple[int, bytes]]:
        store = Store(path, apply_every=1e6)  # nothing applied: the records stay in memory
        store.group_commit(asyncio.get_running_loop())
        steps = Steps(store, Decision, None)
        slots = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            async with slots:
                if not flood:
                    await steps.order(i)
                    return
                rid, data = _flood_order(store, Decision, i)
                await steps._commit(0.0)
                (seq,) = store.apply(request_id=rid, cl_ord_id=f"c{i}", order_id=data["order_id"], state="0",
                                     working=True, data=data, session=S1, exec_ids=[f"e{i}-0"],
                                     outbound=[(S1, f"e{i}-0", True, "8", _er_fields(i))])
                await steps._commit(0.0)
                store.confirm_sent(seq)

        await asyncio.gather(*(one(i) for i in range(n)))
        frames = list(store._unapplied)
        store._unapplied = []
        store.group_commit(None)
        store.close()
        return frames

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(run(Path(tmp) / "gw.sqlite"))


def _apply_micro(n: int, repeat: int, ref: str, window: int, slice_: int, flood: bool = False) -> None:
    """CPU of bringing SQLite up to date from the journal, per order and per record: the records of
    ``n`` orders applied in batches of ``slice_`` records (0: the loop's APPLY_SLICE, as
    ``_apply_tick`` does), on a fresh file each run; best of ``repeat``. ``ref``: also the apply of
    that git ref."""
    import orjson

    from gateway.store import sqlite_apply
    from gateway.store.database import SqliteDatabase
    from gateway.store.orders_store import APPLY_SLICE

    frames = _journal_records(n, window, flood)
    size = slice_ or APPLY_SLICE
    # Orders whose "N" and "A" fall in different batches: the row is inserted, then updated.
    batch_of: dict[str, set[int]] = {}
    decode = getattr(sqlite_apply, "decode_unit", orjson.loads)  # a tree of before: plain JSON units
    for k, (_, payload) in enumerate(frames):
        if payload[:5] in (b'["N",', b'["A",'):
            rid = decode(payload)[2 if payload[2:3] == b"N" else 1]
            batch_of.setdefault(rid, set()).add(k // size)
    split = sum(len(b) > 1 for b in batch_of.values()) / max(1, len(batch_of))
    impls: list[tuple[str, Any]] = [("this tree", sqlite_apply.apply_frames)]
    if ref:
        src = subprocess.check_output(["git", "-C", str(ROOT), "show",
                                       f"{ref}:gateway/store/sqlite_apply.py"])
        mod = types.ModuleType("bench_apply_before")
        exec(compile(src, f"{ref}:gateway/store/sqlite_apply.py", "exec"), mod.__dict__)
        impls.insert(0, (ref, mod.apply_frames))
    what = " resting (flood)" if flood else ""
    per_order = sum(len(p) for _, p in frames) / n
    print(f"apply of {len(frames)} journal records ({n} orders{what}, {window} in flight, {per_order:.0f} "
          f"bytes per order) in slices of {size}, {split:.0%} of the orders' N and A in different slices; "
          f"best of {repeat}")
    print(f"{'apply':12} {'CPU us/order':>13} {'CPU us/record':>14} {'wall ms':>9}")
    for name, fn in impls:
        best = (float("inf"), 0.0)
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                db = SqliteDatabase(Path(tmp) / "gw.sqlite")
                c0, w0 = time.process_time(), time.perf_counter()
                for i in range(0, len(frames), size):
                    fn(db.conn, frames[i:i + size])
                c1, w1 = time.process_time(), time.perf_counter()
                db.close()
            best = min(best, (c1 - c0, w1 - w0))
        cpu, wall = best
        print(f"{name:12} {cpu / n * 1e6:13.1f} {cpu / len(frames) * 1e6:14.2f} {wall * 1e3:9.1f}")


if __name__ == "__main__":
    main()
