"""What a FIX market-data subscriber sees, and the entries that move it from one state to the next.

A *view* is the FIX-level picture of one instrument for one request shape: the bid and offer
rows down to the requested depth plus the requested statistics. Snapshots (35=W) list a view;
incremental refreshes (35=X) are the diff between two views, so a book limited to the top N
levels gets exactly the deletes and news needed when levels move in or out of the top N, and a
slow reader can be caught up by diffing the view it last received against the current one
(conflation: latest state per level).

Diff order within a side follows FIX position semantics (MDEntryPositionNo, 290): deletes first,
from the deepest old position up, so every position is valid when applied; then news in
ascending new position (each lands where it belongs because everything above it is already in
place); then changes with their final position. An order whose price or queue position changed
is a delete plus a new (it lost priority; FIX clients re-insert it), never a change.

Statistics come from the Zenith ``Security`` record (§4.11): Open -> 4, Close (yesterday's close,
per the spec) -> 5, Settlement -> 6, High -> 7, Low -> 8, VWAP -> 9, Volume -> B,
OpenInterest -> C, AuctionPrice/AuctionQuantity -> A (imbalance), Last -> 2 (snapshots only:
after the snapshot, trades come one by one from the ``Trades`` topic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gateway.bridge.marketdata.book import BID, OFFER, BookRow, to_decimal

__all__ = [
    "BOOK_TYPES",
    "STAT_TYPES",
    "MDEntry",
    "MDView",
    "build_view",
    "diff_views",
    "parse_zenith_time",
    "snapshot_entries",
    "stats_from_security",
    "trade_entries",
]

NEW, CHANGE, DELETE = "0", "1", "2"  # MDUpdateAction (279)
TRADE = "2"
BOOK_TYPES = frozenset({BID, OFFER})
# MDEntryType -> (price field, size field) of the Zenith Security record.
STAT_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "4": ("Open", None),
    "5": ("Close", None),
    "6": ("Settlement", None),
    "7": ("High", None),
    "8": ("Low", None),
    "9": ("VWAP", None),
    "A": ("AuctionPrice", "AuctionQuantity"),
    "B": (None, "Volume"),
    "C": (None, "OpenInterest"),
}
STAT_TYPES = frozenset(STAT_FIELDS)


@dataclass(frozen=True, slots=True)
class MDEntry:
    """One NoMDEntries(268) entry, version-neutral; the message builders pick the tags."""

    entry_type: str  # MDEntryType 269
    price: Decimal | None = None  # MDEntryPx 270
    size: Decimal | None = None  # MDEntrySize 271
    action: str | None = None  # MDUpdateAction 279 (incremental only)
    entry_id: str | None = None  # MDEntryID 278 (orders, trades)
    order_id: str | None = None  # OrderID 37 (order-by-order: carries the ID in 4.2/4.4 W)
    position: int | None = None  # MDEntryPositionNo 290
    num_orders: int | None = None  # NumberOfOrders 346
    when: datetime | None = None  # MDEntryDate 272 / MDEntryTime 273 (UTC)


@dataclass(frozen=True, slots=True)
class MDView:
    """Immutable picture of one instrument for one request shape."""

    bids: tuple[BookRow, ...] = ()
    offers: tuple[BookRow, ...] = ()
    stats: tuple[MDEntry, ...] = ()  # sorted by entry_type, at most one per type


EMPTY_VIEW = MDView()


def stats_from_security(security: Mapping[str, Any], entry_types: Iterable[str]) -> tuple[MDEntry, ...]:
    """Statistics entries present in ``security`` for the requested types, sorted by type."""
    out: list[MDEntry] = []
    for entry_type in sorted(set(entry_types) & STAT_TYPES):
        price_field, size_field = STAT_FIELDS[entry_type]
        price = to_decimal(security.get(price_field)) if price_field else None
        size = to_decimal(security.get(size_field)) if size_field else None
        if price is None and size is None:
            continue
        if entry_type in ("B", "C") and not size:
            # Volume/OpenInterest default to 0 (§4.11): a zero adds nothing a client can use.
            continue
        out.append(MDEntry(entry_type, price=price, size=size))
    return tuple(out)


def build_view(
    bids: Iterable[BookRow],
    offers: Iterable[BookRow],
    security: Mapping[str, Any] | None,
    entry_types: frozenset[str],
) -> MDView:
    """The view of a book (already cut to depth by the caller) plus statistics."""
    return MDView(
        bids=tuple(r for r in bids if r.price is not None) if BID in entry_types else (),
        offers=tuple(r for r in offers if r.price is not None) if OFFER in entry_types else (),
        stats=stats_from_security(security or {}, entry_types),
    )


def _row_entry(row: BookRow, position: int, action: str | None, order_by_order: bool) -> MDEntry:
    return MDEntry(
        row.side,
        price=row.price,
        size=row.size,
        action=action,
        entry_id=row.key if order_by_order else None,
        order_id=row.order_id if order_by_order else None,
        position=position,
        num_orders=None if order_by_order else row.num_orders,
    )


def snapshot_entries(
    view: MDView,
    order_by_order: bool,
    last: Mapping[str, Any] | None,
    entry_types: frozenset[str],
) -> list[MDEntry]:
    """Entries of a full refresh: bids, offers, statistics, then the last trade (Security Last)."""
    out = [_row_entry(r, i, None, order_by_order) for i, r in enumerate(view.bids, 1)]
    out += [_row_entry(r, i, None, order_by_order) for i, r in enumerate(view.offers, 1)]
    out += list(view.stats)
    if TRADE in entry_types and last is not None:
        price = to_decimal(last.get("Last"))
        if price is not None:
            out.append(MDEntry(TRADE, price=price))
    return out


def _diff_side(old: tuple[BookRow, ...], new: tuple[BookRow, ...], order_by_order: bool) -> list[MDEntry]:
    # Books keep a row object until it changes, so the unchanged head and tail of a side are the
    # very same objects: skip them by identity and diff only the window in between (an order
    # book event usually touches one row). Positions stay global: the head is untouched and the
    # tail keeps its relative order, so deletes/news inside the window are valid as emitted.
    n_old, n_new = len(old), len(new)
    lo = 0
    while lo < n_old and lo < n_new and old[lo] is new[lo]:
        lo += 1
    hi_old, hi_new = n_old, n_new
    while hi_old > lo and hi_new > lo and old[hi_old - 1] is new[hi_new - 1]:
        hi_old -= 1
        hi_new -= 1
    if lo == hi_old and lo == hi_new:
        return []
    old_w, new_w = old[lo:hi_old], new[lo:hi_new]
    new_by_key = {r.key: r for r in new_w}
    retained: dict[str, BookRow] = {}
    for r in old_w:
        hit = new_by_key.get(r.key)
        if hit is not None and hit.price == r.price and hit.rank == r.rank:
            retained[r.key] = r
    out: list[MDEntry] = []
    # Deletes, deepest first.
    for i in range(len(old_w), 0, -1):
        r = old_w[i - 1]
        if r.key not in retained:
            out.append(
                MDEntry(
                    r.side,
                    price=r.price,
                    action=DELETE,
                    entry_id=r.key if order_by_order else None,
                    order_id=r.order_id if order_by_order else None,
                    position=lo + i,
                )
            )
    # News, shallowest first; then changes of retained rows at their final position.
    changes: list[MDEntry] = []
    for i, r in enumerate(new_w, lo + 1):
        before = retained.get(r.key)
        if before is None:
            out.append(_row_entry(r, i, NEW, order_by_order))
        elif before.size != r.size or before.num_orders != r.num_orders:
            changes.append(_row_entry(r, i, CHANGE, order_by_order))
    return out + changes


def _diff_stats(old: tuple[MDEntry, ...], new: tuple[MDEntry, ...]) -> list[MDEntry]:
    if old == new:
        return []
    before = {e.entry_type: e for e in old}
    after = {e.entry_type: e for e in new}
    out: list[MDEntry] = []
    for entry_type in sorted(before.keys() | after.keys()):
        a, b = before.get(entry_type), after.get(entry_type)
        if a == b:
            continue
        if b is None:
            assert a is not None
            out.append(MDEntry(entry_type, price=a.price, action=DELETE))
        else:
            out.append(MDEntry(entry_type, price=b.price, size=b.size, action=NEW if a is None else CHANGE))
    return out


def diff_views(old: MDView, new: MDView, order_by_order: bool) -> list[MDEntry]:
    """Incremental entries that turn a subscriber's ``old`` view into ``new`` (empty: no change)."""
    return (
        _diff_side(old.bids, new.bids, order_by_order)
        + _diff_side(old.offers, new.offers, order_by_order)
        + _diff_stats(old.stats, new.stats)
    )


