"""``POST /reload`` starts added sessions over real sockets: an acceptor session whose partner
then logs on and trades (the acceptor is rebuilt, its logged-on partner bounced with its sequence
numbers kept), and an initiator session that logs on to a test QuickFIX acceptor."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app.testing import DEMO_SESSIONS, run_gateway_in_thread
from gateway.fix.testing import FixTestClient, free_port
from tests.ops.opshelpers import api, buy, start_venue, write_admin_config

pytestmark = pytest.mark.timeout(120)


def _until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _rewrite(cfg: Path, sessions: list[dict[str, Any]]) -> None:
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    doc["sessions"] = sessions
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def test_reload_starts_an_added_acceptor_and_an_added_initiator(tmp_path: Path) -> None:
    fix_port, venue_port = free_port(), free_port()
    client1, client2 = dict(DEMO_SESSIONS[0]), dict(DEMO_SESSIONS[1])
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    _rewrite(cfg, [client1])
    venue, venue_acceptor = start_venue(tmp_path, venue_port)
    try:
        with run_gateway_in_thread(cfg), \
                FixTestClient(port=fix_port, tmp_path=tmp_path / "c1", reset_on_logon=False) as c1:
            c1.wait_logged_on(timeout=10)
            c1.send("D", buy("r-1", price="1.00"))
            c1.expect("8", timeout=10, where={11: "r-1", 150: "0"})
            before = api(admin_port, "GET", "/sessions/client1")[1]["next_target_seq_num"]

            initiator = {"name": "venue", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                         "target_comp_id": "VENUE", "role": "initiator", "host": "127.0.0.1",
                         "port": venue_port, "heartbeat_interval": 30, "trading": False,
                         "reset_on_logon": True}
            _rewrite(cfg, [client1, client2, initiator])
            status, body = api(admin_port, "POST", "/reload", timeout=30)
            assert status == 200, body
            assert body["added"] == ["client2", "venue"] and body["removed"] == []
            assert body["started"] == ["venue", "client2"]
            assert body["bounced"] == ["client1"]      # logged on to the rebuilt acceptor
            assert body["not_started"] == [] and body["restart_needed"] == []

            # The initiator connects to the venue at once.
            assert venue.logged_on.wait(15), "the added initiator never logged on"
            _until(lambda: api(admin_port, "GET", "/sessions/venue")[1]["state"] == "logged_on")

            # client1 was logged out once and logs on again, sequence numbers kept (no reset).
            c1.expect("5", timeout=10, admin=True)
            _until(lambda: c1.logons >= 2 and c1.logged_on)
            one = api(admin_port, "GET", "/sessions/client1")[1]
            assert one["state"] == "logged_on" and one["next_target_seq_num"] > before

            # The added acceptor session's partner logs on and trades on its own account: the
            # orders service knows its entitlements (0003) and refuses another session's account.
            with FixTestClient(port=fix_port, tmp_path=tmp_path / "c2", sender="CLIENT2",
                               begin_string="FIX.4.2") as c2:
                c2.wait_logged_on(timeout=10)
                c2.send("D", [*buy("r-2", price="1.00", account="0003"), (21, "1")])
                c2.expect("8", timeout=10, where={11: "r-2", 150: "0"})
                c2.send("D", [*buy("r-3", price="1.00", account="0001"), (21, "1")])
                c2.expect("8", timeout=10, where={11: "r-3", 150: "8"})
                c2.send("V", [(262, "md-2"), (263, "0"), (264, "1"), (265, "0"), (267, "1"), (269, "0"),
                              (146, "1"), (55, "XS01"), (207, "XSX")])
                c2.expect("W", timeout=10, where={262: "md-2"})
                listed = {s["name"]: s for s in api(admin_port, "GET", "/sessions")[1]["sessions"]}
                assert set(listed) == {"client1", "client2", "venue"}
                assert listed["client2"]["state"] == "logged_on" and listed["client2"]["open_orders"] == 1
            # client1 still trades after the bounce.
            c1.send("D", buy("r-4", price="1.00"))
            c1.expect("8", timeout=10, where={11: "r-4", 150: "0"})
    finally:
        venue_acceptor.stop(True)


def test_reload_without_bounce_leaves_the_acceptor_and_says_what_waits(tmp_path: Path) -> None:
    fix_port = free_port()
    client1, client2 = dict(DEMO_SESSIONS[0]), dict(DEMO_SESSIONS[1])
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    _rewrite(cfg, [client1])
    with run_gateway_in_thread(cfg), FixTestClient(port=fix_port, tmp_path=tmp_path / "c1") as c1:
        c1.wait_logged_on(timeout=10)
        _rewrite(cfg, [client1, client2])
        status, body = api(admin_port, "POST", "/reload?bounce=false", timeout=30)
        assert status == 200, body
        assert body["started"] == [] and body["bounced"] == []
        assert body["not_started"] == ["client2"] and body["restart_needed"] == ["client2"]
        c1.expect_none("5", within=1.5)
        assert c1.logged_on and c1.logons == 1
        assert api(admin_port, "POST", "/reload?bounce=maybe")[0] == 400
