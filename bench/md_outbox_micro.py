"""Micro-benchmark of one market-data copy through the outbox and QuickFIX, nothing else.

    PYTHONPATH=. python3 bench/md_outbox_micro.py [--root /work/main] [--sessions 20] [--passes 3000]

A real QuickFIX acceptor (polled on an asyncio loop thread of this process, the gateway's
QuickFIX log and SessionWatch on quiet sessions, memory store, persist_messages false), N raw
FIX 4.4 clients in a child process that log on and read. Every millisecond the loop thread
builds one incremental X body (as the market-data state does) and sends one copy per session,
each with its own MDReqID; the loop thread's CPU (``time.thread_time_ns``) over the sends of
a pass, divided by the copies, is the figure: conversion (reuse of the kept message), the
outbox, ``Session::send`` with its toApp and onOutgoing callbacks, and the socket write.

Each repeat prints the mean over its passes; ``per-pass p10`` is the low decile of the passes'
own figures (20 copies each), which a busy shared machine moves much less than the mean.

What a copy cost here in round 19 (20 sessions, in one process, low decile, ~9-11 us in all):
the Python around ``Session::send`` (``--stub``) ~4 us, the first copy's conversion included;
the quiet log's ``onOutgoing`` (SWIG director + SessionWatch's function) ~1.25 us (a C++
``NullLog`` instead, same process), of which the watch's Python ~0.6-0.9; toApp's director
(two SWIG proxies per call) ~1 us; the rest is QuickFIX C++ and the kernel (``poll`` + ``send``
per copy in ``SocketConnection::processQueue``; ``send`` alone ~1/3 of the drain by py-spy).
A file message store adds ~0.5-0.7 us per copy even with PersistMessages=N (FileStore rewrites
its seqnums file on every message).

Round 20 (``--stub``, lanes kept as the service keeps them, the same driver on both checkouts,
per-pass p10): the Python around ``Session::send`` 3.6-3.9 us (e51b5e5, ``window``) -> 2.9-3.0
us (``windows``: the pass's shared checks once per call, the converter's last-copy path); with
``--gap 0`` (warm caches) 3.2-3.3 -> 2.5. The service's take (``MarketDataState.pass_taker``)
and the watch's counting are not in this figure (the micro hands over ready copies; the watch
runs only with the real send).

``--path each`` is the service's generic pass (``backlog`` then ``send`` per copy),
``--path window`` its QuickFIX pass per session (``send_window``, when the checkout has it),
``--path windows`` the pass over all sessions in one call (``send_windows``, round 20 on): what
the service runs. No simulator
and no Zenith: nothing else holds the GIL in this process while the loop sends.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

SOH = b"\x01"


def _encode(fields: list[tuple[int, str]]) -> bytes:
    body = SOH.join(f"{t}={v}".encode() for t, v in fields) + SOH
    head = f"8=FIX.4.4\x019={len(body)}\x01".encode()
    msg = head + body
    return msg + f"10={sum(msg) % 256:03d}\x01".encode()


def clients(port: int, sessions: int, ready: Any, stop: Any) -> None:
    """Raw partners: log on, then read and drop everything until ``stop`` is set."""
    socks = []
    for i in range(1, sessions + 1):
        s = socket.create_connection(("127.0.0.1", port))
        stamp = time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime())
        s.sendall(_encode([(35, "A"), (49, f"MD{i:02d}"), (56, "PLXTRA"), (34, "1"), (52, stamp),
                           (98, "0"), (108, "30"), (141, "Y")]))
        s.settimeout(10)
        got = b""
        while b"\x0135=A\x01" not in got:
            got += s.recv(4096)
        s.setblocking(False)
        socks.append(s)
    ready.set()
    import selectors

    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            try:
                key.fileobj.recv(1 << 17)   # type: ignore[union-attr]
            except BlockingIOError:
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--passes", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--path", choices=["each", "window", "windows", "both"], default="both",
                        help="both: each and the checkout's QuickFIX pass (windows, else window)")
    parser.add_argument("--gap", type=float, default=0.001,
                        help="s between passes (0 with --stub: more samples for a profiler)")
    parser.add_argument("--stub", action="store_true",
                        help="Session::send replaced by a no-op: the Python around it only")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    from gateway.app.testing import free_port, write_test_config
    from gateway.bridge.marketdata.messages import incremental_body
    from gateway.bridge.marketdata.request import MDInstrument
    from gateway.bridge.marketdata.state import SharedBodyMessage
    from gateway.bridge.marketdata.view import MDEntry
    from gateway.config.loader import load_config
    from gateway.fix.engine import FixEngine, load_dictionaries
    from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
    from gateway.fix.md_send import SharedBodyConverter
    from gateway.ops.events import SessionWatch
    from gateway.ops.fixlog import GatewayLogFactory
    from gateway.ops.metrics import GatewayMetrics, LiveSources
    from gateway.vocab.records import SessionKey

    tmp = Path(tempfile.mkdtemp(prefix="md_outbox_micro-"))
    port = free_port()
    sessions = [{"name": f"md{i:02d}", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                 "target_comp_id": f"MD{i:02d}", "heartbeat_interval": 30,
                 "accept_reset_seq_num_flag": True, "markets": ["XSX"], "trading": False,
                 "persist_messages": False, "log_messages": False}
                for i in range(1, args.sessions + 1)]
    config = load_config(write_test_config(tmp, zenith_url="ws://127.0.0.1:9/Zenith", fix_port=port,
                                           sessions=sessions, message_store="memory"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="loop", daemon=True)
    thread.start()
    outbox = QuickFixOutbox(load_dictionaries(config).get, loop)
    outbox.convert = SharedBodyConverter(outbox.convert)

    class Nothing:
        handled_types: frozenset[str] = frozenset()

        def dispatch(self, msg: Any) -> None:
            pass

        def logon(self, key: Any) -> None:
            pass

        def logout(self, key: Any) -> None:
            pass

    names = {f"FIX.4.4:PLXTRA->MD{i:02d}": f"md{i:02d}" for i in range(1, args.sessions + 1)}
    watch = SessionWatch(names, GatewayMetrics(LiveSources()))
    if os.environ.get("MICRO_NOWATCH"):   # what the watch costs per copy (an experiment)
        watch.outgoing = lambda session_text, raw: None   # type: ignore[method-assign]
    factory = GatewayLogFactory(tmp / "log", config.gateway.logs, watch, frozenset(names))
    app = GatewayApplication(config, Nothing(), loop, outbox)   # type: ignore[arg-type]
    engine = FixEngine(config, app, log_factory=factory)
    engine.start()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=clients, args=(port, args.sessions, ready, stop))
    proc.start()
    if not ready.wait(30):
        raise SystemExit("clients did not log on")
    time.sleep(0.5)
    keys = [SessionKey("FIX.4.4", "PLXTRA", f"MD{i:02d}") for i in range(1, args.sessions + 1)]
    req = [(262, f"md-MD{i:02d}") for i in range(1, args.sessions + 1)]
    inst = MDInstrument("XS01", "XSX")
    has_window = hasattr(outbox, "send_window")
    has_windows = hasattr(outbox, "send_windows")
    # Lanes kept as the service keeps them (its queue's ``edge``): no look-up per copy.
    lanes = [outbox.lane(k) for k in keys] if has_window else []
    paths = (["each", "windows" if has_windows else "window"] if args.path == "both" else [args.path])
    paths = [p for p in paths if (p != "window" or has_window) and (p != "windows" or has_windows)]

    if args.stub:
        import quickfix as fix

        from gateway.fix import handoff

        def no_send(*_: Any) -> bool:
            return True
        fix.Session.send = no_send   # type: ignore[method-assign,assignment]
        handoff._session_send = no_send   # type: ignore[attr-defined]

    async def run(path: str) -> tuple[float, float]:
        spent = copies = 0
        per_pass: list[float] = []   # us per copy of each pass: its low decile resists a loaded machine
        for n in range(args.passes):
            entry = MDEntry("0", price=Decimal("10.00") + n % 50, size=Decimal(100 + n), entry_id=f"o{n}",
                            order_id=f"o{n}", action="0", position=1)
            body = incremental_body("4.4", inst, [entry], rpt_seq=n + 1)
            msgs = [SharedBodyMessage(k, "X", (r, *body), body, r[1]) for k, r in zip(keys, req, strict=True)]
            t0 = time.thread_time_ns()
            if path == "each":
                for key, msg in zip(keys, msgs, strict=True):
                    if 4 - outbox.backlog(key) > 0:
                        outbox.send(msg)
                        copies += 1
            elif path == "windows":
                taken_all = outbox.send_windows(lanes, msgs, 4, 512, lambda m, room: [m])
                copies += sum(t for t in taken_all if t > 0)
            else:
                for lane, msg in zip(lanes, msgs, strict=True):
                    taken = outbox.send_window(lane, 4, 512, lambda room, m=msg: [m])
                    copies += max(0, taken)
            took = time.thread_time_ns() - t0
            spent += took
            per_pass.append(took / len(keys) / 1e3)
            await asyncio.sleep(args.gap)
        per_pass.sort()
        return spent / max(1, copies) / 1e3, per_pass[len(per_pass) // 10]

    try:
        results: dict[str, list[tuple[float, float]]] = {p: [] for p in paths}
        for _ in range(args.repeats):
            for path in paths:
                results[path].append(asyncio.run_coroutine_threadsafe(run(path), loop).result(600))
        for path, pairs in results.items():
            xs, lows = [m for m, _ in pairs], [low for _, low in pairs]
            print(f"root {root} load {os.getloadavg()[0]:.2f} path {path}: us per copy, best "
                  f"{min(xs):.2f} (all {', '.join(f'{x:.2f}' for x in xs)}); per-pass p10 best "
                  f"{min(lows):.2f}, {args.sessions} sessions")
    finally:
        stop.set()
        proc.join(10)
        engine.stop(timeout=5.0)
        engine.release()
        factory.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
