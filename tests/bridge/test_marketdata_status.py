"""Security / trading-session status subscriptions: unsolicited f and h on state changes."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.bridge.marketdata.request import MDInstrument
from gateway.bridge.marketdata.status import StatusRegistry
from gateway.vocab.records import SessionKey

NOW = datetime(2026, 1, 2, tzinfo=UTC)
XS01 = MDInstrument("XS01", "XSX")
S1 = SessionKey("FIX.4.4", "PLXTRA", "C1")
S2 = SessionKey("FIX.4.2", "PLXTRA", "C2")
STATES = [
    {"Name": "Open", "Reason": "Normal", "Allows": "All"},
    {"Name": "PreOpen", "Reason": "Normal", "Allows": "OrdersOnly,ReportCancel"},
    {"Name": "Halted", "Reason": "TradingHalt", "Allows": "OrderCancel"},
]


def test_security_status_changes_send_unsolicited_f_per_version() -> None:
    reg = StatusRegistry()
    reg.trading_states["XSX"] = STATES
    assert reg.add_security(S1, "e1", "4.4", XS01, {"Code": "XS01", "TradingState": "Open"}) is True
    assert reg.add_security(S2, "e2", "4.2", XS01, {"Code": "XS01", "TradingState": "Open"}) is False
    assert reg.on_security(XS01, {"Last": 10}, NOW) == []  # no state change, nothing sent
    out = reg.on_security(XS01, {"TradingState": "Halted"}, NOW)
    assert [(m.session, dict(m.fields)[326], dict(m.fields)[325], dict(m.fields)[324]) for m in out] == [
        (S1, "2", "Y", "e1"),
        (S2, "2", "Y", "e2"),
    ]
    out = reg.on_security(XS01, {"TradingState": "PreOpen"}, NOW)
    assert [dict(m.fields)[326] for m in out] == ["21", "1"]  # 4.2 has no pre-open value
    assert reg.remove_security(S1, "e1") == []
    assert reg.drop_session(S2) == ([XS01], False)  # last watcher: release Security!


def test_trading_session_status_changes_send_unsolicited_h() -> None:
    reg = StatusRegistry()
    assert reg.add_session(S1, "g1", "4.4", "XSX", "Open") is True
    assert reg.on_markets([{"Code": "XSX", "Status": "Open"}]) == []
    out = reg.on_markets([{"Code": "XSX", "Status": "Closed"}, {"Code": "OTHER", "Status": "Open"}])
    assert [(m.msg_type, dict(m.fields)[340], dict(m.fields)[335]) for m in out] == [("h", "3", "g1")]
    assert reg.remove_session_status(S1, "g1") is True
