"""The fault-injection probe (bench/fault_trials.py): its checker finds each kind of violation, and a
short run (3 trials, fixed seed, real processes) finds none.

The checker tests build synthetic histories (what partners sent and received, what Plxtra has)
holding exactly one defect each, so a probe that reports zero violations is known to be looking.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from _fault_checks import KINDS, History, PlxtraOrder, Received, Request, Violation, check  # noqa: E402

ACCOUNTS = frozenset({"XS:0001"})
S = "CLIENT1"


def d(cl: str, qty: str = "101", code: str = "XS01", side: str = "1") -> Request:
    return Request(S, "D", cl, None, "XS:0001", code, side, Decimal(qty), Decimal("4.50"))


def f(cl: str, orig: str, qty: str = "101") -> Request:
    return Request(S, "F", cl, orig, "XS:0001", "XS01", "1", Decimal(qty), Decimal("4.50"))


def g(cl: str, orig: str, qty: str) -> Request:
    return Request(S, "G", cl, orig, "XS:0001", "XS01", "1", Decimal(qty), Decimal("4.50"))


def er(cl: str, exec_id: str, exec_type: str, status: str, qty: str = "101", cum: str = "0",
       leaves: str | None = None, last: str | None = None, order_id: str = "P1", *, seq: int = 1,
       orig: str | None = None, poss_resend: bool = False, text: str | None = None) -> Received:
    if leaves is None:
        leaves = "0" if status in ("2", "4", "8") else str(Decimal(qty) - Decimal(cum))
    fields: list[tuple[int, str]] = [(8, "FIX.4.4"), (35, "8"), (34, str(seq)), (11, cl), (17, exec_id),
                                     (37, order_id), (150, exec_type), (39, status), (38, qty), (14, cum),
                                     (151, leaves)]
    if orig is not None:
        fields.append((41, orig))
    if last is not None:
        fields += [(32, last), (31, "4.50")]
    if poss_resend:
        fields.append((97, "Y"))
    if text is not None:
        fields.append((58, text))
    return Received(S, tuple(fields))


def cxl_reject(cl: str, orig: str, response_to: str = "1") -> Received:
    return Received(S, ((35, "9"), (11, cl), (41, orig), (37, "P1"), (39, "0"), (434, response_to),
                        (58, "Plxtra connection unavailable")))


def plx(order_id: str = "P1", qty: str = "101", status: str = "OnMarket", executed: str = "0") -> PlxtraOrder:
    return PlxtraOrder(order_id, "XS:0001", "XS01", "Bid", Decimal(qty), status, Decimal(executed))


def kinds(found: list[Violation]) -> list[str]:
    return sorted(v.kind for v in found)


def test_a_clean_history_has_no_violation() -> None:
    """Acceptance, fills, a replace, a cancel, a PossResend repeat of the same report, a rejected D
    that Plxtra never saw and a rejected F whose order stayed live: all as promised."""
    requests = [d("a"), g("a2", "a", "120"), f("a3", "a2", "120"),
                d("b", qty="102"), d("c", qty="103"), f("c2", "c", "103")]
    received = [
        er("a", "E1", "0", "0"),
        er("a", "E2", "F", "1", cum="20", last="20", seq=2),
        er("a", "E2", "F", "1", cum="20", last="20", seq=3, poss_resend=True),   # same content: fine
        er("a2", "E3", "5", "1", qty="120", cum="20", orig="a", seq=4),
        er("a3", "E4", "4", "4", qty="120", cum="20", orig="a2", seq=5),
        er("b", "E5", "8", "8", order_id="NONE", seq=6, text="exceeds session maximum"),
        er("c", "E6", "A", "A", order_id="P3", seq=7),                           # Pending New, then New
        er("c", "E7", "0", "0", order_id="P3", seq=8),
        cxl_reject("c2", "c"),
    ]
    orders = [plx("P1", "120", "Cancelled", "20"), plx("P3", "103")]
    assert check(History(requests, received, orders, ACCOUNTS)) == []


# One history per kind of violation, each with exactly that defect.
CASES: dict[str, History] = {
    "unanswered": History([d("a")], [], [], ACCOUNTS),
    # a replace both refused and reported done (Plxtra kept the old quantity: only the answers clash)
    "contradictory_answers": History(
        [d("a"), g("a2", "a", "150")],
        [er("a", "E1", "0", "0"), cxl_reject("a2", "a", "2"),
         er("a2", "E2", "5", "0", qty="150", orig="a", seq=2)], [plx()], ACCOUNTS),
    "repeated_answer": History(
        [d("a")], [er("a", "E1", "0", "0"), er("a", "E2", "0", "0", seq=2)], [plx()], ACCOUNTS),
    "rejected_request_executed": History(
        [d("a")], [er("a", "E1", "8", "8", order_id="NONE", text="exceeds session maximum")], [plx()],
        ACCOUNTS),
    "accepted_unknown_to_plxtra": History([d("a")], [er("a", "E1", "0", "0")], [], ACCOUNTS),
    "unknown_order_at_plxtra": History([], [], [plx("P9", "777")], ACCOUNTS),
    "fill_mismatch": History(
        [d("a")], [er("a", "E1", "0", "0"), er("a", "E2", "F", "1", cum="30", last="30", seq=2)],
        [plx(executed="40")], ACCOUNTS),
    "duplicate_exec_id": History(
        [d("a")], [er("a", "E1", "0", "0"), er("a", "E1", "0", "0", seq=2)], [plx()], ACCOUNTS),
    "cum_leaves": History(
        [d("a")], [er("a", "E1", "0", "0"), er("a", "E2", "F", "1", cum="30", last="30", leaves="80", seq=2)],
        [plx(executed="30")], ACCOUNTS),
    "stray_report": History([], [er("zz", "E1", "0", "0", order_id="P7")], [], ACCOUNTS),
    "invalid_from_gateway": History([], [], [], ACCOUNTS, [(S, "45=7|373=5|58=Value is incorrect")]),
}


def test_every_kind_has_a_case() -> None:
    assert sorted(CASES) == sorted(KINDS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_of_violation_is_detected(kind: str) -> None:
    assert kinds(check(CASES[kind])) == [kind]


def test_a_cancel_answered_with_a_reject_must_not_cancel_at_plxtra() -> None:
    hist = History([d("a"), f("a2", "a")], [er("a", "E1", "0", "0"), cxl_reject("a2", "a")],
                   [plx(status="Cancelled")], ACCOUNTS)
    found = check(hist)
    assert kinds(found) == ["rejected_request_executed"]
    assert "F a2" in found[0].detail


def test_a_replace_answered_with_a_reject_must_not_change_the_order_at_plxtra() -> None:
    hist = History([d("a"), g("a2", "a", "150")], [er("a", "E1", "0", "0"), cxl_reject("a2", "a", "2")],
                   [plx(qty="150")], ACCOUNTS)
    found = check(hist)
    assert kinds(found) == ["rejected_request_executed"]
    assert "G a2" in found[0].detail


def test_a_possresend_repeat_with_other_content_is_a_duplicate() -> None:
    hist = History([d("a")], [er("a", "E1", "F", "2", cum="101", last="101"),
                              er("a", "E1", "F", "2", cum="101", last="100", seq=2, poss_resend=True)],
                   [plx(executed="101")], ACCOUNTS)
    found = check(hist)
    assert kinds(found) == ["duplicate_exec_id"]
    assert "32" in found[0].detail


def test_a_second_reject_with_a_new_execid_is_caught() -> None:
    """Issue 9: after a clean restart the old reject came again, with a new ExecID and no PossResend."""
    rej = er("a", "E1", "8", "8", order_id="NONE", text="exceeds session maximum")
    again = er("a", "E9", "8", "8", order_id="NONE", seq=2, text="exceeds session maximum")
    assert kinds(check(History([d("a")], [rej, again], [], ACCOUNTS))) == ["repeated_answer"]
    # the same reject re-sent as the same message with PossResend(97)=Y is what a restart may do
    resent = er("a", "E1", "8", "8", order_id="NONE", seq=2, poss_resend=True, text="exceeds session maximum")
    assert check(History([d("a")], [rej, resent], [], ACCOUNTS)) == []
    # and a reject followed by the order going live is the critical defect
    live = er("a", "E10", "0", "0", seq=3)
    assert kinds(check(History([d("a")], [rej, live], [plx()], ACCOUNTS))) == [
        "contradictory_answers", "rejected_request_executed"]


def test_a_cancel_reject_sent_twice_is_a_repeated_answer() -> None:
    hist = History([d("a"), f("a2", "a")], [er("a", "E1", "0", "0"), cxl_reject("a2", "a"),
                                            cxl_reject("a2", "a")], [plx()], ACCOUNTS)
    assert kinds(check(hist)) == ["repeated_answer"]


def test_a_rejected_order_placed_later_and_amended_is_still_caught() -> None:
    """The replayed order's quantity changed after an amend, so only its OrderID ties it to the D."""
    hist = History([d("a"), g("a2", "a", "130")],
                   [er("a", "E1", "8", "8", order_id="NONE", text="Plxtra connection unavailable"),
                    er("a", "E2", "0", "0", seq=2), er("a2", "E3", "5", "0", qty="130", orig="a", seq=3)],
                   [plx(qty="130")], ACCOUNTS)
    assert kinds(check(hist)) == ["contradictory_answers", "rejected_request_executed"]


