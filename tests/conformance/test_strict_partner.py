"""Every application message the gateway sends passes a strict partner engine, on every version.

The partner is a QuickFIX initiator validating against the standard dictionary of its version
(UseDataDictionary=Y, ValidateUserDefinedFields=Y, AllowUnknownMsgFields=N,
ValidateFieldsOutOfOrder=Y: ``tests/acceptance/qfpartner.py``). The test drives the gateway (a real
``plxtra-fix run`` subprocess on the embedded simulator) into every outbound message type it can
produce: ExecutionReports (new, replaced, status, canceled, trade, rejected, mass status),
OrderCancelReject, BusinessMessageReject, session Reject, OrderMassCancelReport, market data
(W, X, Y), SecurityList, SecurityDefinition, SecurityStatus and TradingSessionStatus. Any session
Reject (35=3) the partner sends back fails it, as does a type that never arrived.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))

import quickfix as fix
from qfpartner import Partner, dictionary_dir

from gateway.app.testing import GatewayProcess, demo_session, spawn_gateway_process, write_test_config

pytestmark = pytest.mark.timeout(180)

LIMITS = {"max_order_qty": 1_000_000, "max_notional": 50_000_000, "messages_per_second": 500}
VERSIONS = {   # BeginString -> (partner CompID, account)
    "FIX.4.2": ("CLIENT2", "0003"),
    "FIX.4.4": ("CLIENT1", "0001"),
    "FIXT.1.1": ("CLIENT3", "0004"),
}
Msg = list[tuple[int, str]]


def utc_ts() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d-%H:%M:%S.") + f"{now.microsecond // 1000:03d}"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    sessions = [
        demo_session("client1", "FIX.4.4", "CLIENT1", ["0001", "0002"], limits=LIMITS),
        demo_session("client2", "FIX.4.2", "CLIENT2", ["0003"], limits=LIMITS),
        demo_session("client3", "FIXT.1.1", "CLIENT3", ["0004"], default_appl_ver_id="FIX.5.0SP2",
                     limits=LIMITS),
    ]
    cfg = write_test_config(tmp_path_factory.mktemp("strict-gw"), sessions=sessions)
    with spawn_gateway_process(cfg, timeout=60) as gw:
        yield gw


class Driver:
    """Sends one request and waits for the answer it must produce.

    Messages are parsed from text with the partner's dictionary before sending, so repeating
    groups (269 twice in a V) are real groups, as a partner's engine would build them.
    """

    def __init__(self, partner: Partner, begin: str, sender: str) -> None:
        self.p = partner
        self.begin = begin
        self.sender = sender
        dd = dictionary_dir()
        if begin == "FIXT.1.1":
            self.dds = (fix.DataDictionary(str(dd / "FIXT11.xml")),
                        fix.DataDictionary(str(dd / "FIX50SP2.xml")))
        else:
            self.dds = (fix.DataDictionary(str(dd / f"FIX{begin[4:].replace('.', '')}.xml")),)

    def send(self, msg_type: str, body: Msg) -> None:
        fields = [(35, msg_type), (49, self.sender), (56, "PLXTRA"), (34, "1"), (52, utc_ts()), *body]
        text = "".join(f"{tag}={value}\x01" for tag, value in fields)
        head = f"8={self.begin}\x019={len(text.encode())}\x01"
        raw = head + text
        raw += f"10={sum(raw.encode()) % 256:03d}\x01"
        msg = fix.Message(raw, *self.dds, False)
        assert fix.Session.sendToTarget(msg, self.p.session_id), f"sendToTarget refused {msg_type}"

    def ask(self, msg_type: str, body: Msg, want: Callable[[dict[int, str]], bool], what: str,
            timeout: float = 10.0) -> dict[int, str]:
        seen = len(self.p.app)
        self.send(msg_type, body)
        try:
            got = self.p.wait_for(lambda a: any(want(dict(m)) for m in a[seen:]), timeout)
        except AssertionError:
            raise AssertionError(f"{what}: no answer; partner Rejects: {self.p.rejects_sent()}; "
                                 f"admin in: {self.p.recv_admin[-3:]}") from None
        return next(dict(m) for m in got[seen:] if want(dict(m)))

    def admin_answer(self, msg_type: str, body: Msg, admin_type: str, timeout: float = 10.0) -> str:
        seen = len(self.p.recv_admin)
        self.send(msg_type, body)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.p.recv_admin[seen:] if f"|35={admin_type}|" in m]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no 35={admin_type} after {msg_type}: {self.p.recv_admin[-3:]}")


def _order(uid: str, suffix: str, acct: str, symbol: str, side: str, qty: str, price: str | None,
           extra: Msg = ()) -> Msg:   # type: ignore[assignment]
    body: Msg = [(11, f"{uid}-{suffix}"), (1, acct), (21, "1"), (55, symbol), (207, "XSX"), (54, side),
                 (38, qty), (40, "2" if price else "1")]
    if price:
        body.append((44, price))
    body += [(59, "0" if price else "3"), (60, utc_ts()), *extra]
    return body


@pytest.mark.parametrize("begin", list(VERSIONS))
def test_every_outbound_message_passes_a_strict_partner(gateway: GatewayProcess, tmp_path: Path,
                                                        begin: str) -> None:
    sender, acct = VERSIONS[begin]
    uid = uuid.uuid4().hex[:8]
    fix42 = begin == "FIX.4.2"
    with Partner(tmp_path / "partner", gateway.port, begin, sender, reset=True) as p:
        p.wait_logon()
        d = Driver(p, begin, sender)
        cl = lambda s: (lambda m: m.get(11) == f"{uid}-{s}")   # noqa: E731

        # Orders: New, Replaced, status, Canceled, OrderCancelReject (F and G), rejects, a trade.
        new = d.ask("D", _order(uid, "1", acct, "XS03", "1", "10", "1.00"), cl("1"), "ER New")
        assert (new[150], new[39]) == ("0", "0"), new
        d.ask("G", [(11, f"{uid}-2"), (41, f"{uid}-1"), (1, acct), (21, "1"), (55, "XS03"), (207, "XSX"),
                    (54, "1"), (38, "8"), (40, "2"), (44, "1.01"), (60, utc_ts())], cl("2"), "ER Replaced")
        d.ask("H", [(11, f"{uid}-2"), (55, "XS03"), (54, "1")],
              lambda m: m.get(11) == f"{uid}-2" and m.get(20 if fix42 else 150) in ("3", "I"), "ER status")
        d.ask("F", [(11, f"{uid}-3"), (41, f"{uid}-2"), (55, "XS03"), (54, "1"), (38, "8"), (60, utc_ts())],
              lambda m: m.get(11) == f"{uid}-3" and m.get(39) == "4", "ER Canceled")
        d.ask("F", [(11, f"{uid}-4"), (41, f"{uid}-none"), (55, "XS03"), (54, "1"), (38, "8"),
                    (60, utc_ts())],
              lambda m: m.get(35) == "9" and m.get(11) == f"{uid}-4", "9 to F")
        d.ask("G", [(11, f"{uid}-5"), (41, f"{uid}-none"), (21, "1"), (55, "XS03"), (54, "1"), (38, "8"),
                    (40, "2"), (44, "1.01"), (60, utc_ts())],
              lambda m: m.get(35) == "9" and m.get(11) == f"{uid}-5", "9 to G")
        rej = d.ask("D", _order(uid, "6", "0009", "XS03", "1", "10", "1.00"), cl("6"), "ER Rejected")
        assert rej[39] == "8", rej
        unknown = d.ask("D", _order(uid, "7", acct, "XS99", "1", "10", None), cl("7"), "market order, XS99")
        assert (unknown[39], unknown[103]) == ("8", "1"), f"unknown symbol must be 103=1: {unknown}"
        d.ask("D", _order(uid, "8", acct, "XS02", "1", "5", None),
              lambda m: m.get(11) == f"{uid}-8" and m.get(39) in ("1", "2", "4", "C"), "market order fills")
        # A partner's own tag (5001) reaches the gateway, which answers the order as usual.
        udf = d.ask("D", _order(uid, "9", acct, "XS03", "1", "10", "1.00", [(5001, "desk-7")]), cl("9"),
                    "order with a user-defined tag")
        assert udf[150] == "0", udf

        # Market data: W, then X when the book changes, Y for an unknown symbol.
        md = f"{uid}-md"
        d.ask("V", [(262, md), (263, "1"), (264, "0"), (265, "1"), (267, "2"), (269, "0"), (269, "1"),
                    (146, "1"), (55, "XS05"), (207, "XSX")],
              lambda m: m.get(35) == "W" and m.get(262) == md, "W", timeout=15)
        d.ask("D", _order(uid, "10", acct, "XS05", "1", "3", "0.51"),
              lambda m: m.get(35) == "X" and m.get(262) == md, "X after a new bid", timeout=15)
        d.ask("V", [(262, f"{uid}-md2"), (263, "0"), (264, "1"), (267, "1"), (269, "0"), (146, "1"),
                    (55, "XS99"), (207, "XSX")],
              lambda m: m.get(35) == "Y" and m.get(262) == f"{uid}-md2", "Y", timeout=15)
        d.send("V", [(262, md), (263, "2"), (264, "0"), (267, "1"), (269, "0"), (146, "1"), (55, "XS05"),
                     (207, "XSX")])

        # Reference data and status.
        d.ask("c", [(320, f"{uid}-c"), (321, "3"), (55, "XS02"), (207, "XSX")],
              lambda m: m.get(35) == "d", "SecurityDefinition")
        d.ask("e", [(324, f"{uid}-e"), (55, "XS01"), (207, "XSX"), (263, "0")],
              lambda m: m.get(35) == "f", "SecurityStatus")
        d.ask("e", [(324, f"{uid}-e2"), (55, "XS01"), (207, "ASX"), (263, "0")],
              lambda m: m.get(35) == "j" and m.get(45) is not None, "j for a market not permitted")
        market = [(1301, "XSX")] if begin == "FIXT.1.1" else [(336, "XSX")]
        h = d.ask("g", [(335, f"{uid}-g"), *market, (263, "0")], lambda m: m.get(35) == "h",
                  "TradingSessionStatus")
        assert h[340] == "2", f"XSX is open: {h}"
        d.ask("R", [(131, f"{uid}-R"), (146, "1"), (55, "XS01")],
              lambda m: m.get(35) == "j" and m.get(372) == "R", "j for an unsupported message type")
        if not fix42:
            d.ask("x", [(320, f"{uid}-x"), (559, "4")], lambda m: m.get(35) == "y", "SecurityList")
            d.ask("AF", [(584, f"{uid}-af"), (585, "7")],
                  lambda m: m.get(35) == "8" and m.get(584) == f"{uid}-af", "mass status report")
            d.ask("q", [(11, f"{uid}-q"), (530, "7"), (60, utc_ts())],
                  lambda m: m.get(35) == "r" and m.get(11) == f"{uid}-q", "OrderMassCancelReport")
        # A session Reject from the gateway: a standard tag the message type does not define.
        reject = d.admin_answer("D", _order(uid, "11", acct, "XS03", "1", "1", "1.00", [(269, "0")]), "3")
        assert "|371=269|" in reject, reject

        p.send("1", [(112, f"{uid}-sync")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(f"112={uid}-sync" in m for m in p.recv_admin):
            time.sleep(0.05)
        assert p.rejects_sent() == [], f"{begin}: the partner rejected gateway messages: {p.rejects_sent()}"
        types = {dict(m)[35] for m in p.app}
        wanted = {"8", "9", "W", "X", "Y", "d", "f", "h", "j"} | (set() if fix42 else {"y", "r"})
        assert wanted <= types, f"{begin}: never received {sorted(wanted - types)}"
