"""The FIX edge's fast paths give what the plain ones give (issue 13, brief R19).

* ``record_from_text`` splits QuickFIX's text with one ``replace``/``split``: the record must be
  the one :func:`split_fields` makes, for real QuickFIX texts and for every text the fast path's
  checks must send the slow way (a value holding "=", raw data holding an SOH, tags written with
  leading zeros, a header out of QuickFIX's order, what is not a field).
* ``to_quickfix`` builds the message without quickfix.py's ``Message.__init__`` frame: the
  message, and so the bytes QuickFIX sends, must be those of ``fix.Message(text, False)``.
* ``loop_is_current`` must answer what ``asyncio._get_running_loop() is loop`` answers, and
  ``loop_is_current_or_idle`` that or ``not loop.is_running()``.
* ``fromApp`` takes a message's session key from its CompIDs when they name one session, else
  from its SessionID: the key must be the session's either way.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path

import pytest
import quickfix as fix

from gateway.app.testing import write_test_config
from gateway.config.dictionaries import locate_dictionaries
from gateway.config.loader import load_config
from gateway.fix.convert import (
    DictionaryCache,
    MessageDictionaries,
    _wire_text,
    record_from_text,
    to_quickfix,
)
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.fix.loop_driver import loop_is_current, loop_is_current_or_idle
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.wire import build_message, split_fields

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
_SKIP = (8, 9, 10)


def reference(text: str) -> tuple[str, int, tuple[tuple[int, str], ...]]:
    """What a record of ``text`` holds, read the plain way: every pair but 8, 9 and 10, in wire
    order; MsgType and MsgSeqNum the first of each ("" and 0 without)."""
    fields = tuple(p for p in split_fields(text) if p[0] not in _SKIP)
    first = dict(reversed(fields))
    return first.get(35, ""), int(first.get(34, "0")), fields


def same_record(text: str) -> InboundMessage:
    record = record_from_text(text, KEY)
    assert (record.msg_type, record.msg_seq_num, record.fields) == reference(text)
    assert record.session is KEY
    return record


_VALUES = ["0", "100", "10.5", "XS01", "BHP.AX", "Zürich café", "a=b", "x==y", "=", "20261206-10:00:00.000",
           "C-1", " lead", "trail ", "Y"]


def _random_text(rng: random.Random) -> str:
    tags = [1, 11, 21, 38, 40, 44, 54, 55, 58, 59, 60, 207, 448, 447, 452, 453, 5000, 9999]
    body = [(tag, rng.choice(_VALUES)) for tag in rng.sample(tags, rng.randint(0, 12))]
    header = [(35, rng.choice(["D", "F", "G", "8", "AE"])), (34, str(rng.randint(1, 10**9))), (49, "CLIENT1"),
              (52, "20261206-10:00:00.000"), (56, "PLXTRA")]
    if rng.random() < 0.2:
        rng.shuffle(header)   # not QuickFIX's order: the record must still name type and number
    if rng.random() < 0.1:
        header = [f for f in header if f[0] != 34]
    pairs = [(8, "FIX.4.4"), (9, "123"), *header, *body, (10, "000")]
    return "".join(f"{t}={v}\x01" for t, v in pairs)


def test_quickfix_texts_make_the_records_split_fields_makes() -> None:
    d = ("8=FIX.4.4\x019=155\x0135=D\x0134=102\x0149=CLIENT1\x0152=20261206-18:18:30.797\x0156=PLXTRA\x01"
         "1=0001\x0111=C-102\x0121=1\x0138=100\x0140=2\x0144=10.5\x0154=1\x0155=BHP.AX\x0159=0\x01"
         "60=20261206-18:18:30.797\x0110=123\x01")
    text = fix.Message(d, False).toString()   # what fromApp holds: QuickFIX's own text of the D
    record = same_record(text)
    assert (record.msg_type, record.msg_seq_num) == ("D", 102)
    assert record.fields[:2] == ((35, "D"), (34, "102"))
    assert record.fields[-1] == (60, "20261206-18:18:30.797")
    assert record.get(11) == "C-102"


def test_generated_texts_make_the_records_split_fields_makes() -> None:
    rng = random.Random(19)
    for _ in range(3000):
        same_record(_random_text(rng))


@pytest.mark.parametrize("text", [
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0158=x=y\x0110=000\x01",            # a value holding "="
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0195=3\x0196=a\x01b\x0110=000\x01",  # raw data holding an SOH
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0195=3\x0196=a=b\x0110=000\x01",     # raw data, as many = as SOHs
    "8=FIX.4.4\x019=5\x01035=D\x01034=7\x0111=C\x0110=000\x01",            # tags with leading zeros
    "8=FIX.4.4\x019=5\x0134=7\x0135=D\x0111=C\x0110=000\x01",              # 34 before 35
    "8=FIX.4.4\x019=5\x0135=D\x0111=C\x0110=000\x01",                      # no MsgSeqNum
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0110=000\x01",                      # the header only
    "35=D\x0134=7\x0111=C\x01",                                            # no 8, 9, 10
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0111=C\x0110=000",                  # no SOH at the end
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0111=C\x0110=000\x0111=again\x01",  # 10 not last
])
def test_what_the_fast_path_must_not_take_is_read_the_plain_way(text: str) -> None:
    same_record(text)


@pytest.mark.parametrize("text", [
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x01abc=1\x0110=000\x01",
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x01=1\x0110=000\x01",
    "8=FIX.4.4\x019=5\x0135=D\x0134=7\x0158\x0110=000\x01",
])
def test_what_is_not_a_field_is_still_refused(text: str) -> None:
    with pytest.raises(ValueError):
        record_from_text(text, KEY)


def test_the_record_is_stamped_when_it_is_made() -> None:
    before = time.time_ns()
    record = same_record("8=FIX.4.4\x019=5\x0135=D\x0134=7\x0111=C\x0110=000\x01")
    assert before <= record.received_ns <= time.time_ns()


def _old_to_quickfix(msg: OutboundMessage) -> fix.Message:
    """to_quickfix before R19, for messages without groups: the text through quickfix.py's constructor."""
    return fix.Message(_wire_text(msg.session, msg.msg_type, msg.fields), False)


