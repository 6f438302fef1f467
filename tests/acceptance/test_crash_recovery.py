"""kill -9 of the gateway: a fill that happens while it is dead reaches the client exactly once.

The simulator runs as its own process (``plxtra-fix sim --state ... --activity off``) so it
outlives the gateway, like a real Plxtra. The client resumes its FIX session without reset
and answers the gateway's ResendRequest with a GapFill, as any engine would.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import websockets
from rawfix import Msg, RawFix, free_port, utc_ts

from conftest import REPO, die_with_parent, start_gateway


def _start_sim(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "sim", "--port", str(port), "--state",
                             str(tmp_path / "sim.sqlite"), "--activity", "off"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=die_with_parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("simulator did not start")


async def _sell_direct(url: str, qty: int) -> None:
    """Another Plxtra user (XS:0005) sells straight through Zenith, not through the gateway."""
    async with websockets.connect(url + "?version=2.0", subprotocols=["ZenithJson"],
                                  additional_headers={"Authorization": "Bearer demo"}, open_timeout=10) as ws:
        data = {
            "Account": "XS:0005",
            "Details": {"Exchange": "XSX", "Code": "XS05", "Side": "Ask", "Style": "Market", "Type": "Limit",
                        "LimitPrice": 1.00, "Quantity": qty, "Validity": "UntilDay"},
            "Route": {"Algorithm": "Market", "Market": "XSX::XSX"}}
        await ws.send(json.dumps({"Controller": "Trading", "Topic": "PlaceOrder", "TransactionID": 1,
                                  "Data": data}))
        for _ in range(50):
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg.get("TransactionID") == 1:
                assert msg["Data"]["Result"] == "Success", msg
                return


def _resume(port: int, seq: int) -> RawFix:
    """Log on without reset with our stored number; answer any ResendRequest with a GapFill."""
    c = RawFix(port, "FIX.4.4", "CLIENT1", "PLXTRA")
    c.seq = seq
    c.send("A", [(98, "0"), (108, "30")])
    c.expect("A", timeout=10)
    for m in c.drain(1.5):
        c._pending.append(m)
        if m.msg_type == "2":
            c.send("4", [(123, "Y"), (36, str(c.seq))], seq=int(m[7]), header=[(43, "Y"), (122, utc_ts())])
    return c


def _fills(c: RawFix, cl: str) -> list[Msg]:
    return [m for m in c.received if m.msg_type == "8" and m[11] == cl and m[32] and m[43] != "Y"]


def test_fill_during_gateway_crash_is_reported_once(tmp_path: Path, uid: str) -> None:
    sim, sim_port = _start_sim(tmp_path)
    url = f"ws://127.0.0.1:{sim_port}/Zenith"
    gw = None
    try:
        gw = start_gateway(tmp_path / "gw", zenith_url=url)
        port = gw.port
        c = gw.connect("FIX.4.4", "CLIENT1")
        c.logon(reset=True)
        cl = f"{uid}-k9"
        c.send("D", [(11, cl), (1, "0001"), (55, "XS05"), (54, "1"), (38, "100"), (40, "2"), (44, "1.00"),
                     (59, "0"), (60, utc_ts())])
        assert c.expect("8", where={11: cl})[150] == "0"
        c.send("5")
        c.expect("5")
        c.close()
        seq = c.seq

        gw.proc.kill()                       # kill -9: no clean shutdown
        gw.proc.wait(10)
        asyncio.run(_sell_direct(url, 40))  # fills 40 of our 100 while the gateway is dead

        gw = start_gateway(tmp_path / "gw", zenith_url=url, port=port)
        c = _resume(port, seq)
        fill = c.expect("8", where={11: cl, 150: "F"}, timeout=15)
        assert (fill[32], fill[14], fill[151], fill[39]) == ("40", "40", "60", "1")
        c.drain(1.0)
        assert len(_fills(c, cl)) == 1
        c.send("5")
        c.expect("5")
        c.close()
        seq = c.seq

        gw.stop()                            # a clean restart must not send the fill again
        gw = start_gateway(tmp_path / "gw", zenith_url=url, port=port)
        c = _resume(port, seq)
        c.send("H", [(11, cl), (55, "XS05"), (54, "1")])
        st = c.expect("8", where={150: "I"}, timeout=10)
        assert (st[39], st[14], st[151]) == ("1", "40", "60")
        assert _fills(c, cl) == [], "the fill was reported again after a restart"
        c.send("F", [(11, f"{cl}-c"), (41, cl), (55, "XS05"), (54, "1"), (38, "100"), (60, utc_ts())])
        assert c.expect("8", where={11: f"{cl}-c"}, timeout=10)[39] == "4"
        c.close()
    finally:
        if gw is not None:
            gw.stop()
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()


def test_clean_restart_on_embedded_simulator_keeps_working_orders(tmp_path: Path, uid: str) -> None:
    """`plxtra-fix run` stopped and started again (shipped config, embedded simulator): an order placed
    before the restart is still known to both the gateway and Plxtra, so status and cancel agree."""
    gw = start_gateway(tmp_path / "gw")
    try:
        port = gw.port
        c = gw.connect("FIX.4.4", "CLIENT1")
        c.logon(reset=True)
        cl = f"{uid}-keep"
        c.send("D", [(11, cl), (1, "0001"), (55, "XS03"), (54, "1"), (38, "5"), (40, "2"), (44, "1.00"),
                     (59, "0"), (60, utc_ts())])
        assert c.expect("8", where={11: cl})[150] == "0"
        c.send("5")
        c.expect("5")
        c.close()
        assert gw.stop() == 0
        gw = start_gateway(tmp_path / "gw", port=port)
        c = gw.connect("FIX.4.4", "CLIENT1")
        c.logon(reset=True)
        c.send("H", [(11, cl), (55, "XS03"), (54, "1")])
        st = c.expect("8", where={150: "I"}, timeout=10)
        assert (st[11], st[39], st[151]) == (cl, "0", "5")
        c.send("F", [(11, f"{cl}-c"), (41, cl), (55, "XS03"), (54, "1"), (38, "5"), (60, utc_ts())])
        cx = c.expect("8", where={11: f"{cl}-c"}, timeout=10)
        assert (cx[150], cx[39]) == ("4", "4")
        c.close()
    finally:
        gw.stop()
