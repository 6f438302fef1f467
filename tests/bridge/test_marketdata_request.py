"""MarketDataRequest(V) parsing, validation and every MDReqRejReason we produce."""

from __future__ import annotations

import pytest

from gateway.bridge.marketdata.request import (
    MarketDataRejected,
    MDInstrument,
    parse_market_data_request,
)
from gateway.config.model import SessionConfig, Symbology
from gateway.vocab.records import InboundMessage, SessionKey

S44 = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
S42 = SessionKey("FIX.4.2", "PLXTRA", "CLIENT1")
SESSION = SessionConfig(name="t", begin_string="FIX.4.4", sender_comp_id="PLXTRA", target_comp_id="CLIENT1")


def v(*fields: tuple[int, str], key: SessionKey = S44) -> InboundMessage:
    return InboundMessage(key, "V", 2, tuple(fields))


def base(req="r1", sub="1", depth="0", types=("0", "1"), syms=(("XS01", "XSX"),), extra=()):
    out = [(262, req), (263, sub), (264, depth), *extra, (267, str(len(types)))]
    out += [(269, t) for t in types]
    out.append((146, str(len(syms))))
    for sym, ex in syms:
        out.append((55, sym))
        if ex:
            out.append((207, ex))
    return out


def reject_of(fields, session=SESSION, key=S44) -> MarketDataRejected:
    with pytest.raises(MarketDataRejected) as info:
        parse_market_data_request(v(*fields, key=key), session)
    return info.value


def test_parses_multi_symbol_with_suffix_and_default_market() -> None:
    req = parse_market_data_request(
        v(*base(syms=(("XS01", "XSX"), ("XS02.XSX", None), ("XS03", None)), extra=((265, "1"), (266, "N")))),
        SESSION,
    )
    assert req.instruments == (
        MDInstrument("XS01", "XSX"),
        MDInstrument("XS02", "XSX"),
        MDInstrument("XS03", "XSX"),
    )
    assert (req.subscription_type, req.depth, req.update_type, req.aggregated) == ("1", 0, 1, False)
    assert req.entry_types == frozenset({"0", "1"}) and req.wants_book


def test_unsubscribe_needs_only_the_id() -> None:
    req = parse_market_data_request(v((262, "r1"), (263, "2"), (264, "0")), SESSION)
    assert req.subscription_type == "2"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (base(sub="7"), "4"),
        (base(depth="-1"), "5"),
        (base(depth="x"), "5"),
        (base(extra=((265, "3"),)), "6"),
        (base(extra=((266, "Q"),)), "7"),
        (base(types=("0", "3")), "8"),
        (base(types=("Z",)), "8"),
        (base(syms=(("XS01", "ASX"),)), "3"),
    ],
)
def test_rejects_with_reason(fields, reason: str) -> None:
    exc = reject_of(fields)
    assert exc.reason == reason and exc.req_id == "r1" and exc.text


def test_fix42_has_no_volume_or_open_interest_types() -> None:
    assert reject_of(base(types=("B",)), key=S42).reason == "8"
    session42 = SessionConfig(
        name="t", begin_string="FIX.4.2", sender_comp_id="PLXTRA", target_comp_id="CLIENT1"
    )
    req = parse_market_data_request(
        v(*base(types=("0", "1", "2", "4", "5", "7", "8", "9")), key=S42), session42
    )
    assert "9" in req.entry_types


def test_entitlements_from_session() -> None:
    no_md = SessionConfig(
        name="t", begin_string="FIX.4.4", sender_comp_id="P", target_comp_id="C", market_data=False
    )
    assert reject_of(base(), session=no_md).reason == "3"
    only_xs02 = SessionConfig(
        name="t", begin_string="FIX.4.4", sender_comp_id="P", target_comp_id="C", symbols=("XS02",)
    )
    assert reject_of(base(), session=only_xs02).reason == "3"
    no_default = SessionConfig(
        name="t",
        begin_string="FIX.4.4",
        sender_comp_id="P",
        target_comp_id="C",
        symbology=Symbology(default_market=None, allow_suffix=False),
    )
    assert reject_of(base(syms=(("XS01", None),)), session=no_default).reason == "0"
