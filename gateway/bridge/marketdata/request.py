"""Parse and validate market-data and reference-data requests (35=V, x, c, e, g). No I/O.

Each ``parse_*`` takes the :class:`InboundMessage` and the session's :class:`SessionConfig` and
returns a frozen record, or raises :class:`MarketDataRejected` carrying the FIX answer
(MarketDataRequestReject 35=Y with MDReqRejReason 281 and Text 58). Checks that need state
(duplicate MDReqID) or Zenith (unknown symbol) are made by the caller, which raises the same
error with reasons ``1`` and ``0``.

Instruments (ARCHITECTURE §7): Symbol(55) ``XS01`` with SecurityExchange(207) ``XSX``; ``XS01.XSX``
in 55 alone when the session's symbology allows suffixes; 207 omitted means the session's
default market.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.model import SessionConfig
from gateway.errors import GatewayError
from gateway.vocab import tags
from gateway.vocab.records import InboundMessage
from gateway.vocab.tags import MARKET_DEPTH, MD_UPDATE_TYPE, SECURITY_REQUEST_TYPE

__all__ = [
    "MDInstrument",
    "MarketDataRejected",
    "MarketDataRequest",
    "SecurityDefinitionRequest",
    "SecurityListRequest",
    "SecurityStatusRequest",
    "TradingSessionStatusRequest",
    "check_entitled",
    "fix_profile",
    "parse_instrument",
    "parse_market_data_request",
    "parse_security_definition_request",
    "parse_security_list_request",
    "parse_security_status_request",
    "parse_trading_session_status_request",
]

# MDReqRejReason (281) values (FIX 4.2 / 4.4 / 5.0SP2 dictionaries).
UNKNOWN_SYMBOL = "0"
DUPLICATE_MD_REQ_ID = "1"
INSUFFICIENT_PERMISSIONS = "3"
UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = "4"
UNSUPPORTED_MARKET_DEPTH = "5"
UNSUPPORTED_MD_UPDATE_TYPE = "6"
UNSUPPORTED_AGGREGATED_BOOK = "7"
UNSUPPORTED_MD_ENTRY_TYPE = "8"

# MDEntryType values we can serve, per FIX version: A (imbalance), B (volume) and C (open interest)
# exist from FIX 4.3 on; 3 (index value) has no Zenith source for an ordinary security.
_ENTRY_TYPES_42 = frozenset("012456789")
_ENTRY_TYPES_44 = _ENTRY_TYPES_42 | frozenset("ABC")


class MarketDataRejected(GatewayError):
    """A request answered with a reject: 35=Y for V (``reason`` = MDReqRejReason), or the
    reference-data message's own negative answer for x/c/e/g (the service picks it)."""

    def __init__(self, reason: str | None, text: str, *, req_id: str = "") -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text
        self.req_id = req_id


def fix_profile(begin_string: str, default_appl_ver_id: str | None = None) -> str:
    """Message-layout family: ``"4.2"``, ``"4.4"`` or ``"5.0SP2"`` (FIXT.1.1 sessions)."""
    if begin_string == "FIX.4.2":
        return "4.2"
    if begin_string.startswith("FIXT"):
        return "5.0SP2"
    return "4.4"


@dataclass(frozen=True, slots=True)
class MDInstrument:
    """A Zenith symbol: ``Code`` on ``Market`` (topic argument ``Code.Market``, §3.6)."""

    code: str
    market: str

    @property
    def key(self) -> str:
        return f"{self.code}.{self.market}"


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    md_req_id: str
    subscription_type: str  # 263: "0" snapshot, "1" snapshot+updates, "2" unsubscribe
    depth: int = 0  # 264: 0 full book, 1 top, N levels
    update_type: int = 1  # 265: 0 full refresh, 1 incremental
    aggregated: bool = True  # 266: Y -> Zenith Levels, N -> Zenith Depth (order by order)
    entry_types: frozenset[str] = frozenset()
    instruments: tuple[MDInstrument, ...] = ()

    @property
    def wants_book(self) -> bool:
        return "0" in self.entry_types or "1" in self.entry_types


