"""Issue 13 item 4 on the order path: one Zenith payload model, parsed once where it arrives, and no
asyncio task per Zenith call. Real simulator, real WebSocket, real ZenithClient, real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_orders_service import V44, harness, run

from gateway.app.orders_service import _action_response
from gateway.bridge.orders.model import record_from_data
from gateway.store import Store
from gateway.zenith import SubscriptionData
from gateway.zenith.records import OrderActionResponse


class TaskCount:
    """Counts the tasks the loop creates while entered (a task factory on the real loop)."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def __enter__(self) -> TaskCount:
        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
            self.created.append(getattr(coro, "__qualname__", repr(coro)))
            return asyncio.Task(coro, loop=loop, **kw)

        asyncio.get_running_loop().set_task_factory(factory)  # type: ignore[arg-type]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.get_running_loop().set_task_factory(None)


def test_n_orders_create_no_task_per_order_or_zenith_call(tmp_path: Path) -> None:
    n = 40

    async def main() -> None:
        async with harness(tmp_path) as h:
            await h.service.wait_idle(5)
            sent_before = h.client.requests_sent
            with TaskCount() as tasks:
                for i in range(n):  # resting bids: each is placed and answered New, nothing trades
                    h.order(V44, f"nt{i}", "1", 10, "1.00")
                deadline = asyncio.get_running_loop().time() + 10
                while sum(1 for m in h.outbox.sent if dict(m.fields).get(150) == "0") < n:
                    assert asyncio.get_running_loop().time() < deadline, "not every order answered New"
                    await asyncio.sleep(0.01)  # polled: a waiter must not add tasks of its own
            assert h.client.requests_sent - sent_before == n  # one PlaceOrder each, via send_request
            print("tasks created during", n, "orders:", tasks.created)
            assert len(tasks.created) < 3, tasks.created       # was one task per PlaceOrder (n)
            assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("orders-place")]

    run(main)


def _publish(topic: str, data: Any) -> SubscriptionData:
    return SubscriptionData("Trading", topic, data)


def test_malformed_feed_objects_are_logged_and_skipped_never_read_as_zero(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V44, "m1", "1", 100, "1.00")
            new = await h.expect("8", {150: "0", 11: "m1"})
            oid = new[37]
            tx = {"Account": "XS:0001", "OrderID": oid, "Exchange": "XSX", "Code": "XS01",
                  "TradingMarket": "XSX::XSX", "Style": "Market", "TradeDate": "2025-06-03T10:15:30+10:00"}
            with caplog.at_level(logging.ERROR):
                # Through the service's subscription callback, as the client delivers a publish.
                h.service._on_tx_event(_publish("Transactions!XS:0001", [
                    {"O": "A", "Transaction": {**tx, "ID": "bad1", "TotalQuantity": "ten",
                                               "AveragePrice": 1}},
                    {"O": "A", "Transaction": {**tx, "ID": "bad2", "AveragePrice": 1}},  # no quantity
                    {"O": "A", "Transaction": {**tx, "ID": "ok1", "TotalQuantity": 30, "AveragePrice": 1}},
                ]))
                h.service._on_orders_event(_publish("Orders!XS:0001", [
                    {"O": "U", "Order": {"ID": oid, "Account": "XS:0001", "Status": "Filled",
                                         "ExecutedQuantity": "garbage",
                                         "Details": {"Exchange": "XSX", "Code": "XS01", "Side": "Bid"}}},
                ]))
            fill = await h.expect("8", {11: "m1", 150: "F"})
            assert (fill[17], fill[32], fill[14], fill[39]) == (f"{oid}-Fok1", "30", "30", "1")
            rest = await h.quiet(0.3)
            assert [dict(m.fields).get(150) for m in rest] == []   # bad1, bad2, the Filled: nothing
            text = caplog.text
            assert "malformed Transaction of a publish skipped" in text and "ten" in text
            assert "transaction bad2" in text and "no TotalQuantity/AveragePrice" in caplog.text
            assert "malformed Order of a publish skipped" in text and "garbage" in text

    run(main)


