"""Every tag constant and enum value in fixtags exists in the QuickFIX dictionaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from enum import StrEnum

import pytest

from gateway.config.dictionaries import locate_dictionaries
from gateway.vocab import tags as fixtags

DICT_DIR = locate_dictionaries().directory
FILES = ["FIX42.xml", "FIX44.xml", "FIX50SP2.xml", "FIXT11.xml"]


def _fields() -> dict[int, tuple[set[str], set[str]]]:
    out: dict[int, tuple[set[str], set[str]]] = {}
    for name in FILES:
        root = ET.parse(DICT_DIR / name).getroot()
        for f in root.find("fields") or ():
            names, values = out.setdefault(int(f.get("number", "0")), (set(), set()))
            names.add(f.get("name", ""))
            values.update(v.get("enum", "") for v in f.findall("value"))
    return out


FIELDS = _fields()
ALIASES = {"LAST_QTY": "LastShares", "SECURITY_ID_SOURCE": "IDSource", "HALT_REASON": "HaltReasonChar"}

ENUM_TAGS: dict[type[StrEnum], int] = {
    fixtags.Side: fixtags.SIDE,
    fixtags.OrdType: fixtags.ORD_TYPE,
    fixtags.TimeInForce: fixtags.TIME_IN_FORCE,
    fixtags.OrdStatus: fixtags.ORD_STATUS,
    fixtags.ExecType: fixtags.EXEC_TYPE,
    fixtags.ExecTransType: fixtags.EXEC_TRANS_TYPE,
    fixtags.OrdRejReason: fixtags.ORD_REJ_REASON,
    fixtags.CxlRejReason: fixtags.CXL_REJ_REASON,
    fixtags.CxlRejResponseTo: fixtags.CXL_REJ_RESPONSE_TO,
    fixtags.MassCancelRequestType: fixtags.MASS_CANCEL_REQUEST_TYPE,
    fixtags.MassCancelResponse: fixtags.MASS_CANCEL_RESPONSE,
    fixtags.MassStatusReqType: fixtags.MASS_STATUS_REQ_TYPE,
    fixtags.MDEntryType: fixtags.MD_ENTRY_TYPE,
    fixtags.MDUpdateAction: fixtags.MD_UPDATE_ACTION,
    fixtags.SubscriptionRequestType: fixtags.SUBSCRIPTION_REQUEST_TYPE,
    fixtags.MDReqRejReason: fixtags.MD_REQ_REJ_REASON,
    fixtags.SecurityTradingStatus: fixtags.SECURITY_TRADING_STATUS,
    fixtags.TradSesStatus: fixtags.TRAD_SES_STATUS,
    fixtags.BusinessRejectReason: fixtags.BUSINESS_REJECT_REASON,
}


def _norm(name: str) -> str:
    return name.replace("_", "").upper()


@pytest.mark.parametrize(("const", "tag"), sorted(fixtags.TAG_NAMES.items(), key=lambda kv: kv[1]))
def test_tag_number_matches_dictionary_name(const: int, tag: str) -> None:
    number, name = const, tag
    assert number in FIELDS, f"{name}={number} is in no dictionary"
    names = {_norm(n) for n in FIELDS[number][0]}
    wanted = {_norm(name), _norm(ALIASES.get(name, name))}
    assert names & wanted, f"{name}={number}: dictionaries call it {FIELDS[number][0]}"


@pytest.mark.parametrize("enum", list(ENUM_TAGS), ids=lambda e: e.__name__)
def test_enum_values_exist_in_dictionary(enum: type[StrEnum]) -> None:
    values = FIELDS[ENUM_TAGS[enum]][1]
    missing = [m.name for m in enum if m.value not in values]
    assert not missing, f"{enum.__name__}: {missing} not in any dictionary"


def test_business_reject_reasons() -> None:
    values = FIELDS[fixtags.BUSINESS_REJECT_REASON][1]
    assert {m.value for m in fixtags.BusinessRejectReason} <= values


def test_msg_types_exist() -> None:
    known: set[str] = set()
    for name in FILES:
        root = ET.parse(DICT_DIR / name).getroot()
        known.update(m.get("msgtype", "") for m in root.find("messages") or ())
    assert {m.value for m in fixtags.MsgType} <= known


def test_enums_render_as_wire_values() -> None:
    assert str(fixtags.Side.SELL_SHORT) == "5" and f"{fixtags.ExecType.TRADE}" == "F"
