"""Build market-data and reference-data FIX messages per version (35=W, X, Y, y, d, f, h). No I/O.

Field order follows the QuickFIX data dictionaries shipped with the engine (``FIX42.xml``,
``FIX44.xml``, ``FIX50SP2.xml``), because counterparties validate against the same files:

* FIX 4.2: W carries Symbol(55)/SecurityExchange(207) at the top and MDEntryPx(270) is required
  in every entry; X entries name their instrument with Symbol(55) (required on the first New of a
  message unless MDEntryRefID is used); no RptSeq, no MDEntryID in W; entry types A/B/C do not
  exist.
* FIX 4.4: the Instrument component in W and in every X entry; MDEntryID(278) exists in X only,
  so order-by-order snapshots carry the order's ID in OrderID(37) (and X repeats it in 37 beside
  278); RptSeq(83) is not part of 4.4's W/X in the dictionary, so it is not sent (a 4.4 client
  validating against the standard dictionary would reject the message).
* FIX 5.0SP2: as 4.4 plus MDEntryID(278) in W entries, RptSeq(83) in every entry, and the
  dictionary's required LastUpdateTime(779) on W.

Bodies are returned *without* MDReqID(262): it is the first body field of W and X in every
version, so one body is built per (instrument, request shape) and fanned out with each
subscriber's 262 in front (:func:`with_req_id`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.bridge.marketdata.request import MDInstrument
from gateway.bridge.marketdata.view import MDEntry
from gateway.vocab import tags
from gateway.vocab.records import Fields
from gateway.vocab.tags import (
    CFI_CODE,
    HIGH_PX,
    LAST_UPDATE_TIME,
    LOW_PX,
    SECURITY_DESC,
    SECURITY_RESPONSE_TYPE,
)
from gateway.vocab.times import utc_date_only, utc_time_only, utc_timestamp

__all__ = [
    "fmt_decimal",
    "incremental_body",
    "md_reject",
    "security_definition",
    "security_list_pages",
    "security_list_reject",
    "security_status",
    "snapshot_body",
    "trading_session_status",
    "trading_status_from_allows",
    "with_req_id",
]


def fmt_decimal(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros (FIX float fields forbid exponents)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _instrument(instrument: MDInstrument) -> tuple[tuple[int, str], ...]:
    return ((tags.SYMBOL, instrument.code), (tags.SECURITY_EXCHANGE, instrument.market))


def with_req_id(req_id: str, body: Fields) -> Fields:
    """Put one subscriber's MDReqID(262) in front of a shared body."""
    return ((tags.MD_REQ_ID, req_id), *body)


