"""Micro-benchmark of the gateway's FIX edge on an order: the D in, the ExecutionReport out.

    PYTHONPATH=. python3 bench/fix_edge_micro.py [--root /work/main] [--rounds 41] [--batch 400] [--cold]

What runs in the gateway's Python around QuickFIX per order (issue 13, brief R19), each piece
alone, on real QuickFIX objects (no socket), on a running asyncio loop as in the gateway:
``record_from_text`` (the D's text -> record), ``fromApp`` (called from Python with a real
``fix.Message`` and ``fix.SessionID``: the copy, its checks, the key, the journal and dispatch
hooks, no SWIG director), ``to_quickfix`` (the ER record -> ``quickfix.Message``) and
``outbox.send`` (the ER through a real, not logged-on QuickFIX session: conversion,
``Session::send`` with its memory store and toApp through the director, no socket and no
onOutgoing).

Figures are us per call, the best of ``--rounds`` batches of ``--batch`` calls (CPU time of the
process, ``time.process_time_ns``): the best batch is the one least disturbed by the other
processes on the machine. ``--cold``: the median of single calls, each after a 48 MB read and
some unrelated interpreter work, closer to what an order meets at 200/s (the stamps split of
bench/order_roundtrip.py shows each piece at several times its hot cost). ``--root`` picks the
checkout whose ``gateway`` package is measured, so two checkouts can be compared in turns on the
same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

COLD = False   # --cold
D_TEXT = ("8=FIX.4.4\x019=155\x0135=D\x0134=102\x0149=CLIENT1\x0152=20261206-18:18:30.797\x0156=PLXTRA\x01"
          "1=0001\x0111=gateway-paced-102\x0121=1\x0138=100\x0140=2\x0144=10.5\x0154=1\x0155=BHP.AX\x01"
          "59=0\x0160=20261206-18:18:30.797\x0110=123\x01")


_EVICT = bytearray(0)


def _evict() -> None:
    """Push the caches out as the gateway finds them at 200 orders/s (other work between orders):
    read a buffer larger than the last-level cache and run unrelated interpreter code."""
    zlib.crc32(_EVICT)
    json.loads(json.dumps({str(i): [i, float(i), None] for i in range(200)}))


def cold_median(fn: Callable[[], object], calls: int) -> float:
    """The median of ``calls`` single calls, each right after :func:`_evict` (wall clock)."""
    clock = time.perf_counter_ns
    took = []
    for _ in range(calls):
        _evict()
        t0 = clock()
        fn()
        took.append(clock() - t0)
    return statistics.median(took) / 1000


def best_of(fn: Callable[[], object], rounds: int, batch: int) -> float:
    if COLD:
        return cold_median(fn, rounds * 10)
    clock = time.process_time_ns
    best = float("inf")
    for _ in range(rounds):
        t0 = clock()
        for _ in range(batch):
            fn()
        best = min(best, (clock() - t0) / batch / 1000)
    return best


def er_fields(i: int) -> tuple[tuple[int, str], ...]:
    return ((37, f"O{i}"), (11, f"C{i}"), (17, f"E{i}"), (150, "0"), (39, "0"), (1, "0001"), (55, "BHP.AX"),
            (54, "1"), (38, "100"), (40, "2"), (44, "10.5"), (59, "0"), (151, "100"), (14, "0"), (6, "0"),
            (60, "20261206-18:18:30.797"))


def measure(rounds: int, batch: int, directory: Path) -> dict[str, float]:
    import quickfix as fix

    from gateway.app.testing import write_test_config
    from gateway.config.loader import load_config
    from gateway.fix.convert import record_from_text, to_quickfix
    from gateway.fix.engine import FixEngine, load_dictionaries
    from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
    from gateway.vocab.records import OutboundMessage, SessionKey

    class Inbox:
        handled_types = frozenset({"D", "F", "G"})

        def dispatch(self, msg: Any) -> None:
            pass

        def logon(self, key: Any) -> None:
            pass

        def logout(self, key: Any) -> None:
            pass

    class Journal:
        def append(self, record: Any) -> None:
            pass

    key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
    sessions = [{"name": "client1", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                 "target_comp_id": "CLIENT1", "accounts": ["0001"]}]
    config = load_config(write_test_config(directory, "ws://127.0.0.1:9/Zenith", sessions=sessions,
                                           message_store="memory"))
    loop = asyncio.new_event_loop()
    dictionaries = load_dictionaries(config).get
    outbox = QuickFixOutbox(dictionaries, loop)
    app = GatewayApplication(config, Inbox(), loop, outbox, Journal(), frozenset({"D"}))
    engine = FixEngine(config, app)
    engine.build()
    message = fix.Message(D_TEXT, False)
    sid = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1")
    er = OutboundMessage(key, "8", er_fields(1))
    lane_dictionaries = dictionaries(key)
    ers = [OutboundMessage(key, "8", er_fields(i)) for i in range(rounds * batch)]
    sends = iter(ers)
    app.onCreate(sid)   # as QuickFIX does when it creates the session

    async def on_the_loop() -> dict[str, float]:
        # As in the gateway: every call on the running loop's thread, none inside a poll.
        return {
            "record_from_text(D)": best_of(lambda: record_from_text(D_TEXT, key), rounds, batch),
            "fromApp(D), from Python": best_of(lambda: app.fromApp(message, sid), rounds, batch),
            "to_quickfix(ER)": best_of(lambda: to_quickfix(er, lane_dictionaries), rounds, batch),
            "outbox.send(ER) via Session::send": best_of(lambda: outbox.send(next(sends)), rounds, batch),
        }

    figures = loop.run_until_complete(on_the_loop())
    engine.release()
    loop.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--cold", action="store_true",
                        help="median of single calls (10 x --rounds), each after the caches were evicted")
    args = parser.parse_args()
    global COLD, _EVICT
    if args.cold:
        COLD = True
        _EVICT = bytearray(os.urandom(1 << 20) * 48)   # 48 MB: more than the last-level cache
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(args.rounds, args.batch, Path(tmp))
    how = (f"median of {10 * args.rounds} single calls after evicting the caches (wall clock)" if COLD
           else f"best of {args.rounds} x {args.batch} (process CPU time)")
    print(f"root {root} load {os.getloadavg()[0]:.2f}: us per call, {how}")
    for name, value in figures.items():
        print(f"  {name:36s} {value:7.2f}")


if __name__ == "__main__":
    main()
