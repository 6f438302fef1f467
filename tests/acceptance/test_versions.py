"""The same order flow on FIX 4.2, 4.4 and 5.0SP2/FIXT.1.1: each version's own ER rules.

FIX 4.2: ExecTransType(20) required, fills are ExecType 1/2, replaced OrdStatus 5, an
order-status answer is ExecTransType=3 with ExecID "0". FIX 4.4 / 5.0SP2: no tag 20,
fills are ExecType F, status answers ExecType I. FIXT.1.1 logon carries DefaultApplVerID.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rawfix import RawFix, utc_ts

VERSIONS = {
    "FIX.4.2": ("CLIENT2", "0003", []),
    "FIX.4.4": ("CLIENT1", "0001", []),
    "FIXT.1.1": ("CLIENT3", "0004", [(1137, "9")]),
}
REQUIRED = {
    "FIX.4.2": (20, 150, 39, 6, 14, 151, 37, 17, 54, 55, 11),
    "FIX.4.4": (150, 39, 6, 14, 151, 37, 17, 54, 55, 11),
    "FIXT.1.1": (150, 39, 6, 14, 151, 37, 17, 54, 55, 11),
}


@pytest.fixture(params=list(VERSIONS))
def session(request, gateway):
    begin = request.param
    sender, account, extra = VERSIONS[begin]
    c: RawFix = gateway.connect(begin, sender)
    logon = c.logon(reset=True, extra=extra)
    if begin == "FIXT.1.1":
        assert logon[1137] == "9", f"FIXT.1.1 Logon must carry DefaultApplVerID(1137)=9: {logon}"
    yield begin, account, c
    try:
        c.send("5")
        c.drain(1.0)
    finally:
        c.close()


def check(begin: str, m) -> None:
    missing = [t for t in REQUIRED[begin] if m[t] is None]
    assert not missing, f"{begin} ER misses {missing}: {m}"
    if begin != "FIX.4.2":
        assert m[20] is None, f"{begin} ER must not carry ExecTransType(20): {m}"


def test_new_amend_status_cancel_per_version(session, uid: str) -> None:
    begin, acct, c = session
    c.send("D", [(11, f"{uid}-1"), (1, acct), (21, "1"), (55, "XS07"), (207, "XSX"), (54, "1"), (38, "100"),
                 (40, "2"), (44, "1.00"), (59, "0"), (60, utc_ts())])
    new = c.expect("8", where={11: f"{uid}-1"})
    check(begin, new)
    assert (new[150], new[39]) == ("0", "0")
    if begin == "FIX.4.2":
        assert new[20] == "0"

    c.send("G", [(11, f"{uid}-2"), (41, f"{uid}-1"), (1, acct), (21, "1"), (55, "XS07"), (207, "XSX"),
                 (54, "1"), (38, "80"), (40, "2"), (44, "1.05"), (60, utc_ts())])
    rep = c.expect("8", where={11: f"{uid}-2"})
    check(begin, rep)
    assert rep[150] == "5" and rep[41] == f"{uid}-1" and rep[151] == "80"
    assert rep[39] == ("5" if begin == "FIX.4.2" else "0")

    c.send("H", [(11, f"{uid}-2"), (55, "XS07"), (54, "1")])
    if begin == "FIX.4.2":
        st = c.expect("8", where={20: "3"})
        assert st[17] == "0" and st[11] == f"{uid}-2" and st[151] == "80"
    else:
        st = c.expect("8", where={150: "I"})
        assert st[11] == f"{uid}-2" and st[151] == "80"
    check(begin, st)

    c.send("F", [(11, f"{uid}-3"), (41, f"{uid}-2"), (55, "XS07"), (207, "XSX"), (54, "1"), (38, "80"),
                 (60, utc_ts())])
    cx = c.expect("8", where={11: f"{uid}-3"})
    check(begin, cx)
    assert (cx[150], cx[39], cx[41]) == ("4", "4", f"{uid}-2")


def test_market_fill_exec_type_per_version(session, uid: str) -> None:
    begin, acct, c = session
    c.send("D", [(11, f"{uid}-m"), (1, acct), (21, "1"), (55, "XS03"), (207, "XSX"), (54, "2"), (38, "20"),
                 (40, "1"), (59, "3"), (60, utc_ts())])
    c.expect("8", where={11: f"{uid}-m", 150: "0"})
    last = c.expect("8", where={11: f"{uid}-m", 39: "2"}, timeout=10)
    check(begin, last)
    fills = [m for m in c.received if m.msg_type == "8" and m[11] == f"{uid}-m" and m[32]]
    want = {"1", "2"} if begin == "FIX.4.2" else {"F"}
    assert fills and {m[150] for m in fills} <= want, [m[150] for m in fills]
    assert sum(Decimal(m[32]) for m in fills) == Decimal("20")
    assert last[14] == "20" and last[151] == "0"


def test_unknown_symbol_reject_per_version(session, uid: str) -> None:
    begin, acct, c = session
    c.send("D", [(11, f"{uid}-u"), (1, acct), (21, "1"), (55, "NOPE"), (207, "XSX"), (54, "1"), (38, "1"),
                 (40, "2"), (44, "1.00"), (59, "0"), (60, utc_ts())])
    m = c.expect("8", where={11: f"{uid}-u"})
    check(begin, m)
    assert (m[150], m[39], m[103]) == ("8", "8", "1") and m[58]


def test_missing_clordid_session_reject_per_version(session, uid: str) -> None:
    _begin, acct, c = session
    c.send("D", [(1, acct), (21, "1"), (55, "XS07"), (54, "1"), (38, "1"), (40, "2"), (44, "1.00"),
                 (59, "0"), (60, utc_ts())])
    r = c.expect("3")
    assert (r[371], r[373]) == ("11", "1")
