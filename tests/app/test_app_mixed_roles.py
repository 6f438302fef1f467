"""The acceptor/initiator pair in one gateway: a partner's QuickFIX initiator logged on to our
acceptor AND our initiator logged on to another partner's QuickFIX acceptor, in one process on
one config, with orders flowing on both (D -> ExecutionReport New, then the fill) through the
real simulator. CompIDs are unique to this module: QuickFIX sessions are process-wide."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import quickfix as fix

from gateway.app.testing import demo_session, run_gateway_in_thread, spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import SimHandle, run_sim_in_thread
from gateway.zenith import ZenithClient

REPO = Path(__file__).resolve().parents[2]
ACCEPTOR_PARTNER = "MIXCLI1"     # logs on to our acceptor
INITIATOR_PARTNER = "MIXVEN1"    # we log on to its acceptor


class PartnerAcceptor(FixTestClient):
    """The partner as a plain QuickFIX acceptor on 127.0.0.1 (``ThreadedSocketAcceptor``, memory
    store): the recording, ``send`` and ``expect`` of :class:`FixTestClient`, the other role."""

    def __init__(self, sender: str, target: str, port: int, tmp_path: Path) -> None:
        super().__init__(begin_string="FIX.4.4", sender=sender, target=target, port=port, tmp_path=tmp_path)
        lines = self.settings_text.splitlines()
        dictionary = next(line for line in lines if line.startswith("DataDictionary="))
        self.settings_text = "\n".join([
            "[DEFAULT]", "ConnectionType=acceptor", f"SocketAcceptPort={port}", "SocketReuseAddress=Y",
            f"FileLogPath={self.log_dir}", "NonStopSession=Y", "UseDataDictionary=Y", dictionary,
            "ValidateUserDefinedFields=N", "",
            "[SESSION]", "BeginString=FIX.4.4", f"SenderCompID={sender}", f"TargetCompID={target}",
            "HeartBtInt=30", "",
        ])

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._settings = fix.SessionSettings()
        self._settings.setFromString(self.settings_text)
        self._store = fix.MemoryStoreFactory()
        self._log = fix.FileLogFactory(self._settings)
        # stop() ends it like an initiator: logout (bounded), then stop(True).
        self._initiator = fix.ThreadedSocketAcceptor(self._app, self._store, self._settings, self._log)
        self._initiator.start()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = run_sim_in_thread(load_sim_config(None).with_overrides(activity=False, seed=23))
    try:
        yield handle
    finally:
        handle.stop()


def _rest_ask(sim: SimHandle, qty: int, px: str, symbol: str) -> None:
    """An ask from an account outside the gateway, through Zenith, for the partners' buys to hit."""

    async def place() -> Any:
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        await client.start()
        try:
            return await client.request("Trading", "PlaceOrder", {
                "Account": "XS:0009",
                "Details": {"Exchange": "XSX", "Code": symbol, "Side": "Ask", "Style": "Market",
                            "Type": "Limit", "LimitPrice": Decimal(px), "Quantity": qty,
                            "Validity": "UntilDay"},
                "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
            })
        finally:
            await client.close()

    result = sim.call(place)
    assert result["Result"] == "Success", result


def _buy(cl_ord_id: str, account: str, symbol: str, qty: int, px: str) -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (1, account), (21, "1"), (55, symbol), (207, "XSX"), (54, "1"), (38, qty),
            (40, "2"), (44, px), (59, "0"), (60, "<now>")]


def _new_then_fill(partner: FixTestClient, cl_ord_id: str, account: str, symbol: str) -> None:
    partner.send("D", _buy(cl_ord_id, account, symbol, 100, "9.10"))
    new = partner.expect("8", timeout=10, where={11: cl_ord_id, 150: "0"})
    assert (new.get(39), new.get(1), new.get(55)) == ("0", account, symbol), new
    fill = partner.expect("8", timeout=10, where={11: cl_ord_id, 39: "2"})
    assert (fill.get(150), fill.get(14), fill.get(151), fill.get(31)) == ("F", "100", "0", "9"), fill
    assert fill.get(37) == new.get(37)


