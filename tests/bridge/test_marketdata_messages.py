"""W/X/Y/y/d/f/h per FIX version, checked against the QuickFIX data dictionaries counterparties use,
and the shared-stream state: fan-out, RptSeq, conflation, StreamReset resync."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix

from gateway.bridge.marketdata.messages import (
    md_reject,
    security_definition,
    security_list_pages,
    security_status,
    trading_session_status,
    trading_status_from_allows,
)
from gateway.bridge.marketdata.request import MarketDataRequest, MDInstrument
from gateway.bridge.marketdata.state import MarketDataState, Topic
from gateway.vocab.records import OutboundMessage, SessionKey
from gateway.vocab.wire import build_message

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
XS01 = MDInstrument("XS01", "XSX")
DD_DIR = Path(fix.__file__).resolve().parent.parent.parent.parent / "share" / "quickfix"
_DDS: dict[str, fix.DataDictionary] = {}


def _dd(begin: str) -> fix.DataDictionary:
    name = {"FIX.4.2": "FIX42.xml", "FIX.4.4": "FIX44.xml"}[begin]
    if name not in _DDS:
        _DDS[name] = fix.DataDictionary(str(DD_DIR / name))
    return _DDS[name]


def validate(begin: str, msg_type: str, body) -> None:
    """Parse and validate like a counterparty's QuickFIX would (raises on any violation)."""
    header = [(49, "PLXTRA"), (56, "CLIENT1"), (34, "2"), (52, "20260102-03:04:05.678")]
    raw = build_message(begin, msg_type, header, body)
    dd = _dd(begin)
    dd.validate(fix.Message(raw, dd, False))


def security(**kw):
    base = {
        "Code": "XS01",
        "Market": "XSX",
        "Name": "Default Security XS01",
        "CFI": "EXXXXX",
        "Currency": "AUD",
        "TradingState": "Open",
        "Open": D("10.00"),
        "High": D("10.40"),
        "Low": D("9.90"),
        "Close": D("10.00"),
        "Last": D("10.05"),
        "VWAP": D("10.12"),
        "Volume": D("1500"),
        "OpenInterest": 0,
    }
    base.update(kw)
    return base


def depth_snapshot():
    return [
        {"O": "C"},
        {
            "O": "A",
            "Order": {"ID": "o1", "Side": "Bid", "Price": D("10.00"), "Quantity": D("100"), "Position": 1},
        },
        {
            "O": "A",
            "Order": {"ID": "o2", "Side": "Bid", "Price": D("9.90"), "Quantity": D("200"), "Position": 2},
        },
        {
            "O": "A",
            "Order": {"ID": "o3", "Side": "Ask", "Price": D("10.10"), "Quantity": D("50"), "Position": 3},
        },
    ]


def levels_snapshot():
    return [
        {"O": "C"},
        {"O": "A", "Level": {"ID": "1", "Side": "Bid", "Price": D("10.00"), "Volume": D("100"), "Count": 1}},
        {"O": "A", "Level": {"ID": "2", "Side": "Bid", "Price": D("9.90"), "Volume": D("200"), "Count": 2}},
        {"O": "A", "Level": {"ID": "3", "Side": "Ask", "Price": D("10.10"), "Volume": D("50"), "Count": 1}},
    ]


def key(begin: str, target: str = "CLIENT1") -> SessionKey:
    return SessionKey(begin, "PLXTRA", target)


def request(req_id="r1", aggregated=True, depth=0, types="0125789", update_type=1, sub="1"):
    return MarketDataRequest(req_id, sub, depth, update_type, aggregated, frozenset(types), (XS01,))


def feed(state: MarketDataState, aggregated: bool = True) -> None:
    state.on_data(Topic("Security", XS01), security(), NOW)
    if aggregated:
        state.on_data(Topic("Levels", XS01), levels_snapshot(), NOW)
    else:
        state.on_data(Topic("Depth", XS01), depth_snapshot(), NOW)


