"""`throttle_action: logout` ends one connection, not the partnership: after the throttle
Logout the same partner logs on again and trades (QuickFIX's Session::logout also disables the
session; the hand-off enables it again once the partner is gone)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.app.testing import demo_session, run_gateway_in_thread, write_test_config
from gateway.fix.testing import FixTestClient, free_port


def buy(cl_ord_id: str) -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "1"), (40, "2"),
            (44, "1.00"), (59, "0"), (60, "<now>")]


def test_throttle_logout_then_the_partner_logs_on_again(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    session = demo_session("client1", "FIX.4.4", "CLIENT1", ["0001"],
                           limits={"messages_per_second": 5, "throttle_action": "logout"})
    cfg = write_test_config(tmp_path, "embedded", port, sessions=[session], message_store="memory")
    caplog.set_level(logging.INFO, logger="gateway.fix.handoff")
    with run_gateway_in_thread(cfg), FixTestClient(port=port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=10)
        for i in range(40):                       # far over 5 per second
            c.send("D", buy(f"burst-{i}"))
        logout = c.expect("5", timeout=10, admin=True)
        assert logout.get(58) == "Message rate limit exceeded"
        c.wait_logged_out(timeout=10)
        # The client's initiator reconnects by itself (ReconnectInterval=1) and is let in again.
        c.wait_logged_on(timeout=15)
        c.send("D", buy("after-logout"))
        c.expect("8", timeout=10, where={11: "after-logout", 150: "0"})
        # One Logout, one log line for it, however many messages were over the limit.
        assert [m.get(58) for m in c.admin if m.msg_type == "5"] == ["Message rate limit exceeded"]
        logging_out = [r for r in caplog.records if r.getMessage().startswith("logging out")]
        assert len(logging_out) == 1, [r.getMessage() for r in logging_out]
