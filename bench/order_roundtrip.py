"""Order -> ExecutionReport round trip: the gateway against a bare QuickFIX acceptor.

    PYTHONPATH=. python3 bench/order_roundtrip.py [--orders 5000] [--paced-orders 1000] [--rate 200]

Two servers, each in its own process, driven by the same raw-socket FIX 4.4 client:

(a) ``bare``: a QuickFIX ThreadedSocketAcceptor whose ``fromApp`` answers every
    NewOrderSingle with an ExecutionReport New at once (file store, same settings style):
    the ceiling for a Python QuickFIX process.
(b) ``gateway``: ``plxtra-fix run`` on the embedded simulator (file message store, SQLite
    store): the order goes through the hand-off, the orders service, the store, Zenith over a
    WebSocket to the simulator and back, then out as an ExecutionReport New.

For each: latency (send of D -> receipt of the first ExecutionReport for that ClOrdID) at a
fixed rate (``--rate``, default 200/s), then throughput and latency at the maximum rate (up to
``--window`` orders in flight). Prints the figures, the gateway/bare throughput ratio, and
how they compare with the targets (ratio >= 0.5, gateway p99 < 2 ms at 200/s, >= 5,000/s).

Beside the raw D -> New (which includes the simulator's round trip and the client's own socket
work) it prints the gateway-added part, read from the gateway's ``/metrics`` (admin API) before
and after each phase: ``plxtra_fix_gateway_added_seconds`` per stage (``gateway.stages``), p50 and
p99 interpolated within the histogram's buckets as ``histogram_quantile`` does.

``--stamps FILE`` also stamps the gateway's order path (``PLXTRA_STAMPS``, see
``gateway.ops.metrics_stages.Stamps``) and prints, per paced order, where the request leg (the
loop's wake-up for the D -> PlaceOrder written) and the answer leg (wake-up for the Zenith answer ->
ExecutionReport handed to QuickFIX) spend their time; ``--read-stamps FILE`` reads a dump again
(also one written under /work/briefs/tools/drive.py with PLXTRA_STAMPS set).

Two knobs of the measuring side (environment, default off): ``PLXTRA_BENCH_PACER=sleep`` paces
the D's by sleeping only (the default spins the last 2 ms before each send, holding one of the
machine's two cores); ``PLXTRA_BENCH_BATCH_PEERS=1`` runs the simulator and the client's reader
as SCHED_BATCH, so that their wake-up by the gateway's loopback send does not preempt the gateway
inside that send (the stamps show it: the slowest 3% of request legs spend +0.7 to 0.9 ms inside
the Zenith socket write, the peer's handling timed as the gateway's).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.fix.testing import free_port, utc_timestamp  # noqa: E402
from gateway.vocab.wire import build_message  # noqa: E402

SOH = b"\x01"
_CL_ORD_ID = re.compile(rb"\x0111=([^\x01]*)\x01")
_MSG_TYPE = re.compile(rb"\x0135=([^\x01]*)\x01")
_TEST_REQ_ID = re.compile(rb"\x01112=([^\x01]*)\x01")


# -- the bare acceptor (runs in a child process: `order_roundtrip.py --serve-bare PORT DIR`) --------

def acceptor_settings_text(port: int, work: Path) -> str:
    """QuickFIX settings of a bench acceptor: one FIX 4.4 session PLXTRA <- CLIENT1, file store and
    log under ``work``, the 4.4 dictionary (also bench/bridge_floor.py's floor bridge)."""
    from gateway.config.dictionaries import locate_dictionaries

    dd = locate_dictionaries(None, needed=("FIX44.xml",)).path("FIX44.xml")
    return "\n".join([
        "[DEFAULT]", "ConnectionType=acceptor", f"FileStorePath={work / 'store'}",
        f"FileLogPath={work / 'log'}", "UseDataDictionary=Y", f"DataDictionary={dd}",
        "SocketNodelay=Y", "SocketReuseAddress=Y", "NonStopSession=Y", f"SocketAcceptPort={port}",
        "", "[SESSION]", "BeginString=FIX.4.4", "SenderCompID=PLXTRA", "TargetCompID=CLIENT1",
        "HeartBtInt=30", "",
    ])


def serve_bare(port: int, work: Path) -> None:
    import quickfix as fix

    settings_text = acceptor_settings_text(port, work)

    class Echo(fix.Application):
        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def onCreate(self, sid): pass
        def onLogon(self, sid): pass
        def onLogout(self, sid): pass
        def toAdmin(self, msg, sid): pass
        def fromAdmin(self, msg, sid): pass
        def toApp(self, msg, sid): pass

        def fromApp(self, msg, sid):
            try:
                self.n += 1
                er = fix.Message()
                er.getHeader().setField(35, "8")
                for tag, value in ((37, f"B{self.n}"), (11, msg.getField(11)), (17, f"X{self.n}"),
                                   (150, "0"), (39, "0"), (55, msg.getField(55)), (54, msg.getField(54)),
                                   (38, msg.getField(38)), (151, msg.getField(38)), (14, "0"), (6, "0")):
                    er.setField(tag, value)
                fix.Session.sendToTarget(er, sid)
            except Exception as exc:   # a bench server must not Py_Exit
                print("bare echo error:", exc, file=sys.stderr)

    settings = fix.SessionSettings()
    settings.setFromString(settings_text)
    app = Echo()
    store, logs = fix.FileStoreFactory(settings), fix.FileLogFactory(settings)
    acceptor = fix.ThreadedSocketAcceptor(app, store, settings, logs)
    acceptor.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait(3600)
    acceptor.stop(True)


# -- the client --------------------------------------------------------------------------------------

@dataclass
class Result:
    sent: int
    answered: int
    elapsed: float
    latencies_us: list[float]
    cpu_us: float | None = None   # the server process's CPU per order (user + system), when measured

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_us:
            return float("nan")
        ordered = sorted(self.latencies_us)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


BATCH_PEERS = os.environ.get("PLXTRA_BENCH_BATCH_PEERS") == "1"


def batch_scheduling() -> None:
    """This thread (and what it starts) as SCHED_BATCH: its wake-ups do not preempt the task that
    woke it. On a 2-core machine a peer woken by the gateway's send (loopback TCP wakes the reader
    on the sender's core) otherwise often runs at once in the gateway's place, and its whole
    handling of the message is timed as the gateway's send (PLXTRA_BENCH_BATCH_PEERS=1)."""
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


class RawClient:
    """FIX 4.4 initiator on a plain socket: a reader thread timestamps ExecutionReports."""

    def __init__(self, port: int, sender: str = "CLIENT1", target: str = "PLXTRA") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sender, self.target = sender, target
        self.seq = 0
        self.lock = threading.Lock()
        self.sent_ns: dict[bytes, int] = {}
        self.first_er_ns: dict[bytes, int] = {}
        self.answered = threading.Condition()
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _send(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        with self.lock:
            self.seq += 1
            text = build_message("FIX.4.4", msg_type, [(49, self.sender), (56, self.target),
                                                        (34, str(self.seq)), (52, utc_timestamp())], body)
            self.sock.sendall(text.encode())

    def logon(self, timeout: float = 20.0) -> None:
        self._send("A", [(98, "0"), (108, "30"), (141, "Y")])
        if not self.logged_on.wait(timeout):
            raise RuntimeError("no Logon answer")

    def logout(self, timeout: float = 10.0) -> None:
        self._send("5", [])
        self.logged_out.wait(timeout)
        self.sock.close()

    def order(self, cl_ord_id: str, price: str) -> None:
        key = cl_ord_id.encode()
        self.sent_ns[key] = time.perf_counter_ns()
        self._send("D", new_order_body(cl_ord_id, price))

    def _read(self) -> None:
        if BATCH_PEERS:
            batch_scheduling()
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                break
            if not chunk:
                break
            now = time.perf_counter_ns()
            buf += chunk
            while True:
                end = buf.find(b"\x0110=")
                if end < 0:
                    break
                stop = buf.find(SOH, end + 4)
                if stop < 0:
                    break
                msg, buf = buf[: stop + 1], buf[stop + 1:]
                self._on_message(msg, now)
        self.logged_out.set()

    def _on_message(self, msg: bytes, now: int) -> None:
        found = _MSG_TYPE.search(msg)
        msg_type = found.group(1) if found else b""
        if msg_type == b"8":
            m = _CL_ORD_ID.search(msg)
            if m and m.group(1) not in self.first_er_ns:
                with self.answered:
                    self.first_er_ns[m.group(1)] = now
                    self.answered.notify_all()
        elif msg_type == b"A":
            self.logged_on.set()
        elif msg_type == b"5":
            self.logged_out.set()
        elif msg_type == b"1":
            req = _TEST_REQ_ID.search(msg)
            self._send("0", [(112, req.group(1).decode())] if req else [])

    def wait_answers(self, ids: list[str], timeout: float) -> None:
        keys = [i.encode() for i in ids]
        deadline = time.monotonic() + timeout
        with self.answered:
            while not all(k in self.first_er_ns for k in keys[-50:]) or \
                    sum(k in self.first_er_ns for k in keys) < len(keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.answered.wait(min(left, 0.5))

    def result(self, ids: list[str], started: float) -> Result:
        keys = [i.encode() for i in ids]
        done = [k for k in keys if k in self.first_er_ns]
        lat = [(self.first_er_ns[k] - self.sent_ns[k]) / 1000 for k in done]
        last = max((self.first_er_ns[k] for k in done), default=time.perf_counter_ns())
        return Result(len(keys), len(done), (last - started) / 1e9, lat)


SPIN = 0.002   # s before each paced send the pacer spins instead of sleeping (PACER)
PACER = os.environ.get("PLXTRA_BENCH_PACER", "spin")


def paced(client: RawClient, prefix: str, count: int, rate: float, price: str) -> Result:
    ids = [f"{prefix}-{i}" for i in range(count)]
    interval = 1.0 / rate
    spin = SPIN if PACER == "spin" else 0.0
    started_ns = time.perf_counter_ns()
    start = time.perf_counter()
    for i, cl in enumerate(ids):
        target = start + i * interval
        while (delay := target - time.perf_counter()) > 0:
            time.sleep(delay if delay > spin else 0)
        client.order(cl, price)
    client.wait_answers(ids, timeout=30)
    return client.result(ids, started_ns)


def flood(client: RawClient, prefix: str, count: int, window: int, price: str) -> Result:
    ids = [f"{prefix}-{i}" for i in range(count)]
    started_ns = time.perf_counter_ns()
    for i, cl in enumerate(ids):
        if i >= window:   # keep at most `window` orders unanswered
            gate = ids[i - window].encode()
            deadline = time.monotonic() + 30
            with client.answered:
                while gate not in client.first_er_ns and time.monotonic() < deadline:
                    client.answered.wait(0.5)
        client.order(cl, price)
    client.wait_answers(ids, timeout=60)
    return client.result(ids, started_ns)


def proc_counters(pid: int) -> tuple[int, float]:
    """(context switches of every thread alive now, CPU seconds of the process) from /proc."""
    switches = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
        except OSError:   # the thread ended meanwhile
            pass
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return switches, cpu


# -- the gateway-added latency, from the gateway's /metrics -------------------------------------------

_ADMIN_TOKEN = "bench-admin-token-0123456789"
_ADDED = "plxtra_fix_gateway_added_seconds"
_STAGES = ("request", "answer", "request_answer", "update", "fix_answer")
Buckets = dict[str, dict[float, float]]   # stage -> upper bound -> cumulative count


def add_admin(config: Path, port: int) -> None:
    """Serve the admin API (for /metrics) of the benchmarked gateway on 127.0.0.1:``port``."""
    import yaml

    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["admin"] = {"listen_host": "127.0.0.1", "listen_port": port, "token": _ADMIN_TOKEN}
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def scrape_added(port: int) -> Buckets:
    """The cumulative bucket counts of the gateway-added histogram, per stage."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": f"Bearer {_ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
    out: Buckets = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{_ADDED}_bucket":
                out.setdefault(sample.labels["stage"], {})[float(sample.labels["le"])] = sample.value
    return out


def bucket_quantile(q: float, before: dict[float, float], after: dict[float, float]) -> tuple[float, int]:
    """(q-quantile in seconds, observations) of what was observed between two scrapes; linear
    inside the bucket (``histogram_quantile``); NaN without observations."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan"), 0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cum in zip(bounds, counts, strict=True):
        if cum >= rank:
            if bound == float("inf"):
                return lower, int(total)   # above the last finite bound: report that bound
            inside = cum - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0), int(total)
        lower, below = bound, cum
    return lower, int(total)


def print_added(name: str, phase: str, before: Buckets, after: Buckets) -> None:
    parts = []
    for stage in _STAGES:
        if stage not in after:
            continue
        p50, n = bucket_quantile(0.5, before.get(stage, {}), after[stage])
        p99, _ = bucket_quantile(0.99, before.get(stage, {}), after[stage])
        if n:
            parts.append(f"{stage} p50 {p50 * 1e6:.0f} us p99 {p99 * 1e6:.0f} us (n={n})")
    print(f"  {name} {phase} gateway-added: " + ("; ".join(parts) or "no observations"))


def start_profile(path: str, pid: int) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (native frames too) until stopped; raw collapsed stacks to ``path``."""
    import shutil

    tool = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(tool).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    spy = subprocess.Popen([tool, "record", "-p", str(pid), "-r", "500", "--native", "-f", "raw",
                            "-o", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)   # attached before the flood starts
    return spy


def drive(name: str, port: int, args: argparse.Namespace, price: str,
          pid: int | None = None, scrape: Callable[[], Buckets] | None = None,
          ) -> tuple[Result, Result, list[tuple[str, Buckets, Buckets]]]:
    client = RawClient(port)
    client.logon()
    warm = paced(client, f"{name}-warm", 50, 100, price)
    if warm.answered < warm.sent:
        print(f"  {name}: warm-up answered {warm.answered}/{warm.sent}", file=sys.stderr)
    before = proc_counters(pid) if pid is not None else None
    added0 = scrape() if scrape is not None else {}
    slow = paced(client, f"{name}-paced", args.paced_orders, args.rate, price)
    middle = proc_counters(pid) if pid is not None else None
    added1 = scrape() if scrape is not None else {}
    spy = start_profile(args.profile, pid) if args.profile and pid is not None and name == "gateway" else None
    fast = flood(client, f"{name}-max", args.orders, args.window, price)
    if spy is not None:
        spy.send_signal(signal.SIGINT)   # py-spy writes its file on SIGINT
        spy.wait(60)
    if pid is not None and before is not None and middle is not None:
        after = proc_counters(pid)
        phases = (("paced", (before, middle), slow.sent), ("max rate", (middle, after), fast.sent))
        for phase, (a, b), n in phases:
            print(f"  {name} {phase}: {(b[0] - a[0]) / n:.2f} context switches/order, "
                  f"{(b[1] - a[1]) / n * 1e6:.0f} us CPU/order (server process)", file=sys.stderr)
        fast.cpu_us = (after[1] - middle[1]) / fast.sent * 1e6 if fast.sent else None
    added: list[tuple[str, Buckets, Buckets]] = []
    if scrape is not None:
        added2 = scrape()
        added = [(f"paced {args.rate:.0f}/s", added0, added1), ("max rate", added1, added2)]
    client.logout()
    return slow, fast, added


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def report(name: str, slow: Result, fast: Result, rate: float) -> None:
    def ms(r: Result, p: float) -> str:
        return f"{r.pct(p) / 1000:.3f} ms"

    print(f"{name:8} paced {rate:.0f}/s: {slow.answered}/{slow.sent} answered, "
          f"p50 {ms(slow, 50)}  p99 {ms(slow, 99)}  max {ms(slow, 100)}")
    print(f"{'':8} max rate: {fast.answered}/{fast.sent} answered in {fast.elapsed:.2f}s "
          f"= {fast.rate:,.0f} orders/s, p50 {ms(fast, 50)}  p99 {ms(fast, 99)}")


def new_order_body(cl_ord_id: str, price: str = "10.00") -> list[tuple[int, str]]:
    return [(11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "10"),
            (40, "2"), (44, price), (59, "0"), (60, utc_timestamp())]


def per_message_costs(n: int = 20_000) -> None:
    """In-process cost of the engine's Python work per message: the receive copy (``to_record``)
    and the send build (``to_quickfix``, text parsed by QuickFIX with the data dictionary)."""
    import quickfix as fix

    from gateway.fix.convert import Dictionaries, DictionaryCache, to_quickfix, to_record
    from gateway.vocab.records import OutboundMessage, SessionKey

    dd_path = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
    dictionaries = Dictionaries(DictionaryCache().get(dd_path))
    key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
    order = fix.Message(build_message("FIX.4.4", "D", [(49, "CLIENT1"), (56, "PLXTRA"), (34, "2"),
                                                       (52, utc_timestamp())], new_order_body("c-1")),
                        dictionaries.session, False)
    report = OutboundMessage.build(key, "8", [
        (37, "O-1"), (11, "c-1"), (17, "E-1"), (150, "0"), (39, "0"), (1, "XS:0001"), (55, "XS01"),
        (207, "XSX"), (54, "1"), (38, 100), (40, "2"), (44, "10.00"), (59, "0"), (151, 100), (14, 0), (6, 0),
        (60, utc_timestamp())])
    update = OutboundMessage.build(key, "X", [
        (262, "r"), (268, 2), (279, "1"), (269, "0"), (55, "XS01"), (270, "10.19"), (271, 500), (290, 1),
        (279, "0"), (269, "1"), (55, "XS01"), (270, "10.21"), (271, 300), (290, 2)])
    cases = [("receive D: to_record", lambda: to_record(order, key)),
             ("send 8: to_quickfix", lambda: to_quickfix(report, dictionaries)),
             ("send X (group): to_quickfix", lambda: to_quickfix(update, dictionaries))]
    print("\nper-message Python cost in the engine (best of 3)")
    for name, fn in cases:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best = min(best, time.perf_counter() - start)
        print(f"  {name:30} {best / n * 1e6:6.2f} us")


# -- the D -> New critical path, from the gateway's per-call stamps (PLXTRA_STAMPS) ------------------

_SELECT = "EpollSelector.select"
_FROM_APP = "GatewayApplication.fromApp"
_ZENITH_WRITE = "ZenithConnection._write"
_ZENITH_READ = "ZenithConnection.data_received"
_FIX_SEND = "QuickFixOutbox.send"


def read_stamps(path: Path) -> tuple[list[str], list[tuple[int, int]]]:
    """(function names, [(id, perf_counter_ns)]) of a dump (gateway.ops.metrics_stages.Stamps)."""
    with path.open(encoding="utf-8") as f:
        count = int(f.readline())
        names = [f.readline().rstrip("\n") for _ in range(count)]
        events = [(int(a), int(b)) for a, b in (line.split() for line in f)]
    return names, events


def _segments(names: list[str], events: list[tuple[int, int]]) -> tuple[list[int], list[str]]:
    """The time line cut at every stamp: segment i runs from ``starts[i]`` to ``starts[i + 1]``
    and belongs to the innermost wrapped function running then (``<loop>`` outside all)."""
    starts: list[int] = []
    owners: list[str] = []
    stack: list[str] = []
    for ident, ns in events:
        name = names[ident // 2]
        if ident % 2 == 0:
            stack.append(name)
        elif stack and stack[-1] == name:
            stack.pop()
        elif name in stack:   # an exit whose inner exits were lost (the dump filled up)
            del stack[len(stack) - 1 - stack[::-1].index(name):]
        starts.append(ns)
        owners.append(stack[-1] if stack else "<loop>")
    return starts, owners


def critical_path(names: list[str], events: list[tuple[int, int]]) -> dict[str, list[dict[str, float]]]:
    """Per paced order, the time (us) of each owner on the two legs of D -> New and after them:

    * ``request``: the loop's wake-up for the D (end of the select) -> the PlaceOrder written;
    * ``answer``: the wake-up for the Zenith read that answers it -> the ER handed to QuickFIX
      (the exit of the outbox's ``send``);
    * ``request_tail`` / ``answer_tail``: from there to the loop's next select (work done after
      the send in the same wake-up: off the order's latency, not off its CPU)."""
    starts, owners = _segments(names, events)
    kinds = [(names[i // 2], i % 2) for i, _ in events]
    out: dict[str, list[dict[str, float]]] = {"request": [], "answer": [], "request_tail": [],
                                              "answer_tail": []}

    def first(name: str, exit_: int, after: int) -> int | None:
        for k in range(after, len(kinds)):
            if kinds[k] == (name, exit_):
                return k
        return None

    def last(name: str, exit_: int, before: int) -> int | None:
        for k in range(before, -1, -1):
            if kinds[k] == (name, exit_):
                return k
        return None

    def split(a: int, b: int) -> dict[str, float]:
        parts: dict[str, float] = {}
        for k in range(a, b):
            parts[owners[k]] = parts.get(owners[k], 0.0) + (starts[k + 1] - starts[k]) / 1000
        parts["total"] = (starts[b] - starts[a]) / 1000
        return parts

    k = 0
    from_apps = [i for i, kd in enumerate(kinds) if kd == (_FROM_APP, 0)]
    for n, fa in enumerate(from_apps):
        if fa < k:
            continue
        wake = last(_SELECT, 1, fa)
        written = first(_ZENITH_WRITE, 1, fa)
        nxt = from_apps[n + 1] if n + 1 < len(from_apps) else len(kinds)
        if wake is None or written is None or written > nxt:
            continue
        sel = first(_SELECT, 0, written)
        read = first(_ZENITH_READ, 0, written)
        if sel is None or read is None or read > nxt:
            continue
        wake2 = last(_SELECT, 1, read)
        sent = first(_FIX_SEND, 1, read)
        if wake2 is None or sent is None or sent > nxt:
            continue
        sel2 = first(_SELECT, 0, sent)
        if sel2 is None:
            continue
        out["request"].append(split(wake, written))
        out["request_tail"].append(split(written, sel))
        out["answer"].append(split(wake2, sent))
        out["answer_tail"].append(split(sent, sel2))
        k = sel2
    return out


def print_critical_path(path: Path, top: int = 25) -> None:
    names, events = read_stamps(path)
    legs = critical_path(names, events)
    print(f"\nD -> New critical path from {path} ({len(events)} stamps, {len(legs['request'])} orders),"
          " median us per order (owner: innermost stamped function)")
    for leg, rows in legs.items():
        if not rows:
            continue
        keys = {key for row in rows for key in row}
        med = {key: statistics.median(row.get(key, 0.0) for row in rows) for key in keys}
        mean = {key: statistics.fmean(row.get(key, 0.0) for row in rows) for key in keys}
        totals = sorted(row["total"] for row in rows)
        p99 = totals[min(len(totals) - 1, int(0.99 * len(totals)))]
        print(f"  {leg}: total p50 {med['total']:.0f} us, p99 {p99:.0f} us, mean {mean['total']:.0f} us")
        for key in sorted(keys - {"total"}, key=lambda x: -mean[x])[:top]:
            print(f"    {mean[key]:7.1f} mean {med[key]:7.1f} p50  {key}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000, help="orders at max rate (default 5000)")
    parser.add_argument("--paced-orders", type=int, default=1000, help="orders at the fixed rate")
    parser.add_argument("--rate", type=float, default=200.0, help="fixed rate, orders/s (default 200)")
    parser.add_argument("--window", type=int, default=200, help="max orders in flight at max rate")
    parser.add_argument("--only", choices=["bare", "gateway"], default=None)
    parser.add_argument("--sim", choices=["embedded", "process"], default="embedded",
                        help="simulator in the gateway process (default) or in its own process")
    parser.add_argument("--costs", action="store_true",
                        help="only print the engine's per-message Python costs (no servers)")
    parser.add_argument("--profile", metavar="FILE",
                        help="py-spy --native the gateway during the max-rate phase (raw stacks to FILE)")
    parser.add_argument("--stamps", metavar="FILE",
                        help="stamp the gateway's calls (PLXTRA_STAMPS, dumped to FILE) and print the "
                             "D -> New critical path (with few --orders: the max-rate phase is stamped too)")
    parser.add_argument("--read-stamps", metavar="FILE", help="only print the critical path of a stamps dump")
    parser.add_argument("--serve-bare", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), Path(args.serve_bare[1]))
        return 0
    if args.costs:
        per_message_costs()
        return 0
    if args.read_stamps:
        print_critical_path(Path(args.read_stamps))
        return 0

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    results: dict[str, tuple[Result, Result]] = {}
    added: list[tuple[str, Buckets, Buckets]] = []
    with tempfile.TemporaryDirectory(prefix="bench-roundtrip-") as tmp:
        work = Path(tmp)
        if args.only in (None, "bare"):
            port = free_port()
            proc = subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port), str(work / "bare")],
                                    env=env, stdout=subprocess.DEVNULL)
            try:
                wait_port(port, proc, 30)
                results["bare"] = drive("bare", port, args, "1.00", proc.pid)[:2]
            finally:
                stop(proc)
        if args.only in (None, "gateway"):
            from gateway.app.testing import spawn_gateway_process, write_test_config

            port = free_port()
            sim: subprocess.Popen[bytes] | None = None
            url = "embedded"
            if args.sim == "process":
                sim_port = free_port()
                sim = subprocess.Popen([sys.executable, "-m", "gateway", "sim", "--port", str(sim_port),
                                        "--activity", "off"], env=env, stdout=subprocess.DEVNULL,
                                       preexec_fn=batch_scheduling if BATCH_PEERS else None)
                wait_port(sim_port, sim, 30)
                url = f"ws://127.0.0.1:{sim_port}/Zenith"
            cfg = write_test_config(work / "gw", url, port, message_store="file")
            admin_port = free_port()
            add_admin(cfg, admin_port)
            try:
                stamps = Path(args.stamps).resolve() if args.stamps else None
                with spawn_gateway_process(cfg, extra_args=["--log-level", "WARNING"], timeout=60,
                                           env={"PLXTRA_STAMPS": str(stamps)} if stamps else None) as proc:
                    slow, fast, added = drive("gateway", port, args, "1.00", proc.pid,
                                              lambda: scrape_added(admin_port))
                    results["gateway"] = (slow, fast)
                    proc.terminate()
                    if stamps is not None and stamps.exists():
                        print_critical_path(stamps)
                    tail = proc.output().strip().splitlines()[-3:]
                    if any("Traceback" in line or "ERROR" in line for line in tail):
                        print("gateway output tail:", *tail, sep="\n  ", file=sys.stderr)
            finally:
                if sim is not None:
                    stop(sim)

    print(f"\norder -> ExecutionReport round trip ({args.orders} orders at max rate, "
          f"{args.paced_orders} at {args.rate:.0f}/s, window {args.window}, simulator {args.sim})")
    for name, (slow, fast) in results.items():
        report(name, slow, fast, args.rate)
        if name == "gateway":
            for phase, before, after in added:
                print_added(name, phase, before, after)
    if "bare" in results and "gateway" in results:
        ratio = results["gateway"][1].rate / results["bare"][1].rate
        g_slow, g_fast = results["gateway"]
        print(f"\nthroughput ratio gateway/bare: {ratio:.2f}  (target >= 0.5)")
        print(f"gateway p99 at {args.rate:.0f}/s: {g_slow.pct(99) / 1000:.3f} ms  (target < 2 ms)")
        print(f"gateway sustained: {g_fast.rate:,.0f} orders/s  (target >= 5,000)")
        if g_fast.cpu_us is not None:
            print(f"gateway CPU per order at max rate: {g_fast.cpu_us:.0f} us  (target <= 300)")
    if added:
        _, before, after = added[0]
        stage = after.get("request_answer", {})
        p50, n = bucket_quantile(0.5, before.get("request_answer", {}), stage)
        p99, _ = bucket_quantile(0.99, before.get("request_answer", {}), stage)
        print(f"gateway-added D->New at {args.rate:.0f}/s (request + answer, n={n}): p50 {p50 * 1e6:.0f} us "
              f"(target <= 300), p99 {p99 * 1e6:.0f} us (target <= 1000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
