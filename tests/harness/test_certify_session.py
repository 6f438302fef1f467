"""Certification runner and FIX session against a real local acceptor (tests/harness/harness_peer.py)."""

from __future__ import annotations

import asyncio

import pytest
from harness_peer import TestVenue

from gateway.harness.runner import CertifyOptions, run_scenario
from gateway.harness.scenario import parse_scenario
from gateway.harness.session import FixAcceptor, FixSession, SessionClosed, SessionTimeout
from gateway.harness.sessionproto import SessionSettings

HEAD = """name: {name}
session: {{begin_string: FIX.4.4, sender: CLIENT1, target: VENUE, heartbeat: 30, timeout: 3}}
steps:
"""

ORDER_FLOW = """\
  - send: V
    as: md
    fields: [[262, "MD-{{uuid}}"], [263, 0], [264, 1], [267, 2], [269, 0], [269, 1], [146, 1], [55, XS01]]
  - expect: W
    as: snap
    fields: {262: "{{sent.md.262}}", "270[269=1]": {gt: "{{this.270[269=0]}}"}}
  - send: D
    as: order
    fields: {11: "{{clordid}}", 1: "0001", 55: XS01, 54: 1, 38: 100, 40: 2,
             44: "{{received.snap.270[269=1]}}", 59: 0, 60: "{{now}}"}
  - expect: "8"
    as: ack
    fields: {11: "{{sent.order.11}}", 150: "0", 39: "0", 37: {present: true}}
  - expect: "8"
    fields: {37: "{{received.ack.37}}", 150: F, 39: "2", 32: {eq: 100}, 31: {le: "{{sent.order.44}}"}}
"""


def run(text: str, mode: str = "good", **options: object):
    scenario = parse_scenario(text, "test.yaml")

    async def main():
        async with TestVenue(mode=mode) as venue:
            return await run_scenario(scenario, CertifyOptions("127.0.0.1", venue.port, **options))

    return asyncio.run(asyncio.wait_for(main(), 30))


def test_order_flow_passes_against_a_correct_acceptor() -> None:
    result = run(HEAD.format(name="flow") + ORDER_FLOW)
    assert result.passed, result.failures
    assert result.error is None
    assert any("received 8=FIX.4.4" in line for line in result.log)
    assert all(p.ok for p in result.pairs) and len(result.pairs) == 3


def test_session_level_steps_pass() -> None:
    text = HEAD.format(name="session") + """\
  - send: "1"
    as: tr
    fields: {112: "T-{{uuid}}"}
  - expect: "0"
    ignore: []
    fields: {112: "{{sent.tr.112}}"}
  - gap: "1"
    as: ahead
    skip: 2
    fields: {112: GAP}
  - expect: "2"
    fields: {7: "{{sent.ahead.34 | sub 2}}", 16: "0"}
  - expect: "0"
    ignore: []
    fields: {112: GAP}
  - send: "1"
    duplicate_of: tr
  - expect_none: {within: 0.5}
  - send: F
    as: cxl
    fields: {11: "{{clordid}}", 41: NEVER, 55: XS01, 54: 1, 60: "{{now}}"}
  - expect: "9"
    fields: {41: NEVER, 434: "1", 102: "1"}
  - send_raw: "8=FIX.4.4|35=1|49={{sender}}|56={{target}}|34={{seq}}|52={{now}}|112=RAW|"
    consumes_seq: true
  - expect: "0"
    ignore: []
    fields: {112: RAW}
  - logout: {text: done}
"""
    result = run(text)
    assert result.passed, result.failures


def test_reconnect_without_reset_keeps_sequence_numbers() -> None:
    text = HEAD.format(name="reconnect") + """\
  - send: "1"
    fields: {112: A}
  - expect: "0"
    ignore: []
  - disconnect: {}
  - reconnect: {reset: false}
  - wait: 0.2
  - disconnect: {abort: true}
  - reconnect: {reset: false}
"""
    scenario = parse_scenario(text, "r.yaml")

    async def main():
        async with TestVenue() as venue:
            result = await run_scenario(scenario, CertifyOptions("127.0.0.1", venue.port))
            return result, [m for m in venue.received if m.msg_type == "A"]

    result, logons = asyncio.run(asyncio.wait_for(main(), 20))
    assert result.passed, result.failures
    assert [m.get(34) for m in logons] == ["1", "3", "4"]
    assert logons[0].get(141) == "Y" and logons[1].get(141) is None and logons[2].get(141) is None


@pytest.mark.parametrize(("mode", "fragments"), [
    ("wrong_exec_type", ["step 4 (expect 8 as ack)", "8 (ExecutionReport)",
                         "tag 150: expected '0', received '8'"]),
    ("missing_tag", ["step 4 (expect 8 as ack)", "tag 37: expected present, received absent"]),
    ("silent", ["step 4 (expect 8 as ack)", "no 8 (ExecutionReport) within 3s"]),
])
def test_wrong_acceptor_fails_naming_step_msgtype_and_tag(mode: str, fragments: list[str]) -> None:
    result = run(HEAD.format(name=mode) + ORDER_FLOW, mode=mode)
    assert not result.passed and result.error is None
    assert len(result.failures) == 1
    for fragment in fragments:
        assert fragment in result.failures[0]
    failing = [p for p in result.pairs if not p.ok]
    assert len(failing) == 1 and failing[0].label.startswith("step 4")


