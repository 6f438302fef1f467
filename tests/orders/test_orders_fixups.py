"""Acceptance findings F1, F2, F4, F6, F7, F8, F12 (docs/qa/findings.md), each reproduced against
the real simulator over a real WebSocket, a real ZenithClient and a real SQLite store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from test_orders_service import V42, V44, V50, Harness, fields, harness, key, run, session_config

from gateway.config.model import Limits, ThrottleAction
from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.store.inbound_journal import journal_for, journal_path
from gateway.vocab.records import InboundMessage


def _reports(h: Harness, cl: str) -> list[dict[int, str]]:
    return [f for f in (fields(m) for m in h.outbox.sent if m.msg_type == "8") if f.get(11) == cl]


async def _until(pred: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# --- F1: terminal status before the fills ------------------------------------------------------


@pytest.mark.parametrize("begin", [V42, V44, V50])
def test_ioc_partial_fill_reports_fills_before_expired(tmp_path: Path, begin: str) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            await h.book("XS:0005", "Ask", 446, "44.95", symbol="XS09")
            await h.book("XS:0006", "Ask", 466, "44.96", symbol="XS09")
            await h.book("XS:0007", "Ask", 94, "44.97", symbol="XS09")
            h.order(begin, "ioc1", "1", 1506, "44.97", symbol="XS09", extra=[(59, "3")])
            await _until(lambda: any(r[39] in ("4", "C") for r in _reports(h, "ioc1")), 10)
            await h.quiet(0.5)
            ers = _reports(h, "ioc1")
            assert ers[0][150] == "0"
            fills = ers[1:-1]
            trade = ("1", "2") if begin == V42 else ("F",)
            assert [r[150] in trade for r in fills] == [True, True, True], ers
            assert [(r[32], r[14], r[151], r[39]) for r in fills] == [
                ("446", "446", "1060", "1"), ("466", "912", "594", "1"), ("94", "1006", "500", "1")]
            last = ers[-1]
            assert (last[150], last[39], last[14], last[151]) == ("C", "C", "1006", "0")
            assert len({r[17] for r in ers}) == len(ers)

    run(main)


def test_missing_transactions_are_fetched_before_the_terminal_report(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            # The Transactions feed is lost (its subscription closed): after the hold deadline the
            # service asks QueryTransactions for the order and reports those fills first.
            for sub in h.service._subs[1::2]:
                sub.close()
            await h.book("XS:0005", "Ask", 40, "7.00", symbol="XS08")
            await h.book("XS:0006", "Ask", 25, "7.01", symbol="XS08")
            h.order(V44, "ioc2", "1", 100, "7.01", symbol="XS08", extra=[(59, "3")])
            await _until(lambda: any(r[39] == "C" for r in _reports(h, "ioc2")), 8)
            await h.quiet(0.3)
            ers = _reports(h, "ioc2")
            assert [(r[150], r[39], r[14], r[151]) for r in ers] == [
                ("0", "0", "0", "100"), ("F", "1", "40", "60"), ("F", "1", "65", "35"), ("C", "C", "65", "0")]

    run(main)


# --- F2: an order Plxtra no longer knows --------------------------------------------------------


def test_order_lost_by_a_restarted_venue_is_reported_canceled(tmp_path: Path) -> None:
    async def main() -> None:
        sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
        sim = SimServer(sim_cfg, host="127.0.0.1", port=0)
        await sim.start()
        try:
            async with harness(tmp_path, sim=sim) as h:
                h.order(V44, "keep1", "1", 5, "1.00", symbol="XS03")
                await h.expect("8", {11: "keep1", 150: "0"})
                await h.quiet(0.2)
        finally:
            await sim.stop()
        fresh = SimServer(sim_cfg, host="127.0.0.1", port=0)  # no state file: it knows nothing of keep1
        await fresh.start()
        try:
            async with harness(tmp_path, sim=fresh) as h:
                lost = await h.expect("8", {11: "keep1", 150: "4"}, timeout=10)
                assert (lost[39], lost[151], lost[58]) == ("4", "0", "order no longer known to Plxtra")
                h.send(V44, "H", [(11, "keep1"), (55, "XS03"), (54, "1")])
                assert (await h.expect("8", {11: "keep1", 150: "I"}))[39] == "4"
                h.send(V44, "F", [(11, "keep2"), (41, "keep1"), (55, "XS03"), (54, "1"),
                                  (60, "20250603-00:00:00")])
                rej = await h.expect("9", {11: "keep2"})
                assert rej[39] == "4" and rej[102] == "0"
                assert [m for m in await h.quiet(0.3) if fields(m).get(150) == "4"] == []
        finally:
            await fresh.stop()

    run(main)


# --- F4: the instrument echoed as sent ----------------------------------------------------------


def test_symbol_is_echoed_as_the_client_sent_it(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.send(V44, "D", [(11, "s1"), (1, "0001"), (55, "XS02.XSX"), (54, "1"), (38, 5), (40, "2"),
                              (44, "1.00"), (59, "0"), (60, "20250603-00:00:00")])
            new = await h.expect("8", {11: "s1", 150: "0"})
            assert new[55] == "XS02.XSX" and 207 not in new
            h.send(V44, "G", [(11, "s2"), (41, "s1"), (55, "XS02.XSX"), (54, "1"), (38, 6), (40, "2"),
                              (44, "1.00"), (60, "20250603-00:00:00")])
            rep = await h.expect("8", {11: "s2", 150: "5"})
            assert rep[55] == "XS02.XSX" and 207 not in rep
            h.send(V44, "H", [(11, "s2"), (55, "XS02.XSX"), (54, "1")])
            st = await h.expect("8", {11: "s2", 150: "I"})
            assert st[55] == "XS02.XSX" and 207 not in st
            h.order(V44, "s3", "1", 5, "1.00", symbol="XS02")  # 55 + 207: both echoed
            both = await h.expect("8", {11: "s3", 150: "0"})
            assert (both[55], both[207]) == ("XS02", "XSX")

    run(main)


# --- F6: throttled orders answered with ExecutionReport / OrderCancelReject ---------------------


@pytest.mark.parametrize("begin", [V42, V44])
def test_throttled_order_gets_execution_report_and_cancel_gets_9(tmp_path: Path, begin: str) -> None:
    limits = Limits(messages_per_second=2, throttle_action=ThrottleAction.REJECT)

    async def main() -> None:
        async with harness(tmp_path, sessions=(session_config(begin, limits=limits),)) as h:
            for i in range(4):
                h.order(begin, f"t{i}", "1", 1, "1.00")
            h.send(begin, "F", [(11, "tc"), (41, "t0"), (55, "XS01"), (54, "1"), (60, "20250603-00:00:00")])
            h.send(begin, "H", [(11, "t0"), (55, "XS01"), (54, "1")])
            await h.quiet(0.5)
            sent = [(m.msg_type, fields(m)) for m in h.outbox.sent]
            rejected = [f for mt, f in sent if mt == "8" and f.get(150) == "8"]
            assert sorted(f[11] for f in rejected) == ["t2", "t3"]
            for f in rejected:
                assert (f[39], f[103]) == ("8", "0" if begin == V42 else "99")
                assert f[58].startswith("throttle: ")
            cxl = [f for mt, f in sent if mt == "9"]
            assert len(cxl) == 1 and cxl[0][11] == "tc" and cxl[0][102] == ("2" if begin == V42 else "99")
            assert cxl[0][58].startswith("throttle: ")
            assert [f[372] for mt, f in sent if mt == "j"] == ["H"]

    run(main)


# --- F7: ExpireTime(126) refused, never rewritten -----------------------------------------------


def test_expire_time_is_rejected_with_a_clear_text(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V44, "g1", "1", 1, "1.00", extra=[(59, "6"), (126, "20991231-10:00:00")])
            rej = await h.expect("8", {11: "g1"})
            assert (rej[150], rej[39], rej[103]) == ("8", "8", "99")
            assert rej[58] == "ExpireTime not supported: use ExpireDate(432)" and 432 not in rej
            h.order(V42, "g2", "1", 1, "1.00", extra=[(59, "6"), (126, "20991231-10:00:00")])
            assert (await h.expect("8", {11: "g2"}))[103] == "0"
            h.order(V44, "g3", "1", 1, "1.00", extra=[(59, "6"), (432, "20991231")])
            ok = await h.expect("8", {11: "g3"})
            assert (ok[150], ok[432]) == ("0", "20991231") and 126 not in ok

    run(main)


# --- F8 / F12: stale OrigClOrdID, account change --------------------------------------------------


@pytest.mark.parametrize("begin", [V42, V44, V50])
def test_stale_orig_cl_ord_id_and_account_change_are_refused(tmp_path: Path, begin: str) -> None:
    def g(cl: str, orig: str, qty: int, account: str = "0001") -> list[tuple[int, object]]:
        return [(11, cl), (41, orig), (1, account), (55, "XS01"), (207, "XSX"), (54, "1"), (38, qty),
                (40, "2"), (44, "1.00"), (60, "20250603-00:00:00")]

    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(begin, "a1", "1", 10, "1.00")
            await h.expect("8", {11: "a1", 150: "0"})
            h.send(begin, "G", g("a2", "a1", 11))
            await h.expect("8", {11: "a2", 150: "5"})
            h.send(begin, "G", g("a3b", "a1", 12))
            rej = await h.expect("9", {11: "a3b"})
            assert rej[102] == ("2" if begin == V42 else "99") and rej[41] == "a1"
            assert rej[58] == "OrigClOrdID is not the latest ClOrdID (latest: a2)"
            h.send(begin, "F", [(11, "a4"), (41, "a1"), (55, "XS01"), (54, "1"), (60, "20250603-00:00:00")])
            assert (await h.expect("9", {11: "a4"}))[58].startswith("OrigClOrdID is not the latest")
            h.send(begin, "G", g("a5", "a2", 13, account="0002"))
            acc = await h.expect("9", {11: "a5"})
            assert acc[58] == "account cannot be changed" and acc[1] == "0001"
            h.send(begin, "G", g("a6", "a2", 14))  # the latest, same account: accepted
            assert (await h.expect("8", {11: "a6", 150: "5"}))[38] == "14"

    run(main)


# --- per-session pending_reports ------------------------------------------------------------------


def test_pending_reports_follow_the_session_setting(tmp_path: Path) -> None:
    sessions = (session_config(V44, pending_reports=True), session_config(V42))

    async def main() -> None:
        async with harness(tmp_path, sessions=sessions) as h:
            for begin, cl in ((V44, "p1"), (V42, "q1")):
                h.order(begin, cl, "1", 10, "1.00")
                await h.expect("8", {11: cl, 150: "0"})
                h.send(begin, "F", [(11, cl + "x"), (41, cl), (55, "XS01"), (54, "1"),
                                    (60, "20250603-00:00:00")])
                await h.expect("8", {11: cl + "x", 150: "4"})
            pending = [f for f in (fields(m) for m in h.outbox.sent) if f.get(150) == "6"]
            assert [(f[11], f[39]) for f in pending] == [("p1x", "6")]

    run(main)


# --- inbound journal: an order QuickFIX accepted survives a crash before its row ----------------


def test_journaled_order_missing_from_the_store_is_replayed_once(tmp_path: Path) -> None:
    def d(cl: str, seq: int) -> InboundMessage:
        pairs = [(35, "D"), (34, str(seq)), (11, cl), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"),
                 (38, "3"), (40, "2"), (44, "1.00"), (59, "0"), (60, "20250603-00:00:00")]
        return InboundMessage(key(V44), "D", seq, tuple(pairs), time.time_ns())

    async def main() -> None:
        sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
        sim = SimServer(sim_cfg, host="127.0.0.1", port=0)
        await sim.start()
        try:
            async with harness(tmp_path, sim=sim) as h:  # "known" has its row: never replayed
                h.send(V44, "D", [(t, v) for t, v in d("known", 2).fields if t not in (34, 35)])
                await h.expect("8", {11: "known", 150: "0"})
                journal = journal_for(journal_path(tmp_path / "gw.sqlite"))
                journal.append(d("known", 2))
                journal.append(d("lost", 3))  # accepted by QuickFIX, then the process died
            async with harness(tmp_path, sim=sim) as h:
                new = await h.expect("8", {11: "lost", 150: "0"})
                assert new[38] == "3"
                await h.quiet(0.3)
                news = [f.get(11) for f in (fields(m) for m in h.outbox.sent) if f.get(150) == "0"]
                assert news == ["lost"]
                assert h.store.cl_ord_id_used(str(key(V44)), "lost")
            async with harness(tmp_path, sim=sim) as h:  # compacted: nothing replayed again
                await h.quiet(0.3)
                assert [m for m in h.outbox.sent if fields(m).get(150) == "0"] == []
        finally:
            await sim.stop()

    run(main)
