"""FAN-OUT: each Zenith update is applied once, its FIX body built once per (FIX version, view),
and every subscriber of that view gets the same body behind its own MDReqID(262) and header.

First the pure part (the bridge state, no I/O): body identity and the build counter. Then over
real FIX: sessions of different versions and request shapes on one symbol, against the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from gateway.bridge.marketdata.request import MarketDataRequest, MDInstrument
from gateway.bridge.marketdata.state import MarketDataState, SharedBodyMessage, Topic
from gateway.fix.testing import FixTestClient
from gateway.vocab.records import SessionKey
from tests.marketdata.fixbook import entries_of, expected_depth, expected_levels
from tests.marketdata.mdhelpers import Feed, FixBook, Market, wait_until
from tests.marketdata.test_md_book_equivalence import md_request

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
XS01 = MDInstrument("XS01", "XSX")


def _depth_snapshot() -> list[dict[str, Any]]:
    def order(oid: str, side: str, price: str, qty: str, pos: int) -> dict[str, Any]:
        return {"O": "A", "Order": {"ID": oid, "Side": side, "Price": D(price), "Quantity": D(qty),
                                    "Position": pos}}

    return [{"O": "C"}, order("o1", "Bid", "10.00", "100", 1), order("o2", "Bid", "9.90", "200", 2),
            order("o3", "Ask", "10.10", "50", 3)]


def _request(req_id: str, *, depth: int = 0) -> MarketDataRequest:
    return MarketDataRequest(req_id, "1", depth, 1, False, frozenset("01"), (XS01,))


def test_update_is_built_once_per_version_and_view_and_shared_by_identity() -> None:
    state = MarketDataState()
    a, b = SessionKey("FIX.4.4", "PLXTRA", "A"), SessionKey("FIX.4.4", "PLXTRA", "B")
    c = SessionKey("FIXT.1.1", "PLXTRA", "C")
    d = SessionKey("FIX.4.4", "PLXTRA", "D")
    state.add_request(a, "4.4", _request("ra"))
    state.add_request(b, "4.4", _request("rb"))           # same version, same view as a
    state.add_request(c, "5.0SP2", _request("rc"))        # same view, other version
    state.add_request(d, "4.4", _request("rd", depth=1))  # same version, other view (top of book)
    state.on_data(Topic("Security", XS01), {"Code": "XS01", "Market": "XSX"}, NOW)
    state.on_data(Topic("Depth", XS01), _depth_snapshot(), NOW)
    for s in (a, b, c, d):
        assert [m.msg_type for m in state.drain(s, 100, NOW)[0]] == ["W"]

    built = state.messages_built
    # A new best bid: every view changes, so each of the three (version, view) streams builds once.
    new_best = {"Order": {"ID": "o4", "Side": "Bid", "Price": D("10.05"), "Quantity": D("7"),
                          "Position": 4}}
    state.on_data(Topic("Depth", XS01), [{"O": "A", **new_best}], NOW)
    assert state.messages_built == built + 3
    queued = {s: state.queues[s].items[0][3] for s in (a, b, c, d)}
    assert queued[a] is queued[b]                     # one body object for one (version, view)
    assert queued[c] is not queued[a] and queued[d] is not queued[a]

    out = {s: state.drain(s, 100, NOW)[0] for s in (a, b, c, d)}
    for s, req in ((a, "ra"), (b, "rb"), (c, "rc"), (d, "rd")):
        (x,) = out[s]
        assert x.session == s and x.msg_type == "X"
        assert x.fields[0] == (262, req)              # each subscriber's own MDReqID, first
    assert out[a][0].fields[1:] == out[b][0].fields[1:]
    _, entries_c = entries_of(out[c][0].fields, "X")
    assert [e.get(83) for e in entries_c] == ["2"]     # 5.0SP2 carries RptSeq; 4.4 does not
    _, entries_a = entries_of(out[a][0].fields, "X")
    assert entries_a == [{279: "0", 269: "0", 278: "o4", 55: "XS01", 207: "XSX", 270: "10.05",
                          271: "7", 37: "o4", 290: "1"}]
    # Top of book only: the old best bid leaves the view as the new one enters.
    _, entries_d = entries_of(out[d][0].fields, "X")
    assert [(e[279], e.get(278), e[290]) for e in entries_d] == [("2", "o1", "1"), ("0", "o4", "1")]


def test_the_per_copy_record_is_the_shared_body_message_it_stands_for() -> None:
    # The drain builds each copy's SharedBodyMessage by setting its slots (no dataclass __init__)
    # and reaches the queues without a look-up per session: same records as the plain way.
    state = MarketDataState()
    a, b = SessionKey("FIX.4.4", "PLXTRA", "A"), SessionKey("FIX.4.4", "PLXTRA", "B")
    state.add_request(a, "4.4", _request("ra"))
    state.add_request(b, "4.4", _request("rb"))
    state.on_data(Topic("Security", XS01), {"Code": "XS01", "Market": "XSX"}, NOW)
    state.on_data(Topic("Depth", XS01), _depth_snapshot(), NOW)
    assert [q.key for q in state.pending_queues()] == [a, b]
    snapshots = {q.key: state.drain_queue(q, 100, NOW)[0] for q in state.pending_queues()}
    assert state.pending_queues() == []
    new_best = {"Order": {"ID": "o4", "Side": "Bid", "Price": D("10.05"), "Quantity": D("7"),
                          "Position": 4}}
    state.on_data(Topic("Depth", XS01), [{"O": "A", **new_best}], NOW)
    for key, req in ((a, "ra"), (b, "rb")):
        (w,) = snapshots[key]
        (x,) = state.drain(key, 100, NOW)[0]
        for got, msg_type in ((w, "W"), (x, "X")):
            plain = SharedBodyMessage(key, msg_type, ((262, req), *got.shared_body), got.shared_body, req)
            assert type(got) is SharedBodyMessage
            assert got == plain and hash(got) == hash(plain) and repr(got) == repr(plain)
            assert got.fields[1:] == got.shared_body and got.req_id == req


def test_a_lone_queued_update_goes_out_only_while_its_request_lives() -> None:
    # The drain's short path for a session keeping up (one update waiting) keeps the loop's
    # rules: a live subscriber gets its copy, a request ended meanwhile gets nothing.
    state = MarketDataState()
    a, b = SessionKey("FIX.4.4", "PLXTRA", "A"), SessionKey("FIX.4.4", "PLXTRA", "B")
    state.add_request(a, "4.4", _request("ra"))
    state.add_request(b, "4.4", _request("rb"))
    state.on_data(Topic("Security", XS01), {"Code": "XS01", "Market": "XSX"}, NOW)
    state.on_data(Topic("Depth", XS01), _depth_snapshot(), NOW)
    for key in (a, b):
        assert [m.msg_type for m in state.drain(key, 100, NOW)[0]] == ["W"]
    new_best = {"Order": {"ID": "o4", "Side": "Bid", "Price": D("10.05"), "Quantity": D("7"),
                          "Position": 4}}
    state.on_data(Topic("Depth", XS01), [{"O": "A", **new_best}], NOW)
    assert [len(state.queues[k].items) for k in (a, b)] == [1, 1]
    state.remove_request(b, "rb")   # b's update stays queued, for a request that ended
    (x,), released = state.drain(a, 100, NOW)
    assert isinstance(x, SharedBodyMessage)
    assert (x.msg_type, x.req_id, released) == ("X", "ra", [])
    assert state.drain(b, 100, NOW) == ([], [])
    assert [len(state.queues[k].items) for k in (a, b)] == [0, 0]
    # No room: nothing taken, the update waits.
    state.on_data(Topic("Depth", XS01), [{"O": "R", "Order": {"ID": "o4"}}], NOW)
    assert state.drain(a, 0, NOW) == ([], []) and len(state.queues[a].items) == 1


def _md_session(name: str, begin: str, target: str, appl_ver: str | None = None) -> dict[str, Any]:
    session: dict[str, Any] = {
        "name": name, "begin_string": begin, "sender_comp_id": "PLXTRA", "target_comp_id": target,
        "trading": False, "markets": ["XSX"],
    }
    if appl_ver:
        session["default_appl_ver_id"] = appl_ver
    return session


def _service(gw: Any) -> Any:
    return next(s for s in gw.gateway.registry.services if type(s).__name__ == "MarketDataService")


def test_versions_and_views_on_one_symbol_each_get_their_own_w_and_x(
    market: Market, gateway_factory: Any, tmp_path: Path
) -> None:
    gw = gateway_factory(sessions=[
        _md_session("a", "FIX.4.4", "MDA"),
        _md_session("b", "FIX.4.4", "MDB"),
        _md_session("c", "FIX.4.2", "MDC"),
    ])
    with FixTestClient("FIX.4.4", "MDA", "PLXTRA", gw.port, tmp_path / "a") as ca, \
            FixTestClient("FIX.4.4", "MDB", "PLXTRA", gw.port, tmp_path / "b") as cb, \
            FixTestClient("FIX.4.2", "MDC", "PLXTRA", gw.port, tmp_path / "c") as cc:
        for client in (ca, cb, cc):
            client.wait_logged_on(timeout=10)
        books = {"A": FixBook(order_by_order=True), "B": FixBook(order_by_order=True),
                 "C": FixBook(order_by_order=False)}
        feeds = {"A": Feed(ca, {"ob-a": books["A"]}), "B": Feed(cb, {"ob-b": books["B"]}),
                 "C": Feed(cc, {"top-c": books["C"]})}
        # a and b: the same view (order by order, full depth) under their own MDReqIDs;
        # c: another version and another view (aggregated top 3). FIX 5.0SP2's own body (RptSeq)
        # is covered by the pure test above; its dictionary takes seconds to load.
        ca.send("V", md_request("ob-a", ["XS01"], aggregated=False, types="01"))
        cb.send("V", md_request("ob-b", ["XS01"], aggregated=False, types="01"))
        cc.send("V", md_request("top-c", ["XS01"], aggregated=True, depth=3, types="01"))
        ca.expect("W", timeout=10, where={262: "ob-a"})
        cb.expect("W", timeout=10, where={262: "ob-b"})
        cc.expect("W", timeout=10, where={262: "top-c"})
        service = _service(gw)
        state = service.state
        before = gw.call(lambda: (state.messages_built, service.sent, state.merged))

        market.tick(40)

        depth = market.query("QueryDepthFull", {"Market": "XSX", "Code": "XS01"})
        levels = market.query("QueryDepthLevels", {"Market": "XSX", "Code": "XS01"})
        want = {"A": ("ob-a", expected_depth(depth)), "B": ("ob-b", expected_depth(depth)),
                "C": ("top-c", expected_levels(levels, depth=3))}

        def converged() -> bool:
            for feed in feeds.values():
                feed.pump()
            return all(books[n].book(req, "XS01") == w for n, (req, w) in want.items())

        wait_until(converged, 10, "each session's FIX book equal to the simulator's")
        for client, target, req in ((ca, "MDA", "ob-a"), (cb, "MDB", "ob-b"), (cc, "MDC", "top-c")):
            md = [m for m in client.received if m.msg_type in ("W", "X")]
            assert md and all(m.get(262) == req for m in md), f"{target} got another request's 262"
            assert all(m.get(49) == "PLXTRA" and m.get(56) == target for m in md)
            assert not [m for m in client.admin if m.msg_type == "3"], f"{target} rejected a message"
            assert feeds[target[-1]].other == []
        assert books["A"].incrementals > 0 and books["C"].incrementals > 0
        # FIX 4.2's W names the instrument once at the top and has no MDEntryID; 4.4's order-by-
        # order W carries each order's ID in OrderID(37).
        w_c = next(m for m in cc.received if m.msg_type == "W")
        top_c, entries_c = entries_of(w_c.fields, "W")
        assert top_c.get(55) == "XS01" and entries_c and not any(278 in e for e in entries_c)
        w_a = next(m for m in ca.received if m.msg_type == "W")
        assert all(37 in e for e in entries_of(w_a.fields, "W")[1])
        # Built once per (version, view): every body of a and b's view was queued twice, c's once,
        # so the messages queued (sent, or merged into the one sent before them) lie strictly
        # between one and two per body built.
        after = gw.call(lambda: (state.messages_built, service.sent, state.merged))
        built_x = after[0] - before[0]
        queued_x = (after[1] - before[1]) + (after[2] - before[2])
        assert 0 < built_x < queued_x < 2 * built_x
        # The QuickFIX message of a shared body was built once and reused for the other session's
        # copy (gateway.fix.md_send); the books above converged through it.
        assert gw.call(lambda: service.converter.reused) > 0
