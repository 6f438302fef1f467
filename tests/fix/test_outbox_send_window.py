"""QuickFixOutbox.send_window, the market-data service's pass: one call per session does the
backlog look and the sends of what the producer hands over for the room left. A partner whose
TCP window is full still delays only itself: its producer is not asked for anything (its
updates wait and merge there), the other sessions are served at once; while QuickFIX is busy
the messages wait in the outbox, in order, as ``send`` would keep them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gateway.fix.testing import FixTestClient
from gateway.vocab.records import OutboundMessage
from tests.fix.test_fix_outbox import HEALTHY, SLOW, _flood, _slow_logon, _stuck, _wait

if TYPE_CHECKING:
    from tests.fix.conftest import EngineGateway


def _news(key, text: str) -> OutboundMessage:   # type: ignore[no-untyped-def]
    return OutboundMessage.build(key, "B", [(148, text), (33, 1), (58, "l")])


def test_send_window_serves_the_room_left_and_never_asks_a_blocked_session(
        own_engine_gateway: EngineGateway, tmp_path: Path) -> None:
    gw = own_engine_gateway
    outbox = gw.outbox
    sock = _slow_logon(gw.port)
    try:
        _flood(gw)
        blocked = _stuck(gw)
        asked: list[tuple[str, int]] = []
        slow, healthy = gw.run_on_loop(lambda: (outbox.lane(SLOW), outbox.lane(HEALTHY)))

        def take_for(name: str, texts: list[str]):   # type: ignore[no-untyped-def]
            key = SLOW if name == "slow" else HEALTHY

            def take(room: int) -> list[OutboundMessage]:
                asked.append((name, room))
                return [_news(key, t) for t in texts[:room]]
            return take

        # The blocked partner: no room, its producer is not called, nothing moves.
        assert gw.run_on_loop(lambda: outbox.send_window(slow, 4, 512, take_for("slow", ["s1"]))) == -1
        assert asked == []
        assert gw.run_on_loop(lambda: outbox.backlog(SLOW)) == blocked

        with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as c:
            c.wait_logged_on(10)
            lane_sent = gw.run_on_loop(lambda: outbox._lanes[HEALTHY].sent if HEALTHY in outbox._lanes else 0)
            texts = [f"md-{i}" for i in range(6)]
            # Room is the window (4) less what the partner has not been given: at most 4 of 6.
            taken = gw.run_on_loop(lambda: outbox.send_window(healthy, 4, 512, take_for("healthy", texts)))
            assert asked and asked[0][0] == "healthy" and 1 <= asked[0][1] <= 4
            assert taken == asked[0][1]
            # The budget caps the room too.
            assert gw.run_on_loop(lambda: outbox.send_window(healthy, 50, 1, take_for("healthy", ["b"]))) == 1
            assert asked[-1] == ("healthy", 1)
            want = [*texts[:taken], "b"]
            assert _wait(lambda: [m.get(148) for m in c.received if m.msg_type == "B"] == want, 10)
            assert gw.run_on_loop(lambda: outbox._lanes[HEALTHY].sent) == lane_sent + taken + 1

            # QuickFIX busy (a poll, a flush): what is taken waits in the outbox, in order, and
            # goes out with the flush after it.
            def while_held() -> int:
                outbox._flushing = True
                try:
                    return outbox.send_window(healthy, 4, 512, take_for("healthy", ["h1", "h2"]))
                finally:
                    outbox._flushing = False
            assert gw.run_on_loop(while_held) == 2
            gw.run_on_loop(outbox.flush)
            want += ["h1", "h2"]
            assert _wait(lambda: [m.get(148) for m in c.received if m.msg_type == "B"] == want, 10)
            assert gw.run_on_loop(outbox.total_backlog) == 0

        # Still blocked, untouched by all of it.
        assert gw.run_on_loop(lambda: outbox.backlog(SLOW)) == blocked
        assert [name for name, _ in asked].count("slow") == 0
    finally:
        sock.close()