def _random_record(rng: random.Random) -> OutboundMessage:
    key = rng.choice([KEY, SessionKey("FIX.4.2", "GW", "C2"), SessionKey("FIXT.1.1", "PLXTRA", "CLIENT9")])
    tags = rng.sample([1, 6, 11, 14, 17, 31, 32, 37, 38, 39, 40, 41, 44, 54, 55, 58, 59, 60, 150, 151, 207],
                      rng.randint(1, 21))
    return OutboundMessage(key, rng.choice(["8", "9", "j"]), tuple((t, rng.choice(_VALUES)) for t in tags))


def test_to_quickfix_builds_the_bytes_the_plain_constructor_builds() -> None:
    rng = random.Random(1913)
    for _ in range(2000):
        msg = _random_record(rng)
        new, old = to_quickfix(msg, None), _old_to_quickfix(msg)
        assert type(new) is fix.Message
        assert new.toString() == old.toString()
        # What Session::send adds before the wire: the same header on both, the same bytes.
        for built in (new, old):
            header = built.getHeader()
            header.setField(34, "7")
            header.setField(52, "20261206-10:00:00.000")
        assert new.toString() == old.toString()
        assert new.getHeader().getField(35) == msg.msg_type


def test_a_built_message_is_owned_and_freed_like_one_from_the_constructor() -> None:
    msg = OutboundMessage(KEY, "8", ((37, "O-1"), (11, "C-1"), (150, "0"), (39, "0")))
    built = to_quickfix(msg, None)
    assert built.thisown   # Python owns it: QuickFIX's message is deleted with it (no leak)
    copy = fix.Message(built)
    del built
    assert "\x0111=C-1\x01" in copy.toString()


def test_loop_is_current_answers_what_get_running_loop_answers() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert not loop_is_current(loop)   # not running
        assert loop_is_current_or_idle(loop)
        seen: dict[str, tuple[bool, bool]] = {}

        def both(which: asyncio.AbstractEventLoop) -> tuple[bool, bool]:
            return loop_is_current(which), loop_is_current_or_idle(which)

        async def inside() -> None:
            seen["loop thread"] = both(loop)
            other = threading.Thread(target=lambda: seen.__setitem__("other thread", both(loop)))
            other.start()
            other.join(5)
            idle = asyncio.new_event_loop()
            seen["another loop"] = both(idle)
            idle.close()

        loop.run_until_complete(inside())
        assert seen == {"loop thread": (True, True), "other thread": (False, False),
                        "another loop": (False, True)}
        assert both(loop) == (False, True)   # stopped again
    finally:
        loop.close()