def drain_all(state: MarketDataState, session: SessionKey) -> list[OutboundMessage]:
    out, _ = state.drain(session, 10_000, NOW)
    return out


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
@pytest.mark.parametrize("aggregated", [True, False])
def test_snapshot_then_incremental_validate_against_dictionary(begin: str, aggregated: bool) -> None:
    profile = "4.2" if begin == "FIX.4.2" else "4.4"
    state = MarketDataState()
    s = key(begin)
    topics = state.add_request(s, profile, request(aggregated=aggregated))
    assert {t.kind for t in topics} == {"Security", "Levels" if aggregated else "Depth", "Trades"}
    assert drain_all(state, s) == []  # nothing before the snapshots are in
    feed(state, aggregated)
    state.on_data(Topic("Trades", XS01), [{"O": "I", "ID": 0}], NOW)
    (w,) = drain_all(state, s)
    assert w.msg_type == "W" and w.fields[0] == (262, "r1")
    validate(begin, "W", w.fields)
    types = [v for t, v in w.fields if t == 269]
    assert types == ["0", "0", "1", "5", "7", "8", "9", "2"]
    if not aggregated:
        assert ("37", "o1") in [(str(t), v) for t, v in w.fields]  # order ID in OrderID(37)
    # A book change, a statistic change and a trade.
    if aggregated:
        state.on_data(Topic("Levels", XS01), [{"O": "U", "Level": {"ID": "1", "Volume": D("80")}}], NOW)
    else:
        state.on_data(Topic("Depth", XS01), [{"O": "U", "Order": {"ID": "o1", "Quantity": D("80")}}], NOW)
    xs = drain_all(state, s)  # drained after each event: a reader that keeps up gets one X per event
    state.on_data(Topic("Security", XS01), {"High": D("10.50")}, NOW)
    xs += drain_all(state, s)
    state.on_data(
        Topic("Trades", XS01),
        [
            {
                "O": "A",
                "Trade": {
                    "ID": 7,
                    "Price": D("10.05"),
                    "Quantity": D("20"),
                    "Time": "2026-01-02T14:04:05.000+11:00",
                },
            }
        ],
        NOW,
    )
    xs += drain_all(state, s)
    assert [m.msg_type for m in xs] == ["X", "X", "X"]
    for m in xs:
        validate(begin, "X", m.fields)
        assert (55, "XS01") in m.fields and (207, "XSX") in m.fields
    assert (279, "1") in xs[0].fields and (271, "80") in xs[0].fields
    assert (269, "7") in xs[1].fields and (270, "10.5") in xs[1].fields
    assert (
        (269, "2") in xs[2].fields
        and (273, "03:04:05.000") in xs[2].fields
        and (272, "20260102") in xs[2].fields
    )
    assert all(t != 83 for m in xs for t, _ in m.fields)  # no RptSeq before 5.0SP2


def test_fix50sp2_carries_rptseq_entry_ids_and_last_update_time() -> None:
    state = MarketDataState()
    s = key("FIXT.1.1")
    state.add_request(s, "5.0SP2", request(aggregated=False, types="01"))
    feed(state, aggregated=False)
    (w,) = drain_all(state, s)
    assert (779, "20260102-03:04:05.678") in w.fields
    assert [v for t, v in w.fields if t == 278] == ["o1", "o2", "o3"]
    assert {v for t, v in w.fields if t == 83} == {"1"}
    state.on_data(Topic("Depth", XS01), [{"O": "R", "Order": {"ID": "o1"}}], NOW)
    (x1,) = drain_all(state, s)
    state.on_data(
        Topic("Depth", XS01),
        [
            {
                "O": "A",
                "Order": {"ID": "o4", "Side": "Bid", "Price": D("10.05"), "Quantity": D("10"), "Position": 9},
            }
        ],
        NOW,
    )
    (x2,) = drain_all(state, s)
    assert [v for t, v in x1.fields if t in (279, 278, 83)] == ["2", "o1", "2"]
    assert [v for t, v in x2.fields if t in (279, 278, 290, 83)] == ["0", "o4", "1", "3"]


