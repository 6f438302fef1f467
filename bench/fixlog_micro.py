"""Micro-benchmark of the QuickFIX log and SessionWatch on one order's D -> New, nothing else.

    PYTHONPATH=. python3 bench/fixlog_micro.py [--root /work/main] [--orders 2000] [--runs 7]

What QuickFIX calls while an order passes (issue 13): ``onIncoming`` with the D before
``fromApp``, ``onOutgoing`` with the ER(150=0) inside ``Session::send``, then the end of the
loop turn (the factory's flush: files written, and wherever the checkout does it, the masking,
line formatting and the watch's classification). A real ``GatewayLogFactory`` with a real
``SessionWatch`` and ``GatewayMetrics`` on real files in a temporary directory, on a real
asyncio loop; one order per loop turn, so each turn ends with its flush as in the gateway.

Printed per message (us, best of ``--runs``, ``time.perf_counter_ns``): ``in`` = onIncoming(D),
``out`` = onOutgoing(ER), ``flush`` = the turn's flush divided by its two messages. ``in`` and
``out`` are what runs before the order's bytes move (the critical path); ``flush`` runs after
the turn's sends. Calls are made from Python, so the SWIG director's own cost (a few us per
call, the same before and after) is not in the figures. Also ``toApp``'s 1137 check is timed
on a real ``fix.Message`` (the ER): what ``GatewayApplication.toApp`` costs per application
message sent by the outbox outside a QuickFIX poll, called from Python, and ``outbox.send`` of an
ER through a real QuickFIX session (built, not logged on: toApp through the SWIG director and
the memory store, no socket, no onOutgoing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SESSION = "FIX.4.4:PLXTRA->CLIENT1"


def _raw(msg_type: str, seq: int, body: str) -> str:
    return (f"8=FIX.4.4\x019=180\x0135={msg_type}\x0134={seq}\x0149=CLIENT1\x01"
            f"52=20261206-11:00:00.000123\x0156=PLXTRA\x01{body}10=000\x01")


def run_once(orders: int, directory: Path) -> tuple[float, float, float]:
    import quickfix as fix

    from gateway.config.model import LogSettings
    from gateway.ops.events import SessionWatch
    from gateway.ops.fixlog import GatewayLogFactory
    from gateway.ops.metrics import GatewayMetrics

    watch = SessionWatch({SESSION: "client1"}, GatewayMetrics())
    factory = GatewayLogFactory(directory, LogSettings(), watch)
    log: Any = factory.create(fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    turn = factory._turn
    ds = [_raw("D", i + 2, f"1=ACC1\x0111=C{i}\x0121=1\x0138=100\x0140=2\x0144=10.5\x0154=1\x0155=XS01\x01"
                           "59=0\x0160=20261206-11:00:00.000\x01") for i in range(orders)]
    ers = [_raw("8", i + 2, f"1=ACC1\x016=0\x0111=C{i}\x0114=0\x0117=E{i}\x0137=O{i}\x0138=100\x0139=0\x01"
                            "40=2\x0144=10.5\x0154=1\x0155=XS01\x01150=0\x01151=100\x01")
           for i in range(orders)]
    clock = time.perf_counter_ns
    spent = [0, 0, 0]

    async def main() -> None:
        for d, er in zip(ds, ers, strict=True):
            t0 = clock()
            log.onIncoming(d)
            t1 = clock()
            log.onOutgoing(er)
            t2 = clock()
            turn.flush()   # what the loop runs at the turn's end (its call_soon finds nothing left)
            t3 = clock()
            spent[0] += t1 - t0
            spent[1] += t2 - t1
            spent[2] += t3 - t2
            await asyncio.sleep(0)

    asyncio.run(main())
    factory.close()
    return spent[0] / orders / 1000, spent[1] / orders / 1000, spent[2] / orders / 2 / 1000


def to_app_once(orders: int) -> float:
    """GatewayApplication.toApp on the ER, as the outbox's send makes QuickFIX call it."""
    import quickfix as fix

    from gateway.fix.handoff import GatewayApplication

    class _Outbox:
        sending_md = False
        _driver = None

    app = GatewayApplication.__new__(GatewayApplication)
    app._outbox = _Outbox()   # type: ignore[attr-defined]
    try:   # a checkout whose toApp knows the loop driver: the gateway's case (sends outside a poll)
        from gateway.fix.loop_driver import LoopDriver

        loop = asyncio.new_event_loop()
        app._outbox._driver = LoopDriver(loop)   # type: ignore[attr-defined]
    except Exception:
        loop = None
    message = fix.Message()
    message.getHeader().setField(35, "8")
    message.setField(11, "C1")
    message.setField(150, "0")
    sid = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1")
    clock = time.perf_counter_ns
    t0 = clock()
    for _ in range(orders):
        app.toApp(message, sid)
    took = clock() - t0
    if loop is not None:
        loop.close()
    return took / orders / 1000


def send_once(orders: int, directory: Path) -> float:
    """The outbox's send of an ER through QuickFIX (``Session::send``: fill, toApp through the
    SWIG director, store), the session built but not logged on, so nothing is written to a
    socket and onOutgoing is not called: what toApp costs with its director, per send."""
    from gateway.app.testing import write_test_config
    from gateway.config.loader import load_config
    from gateway.fix.engine import FixEngine, load_dictionaries
    from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
    from gateway.vocab.records import OutboundMessage, SessionKey

    sessions = [{"name": "client1", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                 "target_comp_id": "CLIENT1", "accounts": ["ACC1"]}]
    config = load_config(write_test_config(directory, "ws://127.0.0.1:9/Zenith", sessions=sessions,
                                           message_store="memory"))
    loop = asyncio.new_event_loop()   # not running: sends are made on this thread, as on the loop's
    outbox = QuickFixOutbox(load_dictionaries(config).get, loop)
    engine = FixEngine(config, GatewayApplication(config, None, loop, outbox))
    engine.build()
    key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
    ers = [OutboundMessage(key, "8", ((37, f"O{i}"), (11, f"C{i}"), (17, f"E{i}"), (150, "0"), (39, "0"),
                                      (1, "ACC1"), (55, "XS01"), (54, "1"), (38, "100"), (151, "100"),
                                      (14, "0"), (6, "0"))) for i in range(orders)]
    clock = time.perf_counter_ns
    t0 = clock()
    for er in ers:
        outbox.send(er)
    took = clock() - t0
    engine.release()
    loop.close()
    return took / orders / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    best = [float("inf")] * 5
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            figures = (*run_once(args.orders, Path(tmp)), to_app_once(args.orders))
        with tempfile.TemporaryDirectory() as tmp:
            figures = (*figures, send_once(args.orders, Path(tmp)))
        best = [min(b, f) for b, f in zip(best, figures, strict=True)]
    print(f"root {root} load {os.getloadavg()[0]:.2f} orders {args.orders} runs {args.runs}: us per message, "
          f"best of runs")
    print(f"  onIncoming(D) {best[0]:.2f}  onOutgoing(ER) {best[1]:.2f}  critical path per order "
          f"{best[0] + best[1]:.2f}")
    print(f"  turn flush per message {best[2]:.2f}  (after the turn's sends)")
    print(f"  toApp (outbox send, outside a poll) {best[3]:.2f}")
    print(f"  outbox.send of an ER through Session::send (toApp and its director, no socket) {best[4]:.2f}")


if __name__ == "__main__":
    main()
