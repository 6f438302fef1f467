"""SharedBodyConverter: a market-data body converted once and reused for every copy must give
QuickFIX the same message, field for field and group for group, as converting each copy alone.

Real QuickFIX messages and the real data dictionaries of every version the gateway speaks
(FIX.4.2, FIX.4.4, FIXT.1.1 + FIX.5.0SP2, per message type as the outbox loads them); the
comparison is on the text QuickFIX serialises (``toString``), which is what goes on the wire
once the session has written its header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
import quickfix as fix

from gateway.app.testing import write_test_config
from gateway.bridge.marketdata.messages import incremental_body, snapshot_body
from gateway.bridge.marketdata.request import MDInstrument
from gateway.bridge.marketdata.state import MarketDataState, SharedBodyMessage, Topic
from gateway.bridge.marketdata.view import MDEntry
from gateway.config.loader import load_config
from gateway.fix import md_send
from gateway.fix.convert import DictionaryCache, MessageDictionaries, to_quickfix
from gateway.fix.engine import dictionary_paths
from gateway.fix.md_send import SharedBodyConverter
from gateway.vocab.records import OutboundMessage, SessionKey

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
XS01 = MDInstrument("XS01", "XSX")
VERSIONS = [("FIX.4.2", None, "4.2"), ("FIX.4.4", None, "4.4"), ("FIXT.1.1", "FIX.5.0SP2", "5.0SP2")]
ENTRIES = [
    MDEntry("0", price=D("10.05"), size=D("7"), entry_id="o4", order_id="o4", action="0", position=1),
    MDEntry("1", price=D("10.10"), size=D("50"), entry_id="o3", order_id="o3", action="1", position=1),
    MDEntry("0", price=D("9.90"), entry_id="o2", order_id="o2", action="2", position=2),
]


@pytest.fixture(scope="module")
def cache() -> DictionaryCache:
    return DictionaryCache()


def _dictionaries(tmp_path_factory: pytest.TempPathFactory, cache: DictionaryCache, begin: str,
                  appl_ver: str | None) -> MessageDictionaries:
    session: dict[str, object] = {"name": "s", "begin_string": begin, "sender_comp_id": "PLXTRA",
                                  "target_comp_id": "T", "trading": False, "markets": ["XSX"]}
    if appl_ver:
        session["default_appl_ver_id"] = appl_ver
    cfg = load_config(write_test_config(tmp_path_factory.mktemp("cfg"), zenith_url="ws://127.0.0.1:1/",
                                        fix_port=1, sessions=[session]))
    main, app = dictionary_paths(cfg, cfg.sessions[0])
    return MessageDictionaries(cache, main, app)


def _copies(begin: str, body: tuple[tuple[int, str], ...], msg_type: str) -> list[SharedBodyMessage]:
    return [SharedBodyMessage(SessionKey(begin, "PLXTRA", f"MD{i}"), msg_type, ((262, f"req-{i}"), *body),
                              body, f"req-{i}") for i in range(3)]


def _wire(message: fix.Message) -> str:
    # Header fields the session writes per send (CompIDs, MsgSeqNum, SendingTime) are set alike on
    # both sides, as Session::fill does, so the texts compare the whole message.
    header = message.getHeader()
    header.setField(49, "PLXTRA")
    header.setField(56, "MDX")
    header.setField(34, "7")
    header.setField(52, "20260102-03:04:05.000")
    return message.toString()


@pytest.mark.parametrize(("begin", "appl_ver", "profile"), VERSIONS)
@pytest.mark.parametrize("msg_type", ["W", "X"])
def test_reused_message_equals_a_fresh_conversion_of_each_copy(
    tmp_path_factory: pytest.TempPathFactory, cache: DictionaryCache, begin: str, appl_ver: str | None,
    profile: str, msg_type: str,
) -> None:
    dictionaries = _dictionaries(tmp_path_factory, cache, begin, appl_ver)
    if msg_type == "W":
        body = snapshot_body(profile, XS01, [MDEntry(e.entry_type, price=e.price, size=e.size or D(1),
                                                     entry_id=e.entry_id, order_id=e.order_id)
                                             for e in ENTRIES], rpt_seq=4, now=NOW)
    else:
        body = incremental_body(profile, XS01, ENTRIES, rpt_seq=4)
    convert = SharedBodyConverter()
    for copy in _copies(begin, body, msg_type):
        message = convert(copy, dictionaries)
        reused = _wire(message)
        fresh = _wire(to_quickfix(OutboundMessage(copy.session, msg_type, copy.fields), dictionaries))
        assert reused == fresh
        assert f"\x01262={copy.req_id}\x01" in reused
        assert reused.count("\x01262=") == 1
    assert (convert.built, convert.reused) == (1, 2)
    # Group structure survived the reuse: the entries are a real repeating group.
    group = fix.Group(268, 279 if msg_type == "X" else 269)
    convert(_copies(begin, body, msg_type)[0], dictionaries).getGroup(1, group)
    assert group.getField(269) == "0"


def test_other_messages_and_other_bodies_are_converted_on_their_own(
    tmp_path_factory: pytest.TempPathFactory, cache: DictionaryCache,
) -> None:
    dictionaries = _dictionaries(tmp_path_factory, cache, "FIX.4.4", None)
    convert = SharedBodyConverter(limit=2)
    key = SessionKey("FIX.4.4", "PLXTRA", "MD0")
    plain = OutboundMessage(key, "Y", ((262, "r"), (281, "0")))
    assert _wire(convert(plain, dictionaries)) == _wire(to_quickfix(plain, dictionaries))
    bodies = [incremental_body("4.4", XS01, ENTRIES[:n], rpt_seq=n) for n in (1, 2, 3)]
    first = [convert(_copies("FIX.4.4", b, "X")[0], dictionaries) for b in bodies]
    assert len({id(m) for m in first}) == 3 and convert.built == 3
    # Bounded: the oldest body was let go and is built again; the newest is still reused.
    convert(_copies("FIX.4.4", bodies[0], "X")[1], dictionaries)
    convert(_copies("FIX.4.4", bodies[2], "X")[1], dictionaries)
    assert (convert.built, convert.reused) == (4, 1)
    # An equal body that is another object is not taken for the kept one (identity, not value).
    twin = tuple(list(bodies[2]))
    assert twin == bodies[2] and twin is not bodies[2]
    convert(_copies("FIX.4.4", twin, "X")[1], dictionaries)
    assert (convert.built, convert.reused) == (5, 1)


def test_state_drain_shares_bodies_merged_ones_included() -> None:
    state = MarketDataState(merge_max=50)
    a, b = SessionKey("FIX.4.4", "PLXTRA", "A"), SessionKey("FIX.4.4", "PLXTRA", "B")
    from tests.marketdata.test_md_fanout import _depth_snapshot, _request

    state.add_request(a, "4.4", _request("ra"))
    state.add_request(b, "4.4", _request("rb"))
    state.on_data(Topic("Security", XS01), {"Code": "XS01", "Market": "XSX"}, NOW)
    state.on_data(Topic("Depth", XS01), _depth_snapshot(), NOW)
    (wa,), _ = state.drain(a, 10, NOW)
    (wb,), _ = state.drain(b, 10, NOW)
    assert isinstance(wa, SharedBodyMessage) and wa.shared_body is wb.shared_body
    assert wa.fields == ((262, "ra"), *wa.shared_body) and wa.req_id == "ra"
    for oid in ("o7", "o8"):
        state.on_data(Topic("Depth", XS01), [{"O": "A", "Order": {
            "ID": oid, "Side": "Bid", "Price": D("10.01"), "Quantity": D("3"), "Position": 1}}], NOW)
    (xa,), _ = state.drain(a, 1, NOW)     # a fell behind: its two queued X merge into one
    (xb,), _ = state.drain(b, 1, NOW)     # so did b, with the same two: the same merged body
    assert isinstance(xa, SharedBodyMessage) and xa.fields[:2] == ((262, "ra"), (268, "2"))
    assert xb.shared_body is xa.shared_body and xb.fields[0] == (262, "rb")
    assert state.merged == 2
    state.on_data(Topic("Depth", XS01), [{"O": "R", "Order": {"ID": "o7"}}], NOW)
    (xa,), _ = state.drain(a, 1, NOW)     # one X alone: the shared body again
    assert isinstance(xa, SharedBodyMessage) and xa.fields == ((262, "ra"), *xa.shared_body)


def test_no_rendered_session_writes_a_header_field_of_its_own_on_every_send(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The reuse relies on Session::fill rewriting the whole header: EnableLastMsgSeqNumProcessed
    would add 369 per session, so the renderer must never turn it on."""
    from gateway.config.quickfix_settings import render_connector_settings

    sessions = [{"name": f"s{i}", "begin_string": b, "sender_comp_id": "PLXTRA", "target_comp_id": f"T{i}",
                 "trading": False, "markets": ["XSX"], **({"default_appl_ver_id": a} if a else {})}
                for i, (b, a, _) in enumerate(VERSIONS)]
    cfg = load_config(write_test_config(tmp_path_factory.mktemp("cfg"), zenith_url="ws://127.0.0.1:1/",
                                        fix_port=1, sessions=sessions))
    texts = "\n".join(render_connector_settings(cfg).values())
    assert "[SESSION]" in texts and "EnableLastMsgSeqNumProcessed" not in texts