def test_one_body_fanned_out_to_twenty_sessions() -> None:
    state = MarketDataState()
    sessions = [key("FIX.4.4", f"C{i}") for i in range(20)]
    for i, s in enumerate(sessions):
        topics = state.add_request(s, "4.4", request(req_id=f"q{i}", types="01"))
        assert (topics != []) == (i == 0)  # only the first request needs Zenith topics
    feed(state)
    for s in sessions:
        drain_all(state, s)
    built = state.messages_built
    state.on_data(Topic("Levels", XS01), [{"O": "U", "Level": {"ID": "3", "Volume": D("70")}}], NOW)
    assert state.messages_built == built + 1
    for i, s in enumerate(sessions):
        (x,) = drain_all(state, s)
        assert x.fields[0] == (262, f"q{i}") and x.session == s
    released = []
    for s in sessions:
        released += state.remove_session(s)
    assert {t.kind for t in released} == {"Security", "Levels"}  # released once, by the last session


def _client_book(messages, book=None):
    """Apply W/X to a price-keyed book as a FIX client would."""
    book = {} if book is None else book
    for m in messages:
        entries, cur = [], None
        for t, val in m.fields:
            if t in (279, 269) and (cur is None or t in cur):
                cur = {}
                entries.append(cur)
            if cur is not None:
                cur[t] = val
        if m.msg_type == "W":
            book.clear()
        for e in entries:
            if e.get(269) not in ("0", "1"):
                continue
            k = (e[269], D(e[270]))
            if e.get(279) == "2":
                del book[k]
            else:
                book[k] = D(e[271])
    return book


def test_slow_session_is_conflated_and_catches_up_to_latest_state() -> None:
    state = MarketDataState(queue_limit=5)
    slow, fast = key("FIX.4.4", "SLOW"), key("FIX.4.4", "FAST")
    state.add_request(slow, "4.4", request(types="01"))
    state.add_request(fast, "4.4", request(types="01"))
    feed(state)
    slow_book = _client_book(drain_all(state, slow))
    fast_book = _client_book(drain_all(state, fast))
    for i in range(40):  # fast drains every event, slow never does
        state.on_data(Topic("Levels", XS01), [{"O": "U", "Level": {"ID": "1", "Volume": D(100 + i)}}], NOW)
        if i % 3 == 0:
            state.on_data(
                Topic("Levels", XS01),
                [
                    {
                        "O": "A",
                        "Level": {
                            "ID": f"n{i}",
                            "Side": "Ask",
                            "Price": D("11") + D(i) / 100,
                            "Volume": D("5"),
                            "Count": 1,
                        },
                    }
                ],
                NOW,
            )
        _client_book(drain_all(state, fast), fast_book)
        assert state.pending(slow) <= 5
    assert state.queues[slow].conflations > 0
    slow_msgs = drain_all(state, slow)
    _client_book(slow_msgs, slow_book)
    assert slow_book == fast_book and len(slow_book) == 3 + 14


def test_stream_reset_sends_fresh_snapshot_with_new_rptseq_base() -> None:
    state = MarketDataState()
    s = key("FIXT.1.1")
    state.add_request(s, "5.0SP2", request(types="01"))
    feed(state)
    drain_all(state, s)
    state.on_data(Topic("Levels", XS01), [{"O": "U", "Level": {"ID": "1", "Volume": D("1")}}], NOW)
    state.on_reset(Topic("Levels", XS01))
    assert drain_all(state, s) == []  # the stale X is dropped; nothing until the new snapshot
    state.on_data(Topic("Levels", XS01), levels_snapshot()[:2], NOW)
    (w,) = drain_all(state, s)
    assert w.msg_type == "W" and {v for t, v in w.fields if t == 83} == {"1"}
    assert [v for t, v in w.fields if t == 270] == ["10"]


