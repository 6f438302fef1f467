"""The outbox keeps each lane's ``quickfix.Session`` instead of looking it up per send, and looks
it up again once QuickFIX's sessions are freed (a connector released, an acceptor rebuilt):
a kept Session of a freed connector would be a dangling pointer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import quickfix as fix

from gateway.app.testing import write_test_config
from gateway.bridge.marketdata.state import SharedBodyMessage
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig
from gateway.fix.convert import to_quickfix
from gateway.fix.engine import FixEngine, load_dictionaries
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.vocab.records import OutboundMessage, SessionKey

KEY = SessionKey("FIX.4.4", "PLXTRA", "KEEPER")
SESSIONS = [{"name": "keeper", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
             "target_comp_id": "KEEPER", "accounts": ["0001"]}]


def _news(n: int) -> OutboundMessage:
    return OutboundMessage(KEY, "B", [(148, f"headline {n}"), (33, 1), (58, "text")])


def _built_engine(config: GatewayConfig, outbox: QuickFixOutbox,
                  loop: asyncio.AbstractEventLoop) -> FixEngine:
    app = GatewayApplication(config, None, loop, outbox)
    engine = FixEngine(config, app)
    engine.build()   # sessions created (QuickFIX's registry), nothing bound
    return engine


def test_a_lane_keeps_its_session_until_sessions_are_freed(tmp_path: Path) -> None:
    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", sessions=SESSIONS,
                                           message_store="memory"))
    loop = asyncio.new_event_loop()   # never run: sends are made on this thread, as on the loop's
    try:
        outbox = QuickFixOutbox(load_dictionaries(config).get, loop)
        first = _built_engine(config, outbox, loop)
        assert outbox.backlog(KEY) == 0
        outbox.send(_news(1))
        lane = outbox._lanes[KEY]
        kept = lane.session()
        assert kept is not None and lane.session() is kept   # the same proxy: no lookup per send
        outbox.send(_news(2))
        assert (lane.sent, lane.failed) == (2, 0)

        first.release()   # frees the connector and its sessions
        assert lane.session() is None
        outbox.send(_news(3))   # would use the freed Session if it were still kept
        assert (lane.sent, lane.failed) == (2, 1)

        second = _built_engine(config, outbox, loop)   # same session IDs, new Session objects
        try:
            renewed = lane.session()
            assert renewed is not None and renewed is not kept
            outbox.send(_news(4))
            assert (lane.sent, lane.failed) == (3, 1)
            # QuickFIX numbered it in the new session (a memory store: it starts again at 1).
            assert renewed.getExpectedSenderNum() == 2
        finally:
            second.release()
    finally:
        loop.close()


FIXT_KEY = SessionKey("FIXT.1.1", "PLXTRA", "MDFIXT")
FIXT_SESSIONS = [{"name": "mdfixt", "begin_string": "FIXT.1.1", "sender_comp_id": "PLXTRA",
                  "target_comp_id": "MDFIXT", "default_appl_ver_id": "FIX.5.0SP2", "trading": False,
                  "markets": ["XSX"]}]


def test_to_app_cleans_1137_only_inside_a_poll_where_quickfix_makes_its_own_messages(tmp_path: Path) -> None:
    """toApp removes DefaultApplVerID(1137) from a body (QuickFIX's own 35=j carries one), which
    QuickFIX builds only inside a poll; outside one (the outbox's sends: every message of the
    gateway's, W/X copies included) it makes no SWIG call, so a 1137 put in such a body on
    purpose reaches the store: proof the check did not run for it."""
    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", sessions=FIXT_SESSIONS))
    loop = asyncio.new_event_loop()
    try:
        outbox = QuickFixOutbox(load_dictionaries(config).get, loop)
        engine = _built_engine(config, outbox, loop)   # file store: what was sent is on disk
        driver = outbox._driver
        assert driver is not None   # our QuickFIX build: connectors polled on the loop
        try:
            outbox.send(OutboundMessage(FIXT_KEY, "j", ((1137, "9"), (45, "3"), (372, "D"), (380, "3"))))
            body = ((1137, "9"), (268, "1"), (279, "0"), (269, "0"), (270, "10"), (271, "5"))
            outbox.send(SharedBodyMessage(FIXT_KEY, "X", ((262, "r1"), *body), body, "r1"))
            assert outbox._lanes[FIXT_KEY].sent == 2 and outbox.sending_md is False
            # Inside a poll, as Session::generateBusinessReject sends its j: cleaned.
            j = OutboundMessage(FIXT_KEY, "j", ((1137, "9"), (45, "4"), (372, "R"), (380, "3")))
            own = to_quickfix(j, load_dictionaries(config).get(FIXT_KEY))
            driver._enter()
            try:
                assert fix.Session.sendToTarget(own, fix.SessionID("FIXT.1.1", "PLXTRA", "MDFIXT"))
            finally:
                driver._leave()
        finally:
            engine.release()   # closes the store files
    finally:
        loop.close()
    stored: dict[str, dict[str, str]] = {}
    for path in Path(config.gateway.message_store_dir).glob("*MDFIXT*.body"):
        for raw in path.read_text().split("8=FIXT.1.1\x01")[1:]:
            fields = dict(part.split("=", 1) for part in raw.split("\x01") if "=" in part)
            stored[fields["45"] if fields["35"] == "j" else fields["35"]] = fields
    assert set(stored) == {"3", "X", "4"}
    assert stored["3"]["1137"] == "9"   # ours, outside a poll: no check
    assert stored["X"]["1137"] == "9" and stored["X"]["262"] == "r1"
    assert "1137" not in stored["4"]   # inside a poll: cleaned
