"""BOOK EQUIVALENCE: a FIX client that applies W + X ends with exactly the simulator's book.

Real simulator (seeded market maker and taker ticking), real gateway, QuickFIX initiators with
the standard data dictionaries (so a malformed message would be rejected by the client and the
books would not converge). For each FIX version: order-by-order full depth (Zenith Depth),
aggregated full depth (Zenith Levels), aggregated top 3, aggregated top 5 in full-refresh
mode (265=0: a W per change), and a multi-symbol request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.fix.testing import FixTestClient
from tests.marketdata.fixbook import expected_depth, expected_levels
from tests.marketdata.mdhelpers import Feed, FixBook, Market, wait_until

VERSIONS = [
    ("FIX.4.4", "CLIENT1", None),
    ("FIX.4.2", "CLIENT2", None),
    ("FIXT.1.1", "CLIENT3", "FIX.5.0SP2"),
]


def md_request(
    req_id: str,
    symbols: list[str],
    *,
    aggregated: bool,
    depth: int = 0,
    types: str = "0127",
    update_type: str = "1",
) -> list[tuple[int, str]]:
    fields = [
        (262, req_id),
        (263, "1"),
        (264, str(depth)),
        (265, update_type),
        (266, "Y" if aggregated else "N"),
        (267, str(len(types))),
    ]
    fields += [(269, t) for t in types]
    fields.append((146, str(len(symbols))))
    for symbol in symbols:
        fields += [(55, symbol), (207, "XSX")]
    return fields


@pytest.mark.parametrize(("begin", "sender", "appl_ver"), VERSIONS)
def test_book_equivalence_all_views(
    market: Market, gateway_factory, tmp_path: Path, begin: str, sender: str, appl_ver: str | None
) -> None:
    gw = gateway_factory()
    types = "01" if begin == "FIX.4.2" else "0127"
    with FixTestClient(begin, sender, "PLXTRA", gw.port, tmp_path, default_appl_ver_id=appl_ver) as client:
        client.wait_logged_on(timeout=10)
        books = {
            "ob": FixBook(order_by_order=True),
            "lv": FixBook(order_by_order=False),
            "top": FixBook(order_by_order=False),
            "multi": FixBook(order_by_order=False),
            "full": FixBook(order_by_order=False),
        }
        feed = Feed(client, books)
        client.send("V", md_request("ob", ["XS01"], aggregated=False, types=types))
        client.send("V", md_request("lv", ["XS01"], aggregated=True, types=types))
        client.send("V", md_request("top", ["XS01"], aggregated=True, depth=3, types="01"))
        client.send("V", md_request("multi", ["XS02", "XS03.XSX"], aggregated=True, types="01"))
        client.send("V", md_request("full", ["XS01"], aggregated=True, depth=5, types="01", update_type="0"))
        for req in ("ob", "lv", "top"):
            client.expect("W", timeout=10, where={262: req})
        wait_until(lambda: (feed.pump(), books["multi"].snapshots == 2)[1], 10, "two multi-symbol snapshots")

        market.tick(60)  # N simulator events: re-quotes, drifts and trades

        depth = market.query("QueryDepthFull", {"Market": "XSX", "Code": "XS01"})
        levels = market.query("QueryDepthLevels", {"Market": "XSX", "Code": "XS01"})
        want = {
            ("ob", "XS01"): expected_depth(depth),
            ("lv", "XS01"): expected_levels(levels),
            ("top", "XS01"): expected_levels(levels, depth=3),
            ("full", "XS01"): expected_levels(levels, depth=5),
        }
        for code in ("XS02", "XS03"):
            want[("multi", code)] = expected_levels(
                market.query("QueryDepthLevels", {"Market": "XSX", "Code": code})
            )
        assert all(w["0"] and w["1"] for w in want.values()), "the seeded market has both sides"

        def converged() -> bool:
            feed.pump()
            return all(books[req].book(req, code) == w for (req, code), w in want.items())

        try:
            wait_until(converged, 10, "FIX books equal to the simulator's")
        finally:
            rejects = [m for m in client.admin if m.msg_type == "3"]
            assert rejects == [], f"client rejected messages: {rejects[:3]}"
        assert books["ob"].incrementals > 0 and books["lv"].incrementals > 0
        assert books["full"].incrementals == 0 and books["full"].snapshots > 1  # 265=0: a W per change
        if begin == "FIXT.1.1":
            assert books["ob"].rpt_seq[("ob", "XS01")] > 1  # RptSeq advanced with the X stream
        if "2" in types:
            assert books["lv"].trades or books["lv"].stats.get(("lv", "XS01"), {}).get("2")
