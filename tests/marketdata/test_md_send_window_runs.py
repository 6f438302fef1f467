"""QuickFixOutbox.send_window as the market-data pass uses it, per copy with the least Python:

* ``sending_md`` (toApp then skips its 1137 check) is set for the whole run of shared-body copies
  and for nothing else: a plain message sent between two runs goes out with it cleared, and it
  is cleared once the pass is over;
* a call from another thread than the loop's (the loop check compares thread idents) is not
  sent from that thread: the copies are handed to the loop, and still arrive in order.

Real QuickFIX acceptor polled on its loop thread, a real QuickFIX client over TCP.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import quickfix as fix

from gateway.bridge.marketdata.messages import incremental_body
from gateway.bridge.marketdata.request import MDInstrument
from gateway.bridge.marketdata.state import SharedBodyMessage
from gateway.bridge.marketdata.view import MDEntry
from gateway.fix import handoff
from gateway.fix.testing import FixTestClient
from gateway.vocab.records import OutboundMessage, SessionKey
from tests.fix.conftest import EngineGateway, engine_gateway_running

HEALTHY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")


@pytest.fixture
def gw(tmp_path: Path) -> Any:
    with engine_gateway_running(tmp_path / "gw") as running:
        yield running


def _x(n: int, req_id: str = "r1") -> SharedBodyMessage:
    entry = MDEntry("0", price=Decimal("10.00") + n, size=Decimal(100 + n), entry_id=f"o{n}",
                    order_id=f"o{n}", action="0", position=1)
    body = incremental_body("4.4", MDInstrument("XS01", "XSX"), [entry], rpt_seq=n)
    return SharedBodyMessage(HEALTHY, "X", ((262, req_id), *body), body, req_id)


def _news(text: str) -> OutboundMessage:
    return OutboundMessage.build(HEALTHY, "B", [(148, text), (33, 1), (58, "l")])


def _arrived(client: FixTestClient) -> list[str]:
    return [f"X:{m.get(278)}" if m.msg_type == "X" else f"B:{m.get(148)}" for m in client.received
            if m.msg_type in ("X", "B")]


def test_sending_md_covers_the_shared_copies_only_and_is_cleared_after(
        gw: EngineGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = gw.outbox
    seen: list[tuple[str, bool]] = []
    real_send = handoff._session_send

    def observed(session: Any, message: Any) -> bool:
        # What toApp will read during this very send (Session::send calls it).
        seen.append((message.getHeader().getField(35), outbox.sending_md))
        return bool(real_send(session, message))

    monkeypatch.setattr(handoff, "_session_send", observed)
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as client:
        client.wait_logged_on(10)
        lane = gw.run_on_loop(lambda: outbox.lane(HEALTHY))
        run: list[OutboundMessage] = [_x(1), _x(2), _news("between"), _x(3)]
        taken = gw.run_on_loop(lambda: outbox.send_window(lane, 10, 512, lambda room: run[:room]))
        assert taken == 4
        assert seen == [("X", True), ("X", True), ("B", False), ("X", True)]
        assert gw.run_on_loop(lambda: outbox.sending_md) is False
        assert _wait(lambda: len(_arrived(client)) == 4)
        assert _arrived(client) == ["X:o1", "X:o2", "B:between", "X:o3"]
        assert gw.run_on_loop(lambda: (lane.sent, lane.failed)) == (4, 0)


def test_a_pass_called_off_the_loop_hands_its_copies_to_the_loop_in_order(
        gw: EngineGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = gw.outbox
    threads: set[str] = set()
    real_send = handoff._session_send

    def observed(session: Any, message: Any) -> bool:
        threads.add(threading.current_thread().name)
        return bool(real_send(session, message))

    real_method = fix.Session.send

    def observed_method(session: Any, message: Any) -> bool:   # the one-by-one path's send
        threads.add(threading.current_thread().name)
        return bool(real_method(session, message))

    monkeypatch.setattr(handoff, "_session_send", observed)
    monkeypatch.setattr(fix.Session, "send", observed_method)
    with FixTestClient(sender="CLIENT1", port=gw.port, tmp_path=tmp_path) as client:
        client.wait_logged_on(10)
        lane = gw.run_on_loop(lambda: outbox.lane(HEALTHY))
        before = gw.run_on_loop(lambda: lane.sent)
        copies: list[OutboundMessage] = [_x(n) for n in range(1, 6)]
        # This test's thread, not the loop's: nothing may reach QuickFIX from here.
        assert outbox.send_window(lane, 10, 512, lambda room: copies[:room]) == 5
        assert _wait(lambda: len(_arrived(client)) == 5)
        assert _arrived(client) == [f"X:o{n}" for n in range(1, 6)]
        assert gw.run_on_loop(lambda: lane.sent) == before + 5
        assert threads == {gw.thread.name}   # QuickFIX's send ran on the loop thread only
        assert gw.run_on_loop(lambda: outbox.sending_md) is False


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
