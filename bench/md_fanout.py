"""Market-data fan-out bench: one gateway process, 1 then N FIX sessions on the same symbols.

    PYTHONPATH=. python3 bench/md_fanout.py --rate 1000 --seconds 10 --sessions 20

What runs:
* the simulator on its own loop in a thread of this process; the bench's event source places and
  cancels limit orders straight into its matching engine at ``--rate`` events per second, spread
  over ``--symbols`` symbols (each placement or cancel is one Depth change: an event). A placed
  order's quantity is its stamp: 10**9 + (CLOCK_MONOTONIC in µs mod 10**9);
* the gateway as a real subprocess (``plxtra-fix run``) with a generated config of N
  market-data-only sessions (``trading: false``; ``persist_messages`` / ``log_messages`` false
  unless ``--persist`` / ``--log-messages``);
* N raw-socket FIX 4.4 clients in a third process (own GIL), each subscribed order-by-order, full
  depth, to the same symbols (one MarketDataRequest with NoRelatedSym = symbols). A client reads
  the stamp back from each New entry's MDEntrySize: event -> FIX latency on one system clock.

Each phase is a fixed number of source events (``--rate`` x ``--seconds``), not a fixed time: the
gateway's CPU (utime + stime of its process only, from /proc) is divided by the events it got,
so a source slowed down by the machine's load does not move the figure. The ratio compared with
the target is CPU per event with N sessions over CPU per event with one.

Prints, per phase: MD messages/s and incremental entries/s received in total (and entries per
message), latency p50/p99/max, the gateway's CPU seconds and µs per event and its RSS, the CPU of
the bench's own processes, and how many Zenith Depth subscriptions the simulator saw; then the
median, min and max ratio over ``--repeats`` runs (a fresh gateway each). ``--compare ROOT`` runs
the gateway of another checkout (e.g. ``git archive`` of the commit before) alternately with this
one, each repeat, so both see the same load; the order flips every repeat (use an even number),
because the second run of a pair measures dearer: an A/A run (the same code twice, --merge-max 1
--rate 200) gave the second one 12-13% more CPU per event with 20 sessions, both repeats.
``--profile FILE`` samples the gateway with py-spy during the N-session phase (raw stacks;
MD_FANOUT_GIL=1: GIL holders only).
What still moves the ratio with the load: queued X of one MDReqID are merged when several wait
for the same drain pass (fewer, fuller messages, less CPU per event), and how many wait depends on
how busy the loop is: a gateway made faster per copy merges less and sends more messages, so its
ratio can even rise. ``--merge-max 1`` turns merging off (one X per event per session): the
ratio and the "per added session per event" figure then measure the per-copy cost itself (use a
rate the gateway keeps up with, e.g. ``--rate 400``: every message delivered, entries/msg 1.00).
In-process micro-benchmarks of the per-copy path, steadier than this bench on a shared machine:
``bench/md_outbox_micro.py`` (one copy through the outbox, QuickFIX and its log, nothing else)
and ``bench/md_copy_micro.py`` (the state's fan-out and the service's drain, loop-thread CPU).
Targets (brief): >= 20,000 MD msgs/s out in total, N sessions < 2x the CPU of one, p99 < 5 ms at
1,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.app.testing import free_port, spawn_gateway_process, write_test_config  # noqa: E402
from gateway.sim.config import load_sim_config  # noqa: E402
from gateway.sim.generator import MarketGenerator  # noqa: E402
from gateway.sim.orders import OrderSpec  # noqa: E402
from gateway.sim.testing import run_sim_in_thread  # noqa: E402

SOH = b"\x01"
STAMP_BASE = 10**9  # bench order quantity = STAMP_BASE + (monotonic µs mod 10**9)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the event source (runs on the simulator's loop) ------------------------------------------------


class EventSource:
    def __init__(self, handle, symbols: list[str], rate: float, resting: int = 20) -> None:
        self.handle = handle
        self.srv = handle.server
        self.symbols = symbols
        self.rate = rate
        self.resting = resting
        self.seq = 0
        self.events = 0
        self.running = False
        self.acct = handle.call_sync(self.srv.engine.add_internal_account, "MM:BENCH")
        self.placed: dict[str, deque] = {s: deque() for s in symbols}

    def _spec(self, code: str, price: Decimal, qty: int) -> OrderSpec:
        m = self.srv.cfg.market
        return OrderSpec(
            exchange=m.code,
            code=code,
            side="Bid",
            style="Market",
            type="Limit",
            limit_price=price,
            quantity=Decimal(qty),
            hidden_quantity=None,
            minimum_quantity=None,
            validity="UntilCancel",
            expiry_date=None,
            short_type=None,
            instructions=(),
            route={"Algorithm": "Market", "Market": m.trading_market},
        )

    def _one(self) -> None:
        engine = self.srv.engine
        code = self.symbols[self.seq % len(self.symbols)]
        queue = self.placed[code]
        if len(queue) >= self.resting:
            order = queue.popleft()
            _, step = engine.cancel(self.acct, order, "")
            self.srv.apply_step(step)
        else:
            self.seq += 1
            ref = engine.symbols[code].reference
            price = (ref * Decimal("0.95")).quantize(Decimal("0.01")) - Decimal("0.01") * (self.seq % 7)
            stamp = (time.monotonic_ns() // 1000) % STAMP_BASE
            _, step = engine.place(self.acct, self._spec(code, price, STAMP_BASE + stamp), "")
            self.srv.apply_step(step)
            queue.append(next(reversed(self.acct.orders.values())))
        self.events += 1

    async def run(self) -> None:
        """Paced in 1 ms slots: each slot catches up to ``rate * elapsed`` events."""
        self.running = True
        start = time.monotonic()
        done = 0
        while self.running:
            due = int((time.monotonic() - start) * self.rate)
            while done < due:
                self._one()
                done += 1
            await asyncio.sleep(0.001)

    def start(self) -> None:
        self.handle.loop.call_soon_threadsafe(lambda: self.handle.loop.create_task(self.run()))

    def stop(self) -> None:
        self.handle.call_sync(setattr, self, "running", False)


# -- a raw FIX 4.4 client -------------------------------------------------------------------------


def _now() -> str:
    t = datetime.now(UTC)
    return t.strftime("%Y%m%d-%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def encode(fields: list[tuple[int, str]]) -> bytes:
    body = SOH.join(f"{t}={v}".encode() for t, v in fields[1:]) + SOH
    head = f"8=FIX.4.4\x019={len(body)}\x01".encode()
    msg = head + body
    return msg + f"10={sum(msg) % 256:03d}\x01".encode()


class RawClient:
    def __init__(self, port: int, sender: str, measure: bool) -> None:
        self.port = port
        self.sender = sender
        self.seq = 0
        self.md = 0
        self.entries = 0
        self.latencies: list[int] = []
        self.logged_on = asyncio.Event()
        self.snapshots = 0
        self.rejects = 0
        self.measure = measure  # latency sampling (the first --measure clients)
        self.writer: asyncio.StreamWriter | None = None

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        self.seq += 1
        head = [
            (8, "FIX.4.4"),
            (35, msg_type),
            (49, self.sender),
            (56, "PLXTRA"),
            (34, str(self.seq)),
            (52, _now()),
        ]
        assert self.writer is not None
        self.writer.write(encode(head + fields))

    async def run(self) -> None:
        """Read and count without parsing every message, so that the clients stay cheap."""
        reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.send("A", [(98, "0"), (108, "30"), (141, "Y")])
        tail = b""
        while True:
            chunk = await reader.read(1 << 17)
            if not chunk:
                return
            now_us = (time.monotonic_ns() // 1000) % STAMP_BASE
            buf = tail + chunk
            tail = buf[-6:]  # shorter than every pattern: nothing counted twice
            self.md += buf.count(b"\x0135=X\x01")
            self.entries += buf.count(b"\x01279=")  # incremental entries (updates) delivered
            snaps = buf.count(b"\x0135=W\x01")
            self.md += snaps
            self.snapshots += snaps
            if self.measure:
                i = buf.find(b"\x01271=")
                while i >= 0:
                    j = buf.find(SOH, i + 5)
                    if j < 0:
                        break
                    qty = buf[i + 5 : j]
                    if len(qty) == 10 and b"." not in qty:  # a bench order: its size is its stamp
                        self.latencies.append((now_us - (int(qty) - STAMP_BASE)) % STAMP_BASE)
                    i = buf.find(b"\x01271=", j)
            if b"\x0135=A\x01" in buf:
                self.logged_on.set()
            k = buf.find(b"\x0135=1\x01")
            if k >= 0:
                m = buf.find(b"\x01112=", k)
                if m >= 0:
                    self.send("0", [(112, buf[m + 5 : buf.find(SOH, m + 5)].decode())])
            self.rejects += (
                buf.count(b"\x0135=3\x01") + buf.count(b"\x0135=Y\x01") + buf.count(b"\x0135=j\x01")
            )

    def subscribe(self, symbols: list[str]) -> None:
        fields = [
            (262, f"md-{self.sender}"),
            (263, "1"),
            (264, "0"),
            (265, "1"),
            (266, "N"),
            (267, "2"),
            (269, "0"),
            (269, "1"),
            (146, str(len(symbols))),
        ]
        for s in symbols:
            fields += [(55, s), (207, "XSX")]
        self.send("V", fields)


def client_process(conn, port: int, sessions: int, symbols: list[str], measure: int) -> None:
    """The FIX clients, in their own process (own GIL, own core): commands arrive on ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        clients = [RawClient(port, f"MD{i:02d}", i <= measure) for i in range(1, sessions + 1)]
        tasks: list[asyncio.Task] = []
        active: list[RawClient] = []
        while True:
            cmd, arg = await loop.run_in_executor(None, conn.recv)
            if cmd == "connect":
                batch = clients[len(active) : arg]
                for c in batch:
                    tasks.append(asyncio.create_task(c.run()))
                    await asyncio.wait_for(c.logged_on.wait(), 15)
                    c.subscribe(symbols)
                active += batch
                deadline = time.monotonic() + 15
                while any(c.snapshots < len(symbols) for c in batch) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                conn.send(sum(c.snapshots for c in batch))
            elif cmd == "reset":
                for c in active:
                    c.md = 0
                    c.entries = 0
                    c.latencies.clear()
                conn.send(os.times()[0] + os.times()[1])
            elif cmd == "collect":
                lat = [x for c in active for x in c.latencies]
                conn.send(
                    (
                        sum(c.md for c in active),
                        sum(c.entries for c in active),
                        lat,
                        sum(c.rejects for c in active),
                        os.times()[0] + os.times()[1],
                    )
                )
            elif cmd == "stop":
                for t in tasks:
                    t.cancel()
                for c in clients:
                    if c.writer is not None:
                        c.writer.close()
                conn.send(None)
                return

    asyncio.run(main())


