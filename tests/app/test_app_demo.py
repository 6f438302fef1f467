"""`plxtra-fix demo` as a user runs it: a real subprocess, the trace on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_order_fills_market_data_and_logout(tmp_path: Path) -> None:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "gateway", "demo", "--updates", "1", "--keep", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=path))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "<- Logon accepted" in out
    assert "-> NewOrderSingle ClOrdID=demo-1 Buy 100 XS01 @ " in out
    assert "<- ExecutionReport New: New ClOrdID=demo-1" in out
    assert "<- ExecutionReport Trade:" in out                      # it crossed the best offer
    assert "<- MarketDataSnapshotFullRefresh XS01 MDReqID=demo-md" in out
    assert "<- Logout" in out and "Traceback" not in done.stderr
    assert any(p.name.endswith("messages.current.log") for p in (tmp_path / "fixlog").iterdir())
