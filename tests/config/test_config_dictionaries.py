"""gateway.config.dictionaries: finding QuickFIX's installed XML data dictionaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from config_helpers import SESSION, load_ok

from gateway.config import DictionaryNotFound, locate_dictionaries
from gateway.config.dictionaries import candidate_dirs, dictionary_file_names, required_files


def test_installed_dictionaries_are_found_and_are_quickfix_specs() -> None:
    found = locate_dictionaries()
    assert found.directory in candidate_dirs()
    for name, (major, minor) in {"FIX42.xml": ("4", "2"), "FIX44.xml": ("4", "4"),
                                 "FIXT11.xml": ("1", "1"), "FIX50SP2.xml": ("5", "0")}.items():
        root = ET.parse(found.path(name)).getroot()
        assert root.tag == "fix"
        assert (root.get("major"), root.get("minor")) == (major, minor)


def test_files_per_session_and_per_config(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION.replace("FIX.4.4", "FIXT.1.1")
                  + "    default_appl_ver_id: FIX.5.0SP1\n"
                  + SESSION.replace("s1", "s2").replace("FIX.4.4", "FIX.4.2"))
    fixt, fix42 = cfg.sessions
    assert dictionary_file_names(fixt) == {"TransportDataDictionary": "FIXT11.xml",
                                           "AppDataDictionary": "FIX50SP1.xml"}
    assert dictionary_file_names(fix42) == {"DataDictionary": "FIX42.xml"}
    assert required_files(cfg) == ("FIXT11.xml", "FIX50SP1.xml", "FIX42.xml")


def test_first_complete_directory_wins(tmp_path: Path) -> None:
    partial, complete, later = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, names in ((partial, ["FIX44.xml"]), (complete, ["FIX44.xml", "FIX42.xml"]), (later, ["FIX44.xml",
                                                                                               "FIX42.xml"])):
        d.mkdir()
        for n in names:
            (d / n).write_text("<fix/>")   # locating only checks presence; parsing is QuickFIX's
    found = locate_dictionaries(needed=["FIX44.xml", "FIX42.xml"], search=[partial, complete, later])
    assert found.directory == complete


def test_not_found_names_every_place_searched(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    (a / "FIX44.xml").write_text("<fix/>")
    with pytest.raises(DictionaryNotFound) as info:
        locate_dictionaries(needed=["FIX44.xml", "FIXT11.xml"], search=[a, b])
    err = info.value
    assert err.searched == (str(a), str(b)) and err.missing == ("FIXT11.xml",)
    assert str(a) in str(err) and str(b) in str(err) and "FIXT11.xml" in str(err)
    assert err.key == "gateway.data_dictionary_dir"


def test_override_is_the_only_place_looked_at(tmp_path: Path) -> None:
    with pytest.raises(DictionaryNotFound) as info:
        locate_dictionaries(tmp_path)   # the installed copies exist, but must not be used
    assert info.value.searched == (str(tmp_path),)
    assert "lacks FIX42.xml, FIX44.xml, FIXT11.xml, FIX50SP2.xml" in str(info.value)
