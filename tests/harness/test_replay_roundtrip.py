"""Replay round trip against the local acceptor: record, replay -> pass; tamper -> named failure."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness_peer import TestVenue, VenueThread

from gateway.cli import main as cli_main
from gateway.harness.compare import CompareRules, RulesError, load_rules
from gateway.harness.replay import ReplayError, ReplayOptions, load_recording, replay
from gateway.harness.session import FixSession
from gateway.harness.sessionproto import SessionSettings

SOH = "\x01"


async def _record_session(port: int) -> None:
    s = await FixSession.connect(SessionSettings("FIX.4.4", "CLIENT1", "VENUE", 30), "127.0.0.1", port)
    await s.logon(timeout=5)
    s.send("D", [(11, "ord-1"), (1, "0001"), (55, "XS01"), (54, "1"), (38, "100"), (40, "2"),
                 (44, "9.00"), (59, "0"), (60, "20260101-00:00:00")])
    await s.wait_for("8", 5)
    s.send("D", [(11, "ord-2"), (55, "XS02"), (54, "1"), (38, "10"), (40, "1"), (60, "20260101-00:00:00")])
    await s.wait_for("8", 5)
    await s.wait_for("8", 5)
    s.send("G", [(11, "amd-1"), (41, "ord-1"), (37, "O1"), (55, "XS01"), (54, "1"), (38, "150"),
                 (40, "2"), (44, "9.10"), (60, "20260101-00:00:00")])
    await s.wait_for("8", 5)
    s.send("F", [(11, "cxl-1"), (41, "amd-1"), (37, "O1"), (55, "XS01"), (54, "1"),
                 (60, "20260101-00:00:00")])
    await s.wait_for("8", 5)
    s.send("V", [(262, "md-1"), (263, "0"), (264, "1"), (267, "2"), (269, "0"), (269, "1"), (146, "1"),
                 (55, "XS03")])
    await s.wait_for("W", 5)
    await s.logout(timeout=5)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A QuickFIX-style message log of a real session with the venue (written by the venue)."""
    path = tmp_path_factory.mktemp("rec") / "FIX.4.4-VENUE-CLIENT1.messages.current.log"

    async def go() -> list[str]:
        async with TestVenue() as venue:
            await asyncio.wait_for(_record_session(venue.port), 20)
            return venue.log

    path.write_text("\n".join(asyncio.run(go())) + "\n", encoding="latin-1")
    return path


RULES = CompareRules(window=2, tail=0.3)


def _replay(log: Path, **kw):
    recording = load_recording([str(log)])

    async def go():
        async with TestVenue() as v:
            return await replay(recording, ReplayOptions("127.0.0.1", v.port, rules=RULES, **kw))

    return asyncio.run(asyncio.wait_for(go(), 30))


def test_recording_is_read_with_roles_and_app_messages(recorded: Path) -> None:
    rec = load_recording([str(recorded)])
    assert (rec.begin_string, rec.initiator, rec.acceptor) == ("FIX.4.4", "CLIENT1", "VENUE")
    assert [r.msg_type for r in rec.records] == ["D", "8", "D", "8", "8", "G", "8", "F", "8", "V", "W"]
    assert rec.logon is not None and rec.logon.get(108) == "30"


def test_replay_of_an_untouched_log_passes(recorded: Path) -> None:
    result = _replay(recorded)
    assert result.passed, result.failures
    assert len(result.pairs) == 6 and all(p.ok for p in result.pairs)


def test_replay_twice_against_the_same_engine_maps_new_ids(recorded: Path) -> None:
    """Second run: the venue hands out new OrderIDs and ClOrdIDs are new per run; both are mapped."""
    async def go():
        async with TestVenue() as v:
            rec = load_recording([str(recorded)])
            rules = CompareRules(window=2, tail=0.3)
            first = await replay(rec, ReplayOptions("127.0.0.1", v.port, rules=rules, token="A"))
            second = await replay(rec, ReplayOptions("127.0.0.1", v.port, rules=rules, token="B"))
            return first, second, v

    first, second, venue = asyncio.run(asyncio.wait_for(go(), 30))
    assert first.passed and second.passed, second.failures
    cancels = [m for m in venue.received if m.msg_type == "F"]
    # the recorded OrderID O1 was substituted by what the venue said this time (O3 on the 2nd run)
    assert [m.get(37) for m in cancels] == ["O1", "O3"]
    assert [m.get(11) for m in cancels] == ["A-4", "B-4"]


