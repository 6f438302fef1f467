"""``orders``: lifecycles rebuilt from a log with known answers, inconsistencies flagged, outputs."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from analysis_logs import ORD1_AVG, decode_sample_log, orders_log

from gateway.cli import main
from gateway.harness.analysis.inputs import Inputs
from gateway.harness.analysis.orders import Order, OrderBook


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    return orders_log(tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log")


@pytest.fixture()
def book(log: Path) -> OrderBook:
    book = OrderBook(keep_events=True)
    for record in Inputs([str(log)]):
        book.feed(record)
    return book


def one(book: OrderBook, cl_ord_id: str) -> Order:
    (order,) = book.find(cl_ord_id)
    return order


def test_two_replaces_and_partial_fills_make_one_order(book: OrderBook) -> None:
    order = one(book, "ord-3")
    assert order is one(book, "ord-1") is one(book, "O1")
    assert order.chain == ["ord-1", "ord-2", "ord-3"]
    assert (order.replace_requests, order.replaces, order.fills) == (2, 2, 3)
    assert order.filled_qty == Decimal(500) and order.avg_px == Decimal(ORD1_AVG)
    assert order.status == "2" and order.order_qty == Decimal(500) and order.price == Decimal("10.10")
    # epoch seconds as floats: resolution about 0.25 µs, plenty for log timestamps
    assert order.first_answer_latency == pytest.approx(0.005, abs=1e-6)
    assert order.final_latency == pytest.approx(5.0, abs=1e-6)
    assert order.issues is None
    assert [e.note for e in order.events or ()][:3] == ["new order", "", "fill 100@10.00"]


def test_fill_after_cancel_is_flagged(book: OrderBook) -> None:
    order = one(book, "ord-4")
    assert order.cancels == 1 and order.cancel_requests == 1 and order.status == "4"
    assert order.issues == ["fill 50@9.90 after terminal OrdStatus 4"]


def test_duplicate_exec_id_flagged_but_possresend_repeat_is_not(book: OrderBook) -> None:
    order = one(book, "ord-6")
    assert order.issues == ["duplicate ExecID E11 without PossResend", "CumQty went down from 60 to 50"]
    assert order.fills == 1 and order.filled_qty == Decimal(60)  # neither repeat counted twice
    notes = [e.note for e in order.events or ()]
    assert "repeat (PossResend)" in notes and "duplicate ExecID" in notes


def test_reject_reason_leaves_check_and_unknown_answer(book: OrderBook) -> None:
    assert one(book, "ord-7").rejects == ["OrdRejReason=3: Order exceeds limit"]
    assert one(book, "ord-7").status == "8"
    assert one(book, "ord-8").issues == ["LeavesQty 90 + CumQty 0 != OrderQty 100"]
    ghost = one(book, "ghost-1")
    assert ghost.issues == ["ExecutionReport for unknown ClOrdID ghost-1"] and not ghost.request_seen
    assert book.unknown_answers == 1
    assert [o.cl_ord_id for o in book.orders] == ["ord-1", "ord-4", "ord-6", "ord-7", "ord-8", "ghost-1"]


def test_text_table_and_strict_exit(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    assert main(["orders", str(log)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ClOrdID", "OrderID", "Symbol", "Side"]
    row = lines[1].split()
    assert row[:9] == ["ord-1>ord-3", "O1", "XS01", "Buy", "500", "10.10", "Filled", "3", "(500)"]
    assert "6 order(s) from 27 message(s); 4 with inconsistencies" in out
    assert "  ord-4: INCONSISTENT: fill 50@9.90 after terminal OrdStatus 4" in lines
    assert main(["orders", "--strict", str(log)]) == 1


def test_json_and_csv(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    assert main(["orders", "--json", str(log)]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data[0]
    assert first["chain"] == ["ord-1", "ord-2", "ord-3"] and first["avg_px"] == ORD1_AVG
    assert first["first_answer_ms"] == "5.000" and first["status"] == "Filled"
    assert main(["orders", "--csv", "--issues", str(log)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["cl_ord_id"] for r in rows] == ["ord-4", "ord-6", "ord-7", "ord-8", "ghost-1"]
    assert rows[1]["issues"] == "duplicate ExecID E11 without PossResend; CumQty went down from 60 to 50"


def test_order_story_message_by_message(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    assert main(["orders", str(log), "--order", "ord-2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("order ord-1 > ord-2 > ord-3 (OrderID O1) in FIX.4.4:PLXTRA->CLIENT1")
    story = [line for line in out.splitlines() if " -> " in line]
    assert len(story) == 9
    assert "CLIENT1 -> PLXTRA  OrderCancelReplaceRequest(G)  [replace request]" in story[3]
    assert "ExecType=5(Replaced)" in out and "LastPx=10.10" in out
    assert main(["orders", str(log), "--order", "nope"]) == 1
    assert "no order with ClOrdID or OrderID 'nope'" in capsys.readouterr().err


def test_sample_log_of_the_decode_tests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # the decode tests' sample: an order filled, a second order never answered, another session's order
    path = decode_sample_log(tmp_path)
    assert main(["orders", "--json", str(path)]) == 0
    data = {(o["session"], o["cl_ord_id"]): o for o in json.loads(capsys.readouterr().out)}
    assert data[("FIX.4.4:PLXTRA->CLIENT1", "ord-1")]["status"] == "Filled"
    assert data[("FIX.4.4:PLXTRA->CLIENT1", "ord-2")]["status"] == "(no answer)"
    assert ("FIX.4.4:CLIENT9->PLXTRA", "other") in data
