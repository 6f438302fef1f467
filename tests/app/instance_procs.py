"""Helpers for tests that run gateway instances as real processes (issue 14): who listens on a
port, a bounded wait, the simulator as its own process, and Plxtra's own view of the orders and
executions (Zenith QueryOrders / QueryTransactions straight to the simulator).

The bench's fault-probe parts (``bench/_fault_*.py``: partners with QuickFIX file stores, the
steady order flow, the invariant checker) are put on the path here too, so the failover test
and ``bench/fault_trials.py --failover`` judge a run by the same rules.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _fault_checks import PlxtraOrder  # noqa: E402
from _fault_procs import ManagedProcess, free_port  # noqa: E402

__all__ = ["PlxtraView", "listening_pids", "plxtra_view", "start_simulator", "until"]


def listening_pids(port: int) -> set[int]:
    """PIDs with a socket listening on ``port`` (127.0.0.1), from /proc."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as f:
            for line in list(f)[1:]:
                cols = line.split()
                if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{cols[9]}]")
    pids: set[int] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                pids.add(int(pid))
        except OSError:
            continue
    return pids


def until(what: str, predicate: Callable[[], object], timeout: float, step: float = 0.05) -> float:
    """Wait (bounded) until ``predicate()``; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(step)
    return time.monotonic() - start


def start_simulator(workdir: Path, seed: int = 3) -> ManagedProcess:
    """``plxtra-fix sim`` in its own process, market activity on (marketable orders fill against
    its market maker), its state in ``workdir``; ready once it accepts. Kill it at the end."""
    port = free_port()
    sim = ManagedProcess("simulator", ["sim", "--port", str(port), "--state", str(workdir / "sim.sqlite"),
                                       "--seed", str(seed)], port, workdir / "sim.log")
    sim.start()
    return sim


@dataclass(frozen=True, slots=True)
class PlxtraView:
    orders: list[PlxtraOrder]
    # OrderID -> (executed quantity, executed value = sum of quantity x price), from its transactions
    executions: dict[str, tuple[Decimal, Decimal]]


async def _view(url: str, accounts: Iterable[str]) -> PlxtraView:
    from gateway.zenith.client import ZenithClient
    from gateway.zenith.trading import TradingApi

    client = ZenithClient(url, "demo", request_timeout=10.0, connect_timeout=5.0)
    await client.start()
    try:
        api = TradingApi(client)
        orders: list[PlxtraOrder] = []
        executions: dict[str, tuple[Decimal, Decimal]] = {}
        for acct in accounts:
            for o in await api.query_orders(acct):
                orders.append(PlxtraOrder(o.id, o.account, o.details.code, o.details.side,
                                          o.details.quantity or Decimal(0), o.status,
                                          o.executed_quantity or Decimal(0)))
            for t in await api.query_transactions(acct):
                qty, price = t.total_quantity or Decimal(0), t.average_price or Decimal(0)
                q, v = executions.get(t.order_id, (Decimal(0), Decimal(0)))
                executions[t.order_id] = (q + qty, v + qty * price)
        return PlxtraView(orders, executions)
    finally:
        await client.close()


def plxtra_view(sim_port: int, accounts: Iterable[str]) -> PlxtraView:
    """Plxtra's orders and executions on ``accounts``, asked of the simulator directly."""
    return asyncio.run(_view(f"ws://127.0.0.1:{sim_port}/Zenith", list(accounts)))


def two_host_configs(tmp_path: Path, zenith_url: str, fix_port: int, store: str, *,
                     instance: bool) -> list[Path]:
    """One gateway config for two hosts ``a`` and ``b``, each with its own (empty) state directory
    under ``tmp_path``: the state in PostgreSQL at ``store``, QuickFIX's store its default there;
    with ``instance``, every session owned by instance ``a`` (lease ttl 2 s)."""
    import yaml

    from gateway.app.testing import write_test_config

    configs = []
    for name in ("a", "b"):
        cfg = write_test_config(tmp_path / name, zenith_url, fix_port, gateway={"store": store})
        doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        del doc["gateway"]["message_store"]   # the default with a PostgreSQL store: QuickFIX's there too
        if instance:
            doc["instances"] = {"a": {"sessions": [s["name"] for s in doc["sessions"]], "lease_ttl": 2}}
        cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        configs.append(cfg)
    return configs
