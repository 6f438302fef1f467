"""Local order books built from Zenith ``Depth`` and ``Levels`` change lists (spec §4.12, §4.13, §1.9).

No I/O: feed each publish's ``Data`` (a list of change objects, JSON with Decimal numbers) to
:meth:`OrderBook.apply` or :meth:`LevelBook.apply`, then read a side with :meth:`rows`. The first
publish of a subscription is ``C`` followed by ``A``s (§8 item 9); a ``C`` may also arrive at any
time as a resynchronisation and is followed by the full state again.

Sorting (§8 item 29): bids by price descending, asks by price ascending, then the order's
``Position`` ascending (not an index, not contiguous), then the ID so that the order is total and
a diff between two sorted views is deterministic. A level whose ``Price`` is ``null`` (the
aggregate of all remaining price points, §4.13) sorts after every priced level.

A ``U`` carries the key plus changed fields only; a price amendment also carries a new
``Position`` (back of the queue). Changes for unknown IDs are ignored and counted in
``anomalies`` rather than raised: a feed glitch must not cost the whole book, and the caller can
request a fresh snapshot when the count moves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from gateway.zenith.values import to_decimal

__all__ = ["BID", "OFFER", "BookRow", "LevelBook", "OrderBook", "to_decimal"]

BID = "0"  # MDEntryType Bid: the side keys are the FIX wire values
OFFER = "1"  # MDEntryType Offer

_SIDES = {"Bid": BID, "B": BID, "Ask": OFFER, "A": OFFER, "S": OFFER}  # §3.9: accept B/A/S leniently


def _to_int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class BookRow:
    """One book entry: an order (Depth) or a price level (Levels).

    ``key`` identifies the row for FIX diffs: the Zenith order ID for orders, the price text for
    levels (FIX aggregated books are keyed by side and price). ``rank`` is the Zenith queue
    ``Position`` for orders (None for levels). ``size`` None means undisclosed / unavailable.
    """

    key: str
    side: str
    price: Decimal | None
    size: Decimal | None
    rank: int | None = None
    num_orders: int | None = None
    order_id: str | None = None


def _sort_key(row: BookRow, side: str) -> tuple[int, Decimal, int, str]:
    if row.price is None:
        return (1, Decimal(0), 0, row.key)
    price = -row.price if side == BID else row.price
    return (0, price, row.rank if row.rank is not None else 0, row.key)


class _Book:
    """Shared machinery: rows by ID per side, with a lazily re-sorted cache per side."""

    def __init__(self) -> None:
        self._rows: dict[str, BookRow] = {}  # Zenith ID -> row
        self._sorted: dict[str, list[BookRow] | None] = {BID: None, OFFER: None}
        self.anomalies = 0

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()
        self._sorted = {BID: None, OFFER: None}

    def rows(self, side: str, depth: int = 0) -> list[BookRow]:
        """Rows of ``side`` in book order; ``depth`` > 0 keeps only the first ``depth``."""
        cached = self._sorted[side]
        if cached is None:
            same_side = (r for r in self._rows.values() if r.side == side)
            cached = sorted(same_side, key=lambda r: _sort_key(r, side))
            self._sorted[side] = cached
        return cached[:depth] if depth > 0 else list(cached)

    def _touch(self, side: str) -> None:
        self._sorted[side] = None

    def _put(self, zid: str, row: BookRow) -> None:
        old = self._rows.get(zid)
        if old is not None and old.side != row.side:
            self._touch(old.side)
        self._rows[zid] = row
        self._touch(row.side)

    def _remove(self, zid: str) -> None:
        old = self._rows.pop(zid, None)
        if old is None:
            self.anomalies += 1
        else:
            self._touch(old.side)

    # The A/U/R/C change list (§1.9) is the same for Depth and Levels; the subclasses say which
    # key carries the item (``_item``) and how an addition / update becomes a row.
    _item = ""

    def _added(self, zid: str, side: str, item: Mapping[str, Any]) -> BookRow:
        raise NotImplementedError

    def _updated(self, row: BookRow, item: Mapping[str, Any]) -> BookRow:
        raise NotImplementedError

    def apply(self, changes: Iterable[Mapping[str, Any]]) -> None:
        """Apply one publish's change list in order; malformed changes count as ``anomalies``."""
        for change in changes:
            op = change.get("O")
            if op == "C":
                self.clear()
                continue
            item = change.get(self._item)
            if not isinstance(item, Mapping) or "ID" not in item:
                self.anomalies += 1
                continue
            zid = str(item["ID"])
            if op == "A":
                side = _SIDES.get(str(item.get("Side")))
                if side is None:
                    self.anomalies += 1
                else:
                    self._put(zid, self._added(zid, side, item))
            elif op == "U":
                old = self._rows.get(zid)
                if old is None:
                    self.anomalies += 1
                    continue
                row = self._updated(old, item)
                if row != old:
                    self._put(zid, row)
            elif op == "R":
                self._remove(zid)
            else:
                self.anomalies += 1


class OrderBook(_Book):
    """Order-by-order book from ``Depth!{Code}.{Market}`` / ``QueryDepthFull`` (spec §4.12)."""

    _item = "Order"

    def _added(self, zid: str, side: str, order: Mapping[str, Any]) -> BookRow:
        return BookRow(
            key=zid,
            side=side,
            price=to_decimal(order.get("Price")),
            size=to_decimal(order.get("Quantity")),
            rank=_to_int(order.get("Position")),
            num_orders=1,
            order_id=zid,
        )

    def _updated(self, row: BookRow, order: Mapping[str, Any]) -> BookRow:
        # A U carries only what changed (§8.29): a price amendment also moves the queue position.
        if "Price" in order:
            row = replace(row, price=to_decimal(order["Price"]))
        if "Position" in order:
            row = replace(row, rank=_to_int(order["Position"]))
        if "Quantity" in order:
            row = replace(row, size=to_decimal(order["Quantity"]))
        return row


class LevelBook(_Book):
    """Aggregated price levels from ``Levels!{Code}.{Market}`` / ``QueryDepthLevels`` (spec §4.13).

    Zenith gives each level an ID and sends the price only on ``A``; rows are keyed for FIX by
    their price text (``"*"`` for the null-price remainder level).
    """

    _item = "Level"

    def _added(self, zid: str, side: str, level: Mapping[str, Any]) -> BookRow:
        price = to_decimal(level.get("Price"))
        return BookRow(
            key=_price_key(price),
            side=side,
            price=price,
            size=to_decimal(level.get("Volume")),
            num_orders=_to_int(level.get("Count")),
        )

    def _updated(self, row: BookRow, level: Mapping[str, Any]) -> BookRow:
        if "Volume" in level:
            row = replace(row, size=to_decimal(level["Volume"]))
        if "Count" in level:
            row = replace(row, num_orders=_to_int(level["Count"]))
        return row


def _price_key(price: Decimal | None) -> str:
    if price is None:
        return "*"
    # Normalised text so that 10.5 and 10.50 name the same level.
    text = format(price.normalize(), "f")
    return text
