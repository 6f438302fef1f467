"""One security's order book with price-time priority, emitting Depth and Levels change records.

Pure data structure, no I/O. Each price level keeps its orders in a dict (insertion order = time
priority; O(1) removal and move-to-back). Prices per side live in an ascending list kept sorted with
bisect. Every mutation appends wire-shaped change records (spec §4.12 Depth, §4.13 Levels) to the
``depth`` and ``levels`` lists of the sink it is given, so the server can publish exactly what changed.

Position (spec §4.12) is a per-book increasing sequence: ascending within a price, not contiguous;
an order that loses priority simply takes a new, higher sequence number.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

__all__ = ["ASK", "BID", "Book", "BookOrder", "Level", "Sink"]

BID = "Bid"
ASK = "Ask"
ZERO = Decimal(0)


class BookOrder(Protocol):
    depth_id: str
    side: str
    price: Decimal
    display: Decimal  # visible quantity in the book
    hidden: Decimal  # undisclosed remainder (iceberg)
    position: int


class Sink(Protocol):
    depth: list[dict[str, Any]]
    levels: list[dict[str, Any]]


@dataclass(slots=True)
class Level:
    id: str
    side: str
    price: Decimal
    orders: dict[str, Any] = field(default_factory=dict)  # depth_id -> order, in time priority
    volume: Decimal = ZERO
    hidden_orders: int = 0

    def first(self) -> Any:
        return next(iter(self.orders.values()))


class Book:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._levels: dict[str, dict[Decimal, Level]] = {BID: {}, ASK: {}}
        self._prices: dict[str, list[Decimal]] = {BID: [], ASK: []}  # ascending
        self._seq = 0
        self.orders: dict[str, Any] = {}  # depth_id -> order

    # ------------------------------------------------------------------ queries

    def best(self, side: str) -> Level | None:
        prices = self._prices[side]
        if not prices:
            return None
        return self._levels[side][prices[-1] if side == BID else prices[0]]

    def levels(self, side: str) -> Iterator[Level]:
        """Levels of one side, best first."""
        prices = self._prices[side]
        ordered = reversed(prices) if side == BID else iter(prices)
        table = self._levels[side]
        for p in list(ordered):
            level = table.get(p)
            if level is not None:
                yield level

    def available(self, side: str, limit: Decimal | None) -> Decimal:
        """Visible + hidden quantity on ``side`` that an aggressor limited by ``limit`` can reach."""
        total = ZERO
        for level in self.levels(side):
            if limit is not None and (level.price > limit if side == ASK else level.price < limit):
                break
            for o in level.orders.values():
                total += o.display + o.hidden
        return total

    def crossed(self) -> bool:
        bid, ask = self.best(BID), self.best(ASK)
        return bid is not None and ask is not None and bid.price >= ask.price

    def depth_snapshot(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"O": "C"}]
        for side in (BID, ASK):
            for level in self.levels(side):
                out.extend({"O": "A", "Order": _depth_add(o)} for o in level.orders.values())
        return out

    def levels_snapshot(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"O": "C"}]
        for side in (BID, ASK):
            out.extend({"O": "A", "Level": _level_add(level)} for level in self.levels(side))
        return out

    # ------------------------------------------------------------------ mutations

    def insert(self, o: Any, sink: Sink) -> None:
        """Add ``o`` at the back of its level (``price``, ``side``, ``display``, ``hidden`` already set)."""
        self._seq += 1
        o.position = self._seq
        level = self._levels[o.side].get(o.price)
        if level is None:
            level = Level(self._new_id(), o.side, o.price)
            self._levels[o.side][o.price] = level
            insort(self._prices[o.side], o.price)
            new_level = True
        else:
            new_level = False
        had_hidden = level.hidden_orders > 0
        level.orders[o.depth_id] = o
        level.volume += o.display
        if o.hidden > 0:
            level.hidden_orders += 1
        self.orders[o.depth_id] = o
        sink.depth.append({"O": "A", "Order": _depth_add(o)})
        if new_level:
            sink.levels.append({"O": "A", "Level": _level_add(level)})
        else:
            sink.levels.append({"O": "U", "Level": _level_update(level, had_hidden)})

    def remove(self, o: Any, sink: Sink) -> None:
        level = self._levels[o.side][o.price]
        had_hidden = level.hidden_orders > 0
        del level.orders[o.depth_id]
        del self.orders[o.depth_id]
        level.volume -= o.display
        if o.hidden > 0:
            level.hidden_orders -= 1
        sink.depth.append({"O": "R", "Order": {"ID": o.depth_id}})
        if level.orders:
            sink.levels.append({"O": "U", "Level": _level_update(level, had_hidden)})
        else:
            self._drop_level(level)
            sink.levels.append({"O": "R", "Level": {"ID": level.id}})

    def resize(self, o: Any, display: Decimal, hidden: Decimal, requeue: bool, sink: Sink) -> None:
        """Change visible/hidden quantity in place; ``requeue`` moves it to the back (priority lost)."""
        level = self._levels[o.side][o.price]
        had_hidden = level.hidden_orders > 0
        was_hidden = o.hidden > 0
        level.volume += display - o.display
        o.display, o.hidden = display, hidden
        if was_hidden != (hidden > 0):
            level.hidden_orders += 1 if hidden > 0 else -1
        change: dict[str, Any] = {"ID": o.depth_id, "Quantity": display}
        if was_hidden != (hidden > 0):
            change["HasUndisclosed"] = hidden > 0
        if requeue:
            self._seq += 1
            o.position = self._seq
            del level.orders[o.depth_id]
            level.orders[o.depth_id] = o
            change["Position"] = o.position
        sink.depth.append({"O": "U", "Order": change})
        sink.levels.append({"O": "U", "Level": _level_update(level, had_hidden)})

    def reprice(self, o: Any, price: Decimal, display: Decimal, hidden: Decimal, sink: Sink) -> None:
        """Move ``o`` to a new price (back of that queue); one Depth ``U`` with Price, Position, Quantity."""
        old = self._levels[o.side][o.price]
        old_had_hidden = old.hidden_orders > 0
        del old.orders[o.depth_id]
        old.volume -= o.display
        if o.hidden > 0:
            old.hidden_orders -= 1
        if old.orders:
            sink.levels.append({"O": "U", "Level": _level_update(old, old_had_hidden)})
        else:
            self._drop_level(old)
            sink.levels.append({"O": "R", "Level": {"ID": old.id}})
        was_hidden = o.hidden > 0
        o.price, o.display, o.hidden = price, display, hidden
        self._seq += 1
        o.position = self._seq
        level = self._levels[o.side].get(price)
        if level is None:
            level = Level(self._new_id(), o.side, price)
            self._levels[o.side][price] = level
            insort(self._prices[o.side], price)
            new_level = True
        else:
            new_level = False
        had_hidden = level.hidden_orders > 0
        level.orders[o.depth_id] = o
        level.volume += display
        if hidden > 0:
            level.hidden_orders += 1
        change: dict[str, Any] = {
            "ID": o.depth_id,
            "Price": price,
            "Position": o.position,
            "Quantity": display,
        }
        if was_hidden != (hidden > 0):
            change["HasUndisclosed"] = hidden > 0
        sink.depth.append({"O": "U", "Order": change})
        if new_level:
            sink.levels.append({"O": "A", "Level": _level_add(level)})
        else:
            sink.levels.append({"O": "U", "Level": _level_update(level, had_hidden)})

    def _drop_level(self, level: Level) -> None:
        del self._levels[level.side][level.price]
        prices = self._prices[level.side]
        del prices[bisect_left(prices, level.price)]


def _depth_add(o: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "ID": o.depth_id,
        "Side": o.side,
        "Price": o.price,
        "Position": o.position,
        "Quantity": o.display,
    }
    if o.hidden > 0:
        d["HasUndisclosed"] = True
    return d


def _level_add(level: Level) -> dict[str, Any]:
    d: dict[str, Any] = {
        "ID": level.id,
        "Side": level.side,
        "Price": level.price,
        "Volume": level.volume,
        "Count": len(level.orders),
    }
    if level.hidden_orders:
        d["HasUndisclosed"] = True
    return d


def _level_update(level: Level, had_hidden: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"ID": level.id, "Volume": level.volume, "Count": len(level.orders)}
    if had_hidden != (level.hidden_orders > 0):
        d["HasUndisclosed"] = level.hidden_orders > 0
    return d
