"""Outbound messages without repeating groups are parsed without a dictionary (to_quickfix's fast
path): the message QuickFIX puts on the wire is the same as with the session's full dictionary."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import quickfix as fix

from gateway.config.dictionaries import locate_dictionaries
from gateway.fix.convert import Dictionaries, DictionaryCache, MessageDictionaries, to_quickfix
from gateway.vocab.records import OutboundMessage, SessionKey

SPEC_DIR = locate_dictionaries().directory
VERSIONS = [("FIX.4.4", ("FIX44.xml",)), ("FIX.4.2", ("FIX42.xml",)),
            ("FIXT.1.1", ("FIXT11.xml", "FIX50SP2.xml"))]


@functools.cache
def _full(name: str) -> fix.DataDictionary:
    return fix.DataDictionary(str(SPEC_DIR / name))


def _messages(key: SessionKey) -> list[OutboundMessage]:
    new = ((37, "O-1"), (11, "C-1"), (17, "O-1-0"), (150, "0"), (39, "0"), (1, "XS:0001"), (55, "XS01"),
           (207, "XSX"), (54, "1"), (38, "100"), (40, "2"), (44, "10.5"), (59, "0"), (151, "100"),
           (14, "0"), (6, "0"), (60, "20261206-10:00:00.000"), (58, "Zürich café"))
    # given out of tag order, with a header field in the body: QuickFIX orders both the same way
    shuffled = ((60, "20261206-10:00:00.000"), (6, "0"), (11, "C-2"), (37, "O-2"), (17, "O-2-F1"),
                (150, "F"), (39, "2"), (55, "XS01"), (54, "2"), (38, "5"), (32, "5"), (31, "9.5"),
                (151, "0"), (14, "5"), (43, "Y"))
    grouped = ((37, "O-3"), (11, "C-3"), (17, "E-3"), (150, "F"), (39, "1"), (55, "XS01"), (54, "1"),
               (453, "1"), (448, "XS:0001"), (447, "D"), (452, "24"), (38, "100"), (151, "90"),
               (14, "10"), (6, "1.5"))
    return [OutboundMessage(key, "8", new), OutboundMessage(key, "8", shuffled),
            OutboundMessage(key, "8", grouped),
            OutboundMessage(key, "9", ((37, "O-1"), (11, "C-9"), (41, "C-1"), (39, "0"), (434, "1"),
                                       (102, "0"), (58, "too late"))),
            OutboundMessage(key, "j", ((45, "3"), (372, "D"), (380, "3"), (58, "no")))]


@pytest.mark.parametrize(("begin", "files"), VERSIONS)
def test_the_fast_path_builds_what_the_full_dictionary_builds(begin: str, files: tuple[str, ...]) -> None:
    key = SessionKey(begin, "PLXTRA", "CLIENT1")
    full = Dictionaries(*(_full(f) for f in files))
    lazy = MessageDictionaries(DictionaryCache(), *(SPEC_DIR / f for f in files))
    for msg in _messages(key):
        built = to_quickfix(msg, lazy)
        assert built.toString() == to_quickfix(msg, full).toString()
        header = built.getHeader()
        assert header.getField(35) == msg.msg_type and header.getField(49) == "PLXTRA"
    # FIX 4.2's ExecutionReport has no Parties: 453 is a plain (unknown) field there
    assert lazy.has_groups("8", _messages(key)[2].fields) is (begin != "FIX.4.2")
    assert not lazy.has_groups("8", _messages(key)[0].fields)


def test_a_group_count_still_gets_its_groups_structured(tmp_path: Path) -> None:
    key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
    lazy = MessageDictionaries(DictionaryCache(), SPEC_DIR / "FIX44.xml")
    built = to_quickfix(_messages(key)[2], lazy)
    group = fix.Group(453, 448)
    built.getGroup(1, group)   # raises when 453 was parsed as a plain field
    assert group.getField(448) == "XS:0001" and group.getField(452) == "24"


def test_a_value_that_is_not_a_str_is_written_as_its_text() -> None:
    # Records from OutboundMessage.build hold str values only; one built by hand may not, and
    # to_quickfix must still build it (it never fails on a value's content).
    key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
    as_text = OutboundMessage(key, "8", ((37, "O-1"), (11, "C-1"), (38, "100"), (14, "0")))
    mixed = OutboundMessage(key, "8", ((37, "O-1"), (11, "C-1"), (38, 100), (14, 0)))   # type: ignore[arg-type]
    assert to_quickfix(mixed, None).toString() == to_quickfix(as_text, None).toString()
    assert "\x0138=100\x01" in to_quickfix(mixed, None).toString()