def test_copies_with_the_same_mdreqid_and_then_another_carry_each_their_own(
    tmp_path_factory: pytest.TempPathFactory, cache: DictionaryCache,
) -> None:
    # Partners often pick the same MDReqID: the kept message then goes out as it is, and the next
    # copy with another MDReqID still gets its own.
    dictionaries = _dictionaries(tmp_path_factory, cache, "FIX.4.4", None)
    body = incremental_body("4.4", XS01, ENTRIES, rpt_seq=4)
    ids = ["same", "same", "same", "other", "same"]
    copies = [SharedBodyMessage(SessionKey("FIX.4.4", "PLXTRA", f"MD{i}"), "X", ((262, r), *body), body, r)
              for i, r in enumerate(ids)]
    convert = SharedBodyConverter()
    for copy in copies:
        reused = _wire(convert(copy, dictionaries))
        assert reused == _wire(to_quickfix(OutboundMessage(copy.session, "X", copy.fields), dictionaries))
        assert reused.count("\x01262=") == 1 and f"\x01262={copy.req_id}\x01" in reused
    assert (convert.built, convert.reused) == (1, 4)


def test_lanes_with_their_own_dictionaries_objects_share_a_body_only_where_the_parse_is_the_same(
    tmp_path_factory: pytest.TempPathFactory, cache: DictionaryCache,
) -> None:
    # Each session has its own MessageDictionaries (engine.session_dictionaries): sessions on the
    # same files share the kept message, another version gets its own, each copy right on the wire.
    fix44_a = _dictionaries(tmp_path_factory, cache, "FIX.4.4", None)
    fix44_b = _dictionaries(tmp_path_factory, cache, "FIX.4.4", None)
    fix42 = _dictionaries(tmp_path_factory, cache, "FIX.4.2", None)
    body44 = incremental_body("4.4", XS01, ENTRIES, rpt_seq=4)
    body42 = incremental_body("4.2", XS01, ENTRIES, rpt_seq=4)
    lanes = [("FIX.4.4", fix44_a, body44), ("FIX.4.4", fix44_b, body44), ("FIX.4.2", fix42, body42),
             ("FIX.4.4", fix44_a, body44), ("FIX.4.2", fix42, body42)]
    convert = SharedBodyConverter()
    for i, (begin, dictionaries, body) in enumerate(lanes):
        copy = SharedBodyMessage(SessionKey(begin, "PLXTRA", f"MD{i}"), "X", ((262, f"r{i}"), *body), body,
                                 f"r{i}")
        reused = _wire(convert(copy, dictionaries))
        assert reused == _wire(to_quickfix(OutboundMessage(copy.session, "X", copy.fields), dictionaries))
        assert reused.startswith(f"8={begin}\x01")
    assert (convert.built, convert.reused) == (2, 3)


def test_mdreqid_field_objects_kept_and_renewed_give_each_copy_its_own(
    tmp_path_factory: pytest.TempPathFactory, cache: DictionaryCache, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 262 is set from a field object kept per MDReqID; the few kept are let go and made again
    # as subscriptions come and go, and every copy still carries its own MDReqID, once.
    monkeypatch.setattr(md_send, "REQ_FIELDS_KEPT", 2)
    dictionaries = _dictionaries(tmp_path_factory, cache, "FIX.4.4", None)
    body = incremental_body("4.4", XS01, ENTRIES, rpt_seq=4)
    ids = ["a", "b", "c", "a", "d", "b", "a"]
    convert = SharedBodyConverter()
    for i, r in enumerate(ids):
        copy = SharedBodyMessage(SessionKey("FIX.4.4", "PLXTRA", f"MD{i}"), "X", ((262, r), *body), body, r)
        reused = _wire(convert(copy, dictionaries))
        assert reused == _wire(to_quickfix(OutboundMessage(copy.session, "X", copy.fields), dictionaries))
        assert reused.count("\x01262=") == 1 and f"\x01262={r}\x01" in reused
    assert (convert.built, convert.reused) == (1, 6)
    assert len(convert._req_fields) <= 2