def test_unexpected_msg_type_is_named_with_its_explanation() -> None:
    text = HEAD.format(name="type") + """\
  - send: D
    fields: {11: "{{clordid}}", 55: NOPE, 54: 1, 38: 1, 40: 1, 60: "{{now}}"}
  - expect: "9"
"""
    result = run(text)
    assert "expected 9 (OrderCancelReject), received 8 (ExecutionReport)" in result.failures[0]
    assert "103=1" in result.failures[0]


def test_refused_logon_fails_with_the_logout_text() -> None:
    result = run(HEAD.format(name="refused").replace("target: VENUE", "target: ELSEWHERE") + "  - wait: 0\n")
    assert not result.passed and result.error is None
    assert "logon:" in result.failures[0] and "unknown TargetCompID ELSEWHERE" in result.failures[0]


def test_expect_reject_logon_passes_when_refused() -> None:
    text = HEAD.format(name="reject").replace("target: VENUE", "target: ELSEWHERE").replace(
        "timeout: 3}", "timeout: 3, logon: false, logout: false}") + "  - logon: {expect_reject: true}\n"
    assert run(text).passed
    # a CLI override of the CompIDs would make the logon good: the result flips...
    assert not run(text, target_comp="VENUE").passed
    # ...unless the scenario pins its CompIDs
    pinned = text.replace("logout: false}", "logout: false, fixed_comp_ids: true}")
    assert run(pinned, target_comp="VENUE").passed


def test_seq_too_low_then_disconnect() -> None:
    text = HEAD.format(name="low") + """\
  - send: "0"
    seq: 1
  - expect: "5"
    fields: {58: {regex: ".*too low.*"}}
  - expect_disconnect: {timeout: 3}
"""
    result = run(text)
    assert result.passed, result.failures


def test_connection_refused_is_an_error_not_a_failure() -> None:
    scenario = parse_scenario(HEAD.format(name="x") + "  - wait: 0\n", "x.yaml")

    async def main():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await run_scenario(scenario, CertifyOptions("127.0.0.1", port, connect_timeout=2))

    result = asyncio.run(main())
    assert result.error is not None and "cannot connect" in result.error
    assert result.status == "error"


def test_harness_acceptor_and_initiator_talk_with_heartbeats() -> None:
    settings = SessionSettings("FIX.4.4", "ACC", "INI", heartbeat=1)

    async def main():
        async with FixAcceptor(settings) as acceptor:
            initiator = await FixSession.connect(settings.reversed(), "127.0.0.1", acceptor.port)
            logon, accepted = await asyncio.gather(initiator.logon(timeout=3), acceptor.accept(timeout=3))
            assert logon.get(108) == "1"
            initiator.send("D", [(11, "A1")])
            got = await accepted.wait_for("D", 3)
            assert got.get(11) == "A1"
            beat = await initiator.wait_for("0", 4)    # the acceptor's own heartbeat (1 s interval)
            assert beat.get(112) is None
            with pytest.raises(SessionTimeout):
                await initiator.wait_for("Z", 0.2)
            await accepted.drop()
            with pytest.raises(SessionClosed):
                await initiator.wait_for("Z", 3)
            await initiator.close()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_answers_to_the_harness_own_test_requests_are_not_offered_to_steps() -> None:
    """The venue answers TestRequests but never sends a Heartbeat of its own. The harness's
    session layer probes it with its own TestRequest; that answer (112=TEST-...) must not be
    taken for the unsolicited Heartbeat the scenario waits for."""
    text = """name: unsolicited heartbeat
session: {begin_string: FIX.4.4, sender: CLIENT1, target: VENUE, heartbeat: 1, timeout: 3}
steps:
  - expect: "0"
    description: an unsolicited Heartbeat within HeartBtInt plus transmission time
    ignore: []
    timeout: 4
    fields: {112: {absent: true}}
"""
    result = run(text)
    assert not result.passed and result.error is None
    assert len(result.failures) == 1, result.failures
    failure = result.failures[0]
    assert "no 0 (Heartbeat) within 4s" in failure, failure
    assert "answered the harness's own TestRequest" in failure, failure
    assert "tag 112" not in failure


def test_session_marks_only_its_own_test_request_answers() -> None:
    async def main() -> None:
        async with TestVenue() as venue:
            settings = SessionSettings("FIX.4.4", "CLIENT1", "VENUE", heartbeat=1)
            session = await FixSession.connect(settings, "127.0.0.1", venue.port)
            try:
                await session.logon(timeout=5)
                # The silent venue gets the harness's TestRequest after ~2.2 s; its answer is hidden.
                with pytest.raises(SessionTimeout):
                    await session.next_message(3.5)
                assert session.own_answers >= 1
                hidden = [m for m in session.received if (m.get(112) or "").startswith("TEST-")]
                assert hidden and all(m.msg_type == "0" for m in hidden)
                # A TestRequest the test itself sends is answered and offered as usual.
                session.send("1", [(112, "MINE")])
                m = await session.next_message(3)
                assert (m.msg_type, m.get(112)) == ("0", "MINE")
            finally:
                await session.logout(timeout=2)

    asyncio.run(asyncio.wait_for(main(), 20))