def test_tampered_field_fails_naming_message_and_tag(recorded: Path, tmp_path: Path) -> None:
    text = recorded.read_text(encoding="latin-1")
    assert f"39=2{SOH}55=XS02" in text
    bad = tmp_path / "bad.log"
    bad.write_text(text.replace(f"39=2{SOH}55=XS02", f"39=1{SOH}55=XS02"), encoding="latin-1")
    result = _replay(bad)
    assert not result.passed
    assert len(result.failures) == 1
    failure = result.failures[0]
    assert failure.startswith("different: recorded #5 (8 (ExecutionReport), ")
    assert "tag 39: recorded '1', received '2'" in failure
    assert f"{bad}:" in failure


def test_missing_and_extra_messages_are_reported(recorded: Path, tmp_path: Path) -> None:
    lines = recorded.read_text(encoding="latin-1").splitlines()
    fill = next(i for i, line in enumerate(lines) if f"150=F{SOH}" in line)
    del lines[fill]                    # the fill now arrives but was never recorded -> extra
    snapshot = next(i for i, line in enumerate(lines) if f"35=W{SOH}" in line)
    lines.insert(snapshot + 1, lines[snapshot].replace("md-1", "md-9"))   # a 2nd recorded W -> missing
    bad = tmp_path / "gaps.log"
    bad.write_text("\n".join(lines) + "\n", encoding="latin-1")
    result = _replay(bad)
    kinds = sorted(f.split(":")[0] for f in result.failures)
    assert kinds == ["extra", "missing"], result.failures
    assert any("extra received 8 (ExecutionReport)" in f for f in result.failures)
    missing = "missing: recorded #11 (W (MarketDataSnapshotFullRefresh)"
    assert any(f.startswith(missing) for f in result.failures)


def test_rules_file_ignores_and_tolerates(tmp_path: Path, recorded: Path) -> None:
    text = recorded.read_text(encoding="latin-1")
    bad = tmp_path / "px.log"
    bad.write_text(text.replace(f"31=10.10{SOH}", f"31=10.11{SOH}").replace(f"39=2{SOH}55=XS02",
                                                                            f"39=1{SOH}55=XS02"),
                   encoding="latin-1")
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text("ignore_by_msg_type: {'8': [39]}\ntolerances: {31: '0.01', 6: '0.01'}\n"
                          "window: 2\ntail: 0.2\n")
    rules = load_rules(rules_path)
    assert rules.ignored("8", 39) and not rules.ignored("D", 39) and rules.ignored("8", 52)

    async def go():
        async with TestVenue() as v:
            return await replay(load_recording([str(bad)]), ReplayOptions("127.0.0.1", v.port, rules=rules))

    result = asyncio.run(asyncio.wait_for(go(), 30))
    assert result.passed, result.failures
    (tmp_path / "bad_rules.yaml").write_text("ignore_tagz: [1]\n")
    with pytest.raises(RulesError, match="unknown key"):
        load_rules(tmp_path / "bad_rules.yaml")


def test_session_selection(tmp_path: Path, recorded: Path) -> None:
    other = recorded.read_text(encoding="latin-1").replace("CLIENT1", "CLIENT9")
    both = tmp_path / "both.log"
    both.write_text(recorded.read_text(encoding="latin-1") + other, encoding="latin-1")
    with pytest.raises(ReplayError, match="holds 2 sessions"):
        load_recording([str(both)])
    assert load_recording([str(both)], "CLIENT9").initiator == "CLIENT9"
    with pytest.raises(ReplayError, match="matches 0"):
        load_recording([str(both)], "NOBODY")


