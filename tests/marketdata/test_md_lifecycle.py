"""Market-data lifecycle over real FIX: rejects, unsubscribe, logout releasing Zenith
subscriptions, resynchronisation after the Zenith connection drops, reference data."""

from __future__ import annotations

from pathlib import Path

from gateway.fix.testing import FixTestClient
from tests.marketdata.fixbook import expected_levels
from tests.marketdata.mdhelpers import Feed, FixBook, Market, wait_until
from tests.marketdata.test_md_book_equivalence import md_request


def _v(
    req_id: str,
    *,
    sub: str = "1",
    depth: str = "0",
    types: str = "01",
    symbol: str = "XS01",
    exchange: str | None = "XSX",
) -> list[tuple[int, str]]:
    fields = [(262, req_id), (263, sub), (264, depth), (265, "1"), (266, "Y"), (267, str(len(types)))]
    fields += [(269, t) for t in types]
    fields += [(146, "1"), (55, symbol)]
    if exchange:
        fields.append((207, exchange))
    return fields


def test_rejects_over_fix(market: Market, gateway_factory, tmp_path: Path) -> None:
    gw = gateway_factory()
    with FixTestClient("FIX.4.4", "CLIENT1", "PLXTRA", gw.port, tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("V", _v("ok"))
        c.expect("W", timeout=10, where={262: "ok"})
        c.send("V", _v("ok"))
        assert c.expect("Y", where={262: "ok"}).get(281) == "1"  # duplicate MDReqID
        c.send("V", _v("unknown", symbol="XS99"))
        y = c.expect("Y", timeout=10, where={262: "unknown"})
        assert y.get(281) == "0" and "XS99" in (y.get(58) or "")
        c.send("V", _v("perm", exchange="ASX"))
        assert c.expect("Y", where={262: "perm"}).get(281) == "3"
        c.send("V", _v("depth", depth="-1"))
        assert c.expect("Y", where={262: "depth"}).get(281) == "5"
        c.send("V", _v("types", types="03"))
        assert c.expect("Y", where={262: "types"}).get(281) == "8"
        # Values outside the dictionary's enumeration never reach the service: QuickFIX answers
        # with a session-level Reject (the bridge's 4/6/7 rejects are covered in tests/bridge).
        c.send("V", _v("badsub", sub="7"))
        reject = c.expect("3", timeout=5, admin=True)
        assert reject.get(371) == "263" and reject.get(373) == "5"
        c.send("V", _v("snap", sub="0"))
        c.expect("W", timeout=10, where={262: "snap"})  # snapshot only: one W, then nothing
        c.send("V", _v("nope", sub="2"))
        assert c.expect("Y", where={262: "nope"}).get(58)
        # the rejected unknown symbol left no Zenith subscription behind
        wait_until(lambda: market.subscription_count("Security!XS99.XSX") == 0, 5, "XS99 released")


def test_unsubscribe_stops_updates_and_releases(market: Market, gateway_factory, tmp_path: Path) -> None:
    gw = gateway_factory()
    with FixTestClient("FIX.4.4", "CLIENT1", "PLXTRA", gw.port, tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("V", _v("u1"))
        c.expect("W", timeout=10, where={262: "u1"})
        assert market.subscription_count("Levels!XS01.XSX") == 1
        c.send("V", [(262, "u1"), (263, "2"), (264, "0"), (267, "1"), (269, "0"), (146, "1"), (55, "XS01")])
        wait_until(lambda: market.subscription_count("Levels!XS01.XSX") == 0, 5, "Levels released")
        seen = len(c.received)
        market.tick(20)
        c.expect_none("X", within=1.0, where={262: "u1"})
        assert all(m.msg_type != "X" for m in c.received[seen:])


def test_logout_releases_shared_zenith_subscriptions(market: Market, gateway_factory, tmp_path: Path) -> None:
    gw = gateway_factory()
    c1 = FixTestClient("FIX.4.4", "CLIENT1", "PLXTRA", gw.port, tmp_path)
    c2 = FixTestClient("FIX.4.2", "CLIENT2", "PLXTRA", gw.port, tmp_path)
    with c1, c2:
        c1.wait_logged_on(timeout=10)
        c2.wait_logged_on(timeout=10)
        c1.send("V", _v("a"))
        c2.send("V", _v("b"))
        c1.expect("W", timeout=10, where={262: "a"})
        c2.expect("W", timeout=10, where={262: "b"})
        topics = ("Security!XS01.XSX", "Levels!XS01.XSX")
        assert [market.subscription_count(t) for t in topics] == [1, 1]  # one Zenith sub for both
        c1.logout()
        market.tick(5)
        assert [market.subscription_count(t) for t in topics] == [1, 1]  # c2 still holds them
        c2.logout()
        wait_until(lambda: [market.subscription_count(t) for t in topics] == [0, 0], 5, "all released")


def test_resync_after_zenith_connection_drop(market: Market, gateway_factory, tmp_path: Path) -> None:
    gw = gateway_factory()
    with FixTestClient(
        "FIXT.1.1", "CLIENT3", "PLXTRA", gw.port, tmp_path, default_appl_ver_id="FIX.5.0SP2"
    ) as c:
        c.wait_logged_on(timeout=10)
        book = FixBook(order_by_order=False)
        feed = Feed(c, {"r": book})
        c.send("V", md_request("r", ["XS01"], aggregated=True, types="01"))
        c.expect("W", timeout=10, where={262: "r"})
        market.tick(10)
        market.handle.call(market.server.drop_connections)
        market.tick(30)  # the book moves while the gateway is reconnecting
        # The gateway reconnects, re-subscribes and sends a fresh W (RptSeq restarts at 1).
        wait_until(lambda: (feed.pump(), book.snapshots >= 2)[1], 15, "a resync snapshot")
        resync = [m for m in c.received if m.msg_type == "W" and m.get(262) == "r"][-1]
        assert set(resync.get_all(83)) == {"1"}  # RptSeq restarts from a new base with the fresh W
        market.tick(10)
        want = expected_levels(market.query("QueryDepthLevels", {"Market": "XSX", "Code": "XS01"}))
        wait_until(lambda: (feed.pump(), book.book("r", "XS01") == want)[1], 10, "book equal after resync")
