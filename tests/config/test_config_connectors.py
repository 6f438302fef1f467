"""One QuickFIX settings text per connector: the acceptor gets only acceptor sessions, the
initiator only initiator sessions, and ``check-config`` parses, verifies and constructs every
connector, so a config that cannot run cannot pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from config_helpers import CONFIG_DIR, SESSION, load_ok, write

from gateway.cli import main
from gateway.config import ConfigError, build_session_settings, locate_dictionaries
from gateway.config.model import Role
from gateway.config.quickfix_settings import (
    connector_roles,
    render_connector_settings,
    render_quickfix_settings,
    verify_connector_settings,
)

INITIATOR = """\
  - name: venue
    begin_string: FIX.4.4
    sender_comp_id: PLXTRA
    target_comp_id: VENUE
    role: initiator
    host: 127.0.0.1
    port: 9880
    accounts: ["0002"]
"""
MIXED = "sessions:\n" + SESSION + INITIATOR


def _sections(out: str) -> dict[str, str]:
    """check-config's output split into its ``QuickFIX settings: <role> connector`` sections."""
    parts = re.split(r"\nQuickFIX settings: (\w+) connector\n-+\n", out)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_mixed_config_renders_one_text_per_connector(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, MIXED)
    assert connector_roles(cfg) == (Role.ACCEPTOR, Role.INITIATOR)
    texts = render_connector_settings(cfg)
    acceptor = build_session_settings(texts[Role.ACCEPTOR])
    initiator = build_session_settings(texts[Role.INITIATOR])
    assert (acceptor.size(), initiator.size()) == (1, 1)
    [a] = acceptor.getSessions()
    [i] = initiator.getSessions()
    assert a.toString() == "FIX.4.4:PLXTRA->CLIENT1" and i.toString() == "FIX.4.4:PLXTRA->VENUE"
    assert acceptor.get(a).getInt("SocketAcceptPort") == cfg.gateway.listen_port
    assert initiator.get(i).getString("SocketConnectHost") == "127.0.0.1"
    assert not initiator.get(i).has("SocketAcceptPort") and not acceptor.get(a).has("SocketConnectPort")
    for role in (Role.ACCEPTOR, Role.INITIATOR):
        verify_connector_settings(cfg, role, build_session_settings(texts[role]))
    # No single text can run both connectors, so asking for one is an error, not a wrong text.
    with pytest.raises(ConfigError, match="both roles"):
        render_quickfix_settings(cfg)


def test_check_config_shows_and_constructs_both_connectors(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, MIXED)
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "venue: PLXTRA -> VENUE FIX.4.4 (initiator, connects to 127.0.0.1:9880)" in out
    sections = _sections(out)
    assert list(sections) == ["acceptor", "initiator"]
    assert "SocketAcceptPort=" in sections["acceptor"] and "TargetCompID=VENUE" not in sections["acceptor"]
    assert "SocketConnectPort=9880" in sections["initiator"] and "CLIENT1" not in sections["initiator"]
    for text in sections.values():
        assert "parsed these settings: 1 session(s)\n" in text
        assert "not constructed" not in text

    assert main(["check-config", "--settings-only", "--connector", "initiator", str(path)]) == 0
    only, _ = capsys.readouterr()
    assert only.startswith("# QuickFIX settings generated") and only.count("[DEFAULT]") == 1
    assert build_session_settings(only).size() == 1 and "ConnectionType=initiator" in only


def test_shipped_venue1_example_uncommented_is_a_valid_pair(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = (CONFIG_DIR / "gateway.yaml").read_text(encoding="utf-8")
    start = text.index("  # - name: venue1")
    block = text[start:].replace("  # - name: venue1", "  - name: venue1", 1).replace("\n  #   ", "\n    ")
    path = write(tmp_path, text[:start] + block)
    monkeypatch.setenv("VENUE1_PASSWORD", "pw")
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err
    out, _ = capsys.readouterr()
    assert "venue1: PLXTRA -> VENUE1 FIX.4.4 (initiator, connects to 127.0.0.1:9880)" in out
    sections = _sections(out)
    assert "parsed these settings: 3 session(s)" in sections["acceptor"]
    assert "parsed these settings: 1 session(s)" in sections["initiator"]


def test_initiator_without_host_and_port_fails_naming_file_line_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = INITIATOR.replace("    host: 127.0.0.1\n", "").replace("    port: 9880\n", "")
    path = write(tmp_path, "sessions:\n" + SESSION + broken)
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = 1 + len(SESSION.splitlines()) + 1   # the initiator's "- name: venue" line
    assert err.splitlines() == [
        f"{path}:{line}: sessions[1].host: missing: an initiator needs host and port to connect to",
        f"{path}:{line}: sessions[1].port: missing: an initiator needs host and port to connect to",
    ]


def test_a_connector_given_the_other_roles_sessions_fails_verification(tmp_path: Path) -> None:
    """Today's defect in one text: acceptor settings that also hold the initiator session, which
    QuickFIX's threaded acceptor refuses at start ("SocketAcceptPort not defined")."""
    cfg = load_ok(tmp_path, MIXED)
    texts = render_connector_settings(cfg)
    initiator_sessions = texts[Role.INITIATOR].split("\n\n", 1)[1]
    both = build_session_settings(texts[Role.ACCEPTOR] + "\n" + initiator_sessions)
    with pytest.raises(ConfigError) as info:
        verify_connector_settings(cfg, Role.ACCEPTOR, both)
    message = str(info.value)
    assert ("sessions[1]: acceptor connector: FIX.4.4:PLXTRA->VENUE has ConnectionType initiator"
            in message), message
    assert "sessions[1]: acceptor connector: FIX.4.4:PLXTRA->VENUE lacks SocketAcceptPort" in message


def test_a_config_quickfix_cannot_build_fails_check_config(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The files exist and the text parses, but the initiator's dictionary is not a dictionary:
    only constructing the connector shows it, as a real start would."""
    dicts = tmp_path / "dicts"
    dicts.mkdir()
    (dicts / "FIX44.xml").symlink_to(locate_dictionaries().path("FIX44.xml"))
    (dicts / "FIX42.xml").write_text("<fix><broken></fix>", encoding="utf-8")
    path = write(tmp_path, "gateway: {data_dictionary_dir: dicts}\nsessions:\n" + SESSION
                 + INITIATOR.replace("FIX.4.4", "FIX.4.2"))
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{path}: sessions: initiator connector: QuickFIX refused the settings:"), err
