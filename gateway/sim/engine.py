"""The simulated OMS and exchange: accounts, orders, matching, holdings, balances, trades.

Pure (no I/O, no clock, no randomness of its own): ``now`` and ``new_id`` are injected. Each public
operation returns its answer plus a :class:`Step` listing what changed, which the server turns into
publishes (spec §5.20 lifecycle) and the state store into rows.

Matching rules (spec §5.20, §8.43): price-time priority; ``Market`` takes liquidity and expires the
remainder; ``MarketToLimit`` takes liquidity and rests the remainder at its last execution price;
``Best`` joins the best price on its own side (else the last/reference price); ``FillAndKill``
expires the remainder, ``FillOrKill`` trades all or nothing at once; ``AllOrNone`` trades all at
once or waits off-book (never displayed, so the book never crosses) until the book can fill it
whole; ``MinimumQuantity``: unless that much can trade on arrival the order expires untraded.
Icebergs show ``min(Quantity, remainder)``; a refreshed peak goes to the back of the queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.sim.book import ASK, BID, Book
from gateway.sim.conditions import ConditionSpec, same_condition
from gateway.sim.config import SimConfig, SymbolConfig
from gateway.sim.orders import (
    OPEN_STATUSES,
    Order,
    OrderSpec,
    Rejection,
    allows,
    condition_json,
    details_json,
    order_json,
)
from gateway.sim.stops import ConditionalOrders
from gateway.sim.views import SECURITY_DEFAULTS, EngineViews
from gateway.sim.wire import fmt_datetime

__all__ = ["KEEP", "SECURITY_DEFAULTS", "Account", "Engine", "Holding", "Step", "SymbolState"]

ZERO = Decimal(0)
KEEP: Any = object()  # Engine.amend: the request carried no Condition, the order keeps its own


@dataclass(slots=True)
class Holding:
    quantity: Decimal = ZERO
    cost: Decimal = ZERO


@dataclass(slots=True)
class Account:
    id: str
    name: str
    currency: str
    cash: Decimal = ZERO
    reserved_cash: Decimal = ZERO
    holdings: dict[str, Holding] = field(default_factory=dict)
    reserved_units: dict[str, Decimal] = field(default_factory=dict)
    internal: bool = False  # generator participants: unlimited, invisible, no bookkeeping
    orders: dict[str, Order] = field(default_factory=dict)
    transactions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def trading_balance(self) -> Decimal:
        return self.cash - self.reserved_cash

    def available(self, code: str) -> Decimal:
        h = self.holdings.get(code)
        return (h.quantity if h else ZERO) - self.reserved_units.get(code, ZERO)


@dataclass(slots=True)
class SymChanges:
    depth: list[dict[str, Any]] = field(default_factory=list)
    levels: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    trade_updates: list[dict[str, Any]] = field(default_factory=list)  # Trades ``U`` (cancellations)


@dataclass(slots=True)
class Step:
    """What one operation changed, in order."""

    orders: list[tuple[str, str, Order, tuple[Any, ...]]] = field(
        default_factory=list
    )  # account, O, order, snap
    # account, order, request id, Place/Amend/Cancel, details, time: JSON built only if someone watches
    requests: list[tuple[str, Order, str, str, OrderSpec, datetime]] = field(default_factory=list)
    symbols: dict[str, SymChanges] = field(default_factory=dict)
    transactions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # (account, code) -> "A" when the holding appeared in this step, else "U" (in order of change)
    holdings: dict[tuple[str, str], str] = field(default_factory=dict)
    balances: dict[str, None] = field(default_factory=dict)
    touched: dict[str, Order] = field(default_factory=dict)  # for the state store

    def sym(self, code: str) -> SymChanges:
        ch = self.symbols.get(code)
        if ch is None:
            ch = self.symbols[code] = SymChanges()
        return ch


@dataclass(slots=True)
class SymbolState:
    cfg: SymbolConfig
    book: Book
    close: Decimal
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    last: Decimal | None = None
    trend: str = "None"
    volume: Decimal = ZERO
    value: Decimal = ZERO
    trades_today: int = 0
    last_trade_id: int = 0
    trades: list[dict[str, Any]] = field(default_factory=list)
    waiting: dict[str, Order] = field(default_factory=dict)  # AllOrNone orders off-book
    held: dict[str, Order] = field(default_factory=dict)  # conditional orders not yet triggered

    @property
    def reference(self) -> Decimal:
        return self.last if self.last is not None else self.close

    def start_day(self) -> None:
        self.close = self.last if self.last is not None else self.close
        self.open = self.high = self.low = self.last = None
        self.trend = "None"
        self.volume = self.value = ZERO
        self.trades_today = self.last_trade_id = 0
        self.trades = []

    def record_trade(self, price: Decimal, qty: Decimal) -> None:
        if self.last is not None and price != self.last:
            self.trend = "Up" if price > self.last else "Down"
        self.last = price
        self.open = price if self.open is None else self.open
        self.high = price if self.high is None or price > self.high else self.high
        self.low = price if self.low is None or price < self.low else self.low
        self.volume += qty
        self.value += qty * price
        self.trades_today += 1


class Engine(EngineViews, ConditionalOrders):
    def __init__(self, cfg: SimConfig, now: Callable[[], datetime], new_id: Callable[[], str]) -> None:
        self.cfg = cfg
        self.market = cfg.market
        self.status = cfg.market.status  # trading state of market and board; see set_status
        self.now = now
        self.new_id = new_id
        self.symbols: dict[str, SymbolState] = {
            s.code: SymbolState(s, Book(new_id), s.reference_price) for s in cfg.market.symbols
        }
        self.symbol_cfgs = {s.code: s for s in cfg.market.symbols}
        self.accounts: dict[str, Account] = {}
        for a in cfg.accounts:
            self.accounts[a.id] = Account(
                a.id,
                a.name,
                a.currency,
                a.cash,
                holdings={
                    c: Holding(q, q * self.symbols[c].close)
                    for c, q in a.holdings.items()
                    if c in self.symbols and q
                },
            )
        self.orders: dict[str, Order] = {}
        self.requests: dict[tuple[str, str], str] = {}  # (account, RequestID) -> encoded response
        self._order_seq = 0
        self._expiring: dict[str, Order] = {}
        self._triggered: deque[Order] = deque()  # triggered conditional orders waiting to be routed
        self._draining = False
        self.held_count = 0

    # ------------------------------------------------------------------ accounts

    def add_internal_account(self, account_id: str) -> Account:
        acct = Account(account_id, account_id, self.market.currency, internal=True)
        self.accounts[account_id] = acct
        return acct

    def today(self) -> date:
        return self.now().date()

    # ------------------------------------------------------------------ place / calculate

    def check_order(
        self,
        acct: Account,
        spec: OrderSpec,
        extra_value: Decimal = ZERO,
        extra_units: Decimal = ZERO,
        executed: Decimal = ZERO,
        stop: Decimal | None = None,
    ) -> Rejection | None:
        """Trading state, vetting, funds and holdings (spec §5.20 validation order, after details/route)."""
        if self.status not in ("Open", "PreOpen"):
            return Rejection("Rejected", ("Symbol.Status",))
        sym = self.symbols[spec.code]
        price = self.order_price_estimate(spec, stop)
        t = self.cfg.trading
        if t.vetting and not acct.internal:
            errors = []
            ref = sym.reference
            if price <= 0:
                errors.append("OrderPrice.Invalid")
            elif ref:
                band = t.price_band_percent
                if price > ref * (1 + band / 100):
                    errors.append(f"OrderPrice.TooFarAbove {band:.1f}%")
                elif price < ref * (1 - band / 100):
                    errors.append(f"OrderPrice.TooFarBelow {-band:.1f}%")
            if price > t.max_price:
                errors.append(f"OrderPrice.Exceed {t.max_price:.2f}")
            if spec.total > t.max_quantity:
                errors.append(f"OrderQuantity.Exceed {t.max_quantity}")
            if spec.total * price > t.max_order_value:
                errors.append(f"OrderValue.Exceed {t.max_order_value}")
            if errors:
                return Rejection("Rejected", tuple(errors))
        if acct.internal:
            return None
        if spec.side == BID:
            if (spec.total - executed) * price - extra_value > acct.trading_balance:
                return Rejection("Rejected", ("TotalValue.Balance",))
        elif spec.short_type is None and spec.total - executed - extra_units > acct.available(spec.code):
            return Rejection("Rejected", ("TotalQuantity.Holdings",))
        return None

    def order_price_estimate(self, spec: OrderSpec, stop: Decimal | None = None) -> Decimal:
        sym = self.symbols[spec.code]
        if spec.type == "Limit" and spec.limit_price is not None:
            return spec.limit_price
        if stop is not None:  # a stop-market (or stop-best) order is expected to trade near its stop
            return stop
        if spec.type == "Best":
            best = sym.book.best(spec.side)
            return best.price if best else sym.reference
        # Market / MarketToLimit: the worst price needed to fill from the opposite book
        need, worst = spec.total, None
        for level in sym.book.levels(ASK if spec.side == BID else BID):
            worst = level.price
            need -= sum((o.display + o.hidden for o in level.orders.values()), ZERO)
            if need <= 0:
                break
        if worst is None:
            return sym.reference
        return worst if spec.side == ASK or need <= 0 else max(worst, sym.reference)

    def place(
        self, acct: Account, spec: OrderSpec, request_id: str, condition: ConditionSpec | None = None
    ) -> tuple[dict[str, Any], Step]:
        """PlaceOrder after Details/Route(/Condition) parsing. Returns the Order Action Response and the Step.

        With a ``condition`` the order is held off-book (status ``Waiting``) until it triggers."""
        step = Step()
        stop = None
        if condition is not None:
            stop = self.resolve_stop(spec.code, condition)
            if stop is None:
                return {"Result": "Invalid", "RequestID": request_id, "Errors": ["Condition.Stop"]}, step
        rejection = self.check_order(acct, spec, stop=stop)
        if rejection is not None:
            return {
                "Result": rejection.result,
                "RequestID": request_id,
                "Errors": list(rejection.errors),
            }, step
        now = self.now()
        self._order_seq += 1
        o = Order(
            id=self.new_id(),
            account=acct.id,
            external_id=request_id,
            depth_id=self.new_id(),
            spec=spec,
            currency=acct.currency,
            created=now,
            updated=now,
            internal=acct.internal,
            seq=self._order_seq,
            condition=condition,
            stop=stop,
        )
        o.estimated_value = spec.total * self.order_price_estimate(spec, stop)
        self.orders[o.id] = o
        acct.orders[o.id] = o
        if condition is not None:
            self._hold(o)
        self._reserve(acct, o)
        response = {
            "Result": "Success",
            "RequestID": request_id,
            "EstimatedValue": o.estimated_value,
            "Order": order_json(o, trading_market=self.market.trading_market),
        }
        self._changed(step, o, "A")
        if not acct.internal:
            step.requests.append((acct.id, o, request_id, "Place", o.spec, self.now()))
        if not o.held:
            self._route(acct, o, step)
        self._settle_triggers(step)
        return response, step

    @staticmethod
    def request_json(
        account: str, o: Order, request_id: str, kind: str, spec: OrderSpec, when: datetime
    ) -> dict[str, Any]:
        """Order Request object (spec §5.12)."""
        stamp = fmt_datetime(when)
        req = {
            "ID": request_id,
            "Account": account,
            "OrderID": o.id,
            "Type": kind,
            "CreatedDate": stamp,
            "UpdatedDate": stamp,
            "Status": "Pending",
            "Details": details_json(spec),
            "Route": dict(spec.route),
        }
        if o.condition is not None:
            req["Condition"] = condition_json(o.condition, o.stop)
        return req

    def calculate(
        self,
        acct: Account,
        spec: OrderSpec,
        request_id: str,
        existing: Order | None = None,
        condition: ConditionSpec | None = None,
    ) -> dict[str, Any]:
        extra_value = extra_units = ZERO
        if existing is not None:
            extra_value = existing.reserved if existing.side == BID else ZERO
            extra_units = existing.reserved if existing.side == ASK else ZERO
        executed = existing.executed if existing is not None else ZERO
        stop = None
        if condition is not None:
            stop = self.resolve_stop(spec.code, condition)
            if stop is None:
                return {"Result": "Invalid", "RequestID": request_id, "Errors": ["Condition.Stop"]}
        rejection = self.check_order(acct, spec, extra_value, extra_units, executed, stop)
        if rejection is not None:
            return {"Result": rejection.result, "RequestID": request_id, "Errors": list(rejection.errors)}
        return {
            "Result": "Success",
            "RequestID": request_id,
            "EstimatedValue": spec.total * self.order_price_estimate(spec, stop),
        }

    # ------------------------------------------------------------------ routing and matching

    def _route(self, acct: Account, o: Order, step: Step) -> None:
        sym = self.symbols[o.spec.code]
        spec = o.spec
        o.routed = True
        o.status = "OnMarket"
        if spec.type == "Best":
            best = sym.book.best(spec.side)
            o.price = best.price if best else sym.reference
        elif spec.type == "Limit":
            o.price = spec.limit_price or ZERO
        self._changed(step, o, "U")
        limit = o.price if spec.type in ("Limit", "Best") else None
        opp = ASK if spec.side == BID else BID
        need = spec.minimum_quantity
        if spec.validity in ("FillOrKill", "AllOrNone"):
            need = o.total
        if need is not None and sym.book.available(opp, limit) < need:
            if spec.validity == "AllOrNone" and spec.type in ("Limit", "Best"):
                o.waiting = True
                sym.waiting[o.id] = o
                self._track_expiry(o)
                return
            self._finish(acct, o, "Expired", step)
            return
        self._match(o, sym, limit, step)
        if o.status not in OPEN_STATUSES:
            return
        if spec.type == "Market" or spec.validity in ("FillAndKill", "FillOrKill"):
            self._finish(acct, o, "Expired", step)
            return
        if spec.type == "MarketToLimit":
            if not o.executed:
                self._finish(acct, o, "Expired", step)
                return
            o.price = sym.last or sym.reference
        self._rest(o, sym, step)
        self._retry_waiting(sym, step)

    def _rest(self, o: Order, sym: SymbolState, step: Step) -> None:
        leaves = o.leaves
        peak = o.spec.quantity if o.spec.hidden_quantity else leaves
        o.display = min(peak, leaves)
        o.hidden = leaves - o.display
        o.on_book = True
        sym.book.insert(o, step.sym(o.spec.code))
        self._track_expiry(o)

    def _track_expiry(self, o: Order) -> None:
        if o.spec.validity in ("UntilDay", "UntilCancel", "AllOrNone") and not o.internal:
            self._expiring[o.id] = o

    def _match(self, o: Order, sym: SymbolState, limit: Decimal | None, step: Step) -> None:
        book = sym.book
        opp = ASK if o.side == BID else BID
        ch = step.sym(o.spec.code)
        while o.total - o.executed > 0:
            level = book.best(opp)
            if level is None:
                break
            if limit is not None and (level.price > limit if o.side == BID else level.price < limit):
                break
            resting = level.first()
            qty = min(o.total - o.executed, resting.display)
            self._fill(o, resting, level.price, qty, sym, step, ch)

    def _fill(
        self,
        aggressor: Order,
        resting: Order,
        price: Decimal,
        qty: Decimal,
        sym: SymbolState,
        step: Step,
        ch: SymChanges,
    ) -> None:
        book = sym.book
        # the resting order: visible quantity first, then refresh the iceberg peak (loses priority)
        new_display = resting.display - qty
        if new_display > 0:
            book.resize(resting, new_display, resting.hidden, False, ch)
        elif resting.hidden > 0:
            peak = min(resting.spec.quantity, resting.hidden)
            book.resize(resting, peak, resting.hidden - peak, True, ch)
        else:
            book.remove(resting, ch)
            resting.on_book = False
            resting.display = ZERO
        sym.last_trade_id += 1
        prev_last = sym.last
        sym.record_trade(price, qty)
        now = self.now()
        trend = (
            "None"
            if prev_last is None
            else ("Up" if price > prev_last else "Down" if price < prev_last else sym.trend)
        )
        buy, sell = (aggressor, resting) if aggressor.side == BID else (resting, aggressor)
        trade = {
            "ID": sym.last_trade_id,
            "Price": price,
            "Quantity": qty,
            "Time": fmt_datetime(now),
            "Trend": trend,
            "Side": aggressor.side,
            "Buy": buy.depth_id,
            "Sell": sell.depth_id,
        }
        sym.trades.append(trade)
        ch.trades.append(trade)
        for order in (resting, aggressor):
            self._execute(order, price, qty, now, step)
        if sym.held:
            self._check_triggers(sym, price, step)

    def _execute(self, o: Order, price: Decimal, qty: Decimal, now: datetime, step: Step) -> None:
        acct = self.accounts[o.account]
        o.executed += qty
        o.value += qty * price
        o.updated = now
        done = o.executed >= o.total
        o.status = "Filled" if done else "PartialFill"
        if acct.internal:
            if done:
                self._forget(o)
            return
        code = o.spec.code
        h = acct.holdings.get(code)
        appeared = h is None or not h.quantity
        if h is None:
            h = acct.holdings[code] = Holding()
        gross = qty * price
        if o.side == BID:
            acct.cash -= gross
            h.cost += gross
            h.quantity += qty
        else:
            acct.cash += gross
            if h.quantity:
                h.cost -= h.cost * qty / h.quantity
            h.quantity -= qty
            if h.quantity == 0:
                h.cost = ZERO
        self._reserve(acct, o)
        key = (acct.id, code)
        step.holdings[key] = step.holdings.get(key) or ("A" if appeared else "U")
        step.balances[acct.id] = None
        tx = {
            "ID": self.new_id(),
            "Exchange": o.spec.exchange,
            "Code": code,
            "TradingMarket": o.spec.route.get("Market", self.market.trading_market),
            "Account": acct.id,
            "Style": o.spec.style,
            "TradeDate": fmt_datetime(now),
            "SettlementDate": fmt_datetime(_settlement(now)),
            "GrossAmount": gross,
            "NetAmount": gross,
            "SettlementAmount": gross,
            "Currency": o.currency,
            "OrderID": o.id,
            "TotalQuantity": qty,
            "AveragePrice": price,
        }
        acct.transactions.append(tx)
        step.transactions.append((acct.id, tx))
        self._changed(step, o, "U")
        if done:
            self._expiring.pop(o.id, None)

    def _retry_waiting(self, sym: SymbolState, step: Step) -> None:
        """AllOrNone orders off-book trade as soon as the book can fill them whole."""
        if not sym.waiting:
            return
        for o in list(sym.waiting.values()):
            opp = ASK if o.side == BID else BID
            if o.status in OPEN_STATUSES and sym.book.available(opp, o.price) >= o.total - o.executed:
                del sym.waiting[o.id]
                o.waiting = False
                self._match(o, sym, o.price, step)

    # ------------------------------------------------------------------ amend / cancel / move

    def amend(
        self, acct: Account, o: Order, spec: OrderSpec, request_id: str, condition: Any = KEEP
    ) -> tuple[dict[str, Any], Step]:
        """AmendOrder. ``condition``: the new ConditionSpec, or KEEP (the request had no Condition).

        A held conditional order may change its Details (any order type) and its condition; once
        triggered, its condition can no longer change (``Rejected Order.Status``)."""
        step = Step()

        def reject(result: str, *errors: str) -> tuple[dict[str, Any], Step]:
            return {"Result": result, "RequestID": request_id, "Errors": list(errors)}, step

        if not allows(o.status, "Amend"):
            return reject("Rejected", "Order.Status")
        if condition is KEEP:
            condition = o.condition
        if not o.held and not same_condition(condition, o.condition):
            return reject("Rejected", "Order.Status")
        old = o.spec
        for name, a, b in (
            ("Exchange", old.exchange, spec.exchange),
            ("Symbol", old.code, spec.code),
            ("Side", old.side, spec.side),
            ("Style", old.style, spec.style),
        ):
            if a != b:
                return reject("Invalid", name)
        if o.held:
            return self._amend_held(acct, o, spec, request_id, condition, reject, step)
        if spec.type != old.type and {spec.type, old.type} != {"Limit", "MarketToLimit"}:
            return reject("Invalid", "OrderType")
        if spec.validity in ("FillAndKill", "FillOrKill"):
            return reject("Invalid", "Validity")
        if spec.total <= o.executed:
            return reject("Invalid", "TotalQuantity")
        held = o.reserved
        rejection = self.check_order(
            acct, spec, held if o.side == BID else ZERO, held if o.side == ASK else ZERO, o.executed
        )
        if rejection is not None:
            return reject(rejection.result, *rejection.errors)
        o.condition = condition  # same as before (a trailing stop's Limit follows LimitPrice)
        now = self.now()
        sym = self.symbols[o.spec.code]
        new_price = spec.limit_price if spec.type == "Limit" and spec.limit_price is not None else o.price
        old_total, old_display = old.total, o.display
        o.spec = spec
        o.updated = now
        o.estimated_value = spec.total * (new_price or self.order_price_estimate(spec))
        response = {
            "Result": "Success",
            "RequestID": request_id,
            "EstimatedValue": o.estimated_value,
            "Order": order_json(o, trading_market=self.market.trading_market),
        }
        if not acct.internal:
            step.requests.append((acct.id, o, request_id, "Amend", o.spec, self.now()))
        leaves = o.total - o.executed
        peak = spec.quantity if spec.hidden_quantity else leaves
        display = min(peak, leaves)
        hidden = leaves - display
        ch = step.sym(spec.code)
        if o.on_book:
            if new_price != o.price:
                sym.book.reprice(o, new_price, display, hidden, ch)
            else:
                requeue = spec.total > old_total or display > old_display
                sym.book.resize(o, display, hidden, requeue, ch)
        else:
            o.price = new_price
        self._reserve(acct, o)
        self._changed(step, o, "U")
        if o.on_book and self._crosses(o, sym):
            # an amended price that crosses the spread trades like a new aggressive order
            sym.book.remove(o, ch)
            o.on_book = False
            self._match(o, sym, o.price, step)
            if o.status in OPEN_STATUSES:
                self._rest(o, sym, step)
        self._retry_waiting(sym, step)
        self._settle_triggers(step)
        return response, step

    def _crosses(self, o: Order, sym: SymbolState) -> bool:
        opp = sym.book.best(ASK if o.side == BID else BID)
        return opp is not None and (opp.price <= o.price if o.side == BID else opp.price >= o.price)

    def cancel(self, acct: Account, o: Order, request_id: str) -> tuple[dict[str, Any], Step]:
        step = Step()
        if not allows(o.status, "Cancel"):
            return {"Result": "Rejected", "RequestID": request_id, "Errors": ["Order.Status"]}, step
        response = {
            "Result": "Success",
            "RequestID": request_id,
            "Order": order_json(o, trading_market=self.market.trading_market),
        }
        if not acct.internal:
            step.requests.append((acct.id, o, request_id, "Cancel", o.spec, self.now()))
        self._finish(acct, o, "Cancelled", step)
        self._settle_triggers(step)
        return response, step

    def move(self, acct: Account, o: Order, dest: Account, request_id: str) -> tuple[dict[str, Any], Step]:
        step = Step()
        if not allows(o.status, "Move"):
            return {"Result": "Rejected", "RequestID": request_id, "Errors": ["Order.Status"]}, step
        if o.reserved:
            self._release(acct, o)
        step.orders.append((acct.id, "R", o, o.snapshot()))
        del acct.orders[o.id]
        o.account = dest.id
        dest.orders[o.id] = o
        o.updated = self.now()
        self._reserve(dest, o)
        step.balances[acct.id] = None
        step.balances[dest.id] = None
        self._changed(step, o, "A")
        response = {
            "Result": "Success",
            "RequestID": request_id,
            "Order": order_json(o, trading_market=self.market.trading_market),
        }
        return response, step

    def _finish(self, acct: Account, o: Order, status: str, step: Step) -> None:
        """End an order's life (Cancelled / Expired / Rejected) and take it off the book."""
        sym = self.symbols[o.spec.code]
        if o.on_book:
            sym.book.remove(o, step.sym(o.spec.code))
            o.on_book = False
        sym.waiting.pop(o.id, None)
        o.waiting = False
        if sym.held.pop(o.id, None) is not None:
            self.held_count -= 1
        o.held = False
        o.status = status
        o.updated = self.now()
        self._expiring.pop(o.id, None)
        if acct.internal:
            self._forget(o)
            return
        self._reserve(acct, o)
        self._changed(step, o, "U")

    def _forget(self, o: Order) -> None:
        # generator orders are not kept once finished (memory stays flat over long runs)
        self.orders.pop(o.id, None)
        acct = self.accounts.get(o.account)
        if acct is not None:
            acct.orders.pop(o.id, None)

    def _reserve(self, acct: Account, o: Order) -> None:
        """Keep the cash (bids) or units (asks) held back for the open remainder up to date."""
        if acct.internal:
            return
        leaves = o.leaves
        if o.side == BID:
            price = o.price or o.spec.limit_price or o.stop or self.symbols[o.spec.code].reference
            new = leaves * price
            acct.reserved_cash += new - o.reserved
        else:
            new = leaves if o.spec.short_type is None else ZERO
            code = o.spec.code
            acct.reserved_units[code] = acct.reserved_units.get(code, ZERO) + new - o.reserved
        if new != o.reserved:
            o.reserved = new

    def _release(self, acct: Account, o: Order) -> None:
        if o.side == BID:
            acct.reserved_cash -= o.reserved
        else:
            acct.reserved_units[o.spec.code] = acct.reserved_units.get(o.spec.code, ZERO) - o.reserved
        o.reserved = ZERO

    def _changed(self, step: Step, o: Order, op: str) -> None:
        if o.internal:
            return
        snap = o.snapshot()
        o.history.append(snap)
        step.orders.append((o.account, op, o, snap))
        step.touched[o.id] = o

    # ------------------------------------------------------------------ time

    def expire(self, today: date, end_of_day: bool) -> Step:
        """Expire GTD orders whose ExpiryDate is before ``today``; at end of day also every UntilDay order."""
        step = Step()
        for o in list(self._expiring.values()):
            if o.status not in OPEN_STATUSES:
                self._expiring.pop(o.id, None)
                continue
            due = (o.spec.expiry_date is not None and o.spec.expiry_date < today) or (
                end_of_day and o.spec.validity == "UntilDay"
            )
            if due:
                self._finish(self.accounts[o.account], o, "Expired", step)
        self._settle_triggers(step)
        return step

    def cancel_trade(self, code: str, trade_id: int) -> Step | None:
        """Bust a trade (spec §4.14, §8.32): a new ``A`` flagged Cancel with RelatedID, the original as ``U``.

        Only the public trade record changes; the participants' orders and positions are left as they are."""
        sym = self.symbols[code]
        orig = next((t for t in sym.trades if t["ID"] == trade_id and "Flags" not in t), None)
        if orig is None:
            return None
        sym.last_trade_id += 1
        price, qty = Decimal(str(orig["Price"])), Decimal(str(orig["Quantity"]))
        cancel = {
            "ID": sym.last_trade_id,
            "Price": price,
            "Quantity": qty,
            "Time": fmt_datetime(self.now()),
            "Flags": "Cancel",
            "RelatedID": trade_id,
        }
        orig["Flags"] = "Cancel"
        sym.trades.append(cancel)
        sym.volume -= qty
        sym.value -= qty * price
        step = Step()
        ch = step.sym(code)
        ch.trades.append(cancel)
        ch.trade_updates.append(orig)
        return step

    def new_day(self, today: date) -> Step:
        """Start a trading day: expire day orders, yesterday's last becomes Close, trade ids restart at 1."""
        step = self.expire(today, end_of_day=True)
        for sym in self.symbols.values():
            sym.start_day()
        return step


_SETTLE: dict[datetime, datetime] = {}


def _settlement(now: datetime) -> datetime:
    """Trade date + 2 business days (spec §5.17)."""
    d = _SETTLE.get(now)  # the clock ticks in milliseconds: fills in one tick share the answer
    if d is None or d.tzinfo is not now.tzinfo:
        if len(_SETTLE) >= 64:
            _SETTLE.clear()
        d = _SETTLE[now] = _settle(now)
    return d


def _settle(now: datetime) -> datetime:
    d, added = now, 0
    while added < 2:
        d += timedelta(days=1)
        if d.weekday() < 5:
            added += 1
    return d