def test_a_malformed_order_in_a_success_answer_leaves_the_result_standing() -> None:
    ok = _action_response({"Result": "Success", "RequestID": "r1", "Order": {"ID": "x"}}, "PlaceOrder")
    assert isinstance(ok, OrderActionResponse) and ok.ok and ok.order is None and ok.request_id == "r1"
    refused = _action_response({"Result": "Rejected", "Errors": ["TotalValue.Balance"]}, "PlaceOrder")
    assert not refused.ok and refused.errors == ("TotalValue.Balance",)
    broken = _action_response({"Order": {}}, "AmendOrder")  # no Result: refused, the reason named
    assert broken.result == "Error" and "malformed AmendOrder answer" in broken.errors[0]
    assert _action_response(["not", "an", "object"], "PlaceOrder") == ["not", "an", "object"]


# An order row exactly as the version before the one payload model wrote it (record_to_data), and
# one from older still (no fix_symbol / fix_exchange / created_ns). The stored shape did not change;
# these pin it: rows and journals of earlier versions must load.
OLD_ROW = json.loads("""{"session": "FIX.4.4:PLXTRA->CLIENT1", "request_id": "gw-old-1", "cl_ord_id": "c-old",
 "account": "XS:0001", "fix_account": "0001", "terms": {"code": "XS01", "market": "XSX", "side": "1",
 "ord_type": "2", "order_qty": "100", "price": "1.5", "stop_px": null, "tif": "0", "expire_date": null,
 "min_qty": null, "max_floor": null}, "state": "1", "order_id": "P-OLD-1", "orig_cl_ord_id": null,
 "cum_qty": "40", "cum_value": "60.0", "pending_kind": null, "pending_cl_ord_id": null,
 "pending_request_id": null, "pending_terms": null, "created_ns": 1733000000000000000,
 "fix_symbol": "XS01", "fix_exchange": "XSX"}""")
OLDER_ROW = {k: v for k, v in OLD_ROW.items() if k not in ("fix_symbol", "fix_exchange", "created_ns")}


def _write_old(path: Path, row: dict[str, Any]) -> None:
    store = Store(path)
    try:
        store.record_new_order(session=row["session"], request_id=row["request_id"],
                               cl_ord_id=row["cl_ord_id"], account=row["account"], state="0", data={},
                               created=1)
        store.apply(request_id=row["request_id"], cl_ord_id=row["cl_ord_id"], order_id=row["order_id"],
                    state=row["state"], working=True, data=row, session=row["session"])
    finally:
        store.close()


@pytest.mark.parametrize("row", [OLD_ROW, OLDER_ROW], ids=["previous", "older"])
def test_order_rows_of_earlier_versions_load_and_are_answered_for(tmp_path: Path,
                                                                 row: dict[str, Any]) -> None:
    _write_old(tmp_path / "gw.sqlite", row)
    record = record_from_data(row)
    assert (record.cum_qty, record.avg_px, record.order_id) == (Decimal(40), Decimal("1.5"), "P-OLD-1")

    async def main() -> None:
        # The gateway loads it at start; Plxtra does not know P-OLD-1, so reconciliation reports it
        # Canceled from the stored state (finding F2): every field of the old row is read.
        async with harness(tmp_path, store_name="gw.sqlite") as h:
            er = await h.expect("8", {11: "c-old", 150: "4"}, timeout=10)
            assert (er[37], er[14], er[6], er[55], er[1]) == ("P-OLD-1", "40", "1.5", "XS01", "0001")

    run(main)


def test_an_old_row_still_in_the_journal_loads(tmp_path: Path) -> None:
    """Written through the group commit (journal first) and never applied to SQLite before the
    process ended: the next start reads it from the journal."""
    path = tmp_path / "gw.sqlite"

    async def write() -> None:
        store = Store(path, apply_every=3600.0)
        store.group_commit(asyncio.get_running_loop())
        store.record_new_order(session=OLD_ROW["session"], request_id="gw-old-1", cl_ord_id="c-old",
                               account="XS:0001", state="0", data={}, created=1)
        store.apply(request_id="gw-old-1", cl_ord_id="c-old", order_id="P-OLD-1", state="1", working=True,
                    data=OLD_ROW, session=OLD_ROW["session"])
        await store.durable()
        # no close(): as after kill -9, only the journal has it for sure

    asyncio.run(write())
    assert Path(f"{path}.journal").stat().st_size > 0
    with contextlib.closing(sqlite3.connect(path)) as db:  # not in SQLite yet: the journal has it
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    store = Store(path)
    try:
        (stored,) = store.working_orders()
        assert record_from_data(stored.data) == record_from_data(OLD_ROW)
    finally:
        store.close()