def test_cli_replay_exit_codes_and_reports(recorded: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text(recorded.read_text(encoding="latin-1").replace(f"39=2{SOH}55=XS02", f"39=1{SOH}55=XS02"),
                   encoding="latin-1")
    junit, html = tmp_path / "r.xml", tmp_path / "r.html"
    with VenueThread() as v:
        ok = cli_main(["replay", str(recorded), "--target", f"127.0.0.1:{v.port}", "--window", "2"])
        failed = cli_main(["replay", str(bad), "--target", f"127.0.0.1:{v.port}", "--window", "2",
                           "--junit", str(junit), "--html", str(html)])
    assert (ok, failed) == (0, 1)
    out = capsys.readouterr().out
    assert "PASS  FIX.4.4:VENUE->CLIENT1 as initiator" in out and "FAIL  FIX.4.4:CLIENT1->VENUE" in out
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "1" and suite.get("errors") == "0"
    failure = suite.find("testsuite/testcase/failure")
    assert failure is not None and "tag 39" in failure.get("message")
    page = html.read_text()
    assert ('<tr class="diff"><td class=tag>39 <span class=name>OrdStatus</span></td>'
            "<td>1</td><td>2</td></tr>") in page
    assert "<script" not in page and "http" not in page.split("<body>", 1)[1]
    assert cli_main(["replay", str(tmp_path / "nothing.log"), "--target", "127.0.0.1:1"]) == 2


def test_replay_as_acceptor_answers_a_live_initiator(recorded: Path) -> None:
    """Play the venue's side: the initiator's ClOrdIDs are learned, our OrderIDs are made up."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def client() -> list:
        for _ in range(100):                       # the replayer starts listening shortly
            try:
                s = await FixSession.connect(SessionSettings("FIX.4.4", "CLIENT1", "VENUE", 30), "127.0.0.1",
                                             port, timeout=1)
                break
            except Exception:
                await asyncio.sleep(0.05)
        await s.logon(timeout=5)
        s.send("D", [(11, "new-1"), (1, "0001"), (55, "XS01"), (54, "1"), (38, "100"), (40, "2"),
                     (44, "9.00"), (59, "0"), (60, "20260101-00:00:00")])
        first = await s.wait_for("8", 5)
        await s.close()
        return [first]

    async def go():
        rec = load_recording([str(recorded)])
        task = asyncio.create_task(replay(rec, ReplayOptions("127.0.0.1", port, role="acceptor",
                                                             rules=CompareRules(window=1, tail=0.2),
                                                             token="Z")))
        answers = await client()
        return await task, answers

    result, answers = asyncio.run(asyncio.wait_for(go(), 30))
    ack = answers[0]
    assert ack.get(11) == "new-1"             # the recorded ord-1 replaced by what the client sent
    assert ack.get(37) == "Z-1" and ack.get(150) == "0"
    # the client sent a different ClOrdID (learned, fine) and then left: the rest is missing
    assert not result.passed
    assert all(f.startswith(("missing", "session", "connection")) for f in result.failures), result.failures


def test_speed_follows_the_recorded_pace(tmp_path: Path) -> None:
    """Two orders recorded 2 s apart: at --speed 4 the second leaves ~0.5 s after the first."""
    def line(time: str, *fields: str) -> str:
        return f"20260101-10:00:{time} : " + SOH.join(["8=FIX.4.4", "9=0", *fields, "10=000"]) + SOH

    order = ["35=D", "49=CLIENT1", "56=VENUE", "52=x", "11={id}", "55=XS01", "54=1", "38=5", "40=2", "44=9"]
    ack = ["35=8", "49=VENUE", "56=CLIENT1", "52=x", "37={oid}", "11={id}", "17=E", "150=0", "39=0",
           "55=XS01", "54=1", "38=5", "151=5", "14=0", "6=0"]
    log = tmp_path / "paced.log"
    log.write_text("\n".join([
        line("00.000", *[f.format(id="a", oid="O1") for f in order]),
        line("00.010", *[f.format(id="a", oid="O1") for f in ack]),
        line("02.000", *[f.format(id="b", oid="O2") for f in order]),
        line("02.010", *[f.format(id="b", oid="O2") for f in ack]),
    ]) + "\n", encoding="latin-1")
    rules = CompareRules(window=2, tail=0.0, ignore_tags=CompareRules().ignore_tags | {9, 10, 151})

    async def go(speed: float):
        async with TestVenue() as v:
            result = await replay(load_recording([str(log)]),
                                  ReplayOptions("127.0.0.1", v.port, rules=rules, speed=speed))
            return result

    fast = asyncio.run(asyncio.wait_for(go(0.0), 20))
    paced = asyncio.run(asyncio.wait_for(go(4.0), 20))
    assert fast.passed and paced.passed, (fast.failures, paced.failures)
    assert paced.duration >= 0.5 > fast.duration
