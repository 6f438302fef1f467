"""gateway.vocab.dictionary: the one reader of QuickFIX's data dictionaries.

The compiled files are checked against QuickFIX itself: the dictionary QuickFIX builds from a
compiled file must say exactly what the one it builds from the shipped file says (message fields,
required fields, repeating groups with their delimiters, members, required members and member
order, nested groups), for every message of the versions the gateway serves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import quickfix as fix

from gateway.config.dictionaries import locate_dictionaries
from gateway.fix.convert import Dictionaries, DictionaryCache, MessageDictionaries, to_quickfix
from gateway.vocab import dictionary as vd
from gateway.vocab.dictionary import use_compiled_dictionaries
from gateway.vocab.records import OutboundMessage, SessionKey

SPEC_DIR = locate_dictionaries().directory
_SKIP_TYPES = ("DATA", "XMLDATA")   # raw data needs its length field first: not part of the order check


@pytest.fixture(autouse=True, scope="module")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache for the module (FIX50SP2.xml compiles once); tests that count parses or change a
    file work on copies of their own, whose content digests name other cache entries."""
    cache = tmp_path_factory.mktemp("dd-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLXTRA_FIX_DICTIONARY_CACHE", str(cache))
        yield cache
    vd.release_compiled()


# -- what QuickFIX built, as plain data ----------------------------------------------------------------
def _group_shape(dd: fix.DataDictionary, msg: str, tags: list[int]) -> tuple[object, ...]:
    members = tuple(t for t in tags if dd.isField(t))
    required = tuple(t for t in members if dd.isRequiredField(msg, t))
    nested = []
    for t in members:
        if dd.isGroup(msg, t):
            inner = fix.DataDictionary()
            delim = dd.getGroup(msg, t, 0, inner)[0]
            nested.append((t, delim, _group_shape(inner, msg, tags)))
    return members, required, tuple(nested)


def _shape(dd: fix.DataDictionary, msg_types: list[str], tags: list[int]) -> dict[str, object]:
    shape: dict[str, object] = {
        "header": tuple(t for t in tags if dd.isHeaderField(t)),
        "trailer": tuple(t for t in tags if dd.isTrailerField(t)),
    }
    for msg in msg_types:
        groups = []
        for t in tags:
            if dd.isGroup(msg, t):
                inner = fix.DataDictionary()
                delim = dd.getGroup(msg, t, 0, inner)[0]
                groups.append((t, delim, _group_shape(inner, msg, tags)))
        shape[msg] = (dd.isMsgType(msg),
                      tuple(t for t in tags if dd.isMsgField(msg, t)),
                      tuple(t for t in tags if dd.isRequiredField(msg, t)),
                      tuple(groups))
    return shape


def _entry(dd: fix.DataDictionary, msg: str, tags: list[int], delim: int) -> list[str]:
    """One group entry holding every member once, in descending tag order (QuickFIX reorders)."""
    parts = [f"{delim}=1"]
    for t in tags:
        if t == delim or not dd.isField(t):
            continue
        parts.append(f"{t}=1")
        if dd.isGroup(msg, t):
            inner = fix.DataDictionary()
            inner_delim = dd.getGroup(msg, t, 0, inner)[0]
            parts += _entry(inner, msg, tags, inner_delim)
    return parts


def _group_orders(dd: fix.DataDictionary, transport: fix.DataDictionary | None, msg_types: list[str],
                  tags: list[int]) -> dict[tuple[str, int], str]:
    """Each top-level group serialized by QuickFIX: shows the member order of every entry."""
    out = {}
    for msg in msg_types:
        for t in tags:
            if not dd.isGroup(msg, t):
                continue
            inner = fix.DataDictionary()
            delim = dd.getGroup(msg, t, 0, inner)[0]
            entry = _entry(inner, msg, sorted(tags, reverse=True), delim)
            body = "\x01".join([f"35={msg}", f"{t}=1", *entry])
            text = f"8={dd.getVersion() or 'FIXT.1.1'}\x019=5\x01{body}\x0110=000\x01"
            message = fix.Message(text, transport, dd, False) if transport else fix.Message(text, dd, False)
            out[(msg, t)] = message.toString()
    return out


@functools.lru_cache(maxsize=8)
def _shipped(path: Path) -> fix.DataDictionary:
    """QuickFIX's parse of a shipped file, shared by the tests (FIX50SP2.xml takes seconds)."""
    return fix.DataDictionary(str(path))


def _tags_of(layout: vd.GroupLayout) -> set[int]:
    tags = set(layout.members)
    for inner in layout.groups.values():
        tags |= _tags_of(inner)
    return tags


