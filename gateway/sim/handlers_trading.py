"""Trading controller handlers (spec §5): accounts, orders, order actions, positions, transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.sim.conditions import keep_condition, parse_condition
from gateway.sim.dispatch import ActionError, action, subscription
from gateway.sim.engine import KEEP, Account, Step
from gateway.sim.orders import ORDER_STATUSES, Order, OrderSpec, Rejection, order_json, parse_order_spec
from gateway.sim.wire import DataError, RawJSON, encode, opt_int, opt_str, parse_datetime, req_str

if TYPE_CHECKING:
    from gateway.sim.server import SimServer
    from gateway.sim.session import Session

__all__: list[str] = []

TRADING = "Zenith/Trading"
ORDERPAD = "Zenith/OrderPad"

REQUEST_STATUSES = [
    {"Code": "Pending", "Allows": "None", "Reason": "Normal,Waiting"},
    {"Code": "Queued", "Allows": "Amend,Cancel", "Reason": "Normal"},
    {"Code": "Submitted", "Allows": "None", "Reason": "Normal,Waiting"},
    {"Code": "Completed", "Allows": "None", "Reason": "Normal,Completed"},
    {"Code": "Rejected", "Allows": "None", "Reason": "Abnormal,Completed"},
]


def _account(srv: SimServer, sess: Session, account_id: str | None) -> Account:
    """The account if the login sees it, else ``Account.NotFound {ID}`` (spec §5.10 mapping)."""
    if account_id is None:
        raise ActionError("Account")
    key = account_id[:-2] if account_id.endswith("[]") else account_id
    acct = srv.engine.accounts.get(key)
    if acct is None or acct.internal or key not in sess.accounts:
        raise ActionError(f"Account.NotFound {account_id}")
    return acct


def _topic_accounts(srv: SimServer, sess: Session, arg: str | None) -> list[Account]:
    if arg is None:
        return [srv.engine.accounts[a] for a in sorted(sess.accounts) if a in srv.engine.accounts]
    return [_account(srv, sess, arg)]


def account_state(acct: Account) -> dict[str, Any]:
    return {"ID": acct.id, "Name": acct.name, "Feed": "Active", "Provider": "OMS", "Currency": acct.currency}


def _body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise DataError("Data")
    return data


def _orders_of(acct: Account) -> list[Order]:
    return sorted(acct.orders.values(), key=lambda o: o.seq)


# ------------------------------------------------------------------------------------ accounts


@subscription("Trading", "Accounts", takes_argument=False)
def sub_accounts(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return [account_state(a) for a in _topic_accounts(srv, sess, None)]


@subscription("Trading", "TradingAccounts", takes_argument=False)
def sub_trading_accounts(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return [{"Operation": "Clear"}] + [
        {"Operation": "Add", "Account": account_state(a)} for a in _topic_accounts(srv, sess, None)
    ]


@action("Trading", "QueryAccounts", scope=TRADING)
def query_accounts(srv: SimServer, sess: Session, data: Any) -> Any:
    return [account_state(a) for a in _topic_accounts(srv, sess, None)]


@action("Trading", "QueryOrderStatuses", needs_data=True)
def query_order_statuses(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    provider = req_str(body, "Provider")
    exchange = opt_str(body, "Exchange")
    if provider != "OMS":
        return []
    market = srv.cfg.market.code
    out = []
    for code, (routed, reason, allows) in ORDER_STATUSES.items():
        if exchange is not None and routed and exchange != market:
            continue
        entry = {"Code": code, "Allows": allows, "Reason": reason}
        if routed:
            entry["Exchange"] = market
        out.append(entry)
    return out


@action("Trading", "QueryRequestStatuses", needs_data=True)
def query_request_statuses(srv: SimServer, sess: Session, data: Any) -> Any:
    req_str(_body(data), "Provider")
    return REQUEST_STATUSES


@action("Trading", "QueryTradingMarkets", needs_data=True)
def query_trading_markets(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    req_str(body, "Provider")
    exchange = opt_str(body, "Exchange")
    m = srv.cfg.market
    if exchange is not None and exchange != m.code:
        return []
    return [{"Code": m.trading_market, "Exchange": m.code, "IsLit": True, "BestSource": m.code}]


# ------------------------------------------------------------------------------------ orders


@subscription("Trading", "Orders", scope=TRADING, takes_argument=None)
def sub_orders(srv: SimServer, sess: Session, arg: str | None) -> Any:
    tm = srv.cfg.market.trading_market
    out: list[dict[str, Any]] = []
    for acct in _topic_accounts(srv, sess, arg):
        out.append({"O": "C", "Account": acct.id})
        out.extend({"O": "A", "Order": order_json(o, None, tm)} for o in _orders_of(acct))
    return out


@action("Trading", "QueryOrders", scope=TRADING, needs_data=True)
def query_orders(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    acct = _account(srv, sess, opt_str(body, "Account"))
    order_id = opt_str(body, "OrderID")
    tm = srv.cfg.market.trading_market
    if order_id is not None:
        o = acct.orders.get(order_id)
        return [order_json(o, None, tm)] if o else []
    return [order_json(o, None, tm) for o in _orders_of(acct)]


@subscription("Trading", "Requests", scope=TRADING, takes_argument=None)
def sub_requests(srv: SimServer, sess: Session, arg: str | None) -> Any:
    # requests complete synchronously (spec §5.12 [C]): nothing is ever pending at snapshot time
    return [{"O": "C", "Account": a.id} for a in _topic_accounts(srv, sess, arg)]


@action("Trading", "QueryRequests", scope=TRADING, needs_data=True)
def query_requests(srv: SimServer, sess: Session, data: Any) -> Any:
    _account(srv, sess, opt_str(_body(data), "Account"))
    return []


def _request_id(srv: SimServer, body: dict[str, Any]) -> str:
    rid = opt_str(body, "RequestID")
    return rid if rid else srv.new_request_id()


def _with_condition(
    srv: SimServer, body: dict[str, Any], spec: OrderSpec, existing: Order | None
) -> tuple[OrderSpec, Any] | Rejection:
    """Spec and ConditionSpec (None: none; KEEP: an amend without Condition keeps the order's)."""
    raw = body.get("Condition")
    if raw is None:
        if existing is None:
            return spec, None
        spec, kept = keep_condition(spec, existing.condition)
        return spec, kept if kept is not existing.condition else KEEP
    parsed = parse_condition(raw, spec, srv.cfg.market, srv.engine.symbol_cfgs[spec.code])
    if parsed is None or isinstance(parsed, Rejection):
        return parsed or (spec, None)
    return parsed


def _rejected(rid: str, r: Rejection) -> dict[str, Any]:
    return {"Result": r.result, "RequestID": rid, "Errors": list(r.errors)}


def _order_action(srv: SimServer, sess: Session, data: Any, kind: str) -> Any:
    body = _body(data)
    rid = _request_id(srv, body)
    if ORDERPAD not in sess.scopes:
        # the user may hold OrderPad but not on a plain ws connection (spec §2.10, §8.19)
        if srv.cfg.server.require_secure_trading and sess.user and ORDERPAD in sess.user.scopes:
            return {"Result": "Rejected", "RequestID": rid, "Errors": ["Connection"]}
        raise ActionError("Authority")
    acct = _account(srv, sess, opt_str(body, "Account"))
    previous = srv.engine.requests.get((acct.id, rid))
    if previous is not None:  # §8.41: a repeated RequestID gets the original answer
        return previous
    engine = srv.engine
    step = None
    if kind == "Place":
        spec = parse_order_spec(
            body.get("Details"), body.get("Route"), srv.cfg.market, engine.symbol_cfgs, engine.today()
        )
        conditioned = spec if isinstance(spec, Rejection) else _with_condition(srv, body, spec, None)
        if isinstance(conditioned, Rejection):
            response: dict[str, Any] = _rejected(rid, conditioned)
        else:
            response, step = engine.place(acct, conditioned[0], rid, conditioned[1])
    else:
        order_id = opt_str(body, "OrderID")
        if order_id is None:
            return {"Result": "Incomplete", "RequestID": rid, "Errors": ["Order"]}
        order = acct.orders.get(order_id)
        if order is None:
            response = {"Result": "Invalid", "RequestID": rid, "Errors": ["Order"]}
        elif kind == "Cancel":
            response, step = engine.cancel(acct, order, rid)
        elif kind == "Move":
            dest = _account(srv, sess, opt_str(body, "Destination"))
            response, step = engine.move(acct, order, dest, rid)
        else:
            details = body.get("Details")
            route = body.get("Route", order.spec.route)
            spec = parse_order_spec(details, route, srv.cfg.market, engine.symbol_cfgs, engine.today())
            conditioned = spec if isinstance(spec, Rejection) else _with_condition(srv, body, spec, order)
            if isinstance(conditioned, Rejection):
                response = _rejected(rid, conditioned)
            else:
                response, step = engine.amend(acct, order, conditioned[0], rid, conditioned[1])
    text = RawJSON(encode(response))  # kept for duplicates (§8.41), stored, and spliced into the reply
    engine.requests[(acct.id, rid)] = text
    if step is None:
        step = Step()
    srv.commit(step, (acct.id, rid, text))
    srv.deferred.append(step)  # published after the response (spec §8.37)
    return text


@action("Trading", "PlaceOrder", needs_data=True)  # OrderPad checked in _order_action
def place_order(srv: SimServer, sess: Session, data: Any) -> Any:
    return _order_action(srv, sess, data, "Place")


@action("Trading", "AmendOrder", needs_data=True)  # OrderPad checked in _order_action
def amend_order(srv: SimServer, sess: Session, data: Any) -> Any:
    return _order_action(srv, sess, data, "Amend")


@action("Trading", "CancelOrder", needs_data=True)  # OrderPad checked in _order_action
def cancel_order(srv: SimServer, sess: Session, data: Any) -> Any:
    return _order_action(srv, sess, data, "Cancel")


@action("Trading", "MoveOrder", needs_data=True)  # OrderPad checked in _order_action
def move_order(srv: SimServer, sess: Session, data: Any) -> Any:
    return _order_action(srv, sess, data, "Move")


@action(
    "Trading", "CalculateOrder", "CalculatePlaceOrder", "CalculateAmendOrder", scope=ORDERPAD, needs_data=True
)
def calculate_order(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    acct = _account(srv, sess, opt_str(body, "Account"))
    rid = _request_id(srv, body)
    engine = srv.engine
    existing = None
    route = body.get("Route")
    order_id = opt_str(body, "OrderID")
    if order_id is not None:
        existing = acct.orders.get(order_id)
        if existing is None:
            return {"Result": "Invalid", "RequestID": rid, "Errors": ["Order"]}
        route = route if route is not None else existing.spec.route
    spec = parse_order_spec(body.get("Details"), route, srv.cfg.market, engine.symbol_cfgs, engine.today())
    conditioned = spec if isinstance(spec, Rejection) else _with_condition(srv, body, spec, existing)
    if isinstance(conditioned, Rejection):
        return _rejected(rid, conditioned)
    spec, cond = conditioned
    if cond is KEEP:
        cond = existing.condition if existing is not None else None
    held = existing is None or existing.held
    return engine.calculate(acct, spec, rid, existing, cond if held else None)


@action("Trading", "AuthoriseOrder", scope="Zenith/Authorise", needs_data=True)
def authorise_order(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    _account(srv, sess, opt_str(body, "Account"))
    return {"Result": "Rejected", "RequestID": _request_id(srv, body), "Errors": ["Operation"]}


@action("Trading", "RequestQuote", scope=ORDERPAD, needs_data=True)
def request_quote(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    code = opt_str(body, "Code")
    if code not in srv.engine.symbols or opt_str(body, "Market") != srv.cfg.market.code:
        return {"Result": "Invalid", "Errors": ["Symbol"]}
    return {"Result": "Success"}


@action("Trading", "QueryOrderAudit", scope=TRADING, needs_data=True)
def query_order_audit(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    acct = _account(srv, sess, opt_str(body, "Account"))
    order_id = opt_str(body, "OrderID")
    count = opt_int(body, "Count")
    tm = srv.cfg.market.trading_market
    out = []
    orders = [acct.orders[order_id]] if order_id in acct.orders else [] if order_id else _orders_of(acct)
    for o in orders:
        for n, snap in enumerate(o.history, 1):
            out.append(
                {
                    "Version": str(n),
                    "OrderID": o.id,
                    "Account": acct.id,
                    "Type": "Order",
                    "Order": order_json(o, snap, tm),
                }
            )
    return out[-count:] if count else out


# ------------------------------------------------------------------------------------ positions


@subscription("Trading", "Holdings", scope=TRADING, takes_argument=None)
def sub_holdings(srv: SimServer, sess: Session, arg: str | None) -> Any:
    out: list[dict[str, Any]] = []
    for acct in _topic_accounts(srv, sess, arg):
        out.append({"O": "C", "Account": acct.id})
        out.extend(
            {"O": "A", "Holding": srv.engine.holding_json(acct, code)}
            for code, h in sorted(acct.holdings.items())
            if h.quantity
        )
    return out


@action("Trading", "QueryHoldings", scope=TRADING, needs_data=True)
def query_holdings(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    acct = _account(srv, sess, opt_str(body, "Account"))
    exchange = opt_str(body, "Exchange")
    code = opt_str(body, "Code")
    if exchange is not None and exchange != srv.cfg.market.code:
        return []
    return [
        srv.engine.holding_json(acct, c)
        for c, h in sorted(acct.holdings.items())
        if h.quantity and (code is None or c == code)
    ]


@subscription("Trading", "Balances", scope=TRADING, takes_argument=None)
def sub_balances(srv: SimServer, sess: Session, arg: str | None) -> Any:
    out: list[dict[str, Any]] = []
    for acct in _topic_accounts(srv, sess, arg):
        out.append({"Account": acct.id, "Type": "", "Currency": "", "Amount": 0})
        out.extend(srv.engine.balances_json(acct))
    return out


@action("Trading", "QueryBalances", scope=TRADING, needs_data=True)
def query_balances(srv: SimServer, sess: Session, data: Any) -> Any:
    return srv.engine.balances_json(_account(srv, sess, opt_str(_body(data), "Account")))


@subscription("Trading", "Transactions", scope=TRADING, takes_argument=None)
def sub_transactions(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return [{"O": "I", "Account": a.id} for a in _topic_accounts(srv, sess, arg)]


@action("Trading", "QueryTransactions", scope=TRADING, needs_data=True)
def query_transactions(srv: SimServer, sess: Session, data: Any) -> Any:
    body = _body(data)
    acct = _account(srv, sess, opt_str(body, "Account"))
    filters = {k: opt_str(body, k) for k in ("TradingMarket", "Exchange", "Code", "OrderID")}
    start = parse_datetime(body["FromDate"]) if body.get("FromDate") is not None else None
    end = parse_datetime(body["ToDate"]) if body.get("ToDate") is not None else None
    count = opt_int(body, "Count")
    out = []
    for tx in acct.transactions:
        if any(v is not None and tx.get(k) != v for k, v in filters.items()):
            continue
        if start is not None or end is not None:
            when = parse_datetime(tx["TradeDate"])
            if (start is not None and when < start) or (end is not None and when > end):
                continue
        out.append(tx)
    return out[-count:] if count else out
