"""Market controller handlers (spec §4): markets, symbols, security, depth, levels, trades."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D
from typing import TYPE_CHECKING, Any

from gateway.sim.dispatch import ActionError, action, subscription
from gateway.sim.engine import SymbolState
from gateway.sim.wire import (
    DataError,
    fmt_date,
    fmt_datetime,
    opt_bool,
    opt_int,
    opt_str,
    parse_datetime,
    parse_timespan,
)

if TYPE_CHECKING:
    from gateway.sim.server import SimServer
    from gateway.sim.session import Session

__all__: list[str] = []

MARKET = "Zenith/Market"

TRADING_STATES = [
    {"Name": "PreOpen", "Reason": "Normal", "Allows": "OrdersOnly,ReportCancel"},
    {"Name": "Open", "Reason": "Normal", "Allows": "All"},
    {"Name": "Closed", "Reason": "Normal", "Allows": "None"},
    {"Name": "Suspended", "Reason": "Suspend", "Allows": "OrderCancel,ReportCancel"},
    {"Name": "Halted", "Reason": "TradingHalt", "Allows": "OrderCancel"},
]


def _market_matches(srv: SimServer, market: str) -> bool:
    """Exact market code, or a wildcard form of it (spec §3.8): ``XSX``, ``XSX[]``, ``XSX:``, ``XSX:[]``."""
    code = srv.cfg.market.code
    base = market.split("[", 1)[0].rstrip(":")
    tag = market[market.index("[") + 1 : -1] if "[" in market and market.endswith("]") else ""
    return base == code and tag == ""


def _check_market(srv: SimServer, market: str | None) -> None:
    if market is None:
        raise ActionError("Market")
    if not _market_matches(srv, market):
        raise ActionError(f"Market.NotFound {market}")


def _symbol_from_topic(srv: SimServer, arg: str | None) -> SymbolState:
    if not arg or "." not in arg:
        raise ActionError(f"Symbol {arg or ''}".strip())
    code, _, market = arg.rpartition(".")
    if market != srv.cfg.market.code:
        raise ActionError(f"Market.NotFound {market}")
    sym = srv.engine.symbols.get(code)
    if sym is None:
        raise ActionError(f"Symbol.NotFound {arg}")
    return sym


def _symbol_from_data(srv: SimServer, data: Any) -> SymbolState:
    if not isinstance(data, dict):
        raise DataError("Data")
    market = opt_str(data, "Market")
    code = opt_str(data, "Code")
    if code is None:
        raise ActionError("Code")
    _check_market(srv, market)
    sym = srv.engine.symbols.get(code)
    if sym is None:
        raise ActionError(f"Symbol.NotFound {code}.{market}")
    return sym


def market_state(srv: SimServer) -> dict[str, Any]:
    m = srv.cfg.market
    now = srv.now()
    return {
        "Code": m.code,
        "Feed": "Active",
        "TradingDate": fmt_date(now.date()),
        "MarketTime": fmt_datetime(now),
        "Status": srv.engine.status,
        "States": [{"Name": m.trading_market, "Status": srv.engine.status}],
    }


def symbol_detail(srv: SimServer, sym: SymbolState, full: bool) -> dict[str, Any]:
    c = sym.cfg
    d: dict[str, Any] = {
        "Market": srv.cfg.market.code,
        "Code": c.code,
        "Name": c.name,
        "Class": "Market",
        "SubscriptionData": "All",
        "TradingMarkets": [srv.cfg.market.trading_market],
    }
    if full:
        d.update({"CFI": c.cfi, "DepthDirection": "BidBelowAsk", "IsIndex": False, "LotSize": c.lot_size})
    return d


# ------------------------------------------------------------------------------------ markets


@subscription("Market", "Markets", takes_argument=False)
def sub_markets(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return [market_state(srv)]


@action("Market", "QueryMarkets")
def query_markets(srv: SimServer, sess: Session, data: Any) -> Any:
    return [market_state(srv)]


@action("Market", "QueryTradingStates", needs_data=True)
def query_trading_states(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    _check_market(srv, opt_str(data, "Market"))
    return TRADING_STATES


@action("Market", "QueryBrokers", needs_data=True)
def query_brokers(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    _check_market(srv, opt_str(data, "Market"))
    return []


@action("Market", "QueryTickTables", needs_data=True)
def query_tick_tables(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    _check_market(srv, opt_str(data, "Market"))
    return [
        {"Code": code, "Steps": [{"Low": s.low, "High": s.high, "Size": s.size} for s in steps]}
        for code, steps in srv.cfg.market.tick_tables.items()
    ]


@action("Market", "QueryMixedMarket", needs_data=True)
def query_mixed_market(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get("Markets"), list):
        raise DataError("Markets")
    valid = [m for m in data["Markets"] if isinstance(m, str) and _market_matches(srv, m)]
    return valid[0] if valid else None


# ------------------------------------------------------------------------------------ symbols


def _text_match(value: str, text: str, match: set[str], case: bool) -> bool:
    if not case:
        value, text = value.lower(), text.lower()
    if "Exact" in match or {"FromStart", "FromEnd"} <= match:
        return value == text
    if "FromStart" in match:
        return value.startswith(text)
    if "FromEnd" in match:
        return value.endswith(text)
    return text in value


def _market_filter(srv: SimServer, data: dict[str, Any]) -> bool:
    market = opt_str(data, "Market")
    markets = data.get("Markets")
    if market is not None and not _market_matches(srv, market):
        return False
    if markets is not None:
        if not isinstance(markets, list) or not all(isinstance(m, str) for m in markets):
            raise DataError("Markets")
        bad = [m for m in markets if m != srv.cfg.market.code]
        if bad:
            raise ActionError(f"Market.NotFound {bad[0]}")
    exchange = opt_str(data, "Exchange")
    return exchange is None or exchange == srv.cfg.market.code


def _page(srv: SimServer, syms: list[SymbolState], data: dict[str, Any], full: bool) -> list[dict[str, Any]]:
    syms.sort(key=lambda s: s.cfg.code)
    start = opt_int(data, "StartIndex") or 0
    count = opt_int(data, "Count")
    count = 1000 if count is None else min(count, 1000)
    return [symbol_detail(srv, s, full) for s in syms[start : start + count]]


@action("Market", "QuerySymbols", scope=MARKET, needs_data=True)
def query_symbols(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    text = opt_str(data, "SearchText") or ""
    fields = (opt_str(data, "Field") or "Code").split("+")
    partial = opt_bool(data, "IsPartial", True)
    case = opt_bool(data, "IsCaseSensitive", False)
    full = opt_bool(data, "ShowFull", False)
    cfi = opt_str(data, "CFI")
    if not _market_filter(srv, data):
        return []
    match = set() if partial else {"Exact"}
    found = [
        s
        for s in srv.engine.symbols.values()
        if any(
            _text_match(getattr(s.cfg, "code" if f == "Code" else "name", ""), text, match, case)
            for f in fields
            if f in ("Code", "Name")
        )
        and (cfi is None or _cfi_match(s.cfg.cfi, cfi))
    ]
    if opt_bool(data, "PreferExact", False):
        exact = [s for s in found if s.cfg.code == text]
        found = exact[:1] or found
    return _page(srv, found, data, full)


def _cfi_match(cfi: str, mask: str) -> bool:
    return all(m in (" ", "_") or m == c for m, c in zip(mask, cfi, strict=False))


@action("Market", "SearchSymbols", scope=MARKET)
def search_symbols(srv: SimServer, sess: Session, data: Any) -> Any:
    data = data if data is not None else {}
    if not isinstance(data, dict):
        raise DataError("Data")
    full = opt_bool(data, "FullSymbol", True)
    cls = opt_str(data, "Class")
    cfi = opt_str(data, "CFI")
    index = data.get("Index")
    if not _market_filter(srv, data):
        return []
    conditions = data.get("Conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        raise DataError("Conditions")
    parsed = []
    for c in conditions:
        text = c.get("Text")
        if not isinstance(text, str):
            raise DataError("Conditions.Text")
        fields = [f.strip() for f in (opt_str(c, "Field") or "Code,Name").split(",") if f.strip()]
        match = {m.strip() for m in (opt_str(c, "Match") or "").split(",") if m.strip()}
        parsed.append((opt_str(c, "Group"), fields, text, match, opt_bool(c, "IsCaseSensitive", False)))

    def ok(s: SymbolState) -> bool:
        if cls is not None and cls not in ("Market", "Equity"):
            return False
        if cfi is not None and not _cfi_match(s.cfg.cfi, cfi):
            return False
        if index is True:
            return False
        groups: dict[str, bool] = {}
        for group, fields, text, match, case in parsed:
            hit = any(
                _text_match(s.cfg.code if f == "Code" else s.cfg.name, text, match, case)
                for f in fields
                if f in ("Code", "Name")
            )
            if group is None:
                if not hit:
                    return False
            else:
                groups[group] = groups.get(group, False) or hit
        return all(groups.values())

    found = [s for s in srv.engine.symbols.values() if ok(s)]
    return _page(srv, found, data, full)


@subscription("Market", "Symbols", scope=MARKET)
def sub_symbols(srv: SimServer, sess: Session, arg: str | None) -> Any:
    cls, _, market = (arg or "").rpartition(".")
    if not _market_matches(srv, market):
        raise ActionError(f"Market.NotFound {market}")
    if cls not in ("Market", "ManagedFund", "Equity"):
        raise ActionError("Operation.Unknown")
    syms = sorted(srv.engine.symbols.values(), key=lambda s: s.cfg.code) if cls != "ManagedFund" else []
    return [{"O": "C"}] + [{"O": "A", "Symbol": symbol_detail(srv, s, True)} for s in syms]


# ------------------------------------------------------------------------------------ security


@subscription("Market", "Security", scope=MARKET)
def sub_security(srv: SimServer, sess: Session, arg: str | None) -> Any:
    sym = _symbol_from_topic(srv, arg)
    code = sym.cfg.code
    srv.security_published[code] = srv.engine.security_dynamic(code)
    return srv.engine.security_json(code)


@action("Market", "QuerySecurity", scope=MARKET, needs_data=True)
def query_security(srv: SimServer, sess: Session, data: Any) -> Any:
    return srv.engine.security_json(_symbol_from_data(srv, data).cfg.code)


# ------------------------------------------------------------------------------------ depth and levels


@subscription("Market", "Depth", scope=MARKET)
def sub_depth(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return _symbol_from_topic(srv, arg).book.depth_snapshot()


@action("Market", "QueryDepthFull", scope=MARKET, needs_data=True)
def query_depth_full(srv: SimServer, sess: Session, data: Any) -> Any:
    return _symbol_from_data(srv, data).book.depth_snapshot()


@subscription("Market", "Levels", scope=MARKET)
def sub_levels(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return _symbol_from_topic(srv, arg).book.levels_snapshot()


@action("Market", "QueryDepthLevels", scope=MARKET, needs_data=True)
def query_depth_levels(srv: SimServer, sess: Session, data: Any) -> Any:
    return _symbol_from_data(srv, data).book.levels_snapshot()


# ------------------------------------------------------------------------------------ trades


@subscription("Market", "Trades", scope=MARKET)
def sub_trades(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return [{"O": "I", "ID": _symbol_from_topic(srv, arg).last_trade_id}]


@action("Market", "QueryTrades", scope=MARKET, needs_data=True)
def query_trades(srv: SimServer, sess: Session, data: Any) -> Any:
    sym = _symbol_from_data(srv, data)
    count = opt_int(data, "Count")
    first = opt_int(data, "FirstTradeID")
    last = opt_int(data, "LastTradeID")
    trades = sym.trades
    if first is not None:
        trades = [t for t in trades if t["ID"] >= first]
    if last is not None:
        trades = [t for t in trades if t["ID"] <= last]
    if count is not None:
        # From alone or From+Last: the oldest Count; otherwise the newest Count (spec §4.14)
        trades = trades[:count] if first is not None else trades[max(0, len(trades) - count) :]
    return [{"O": "A", "Trade": t} for t in trades]


@action("Market", "QueryChartHistory", scope=MARKET, needs_data=True)
def query_chart_history(srv: SimServer, sess: Session, data: Any) -> Any:
    """Bars built from today's trades (spec §4.15): ascending by Date, empty periods omitted."""
    sym = _symbol_from_data(srv, data)
    period = parse_timespan(data["Period"]) if data.get("Period") is not None else 86400.0
    if period <= 0:
        raise DataError("Period")
    start = parse_datetime(data["FromDate"], srv.tz) if data.get("FromDate") is not None else None
    end = parse_datetime(data["ToDate"], srv.tz) if data.get("ToDate") is not None else None
    count = opt_int(data, "Count")
    bars: dict[datetime, dict[str, Any]] = {}
    for t in sym.trades:
        when = parse_datetime(t["Time"], srv.tz)
        if period >= 86400:
            key = datetime(when.year, when.month, when.day, tzinfo=when.tzinfo)
        else:
            midnight = datetime(when.year, when.month, when.day, tzinfo=when.tzinfo)
            offset = int((when - midnight).total_seconds() // period * period)
            key = midnight + timedelta(seconds=offset)
        if (start is not None and key < start) or (end is not None and key > end):
            continue
        price, qty = D(str(t["Price"])), D(str(t["Quantity"]))
        bar = bars.get(key)
        if bar is None:
            bars[key] = {
                "Open": price,
                "High": price,
                "Low": price,
                "Close": price,
                "Volume": qty,
                "Trades": 1,
            }
        else:
            bar["High"] = max(bar["High"], price)
            bar["Low"] = min(bar["Low"], price)
            bar["Close"] = price
            bar["Volume"] += qty
            bar["Trades"] += 1
    keys = sorted(bars)
    if count is not None:
        keys = keys[:count] if start is not None and end is None else keys[max(0, len(keys) - count) :]
    out = []
    for key in keys:
        date_text = (
            f"{key.date().isoformat()}{key.isoformat()[19:]}" if period >= 86400 else fmt_datetime(key)
        )
        out.append({"Date": date_text, **bars[key]})
    return out