def parse_instrument(symbol: str | None, exchange: str | None, session: SessionConfig) -> MDInstrument:
    """FIX Symbol/SecurityExchange -> Zenith code and market; raises reason 0 when unusable."""
    if not symbol:
        raise MarketDataRejected(UNKNOWN_SYMBOL, "Symbol(55) missing")
    code, market = symbol, exchange or None
    if session.symbology.allow_suffix and "." in symbol:
        head, _, tail = symbol.rpartition(".")  # §3.6: split at the last '.'
        if head and tail and (market is None or market == tail):
            code, market = head, tail
    if market is None:
        market = session.symbology.default_market
    if not market:
        raise MarketDataRejected(UNKNOWN_SYMBOL, f"no market for Symbol {symbol}: send SecurityExchange(207)")
    return MDInstrument(code, market)


def check_entitled(instrument: MDInstrument, session: SessionConfig) -> None:
    """Raise reason 3 unless the session may see ``instrument`` (markets, symbols lists)."""
    if instrument.market not in session.markets:
        raise MarketDataRejected(
            INSUFFICIENT_PERMISSIONS, f"market {instrument.market} not permitted for this session"
        )
    if session.symbols and instrument.code not in session.symbols and instrument.key not in session.symbols:
        raise MarketDataRejected(
            INSUFFICIENT_PERMISSIONS, f"symbol {instrument.key} not permitted for this session"
        )


def _instruments(fields: tuple[tuple[int, str], ...]) -> list[tuple[str, str | None]]:
    """(Symbol, SecurityExchange) of each NoRelatedSym(146) entry, in order."""
    out: list[tuple[str, str | None]] = []
    in_group = False
    for tag, value in fields:
        if tag == tags.NO_RELATED_SYM:
            in_group = True
        elif in_group and tag == tags.SYMBOL:
            out.append((value, None))
        elif in_group and tag == tags.SECURITY_EXCHANGE and out:
            out[-1] = (out[-1][0], value)
    return out


def _int_field(msg: InboundMessage, tag: int, reason: str, default: int | None = None) -> int:
    raw = msg.get(tag)
    if raw is None:
        if default is None:
            raise MarketDataRejected(reason, f"tag {tag} missing")
        return default
    try:
        return int(raw)
    except ValueError:
        raise MarketDataRejected(reason, f"tag {tag} must be an integer, got {raw!r}") from None


def parse_market_data_request(msg: InboundMessage, session: SessionConfig) -> MarketDataRequest:
    """Validate a MarketDataRequest(V) against the FIX version and the session's entitlements."""
    md_req_id = msg.get(tags.MD_REQ_ID) or ""
    try:
        return _parse_v(msg, session, md_req_id)
    except MarketDataRejected as exc:
        exc.req_id = md_req_id
        raise


def _parse_v(msg: InboundMessage, session: SessionConfig, md_req_id: str) -> MarketDataRequest:
    if not md_req_id:
        raise MarketDataRejected(None, "MDReqID(262) missing")
    sub_type = msg.get(tags.SUBSCRIPTION_REQUEST_TYPE) or ""
    if sub_type not in ("0", "1", "2"):
        raise MarketDataRejected(
            UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE, f"SubscriptionRequestType {sub_type!r} not supported"
        )
    if sub_type == "2":
        return MarketDataRequest(md_req_id, sub_type)
    if not session.market_data:
        raise MarketDataRejected(INSUFFICIENT_PERMISSIONS, "market data not permitted for this session")
    depth = _int_field(msg, MARKET_DEPTH, UNSUPPORTED_MARKET_DEPTH, default=0)
    if depth < 0:
        raise MarketDataRejected(UNSUPPORTED_MARKET_DEPTH, f"MarketDepth {depth} not supported")
    update_type = _int_field(msg, MD_UPDATE_TYPE, UNSUPPORTED_MD_UPDATE_TYPE, default=1)
    if update_type not in (0, 1):
        raise MarketDataRejected(UNSUPPORTED_MD_UPDATE_TYPE, f"MDUpdateType {update_type} not supported")
    agg_raw = msg.get(tags.AGGREGATED_BOOK)
    if agg_raw not in (None, "Y", "N"):
        raise MarketDataRejected(UNSUPPORTED_AGGREGATED_BOOK, f"AggregatedBook {agg_raw!r} not supported")
    aggregated = agg_raw != "N"
    allowed = _ENTRY_TYPES_42 if fix_profile(msg.session.begin_string) == "4.2" else _ENTRY_TYPES_44
    entry_types = msg.get_all(tags.MD_ENTRY_TYPE)
    if not entry_types:
        raise MarketDataRejected(UNSUPPORTED_MD_ENTRY_TYPE, "no MDEntryType(269) requested")
    for entry_type in entry_types:
        if entry_type not in allowed:
            raise MarketDataRejected(UNSUPPORTED_MD_ENTRY_TYPE, f"MDEntryType {entry_type!r} not supported")
    pairs = _instruments(msg.fields)
    if not pairs:
        raise MarketDataRejected(UNKNOWN_SYMBOL, "no instrument in NoRelatedSym(146)")
    instruments: list[MDInstrument] = []
    for symbol, exchange in pairs:
        instrument = parse_instrument(symbol, exchange, session)
        check_entitled(instrument, session)
        if instrument not in instruments:
            instruments.append(instrument)
    return MarketDataRequest(
        md_req_id, sub_type, depth, update_type, aggregated, frozenset(entry_types), tuple(instruments)
    )