def parse_zenith_time(text: str) -> datetime:
    """Zenith DateTime (§3.2: basic or extended ISO-8601, optional offset) -> aware datetime.

    No offset is read as UTC here (a trade time without offset is rare; the market's offset is
    not known to the bridge)."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def trade_entries(changes: Iterable[Mapping[str, Any]], parse_time: Any = parse_zenith_time) -> list[MDEntry]:
    """Trade (269=2) entries for the ``A`` records of a ``Trades`` publish (§4.14).

    ``I`` markers and ``U`` re-sends carry no new trade. A cancellation arrives as a new ``A``
    with ``Flags`` containing ``Cancel`` and ``RelatedID`` = the original: it becomes a Delete of
    that trade's entry. ``parse_time`` turns the Zenith ``Time`` text into an aware datetime.
    """
    out: list[MDEntry] = []
    for change in changes:
        if change.get("O") != "A":
            continue
        trade = change.get("Trade")
        if not isinstance(trade, Mapping) or "ID" not in trade:
            continue
        flags = {f.strip() for f in str(trade.get("Flags") or "").split(",") if f.strip()}
        when = None
        if parse_time is not None and trade.get("Time"):
            try:
                when = parse_time(str(trade["Time"]))
            except ValueError:
                when = None
        if "Cancel" in flags:
            related = trade.get("RelatedID")
            if related is not None:
                out.append(
                    MDEntry(
                        TRADE,
                        price=to_decimal(trade.get("Price")),
                        action=DELETE,
                        entry_id=str(related),
                        when=when,
                    )
                )
            continue
        if "PlaceHolder" in flags:
            continue
        price = to_decimal(trade.get("Price"))
        if price is None:
            continue
        out.append(
            MDEntry(
                TRADE,
                price=price,
                size=to_decimal(trade.get("Quantity")),
                action=NEW,
                entry_id=str(trade["ID"]),
                when=when,
            )
        )
    return out