def test_acceptor_and_initiator_sessions_trade_side_by_side(tmp_path: Path, sim: SimHandle) -> None:
    listen_port, venue_port = free_port(), free_port()
    cfg = write_test_config(tmp_path / "gw", sim.url, listen_port, sessions=[
        demo_session("mixcli", "FIX.4.4", ACCEPTOR_PARTNER, ["0006"]),
        demo_session("mixven", "FIX.4.4", INITIATOR_PARTNER, ["0007"], role="initiator", host="127.0.0.1",
                     port=venue_port, reset_on_logon=True),
    ])
    _rest_ask(sim, 100, "9.00", "XS07")
    _rest_ask(sim, 100, "9.00", "XS08")
    with (
        PartnerAcceptor(INITIATOR_PARTNER, "PLXTRA", venue_port, tmp_path / "venue") as venue,
        run_gateway_in_thread(cfg) as gw,
        FixTestClient(sender=ACCEPTOR_PARTNER, port=listen_port, tmp_path=tmp_path / "client") as client,
    ):
        client.wait_logged_on(timeout=15)
        venue.wait_logged_on(timeout=15)   # our initiator connected to the partner's acceptor
        logon = venue.expect("A", timeout=1, admin=True)
        assert logon.get(141) == "Y"       # reset_on_logon of the initiator session
        # Our initiator is logged on once the partner's Logon answer arrived, a moment after the
        # partner's own onLogon: wait for it (bounded) rather than race it.
        both = [f"FIX.4.4:PLXTRA->{ACCEPTOR_PARTNER}", f"FIX.4.4:PLXTRA->{INITIATOR_PARTNER}"]
        deadline = time.monotonic() + 10
        while sorted(map(str, gw.gateway.engine.logged_on())) != both and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(map(str, gw.gateway.engine.logged_on())) == both

        _new_then_fill(client, "acc-1", "0006", "XS07")
        _new_then_fill(venue, "ini-1", "0007", "XS08")
        assert client.errors == [] and venue.errors == []


def test_shipped_config_with_the_venue1_example_uncommented_runs(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's reproduction: ``plxtra-fix run`` on config/gateway.yaml with ``venue1``
    uncommented failed with "SocketAcceptPort not defined". Only the ports change (this machine
    runs other gateways), and the schedule, so that the initiator is in its window whenever the
    test runs; its partner is a real QuickFIX acceptor."""
    text = (REPO / "config" / "gateway.yaml").read_text(encoding="utf-8")
    start = text.index("  # - name: venue1")
    block = text[start:].replace("  # - name: venue1", "  - name: venue1", 1).replace("\n  #   ", "\n    ")
    listen_port, venue_port = free_port(), free_port()
    block = block.replace("port: 9880", f"port: {venue_port}")
    window = block[block.index("    schedule:\n"):block.index("    reset_on_logon:")]
    block = block.replace(window, "    schedule: 24/7\n")
    (tmp_path / "config").mkdir()
    cfg = tmp_path / "config" / "gateway.yaml"
    cfg.write_text(text[:start].replace("listen_port: 9878", f"listen_port: {listen_port}") + block,
                   encoding="utf-8")
    monkeypatch.setenv("VENUE1_PASSWORD", "pw-venue")   # the test reads the config too, for its port
    with (
        PartnerAcceptor("VENUE1", "PLXTRA", venue_port, tmp_path / "venue") as venue,
        spawn_gateway_process(cfg, timeout=60) as gw,
    ):
        venue.wait_logged_on(timeout=20)
        logon = venue.expect("A", timeout=1, admin=True)
        assert (logon.get(553), logon.get(554)) == ("plxtra", "pw-venue")
        # The banner is printed once start-up is over, which may be after the initiator's logon.
        banner = f"session venue1: FIX.4.4 PLXTRA<->VENUE1 (connects to 127.0.0.1:{venue_port})"
        deadline = time.monotonic() + 10
        while banner not in gw.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert banner in gw.output(), gw.output()
        with FixTestClient(sender="CLIENT1", port=listen_port, tmp_path=tmp_path / "client") as client:
            client.wait_logged_on(timeout=15)
        assert gw.terminate(timeout=20) == 0, gw.output()
