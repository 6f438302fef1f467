"""Conditional orders held off-book until their stop triggers (spec §7.B), mixed into the Engine.

Held orders (status ``Waiting``) sit in ``SymbolState.held`` in placement order. Triggers are
evaluated on reference events of their symbol only: after every trade (``Last`` references see the
trade price; ``BestBid``/``BestAsk`` references see the book as it stands after the fill) and after
every engine operation that changed the book (``BestBid``/``BestAsk`` only: the book is the
reference). A stop whose condition already holds when it is placed therefore triggers on the next
such event, never inside its own PlaceOrder. Trailing stops move on the same events (checked
first for a trigger, then trailed), each move an ``Orders`` ``U`` with the new ``Condition.Stop``.
Nothing triggers while the market is not ``Open``/``PreOpen``.

A triggered order is not routed at once: it leaves ``held`` and joins a FIFO queue, and the queue is
drained when the operation that caused the event has finished matching, so an aggressor's sweep is
never interleaved with the orders it triggers. Draining is a loop, not recursion: a triggered
order's own trades may trigger more stops, which queue behind it (trigger order = the event that
triggered them, then placement order). Each held order triggers at most once, so the loop runs at
most as many times as there were held orders.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.sim.book import ASK, BID
from gateway.sim.conditions import ConditionSpec, initial_stop, is_triggered, same_condition, trailed
from gateway.sim.orders import order_json

if TYPE_CHECKING:
    from gateway.sim.config import MarketConfig, SimConfig
    from gateway.sim.engine import Account, Step, SymbolState
    from gateway.sim.orders import Order, OrderSpec, Rejection

__all__ = ["ConditionalOrders"]

ZERO = Decimal(0)
TRIGGER_STATES = ("Open", "PreOpen")  # the states in which orders trade (Engine.check_order)


class ConditionalOrders:
    cfg: SimConfig
    market: MarketConfig
    status: str
    symbols: dict[str, SymbolState]
    accounts: dict[str, Account]
    now: Callable[[], datetime]
    _triggered: deque[Order]
    _draining: bool
    held_count: int  # orders held across all symbols: lets every operation skip trigger checks

    if TYPE_CHECKING:  # implemented by Engine

        def _route(self, acct: Account, o: Order, step: Step) -> None: ...
        def _changed(self, step: Step, o: Order, op: str) -> None: ...
        def _track_expiry(self, o: Order) -> None: ...
        def _reserve(self, acct: Account, o: Order) -> None: ...
        def order_price_estimate(self, spec: OrderSpec, stop: Decimal | None = None) -> Decimal: ...
        def check_order(
            self,
            acct: Account,
            spec: OrderSpec,
            extra_value: Decimal = ZERO,
            extra_units: Decimal = ZERO,
            executed: Decimal = ZERO,
            stop: Decimal | None = None,
        ) -> Rejection | None: ...

    def _ticks(self, sym: SymbolState) -> tuple[Any, ...]:
        return self.cfg.market.tick_tables.get(sym.cfg.tick_table, ())

    def reference_price(self, code: str, reference: str) -> Decimal | None:
        """The latest value of a condition ``Reference``: ``Last`` = last trade today, else the
        previous close; ``BestBid``/``BestAsk`` = that side's best, None when the side is empty."""
        sym = self.symbols[code]
        if reference == "Last":
            return sym.reference
        level = sym.book.best(BID if reference == "BestBid" else ASK)
        return level.price if level is not None else None

    def resolve_stop(self, code: str, cond: ConditionSpec) -> Decimal | None:
        """The effective stop of a new (or re-conditioned) order; None = no price to default to."""
        if cond.stop is not None:
            return cond.stop
        ref = self.reference_price(code, cond.reference)
        if ref is None:
            return None
        stop = initial_stop(cond, ref, self._ticks(self.symbols[code]))
        return stop if stop > 0 else None

    def _hold(self, o: Order) -> None:
        o.held = True
        o.status = "Waiting"
        self.symbols[o.spec.code].held[o.id] = o
        self.held_count += 1
        self._track_expiry(o)

    def _check_triggers(self, sym: SymbolState, trade_price: Decimal | None, step: Step) -> None:
        """A reference event on ``sym``: a trade at ``trade_price``, or (None) a book change."""
        if not sym.held or self.status not in TRIGGER_STATES:
            return
        for o in list(sym.held.values()):
            cond = o.condition
            assert cond is not None and o.stop is not None
            if cond.reference == "Last":
                if trade_price is None:
                    continue
                ref = trade_price
            else:
                level = sym.book.best(BID if cond.reference == "BestBid" else ASK)
                if level is None:
                    continue
                ref = level.price
            if is_triggered(cond, o.stop, ref):
                del sym.held[o.id]
                self.held_count -= 1
                self._triggered.append(o)
            elif cond.trailing:
                stop = trailed(cond, o.stop, ref, self._ticks(sym))
                if stop != o.stop:
                    o.stop = stop
                    o.updated = self.now()
                    self._changed(step, o, "U")

    def _settle_triggers(self, step: Step) -> None:
        """End of an engine operation: book changes are reference events; route what triggered."""
        if not self.held_count and not self._triggered:
            return
        for code, ch in step.symbols.items():
            if ch.depth:
                sym = self.symbols[code]
                if sym.held:
                    self._check_triggers(sym, None, step)
        self._release_triggered(step)

    def _amend_held(
        self,
        acct: Account,
        o: Order,
        spec: OrderSpec,
        request_id: str,
        condition: ConditionSpec | None,
        reject: Callable[..., tuple[dict[str, Any], Step]],
        step: Step,
    ) -> tuple[dict[str, Any], Step]:
        """Amend an order its condition still holds off-book: nothing on the book changes."""
        stop = o.stop
        if condition is None:  # cannot happen through the wire (an omitted Condition keeps it)
            return reject("Invalid", "Condition")
        if not same_condition(condition, o.condition):
            stop = self.resolve_stop(spec.code, condition)
            if stop is None:
                return reject("Invalid", "Condition.Stop")
        held = o.reserved
        rejection = self.check_order(
            acct, spec, held if o.side == BID else ZERO, held if o.side == ASK else ZERO, stop=stop
        )
        if rejection is not None:
            return reject(rejection.result, *rejection.errors)
        o.spec = spec
        o.condition = condition
        o.stop = stop
        o.updated = self.now()
        o.estimated_value = spec.total * self.order_price_estimate(spec, stop)
        self._reserve(acct, o)
        response = {
            "Result": "Success",
            "RequestID": request_id,
            "EstimatedValue": o.estimated_value,
            "Order": order_json(o, trading_market=self.market.trading_market),
        }
        if not acct.internal:
            step.requests.append((acct.id, o, request_id, "Amend", o.spec, self.now()))
        self._changed(step, o, "U")
        return response, step

    def _release_triggered(self, step: Step) -> None:
        if self._draining or not self._triggered:
            return
        self._draining = True
        try:
            while self._triggered:
                o = self._triggered.popleft()
                if not o.held or o.status != "Waiting":
                    continue
                o.held = False
                o.status = "Pending"
                o.updated = self.now()
                # enters the book as its Details say (Limit = stop-limit, Market = stop-market)
                self._route(self.accounts[o.account], o, step)
                sym = self.symbols[o.spec.code]
                if sym.held:
                    self._check_triggers(sym, None, step)
        finally:
            self._draining = False