def _same_dictionary(source: Path, compiled: Path, transport: Path | None = None,
                     msg_types: list[str] | None = None) -> None:
    """``msg_types`` None: every message, every tag of the file. Otherwise those messages, each
    over the tags it may hold anywhere (the Python reader's expansion): FIX50SP2 is too big for
    the whole check in a test (it takes minutes; it was run once by hand, with no difference)."""
    spec = vd.load_spec_file(source)
    shipped, ours = _shipped(source), fix.DataDictionary(str(compiled))
    tdd = fix.DataDictionary(str(transport)) if transport else None
    data = {t for t, kind in spec.field_types.items() if kind in _SKIP_TYPES}
    if msg_types is None:
        plan = [(sorted(spec.message_names), sorted(spec.field_names))]
    else:
        python = vd.FixDictionary(spec.name, (spec,))
        plan = [([m], sorted(_tags_of(python.group_layout(m)))) for m in msg_types]
    groups = 0
    for messages, tags in plan:
        assert _shape(ours, messages, tags) == _shape(shipped, messages, tags)
        order_tags = [t for t in tags if t not in data]
        orders = _group_orders(shipped, tdd, messages, order_tags)
        assert _group_orders(ours, tdd, messages, order_tags) == orders
        groups += len(orders)
    assert groups or spec.name == "FIXT11"   # FIXT11's messages have no groups


@pytest.mark.parametrize("name", ["FIX42.xml", "FIX44.xml", "FIXT11.xml"])
def test_compiled_file_builds_the_same_quickfix_dictionary(name: str) -> None:
    source = SPEC_DIR / name
    compiled = vd.compiled_dictionary(source)
    assert compiled != source and compiled.is_file()
    _same_dictionary(source, compiled)


def test_compiled_fix50sp2_builds_the_same_quickfix_dictionary() -> None:
    source = SPEC_DIR / "FIX50SP2.xml"
    # orders and market data as the gateway serves them
    messages = ["D", "8", "X"]
    # FIX 5.0 files have no header: their groups are parsed with the FIXT.1.1 transport dictionary
    _same_dictionary(source, vd.compiled_dictionary(source), SPEC_DIR / "FIXT11.xml", messages)


# Every way a component behaves differently in QuickFIX 1.16 (see DataDictionary.cpp): an optional
# component holding a required group, a group whose first child is a component that starts with a
# component (its delimiter is that component's first *direct* field), a required component nested
# in a group's component (QuickFIX marks its required fields required in the whole message), a
# component in a group holding a required group, and plain ones.
QUIRKS = """<fix type="FIX" major="4" minor="4" servicepack="0">
 <header><field name="BeginString" required="Y"/><field name="BodyLength" required="Y"/>
  <field name="MsgType" required="Y"/>
  <group name="NoHops" required="N"><component name="Hop" required="N"/></group></header>
 <trailer><field name="CheckSum" required="Y"/></trailer>
 <messages>
  <message name="Alpha" msgtype="U1" msgcat="app">
   <field name="Text" required="Y"/>
   <component name="OptionalWithRequiredGroup" required="N"/>
   <component name="RequiredPlain" required="Y"/>
   <group name="NoOuter" required="Y">
    <component name="StartsWithComponent" required="Y"/>
    <field name="Symbol" required="Y"/>
    <component name="HoldsRequiredGroup" required="N"/>
   </group>
  </message>
  <message name="Beta" msgtype="U2" msgcat="app">
   <group name="NoOuter" required="Y">
    <field name="Symbol" required="Y"/>
    <component name="NestsRequired" required="N"/>
   </group>
   <component name="OnlyComponents" required="Y"/>
  </message>
  <message name="Gamma" msgtype="U3" msgcat="app">
   <group name="NoOuter" required="N">
    <component name="OnlyComponents" required="Y"/>
    <field name="Symbol" required="Y"/>
   </group>
  </message>
 </messages>
 <components>
  <component name="Hop"><field name="HopCompID" required="N"/></component>
  <component name="OptionalWithRequiredGroup">
   <field name="Account" required="Y"/>
   <group name="NoParties" required="Y"><field name="PartyID" required="Y"/>
    <field name="PartyRole" required="Y"/></group>
  </component>
  <component name="RequiredPlain"><field name="Side" required="Y"/><field name="Price" required="N"/>
   <component name="OptionalWithRequiredGroup" required="Y"/></component>
  <component name="StartsWithComponent">
   <component name="RequiredPlain" required="Y"/><field name="OrderQty" required="Y"/></component>
  <component name="HoldsRequiredGroup">
   <group name="NoInner" required="Y"><field name="SecondaryOrderID" required="Y"/></group>
   <field name="ClOrdID" required="N"/></component>
  <component name="NestsRequired"><field name="Currency" required="N"/>
   <component name="RequiredPlain" required="Y"/></component>
  <component name="OnlyComponents"><component name="Inner" required="N"/></component>
  <component name="Inner"><field name="ExecInst" required="Y"/></component>
 </components>
 <fields>
  <field number="8" name="BeginString" type="STRING"/><field number="9" name="BodyLength" type="LENGTH"/>
  <field number="35" name="MsgType" type="STRING"/><field number="10" name="CheckSum" type="STRING"/>
  <field number="627" name="NoHops" type="NUMINGROUP"/><field number="628" name="HopCompID" type="STRING"/>
  <field number="58" name="Text" type="STRING"/><field number="1" name="Account" type="STRING"/>
  <field number="453" name="NoParties" type="NUMINGROUP"/><field number="448" name="PartyID" type="STRING"/>
  <field number="452" name="PartyRole" type="INT"/><field number="54" name="Side" type="CHAR">
   <value enum="1" description="BUY"/><value enum="2" description="SELL"/></field>
  <field number="44" name="Price" type="PRICE"/><field number="5000" name="NoOuter" type="NUMINGROUP"/>
  <field number="55" name="Symbol" type="STRING"/><field number="38" name="OrderQty" type="QTY"/>
  <field number="5001" name="NoInner" type="NUMINGROUP"/>
  <field number="105" name="SecondaryOrderID" type="STRING"/>
  <field number="11" name="ClOrdID" type="STRING"/><field number="15" name="Currency" type="CURRENCY"/>
  <field number="18" name="ExecInst" type="MULTIPLEVALUESTRING"/>
 </fields>
</fix>
"""


