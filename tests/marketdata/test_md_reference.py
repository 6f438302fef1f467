"""Reference data over real FIX: SecurityList (paged y), SecurityDefinition, SecurityStatus and
TradingSessionStatus, including status subscriptions holding and releasing Zenith topics."""

from __future__ import annotations

from pathlib import Path

from gateway.fix.testing import FixTestClient
from tests.marketdata.mdhelpers import Market, wait_until


def test_reference_data(market: Market, gateway_factory, tmp_path: Path) -> None:
    gw = gateway_factory()
    with FixTestClient("FIX.4.4", "CLIENT1", "PLXTRA", gw.port, tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("x", [(320, "all"), (559, "4")])
        y = c.expect("y", timeout=10, where={320: "all"})
        assert y.get(560) == "0" and y.get(393) == "10" and y.get(893) == "Y"
        assert y.get_all(55) == [f"XS{i:02d}" for i in range(1, 11)]
        c.send("x", [(320, "pre"), (559, "0"), (55, "XS1")])
        y = c.expect("y", timeout=10, where={320: "pre"})
        assert y.get_all(55) == ["XS10"]
        c.send("c", [(320, "def"), (321, "3"), (55, "XS02"), (207, "XSX")])
        d = c.expect("d", timeout=10, where={320: "def"})
        assert d.get(323) == "1" and d.get(55) == "XS02" and d.get(15) == "AUD"
        c.send("e", [(324, "st"), (55, "XS01"), (207, "XSX"), (263, "0")])
        f = c.expect("f", timeout=10, where={324: "st"})
        assert f.get(326) == "17"  # XSX is Open: ready to trade
        c.send("g", [(335, "ts"), (336, "XSX"), (263, "0")])
        h = c.expect("h", timeout=10, where={335: "ts"})
        assert h.get(340) == "2" and h.get(336) == "XSX"


def test_status_subscriptions_hold_and_release_zenith_topics(
    market: Market, gateway_factory, tmp_path: Path
) -> None:
    gw = gateway_factory()
    with FixTestClient("FIX.4.2", "CLIENT2", "PLXTRA", gw.port, tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("e", [(324, "s1"), (55, "XS02"), (207, "XSX"), (263, "1")])
        f = c.expect("f", timeout=10, where={324: "s1"})
        assert f.get(326) == "17" and f.get(325) == "N"
        wait_until(lambda: market.subscription_count("Security!XS02.XSX") == 1, 5, "Security!XS02 held")
        c.send("g", [(335, "t1"), (263, "1")])
        assert c.expect("h", timeout=10, where={335: "t1"}).get(340) == "2"
        wait_until(lambda: market.subscription_count("Markets") == 1, 5, "Markets held")
        c.send("e", [(324, "s1"), (55, "XS02"), (207, "XSX"), (263, "2")])
        c.send("g", [(335, "t1"), (263, "2")])
        wait_until(lambda: market.subscription_count("Security!XS02.XSX") == 0, 5, "Security!XS02 released")
        wait_until(lambda: market.subscription_count("Markets") == 0, 5, "Markets released")
        c.send("e", [(324, "s2"), (55, "XS02"), (207, "XSX"), (263, "1")])
        c.expect("f", timeout=10, where={324: "s2"})
        wait_until(lambda: market.subscription_count("Security!XS02.XSX") == 1, 5, "held again")
    # logout released it
    wait_until(lambda: market.subscription_count("Security!XS02.XSX") == 0, 5, "released at logout")