def test_failed_topic_rejects_request_with_unknown_symbol() -> None:
    state = MarketDataState()
    s = key("FIX.4.4")
    state.add_request(s, "4.4", request(types="01"))
    rejects, failed = state.on_failed(Topic("Security", XS01), "Symbol.NotFound XS01.XSX")
    assert [(m.msg_type, dict(m.fields)[281]) for m in rejects] == [("Y", "0")]
    assert failed == [(s, "r1")]
    assert {t.kind for t in state.remove_request(*failed[0])} == {"Security", "Levels"}


def test_full_refresh_mode_sends_w_on_each_change_and_snapshot_only_ends() -> None:
    state = MarketDataState()
    s = key("FIX.4.4")
    state.add_request(s, "4.4", request(types="012", update_type=0))
    topics = state.add_request(s, "4.4", request(req_id="snap", types="01", sub="0"))
    assert topics == []  # Security and Levels are already held
    feed(state)
    out, released = state.drain(s, 100, NOW)
    assert [m.msg_type for m in out] == ["W", "W"] and released == []  # the live full-refresh keeps them
    assert not state.has_request(s, "snap")
    state.on_data(Topic("Security", XS01), {"Last": D("10.07")}, NOW)
    (w,) = drain_all(state, s)
    assert w.msg_type == "W" and (270, "10.07") in w.fields
    validate("FIX.4.4", "W", w.fields)


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_reference_messages_validate(begin: str) -> None:
    profile = "4.2" if begin == "FIX.4.2" else "4.4"
    validate(begin, "Y", md_reject("r1", "8", "MDEntryType 'Z' not supported"))
    validate(begin, "d", security_definition(profile, "s1", "SD-s1", security(), XS01))
    validate(begin, "d", security_definition(profile, "s1", "SD-s1", None, XS01, "Symbol.NotFound"))
    state = {"Name": "Open", "Reason": "Normal", "Allows": "All"}
    validate(
        begin,
        "f",
        security_status(
            profile,
            "e1",
            XS01,
            trading_status_from_allows(profile, state),
            security(),
            NOW,
            unsolicited=False,
        ),
    )
    validate(begin, "h", trading_session_status(profile, "g1", "XSX", "Open", unsolicited=False))
    if begin == "FIX.4.4":
        details = [
            {"Code": f"XS{i:02d}", "Market": "XSX", "Name": f"n{i}", "CFI": "EXXXXX", "Currency": "AUD"}
            for i in range(1, 251)
        ]
        pages = security_list_pages("l1", "SL-l1", details, page_size=100)
        assert [dict(p)[893] for p in pages] == ["N", "N", "Y"] and {dict(p)[393] for p in pages} == {"250"}
        for p in pages:
            validate(begin, "y", p)


def test_trading_status_mapping() -> None:
    def st(name, reason, allows):
        return trading_status_from_allows("4.4", {"Name": name, "Reason": reason, "Allows": allows})

    assert st("Open", "Normal", "All") == "17"
    assert st("Suspended", "Suspend", "OrderCancel, ReportCancel") == "2"
    assert st("Halted", "TradingHalt", "OrderCancel") == "2"
    assert st("PreOpen", "Normal", "OrdersOnly, ReportCancel") == "21"
    assert st("Closed", "Normal", "None") == "18"


def test_queued_incrementals_for_one_request_are_merged_in_order() -> None:
    """A session that fell behind gets one X carrying the queued entries, same meaning."""
    state = MarketDataState()
    s = key("FIXT.1.1")
    state.add_request(s, "5.0SP2", request(types="01"))
    feed(state)
    book = _client_book(drain_all(state, s))
    for i in range(5):
        state.on_data(Topic("Levels", XS01), [{"O": "U", "Level": {"ID": "1", "Volume": D(200 + i)}}], NOW)
    (x,) = drain_all(state, s)
    assert dict(x.fields)[268] == "5" and [v for t, v in x.fields if t == 83] == ["2", "3", "4", "5", "6"]
    assert state.merged == 4
    _client_book([x], book)
    assert book[("0", D("10.00"))] == D("204")