def test_cumqty_falling_is_caught() -> None:
    hist = History([d("a")], [er("a", "E1", "F", "1", cum="50", last="50"),
                              er("a", "E2", "F", "1", cum="40", last="10", seq=2)],
                   [plx(executed="60")], ACCOUNTS)
    assert "cum_leaves" in kinds(check(hist))


def test_fills_are_counted_once_per_execid() -> None:
    hist = History([d("a")], [er("a", "E1", "F", "1", cum="50", last="50"),
                              er("a", "E1", "F", "1", cum="50", last="50", seq=2, poss_resend=True)],
                   [plx(executed="50")], ACCOUNTS)
    assert check(hist) == []


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_three_quick_fault_trials_find_no_violation(tmp_path: Path) -> None:
    """Three real trials (gateway kill -9, simulator kill -9, limit change between restarts) with a
    fixed seed. The run must have traded (orders and fills), so zero violations means something."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, str(REPO / "bench" / "fault_trials.py"), "--trials", "3", "--seed", "7",
           "--duration-per-trial", "5", "--settle", "25", "--max-seconds", "300",
           "--faults", "gateway_kill9,sim_kill9,limit_change", "--json"]
    proc = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=400)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    summary = doc["summary"]
    assert summary["trials"] == 3, proc.stderr[-3000:]
    assert [t["fault"] for t in doc["trials"]] == ["gateway_kill9", "sim_kill9", "limit_change"]
    assert summary["orders"] > 10 and summary["fills"] > 0, summary
    details = [f"trial {t['index']} {v['kind']}: {v['detail']}"
               for t in doc["trials"] for v in t["violations"]]
    assert summary["violations_total"] == 0, "\n".join(details)
    assert proc.returncode == 0
