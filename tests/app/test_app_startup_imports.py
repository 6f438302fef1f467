"""Start-up order: what the FIX engine's build needs is imported before it starts, the rest
(services, the bridge, the Zenith client and websockets) while QuickFIX parses the data
dictionaries on the build's worker thread. Checked in a fresh interpreter: the modules
``Gateway._start`` imports before ``engine.build`` must not pull the others in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BEFORE_BUILD = ["gateway.config.loader", "gateway.app.runtime", "gateway.ops.runtime",
                "gateway.ops.logformat", "gateway.sim.config", "gateway.fix.engine", "gateway.fix.handoff",
                "gateway.vocab.dictionary", "gateway.store.inbound_journal", "gateway.app.state_lock"]
AFTER_BUILD = ("gateway.app.services", "gateway.app.orders_service", "gateway.app.marketdata_service",
               "gateway.bridge", "gateway.zenith", "websockets", "gateway.sim.server")


def test_the_build_needs_none_of_the_services_zenith_or_websockets() -> None:
    code = ("import importlib, json, sys\n"
            f"for name in {BEFORE_BUILD!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    early = [m for m in loaded if m.startswith(AFTER_BUILD)]
    assert early == []
    assert "gateway.fix.engine" in loaded   # the check ran on what it says
