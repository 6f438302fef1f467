"""A FIX market-data client's own book, built only from the W and X messages it receives.

Independent of the gateway's bridge on purpose: entries are applied by MDUpdateAction and
MDEntryPositionNo (290) exactly as a counterparty would, and every change/delete is checked to
name the entry that sits at that position. The expected side of a comparison is built from the
simulator's ``QueryDepthFull`` / ``QueryDepthLevels`` answers with the spec's sort rule (§8 item 29).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

__all__ = ["FixBook", "entries_of", "expected_depth", "expected_levels"]

Row = tuple[Any, ...]


def entries_of(
    fields: Iterable[tuple[int, str]], msg_type: str
) -> tuple[dict[int, str], list[dict[int, str]]]:
    """(top-level fields, NoMDEntries entries) of a W or X, in wire order."""
    top: dict[int, str] = {}
    entries: list[dict[int, str]] = []
    delimiter = 269 if msg_type == "W" else 279
    in_group = False
    for tag, value in fields:
        if tag == 268:
            in_group = True
            continue
        if in_group and tag == delimiter:
            entries.append({})
        if in_group and entries:
            entries[-1][tag] = value
        else:
            top[tag] = value
    return top, entries


class FixBook:
    """Books per (MDReqID, symbol): bid/offer rows in position order, statistics and trades."""

    def __init__(self, order_by_order: bool) -> None:
        self.order_by_order = order_by_order
        self.sides: dict[tuple[str, str], dict[str, list[Row]]] = {}
        self.stats: dict[tuple[str, str], dict[str, dict[int, str]]] = {}
        self.trades: dict[tuple[str, str], list[dict[int, str]]] = {}
        self.rpt_seq: dict[tuple[str, str], int] = {}
        self.snapshots = 0
        self.incrementals = 0

    def _row(self, e: Mapping[int, str]) -> Row:
        size = Decimal(e[271]) if 271 in e else None
        if self.order_by_order:
            return (e.get(278) or e.get(37), Decimal(e[270]), size)
        return (Decimal(e[270]), size, int(e[346]) if 346 in e else None)

    def apply(self, msg: Any) -> None:
        """Apply one received message (anything with ``msg_type`` and ``fields``)."""
        if msg.msg_type not in ("W", "X"):
            return
        top, entries = entries_of(msg.fields, msg.msg_type)
        req_id = top.get(262, "")
        if msg.msg_type == "W":
            self.snapshots += 1
            key = (req_id, top[55])
            self.sides[key] = {"0": [], "1": []}
            self.stats[key] = {}
            for e in entries:
                if e[269] in ("0", "1"):
                    self.sides[key][e[269]].append(self._row(e))
                elif e[269] == "2":
                    self.stats[key]["2"] = e
                else:
                    self.stats[key][e[269]] = e
                if 83 in e:
                    self.rpt_seq[key] = int(e[83])
            return
        self.incrementals += 1
        for e in entries:
            key = (req_id, e[55])
            if 83 in e:
                seq = int(e[83])
                assert seq >= self.rpt_seq.get(key, 0), f"RptSeq went backwards on {key}: {seq}"
                self.rpt_seq[key] = seq
            entry_type = e.get(269)
            action = e[279]
            if entry_type in ("0", "1"):
                side = self.sides.setdefault(key, {"0": [], "1": []})[entry_type]
                pos = int(e[290]) - 1
                if action == "0":
                    assert 0 <= pos <= len(side), f"New at position {pos + 1} of {len(side)}"
                    side.insert(pos, self._row(e))
                    continue
                assert 0 <= pos < len(side), f"{action} at position {pos + 1} of {len(side)} on {key}"
                if self.order_by_order:
                    assert side[pos][0] == (e.get(278) or e.get(37)), f"{e} does not name {side[pos]}"
                else:
                    assert side[pos][0] == Decimal(e[270]), f"{e} does not name {side[pos]}"
                if action == "2":
                    del side[pos]
                else:
                    side[pos] = self._row(e)
            elif entry_type == "2":
                self.trades.setdefault(key, []).append(e)
            elif entry_type is not None:
                stats = self.stats.setdefault(key, {})
                if action == "2":
                    stats.pop(entry_type, None)
                else:
                    stats[entry_type] = e

    def book(self, req_id: str, symbol: str) -> dict[str, list[Row]]:
        return self.sides.get((req_id, symbol), {"0": [], "1": []})


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def expected_depth(changes: Iterable[Mapping[str, Any]], depth: int = 0) -> dict[str, list[Row]]:
    """Sorted order-by-order sides from a QueryDepthFull answer (``C`` then ``A``s)."""
    orders: dict[str, Mapping[str, Any]] = {}
    for ch in changes:
        if ch.get("O") == "C":
            orders.clear()
        elif ch.get("O") == "A":
            orders[str(ch["Order"]["ID"])] = ch["Order"]
    out: dict[str, list[Row]] = {}
    for side, fix_side, sign in (("Bid", "0", -1), ("Ask", "1", 1)):
        rows = [o for o in orders.values() if o.get("Side") == side]
        rows.sort(key=lambda o: (sign * _dec(o["Price"]), int(o.get("Position") or 0), str(o["ID"])))
        cut = rows[:depth] if depth else rows
        out[fix_side] = [(str(o["ID"]), _dec(o["Price"]), _dec(o.get("Quantity"))) for o in cut]
    return out


def expected_levels(changes: Iterable[Mapping[str, Any]], depth: int = 0) -> dict[str, list[Row]]:
    """Sorted level sides from a QueryDepthLevels answer."""
    levels: dict[str, Mapping[str, Any]] = {}
    for ch in changes:
        if ch.get("O") == "C":
            levels.clear()
        elif ch.get("O") == "A":
            levels[str(ch["Level"]["ID"])] = ch["Level"]
    out: dict[str, list[Row]] = {}
    for side, fix_side, sign in (("Bid", "0", -1), ("Ask", "1", 1)):
        rows = [lv for lv in levels.values() if lv.get("Side") == side and lv.get("Price") is not None]
        rows.sort(key=lambda lv: sign * _dec(lv["Price"]))
        cut = rows[:depth] if depth else rows
        out[fix_side] = [
            (
                _dec(lv["Price"]),
                _dec(lv.get("Volume")),
                int(lv["Count"]) if lv.get("Count") is not None else None,
            )
            for lv in cut
        ]
    return out
