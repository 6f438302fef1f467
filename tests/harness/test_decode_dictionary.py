"""QuickFIX data dictionaries found and read at run time (from the installed quickfix package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.harness.codec import DATA_TAGS, LENGTH_TAGS
from gateway.harness.dictionary import dictionary_for, find_spec_dir, load_dictionary, load_spec
from gateway.harness.errors import DictionaryError


def test_dictionaries_come_from_the_quickfix_install() -> None:
    import sys

    directory = find_spec_dir()
    assert (directory / "FIX44.xml").is_file()
    # Read where pip put them (<prefix>/share/quickfix of the running interpreter), never a copy in the repo.
    assert directory.resolve() == (Path(sys.prefix) / "share" / "quickfix").resolve()
    repo = Path(__file__).resolve().parents[2]
    assert not list((repo / "gateway").rglob("FIX*.xml"))


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_names_and_meanings(version: str) -> None:
    d = load_dictionary(version)
    assert d.field_name(11) == "ClOrdID"
    assert d.tag("ClOrdID") == 11
    assert d.value_meaning(35, "D") == "NewOrderSingle"
    assert d.value_meaning(54, "1") == "BUY"
    assert d.value_meaning(54, "nope") is None
    assert d.value_meaning(11, "x") is None
    assert d.msg_type("ExecutionReport") == "8"
    assert d.is_admin("A") and not d.is_admin("D")
    assert load_dictionary(version) is d  # parsed once, cached


def test_fixt_session_plus_application_version() -> None:
    d = load_dictionary("FIXT.1.1")
    assert d.version == "FIXT.1.1/FIX50SP2"
    assert d.message_name("A") == "Logon" and d.message_name("D") == "NewOrderSingle"
    assert d.value_meaning(1128, "9") == "FIX50_SP2"
    assert dictionary_for("FIXT.1.1", "6").version == "FIXT.1.1/FIX44"  # ApplVerID 6 = FIX.4.4
    assert dictionary_for("FIXT.1.1", None, "7").version == "FIXT.1.1/FIX50"
    assert dictionary_for("FIXT.1.1", "8", "7").version == "FIXT.1.1/FIX50SP1"  # message beats session


def test_codec_data_tags_match_the_dictionaries() -> None:
    names = ["FIX40", "FIX41", "FIX42", "FIX43", "FIX44", "FIX50", "FIX50SP1", "FIX50SP2", "FIXT11"]
    data: set[int] = set()
    lengths: set[int] = set()
    for name in names:
        spec = load_spec(name)
        data |= spec.data_tags
        lengths |= {t for t, kind in spec.field_types.items() if kind == "LENGTH"}
    assert data == DATA_TAGS
    assert lengths - {9, 383} == LENGTH_TAGS


def test_missing_dictionaries_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="no QuickFIX data dictionary"):
        find_spec_dir(tmp_path)
    with pytest.raises(DictionaryError):
        load_dictionary("FIX.4.4", spec_dir=tmp_path)
    with pytest.raises(DictionaryError, match="FIX99"):
        load_dictionary("FIX.9.9")


def test_unreadable_xml_is_a_dictionary_error(tmp_path: Path) -> None:
    (tmp_path / "FIX44.xml").write_text("<fix><fields><field number='x'")
    with pytest.raises(DictionaryError, match="cannot read"):
        load_spec("FIX44", tmp_path)


def test_group_layouts_from_messages_and_components() -> None:
    d = load_dictionary("FIX.4.4")
    order = d.group_layout("D")
    parties = order.groups[453]  # NoPartyIDs, from the Parties component
    assert parties.delimiter == 448 and {447, 452, 802} <= parties.members
    assert parties.groups[802].delimiter == 523  # nested NoPartySubIDs
    assert 627 in order.groups  # NoHops, from the standard header
    snapshot = d.group_layout("W").groups[268]
    assert snapshot.delimiter == 269 and 270 in snapshot.members
    assert d.group_layout("W") is d.group_layout("W")


def test_self_referencing_components_do_not_loop(tmp_path: Path) -> None:
    (tmp_path / "FIX44.xml").write_text(
        "<fix><header/><trailer/><messages><message name='M' msgtype='U1' msgcat='app'>"
        "<component name='Loop'/></message></messages>"
        "<components><component name='Loop'><group name='NoX'><field name='X'/>"
        + "<component name='Loop'/>"
        * 40  # expanded naively: 40**depth
        + "</group></component></components>"
        "<fields><field number='5001' name='NoX' type='NUMINGROUP'/>"
        "<field number='5002' name='X' type='STRING'/></fields></fix>"
    )
    d = load_dictionary("FIX.4.4", spec_dir=tmp_path)
    layout = d.group_layout("U1")
    assert layout.groups[5001].delimiter == 5002
    assert d.message_name("U1") == "M"
