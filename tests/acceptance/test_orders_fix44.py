"""Order entry over FIX 4.4 by a raw-socket partner, against the gateway subprocess.

What a new FIX desk tries first: limit/market orders, amend, cancel, status, rejects of bad
input, session-level rejects. Assertions follow FIX 4.4 Vol. 4 (ExecutionReport required
fields, OrdStatus/ExecType transitions) and the Plxtra conventions in ARCHITECTURE.md §7.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rawfix import Msg, RawFix, utc_ts

# FIX 4.4 ExecutionReport required body fields (ExecTransType(20) no longer exists).
ER44_REQUIRED = (37, 17, 150, 39, 55, 54, 151, 14, 6)


def check_er44(m: Msg) -> None:
    missing = [t for t in ER44_REQUIRED if m[t] is None]
    assert not missing, f"ER misses required tags {missing}: {m}"
    assert m[20] is None, f"ExecTransType(20) must not appear in FIX 4.4: {m}"


@pytest.fixture
def c44(gateway) -> RawFix:
    c = gateway.connect("FIX.4.4", "CLIENT1")
    c.logon(reset=True)
    yield c
    try:
        c.send("5")
        c.drain(1.0)
    finally:
        c.close()


def order(cl: str, **kw: str) -> list[tuple[int, str]]:
    f = {1: "0001", 55: "XS04", 207: "XSX", 54: "1", 38: "100", 40: "2", 44: "1.00", 59: "0"}
    f.update({int(k[1:]): v for k, v in kw.items()})
    return [(11, cl)] + [(t, v) for t, v in f.items() if v != ""] + [(60, utc_ts())]


def test_resting_limit_amend_down_up_price_then_cancel(c44: RawFix, uid: str) -> None:
    c44.send("D", order(f"{uid}-1"))
    new = c44.expect("8", where={11: f"{uid}-1"})
    check_er44(new)
    assert (new[150], new[39], new[14], new[151]) == ("0", "0", "0", "100")
    order_id = new[37]
    assert order_id and order_id != "NONE"

    c44.send("G", [(11, f"{uid}-2"), (41, f"{uid}-1"), (1, "0001"), (55, "XS04"), (207, "XSX"), (54, "1"),
                   (38, "60"), (40, "2"), (44, "1.00"), (60, utc_ts())])
    r1 = c44.expect("8", where={11: f"{uid}-2"})
    check_er44(r1)
    assert (r1[150], r1[39], r1[41], r1[38], r1[151], r1[37]) == ("5", "0", f"{uid}-1", "60", "60", order_id)

    c44.send("G", [(11, f"{uid}-3"), (41, f"{uid}-2"), (1, "0001"), (55, "XS04"), (207, "XSX"), (54, "1"),
                   (38, "150"), (40, "2"), (44, "1.05"), (60, utc_ts())])
    r2 = c44.expect("8", where={11: f"{uid}-3"})
    assert (r2[150], r2[41], r2[38], r2[151]) == ("5", f"{uid}-2", "150", "150")
    assert Decimal(r2[44]) == Decimal("1.05")

    c44.send("H", [(11, f"{uid}-3"), (55, "XS04"), (54, "1")])
    st = c44.expect("8", where={150: "I"})
    assert (st[11], st[37], st[39], st[151]) == (f"{uid}-3", order_id, "0", "150")

    c44.send("F", [(11, f"{uid}-4"), (41, f"{uid}-3"), (1, "0001"), (55, "XS04"), (207, "XSX"), (54, "1"),
                   (38, "150"), (60, utc_ts())])
    cx = c44.expect("8", where={11: f"{uid}-4"})
    check_er44(cx)
    assert (cx[150], cx[39], cx[41], cx[151]) == ("4", "4", f"{uid}-3", "0")

    # A second cancel of a finished order: OrderCancelReject, CxlRejResponseTo=1 (cancel).
    c44.send("F", [(11, f"{uid}-5"), (41, f"{uid}-4"), (55, "XS04"), (54, "1"), (38, "150"),
                   (60, utc_ts())])
    rej = c44.expect("9", where={11: f"{uid}-5"})
    assert rej[434] == "1" and rej[39] == "4" and rej[37] == order_id

    exec_ids = [m[17] for m in c44.received if m.msg_type == "8" and (m[11] or "").startswith(uid)]
    assert len(exec_ids) == len(set(exec_ids)), f"ExecIDs repeat: {exec_ids}"


def test_market_order_fills_with_consistent_quantities(c44: RawFix, uid: str) -> None:
    c44.send("D", order(f"{uid}-m", _55="XS05", _40="1", _44="", _38="30"))
    new = c44.expect("8", where={11: f"{uid}-m", 150: "0"})
    check_er44(new)
    done = c44.expect("8", where={11: f"{uid}-m", 39: "2"}, timeout=10)
    check_er44(done)
    fills = [m for m in c44.received if m.msg_type == "8" and m[11] == f"{uid}-m" and m[150] == "F"]
    assert fills, "no Trade ExecutionReport"
    assert sum(Decimal(m[32]) for m in fills) == Decimal("30")
    for m in fills:
        assert m[31] and Decimal(m[31]) > 0
        assert Decimal(m[14]) + Decimal(m[151]) == Decimal("30")
    assert done[151] == "0" and done[14] == "30"

    # Cancel and replace of a filled order: OrderCancelReject 434=1 / 434=2, OrdStatus 2.
    c44.send("F", [(11, f"{uid}-mc"), (41, f"{uid}-m"), (55, "XS05"), (54, "1"), (38, "30"),
                   (60, utc_ts())])
    r = c44.expect("9", where={11: f"{uid}-mc"})
    assert (r[434], r[39]) == ("1", "2")
    c44.send("G", [(11, f"{uid}-mr"), (41, f"{uid}-m"), (55, "XS05"), (54, "1"), (38, "40"), (40, "2"),
                   (44, "1.00"), (60, utc_ts())])
    r = c44.expect("9", where={11: f"{uid}-mr"})
    assert (r[434], r[39]) == ("2", "2")


@pytest.mark.parametrize(("label", "kw", "reason"), [
    ("unknown symbol", {"_55": "ZZ99"}, "1"),
    ("unknown account", {"_1": "0009"}, "15"),
    ("other session's account", {"_1": "0003"}, "15"),
    ("zero quantity", {"_38": "0"}, "13"),
    ("negative quantity", {"_38": "-5"}, "13"),
    ("above session max quantity", {"_38": "99999999999"}, "3"),
])
def test_business_rejects_are_execution_reports(c44: RawFix, uid: str, label: str, kw: dict,
                                                reason: str) -> None:
    c44.send("D", order(f"{uid}-r", **kw))
    m = c44.expect("8", where={11: f"{uid}-r"})
    check_er44(m)
    assert (m[150], m[39], m[103]) == ("8", "8", reason), f"{label}: {m}"
    assert m[58], f"{label}: reject without Text(58)"
    assert m[151] == "0" and m[14] == "0"


def test_off_tick_price_rejected_with_text(c44: RawFix, uid: str) -> None:
    c44.send("D", order(f"{uid}-t", _44="1.0015"))
    m = c44.expect("8", where={11: f"{uid}-t"})
    assert (m[150], m[39]) == ("8", "8") and m[58]


def test_duplicate_clordid_rejected(c44: RawFix, uid: str) -> None:
    c44.send("D", order(f"{uid}-d"))
    c44.expect("8", where={11: f"{uid}-d", 150: "0"})
    c44.send("D", order(f"{uid}-d"))
    m = c44.expect("8", where={11: f"{uid}-d", 150: "8"})
    assert m[103] == "6" and m[58]
    c44.send("q", [(11, f"{uid}-dq"), (530, "7"), (60, utc_ts())])
    c44.expect("r", where={11: f"{uid}-dq"}, timeout=10)


@pytest.mark.parametrize("symbol_fields", [[(55, "XS02.XSX")], [(55, "XS02")]],
                         ids=["symbol-with-market-suffix", "no-SecurityExchange"])
def test_symbology_variants_accepted(c44: RawFix, uid: str, symbol_fields: list) -> None:
    c44.send("D", [(11, f"{uid}-s"), (1, "XS:0001"), *symbol_fields, (54, "1"), (38, "10"), (40, "2"),
                   (44, "1.00"), (59, "0"), (60, utc_ts())])
    m = c44.expect("8", where={11: f"{uid}-s"})
    assert m[150] == "0", m
    c44.send("F", [(11, f"{uid}-sc"), (41, f"{uid}-s"), *symbol_fields, (54, "1"), (38, "10"),
                   (60, utc_ts())])
    assert c44.expect("8", where={11: f"{uid}-sc"})[150] == "4"


def test_body_fields_in_unusual_order_accepted(c44: RawFix, uid: str) -> None:
    c44.send("D", list(reversed(order(f"{uid}-o"))))
    m = c44.expect("8", where={11: f"{uid}-o"})
    assert m[150] == "0"
    c44.send("F", [(41, f"{uid}-o"), (11, f"{uid}-oc"), (54, "1"), (55, "XS04"), (38, "100"),
                   (60, utc_ts())])
    assert c44.expect("8", where={11: f"{uid}-oc"})[150] == "4"


def test_missing_required_tag_gets_session_reject_with_ref_tag(c44: RawFix, uid: str) -> None:
    raw_fields = [f for f in order(f"{uid}-x") if f[0] != 54]          # no Side(54)
    c44.send("D", raw_fields)
    r = c44.expect("3")
    assert (r[371], r[372], r[373]) == ("54", "D", "1")
    assert r[45] == str(c44.seq - 1)
    # The session stays up and in sequence afterwards.
    c44.send("1", [(112, f"{uid}-alive")])
    c44.expect("0", where={112: f"{uid}-alive"})


def test_unknown_msgtype_gets_session_reject(c44: RawFix, uid: str) -> None:
    c44.send("ZZ", [(11, uid)])
    r = c44.expect("3")
    assert r[373] == "11" and r[372] == "ZZ"


def test_mass_status_and_mass_cancel(c44: RawFix, uid: str) -> None:
    for i in range(3):
        c44.send("D", order(f"{uid}-ms{i}", _55="XS06"))
        c44.expect("8", where={11: f"{uid}-ms{i}", 150: "0"})
    c44.send("AF", [(584, f"{uid}-st"), (585, "7")])
    reports = []
    for _ in range(200):
        m = c44.expect("8", where={584: f"{uid}-st"}, timeout=5)
        reports.append(m)
        if m[912] == "Y":
            break
    mine = {m[11] for m in reports} & {f"{uid}-ms{i}" for i in range(3)}
    assert len(mine) == 3
    assert all(m[150] == "I" and m[911] == str(len(reports)) for m in reports)

    c44.send("q", [(11, f"{uid}-mc"), (530, "7"), (60, utc_ts())])
    resp = c44.expect("r", where={11: f"{uid}-mc"}, timeout=10)
    assert resp[531] == "7" and int(resp[533]) >= 3
    for i in range(3):
        c44.expect("8", where={41: f"{uid}-ms{i}", 150: "4"}, timeout=10)
