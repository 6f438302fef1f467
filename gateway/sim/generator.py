"""Live-looking markets: other participants quoting every symbol and trading a little.

A market maker (internal account ``MM:MAKER``, invisible to every login) keeps one order on each of
``levels`` ticks either side of a drifting fair price, sized ``min_order_quantity..max_order_quantity``
(so by default >= 1,500 shares within 5 ticks of each side's best), and re-quotes every tick. A taker
(``MM:TAKER``) sends small market FillAndKill orders, about ``trades_per_second`` across all symbols,
which trade against whatever is best, client orders included. All choices come from a seeded RNG.
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from gateway.sim.book import ASK, BID
from gateway.sim.orders import OPEN_STATUSES, Order, OrderSpec

if TYPE_CHECKING:
    from gateway.sim.server import SimServer

__all__ = ["MarketGenerator"]


class MarketGenerator:
    def __init__(self, srv: SimServer, rng: random.Random) -> None:
        self.srv = srv
        self.rng = rng
        self.cfg = srv.cfg.generator
        engine = srv.engine
        self.maker = engine.add_internal_account("MM:MAKER")
        self.taker = engine.add_internal_account("MM:TAKER")
        self.fair: dict[str, Decimal] = {code: s.reference for code, s in engine.symbols.items()}
        self.quotes: dict[str, dict[tuple[str, Decimal], Order]] = {code: {} for code in engine.symbols}

    def _tick_size(self, code: str, price: Decimal) -> Decimal:
        sym = self.srv.engine.symbols[code]
        for step in self.srv.cfg.market.tick_tables.get(sym.cfg.tick_table, ()):
            if step.low <= price < step.high:
                return step.size
        return Decimal("0.01")

    def _spec(
        self, code: str, side: str, type_: str, price: Decimal | None, qty: int, validity: str
    ) -> OrderSpec:
        m = self.srv.cfg.market
        return OrderSpec(
            exchange=m.code,
            code=code,
            side=side,
            style="Market",
            type=type_,
            limit_price=price,
            quantity=Decimal(qty),
            hidden_quantity=None,
            minimum_quantity=None,
            validity=validity,
            expiry_date=None,
            short_type=None,
            instructions=(),
            route={"Algorithm": "Market", "Market": m.trading_market},
        )

    def quote(self, code: str) -> None:
        """Bring the maker's ladder on ``code`` back to one order per tick, ``levels`` deep each side."""
        engine, srv = self.srv.engine, self.srv
        fair = self.fair[code]
        tick = self._tick_size(code, fair)
        wanted = {(BID, fair - k * tick) for k in range(1, self.cfg.levels + 1) if fair - k * tick > 0}
        wanted |= {(ASK, fair + k * tick) for k in range(1, self.cfg.levels + 1)}
        quotes = self.quotes[code]
        for key, o in list(quotes.items()):
            if o.status not in OPEN_STATUSES:
                del quotes[key]
            elif key not in wanted:
                del quotes[key]
                _, step = engine.cancel(self.maker, o, "")
                srv.apply_step(step)
        lot = int(engine.symbols[code].cfg.lot_size) or 1
        for side, price in sorted(wanted - quotes.keys()):
            qty = self.rng.randint(self.cfg.min_order_quantity, self.cfg.max_order_quantity)
            qty = max(lot, qty - qty % lot)
            response, step = engine.place(
                self.maker, self._spec(code, side, "Limit", price, qty, "UntilCancel"), ""
            )
            srv.apply_step(step)
            placed = engine.orders.get(response["Order"]["ID"]) if "Order" in response else None
            if placed is not None and placed.on_book:
                quotes[(side, price)] = placed

    def seed_books(self) -> None:
        for code in self.fair:
            self.quote(code)

    def tick(self, seconds: float) -> None:
        codes = list(self.fair)
        for code in codes:
            if self.rng.random() < self.cfg.drift_probability:
                tick = self._tick_size(code, self.fair[code])
                move = tick if self.rng.random() < 0.5 else -tick
                if self.fair[code] + move > tick * 10:
                    self.fair[code] += move
            self.quote(code)
        expected = self.cfg.trades_per_second * seconds
        n = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
        for _ in range(n):
            code = self.rng.choice(codes)
            side = BID if self.rng.random() < 0.5 else ASK
            lot = int(self.srv.engine.symbols[code].cfg.lot_size) or 1
            qty = self.rng.randint(1, max(1, self.cfg.max_trade_quantity // lot)) * lot
            _, step = self.srv.engine.place(
                self.taker, self._spec(code, side, "Market", None, qty, "FillAndKill"), ""
            )
            self.srv.apply_step(step)

    async def run(self) -> None:
        period = self.cfg.tick_seconds
        while True:
            await asyncio.sleep(period)
            self.tick(period)
