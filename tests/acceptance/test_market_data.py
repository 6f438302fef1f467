"""Market data as a partner consumes it: a book kept from W + X equals a fresh snapshot.

Applies MDUpdateAction new/change/delete per price level, then asks for a new snapshot on the
same session (messages on one session are in order, so every X before the W is applied).
Also: unsubscribe (263=2) stops the stream.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from rawfix import Msg

CASES = [("FIX.4.2", "CLIENT2", [], "0"), ("FIX.4.4", "CLIENT1", [], "0"), ("FIX.4.4", "CLIENT1", [], "2"),
         ("FIXT.1.1", "CLIENT3", [(1137, "9")], "0")]


def _groups(m: Msg, first: int) -> list[dict[int, str]]:
    out: list[dict[int, str]] = []
    cur: dict[int, str] | None = None
    for t, v in m.fields:
        if t == first:
            cur = {}
            out.append(cur)
        if cur is not None:
            cur[t] = v
    return out


def _book(w: Msg) -> dict[str, dict[Decimal, Decimal]]:
    book: dict[str, dict[Decimal, Decimal]] = {"0": {}, "1": {}}
    for g in _groups(w, 269):
        book[g[269]][Decimal(g[270])] = Decimal(g[271])
    return book


@pytest.mark.parametrize(("begin", "sender", "extra", "depth"), CASES)
def test_incremental_book_matches_fresh_snapshot(gateway, uid: str, begin: str, sender: str,
                                                 extra: list, depth: str) -> None:
    c = gateway.connect(begin, sender)
    try:
        c.logon(reset=True, extra=extra)
        c.send("V", [(262, f"{uid}-inc"), (263, "1"), (264, depth), (265, "1"), (267, "2"), (269, "0"),
                     (269, "1"), (146, "1"), (55, "XS01"), (207, "XSX")])
        book = _book(c.expect("W", where={262: f"{uid}-inc"}, timeout=10))
        assert book["0"] and book["1"], "empty snapshot on the live simulated market"
        updates, problems = 0, []
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            m = c.next(timeout=0.5)
            if m is None or m.msg_type != "X":
                continue
            assert m[262] == f"{uid}-inc"
            updates += 1
            for g in _groups(m, 279):
                side = g.get(269)
                if side not in book:
                    continue                      # trades etc.
                px = Decimal(g[270])
                action = g[279]
                if action == "0":
                    book[side][px] = Decimal(g[271])
                elif action == "1":
                    if px not in book[side]:
                        problems.append(f"change of unknown level {side}@{px}")
                    book[side][px] = Decimal(g[271])
                elif action == "2":
                    if px not in book[side]:
                        problems.append(f"delete of unknown level {side}@{px}")
                    book[side].pop(px, None)
        c.send("V", [(262, f"{uid}-snap"), (263, "0"), (264, depth), (267, "2"), (269, "0"), (269, "1"),
                     (146, "1"), (55, "XS01"), (207, "XSX")])
        ref = _book(c.expect("W", where={262: f"{uid}-snap"}, timeout=10))
        assert problems == []
        assert book == ref, (updates, book, ref)

        c.send("V", [(262, f"{uid}-inc"), (263, "2"), (264, depth), (267, "2"), (269, "0"), (269, "1"),
                     (146, "1"), (55, "XS01"), (207, "XSX")])
        c.drain(0.7)                                  # updates already on the wire
        late = [m for m in c.drain(1.5) if m.msg_type == "X"]
        assert late == [], f"{len(late)} updates after unsubscribe"
    finally:
        c.close()
