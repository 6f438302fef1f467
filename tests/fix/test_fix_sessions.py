"""The FIX engine over real TCP: logon per version, logon policy, rejects, groups, shutdown."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.fix.testing import FixTestClient, utc_timestamp
from gateway.vocab.wire import build_message, split_fields

if TYPE_CHECKING:
    from tests.fix.conftest import EngineGateway

VERSIONS = [("FIX.4.2", "CLIENT2"), ("FIX.4.4", "CLIENT1"), ("FIXT.1.1", "CLIENT3")]


def new_order(cl_ord_id: str, begin_string: str = "FIX.4.4") -> list[tuple[int, object]]:
    fields: list[tuple[int, object]] = [(11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"),
                                        (38, "100"), (40, "2"), (44, "10.20"), (59, "0"), (60, "<now>")]
    if begin_string == "FIX.4.2":
        fields.append((21, "1"))   # HandlInst is required in FIX 4.2
    return fields


def client(gw: EngineGateway, tmp_path: Path, begin: str = "FIX.4.4", sender: str = "CLIENT1",
           **kw: object) -> FixTestClient:
    return FixTestClient(begin_string=begin, sender=sender, target="PLXTRA", port=gw.port,
                         tmp_path=tmp_path, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("begin", "sender"), VERSIONS)
def test_logon_and_order_round_trip_per_version(engine_gateway: EngineGateway, tmp_path: Path,
                                                begin: str, sender: str) -> None:
    with client(engine_gateway, tmp_path, begin, sender) as c:
        c.wait_logged_on(timeout=10)
        assert c.send("D", new_order("ord-1", begin))
        er = c.expect("8", timeout=5, where={150: "0", 11: "ord-1"})
        assert er.session.begin_string == begin
        assert er.get(37) == "O-ord-1"
        seen = engine_gateway.service.messages[-1]
        assert seen.msg_type == "D" and seen.session.target_comp_id == sender
        assert (seen.get(11), seen.get(1), seen.get(44)) == ("ord-1", "0001", "10.20")
    assert engine_gateway.service.logons and engine_gateway.service.logons[-1].target_comp_id == sender


def test_bad_password_is_rejected_and_good_one_accepted(engine_gateway: EngineGateway,
                                                        tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path / "bad", sender="SECURE", username="secure-user",
                password="wrong") as bad:
        logout = bad.expect("5", timeout=10, admin=True)
        assert "Invalid username or password" in (logout.get(58) or "")
        assert not bad.logged_on
        bad.stop(timeout=1)
    with client(engine_gateway, tmp_path / "good", sender="SECURE", username="secure-user",
                password="s3cret") as good:
        good.wait_logged_on(timeout=10)


def test_missing_credentials_rejected(engine_gateway: EngineGateway, tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path, sender="SECURE") as c:
        logout = c.expect("5", timeout=10, admin=True)
        assert "Invalid username or password" in (logout.get(58) or "")
        c.stop(timeout=1)


def test_reset_seq_num_flag_refused_when_session_does_not_accept_it(engine_gateway: EngineGateway,
                                                                    tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path, sender="NORESET", reset_on_logon=True) as c:
        logout = c.expect("5", timeout=10, admin=True)
        assert "ResetSeqNumFlag" in (logout.get(58) or "")
        c.stop(timeout=1)
    with client(engine_gateway, tmp_path / "noflag", sender="NORESET", reset_on_logon=False) as c:
        c.wait_logged_on(timeout=10)


def test_unknown_comp_id_is_refused(engine_gateway: EngineGateway, tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path, sender="NOBODY") as c:
        with pytest.raises(AssertionError, match="not logged on"):
            c.wait_logged_on(timeout=2.5)
        c.stop(timeout=1)
    assert all(k.target_comp_id != "NOBODY" for k in engine_gateway.service.logons)


def test_service_exception_yields_business_reject_and_gateway_keeps_serving(
        engine_gateway: EngineGateway, tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("D", new_order("boom-1"))
        j = c.expect("j", timeout=5)
        assert j.get(372) == "D" and j.get(380) == "0" and j.get(379) == "boom-1"
        assert j.get(45) == str(engine_gateway.service.messages[-1].msg_seq_num)
        assert "Internal error" in (j.get(58) or "")
        c.send("D", new_order("ord-2"))
        c.expect("8", timeout=5, where={11: "ord-2"})


def test_unsupported_msg_type_yields_business_reject_reason_3(engine_gateway: EngineGateway,
                                                              tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("R", [(131, "quote-req-1"), (146, 1), (55, "XS01")])   # QuoteRequest: valid FIX, not ours
        j = c.expect("j", timeout=5)
        assert j.get(380) == "3" and j.get(372) == "R"
        assert all(m.msg_type != "R" for m in engine_gateway.service.messages)   # never reached a service


def test_quickfix_own_business_reject_on_fixt_carries_no_default_appl_ver_id(
        engine_gateway: EngineGateway, tmp_path: Path) -> None:
    """QuickFIX C++ puts DefaultApplVerID(1137) in the body of the 35=j it makes itself (here for a
    message type the gateway does not handle); the gateway's toApp takes it out inside the poll
    that makes it, so a strict FIXT.1.1 partner gets a j it does not Reject."""
    with client(engine_gateway, tmp_path, "FIXT.1.1", "CLIENT3") as c:
        c.wait_logged_on(timeout=10)
        c.send("R", [(131, "quote-req-fixt"), (146, 1), (55, "XS01")])
        j = c.expect("j", timeout=5)
        assert j.get(380) == "3" and j.get(372) == "R"
        assert j.get(1137) is None


def test_outbound_groups_round_trip(engine_gateway: EngineGateway, tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path, "FIXT.1.1", "CLIENT3") as c:
        c.wait_logged_on(timeout=10)
        c.send("V", [(262, "md-1"), (263, "0"), (264, "0"), (267, 2), (269, "0"), (269, "1"),
                     (146, 1), (55, "XS01")])
        w = c.expect("W", timeout=5, where={262: "md-1"})
        entries = [(t, v) for t, v in w.fields if t in (268, 269, 270, 271)]
        assert entries == [(268, "3"), (269, "0"), (270, "10.19"), (271, "500"), (269, "1"), (270, "10.21"),
                           (271, "300"), (269, "2"), (270, "10.20"), (271, "100")]
    with client(engine_gateway, tmp_path / "44") as c:
        c.wait_logged_on(timeout=10)
        c.send("D", new_order("ord-parties"))
        er = c.expect("8", timeout=5, where={11: "ord-parties"})
        parties = [(t, v) for t, v in er.fields if t in (453, 448, 447, 452)]
        assert parties == [(453, "2"), (448, "XS:0001"), (447, "D"), (452, "24"),
                           (448, "PLXTRA"), (447, "D"), (452, "1")]


def new_order_raw(cl_ord_id: str) -> list[tuple[int, str]]:
    return [(11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "100"), (40, "2"),
            (44, "10.20"), (60, utc_timestamp())]


def _raw_logon(port: int, sender: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    logon = build_message("FIX.4.4", "A", [(49, sender), (56, "PLXTRA"), (34, "1"),
                                           (52, utc_timestamp())],
                          [(98, "0"), (108, "30"), (141, "Y")])
    sock.sendall(logon.encode())
    return sock


def _read_messages(sock: socket.socket, timeout: float,
                   until: Callable[[list[dict[int, str]]], bool] | None = None,
                   ) -> tuple[list[dict[int, str]], bool]:
    """Messages read within ``timeout`` s (stopping early once ``until(messages)`` holds) and
    whether the peer closed the socket."""
    deadline = time.monotonic() + timeout
    buf = b""
    closed = False
    messages: list[dict[int, str]] = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        messages = [dict(split_fields("8=FIX" + part.decode())) for part in buf.split(b"8=FIX")[1:]
                    if part.endswith(b"\x01")]
        if until is not None and until(messages):
            break
    return messages, closed


def _has(msg_type: str, **where: str) -> Callable[[list[dict[int, str]]], bool]:
    return lambda ms: any(m.get(35) == msg_type and all(m.get(int(k[1:])) == v for k, v in where.items())
                          for m in ms)


def test_inbound_record_copies_every_field(engine_gateway: EngineGateway) -> None:
    sock = _raw_logon(engine_gateway.port, "RAWCLI")
    try:
        got, _ = _read_messages(sock, 5, _has("A"))
        assert _has("A")(got), got
        body = new_order_raw("wire-1")
        sock.sendall(build_message("FIX.4.4", "D", [(49, "RAWCLI"), (56, "PLXTRA"), (34, "2"),
                                                    (52, utc_timestamp())], body).encode())
        got, _ = _read_messages(sock, 5, _has("8"))
        assert _has("8")(got), got
    finally:
        sock.close()
    seen = engine_gateway.service.messages[-1]
    # QuickFIX re-orders body fields (by tag; groups stay whole and in entry order).
    assert sorted(p for p in seen.fields if p[0] not in (35, 34, 49, 52, 56)) == sorted(body)
    assert seen.fields[:2] == ((35, "D"), (34, "2"))
    assert seen.msg_seq_num == 2 and seen.session.target_comp_id == "RAWCLI"


def test_garbage_after_logon_is_rejected_and_other_sessions_keep_working(
        engine_gateway: EngineGateway, tmp_path: Path) -> None:
    with client(engine_gateway, tmp_path) as other:
        other.wait_logged_on(timeout=10)
        sock = _raw_logon(engine_gateway.port, "RAWCLI")
        try:
            got, closed = _read_messages(sock, 5, _has("A"))
            assert not closed and _has("A")(got), got
            # Random bytes (garbled data: QuickFIX drops it), then a framed D with an empty value.
            sock.sendall(b"\x00\xff\xfegarbage\x01\x01=\x01")
            header = [(49, "RAWCLI"), (56, "PLXTRA"), (34, "2"), (52, utc_timestamp())]
            empty_symbol = [(t, "" if t == 55 else v) for t, v in new_order_raw("empty")]
            sock.sendall(build_message("FIX.4.4", "D", header, empty_symbol).encode())
            got, closed = _read_messages(sock, 5, _has("3"))
            # QuickFIX answers the framed message with a session-level Reject: RefSeqNum 2,
            # SessionRejectReason 4 (tag specified without a value); the garbage was dropped.
            assert not closed and _has("3", t45="2", t373="4")(got), got
            # The session itself goes on: the next good order is answered.
            header = [(49, "RAWCLI"), (56, "PLXTRA"), (34, "3"), (52, utc_timestamp())]
            sock.sendall(build_message("FIX.4.4", "D", header, new_order_raw("raw-ok")).encode())
            got, _ = _read_messages(sock, 5, _has("8", t11="raw-ok"))
            assert _has("8", t11="raw-ok")(got), got
        finally:
            sock.close()
        # The gateway process and the other session are unharmed.
        other.send("D", new_order("after-garbage"))
        other.expect("8", timeout=5, where={11: "after-garbage"})
        assert other.logged_on


class _ExplodingTypes(frozenset):
    """A handled-types set whose lookup fails for one MsgType: a bug inside ``fromApp`` itself."""

    def __contains__(self, item: object) -> bool:
        if item == "F":
            raise RuntimeError("bug inside the QuickFIX callback")
        return super().__contains__(item)


def test_exception_inside_from_app_yields_business_reject_not_exit(engine_gateway: EngineGateway,
                                                                   tmp_path: Path) -> None:
    registry = engine_gateway.registry
    saved = registry.handled_types
    registry.handled_types = _ExplodingTypes(saved)
    try:
        with client(engine_gateway, tmp_path) as c:
            c.wait_logged_on(timeout=10)
            c.send("F", [(41, "orig-1"), (11, "cxl-1"), (55, "XS01"), (54, "1"), (60, "<now>")])
            j = c.expect("j", timeout=5)
            assert (j.get(372), j.get(380), j.get(379)) == ("F", "0", "cxl-1")
            assert j.get(45) and "Internal error" in (j.get(58) or "")
            c.send("D", new_order("after-callback-bug"))
            c.expect("8", timeout=5, where={11: "after-callback-bug"})
    finally:
        registry.handled_types = saved
    assert engine_gateway.app.callback_errors >= 1


def test_logon_with_a_negative_heart_bt_int_is_refused(engine_gateway: EngineGateway) -> None:
    import socket
    from datetime import UTC, datetime

    from gateway.harness.codec import FixParser, encode

    def logon(heart_bt_int: str) -> list[dict[int, str]]:
        now = datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
        raw = encode("FIX.4.4", [(35, "A"), (49, "RAWCLI"), (56, "PLXTRA"), (34, "1"), (52, now),
                                 (98, "0"), (108, heart_bt_int), (141, "Y")])
        answers: list[dict[int, str]] = []
        with socket.create_connection(("127.0.0.1", engine_gateway.port), timeout=5) as sock:
            sock.sendall(raw)
            parser = FixParser()
            try:
                while not any(a.get(35) in ("5", "A") for a in answers):
                    data = sock.recv(4096)
                    if not data:
                        break
                    parser.feed(data)
                    while (m := parser.next()) is not None:
                        answers.append(dict(m.fields))
            except TimeoutError:
                pass
            if answers and answers[0].get(35) == "A":   # logged on: leave politely
                sock.sendall(encode("FIX.4.4", [(35, "5"), (49, "RAWCLI"), (56, "PLXTRA"), (34, "2"),
                                                (52, now)]))
        return answers

    refused = logon("-1")
    assert [a.get(35) for a in refused] == ["5"], refused
    assert "HeartBtInt(108)" in refused[0].get(58, "")
    accepted = logon("30")
    assert accepted and accepted[0].get(35) == "A", accepted