# -- reference data ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecurityListRequest:
    req_id: str  # SecurityReqID 320
    request_type: str  # SecurityListRequestType 559: 0 symbol, 4 all securities
    symbol: str | None = None  # 55 (prefix search for type 0), may carry a .MARKET suffix
    market: str | None = None  # 207


@dataclass(frozen=True, slots=True)
class SecurityDefinitionRequest:
    req_id: str  # 320
    request_type: str  # SecurityRequestType 321
    instrument: MDInstrument | None


@dataclass(frozen=True, slots=True)
class SecurityStatusRequest:
    req_id: str  # SecurityStatusReqID 324
    subscription_type: str  # 263
    instrument: MDInstrument


@dataclass(frozen=True, slots=True)
class TradingSessionStatusRequest:
    req_id: str  # TradSesReqID 335
    subscription_type: str  # 263
    trading_session_id: str | None  # the market code (e.g. XSX): 336 before 5.0, MarketID 1301 in 5.0SP2


def parse_security_list_request(msg: InboundMessage, session: SessionConfig) -> SecurityListRequest:
    req_id = msg.get(tags.SECURITY_REQ_ID) or ""
    request_type = msg.get(tags.SECURITY_LIST_REQUEST_TYPE) or "4"
    if request_type not in ("0", "4"):
        raise MarketDataRejected("1", f"SecurityListRequestType {request_type} not supported", req_id=req_id)
    if not session.market_data:
        raise MarketDataRejected("3", "market data not permitted for this session", req_id=req_id)
    market = msg.get(tags.SECURITY_EXCHANGE)
    if market is not None and market not in session.markets:
        raise MarketDataRejected("3", f"market {market} not permitted for this session", req_id=req_id)
    return SecurityListRequest(req_id, request_type, msg.get(tags.SYMBOL), market)


def parse_security_definition_request(
    msg: InboundMessage,
    session: SessionConfig,
) -> SecurityDefinitionRequest:
    req_id = msg.get(tags.SECURITY_REQ_ID) or ""
    instrument = None
    if msg.get(tags.SYMBOL):
        try:
            instrument = parse_instrument(msg.get(tags.SYMBOL), msg.get(tags.SECURITY_EXCHANGE), session)
            check_entitled(instrument, session)
        except MarketDataRejected as exc:
            exc.req_id = req_id
            raise
    return SecurityDefinitionRequest(req_id, msg.get(SECURITY_REQUEST_TYPE) or "0", instrument)


def parse_security_status_request(msg: InboundMessage, session: SessionConfig) -> SecurityStatusRequest:
    req_id = msg.get(tags.SECURITY_STATUS_REQ_ID) or ""
    try:
        instrument = parse_instrument(msg.get(tags.SYMBOL), msg.get(tags.SECURITY_EXCHANGE), session)
        check_entitled(instrument, session)
    except MarketDataRejected as exc:
        exc.req_id = req_id
        raise
    return SecurityStatusRequest(req_id, msg.get(tags.SUBSCRIPTION_REQUEST_TYPE) or "0", instrument)


def parse_trading_session_status_request(
    msg: InboundMessage,
    session: SessionConfig,
) -> TradingSessionStatusRequest:
    if fix_profile(msg.session.begin_string) == "5.0SP2":
        # 5.0SP2 enumerates TradingSessionID(336) (1 = Day ...): the market is MarketID(1301), or
        # SecurityExchange(207), and 336 only says which session of it (we have one: the day).
        market = msg.get(tags.MARKET_ID) or msg.get(tags.SECURITY_EXCHANGE)
    else:
        market = msg.get(tags.TRADING_SESSION_ID)
    return TradingSessionStatusRequest(
        msg.get(tags.TRAD_SES_REQ_ID) or "",
        msg.get(tags.SUBSCRIPTION_REQUEST_TYPE) or "0",
        market,
    )
