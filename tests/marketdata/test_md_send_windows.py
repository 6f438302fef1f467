"""The market-data pass in one call (QuickFixOutbox.send_windows) and the converter's last-copy
fast path, both per copy with less Python than per-session calls:

* in one pass a partner whose TCP window is full gets -1 and its producer is not asked (its
  updates wait and merge), while the sessions before and after it in the same pass are served;
  ``sending_md`` covers the shared copies only and is cleared after the pass, also when a lane
  of the pass takes the one-by-one path (earlier messages of its own still waiting);
* the converter's fast path (the previous copy's body) still gives each session its own text:
  sessions of two FIX versions sharing the dictionaries (None) alternate on one body, and
  interleaved updates, each copy equal to a fresh conversion of itself.

Real QuickFIX acceptor polled on its loop thread, real QuickFIX client and raw socket over TCP.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.marketdata.messages import incremental_body
from gateway.bridge.marketdata.request import MDInstrument
from gateway.bridge.marketdata.state import SharedBodyMessage
from gateway.bridge.marketdata.view import MDEntry
from gateway.fix import handoff
from gateway.fix.convert import to_quickfix
from gateway.fix.md_send import SharedBodyConverter
from gateway.fix.testing import FixTestClient
from gateway.vocab.records import OutboundMessage, SessionKey
from tests.fix.conftest import EngineGateway, engine_gateway_running
from tests.fix.test_fix_outbox import HEALTHY, SLOW, _flood, _slow_logon, _stuck, _wait

XS01 = MDInstrument("XS01", "XSX")


@pytest.fixture
def own_engine_gateway(tmp_path: Path) -> Any:
    with engine_gateway_running(tmp_path / "gw") as running:
        yield running


def _body(n: int) -> tuple[tuple[int, str], ...]:
    entry = MDEntry("0", price=Decimal("10.00") + n, size=Decimal(100 + n), entry_id=f"o{n}",
                    order_id=f"o{n}", action="0", position=1)
    return incremental_body("4.4", XS01, [entry], rpt_seq=n)


def _copy(key: SessionKey, body: tuple[tuple[int, str], ...], req_id: str) -> SharedBodyMessage:
    return SharedBodyMessage(key, "X", ((262, req_id), *body), body, req_id)


def _news(key: SessionKey, text: str) -> OutboundMessage:
    return OutboundMessage.build(key, "B", [(148, text), (33, 1), (58, "l")])


def test_one_pass_serves_every_session_but_the_blocked_one_and_clears_sending_md(
        own_engine_gateway: EngineGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = own_engine_gateway
    outbox = gw.outbox
    seen: list[tuple[str, bool]] = []
    real_send = handoff._session_send

    def observed(session: Any, message: Any) -> bool:
        seen.append((message.getHeader().getField(35), outbox.sending_md))
        return bool(real_send(session, message))

    sock = _slow_logon(gw.port)
    try:
        _flood(gw)
        blocked = _stuck(gw)
        monkeypatch.setattr(handoff, "_session_send", observed)
        with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
            c.wait_logged_on(10)
            slow, healthy = gw.run_on_loop(lambda: (outbox.lane(SLOW), outbox.lane(HEALTHY)))
            asked: list[tuple[str, int]] = []
            queues = {"healthy": [_copy(HEALTHY, _body(1), "r1"), _copy(HEALTHY, _body(2), "r1"),
                                  _news(HEALTHY, "between")],
                      "slow": [_copy(SLOW, _body(1), "s1")],
                      "again": [_copy(HEALTHY, _body(3), "r1")]}

            def take(name: str, room: int) -> list[OutboundMessage]:
                asked.append((name, room))
                taken, queues[name] = queues[name][:room], queues[name][room:]
                return taken

            results = gw.run_on_loop(lambda: outbox.send_windows(
                [healthy, slow, healthy], ["healthy", "slow", "again"], 10, 512, take))
            # The blocked partner: no room, its producer not called; the same session twice in
            # a pass is served twice, the room of the second call counting the first's sends.
            assert results[1] == -1 and "slow" not in [n for n, _ in asked]
            assert results[0] == 3 and results[2] == 1
            assert seen == [("X", True), ("X", True), ("B", False), ("X", True)]
            assert gw.run_on_loop(lambda: outbox.sending_md) is False
            assert _wait(lambda: [m.get(148) or m.get(278) for m in c.received if m.msg_type in "XB"]
                         == ["o1", "o2", "between", "o3"], 10)
            assert gw.run_on_loop(lambda: (healthy.sent, healthy.failed))[1] == 0

            # A lane with earlier messages of its own waiting goes one by one (send's order),
            # and sending_md set by the lane before it is cleared for those.
            seen.clear()

            def with_waiting() -> list[int]:
                outbox._flushing = True   # QuickFIX busy: the first B waits in the outbox lane
                try:
                    outbox.send(_news(HEALTHY, "waiting"))
                finally:
                    outbox._flushing = False
                return outbox.send_windows([healthy], ["again"], 10, 512,
                                           lambda name, room: [_copy(HEALTHY, _body(4), "r1")])
            assert gw.run_on_loop(with_waiting) == [1]
            gw.run_on_loop(outbox.flush)
            assert _wait(lambda: [m.get(148) or m.get(278) for m in c.received if m.msg_type in "XB"][-2:]
                         == ["waiting", "o4"], 10)
            assert gw.run_on_loop(lambda: outbox.sending_md) is False
            assert seen == [("B", False), ("X", True)]
        assert gw.run_on_loop(lambda: outbox.backlog(SLOW)) == blocked
    finally:
        sock.close()


def _wire(message: Any) -> str:
    # The header fields Session::fill writes per send, set alike on both sides (as test_md_send).
    header = message.getHeader()
    for tag, value in ((49, "PLXTRA"), (56, "MDX"), (34, "7"), (52, "20260102-03:04:05.000")):
        header.setField(tag, value)
    return str(message.toString())


def test_fast_path_copies_keep_their_own_version_and_update() -> None:
    # Dictionaries None for every lane: only the BeginString tells FIX.4.2 and FIX.4.4 copies
    # apart, and updates interleave (a session behind gets two in one pass).
    convert = SharedBodyConverter()
    b1, b2 = _body(1), _body(2)
    order = [("FIX.4.4", b1), ("FIX.4.4", b1), ("FIX.4.2", b1), ("FIX.4.2", b1), ("FIX.4.4", b1),
             ("FIX.4.4", b2), ("FIX.4.4", b1), ("FIX.4.4", b2), ("FIX.4.2", b2)]
    for i, (begin, body) in enumerate(order):
        copy = _copy(SessionKey(begin, "PLXTRA", f"MD{i}"), body, f"r{i}")
        text = _wire(convert(copy, None))
        assert text == _wire(to_quickfix(OutboundMessage(copy.session, "X", copy.fields), None))
        assert text.startswith(f"8={begin}\x01")
        assert text.count("\x01262=") == 1 and f"\x01262=r{i}\x01" in text
    assert (convert.built, convert.reused) == (4, 5)


def test_pass_taker_gives_what_drain_queue_gives() -> None:
    # The pass's take serves one live update itself and hands everything else to drain_queue:
    # two states fed alike must give the same messages (shared bodies included) and releases.
    from datetime import UTC, datetime

    from gateway.bridge.marketdata.request import MarketDataRequest
    from gateway.bridge.marketdata.state import MarketDataState, Topic
    from tests.marketdata.test_md_fanout import _depth_snapshot

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    a = SessionKey("FIX.4.4", "PLXTRA", "A")
    states = [MarketDataState(merge_max=50), MarketDataState(merge_max=50)]
    for state in states:
        state.add_request(a, "4.4", MarketDataRequest("live", "1", 0, 1, False, frozenset("01"), (XS01,)))
        # A snapshot-only request (263=0): released once its W is drained.
        state.add_request(a, "4.4", MarketDataRequest("once", "0", 0, 1, False, frozenset("01"), (XS01,)))
        state.on_data(Topic("Security", XS01), {"Code": "XS01", "Market": "XSX"}, now)
        state.on_data(Topic("Depth", XS01), _depth_snapshot(), now)

    def update(oid: str) -> None:
        for state in states:
            state.on_data(Topic("Depth", XS01), [{"O": "A", "Order": {
                "ID": oid, "Side": "Bid", "Price": Decimal("10.01"), "Quantity": Decimal("3"),
                "Position": 1}}], now)

    def both(budget: int) -> tuple[list[Any], list[Any]]:
        released: list[Topic] = []
        via_take = states[0].pass_taker(now, released)(states[0].queues[a], budget)
        via_drain, gone = states[1].drain_queue(states[1].queues[a], budget, now)
        assert released == gone
        return via_take, via_drain

    def fields(messages: list[Any]) -> list[Any]:
        return [(m.msg_type, m.fields, getattr(m, "req_id", None)) for m in messages]

    snapshots, expected = both(10)   # the two W (the second releases nothing: "live" holds on)
    assert fields(snapshots) == fields(expected) and [m.msg_type for m in snapshots] == ["W", "W"]
    update("o7")   # one live update queued: take's own path
    one, expected = both(10)
    assert fields(one) == fields(expected) and len(one) == 1 and one[0].req_id == "live"
    assert isinstance(one[0], SharedBodyMessage)
    update("o8")
    update("o9")   # two queued: drain_queue's loop, merged into one X
    merged, expected = both(1)
    assert fields(merged) == fields(expected) and merged[0].fields[1] == (268, "2")
    assert states[0].queues[a].items == states[1].queues[a].items
