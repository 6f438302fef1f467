"""Session layer seen from partners' engines: sequence numbers, gaps, garbage, identity.

Raw sockets (simplefix) for the malformed cases; a partner's QuickFIX initiator with its own
strict DataDictionary settings and a file store for reconnect-and-resume.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from qfpartner import Partner
from rawfix import RawFix, utc_ts

PARTNERS = [("FIX.4.2", "CLIENT2", "0003"), ("FIX.4.4", "CLIENT1", "0001"), ("FIXT.1.1", "CLIENT3", "0004")]


def logged_on(gateway, begin: str = "FIX.4.4", sender: str = "CLIENT1") -> RawFix:
    c = gateway.connect(begin, sender)
    c.logon(reset=True, extra=[(1137, "9")] if begin == "FIXT.1.1" else [])
    return c


def test_unknown_comp_id_is_disconnected_without_logon(gateway) -> None:
    c = RawFix(gateway.port, "FIX.4.4", "NOBODY", "PLXTRA")
    try:
        c.send("A", [(98, "0"), (108, "30")])
        assert c.closed_within(10)
        assert not [m for m in c.received if m.msg_type == "A"]
    finally:
        c.close()


def test_garbage_and_bad_checksum_are_ignored_then_gap_is_requested(gateway, uid: str) -> None:
    c = logged_on(gateway)
    try:
        c.send_raw(b"this is not FIX\x01\x01garbage=\x01")
        c.send("1", [(112, f"{uid}-a")])
        c.expect("0", where={112: f"{uid}-a"})
        raw = c.build("1", [(112, f"{uid}-b")])
        c.send_raw(raw[:-4] + b"000\x01")          # wrong CheckSum: garbled, must be ignored
        lost = c.seq
        c.seq += 1
        c.send("1", [(112, f"{uid}-c")])
        rr = c.expect("2")                          # ResendRequest for the garbled one
        assert rr[7] == str(lost)
        c.send("4", [(123, "Y"), (36, str(c.seq))], seq=lost, header=[(43, "Y"), (122, utc_ts())])
        c.send("1", [(112, f"{uid}-d")])
        c.expect("0", where={112: f"{uid}-d"})
    finally:
        c.close()


def test_seqnum_too_low_ends_session_with_logout_text(gateway, uid: str) -> None:
    c = logged_on(gateway)
    try:
        c.send("1", [(112, uid)], seq=1)
        lo = c.expect("5")
        assert "too low" in (lo[58] or "").lower()
        assert c.closed_within(5)
    finally:
        c.close()


def test_very_long_message_is_processed(gateway, uid: str) -> None:
    c = logged_on(gateway)
    try:
        c.send("D", [(11, f"{uid}-L"), (1, "0001"), (55, "XS01"), (54, "1"), (38, "1"), (40, "2"),
                     (44, "1.00"), (59, "0"), (60, utc_ts()), (58, "x" * 100_000)])
        assert c.expect("8", where={11: f"{uid}-L"}, timeout=10)[150] == "0"
        c.send("F", [(11, f"{uid}-Lc"), (41, f"{uid}-L"), (55, "XS01"), (54, "1"), (38, "1"),
                     (60, utc_ts())])
        c.expect("8", where={11: f"{uid}-Lc"})
    finally:
        c.close()


def test_resend_request_returns_execution_reports_as_possdup(gateway, uid: str) -> None:
    c = logged_on(gateway)
    try:
        c.send("D", [(11, f"{uid}-r"), (1, "0001"), (55, "XS01"), (54, "1"), (38, "1"), (40, "2"),
                     (44, "1.00"), (59, "0"), (60, utc_ts())])
        er = c.expect("8", where={11: f"{uid}-r"})
        c.send("2", [(7, er[34]), (16, er[34])])
        again = c.expect("8", where={11: f"{uid}-r"})
        assert again[43] == "Y" and again[122] and again[34] == er[34] and again[17] == er[17]
        c.send("F", [(11, f"{uid}-rc"), (41, f"{uid}-r"), (55, "XS01"), (54, "1"), (38, "1"),
                     (60, utc_ts())])
        c.expect("8", where={11: f"{uid}-rc"})
    finally:
        c.close()


@pytest.mark.parametrize(("begin", "sender", "acct"), PARTNERS)
def test_strict_quickfix_partner_accepts_every_gateway_message(gateway, tmp_path, uid: str,
                                                                begin: str, sender: str, acct: str) -> None:
    """A partner's QuickFIX with its own strict dictionary validation sends no Reject back."""
    with Partner(tmp_path / "p", gateway.port, begin, sender, reset=True) as p:
        p.wait_logon()
        p.send("D", [(11, f"{uid}-1"), (1, acct), (21, "1"), (55, "XS02"), (207, "XSX"), (54, "2"),
                     (38, "50"), (40, "1"), (59, "3"), (60, utc_ts())])
        p.wait_for(lambda a: any(dict(m).get(11) == f"{uid}-1" and dict(m).get(39) in ("2", "C", "4")
                                 for m in a))
        p.send("D", [(11, f"{uid}-2"), (1, acct), (21, "1"), (55, "XS02"), (207, "XSX"), (54, "1"),
                     (38, "300"), (40, "2"), (44, "1.00"), (59, "0"), (60, utc_ts())])
        p.wait_for(lambda a: any(dict(m).get(11) == f"{uid}-2" for m in a))
        p.send("G", [(11, f"{uid}-3"), (41, f"{uid}-2"), (1, acct), (21, "1"), (55, "XS02"), (207, "XSX"),
                     (54, "1"), (38, "200"), (40, "2"), (44, "1.05"), (60, utc_ts())])
        p.wait_for(lambda a: any(dict(m).get(11) == f"{uid}-3" for m in a))
        p.send("F", [(11, f"{uid}-4"), (41, f"{uid}-3"), (1, acct), (55, "XS02"), (207, "XSX"), (54, "1"),
                     (38, "200"), (60, utc_ts())])
        p.wait_for(lambda a: any(dict(m).get(11) == f"{uid}-4" and dict(m).get(39) == "4" for m in a))
        p.send("H", [(11, f"{uid}-4"), (55, "XS02"), (54, "1")])
        p.send("1", [(112, f"{uid}-sync")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(f"112={uid}-sync" in m for m in p.recv_admin):
            time.sleep(0.05)
        assert p.rejects_sent() == [], p.rejects_sent()
        mine = [dict(m) for m in p.app if dict(m).get(11, "").startswith(uid)]
        for m in mine:
            if m.get(35) == "8" and m.get(150) not in ("8",) and m.get(38):
                assert Decimal(m[14]) + Decimal(m[151]) == Decimal(m[38]) or m[39] in ("2", "4", "C")


def test_partner_reconnect_without_reset_resumes_sequence_numbers(gateway, tmp_path, uid: str) -> None:
    """Day 1 ends with a Logout; the partner's QuickFIX comes back with its stored numbers, no reset."""
    c = logged_on(gateway, "FIX.4.2", "CLIENT2")
    c.send("D", [(11, f"{uid}-1"), (1, "0003"), (21, "1"), (55, "XS02"), (54, "1"), (38, "10"), (40, "2"),
                 (44, "1.00"), (59, "0"), (60, utc_ts())])
    c.expect("8", where={11: f"{uid}-1"})
    c.send("5")
    logout = c.expect("5")
    c.close()
    ours, theirs = c.seq, int(logout[34]) + 1
    store = tmp_path / "p" / "store"
    store.mkdir(parents=True)
    # QuickFIX FileStore's sequence file: "<next sender> : <next target>".
    (store / "FIX.4.2-CLIENT2-PLXTRA.seqnums").write_text(f"{ours:010d} : {theirs:010d}")
    with Partner(tmp_path / "p", gateway.port, "FIX.4.2", "CLIENT2", reset=False) as p:
        p.wait_logon()
        logon = [m for m in p.recv_admin if "|35=A|" in m][-1]
        assert f"|34={theirs}|" in logon and "141=Y" not in logon, logon
        p.send("F", [(11, f"{uid}-2"), (41, f"{uid}-1"), (55, "XS02"), (54, "1"), (38, "10"),
                     (60, utc_ts())])
        p.wait_for(lambda a: any(dict(m).get(11) == f"{uid}-2" and dict(m).get(39) == "4" for m in a))
        assert p.rejects_sent() == []
        assert not [m for m in p.recv_admin if "|35=2|" in m or "|35=5|" in m]


def test_fill_while_partner_is_away_is_delivered_on_return(gateway, uid: str) -> None:
    """Resting order fills while its owner is logged out: the report arrives at the next logon."""
    c = logged_on(gateway, "FIX.4.2", "CLIENT2")
    c.send("V", [(262, uid), (263, "0"), (264, "1"), (267, "1"), (269, "0"), (146, "1"), (55, "XS08"),
                 (207, "XSX")])
    w = c.expect("W")
    bid, bid_qty = Decimal(w.all(270)[0]), Decimal(w.all(271)[0])
    c.send("D", [(11, f"{uid}-rest"), (1, "0003"), (21, "1"), (55, "XS08"), (54, "1"), (38, "10"), (40, "2"),
                 (44, str(bid)), (59, "0"), (60, utc_ts())])
    c.expect("8", where={11: f"{uid}-rest", 150: "0"})
    c.send("5")
    c.expect("5")
    c.close()
    seller = logged_on(gateway, "FIX.4.4", "CLIENT1")
    try:
        seller.send("D", [(11, f"{uid}-hit"), (1, "0001"), (55, "XS08"), (54, "2"),
                          (38, str(int(bid_qty) + 10)), (40, "2"), (44, str(bid)), (59, "3"), (60, utc_ts())])
        seller.expect("8", where={11: f"{uid}-hit", 39: "2"}, timeout=10)
    finally:
        seller.close()
    back = logged_on(gateway, "FIX.4.2", "CLIENT2")
    try:
        fill = back.expect("8", where={11: f"{uid}-rest", 39: "2"}, timeout=10)
        assert fill[32] == "10" and Decimal(fill[31]) == bid and fill[150] == "2"
    finally:
        back.close()
