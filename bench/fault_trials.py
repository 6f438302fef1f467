"""Fault-injection regression probe: randomized faults during a steady order flow, then invariants.

    PYTHONPATH=. python bench/fault_trials.py [--trials 30] [--seed 1] [--duration-per-trial 8]
                                              [--rate 12] [--settle 30] [--faults K1,K2] [--json]
                                              [--postgres [--failover [--lease-ttl 5]]]

What runs, all on 127.0.0.1:

- the Plxtra simulator as its own process (``plxtra-fix sim --state FILE``, market activity on,
  so marketable orders fill against its market maker);
- a TCP proxy (in this process) between gateway and simulator, to cut or stall Zenith;
- the gateway as its own process (``plxtra-fix run --config``) with the three demo sessions
  (CLIENT1 FIX.4.4, CLIENT2 FIX.4.2, CLIENT3 FIXT.1.1/FIX.5.0SP2), every state file in a
  temporary directory, its Zenith URL pointing at the proxy;
- the three partners: QuickFIX initiators with file stores (in this process), sending new
  orders, cancels and replaces at ``--rate`` requests per second in total.

Each trial injects one fault, chosen at random: ``gateway_kill9`` (kill -9, restart),
``sim_kill9`` (kill -9 of the simulator, restart on the same port and state file),
``zenith_drop`` (the proxy cuts every connection), ``zenith_silent`` (the proxy holds
server -> gateway bytes for a few seconds), ``gateway_sigterm`` (clean restart), ``limit_change``
(a D over max_order_qty is rejected, then the limit is raised and the gateway restarted; the
limit is restored with another restart at the end of the trial). Then it quiesces (both
processes up, partners logged on, answers settled, all bounded) and checks the invariants of
``_fault_checks`` over the whole history so far against Plxtra's own orders (Zenith QueryOrders,
straight to the simulator). A violation is counted once, in the trial that first shows it, and
names the trial (and fault) during which its request was sent: a request rejected during a
simulator outage shows up at the next gateway restart that replays it.

``--postgres`` (issue 14): the probe starts a throw-away PostgreSQL server
(``gateway/store/pg_server.py``) and the gateway keeps its order state there (``gateway.store``).
``--failover`` adds a second gateway process: the two run ``--instance main`` (one instance owning
the three sessions, ``--lease-ttl`` seconds, default 5), one active, one ``--standby``, sharing the
state folder (QuickFIX file stores) on this host. Not 2: the lease is renewed on the gateway's event
loop, and starting three sessions (FIX 5.0SP2 dictionaries, QuickFIX sessions) holds that loop for
1-2.5 s on this 2-core machine, past a 2 s lease's local deadline (ttl - ttl/3 - margin = 1.1 s of
stall): the new owner then loses its lease (exit 3) right after starting. Then ``failover_kill9``
(kill -9 of the current owner; the standby takes over; the killed one is restarted as the new
standby) replaces ``gateway_kill9`` (which means the same in this mode), ``gateway_sigterm`` becomes a clean
handover (the owner releases the lease on its way out), and ``limit_change`` restarts the standby
with the new config and then hands over to it. The takeover time of each ``failover_kill9`` (kill
-9 to the standby accepting on the FIX port) is reported (min/median/max); a takeover slower than
``lease_ttl`` + ttl/3 + ``--takeover-bound`` counts as the violation ``takeover_slow``. Any Logon
with ResetSeqNumFlag or SequenceReset-Reset a partner receives is the violation
``sequence_reset`` (partners keep file stores: their sequence numbers must continue).

``--seed`` fixes the faults, their order and timings; what the flow sends in a trial depends on
how fast the processes answer, so two runs with one seed differ in orders, not in faults.

Prints one line per trial and a summary (``--json``: one JSON document instead). Exit status 1
when any violation was found, 2 when the probe itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _fault_checks import (
    KINDS,
    TRANSIENT_KINDS,
    History,
    PlxtraOrder,
    Received,
    Violation,
    check,
)
from _fault_flow import Flow
from _fault_partners import Partners
from _fault_procs import ManagedProcess, free_port, gateway_yaml, port_open
from _fault_proxy import FaultProxy

from gateway.zenith.client import ZenithClient
from gateway.zenith.trading import TradingApi

__all__ = ["FAULTS", "main"]

FAULTS = ("gateway_kill9", "sim_kill9", "zenith_drop", "zenith_silent", "gateway_sigterm", "limit_change")
# --failover: a kill -9 of the owner is a failover; "gateway_kill9" is accepted as its alias
FAILOVER_FAULTS = ("failover_kill9", "sim_kill9", "zenith_drop", "zenith_silent", "gateway_sigterm",
                   "limit_change")
INSTANCE = "main"
STANDBY_WAITING = "waiting for the lease held by"
BASE_LIMIT = 1_000_000
LOGON_TIMEOUT = 45.0
# After this long without a logon, a partner restarts its engine (see _fault_partners) before
# the probe calls it a violation.
ENGINE_RESTART_AFTER = 20.0
PROBE_KINDS = ("process_exited", "not_logged_on", "sequence_reset", "takeover_slow")


@dataclass(slots=True)
class TrialResult:
    index: int
    fault: str
    seconds: float
    sent: dict[str, int]
    fills: int
    note: str
    violations: list[Violation] = field(default_factory=list)
    # per violation: (trial, fault) during which its request was sent, when it names one; a
    # request rejected in an outage shows up later, at the restart that replays it
    origins: list[tuple[int, str] | None] = field(default_factory=list)


async def _plxtra_orders(url: str, accounts: list[str]) -> list[PlxtraOrder]:
    client = ZenithClient(url, "demo", request_timeout=10.0, connect_timeout=5.0)
    await client.start()
    try:
        api = TradingApi(client)
        out: list[PlxtraOrder] = []
        for acct in accounts:
            for o in await api.query_orders(acct):
                out.append(PlxtraOrder(o.id, o.account, o.details.code, o.details.side,
                                       o.details.quantity or Decimal(0), o.status,
                                       o.executed_quantity or Decimal(0)))
        return out
    finally:
        await client.close()


class Probe:
    """The processes, the proxy and the partners of one run; ``with Probe(...) as p: p.trial(...)``."""

    def __init__(self, args: argparse.Namespace, workdir: Path, rng: random.Random) -> None:
        self.args = args
        self.workdir = workdir
        self.rng = rng
        self.sim_port = free_port()
        self.fix_port = free_port()
        self.sim = ManagedProcess("simulator", ["sim", "--port", str(self.sim_port), "--state",
                                                str(workdir / "sim.sqlite"), "--seed", str(args.seed)],
                                  self.sim_port, workdir / "sim.log")
        self.cfg_path = workdir / "gateway.yaml"
        self.gateway_args = ["run", "--config", str(self.cfg_path)]
        # --failover: ``gateway`` is the current owner of the instance, ``standby`` waits for its
        # lease; they swap at every failover. Each keeps its own log file.
        self.standby: ManagedProcess | None = None
        if args.failover:
            self.gateway_args += ["--instance", INSTANCE]
            self.gateway = ManagedProcess("gateway-a", list(self.gateway_args), self.fix_port,
                                          workdir / "gateway-a.log")
            self.standby = ManagedProcess("gateway-b", [*self.gateway_args, "--standby"], self.fix_port,
                                          workdir / "gateway-b.log")
        else:
            self.gateway = ManagedProcess("gateway", list(self.gateway_args), self.fix_port,
                                          workdir / "gateway.log")
        self.pg: Any = None   # gateway.store.pg_server.PgServer with --postgres
        self.store_url: str | None = None
        self.takeovers: list[float] = []     # failover_kill9: kill -9 -> the standby accepts
        self.handovers: list[float] = []     # SIGTERM of the owner -> the standby accepts
        self.pending: list[Violation] = []   # found while injecting, reported with the trial
        self.resets_seen = 0
        self.proxy = FaultProxy(self.sim_port)
        self.partners: Partners | None = None
        self.flow: Flow | None = None
        self.seen: set[tuple[str, str]] = set()
        self.sent_in: dict[str, tuple[int, str]] = {}       # "session/ClOrdID" -> (trial, fault)
        self.fill_ids: set[tuple[str, str]] = set()
        self.limit_raised = False

    # --- set-up and tear-down ------------------------------------------------------------------

    def _write_config(self, max_order_qty: int) -> None:
        instance = (INSTANCE, self.args.lease_ttl) if self.args.failover else None
        self.cfg_path.write_text(gateway_yaml(self.workdir, self.fix_port, self.proxy.port, max_order_qty,
                                              self.args.zenith_timeout, self.store_url, instance))

    def _start_gateway(self, proc: ManagedProcess, *, standby: bool = False) -> float:
        """Start ``proc`` as the owner (ready when it accepts) or as the standby (ready when it says
        whom it waits for)."""
        proc.args = [*self.gateway_args, *(["--standby"] if standby else [])]
        return proc.start(ready_text=STANDBY_WAITING if standby else None)

    def _start_postgres(self) -> None:
        from gateway.store.pg_server import start_pg_server

        self.pg = start_pg_server()
        self.pg.create_database("fault_trials")
        # the config names ${PGPASSWORD}, as a deployment does; the gateways inherit it
        os.environ["PGPASSWORD"] = self.pg.password
        self.store_url = self.pg.config_url("fault_trials")

    def __enter__(self) -> Probe:
        try:
            if self.args.postgres:
                self._start_postgres()
            self.sim.start()
            self.proxy.__enter__()
            self._write_config(BASE_LIMIT)
            self._start_gateway(self.gateway)
            if self.standby is not None:
                self._start_gateway(self.standby, standby=True)
            self.partners = Partners(self.workdir / "partners", self.fix_port)
            # the flow draws as many numbers as timing lets it send: its own generator keeps the
            # faults and their timings the same for a given --seed
            self.flow = Flow(self.partners, random.Random(self.args.seed + 1), f"ft{self.args.seed}")
            self.partners.start()
            if not self.partners.wait_logged_on(LOGON_TIMEOUT):
                raise RuntimeError(f"partners did not log on; see {self.gateway.log_path}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.partners is not None:
            self.partners.stop()
        for proc in (self.standby, self.gateway):   # the standby first: no takeover at the end
            if proc is not None:
                proc.terminate(10)
                proc.kill()
        self.proxy.close()
        self.sim.terminate(10)
        self.sim.kill()
        if self.pg is not None:
            self.pg.stop()

    # --- faults --------------------------------------------------------------------------------

    def _takeover_bound(self) -> float:
        return self.args.lease_ttl * 4 / 3 + self.args.takeover_bound

    def _failover(self, how: str) -> str:
        """Stop the owner (``kill9``, ``term``, or ``dead``: it exited already), wait for the standby
        to accept on the FIX port, then start the old owner again as the new standby."""
        assert self.standby is not None
        old, new = self.gateway, self.standby
        old_pid = old.pid
        began = time.monotonic()
        if how == "kill9":
            old.kill()
        elif how == "term":
            old.terminate()
        bound = self._takeover_bound()
        while not port_open(self.fix_port) and new.alive and time.monotonic() - began < bound:
            time.sleep(0.05)
        took = time.monotonic() - began
        self.gateway, self.standby = new, old
        if port_open(self.fix_port) and new.alive:
            if how == "kill9":
                self.takeovers.append(took)
            elif how == "term":
                self.handovers.append(took)
        else:
            why = "exited" if not new.alive else f"not accepting after {bound:.0f}s"
            self.pending.append(Violation("takeover_slow", f"{new.name}/{new.starts}/{time.monotonic():.0f}",
                                          f"{how} of {old.name}: the standby {new.name} {why}"))
            if not new.alive:
                self._start_gateway(new)
        restart = self._start_gateway(old, standby=True)
        what = {"kill9": "kill -9", "term": "SIGTERM", "dead": "exit"}[how]
        return (f"{what} of {old.name} (pid {old_pid}): {new.name} accepting after {took:.1f}s; "
                f"{old.name} standby again in {restart:.1f}s")

    def _reload_config(self) -> str:
        """Make the gateway run with the config file as it is now."""
        if self.standby is None:
            self.gateway.terminate()
            return f"restart {self.gateway.start():.1f}s"
        # the standby reads the config when it starts: restart it first, then hand over to it
        self.standby.terminate()
        self._start_gateway(self.standby, standby=True)
        return self._failover("term")

    def _restart_gateway(self, how: str) -> str:
        if self.standby is not None:
            return self._failover(how)
        if how == "kill9":
            self.gateway.kill()
        else:
            self.gateway.terminate()
        down = self.rng.uniform(0.3, 2.0)
        time.sleep(down)
        took = self.gateway.start()
        return f"gateway down {down:.1f}s, start {took:.1f}s"

    def _inject(self, fault: str) -> str:
        assert self.partners is not None and self.flow is not None
        if fault in ("gateway_kill9", "failover_kill9"):
            return self._restart_gateway("kill9")
        if fault == "gateway_sigterm":
            return self._restart_gateway("term")
        if fault == "sim_kill9":
            self.sim.kill()
            down = self.rng.uniform(1.0, 4.0)
            time.sleep(down)
            took = self.sim.start()
            return f"simulator down {down:.1f}s, start {took:.1f}s"
        if fault == "zenith_drop":
            cut = self.proxy.cut()
            return f"cut {cut} Zenith connection(s)"
        if fault == "zenith_silent":
            hold = self.rng.uniform(2.0, 8.0)
            self.proxy.stall(hold)
            time.sleep(hold)
            return f"Zenith silent {hold:.1f}s"
        if fault == "limit_change":
            spec = self.rng.choice(self.partners.specs)
            req = self.flow.new_over_limit(spec, BASE_LIMIT)
            self._wait_answer(spec.sender, req.cl_ord_id, 10.0)
            self._write_config(4 * BASE_LIMIT)
            self.limit_raised = True
            return f"{spec.sender} D {req.cl_ord_id} qty {req.qty}; limit raised, {self._reload_config()}"
        raise ValueError(fault)

    def _wait_answer(self, sender: str, cl: str, timeout: float) -> None:
        assert self.partners is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received, _ = self.partners.snapshot()
            if any(s == sender and (11, cl) in f for s, f in received):
                return
            time.sleep(0.1)

    # --- one trial -----------------------------------------------------------------------------

    def _run_flow(self, stop: threading.Event) -> None:
        assert self.flow is not None
        period = 1.0 / self.args.rate
        while not stop.is_set():
            self.flow.step()
            stop.wait(period)

    def history(self) -> History:
        assert self.partners is not None and self.flow is not None
        received, rejects = self.partners.snapshot()
        accounts = [s.plxtra_account for s in self.partners.specs]
        orders = asyncio.run(_plxtra_orders(f"ws://127.0.0.1:{self.sim_port}/Zenith", accounts))
        return History(self.flow.snapshot(), [Received(s, f) for s, f in received], orders,
                       frozenset(accounts), rejects)

    def _quiesce(self) -> tuple[list[Violation], str]:
        found: list[Violation] = []
        notes: list[str] = []
        if self.limit_raised:
            self._write_config(BASE_LIMIT)
            self.limit_raised = False
            self._reload_config()
        for proc in (self.sim, self.gateway, self.standby):
            if proc is None or proc.alive:
                continue
            code = proc.proc.returncode if proc.proc is not None else None
            found.append(Violation("process_exited", f"{proc.name}/{proc.starts}",
                                   f"the {proc.name} exited on its own (status {code})"))
            if proc is self.sim:
                proc.start()
            elif proc is self.standby:
                self._start_gateway(proc, standby=True)
            elif self.standby is not None and self.standby.alive:
                notes.append(self._failover("dead"))   # the standby's job: see that it does it
            else:
                self._start_gateway(proc)
        assert self.partners is not None
        if not self.partners.wait_logged_on(ENGINE_RESTART_AFTER):
            stuck = self.partners.not_logged_on()
            for sender in stuck:
                self.partners.restart_engine(sender)
            notes.append(f"restarted the engine of {','.join(stuck)}")
            if not self.partners.wait_logged_on(LOGON_TIMEOUT):
                down = self.partners.not_logged_on()
                found.append(Violation("not_logged_on", f"{down}/{time.monotonic():.0f}",
                                       f"{down} not logged on {ENGINE_RESTART_AFTER + LOGON_TIMEOUT:.0f}s "
                                       "after the fault, even after restarting the partner's engine"))
        return found, "; ".join(notes)

    def _settle(self) -> list[Violation]:
        deadline = time.monotonic() + self.args.settle
        while True:
            found = [v for v in check(self.history()) if (v.kind, v.key) not in self.seen]
            if not any(v.kind in TRANSIENT_KINDS for v in found) or time.monotonic() >= deadline:
                return found
            time.sleep(1.0)

    def _new_resets(self) -> list[Violation]:
        assert self.partners is not None
        with self.partners.cond:
            resets = list(self.partners.seq_resets)
        new = resets[self.resets_seen:]
        self.resets_seen = len(resets)
        return [Violation("sequence_reset", f"{sender}/{text}/{self.resets_seen}",
                          f"{sender}: the gateway reset the sequence numbers ({text})")
                for sender, text in new]

    def _count_fills(self) -> int:
        assert self.partners is not None
        received, _ = self.partners.snapshot()
        before = len(self.fill_ids)
        for s, f in received:
            d = dict(f)
            if d.get(35) == "8" and d.get(150) in ("F", "1", "2"):
                self.fill_ids.add((s, d.get(17, "")))
        return len(self.fill_ids) - before

    def trial(self, index: int, fault: str) -> TrialResult:
        assert self.flow is not None
        began = time.monotonic()
        sent_before = dict(self.flow.sent_by_type)
        stop = threading.Event()
        flow = threading.Thread(target=self._run_flow, args=(stop,), name="order-flow", daemon=True)
        flow.start()
        try:
            time.sleep(self.rng.uniform(0.2, 0.6) * self.args.duration_per_trial)
            note = self._inject(fault)
            time.sleep(max(1.0, began + self.args.duration_per_trial - time.monotonic()))
        finally:
            stop.set()
            flow.join(10)
        found, quiesce_note = self._quiesce()
        if quiesce_note:
            note = f"{note}; {quiesce_note}"
        found += self._settle()
        found = self.pending + found
        self.pending = []
        found += self._new_resets()
        for req in self.flow.snapshot():
            self.sent_in.setdefault(f"{req.session}/{req.cl_ord_id}", (index, fault))
        for v in found:
            self.seen.add((v.kind, v.key))
        origins = [self.sent_in.get("/".join(v.key.split("/")[:2])) for v in found]
        sent = {k: v - sent_before.get(k, 0) for k, v in self.flow.sent_by_type.items()}
        return TrialResult(index, fault, time.monotonic() - began, sent, self._count_fills(), note, found,
                           origins)


# --- reporting -------------------------------------------------------------------------------

def _trial_line(r: TrialResult, total: int) -> str:
    kinds = Counter(v.kind for v in r.violations)
    viol = ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) or "none"
    sent = " ".join(f"{r.sent.get(t, 0)} {t}" for t in ("D", "F", "G"))
    return (f"trial {r.index}/{total} {r.fault:<15} {r.seconds:5.1f}s  sent {sent}, fills {r.fills}  "
            f"violations: {viol}  ({r.note})")


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"count": len(values), "min": round(min(values), 2),
            "median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def _summary(results: list[TrialResult], wall: float, takeovers: list[float] | None = None,
             handovers: list[float] | None = None) -> dict[str, object]:
    faults = Counter(r.fault for r in results)
    kinds = Counter(v.kind for r in results for v in r.violations)
    by_origin = Counter(o[1] if o else "none named" for r in results for o in r.origins)
    secs = [r.seconds for r in results]
    return {
        "trials": len(results),
        "faults": dict(sorted(faults.items())),
        "orders": sum(r.sent.get("D", 0) for r in results),
        "cancels": sum(r.sent.get("F", 0) for r in results),
        "replaces": sum(r.sent.get("G", 0) for r in results),
        "fills": sum(r.fills for r in results),
        "partner_engine_restarts": sum("restarted the engine" in r.note for r in results),
        "violations": {k: kinds.get(k, 0) for k in (*KINDS, *PROBE_KINDS) if kinds.get(k)},
        "violations_total": sum(kinds.values()),
        "violations_by_fault_when_sent": dict(sorted(by_origin.items())),
        "trials_with_violations": sum(1 for r in results if r.violations),
        "seconds_total": round(wall, 1),
        "seconds_per_trial_mean": round(sum(secs) / len(secs), 1) if secs else 0.0,
        "seconds_per_trial_max": round(max(secs), 1) if secs else 0.0,
        "takeover_seconds": _spread(takeovers or []),
        "handover_seconds": _spread(handovers or []),
    }


def _print_summary(s: dict[str, object]) -> None:
    print("\nsummary")
    rows: list[tuple[str, object]] = [("trials", s["trials"])]
    rows += [(f"  fault {k}", n) for k, n in s["faults"].items()]  # type: ignore[attr-defined]
    rows += [("orders (D)", s["orders"]), ("cancels (F)", s["cancels"]), ("replaces (G)", s["replaces"]),
             ("fills (unique ExecID)", s["fills"]),
             ("partner engine restarts", s["partner_engine_restarts"]),
             ("violations", s["violations_total"])]
    rows += [(f"  {k}", n) for k, n in s["violations"].items()]  # type: ignore[attr-defined]
    rows.append(("violations by the fault during which", "the request was sent"))
    rows += [(f"  {k}", n) for k, n in s["violations_by_fault_when_sent"].items()]  # type: ignore[attr-defined]
    rows += [("trials with violations", s["trials_with_violations"]),
             ("duration total (s)", s["seconds_total"]),
             ("per trial mean / max (s)", f"{s['seconds_per_trial_mean']} / {s['seconds_per_trial_max']}")]
    for key, label in (("takeover_seconds", "takeover after kill -9 (s)"),
                       ("handover_seconds", "handover after SIGTERM (s)")):
        spread = s.get(key)
        if spread:
            rows.append((label, "n={count} min {min} / median {median} / max {max}".format(**spread)))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration-per-trial", type=float, default=8.0, help="seconds of order flow per trial")
    p.add_argument("--rate", type=float, default=12.0, help="requests per second, all sessions together")
    p.add_argument("--settle", type=float, default=30.0, help="max seconds to wait for answers to settle")
    p.add_argument("--zenith-timeout", type=float, default=5.0, help="the gateway's Zenith request_timeout")
    p.add_argument("--faults", help=f"comma-separated faults, used in turn instead of at random ({FAULTS})")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout instead of text")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="stop starting trials after this")
    p.add_argument("--postgres", action="store_true",
                   help="a throw-away PostgreSQL server holds the gateway's order state")
    p.add_argument("--failover", action="store_true",
                   help="with --postgres: an active and a standby gateway of one instance")
    p.add_argument("--lease-ttl", type=float, default=5.0, help="--failover: the instance's lease_ttl (s)")
    p.add_argument("--takeover-bound", type=float, default=30.0,
                   help="--failover: s allowed past lease_ttl + ttl/3 for the standby to accept")
    args = p.parse_args(argv)
    if args.failover and not args.postgres:
        p.error("--failover needs --postgres (the lease lives in PostgreSQL)")
    args.fault_set = FAILOVER_FAULTS if args.failover else FAULTS
    if args.faults:
        args.fault_list = [f.strip() for f in args.faults.split(",") if f.strip()]
        allowed = (*args.fault_set, "gateway_kill9") if args.failover else args.fault_set
        bad = [f for f in args.fault_list if f not in allowed]
        if bad:
            p.error(f"unknown fault(s) {bad}; choose from {args.fault_set}")
    else:
        args.fault_list = None
    if args.trials < 1 or args.rate <= 0 or args.duration_per_trial < 1:
        p.error("--trials >= 1, --rate > 0 and --duration-per-trial >= 1 please")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="fault-trials-"))
    results: list[TrialResult] = []
    began = time.monotonic()
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if args.json else (lambda s: print(s, flush=True))
    mode = (f"PostgreSQL, active + standby (lease_ttl {args.lease_ttl:g} s)" if args.failover
            else "PostgreSQL store" if args.postgres else "SQLite store")
    say(f"fault trials: {args.trials} trials, seed {args.seed}, {mode}, work directory {workdir}")
    takeovers: list[float] = []
    handovers: list[float] = []
    try:
        with Probe(args, workdir, rng) as probe:
            takeovers, handovers = probe.takeovers, probe.handovers
            for i in range(1, args.trials + 1):
                if time.monotonic() - began > args.max_seconds:
                    say(f"stopping after {i - 1} trials: --max-seconds {args.max_seconds:.0f} reached")
                    break
                fault = (args.fault_list[(i - 1) % len(args.fault_list)] if args.fault_list
                         else rng.choice(args.fault_set))
                r = probe.trial(i, fault)
                results.append(r)
                say(_trial_line(r, args.trials))
                for v, origin in zip(r.violations, r.origins, strict=True):
                    when = f" [sent in trial {origin[0]}, {origin[1]}]" if origin else ""
                    say(f"    {v.kind}: {v.detail}{when}")
    except RuntimeError as exc:
        say(f"fault trials could not run: {exc}")
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"kept {workdir}")
    summary = _summary(results, time.monotonic() - began, takeovers, handovers)
    if args.json:
        doc = {"seed": args.seed, "summary": summary, "trials": [
            {"index": r.index, "fault": r.fault, "seconds": round(r.seconds, 2), "sent": r.sent,
             "fills": r.fills, "note": r.note,
             "violations": [{"kind": v.kind, "detail": v.detail,
                             "sent_in_trial": origin[0] if origin else None,
                             "sent_during": origin[1] if origin else None}
                            for v, origin in zip(r.violations, r.origins, strict=True)]}
            for r in results]}
        print(json.dumps(doc, indent=2))
    else:
        _print_summary(summary)
    return 1 if summary["violations_total"] else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
