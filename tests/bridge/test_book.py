"""Order-by-order and level books from Zenith Depth / Levels change lists (spec §4.12, §4.13)."""

from __future__ import annotations

import random
from decimal import Decimal as D

from gateway.bridge.marketdata.book import BID, OFFER, LevelBook, OrderBook
from gateway.bridge.marketdata.view import MDView, build_view, diff_views


def _add(oid: str, side: str, price: str, qty: str, pos: int) -> dict:
    return {
        "O": "A",
        "Order": {"ID": oid, "Side": side, "Price": D(price), "Quantity": D(qty), "Position": pos},
    }


def test_depth_snapshot_sorts_by_price_then_position() -> None:
    book = OrderBook()
    book.apply(
        [
            {"O": "C"},
            _add("b1", "Bid", "10.00", "100", 5),
            _add("b2", "Bid", "10.10", "50", 9),
            _add("b3", "Bid", "10.00", "70", 2),
            _add("a1", "Ask", "10.30", "10", 1),
            _add("a2", "Ask", "10.20", "20", 4),
        ]
    )
    assert [r.key for r in book.rows(BID)] == ["b2", "b3", "b1"]  # best bid first, then queue position
    assert [r.key for r in book.rows(OFFER)] == ["a2", "a1"]
    assert [r.key for r in book.rows(BID, depth=2)] == ["b2", "b3"]


def test_depth_update_moves_and_resizes_and_remove() -> None:
    book = OrderBook()
    book.apply([{"O": "C"}, _add("b1", "Bid", "10.00", "100", 1), _add("b2", "Bid", "10.00", "50", 2)])
    # Price amended: new price and back of queue; quantity change keeps the rest.
    book.apply(
        [
            {"O": "U", "Order": {"ID": "b1", "Price": D("9.90"), "Position": 3}},
            {"O": "U", "Order": {"ID": "b2", "Quantity": D("40")}},
        ]
    )
    rows = book.rows(BID)
    assert [(r.key, r.price, r.size) for r in rows] == [
        ("b2", D("10.00"), D("40")),
        ("b1", D("9.90"), D("100")),
    ]
    book.apply([{"O": "R", "Order": {"ID": "b2"}}])
    assert [r.key for r in book.rows(BID)] == ["b1"]
    book.apply([{"O": "R", "Order": {"ID": "nope"}}])
    assert book.anomalies == 1
    book.apply([{"O": "C"}])
    assert len(book) == 0


def test_levels_apply_and_sort_with_null_price_last() -> None:
    book = LevelBook()
    book.apply(
        [
            {"O": "C"},
            {
                "O": "A",
                "Level": {"ID": "1", "Side": "Bid", "Price": D("10.0"), "Volume": D("300"), "Count": 2},
            },
            {
                "O": "A",
                "Level": {"ID": "2", "Side": "Bid", "Price": D("10.1"), "Volume": D("100"), "Count": 1},
            },
            {"O": "A", "Level": {"ID": "3", "Side": "Bid", "Price": None, "Volume": D("900"), "Count": 9}},
            {"O": "A", "Level": {"ID": "4", "Side": "Ask", "Price": D("10.3"), "Volume": D("5"), "Count": 1}},
        ]
    )
    assert [r.key for r in book.rows(BID)] == ["10.1", "10", "*"]
    book.apply(
        [{"O": "U", "Level": {"ID": "1", "Volume": D("250"), "Count": 1}}, {"O": "R", "Level": {"ID": "2"}}]
    )
    rows = book.rows(BID)
    assert (rows[0].key, rows[0].size, rows[0].num_orders) == ("10", D("250"), 1)
    assert [r.key for r in book.rows(OFFER)] == ["10.3"]


def _apply_fix(book: dict[str, list], entries) -> None:
    """A FIX client's position-based book: apply X entries in order using MDEntryPositionNo."""
    for e in entries:
        side = book.setdefault(e.entry_type, [])
        i = e.position - 1
        if e.action == "2":
            del side[i]
        elif e.action == "0":
            side.insert(i, (e.price, e.size))
        else:
            assert side[i][0] == e.price
            side[i] = (e.price, e.size)


def test_top_n_diff_by_position_matches_new_view_randomised() -> None:
    """Random level books: applying diff_views by position turns the old top-N into the new top-N."""
    rng = random.Random(11)
    book = LevelBook()
    ids = 0
    for depth in (1, 3, 0):
        fix: dict[str, list] = {}
        old = MDView()
        for _step in range(300):
            changes = []
            for _ in range(rng.randint(1, 3)):
                op = rng.random()
                live = [r for s in (BID, OFFER) for r in book.rows(s)]
                if op < 0.5 or not live:
                    ids += 1
                    side = rng.choice(["Bid", "Ask"])
                    price = D(rng.randint(90, 110)) / 10
                    if any(r.price == price and r.side == (BID if side == "Bid" else OFFER) for r in live):
                        continue
                    changes.append(
                        {
                            "O": "A",
                            "Level": {
                                "ID": str(ids),
                                "Side": side,
                                "Price": price,
                                "Volume": D(rng.randint(1, 9) * 100),
                                "Count": 1,
                            },
                        }
                    )
                else:
                    zid = rng.choice(list(book._rows))
                    if op < 0.75:
                        changes.append({"O": "U", "Level": {"ID": zid, "Volume": D(rng.randint(1, 9) * 100)}})
                    else:
                        changes.append({"O": "R", "Level": {"ID": zid}})
                book.apply(changes[-1:])
            new = build_view(book.rows(BID, depth), book.rows(OFFER, depth), None, frozenset({BID, OFFER}))
            _apply_fix(fix, diff_views(old, new, order_by_order=False))
            assert fix.get(BID, []) == [(r.price, r.size) for r in new.bids]
            assert fix.get(OFFER, []) == [(r.price, r.size) for r in new.offers]
            old = new


def test_order_by_order_price_change_is_delete_plus_new() -> None:
    book = OrderBook()
    book.apply([{"O": "C"}, _add("x", "Bid", "10", "100", 1), _add("y", "Bid", "10", "100", 2)])
    old = build_view(book.rows(BID), book.rows(OFFER), None, frozenset({BID}))
    book.apply(
        [
            {"O": "U", "Order": {"ID": "x", "Price": D("9.5"), "Position": 7}},
            {"O": "U", "Order": {"ID": "y", "Quantity": D("60")}},
        ]
    )
    new = build_view(book.rows(BID), book.rows(OFFER), None, frozenset({BID}))
    entries = diff_views(old, new, order_by_order=True)
    assert [(e.action, e.entry_id, e.position) for e in entries] == [
        ("2", "x", 1),
        ("0", "x", 2),
        ("1", "y", 1),
    ]
    assert entries[1].order_id == "x" and entries[1].price == D("9.5")
