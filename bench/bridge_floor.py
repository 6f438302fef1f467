"""The floor of a FIX -> Zenith order bridge in this stack, against the gateway and the bare echo.

    PYTHONPATH=. python3 bench/bridge_floor.py [--orders 10000] [--paced-orders 1000] [--rate 200]

Issue 13 asks for the gateway's CPU per order (target 300 us) and its throughput (target half of a
bare QuickFIX echo's). This bench says how much of the gap any Python bridge on QuickFIX's binding
and ``websockets`` must pay, whatever its design. Three servers, each in its own process, take the
same NewOrderSingles from the same raw-socket FIX 4.4 client (``order_roundtrip.RawClient``):

* ``echo``: order_roundtrip's bare QuickFIX acceptor (a ThreadedSocketAcceptor answering each D
  with an ExecutionReport New at once): FIX only.
* ``floor``: the least a bridge can do and still be one. The same QuickFIX build, its polled
  acceptor driven on the asyncio loop (``gateway.fix.loop_driver``, the gateway's FIX edge), a
  Zenith connection to the simulator (``gateway.zenith.transport.ZenithConnection``: websockets'
  sans-I/O core, frames handed over inline), subscribed to the account's ``Orders`` feed. Per D:
  five fields read, a PlaceOrder written as JSON; per answer frame: the JSON decoded exactly
  (``parse_float=Decimal``, as any bridge must: prices), an ExecutionReport New (or Rejected) built
  like the echo's and sent; per Orders publish: decoded and walked. Nothing else: no validation,
  no entitlements, no throttle, no order state, no journal or database, no ClOrdID or duplicate
  checks, no metrics, no message log of our own, no timers.
* ``gateway``: ``plxtra-fix run`` on the same simulator (file message store, SQLite store).

The simulator runs in its own process (``plxtra-fix sim --activity off``), one fresh per server.
For each server: CPU per order (user + system of the server's process only, from /proc) and
orders/s at the maximum rate (``--window`` orders in flight), then p50/p99 of D -> first
ExecutionReport at ``--rate`` orders/s, with the server's own part of it ("own part": the floor's
stamps, fromApp -> PlaceOrder written plus answer bytes read -> ExecutionReport sent; the
gateway's ``request_answer`` stage from its /metrics, which times the same two legs). The floor's
figures bound what design work can reach: the gateway's CPU per order minus the floor's is the
most that cutting our own code can save, and the floor's own part at 200/s is the least any bridge
here adds to D -> New (the gateway-added latency target is 300 us).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from order_roundtrip import (  # noqa: E402
    RawClient,
    Result,
    acceptor_settings_text,
    add_admin,
    bucket_quantile,
    flood,
    paced,
    proc_counters,
    scrape_added,
    stop,
    wait_port,
)

from gateway.fix.testing import free_port  # noqa: E402

ACCOUNT = "XS:0001"   # the simulator's demo account; the D's Account (1) "0001" maps to it
EXCHANGE = "XSX"
_SIDES = {"1": "Bid", "2": "Ask"}


# -- the floor bridge (child process: `bridge_floor.py --serve-floor PORT SIM_URL DIR`) -------------

def serve_floor(port: int, sim_url: str, work: Path) -> None:
    asyncio.run(_floor_main(port, sim_url, work))


async def _floor_main(port: int, sim_url: str, work: Path) -> None:
    import quickfix as fix
    from websockets.asyncio.client import connect

    from gateway.fix.loop_driver import LoopDriver
    from gateway.zenith.client import SUBPROTOCOL
    from gateway.zenith.transport import ZenithConnection
    from gateway.zenith.values import dumps, loads

    loop = asyncio.get_running_loop()
    pending: dict[int, tuple[str, str, str, str, Any, int]] = {}   # TransactionID -> the D's fields
    # The floor's own part of D -> New, timed as the gateway's stages time it (gateway.stages):
    # fromApp -> PlaceOrder written, plus answer bytes read -> ER handed to QuickFIX (here: sent).
    added_ns: list[int] = []
    read_ns = [0]
    counters = {"tid": 0, "er": 0}
    sessions: dict[str, Any] = {}

    def send_er(cl: str, sym: str, side: str, qty: str, sid: Any, order_id: str, accepted: bool) -> None:
        counters["er"] += 1
        er = fix.Message()
        er.getHeader().setField(35, "8")
        status = "0" if accepted else "8"
        for tag, value in ((37, order_id), (11, cl), (17, f"F{counters['er']}"), (150, status),
                           (39, status), (55, sym), (54, side), (38, qty), (151, qty if accepted else "0"),
                           (14, "0"), (6, "0")):
            er.setField(tag, value)
        fix.Session.sendToTarget(er, sid)

    def on_frame(text: str) -> None:
        frame = loads(text)
        tid = frame.get("TransactionID")
        data = frame.get("Data")
        if tid is not None:
            d = pending.pop(tid, None)
            if d is None:
                return
            cl, sym, side, qty, sid, request_ns = d
            ok = isinstance(data, dict) and data.get("Result") == "Success"
            order = data.get("Order") if ok else None
            order_id = order.get("ID", "NONE") if isinstance(order, dict) else "NONE"
            send_er(cl, sym, side, qty, sid, order_id, ok)
            added_ns.append(request_ns + time.perf_counter_ns() - read_ns[0])
        elif isinstance(data, list):
            # An Orders publish: what any bridge must at least look at (fills come this way).
            for change in data:
                if isinstance(change, dict):
                    change.get("O")
                    order = change.get("Order")
                    if isinstance(order, dict):
                        order.get("Status"), order.get("ExecutedQuantity")

    class StampedConnection(ZenithConnection):
        def data_received(self, data: bytes) -> None:
            read_ns[0] = time.perf_counter_ns()
            super().data_received(data)

    ws = await connect(sim_url, subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                       additional_headers={"Authorization": "Bearer demo"}, ping_interval=None,
                       ping_timeout=None, proxy=None,
                       create_connection=partial(StampedConnection, on_message=on_frame))  # type: ignore[arg-type]
    assert isinstance(ws, ZenithConnection)
    zenith: ZenithConnection = ws   # narrowed once, for the closures below
    zenith.send_text_soon(json.dumps({"Controller": "Trading", "Topic": f"Orders!{ACCOUNT}",
                                      "Action": "Sub"}))

    class Floor(fix.Application):
        def onCreate(self, sid): pass
        def onLogon(self, sid):
            # fromApp's SessionID is valid only during the call: keep an own copy per session.
            sessions[sid.toString()] = fix.SessionID(sid.getBeginString().getValue(),
                                                     sid.getSenderCompID().getValue(),
                                                     sid.getTargetCompID().getValue())

        def onLogout(self, sid): pass
        def toAdmin(self, msg, sid): pass
        def fromAdmin(self, msg, sid): pass
        def toApp(self, msg, sid): pass

        def fromApp(self, msg, sid):
            started_ns = time.perf_counter_ns()
            try:
                cl, sym, side, qty, price = (msg.getField(11), msg.getField(55), msg.getField(54),
                                             msg.getField(38), msg.getField(44))
                counters["tid"] += 1
                tid = counters["tid"]
                session = sessions[sid.toString()]
                zenith.send_text_soon(dumps({
                    "Controller": "Trading", "Topic": "PlaceOrder", "TransactionID": tid,
                    "Data": {"Account": ACCOUNT,
                             "Details": {"Exchange": EXCHANGE, "Code": sym, "Side": _SIDES.get(side, "Bid"),
                                         "Style": "Market", "Type": "Limit", "LimitPrice": Decimal(price),
                                         "Quantity": int(qty), "Validity": "UntilDay"},
                             "Route": {"Algorithm": "Market", "Market": f"{EXCHANGE}::{EXCHANGE}"}}}))
                # Outside a burst send_text_soon writes at once, as the gateway's requests are written.
                pending[tid] = (cl, sym, side, qty, session, time.perf_counter_ns() - started_ns)
            except Exception as exc:   # never let a Python exception reach QuickFIX
                print("floor error:", exc, file=sys.stderr)

    settings = fix.SessionSettings()
    settings.setFromString(acceptor_settings_text(port, work))
    app = Floor()
    acceptor = fix.SocketAcceptor(app, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
    driver = LoopDriver.for_loop(loop)
    driver.add(acceptor)
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    (work / "floor_added_ns.json").write_text(json.dumps(added_ns))
    driver.remove(acceptor)
    acceptor.stop(True)
    await ws.close()


# -- the driver ------------------------------------------------------------------------------------

def start_sim(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "gateway", "sim", "--port", str(port), "--activity", "off"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, sim, 30)
    return sim, f"ws://127.0.0.1:{port}/Zenith"


def start_server(name: str, work: Path, sim_url: str,
                 env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, int | None]:
    """The server's process, its FIX port and (the gateway only) its admin API's port."""
    port = free_port()
    admin = None
    here = str(Path(__file__).resolve())
    if name == "echo":
        bare = str(ROOT / "bench" / "order_roundtrip.py")
        cmd = [sys.executable, bare, "--serve-bare", str(port), str(work)]
    elif name == "floor":
        cmd = [sys.executable, here, "--serve-floor", str(port), sim_url, str(work)]
    else:
        from gateway.app.testing import write_test_config

        cfg = write_test_config(work / "gw", sim_url, port, message_store="file")
        admin = free_port()
        add_admin(cfg, admin)
        cmd = [sys.executable, "-m", "gateway", "run", "--config", str(cfg), "--log-level", "WARNING"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, 60)
    return proc, port, admin


def paced_added(work: Path, paced_orders: int, admin: int | None,
                before: dict[str, dict[float, float]] | None) -> tuple[float, float]:
    """p50 and p99 in us of the server's own part of D -> New over the paced phase: the floor's
    own stamps (written at its exit), the gateway's ``request_answer`` stage from /metrics (its
    histogram's buckets, interpolated). NaN for the echo, which has no Zenith leg."""
    if admin is not None and before is not None:
        after = scrape_added(admin)
        stage = "request_answer"
        return tuple(bucket_quantile(q, before.get(stage, {}), after.get(stage, {}))[0] * 1e6
                     for q in (0.5, 0.99))  # type: ignore[return-value]
    stamps = work / "floor_added_ns.json"
    if not stamps.exists():
        return float("nan"), float("nan")
    ordered = sorted(json.loads(stamps.read_text())[-paced_orders:])
    if not ordered:
        return float("nan"), float("nan")
    return (ordered[len(ordered) // 2] / 1e3, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e3)


def measure(name: str, args: argparse.Namespace
            ) -> tuple[Result, Result, tuple[float, float], tuple[float, float]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix=f"floor-{name}-") as tmp:
        sim, url = start_sim(env)
        try:
            proc, port, admin = start_server(name, Path(tmp), url, env)
            added = (float("nan"), float("nan"))
            try:
                client = RawClient(port)
                client.logon()
                paced(client, "warm", 100, 200.0, "1.00")   # connections, caches, first allocations
                _, cpu0 = proc_counters(proc.pid)
                _, sim0 = proc_counters(sim.pid)
                own0 = sum(os.times()[:2])
                fast = flood(client, "f", args.orders, args.window, "1.00")
                _, cpu1 = proc_counters(proc.pid)
                _, sim1 = proc_counters(sim.pid)
                own1 = sum(os.times()[:2])
                fast.cpu_us = (cpu1 - cpu0) / max(fast.sent, 1) * 1e6
                # The simulator and this driver share the machine's other core: their CPU per order
                # says how fast any server could be fed here.
                feeders = ((sim1 - sim0) / max(fast.sent, 1) * 1e6, (own1 - own0) / max(fast.sent, 1) * 1e6)
                before = scrape_added(admin) if admin is not None else None
                slow = paced(client, "p", args.paced_orders, args.rate, "1.00")
                _, cpu2 = proc_counters(proc.pid)
                slow.cpu_us = (cpu2 - cpu1) / max(slow.sent, 1) * 1e6
                if admin is not None:
                    added = paced_added(Path(tmp), args.paced_orders, admin, before)
                client.logout()
            finally:
                stop(proc)
            if name == "floor":
                added = paced_added(Path(tmp), args.paced_orders, None, None)
            return fast, slow, feeders, added
        finally:
            stop(sim)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders at max rate (default 10000)")
    parser.add_argument("--paced-orders", type=int, default=1000, help="orders at the fixed rate")
    parser.add_argument("--rate", type=float, default=200.0, help="fixed rate, orders/s (default 200)")
    parser.add_argument("--window", type=int, default=200, help="max orders in flight at max rate")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the three servers")
    parser.add_argument("--only", choices=["echo", "floor", "gateway"], action="append")
    parser.add_argument("--serve-floor", nargs=3, metavar=("PORT", "SIM_URL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        port, url, work = args.serve_floor
        serve_floor(int(port), url, Path(work))
        return 0
    names = args.only or ["echo", "floor", "gateway"]
    rows: dict[str, list[tuple[Result, Result, tuple[float, float]]]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            fast, slow, (sim_us, driver_us), added = measure(name, args)
            rows[name].append((fast, slow, added))
            print(f"{name:8} max rate: {fast.rate:8.0f} orders/s ({fast.answered}/{fast.sent} answered), "
                  f"CPU {fast.cpu_us:6.0f} us/order | {args.rate:.0f}/s: D->ER p50 {slow.pct(50):7.0f} us "
                  f"p99 {slow.pct(99):7.0f} us, CPU {slow.cpu_us:6.0f} us/order, own part (added) p50 "
                  f"{added[0]:5.0f} us p99 {added[1]:5.0f} us | at max rate the simulator used "
                  f"{sim_us:4.0f} us/order, this driver {driver_us:4.0f}",
                  flush=True)
    print(f"\nsummary (median over {args.repeats} round(s); uptime load {os.getloadavg()[0]:.2f}):")

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    med = {n: (median([f.cpu_us or 0.0 for f, _, _ in r]), median([f.rate for f, _, _ in r]),
               median([s.pct(50) for _, s, _ in r]), median([s.pct(99) for _, s, _ in r]),
               median([a[0] for _, _, a in r]), median([a[1] for _, _, a in r])) for n, r in rows.items()}
    for name, (cpu, rate, p50, p99, own50, own99) in med.items():
        print(f"  {name:8} CPU/order at max rate {cpu:6.0f} us, {rate:7.0f} orders/s, "
              f"paced D->ER p50 {p50:6.0f} us p99 {p99:6.0f} us, "
              f"own part p50 {own50:5.0f} us p99 {own99:5.0f} us")
    if "echo" in med:
        for name in ("floor", "gateway"):
            if name in med:
                print(f"  {name} / echo throughput: {med[name][1] / med['echo'][1]:.2f}")
    if "floor" in med and "gateway" in med:
        print(f"  gateway CPU/order above the floor: {med['gateway'][0] - med['floor'][0]:.0f} us "
              f"(the most cutting our own code can save); the floor alone is {med['floor'][0]:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