# -- measurement -----------------------------------------------------------------------------------


def stop_clients(source: EventSource, parent: Any, proc: Any) -> None:
    """Stop the market's events, then the FIX client process (asked over its pipe; killed after 10 s)."""
    source.stop()
    parent.send(("stop", None))
    if parent.poll(10):
        parent.recv()
    proc.join(10)
    if proc.is_alive():
        proc.kill()


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def profile_tool() -> str:
    tool = shutil.which("py-spy")
    if tool is None:
        raise SystemExit("--profile needs py-spy on PATH (pip install py-spy)")
    return tool


def phase(
    name: str, sessions: int, conn, source: EventSource, pid: int, seconds: float, profile: str | None = None
) -> dict:
    conn.send(("reset", None))
    cl0 = conn.recv()
    cpu0, t0, ev0, own0 = proc_cpu(pid), time.monotonic(), source.events, sum(os.times()[:2])
    spy = None
    if profile:
        # py-spy samples the gateway from outside; its own CPU is not the gateway's.
        spy = subprocess.Popen(
            [profile_tool(), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200",
             "-f", "raw", "-o", profile, *(["--gil"] if os.environ.get("MD_FANOUT_GIL") else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    # A fixed number of events, not a fixed time: on a loaded machine the source may fall behind
    # its rate, and the gateway's CPU is compared per event (bounded: at most 3x the window).
    target, deadline = ev0 + int(source.rate * seconds), t0 + 3 * seconds
    while source.events < target and time.monotonic() < deadline:
        time.sleep(0.005)
    if spy is not None:
        spy.wait(seconds + 30)
    cpu1, t1, ev1, own1 = proc_cpu(pid), time.monotonic(), source.events, sum(os.times()[:2])
    conn.send(("collect", None))
    msgs, entries, lat, rejects, cl1 = conn.recv()
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1e3 if lat else float("nan")

    return {
        "phase": name,
        "events/s": (ev1 - ev0) / (t1 - t0),
        "md_msgs/s": msgs / (t1 - t0),
        "entries/s": entries / (t1 - t0),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "samples": len(lat),
        "events": ev1 - ev0,
        "gw_cpu_s": cpu1 - cpu0,
        "gw_us/event": (cpu1 - cpu0) / max(1, ev1 - ev0) * 1e6,
        "entries/msg": entries / msgs if msgs else float("nan"),
        "gw_rss_mb": proc_rss_mb(pid),
        "sim_cpu_s": own1 - own0,
        "cli_cpu_s": cl1 - cl0,
        "rejects": rejects,
    }


def run_once(args: argparse.Namespace, root: Path | None = None) -> tuple[list[dict], int]:
    """One gateway process (of checkout ``root``, default this one): the 1-session phase, then
    the N-session phase. Returns the two rows and the Zenith Depth subscriptions per symbol."""
    symbols = [f"XS{i:02d}" for i in range(1, args.symbols + 1)]
    tmp = Path(tempfile.mkdtemp(prefix="md_fanout-"))
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
    handle = run_sim_in_thread(sim_cfg)
    try:
        gen = handle.call_sync(lambda: MarketGenerator(handle.server, random.Random(7)))
        handle.call_sync(gen.seed_books)  # a realistic resting book under the bench's orders
        source = EventSource(handle, symbols, args.rate)
        port = free_port()
        sessions = [
            {
                "name": f"md{i:02d}",
                "begin_string": "FIX.4.4",
                "sender_comp_id": "PLXTRA",
                "target_comp_id": f"MD{i:02d}",
                "heartbeat_interval": 30,
                "accept_reset_seq_num_flag": True,
                "markets": ["XSX"],
                # Market-data-only partners: nothing they get needs a real resend.
                "trading": False,
                "persist_messages": args.persist,
                "log_messages": args.log_messages,
            }
            for i in range(1, args.sessions + 1)
        ]
        cfg = write_test_config(
            tmp,
            zenith_url=handle.url,
            fix_port=port,
            sessions=sessions,
            message_store="memory",
            gateway={"md_queue_limit": args.queue_limit, "md_merge_max": args.merge_max},
        )
        # The gateway's code from ``root``; PYTHONPATH replaces the default (this checkout first).
        env = {"PYTHONPATH": str(root)} if root is not None else None
        with spawn_gateway_process(cfg, env=env) as gw:
            proc = ctx.Process(
                target=client_process, args=(child, port, args.sessions, symbols, args.measure)
            )
            proc.start()
            try:
                parent.send(("connect", 1))
                parent.recv()
                source.start()
                time.sleep(1.0)  # warm-up
                rows = [phase("1 session", 1, parent, source, gw.pid, args.seconds)]
                parent.send(("connect", args.sessions))
                parent.recv()
                time.sleep(1.0)
                rows.append(
                    phase(
                        f"{args.sessions} sessions",
                        args.sessions,
                        parent,
                        source,
                        gw.pid,
                        args.seconds,
                        args.profile,
                    )
                )
                depth_subs = handle.call_sync(
                    handle.server.subscription_count, "Market", f"Depth!{symbols[0]}.XSX"
                )
            finally:
                stop_clients(source, parent, proc)
    finally:
        handle.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return rows, depth_subs


COLS = ["phase", "events/s", "md_msgs/s", "entries/s", "entries/msg", "p50_ms", "p99_ms", "max_ms", "samples",
        "events", "gw_cpu_s", "gw_us/event", "gw_rss_mb", "sim_cpu_s", "cli_cpu_s", "rejects"]


def ratio_of(rows: list[dict]) -> float:
    """Gateway CPU per event with N sessions over CPU per event with one."""
    one, many = rows
    return many["gw_us/event"] / one["gw_us/event"] if one["gw_us/event"] else float("nan")


def print_rows(rows: list[dict]) -> None:
    print("  ".join(f"{c:>11}" for c in COLS))
    for r in rows:
        print("  ".join(f"{r[c]:>11.2f}" if isinstance(r[c], float) else f"{r[c]!s:>11}" for c in COLS))


def run(args: argparse.Namespace) -> int:
    roots: list[Path | None] = [None] if args.compare is None else [args.compare.resolve(), None]
    ratios: dict[Path | None, list[float]] = {r: [] for r in roots}
    per_event: dict[Path | None, list[tuple[float, float]]] = {r: [] for r in roots}
    per_msg: dict[Path | None, list[float]] = {r: [] for r in roots}
    print(
        f"md_fanout: rate={args.rate:.0f} events/s over {args.symbols} symbols, "
        f"{args.rate * args.seconds:.0f} events per phase, order-by-order full depth, FIX.4.4; "
        f"latency sampled on {args.measure} client(s); "
        f"persist_messages {args.persist}, log_messages {args.log_messages}, md_merge_max {args.merge_max}"
    )
    for rep in range(args.repeats):
        # Interleaved, so both checkouts see the same machine load; the order flips each repeat
        # (the second of a pair measures dearer, see the module's docstring).
        for root in roots if rep % 2 == 0 else roots[::-1]:
            rows, depth_subs = run_once(args, root)
            ratios[root].append(ratio_of(rows))
            per_event[root].append((rows[0]["gw_us/event"], rows[1]["gw_us/event"]))
            many = rows[1]
            # CPU per MD message sent with N sessions: what merging (fewer, fuller messages when
            # the gateway falls behind) does not move the way it moves CPU per event.
            per_msg[root].append(many["gw_us/event"] * many["events/s"] / max(1.0, many["md_msgs/s"]))
            print(f"\n-- repeat {rep + 1}/{args.repeats}, gateway {root or ROOT}")
            print_rows(rows)
            print(
                f"gateway CPU per event {args.sessions} sessions / 1 session: {ratio_of(rows):.2f}x "
                f"(target < 2x); MD out with {args.sessions}: {many['md_msgs/s']:.0f} msgs/s carrying "
                f"{many['entries/s']:.0f} entries/s ({many['entries/msg']:.2f} per message: queued X for one "
                f"MDReqID merge when a session falls behind); p99 {many['p99_ms']:.2f} ms (target < 5 ms); "
                f"Zenith Depth subscriptions per symbol: {depth_subs}; gateway CPU per MD message sent: "
                f"{per_msg[root][-1]:.1f} µs"
            )
    print(f"\nsummary over {args.repeats} repeat(s): gateway CPU per event, {args.sessions} sessions / 1")
    for root in roots:
        values = sorted(ratios[root])
        one = statistics.median(v[0] for v in per_event[root])
        many = statistics.median(v[1] for v in per_event[root])
        # What one more session costs per event (its copies), from each run's own two phases.
        copies = sorted((n - o) / max(1, args.sessions - 1) for o, n in per_event[root])
        print(
            f"  {root or ROOT}: ratio median {statistics.median(values):.2f}x (min {values[0]:.2f}, max "
            f"{values[-1]:.2f}; all {', '.join(f'{v:.2f}' for v in ratios[root])}); µs/event median: "
            f"1 session {one:.0f}, {args.sessions} sessions {many:.0f}; per added session per event: "
            f"median {statistics.median(copies):.1f} µs (min {copies[0]:.1f}, max {copies[-1]:.1f}); "
            f"per MD message sent with {args.sessions}: median {statistics.median(per_msg[root]):.1f} µs"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="simulator events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window per phase")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--queue-limit", type=int, default=10_000)
    parser.add_argument("--measure", type=int, default=5, help="clients sampling latency (all count)")
    parser.add_argument(
        "--persist", action=argparse.BooleanOptionalAction, default=False,
        help="sessions' persist_messages (default off: QuickFIX PersistMessages=N)",
    )
    parser.add_argument(
        "--log-messages", action=argparse.BooleanOptionalAction, default=False,
        help="sessions' log_messages (default off: no message lines in the QuickFIX message log)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="whole runs (each a fresh gateway)")
    parser.add_argument(
        "--compare", type=Path, default=None, metavar="ROOT",
        help="also run the gateway of another checkout, alternating with this one's",
    )
    parser.add_argument(
        "--merge-max", type=int, default=200,
        help="gateway md_merge_max (1: one X per event per session whatever the load)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy the gateway during the N-session phase (raw stacks to FILE)"
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
