"""Scale-out: ONE gateway instance owning 6 sessions against TWO instances owning 3 each (issue 14).

    PYTHONPATH=. python3 bench/instances.py [--repeats 3] [--seconds 15] [--window 32]

Every run has its own processes and a fresh database, as a deployment would:

* a real PostgreSQL server (``bench/_pg.py``: the tests' throw-away server, fsync off) holding the
  gateways' state, the instances' leases (``gateway.store: postgresql://...``) and QuickFIX's
  sequence numbers and sent messages (``message_store: postgresql``; ``--message-store file``: files);
* the Plxtra simulator in its own process (``plxtra-fix sim --activity off``);
* (a) ``one``: ``plxtra-fix run --instance all`` serving CLIENT1..CLIENT6;
  (b) ``two``: ``--instance x`` (CLIENT1..3) and ``--instance y`` (CLIENT4..6), each on its own FIX
  port, its own Zenith connection and its own QuickFIX files;
* 6 partners, QuickFIX initiators with file stores (``bench/_fault_partners.py``), in this process;
  each keeps up to ``--window`` NewOrderSingles unanswered and sends the next as soon as an
  ExecutionReport for one of them arrives, for ``--seconds``; then the outstanding ones are waited
  for (bounded).

Prints, per run and as the mean of the repeats: orders/s (answered orders from the first send to
the last first-answer), CPU per order of each gateway process, of the simulator and of this
process (the partners), the cores all of them used together, and the ratio two/one.
The order body, /proc counters and process stop come from bench/order_roundtrip.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _fault_partners import Partners, PartnerSpec
from _pg import start_pg_server
from order_roundtrip import new_order_body, proc_counters, stop, wait_port

from gateway.app.testing import GatewayProcess, demo_session, free_port

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = tuple(f"client{i}" for i in range(1, 7))
# mode -> instance name -> its sessions
LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "one": {"all": SESSIONS},
    "two": {"x": SESSIONS[:3], "y": SESSIONS[3:]},
}
PRICE = "1.00"   # a buy far below the simulator's market: it rests, no fills to deliver
# As config/gateway-instances-compose.yaml: renewals (every ttl/3) fall inside every run. Before the
# renewal locked its row FOR NO KEY UPDATE (gateway/store/lease.py), this bench hung a gateway in 3
# of 3 two-instance runs: a renewal suspended between its statements blocked the store's fence on
# the same loop (diagnose() below showed it); --lease-ttl 3600 keeps renewals out of the runs.
LEASE_TTL = 10.0


def _sender(session: str) -> str:
    return session.upper()   # client1 -> CLIENT1: the partner's SenderCompID, our TargetCompID


def _account(session: str) -> str:
    return f"{int(session[len('client'):]):04d}"   # client3 -> 0003: one simulator account each


# -- configuration --------------------------------------------------------------------------------

def write_config(work: Path, instance_layout: dict[str, tuple[str, ...]], fix_port: int, zenith_url: str,
                 store_url: str, lease_ttl: float = LEASE_TTL, message_store: str = "postgresql") -> Path:
    """One gateway's YAML: every session and every instance (the loader wants them all), its own port
    and files; ``--instance`` picks its sessions."""
    work.mkdir(parents=True, exist_ok=True)
    doc = {
        "gateway": {"listen_host": "127.0.0.1", "listen_port": fix_port, "store": store_url,
                    "store_path": str(work / "journal.sqlite"), "log_dir": str(work / "fixlog"),
                    # postgresql (the default with gateway.store): sequence numbers and resend
                    # history in the same database, as a deployment with standbys needs
                    "message_store": message_store, "message_store_dir": str(work / "fixstore")},
        "zenith": {"url": zenith_url, "token": "demo"},
        # limits: {} opts out of the default 2,000 msg/s throttle, so only the engine limits the rate
        "sessions": [demo_session(s, "FIX.4.4", _sender(s), [_account(s)], limits={}) for s in SESSIONS],
        "instances": {name: {"sessions": list(members), "lease_ttl": lease_ttl}
                      for name, members in instance_layout.items()},
    }
    path = work / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


# -- the partners' load ------------------------------------------------------------------------------

@dataclass
class Load:
    """Windowed flood over several sessions; ``on_message`` is the partners' listener (QuickFIX
    threads, called under ``cond``)."""

    cond: threading.Condition
    window: int
    in_flight: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    answered_ids: set[str] = field(default_factory=set)
    first_sent: float = 0.0
    last_answer: float = 0.0

    def on_message(self, sender: str, fields: tuple[tuple[int, str], ...]) -> None:
        values = dict(fields)
        if values.get(35) != "8":
            return
        cl = values.get(11)
        if cl is None or cl in self.answered_ids:
            return   # a later report of the same order
        self.answered_ids.add(cl)
        self.in_flight[sender] -= 1
        self.answered[sender] += 1
        if values.get(150) == "8":
            self.rejected += 1
        self.last_answer = time.monotonic()
        self.cond.notify_all()

    def pump(self, partners: Partners, sender: str, prefix: str, until: float) -> None:
        n = 0
        while True:
            with self.cond:
                while self.in_flight[sender] >= self.window and time.monotonic() < until:
                    self.cond.wait(0.2)
                if time.monotonic() >= until:
                    return
                self.in_flight[sender] += 1
                self.sent[sender] += 1
            cl = f"{prefix}-{sender}-{n}"
            n += 1
            body = [(1, _account(sender.lower())) if tag == 1 else (tag, value)
                    for tag, value in new_order_body(cl, PRICE)]
            if not partners.send(sender, "D", body):
                with self.cond:
                    self.in_flight[sender] -= 1
                    self.sent[sender] -= 1
                time.sleep(0.01)

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while any(self.in_flight.values()) and time.monotonic() < deadline:
                self.cond.wait(0.2)


def flood(groups: Sequence[Partners], senders: Sequence[str], load: Load, prefix: str,
          seconds: float) -> None:
    owner = {s: g for g in groups for s in (spec.sender for spec in g.specs)}
    with load.cond:
        for s in senders:
            load.in_flight.setdefault(s, 0)
            load.sent.setdefault(s, 0)
            load.answered.setdefault(s, 0)
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=load.pump, args=(owner[s], s, prefix, until), daemon=True)
               for s in senders]
    load.first_sent = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    load.drain(60)


# -- one run -----------------------------------------------------------------------------------------

@dataclass
class Run:
    mode: str
    orders: int
    seconds: float
    rejected: int
    unanswered: int
    gateway_cpu: dict[str, float]   # instance -> CPU seconds in the measured phase
    gateway_orders: dict[str, int]  # instance -> orders answered
    sim_cpu: float
    partners_cpu: float
    postgres_cpu: float             # the server and its backends (the gateways' store calls wait on it)
    wall: float                     # s of the measured phase (CPU / wall = cores)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def us_per_order(self, cpu: float, orders: int) -> float:
        return cpu / orders * 1e6 if orders else float("nan")

    @property
    def cores(self) -> float:
        used = sum(self.gateway_cpu.values()) + self.sim_cpu + self.partners_cpu + self.postgres_cpu
        return used / self.wall


def _postgres_cpu(pg: Any) -> float:
    """CPU seconds of the postmaster and every backend alive now (its children)."""
    root = pg.process.pid
    total = proc_counters(root)[1]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == root:
                total += proc_counters(int(stat.parent.name))[1]
        except (OSError, IndexError, ValueError):   # the process ended meanwhile
            pass
    return total


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def run_once(mode: str, rep: int, pg: Any, args: argparse.Namespace, env: dict[str, str],
             work: Path) -> Run:
    layout = LAYOUTS[mode]
    store_url = pg.create_database(f"bench_{mode}_{rep}")
    template = store_url.replace(pg.password, "${PGPASSWORD}")   # the config form: password from the env
    sim_port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "gateway", "sim", "--port", str(sim_port),
                            "--activity", "off"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateways: dict[str, GatewayProcess] = {}
    groups: list[Partners] = []
    try:
        wait_port(sim_port, sim, 60)
        url = f"ws://127.0.0.1:{sim_port}/Zenith"
        ports = {name: free_port() for name in layout}
        for name in layout:
            cfg = write_config(work / f"{mode}-{rep}-{name}", layout, ports[name], url, template,
                               args.lease_ttl, args.message_store)
            gateways[name] = GatewayProcess(cfg, ["--instance", name, "--log-level", args.log_level])
        for proc in gateways.values():
            proc.wait_ready(120)
        cond = threading.Condition()
        load = Load(cond, args.window)
        for name, members in layout.items():
            specs = [PartnerSpec(_sender(s), "FIX.4.4", _account(s), f"XS:{_account(s)}") for s in members]
            group = Partners(work / f"{mode}-{rep}-partners-{name}", ports[name], specs, heartbeat=30)
            group.cond = cond   # one condition for every partner: the load waits on it
            groups.append(group)
            group.start()
        for group in groups:
            if not group.wait_logged_on(60):
                raise RuntimeError(f"{mode}: partners not logged on: {group.not_logged_on()}")
        senders = [_sender(s) for s in SESSIONS]
        # One second of the same load first: connections, caches and the first rows of each table.
        warm = Load(cond, args.window)
        for group in groups:
            group.listener = warm.on_message
        flood(groups, senders, warm, "warm", 1.0)
        for group in groups:
            group.listener = load.on_message
        pids = {name: p.pid for name, p in gateways.items()}
        cpu0 = {name: proc_counters(pid)[1] for name, pid in pids.items()}
        sim0, self0, pg0, wall0 = proc_counters(sim.pid)[1], _self_cpu(), _postgres_cpu(pg), time.monotonic()
        flood(groups, senders, load, "run", args.seconds)
        wall = time.monotonic() - wall0
        cpu = {name: proc_counters(pid)[1] - cpu0[name] for name, pid in pids.items()}
        sim_cpu, self_cpu = proc_counters(sim.pid)[1] - sim0, _self_cpu() - self0
        pg_cpu = _postgres_cpu(pg) - pg0
        with cond:
            orders = sum(load.answered.values())
            unanswered = sum(load.in_flight.values())
        if unanswered:
            diagnose(mode, pg, pids, load)
        with cond:
            per_instance = {name: sum(load.answered[_sender(s)] for s in members)
                            for name, members in layout.items()}
            elapsed = max(load.last_answer - load.first_sent, 1e-9)
        return Run(mode, orders, elapsed, load.rejected, unanswered, cpu, per_instance, sim_cpu, self_cpu,
                   pg_cpu, wall)
    finally:
        for group in groups:
            group.stop()
        for name, proc in gateways.items():
            proc.terminate(30)
            tail = proc.output().strip().splitlines()[-5:]
            if any("Traceback" in line or "ERROR" in line or "CRITICAL" in line for line in tail):
                print(f"  {mode} {name} output tail:", *tail, sep="\n    ", file=sys.stderr)
        stop(sim)


def diagnose(mode: str, pg: Any, pids: dict[str, int], load: Load) -> None:
    """Orders left unanswered after the drain: say where, what the database is doing, and where
    each gateway's threads are (py-spy, when installed), so that a stall can be told from a slow run."""
    print(f"  {mode}: unanswered after the drain: {dict(load.in_flight)}", file=sys.stderr)
    with pg.connect(autocommit=True) as conn:
        rows = conn.execute("SELECT pid, datname, state, wait_event_type, wait_event, left(query, 80) "
                            "FROM pg_stat_activity WHERE backend_type = 'client backend' "
                            "AND pid <> pg_backend_pid()").fetchall()
    for row in rows:
        print(f"    pg backend {row}", file=sys.stderr)
    spy = Path(sys.executable).with_name("py-spy")
    for name, pid in pids.items():
        if not spy.exists():
            break
        done = subprocess.run([str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True,
                              timeout=60, check=False)
        print(f"    gateway {name} (pid {pid}) threads:\n{done.stdout[-3000:]}{done.stderr[-500:]}",
              file=sys.stderr)


# -- report ------------------------------------------------------------------------------------------

def describe(run: Run) -> str:
    gw = ", ".join(f"{name} {run.us_per_order(run.gateway_cpu[name], run.gateway_orders[name]):.0f}"
                   for name in run.gateway_cpu)
    total_gw = sum(run.gateway_cpu.values())
    return (f"{run.mode:3}: {run.orders:6} orders in {run.seconds:5.1f}s = {run.rate:7,.0f} orders/s"
            f"{f'  ({run.rejected} rejected)' if run.rejected else ''}"
            f"{f'  ({run.unanswered} UNANSWERED)' if run.unanswered else ''}\n"
            f"       CPU us/order: gateway {gw} (all gateways {run.us_per_order(total_gw, run.orders):.0f}), "
            f"simulator {run.us_per_order(run.sim_cpu, run.orders):.0f}, "
            f"partners {run.us_per_order(run.partners_cpu, run.orders):.0f}, "
            f"PostgreSQL {run.us_per_order(run.postgres_cpu, run.orders):.0f}; "
            f"cores busy {run.cores:.2f} of {os.cpu_count()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mode, alternating (default 3)")
    parser.add_argument("--seconds", type=float, default=15.0, help="flood time per run (default 15)")
    parser.add_argument("--window", type=int, default=32,
                        help="unanswered orders per partner (default 32; 6 partners: 192 in flight)")
    parser.add_argument("--only", choices=sorted(LAYOUTS), default=None)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="work in DIR and keep it (configs, FIX logs, gateway output), not a temp dir")
    parser.add_argument("--lease-ttl", type=float, default=LEASE_TTL,
                        help=f"instances' lease_ttl in s (default {LEASE_TTL:g}, as the compose config)")
    parser.add_argument("--message-store", choices=["postgresql", "file"], default="postgresql",
                        help="QuickFIX's store: postgresql (default, as with standbys) or file")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING"],
                        help="the gateways' --log-level (their output is in the work directory)")
    args = parser.parse_args()

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    modes = [args.only] if args.only else list(LAYOUTS)
    runs: dict[str, list[Run]] = {m: [] for m in modes}
    pg = start_pg_server()
    # The configs say ${PGPASSWORD}, as a deployment's do; GatewayProcess reads them here too.
    os.environ["PGPASSWORD"] = env["PGPASSWORD"] = pg.password
    try:
        with contextlib.ExitStack() as stack:
            tmp = args.keep or stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-instances-"))
            for rep in range(args.repeats):
                for mode in modes:
                    load_avg = os.getloadavg()[0]
                    run = run_once(mode, rep, pg, args, env, Path(tmp))
                    runs[mode].append(run)
                    print(f"[{rep + 1}/{args.repeats}] (load average before {load_avg:.1f}) {describe(run)}",
                          flush=True)
    finally:
        pg.stop()

    print(f"\ninstances bench: 6 FIX.4.4 sessions, window {args.window} per partner, "
          f"{args.seconds:g}s per run, state on PostgreSQL (fsync off), QuickFIX store {args.message_store}, "
          f"simulator in its own process, "
          f"{os.cpu_count()} cores")
    means = {}
    for mode, got in runs.items():
        rates = [r.rate for r in got]
        means[mode] = statistics.mean(rates)
        gw = statistics.mean(r.us_per_order(sum(r.gateway_cpu.values()), r.orders) for r in got)
        print(f"  {mode}: {means[mode]:7,.0f} orders/s mean (runs {', '.join(f'{x:,.0f}' for x in rates)}); "
              f"gateway CPU {gw:.0f} us/order, PostgreSQL "
              f"{statistics.mean(r.us_per_order(r.postgres_cpu, r.orders) for r in got):.0f} us/order; "
              f"cores busy {statistics.mean(r.cores for r in got):.2f}")
    if "one" in means and "two" in means and means["one"]:
        pairs = [b.rate / a.rate for a, b in zip(runs["one"], runs["two"], strict=True) if a.rate]
        print(f"  ratio two/one: {means['two'] / means['one']:.2f} (per repeat: "
              f"{', '.join(f'{p:.2f}' for p in pairs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
