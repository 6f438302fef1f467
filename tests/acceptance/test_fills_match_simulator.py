"""Every fill reported over FIX appears exactly once, and matches Plxtra's own Transactions.

The Plxtra side is read with a raw WebSocket client (token ``demo``, ``QueryTransactions``),
not with the gateway's Zenith client, so the two cannot share a misunderstanding.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
import websockets
from rawfix import utc_ts


async def _query_transactions(url: str, account: str) -> list[dict]:
    async with websockets.connect(url + "?version=2.0", subprotocols=["ZenithJson"],
                                  additional_headers={"Authorization": "Bearer demo"},
                                  open_timeout=10) as ws:
        await ws.send(json.dumps({"Controller": "Trading", "Topic": "QueryTransactions",
                                  "TransactionID": 1, "Data": {"Account": account}}))
        for _ in range(50):
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10), parse_float=Decimal)
            if msg.get("TransactionID") == 1:
                assert msg.get("Action") != "Error", msg
                return list(msg.get("Data") or [])
    raise AssertionError("no QueryTransactions answer")


@pytest.mark.parametrize(("begin", "sender", "acct", "ex"), [
    ("FIX.4.4", "CLIENT1", "0001", []),
    ("FIX.4.2", "CLIENT2", "0003", []),
    ("FIXT.1.1", "CLIENT3", "0004", [(1137, "9")]),
])
def test_fills_match_simulator(gateway, uid: str, begin: str, sender: str, acct: str, ex: list) -> None:
    c = gateway.connect(begin, sender)
    try:
        c.logon(reset=True, extra=ex)
        ids = []
        plan = [("XS01", "1", "700"), ("XS02", "2", "650"), ("XS03", "1", "25")]
        for i, (sym, side, qty) in enumerate(plan):
            cl = f"{uid}-{i}"
            ids.append(cl)
            c.send("D", [(11, cl), (1, acct), (21, "1"), (55, sym), (207, "XSX"), (54, side), (38, qty),
                         (40, "1"), (59, "3"), (60, utc_ts())])
            c.expect("8", where={11: cl, 150: "0"})
        # Market IOC orders end Filled or Expired; wait for the last report of each.
        for cl in ids:
            for _ in range(100):
                m = c.expect("8", where={11: cl}, timeout=10)
                if m[39] in ("2", "C", "4") and m[14] == str(sum(
                        Decimal(x[32]) for x in c.received if x.msg_type == "8" and x[11] == cl and x[32])):
                    break
        c.drain(1.0)
        fills = [m for m in c.received if m.msg_type == "8" and m[11] in ids and m[32]]
        exec_ids = [m[17] for m in fills]
        assert len(exec_ids) == len(set(exec_ids)), "a fill was reported twice"
        order_ids = {m[37] for m in fills}
        txs = asyncio.run(_query_transactions(gateway.zenith_url, f"XS:{acct}"))
        mine = [t for t in txs if t["OrderID"] in order_ids]
        assert len(mine) == len(fills), (len(mine), len(fills))
        by_order: dict[str, list[tuple[Decimal, Decimal]]] = {}
        for t in mine:
            by_order.setdefault(t["OrderID"], []).append((Decimal(str(t["TotalQuantity"])),
                                                          Decimal(str(t["AveragePrice"]))))
        for oid, trades in by_order.items():
            fix_side = sorted((Decimal(m[32]), Decimal(m[31])) for m in fills if m[37] == oid)
            assert fix_side == sorted(trades), oid
        for m in fills:
            assert any(t["ID"] in m[17] for t in mine), f"ExecID {m[17]} names no Plxtra transaction"
    finally:
        c.close()