def _entry_fields(
    e: MDEntry, profile: str, incremental: bool, instrument: MDInstrument, rpt_seq: int | None
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if incremental:
        out.append((tags.MD_UPDATE_ACTION, e.action or "0"))
    out.append((tags.MD_ENTRY_TYPE, e.entry_type))
    if e.entry_id is not None and (incremental or profile == "5.0SP2"):
        out.append((tags.MD_ENTRY_ID, e.entry_id))
    if incremental:
        out.extend(_instrument(instrument))
    if e.price is not None:
        out.append((tags.MD_ENTRY_PX, fmt_decimal(e.price)))
    if e.size is not None and not (incremental and e.action == "2"):
        out.append((tags.MD_ENTRY_SIZE, fmt_decimal(e.size)))
    if e.when is not None:
        d, t = utc_date_only(e.when), utc_time_only(e.when)
        out.append((tags.MD_ENTRY_DATE, d))
        out.append((tags.MD_ENTRY_TIME, t))
    if e.order_id is not None:
        out.append((tags.ORDER_ID, e.order_id))
    if e.num_orders is not None and not (incremental and e.action == "2"):
        out.append((tags.NUMBER_OF_ORDERS, str(e.num_orders)))
    if e.position is not None:
        out.append((tags.MD_ENTRY_POSITION_NO, str(e.position)))
    if rpt_seq is not None and profile == "5.0SP2":
        out.append((tags.RPT_SEQ, str(rpt_seq)))
    return out


def snapshot_body(
    profile: str, instrument: MDInstrument, entries: Sequence[MDEntry], *, rpt_seq: int, now: datetime
) -> Fields:
    """MarketDataSnapshotFullRefresh(W) body after MDReqID.

    An empty book with no statistics is sent as NoMDEntries(268)=0, which FIX allows and
    QuickFIX accepts: the subscriber learns the book is empty.
    """
    out: list[tuple[int, str]] = list(_instrument(instrument))
    if profile == "5.0SP2":
        out.append((LAST_UPDATE_TIME, utc_timestamp(now)))
    out.append((tags.NO_MD_ENTRIES, str(len(entries))))
    for e in entries:
        out.extend(_entry_fields(e, profile, False, instrument, rpt_seq))
    return tuple(out)


def incremental_body(
    profile: str, instrument: MDInstrument, entries: Sequence[MDEntry], *, rpt_seq: int
) -> Fields:
    """MarketDataIncrementalRefresh(X) body after MDReqID; every entry names the instrument."""
    out: list[tuple[int, str]] = [(tags.NO_MD_ENTRIES, str(len(entries)))]
    for e in entries:
        out.extend(_entry_fields(e, profile, True, instrument, rpt_seq))
    return tuple(out)


def md_reject(req_id: str, reason: str | None, text: str) -> Fields:
    """MarketDataRequestReject(Y) body."""
    out: list[tuple[int, str]] = [(tags.MD_REQ_ID, req_id or "UNKNOWN")]
    if reason is not None:
        out.append((tags.MD_REQ_REJ_REASON, reason))
    out.append((tags.TEXT, text[:200]))
    return tuple(out)


# -- reference data ------------------------------------------------------------------------------


def _symbol_fields(detail: Mapping[str, Any]) -> list[tuple[int, str]]:
    out = [(tags.SYMBOL, str(detail.get("Code", "")))]
    if detail.get("CFI"):
        out.append((CFI_CODE, str(detail["CFI"])))
    out.append((tags.SECURITY_EXCHANGE, str(detail.get("Market", ""))))
    if detail.get("Name"):
        out.append((SECURITY_DESC, str(detail["Name"])))
    return out


def security_list_pages(
    req_id: str, response_id: str, details: Sequence[Mapping[str, Any]], *, page_size: int = 100
) -> list[Fields]:
    """SecurityList(y) bodies: one page per ``page_size`` symbols, TotNoRelatedSym(393) on each and
    LastFragment(893)=Y on the last. No symbol: one message with SecurityRequestResult(560)=2."""
    if not details:
        return [
            (
                (tags.SECURITY_REQ_ID, req_id),
                (tags.SECURITY_RESPONSE_ID, response_id),
                (tags.SECURITY_REQUEST_RESULT, "2"),
                (tags.TOT_NO_RELATED_SYM, "0"),
                (tags.LAST_FRAGMENT, "Y"),
            )
        ]
    pages: list[Fields] = []
    total = len(details)
    for start in range(0, total, page_size):
        chunk = details[start : start + page_size]
        last = start + page_size >= total
        out: list[tuple[int, str]] = [
            (tags.SECURITY_REQ_ID, req_id),
            (tags.SECURITY_RESPONSE_ID, f"{response_id}-{start // page_size + 1}"),
            (tags.SECURITY_REQUEST_RESULT, "0"),
            (tags.TOT_NO_RELATED_SYM, str(total)),
            (tags.LAST_FRAGMENT, "Y" if last else "N"),
            (tags.NO_RELATED_SYM, str(len(chunk))),
        ]
        for detail in chunk:
            out.extend(_symbol_fields(detail))
            currency = detail.get("Currency")
            if currency:
                out.append((tags.CURRENCY, str(currency)))
        pages.append(tuple(out))
    return pages


def security_list_reject(req_id: str, response_id: str, result: str, text: str) -> Fields:
    """SecurityList(y) refusing the request (560 = 1 invalid, 3 not authorised, 4 unavailable)."""
    return (
        (tags.SECURITY_REQ_ID, req_id),
        (tags.SECURITY_RESPONSE_ID, response_id),
        (tags.SECURITY_REQUEST_RESULT, result),
        (tags.TEXT, text[:200]),
    )


def security_definition(
    profile: str,
    req_id: str,
    response_id: str,
    security: Mapping[str, Any] | None,
    instrument: MDInstrument | None,
    text: str | None = None,
) -> Fields:
    """SecurityDefinition(d): 323=1 (accept as is) with the security, or 6 (cannot match)."""
    out: list[tuple[int, str]] = [
        (tags.SECURITY_REQ_ID, req_id),
        (tags.SECURITY_RESPONSE_ID, response_id),
        (SECURITY_RESPONSE_TYPE, "1" if security else "6"),
    ]
    if profile == "4.2":
        out.append((tags.TOT_NO_RELATED_SYM, "1" if security else "0"))  # TotalNumSecurities, required in 4.2
    if security is not None:
        detail = dict(security)
        detail.setdefault("Code", instrument.code if instrument else "")
        detail.setdefault("Market", instrument.market if instrument else "")
        if profile == "4.2":
            detail.pop("CFI", None)  # CFICode(461) is not in 4.2
        out.extend(_symbol_fields(detail))
        if security.get("Currency"):
            out.append((tags.CURRENCY, str(security["Currency"])))
    elif instrument is not None:
        out.extend(_instrument(instrument))
    if text:
        out.append((tags.TEXT, text[:200]))
    return tuple(out)


def trading_status_from_allows(profile: str, state: Mapping[str, Any] | None) -> str:
    """SecurityTradingStatus(326) from a Zenith trading state (§4.2 ``Name``/``Reason``/``Allows``).

    Matching allowed -> 17 ready to trade; suspended or halted -> 2 trading halt; orders allowed
    but no matching -> 21 pre-open (4.2 has no such value: 1 opening delay); nothing allowed
    -> 18 not available for trading; unknown -> 20.
    """
    if state is None:
        return "20"
    allows = {a.strip() for a in str(state.get("Allows") or "").split(",") if a.strip()}
    reason = str(state.get("Reason") or "")
    name = str(state.get("Name") or "")
    if "All" in allows or "Match" in allows:
        return "17"
    if reason in ("Suspend", "TradingHalt") or name in ("Suspended", "Halted"):
        return "2"
    if allows & {"OrdersOnly", "OrderPlace", "OrderAmend", "OrderMove"}:
        return "1" if profile == "4.2" else "21"
    if not allows or allows == {"None"}:
        return "18"
    return "20"


def security_status(
    profile: str,
    req_id: str | None,
    instrument: MDInstrument,
    status: str,
    security: Mapping[str, Any],
    now: datetime,
    *,
    unsolicited: bool,
) -> Fields:
    """SecurityStatus(f) body."""
    out: list[tuple[int, str]] = []
    if req_id:
        out.append((tags.SECURITY_STATUS_REQ_ID, req_id))
    out.extend(_instrument(instrument))
    if security.get("Currency"):
        out.append((tags.CURRENCY, str(security["Currency"])))
    out.append((tags.UNSOLICITED_INDICATOR, "Y" if unsolicited else "N"))
    out.append((tags.SECURITY_TRADING_STATUS, status))
    for tag, name in ((HIGH_PX, "High"), (LOW_PX, "Low"), (tags.LAST_PX, "Last")):
        value = security.get(name)
        if value is not None:
            out.append((tag, fmt_decimal(Decimal(str(value)))))
    out.append((tags.TRANSACT_TIME, utc_timestamp(now)))
    return tuple(out)


_SESSION_STATUS = {
    "Open": "2",
    "PreOpen": "4",
    "Closed": "3",
    "Suspended": "1",
    "Halted": "1",
    "PreClose": "5",
}


def trading_session_status(
    profile: str,
    req_id: str | None,
    trading_session_id: str,
    market_status: str | None,
    *,
    unsolicited: bool,
    text: str | None = None,
) -> Fields:
    """TradingSessionStatus(h) from a Zenith Markets ``Status`` (§4.1): Open 2, PreOpen 4,
    Closed 3, Suspended/Halted 1; anything else 0 unknown (4.2 has no 0: 3 closed)."""
    status = _SESSION_STATUS.get(market_status or "", "3" if profile == "4.2" else "0")
    out: list[tuple[int, str]] = []
    if req_id:
        out.append((tags.TRAD_SES_REQ_ID, req_id))
    if profile == "5.0SP2":
        # 5.0SP2 enumerates TradingSessionID(336): the market goes in MarketID(1301) and 336 names
        # the one session Zenith markets have, 1 (Day); "XSX" in 336 fails strict validation.
        out += [(tags.MARKET_ID, trading_session_id), (tags.TRADING_SESSION_ID, "1")]
    else:
        out.append((tags.TRADING_SESSION_ID, trading_session_id))
    out.append((tags.UNSOLICITED_INDICATOR, "Y" if unsolicited else "N"))
    out.append((tags.TRAD_SES_STATUS, status))
    if text:
        out.append((tags.TEXT, text[:200]))
    return tuple(out)


def merge_pairs(parts: Iterable[Iterable[tuple[int, str]]]) -> Fields:
    return tuple(p for part in parts for p in part)