def test_compiled_file_keeps_quickfix_component_rules(tmp_path: Path) -> None:
    source = tmp_path / "QUIRKS.xml"
    source.write_text(QUIRKS, encoding="utf-8")
    compiled = vd.compiled_dictionary(source)
    text = compiled.read_text(encoding="utf-8")
    # the cases the written-out form cannot say stay components (wrappers or the originals)...
    assert "PlxtraCompiled" in text and 'name="StartsWithComponent"' in text
    assert 'name="NestsRequired"' in text and 'name="OnlyComponents"' in text
    # ...and the plain ones are written out
    assert '<component name="RequiredPlain" required="Y"/>' not in text.split("<messages>")[1].split("U2")[0]
    _same_dictionary(source, compiled)


def test_same_answers_as_the_shipped_files_for_python() -> None:
    fix42, fix44 = vd.load_dictionary("FIX.4.2"), vd.load_dictionary("FIX.4.4")
    fixt = vd.load_dictionary("FIXT.1.1", "9")
    for d in (fix42, fix44, fixt):
        assert d.field_name(11) == "ClOrdID" and d.tag("OrderQty") == 38
        assert d.value_meaning(54, "1") == "BUY" and d.value_meaning(35, "8") == "ExecutionReport"
        assert d.msg_type("NewOrderSingle") == "D"
    assert fix42.field_name(21) == "HandlInst" and fix42.message_name("AE") is None
    assert fix44.message_name("AE") == "TradeCaptureReport" and fix44.value_meaning(39, "A") == "PENDING_NEW"
    assert fixt.version == "FIXT.1.1/FIX50SP2" and fixt.is_admin("A") and not fixt.is_admin("8")
    assert fixt.value_meaning(1128, "9") == "FIX50_SP2" and fixt.field_name(1137) == "DefaultApplVerID"
    assert fixt.group_layout("8").groups[453].delimiter == 448
    # the harness's names are the same reader
    from gateway.harness.dictionary import load_dictionary as harness_load

    assert harness_load("FIX.4.4") is fix44


def _own_copy(tmp_path: Path, name: str) -> Path:
    """A copy of a shipped file with content of its own (the cache is named by content)."""
    source = tmp_path / name
    text = (SPEC_DIR / name).read_text(encoding="utf-8")
    source.write_text(f"{text}<!-- {tmp_path} -->\n", encoding="utf-8")
    return source


def test_each_file_is_parsed_once(tmp_path: Path) -> None:
    source = _own_copy(tmp_path, "FIX44.xml")
    key = str(source)
    first = vd.compiled_dictionary(source)
    assert vd.compiled_dictionary(source) == first
    vd.message_dictionary(source, "8")
    vd.message_dictionary(source, "D")
    assert vd.parse_counts[key] == 1            # one parse served the compiled file and both messages
    vd.release_compiled()
    assert vd.compiled_dictionary(source) == first
    vd.message_dictionary(source, "8")
    assert vd.parse_counts[key] == 1            # on disk now: nothing to parse
    spec = vd.load_spec_file(source)
    assert vd.load_spec_file(source) is spec
    assert vd.load_dictionary("FIX.4.4", spec_dir=tmp_path).specs == (spec,)
    assert vd.parse_counts[key] == 2            # the Python lookups: their own single parse