def test_a_loop_without_a_thread_id_is_asked_the_slow_way() -> None:
    class Proxy:
        """A loop of another implementation: no ``_thread_id``."""

        def __init__(self) -> None:
            self.running = False

        def is_running(self) -> bool:
            return self.running

    proxy = Proxy()
    assert not loop_is_current(proxy)   # type: ignore[arg-type]
    assert loop_is_current_or_idle(proxy)   # type: ignore[arg-type]
    proxy.running = True
    assert not loop_is_current_or_idle(proxy)   # type: ignore[arg-type]  # running, elsewhere
    asyncio.events._set_running_loop(proxy)   # type: ignore[arg-type]  # as its run_forever would
    try:
        assert loop_is_current(proxy)   # type: ignore[arg-type]
        assert loop_is_current_or_idle(proxy)   # type: ignore[arg-type]
    finally:
        asyncio.events._set_running_loop(None)
    assert not loop_is_current(proxy)   # type: ignore[arg-type]


class _Inbox:
    handled_types = frozenset({"D"})

    def __init__(self) -> None:
        self.got: list[InboundMessage] = []

    def dispatch(self, msg: InboundMessage) -> None:
        self.got.append(msg)

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


def _d(sender: str, seq: int) -> fix.Message:
    text = build_message("FIX.4.4", "D", [(49, sender), (56, "PLXTRA"), (34, str(seq))], [(11, f"C{seq}")])
    return fix.Message(text, False)


def test_a_received_message_gets_the_key_of_its_session_from_its_comp_ids_or_its_session_id(
        tmp_path: Path) -> None:
    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999))
    inbox = _Inbox()
    one = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1")
    two = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT2")
    # Told apart by their qualifier only: their messages carry the same CompIDs.
    q_a = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT3", "A")
    q_b = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT3", "B")

    async def main() -> GatewayApplication:
        app = GatewayApplication(config, inbox, asyncio.get_running_loop(), QuickFixOutbox(lambda key: None))
        app.fromApp(_d("CLIENT1", 1), one)   # before its onCreate: from its SessionID
        for sid in (one, two, q_a, q_b):
            app.onCreate(sid)
        app.fromApp(_d("CLIENT1", 2), one)
        app.fromApp(_d("CLIENT2", 3), two)
        app.fromApp(_d("CLIENT3", 4), q_b)
        app.fromApp(_d("CLIENT3", 5), q_a)
        return app

    app = asyncio.run(main())
    assert app.callback_errors == 0
    keys = [(m.msg_seq_num, m.session) for m in inbox.got]
    assert keys == [(1, SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")),
                    (2, SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")),
                    (3, SessionKey("FIX.4.4", "PLXTRA", "CLIENT2")),
                    (4, SessionKey("FIX.4.4", "PLXTRA", "CLIENT3", "B")),
                    (5, SessionKey("FIX.4.4", "PLXTRA", "CLIENT3", "A"))]
    # the same key object as the session's callbacks use (one per session)
    assert inbox.got[2].session is app._key(two)
    # Known CompIDs need no SessionID at all; shared ones (qualifiers) and unknown ones ask it.
    other = fix.SessionID("FIX.4.4", "ELSE", "WHERE")
    assert app._key_of_text(_d("CLIENT2", 9).toString(), other) is app._key(two)
    for sender in ("CLIENT3", "CLIENT4"):
        assert app._key_of_text(_d(sender, 9).toString(), other) == SessionKey("FIX.4.4", "ELSE", "WHERE")


def test_has_groups_answers_as_the_dictionary_does_once_tags_are_learned() -> None:
    spec = locate_dictionaries().directory / "FIX44.xml"
    lazy = MessageDictionaries(DictionaryCache(), spec)
    full = fix.DataDictionary(str(spec))
    rng = random.Random(44)
    pool = [1, 6, 11, 14, 17, 31, 32, 37, 38, 39, 44, 54, 55, 58, 60, 78, 136, 150, 151, 382, 453, 454, 555]
    for _ in range(500):   # the same tags again and again: the learned answers must stay right
        fields = tuple((t, "1") for t in rng.sample(pool, rng.randint(1, 8)))
        expected = any(full.isGroup("8", t) for t, _ in fields)
        assert lazy.has_groups("8", fields) is expected, fields
