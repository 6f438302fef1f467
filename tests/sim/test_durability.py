"""Group commit of the state file is write-ahead: whatever a client saw acknowledged survives kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import Raw, order

ROOT = Path(__file__).resolve().parents[2]


def _start(state: Path, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "gateway", "sim", "--port", "0", "--activity", "off", "--seed", "5"]
    proc = subprocess.Popen(
        [*cmd, "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"(ws://127\.0\.0\.1:\d+/Zenith)", line)
    if not m:
        proc.kill()
        raise AssertionError(line + (proc.stderr.read() if proc.stderr else ""))
    return proc, m.group(1)


def _book(c: Raw) -> dict[str, Any]:
    """Everything a restart must keep, as the simulator reports it."""
    out: dict[str, Any] = {}
    for acct in ("XS:0001", "XS:0002"):
        out[acct] = {
            "orders": c.rpc("Trading", "QueryOrders", {"Account": acct})["Data"],
            "transactions": c.rpc("Trading", "QueryTransactions", {"Account": acct})["Data"],
            "holdings": c.rpc("Trading", "QueryHoldings", {"Account": acct})["Data"],
            "balances": c.rpc("Trading", "QueryBalances", {"Account": acct})["Data"],
        }
    return out


def test_acknowledged_orders_and_fills_survive_kill_9(tmp_path):
    state = tmp_path / "sim.sqlite"
    proc, url = _start(state, tmp_path)
    try:
        c = Raw(url, token="demo")
        # pipelined: many requests per read on the server, so several share one commit
        frames = []
        for i in range(60):
            side, account = ("Bid", "XS:0001") if i % 2 == 0 else ("Ask", "XS:0002")
            body = order(side=side, account=account, qty=10, price="10.00", rid=f"k9-{i}")
            frames.append(
                {"Controller": "Trading", "Topic": "PlaceOrder", "TransactionID": 1000 + i, "Data": body}
            )
        for f in frames:
            c.send(json.dumps(f))
        acks = {}
        for _ in range(60):
            m = c.expect(lambda m: isinstance(m.get("TransactionID"), int) and m["TransactionID"] >= 1000)
            acks[m["TransactionID"]] = m["Data"]
        assert all(a["Result"] == "Success" for a in acks.values()), acks
        before = _book(c)
        assert sum(len(v["transactions"]) for v in before.values()) == 60  # 30 crosses, two sides each
        proc.send_signal(signal.SIGKILL)  # no shutdown: only what was committed remains
        proc.wait(10)
        c.ws.close_timeout = 0.1
        c.close()
        proc, url = _start(state, tmp_path)
        c = Raw(url, token="demo")
        assert _book(c) == before
        again = c.rpc("Trading", "PlaceOrder", frames[7]["Data"])["Data"]  # same RequestID, same answer
        assert again == acks[1007]
        c.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            finally:
                if proc.poll() is None:
                    proc.kill()