def test_changed_file_is_read_again(tmp_path: Path) -> None:
    source = _own_copy(tmp_path, "FIX44.xml")
    before = vd.compiled_dictionary(source)
    spec = vd.load_spec_file(source)
    assert not fix.DataDictionary(str(before)).isMsgType("U9")
    text = source.read_text(encoding="utf-8").replace(
        "<messages>", '<messages><message name="Custom" msgtype="U9" msgcat="app">'
                      '<field name="Text" required="Y"/></message>', 1)
    source.write_text(text, encoding="utf-8")
    after = vd.compiled_dictionary(source)
    assert after != before
    dd = fix.DataDictionary(str(after))
    assert dd.isMsgType("U9") and dd.isRequiredField("U9", 58)
    assert vd.load_spec_file(source) is not spec
    assert vd.load_spec_file(source).message_names["U9"] == "Custom"
    assert vd.load_dictionary("FIX.4.4", spec_dir=tmp_path).message_name("U9") == "Custom"


def test_settings_name_compiled_files() -> None:
    text = (f"[SESSION]\nBeginString=FIXT.1.1\nTransportDataDictionary={SPEC_DIR / 'FIXT11.xml'}\n"
            f"AppDataDictionary={SPEC_DIR / 'FIX50SP2.xml'}\n"
            f"AppDataDictionary.FIX.4.4={SPEC_DIR / 'FIX44.xml'}\n"
            "[SESSION]\nDataDictionary=/nowhere/FIX44.xml\n")
    out = use_compiled_dictionaries(text).splitlines()
    assert out[2] == f"TransportDataDictionary={vd.compiled_dictionary(SPEC_DIR / 'FIXT11.xml')}"
    assert out[3] == f"AppDataDictionary={vd.compiled_dictionary(SPEC_DIR / 'FIX50SP2.xml')}"
    assert out[4] == f"AppDataDictionary.FIX.4.4={vd.compiled_dictionary(SPEC_DIR / 'FIX44.xml')}"
    assert out[6] == "DataDictionary=/nowhere/FIX44.xml"   # unreadable: QuickFIX says so, as before


def _report(key: SessionKey) -> OutboundMessage:
    fields = ((37, "O-1"), (11, "C-1"), (17, "E-1"), (150, "F"), (39, "1"), (55, "XS01"), (54, "1"),
              (453, "2"), (448, "XS:0001"), (447, "D"), (452, "24"), (448, "PLX"), (447, "D"), (452, "1"),
              (38, "100"), (32, "10"), (31, "1.5"), (151, "90"), (14, "10"), (6, "1.5"),
              (136, "1"), (137, "0.01"), (138, "AUD"), (139, "1"))
    return OutboundMessage(key, "8", fields)


@pytest.mark.parametrize(("begin", "files"), [("FIX.4.4", ("FIX44.xml",)), ("FIX.4.2", ("FIX42.xml",)),
                                              ("FIXT.1.1", ("FIXT11.xml", "FIX50SP2.xml"))])
def test_outbound_messages_are_built_as_with_the_full_dictionary(begin: str, files: tuple[str, ...]) -> None:
    paths = [SPEC_DIR / f for f in files]
    full = Dictionaries(*(_shipped(p) for p in paths))
    lazy = MessageDictionaries(DictionaryCache(), *paths)
    key = SessionKey(begin, "PLXTRA", "CLIENT1")
    for msg in (_report(key), OutboundMessage(key, "j", ((45, "3"), (372, "D"), (380, "3"))),
                OutboundMessage(key, "ZZ", ((58, "not a message of any version"),))):
        assert to_quickfix(msg, lazy).toString() == to_quickfix(msg, full).toString()
    assert lazy.for_msg_type("8") is lazy.for_msg_type("8")


def test_without_a_writable_cache_the_shipped_files_are_read(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")   # nothing can be created below a file, even by root
    monkeypatch.setenv("PLXTRA_FIX_DICTIONARY_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))
    source = SPEC_DIR / "FIX44.xml"
    assert vd.compiled_dictionary(source) == source
    assert vd.message_dictionary(source, "8") == source
    cache = DictionaryCache()
    assert cache.message(source, "8") is cache.get(source) is cache.message(source, "D")
