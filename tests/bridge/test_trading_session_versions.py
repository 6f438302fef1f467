"""TradingSessionStatus per version: 5.0SP2 enumerates TradingSessionID(336), so the market goes
in MarketID(1301) there (request and answer), and the message passes the standard dictionary."""

from __future__ import annotations

import pytest
import quickfix as fix

from gateway.bridge.marketdata.messages import trading_session_status
from gateway.bridge.marketdata.request import parse_trading_session_status_request
from gateway.config.dictionaries import locate_dictionaries
from gateway.config.model import SessionConfig
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.wire import build_message

SESSION = SessionConfig(name="c", begin_string="FIXT.1.1", sender_comp_id="PLXTRA", target_comp_id="C",
                        accounts=("XS:0001",))
HEADER = [(49, "PLXTRA"), (56, "C"), (34, "2"), (52, "20260102-03:04:05.678")]


def _validate(begin: str, body) -> None:   # type: ignore[no-untyped-def]
    dicts = locate_dictionaries()
    if begin == "FIXT.1.1":
        transport = fix.DataDictionary(str(dicts.path("FIXT11.xml")))
        app = fix.DataDictionary(str(dicts.path("FIX50SP2.xml")))
        raw = build_message(begin, "h", [*HEADER, (1128, "9")], body)
        msg = fix.Message(raw, transport, app, False)
        fix.DataDictionary.validate(msg, transport, app)
    else:
        dd = fix.DataDictionary(str(dicts.path("FIX" + begin[4:].replace(".", "") + ".xml")))
        dd.validate(fix.Message(build_message(begin, "h", HEADER, body), dd, False))


VERSIONS = [("FIX.4.2", "4.2"), ("FIX.4.4", "4.4"), ("FIXT.1.1", "5.0SP2")]


@pytest.mark.parametrize(("begin", "profile"), VERSIONS)
def test_h_passes_the_standard_dictionary(begin: str, profile: str) -> None:
    body = trading_session_status(profile, "g1", "XSX", "Open", unsolicited=False)
    fields = dict(body)
    if profile == "5.0SP2":
        assert (fields[1301], fields[336]) == ("XSX", "1")
    else:
        assert fields[336] == "XSX" and 1301 not in fields
    _validate(begin, body)


def test_fix50_request_names_the_market_in_market_id() -> None:
    key = SessionKey("FIXT.1.1", "PLXTRA", "C")
    by_market_id = InboundMessage(key, "g", 3, ((335, "g1"), (1301, "XSX"), (336, "1"), (263, "0")))
    assert parse_trading_session_status_request(by_market_id, SESSION).trading_session_id == "XSX"
    by_exchange = InboundMessage(key, "g", 4, ((335, "g2"), (263, "0"), (207, "XSX")))
    assert parse_trading_session_status_request(by_exchange, SESSION).trading_session_id == "XSX"
    old = InboundMessage(SessionKey("FIX.4.4", "PLXTRA", "C"), "g", 5,
                         ((335, "g3"), (336, "XSX"), (263, "0")))
    assert parse_trading_session_status_request(old, SESSION).trading_session_id == "XSX"
