"""The throttle sits at the dispatch seam: every application message of a session passes it once,
market data included, and a refusal is answered as FIX defines for its MsgType (ER Rejected for
D, MarketDataRequestReject for V, ...) with IDs that do not depend on this process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.app.services import RefusesThrottled, ServiceRegistry
from gateway.app.testing import demo_session, run_gateway_in_thread, write_test_config
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.fix.testing import FixTestClient, free_port
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
NOW = datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC)


class ListOutbox:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.logouts: list[tuple[SessionKey, str]] = []

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None:
        self.sent.append(msg)

    def backlog(self, session: SessionKey) -> int:
        return 0

    def logout(self, session: SessionKey, text: str = "") -> None:
        self.logouts.append((session, text))


class Recorder:
    def __init__(self, types: set[str]) -> None:
        self.msg_types = frozenset(types)
        self.got: list[str] = []

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None:
        self.got.append(msg.get(11) or msg.get(262) or "?")

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None:
        pass

    def on_logout(self, key: SessionKey) -> None:
        pass


class DecidingRecorder(Recorder):
    """Answers its own refusals (as the orders service does, durably)."""

    def __init__(self, types: set[str]) -> None:
        super().__init__(types)
        self.refused: list[tuple[str, str]] = []

    def refuse_throttled(self, msg: InboundMessage, session: SessionConfig, text: str) -> None:
        self.refused.append((msg.get(11) or "?", text))


def config(tmp_path: Path, action: str = "reject", rate: int = 2) -> GatewayConfig:
    session = demo_session("client1", "FIX.4.4", "CLIENT1", ["0001"],
                           limits={"messages_per_second": rate, "throttle_action": action})
    return load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999, sessions=[session]))


def d(cl_ord_id: str, seq: int, *extra: tuple[int, str]) -> InboundMessage:
    return InboundMessage(KEY, "D", seq, ((35, "D"), (34, str(seq)), (52, "20261206-09:00:00.125"), *extra,
                                          (11, cl_ord_id), (1, "0001"), (55, "XS01"), (54, "1"), (38, "1"),
                                          (40, "2"), (44, "1.00"), (60, "20261206-09:00:00")))


def v(req_id: str, seq: int) -> InboundMessage:
    return InboundMessage(KEY, "V", seq, ((35, "V"), (34, str(seq)), (52, "20261206-09:00:00.125"),
                                          (262, req_id), (263, "1"), (264, "1"), (267, "1"), (269, "0"),
                                          (146, "1"), (55, "XS01"), (207, "XSX")))


def registry(cfg: GatewayConfig, outbox: ListOutbox, clock: list[float],
             *services: Recorder) -> ServiceRegistry:
    return ServiceRegistry(cfg, outbox, services, monotonic=lambda: clock[0], clock=lambda: NOW)


def test_market_data_requests_count_against_the_same_rate_as_orders(tmp_path: Path) -> None:
    outbox, clock = ListOutbox(), [100.0]
    orders, md = Recorder({"D", "F", "G"}), Recorder({"V"})
    reg = registry(config(tmp_path), outbox, clock, orders, md)
    reg.dispatch(d("o1", 2))
    reg.dispatch(v("m1", 3))          # two per second: both admitted
    reg.dispatch(d("o2", 4))
    reg.dispatch(v("m2", 5))          # over the rate: neither reaches its service
    assert (orders.got, md.got) == (["o1"], ["m1"])
    er, y = outbox.sent
    assert er.msg_type == "8"
    f = dict(er.fields)
    assert (f[11], f[150], f[39], f[103]) == ("o2", "8", "8", "99") and f[58].startswith("throttle: ")
    assert y.msg_type == "Y"
    assert dict(y.fields) == {262: "m2", 281: "2", 58: "throttle: more than 2 messages per second"}
    clock[0] += 1.0                   # the bucket refills: served again
    reg.dispatch(v("m3", 6))
    assert md.got == ["m1", "m3"] and len(outbox.sent) == 2


def test_other_messages_get_a_business_reject_with_the_version_s_reason(tmp_path: Path) -> None:
    outbox, clock = ListOutbox(), [100.0]
    reg = registry(config(tmp_path, rate=1), outbox, clock, Recorder({"e"}))
    for seq in (2, 3):
        reg.dispatch(InboundMessage(KEY, "e", seq, ((35, "e"), (324, f"s{seq}"), (55, "XS01"))))
    (j,) = outbox.sent
    # 8 (throttle limit exceeded) exists from FIX 5.0 on: a 4.4 session gets 0 (Other) + Text.
    assert j.msg_type == "j" and dict(j.fields) == {45: "3", 58: "throttle: more than 1 messages per second",
                                                    372: "e", 379: "s3", 380: "0"}


def test_refusal_exec_id_comes_from_the_message_not_from_this_process(tmp_path: Path) -> None:
    cfg = config(tmp_path, rate=1)
    ids = []
    for _run in range(2):             # a restarted gateway refuses the same message the same way
        outbox, clock = ListOutbox(), [100.0]
        reg = registry(cfg, outbox, clock, Recorder({"D"}))
        reg.dispatch(d("o1", 2))
        reg.dispatch(d("o2", 3))
        ids.append(dict(outbox.sent[0].fields)[17])
    assert ids[0] == ids[1]
    outbox, clock = ListOutbox(), [100.0]
    reg = registry(cfg, outbox, clock, Recorder({"D"}))
    reg.dispatch(d("o1", 2))
    reg.dispatch(d("o3", 4))
    # A PossDup repeat (new SendingTime, OrigSendingTime of the first) is refused with the same ID.
    reg.dispatch(InboundMessage(KEY, "D", 4, ((35, "D"), (34, "4"), (43, "Y"), (52, "20261206-09:00:05.000"),
                                              (122, "20261206-09:00:00.125"), (11, "o3"), (55, "XS01"),
                                              (54, "1"), (38, "1"), (40, "2"), (44, "1.00"))))
    first, repeat = (dict(m.fields)[17] for m in outbox.sent)
    assert first == repeat and first != ids[0]


def test_a_service_that_decides_its_requests_answers_their_refusals(tmp_path: Path) -> None:
    outbox, clock = ListOutbox(), [100.0]
    orders = DecidingRecorder({"D"})
    assert isinstance(orders, RefusesThrottled)
    reg = registry(config(tmp_path, action="logout", rate=1), outbox, clock, orders)
    reg.dispatch(d("o1", 2))
    reg.dispatch(d("o2", 3))
    reg.dispatch(d("o3", 4))
    assert orders.got == ["o1"]
    assert orders.refused == [("o2", "throttle: more than 1 messages per second"),
                              ("o3", "throttle: more than 1 messages per second")]
    assert outbox.sent == []          # the service answered; the registry only logs the session out
    assert outbox.logouts == [(KEY, "Message rate limit exceeded")] * 2


def buy(cl_ord_id: str) -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (1, "0001"), (21, "1"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "1"),
            (40, "2"), (44, "1.00"), (59, "0"), (60, "<now>")]


def subscribe(req_id: str) -> list[tuple[int, object]]:
    return [(262, req_id), (263, "1"), (264, "1"), (267, "1"), (269, "0"), (146, "1"), (55, "XS01"),
            (207, "XSX")]


@pytest.mark.parametrize("begin", ["FIX.4.4", "FIX.4.2"])
def test_a_session_over_its_rate_gets_its_v_refused_like_its_d(tmp_path: Path, begin: str) -> None:
    """Real gateway, embedded simulator, QuickFIX client: one message per second allowed, eight
    sent at once, D and V alternating. Every request is answered exactly once; the refused D get
    ER Rejected, the refused V get MarketDataRequestReject, both with the throttle's Text."""
    port = free_port()
    session = demo_session("client", begin, "CLIENT1", ["0001"],
                           limits={"messages_per_second": 1, "throttle_action": "reject"})
    cfg = write_test_config(tmp_path, "embedded", port, sessions=[session], message_store="memory")
    with run_gateway_in_thread(cfg), FixTestClient(begin_string=begin, port=port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=15)
        for i in range(4):
            c.send("D", buy(f"d{i}"))
            c.send("V", subscribe(f"v{i}"))
        orders = {f"d{i}" for i in range(4)}
        requests = {f"v{i}" for i in range(4)}

        def answers() -> tuple[dict[str, list[InboundMessage]], dict[str, list[InboundMessage]]]:
            er = {k: [m for m in c.received if m.msg_type == "8" and m.get(11) == k] for k in orders}
            md = {k: [m for m in c.received if m.msg_type in ("W", "Y") and m.get(262) == k]
                  for k in requests}
            return er, md

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            er, md = answers()
            if all(er.values()) and all(md.values()):
                break
            time.sleep(0.05)
        time.sleep(0.5)               # anything arriving twice would show now
        er, md = answers()
    assert all(len(v) == 1 for v in er.values()), er
    assert all(len(v) == 1 for v in md.values()), md
    refused_d = [ms[0] for ms in er.values() if ms[0].get(150) == "8"]
    refused_v = [ms[0] for ms in md.values() if ms[0].msg_type == "Y"]
    # At most one token per second: eight requests within well under a second leave both kinds refused.
    assert refused_d and refused_v, (er, md)
    for m in refused_d:
        assert m.get(39) == "8" and (m.get(58) or "").startswith("throttle: ")
    for m in refused_v:
        assert m.get(281) == "2" and (m.get(58) or "").startswith("throttle: ")
    served = [ms[0] for ms in md.values() if ms[0].msg_type == "W"]
    assert len(served) + len(refused_v) == 4


def test_queue_action_holds_messages_of_any_type_and_releases_them_in_order(tmp_path: Path) -> None:
    cfg = config(tmp_path, action="queue", rate=5)

    async def main() -> tuple[list[str], list[str], int, list[OutboundMessage]]:
        outbox = ListOutbox()
        orders, md = Recorder({"D"}), Recorder({"V"})
        reg = ServiceRegistry(cfg, outbox, [orders, md])
        for i in range(5):
            reg.dispatch(d(f"o{i}", 2 + i))               # a second's worth: served at once
        reg.dispatch(v("m1", 10))
        reg.dispatch(d("o5", 11))
        held = reg.queued(KEY)
        for _ in range(100):                              # about 0.2 s per release; bounded
            if len(orders.got) == 6:
                break
            await asyncio.sleep(0.05)
        await reg.close()
        return orders.got, md.got, held, outbox.sent

    got, md_got, held, sent = asyncio.run(main())
    assert held == 2 and sent == []
    assert got == ["o0", "o1", "o2", "o3", "o4", "o5"] and md_got == ["m1"]
