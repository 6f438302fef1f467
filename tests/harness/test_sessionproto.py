"""The sans-I/O session layer, two instances wired back to back (no network)."""

from __future__ import annotations

from gateway.harness.codec import FixParser
from gateway.harness.sessionproto import (
    Received,
    SessionProblem,
    SessionProtocol,
    SessionSettings,
    SessionState,
    complete_raw,
)

SETTINGS = SessionSettings("FIX.4.4", "CLIENT", "SERVER", heartbeat=30)


def pair() -> tuple[SessionProtocol, SessionProtocol]:
    return SessionProtocol(SETTINGS, initiator=True), SessionProtocol(SETTINGS.reversed(), initiator=False)


def pump(a: SessionProtocol, b: SessionProtocol) -> None:
    for _ in range(20):
        x, y = a.data_to_send(), b.data_to_send()
        if not x and not y:
            return
        # feed a few bytes at a time: the layer must not care how TCP cuts the stream
        for i in range(0, len(x), 7):
            b.receive_data(x[i:i + 7])
        if y:
            a.receive_data(y)
    raise AssertionError("pump did not settle")


def messages(p: SessionProtocol) -> list:
    return [e for e in p.events_received() if isinstance(e, Received)]


def test_logon_handshake_with_reset_and_fixt_appl_ver() -> None:
    s = SessionSettings("FIXT.1.1", "C", "S", heartbeat=15, username="u", password="p",
                        default_appl_ver_id="9")
    a, b = SessionProtocol(s, initiator=True), SessionProtocol(s.reversed(), initiator=False)
    a.logon()
    pump(a, b)
    assert a.state is b.state is SessionState.ACTIVE
    logon = messages(b)[0].message
    assert [logon.get(t) for t in (98, 108, 141, 553, 554, 1137)] == ["0", "15", "Y", "u", "p", "9"]
    answer = messages(a)[0].message
    assert answer.msg_type == "A" and answer.get(1137) == "9" and answer.get(141) == "Y"
    assert a.next_out == 2 and a.next_in == 2


def test_test_request_is_answered_with_its_id() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    a.send("1", [(112, "PING-1")])
    pump(a, b)
    hb = messages(a)[-1].message
    assert hb.msg_type == "0" and hb.get(112) == "PING-1"


def test_resend_request_resends_app_messages_and_gap_fills_admin() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    a.send("D", [(11, "x")])        # 2
    a.send("0")                     # 3 admin
    a.send("0")                     # 4 admin
    a.send("D", [(11, "y")])        # 5
    pump(a, b)
    messages(b)
    b.send("2", [(7, "1"), (16, "0")])
    pump(a, b)
    got = messages(b)
    assert [(m.message.msg_type, m.seq, m.duplicate) for m in got] == [
        ("4", 1, True), ("D", 2, True), ("4", 3, True), ("D", 5, True)]
    resent = got[1].message
    assert resent.get(43) == "Y" and resent.get(122) is not None and resent.get(11) == "x"
    assert got[2].message.get(123) == "Y" and got[2].message.get(36) == "5"
    assert a.next_out == 6   # a resend does not advance the counter


def test_gap_is_detected_and_resend_requested() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    a.send("0", seq=a.next_out + 2)   # 4 instead of 2
    x = a.data_to_send()
    b.receive_data(x)
    problems = [e for e in b.events_received() if isinstance(e, SessionProblem)]
    assert any("expected 2, received 4" in p.text for p in problems)
    request = FixParser()
    request.feed(b.data_to_send())
    m = request.next()
    assert m.msg_type == "2" and m.get(7) == "2" and m.get(16) == "0"


def test_seq_too_low_without_possdup_logs_out() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    a.send("0")
    pump(a, b)
    a.send("0", seq=1)
    b.receive_data(a.data_to_send())
    assert b.state is SessionState.CLOSED
    out = FixParser()
    out.feed(b.data_to_send())
    logout = out.next()
    assert logout.msg_type == "5" and "too low" in logout.get(58)


def test_possdup_duplicate_is_flagged_not_delivered_twice() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    first = a.send("D", [(11, "x")])
    pump(a, b)
    messages(b)
    a.send("D", first.body, seq=first.seq, poss_dup=True, orig_sending_time=first.sending_time, advance=False)
    b.receive_data(a.data_to_send())
    dup = messages(b)
    assert len(dup) == 1 and dup[0].duplicate and b.state is SessionState.ACTIVE


def test_logout_exchange_closes_both() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    a.logout("bye")
    pump(a, b)
    assert a.state is b.state is SessionState.CLOSED
    assert b.logout_text == "bye"


def test_garbled_message_is_reported_and_ignored() -> None:
    a, b = pair()
    a.logon()
    pump(a, b)
    b.events_received()
    b.receive_data(complete_raw("8=FIX.4.4\x019=5\x0135=0\x0110=000\x01"))
    events = b.events_received()
    assert any(isinstance(e, SessionProblem) and "garbled" in e.text for e in events)
    assert not any(isinstance(e, Received) for e in events)
    assert b.next_in == 2


def test_complete_raw_adds_length_and_checksum_only_when_missing() -> None:
    raw = complete_raw("8=FIX.4.4\x0135=0\x0134=2\x0149=A\x0156=B\x0152=x\x01")
    p = FixParser()
    p.feed(raw)
    m = p.next()
    assert m.checksum_ok and m.body_length_ok
    kept = complete_raw("8=FIX.4.4\x019=99\x0135=0\x0110=001\x01")
    assert kept == b"8=FIX.4.4\x019=99\x0135=0\x0110=001\x01"


def test_complete_raw_keeps_a_misplaced_body_length_and_counts_the_soh_before_checksum() -> None:
    misplaced = complete_raw("8=FIX.4.4\x0135=0\x019=5\x0134=2\x01")
    assert misplaced.startswith(b"8=FIX.4.4\x0135=0\x019=5\x01")      # no second 9 added
    with_trailer = complete_raw("8=FIX.4.4\x0135=0\x0134=2\x0110=0\x01")
    assert with_trailer == b"8=FIX.4.4\x019=10\x0135=0\x0134=2\x0110=0\x01"
