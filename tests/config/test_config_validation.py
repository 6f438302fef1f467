"""Per-session QuickFIX validation settings: YAML keys -> settings text, and the documented defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from config_helpers import SESSION, load_err, load_ok

from gateway.config import render_quickfix_settings
from gateway.config.dictionaries import DictionaryPaths

DICTS = DictionaryPaths(Path("/dicts"))


def _session_block(text: str, target: str) -> dict[str, str]:
    """The key=value lines of the [SESSION] whose TargetCompID is ``target``."""
    for block in text.split("[SESSION]")[1:]:
        pairs = dict(line.split("=", 1) for line in block.splitlines() if re.match(r"^[A-Za-z]+=", line))
        if pairs.get("TargetCompID") == target:
            return pairs
    raise AssertionError(f"no session for {target} in:\n{text}")


def test_defaults_let_user_defined_fields_through_and_stay_strict_otherwise(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION)
    s = cfg.sessions[0]
    assert (s.validate_user_defined_fields, s.allow_unknown_msg_fields, s.validate_fields_out_of_order,
            s.data_dictionary) == (False, False, True, None)
    block = _session_block(render_quickfix_settings(cfg, dictionaries=DICTS), "CLIENT1")
    assert block["ValidateUserDefinedFields"] == "N"
    assert block["AllowUnknownMsgFields"] == "N"
    assert block["ValidateFieldsOutOfOrder"] == "Y"
    assert block["DataDictionary"] == "/dicts/FIX44.xml"


def test_each_session_renders_its_own_validation_settings(tmp_path: Path) -> None:
    custom = tmp_path / "partner44.xml"
    custom.write_text("<fix/>")
    text = ("sessions:\n" + SESSION
            + "    validate_user_defined_fields: true\n    allow_unknown_msg_fields: true\n"
              "    validate_fields_out_of_order: false\n    data_dictionary: partner44.xml\n"
            + SESSION.replace("s1", "s2").replace("CLIENT1", "CLIENT3").replace("FIX.4.4", "FIXT.1.1")
            + "    data_dictionary: partner44.xml\n")
    cfg = load_ok(tmp_path, text)
    assert cfg.sessions[0].data_dictionary == custom   # relative to the YAML file's folder
    rendered = render_quickfix_settings(cfg, dictionaries=DICTS)
    one = _session_block(rendered, "CLIENT1")
    assert (one["ValidateUserDefinedFields"], one["AllowUnknownMsgFields"], one["ValidateFieldsOutOfOrder"]) \
        == ("Y", "Y", "N")
    assert one["DataDictionary"] == str(custom)
    three = _session_block(rendered, "CLIENT3")
    # FIXT.1.1: the partner's file replaces the application dictionary, the transport stays standard.
    assert three["AppDataDictionary"] == str(custom)
    assert three["TransportDataDictionary"] == "/dicts/FIXT11.xml"
    assert three["ValidateUserDefinedFields"] == "N"


@pytest.mark.parametrize(("line", "fragment"), [
    ("    data_dictionary: missing.xml\n", "does not exist"),
    ("    validate_user_defined_fields: maybe\n", "true or false"),
    ("    validate_user_defined_field: true\n", "validate_user_defined_fields"),
])
def test_bad_validation_settings_name_the_key(tmp_path: Path, line: str, fragment: str) -> None:
    err = load_err(tmp_path, "sessions:\n" + SESSION + line)
    assert fragment in str(err), str(err)
