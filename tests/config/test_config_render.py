"""gateway.config.quickfix_settings: the text, parsed back and used by QuickFIX itself."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
import quickfix as fix
from config_helpers import CONFIG_DIR, SESSION, load_ok

from gateway.config import (
    ConfigError,
    build_session_settings,
    load_config,
    locate_dictionaries,
    render_quickfix_settings,
    session_settings,
)
from gateway.config.dictionaries import DictionaryPaths
from gateway.config.model import Role


def _dict(settings: fix.SessionSettings, begin: str, sender: str, target: str) -> fix.Dictionary:
    return settings.get(fix.SessionID(begin, sender, target))


def test_shipped_config_renders_what_quickfix_reads() -> None:
    cfg = load_config(CONFIG_DIR / "gateway.yaml", env={})
    text = render_quickfix_settings(cfg)
    settings = build_session_settings(text)
    assert settings.size() == 3
    dicts = locate_dictionaries()
    defaults = settings.get()
    assert defaults.getString("UseDataDictionary") == "Y"
    assert defaults.getString("FileStorePath") == str(cfg.gateway.message_store_dir)
    assert defaults.getString("FileLogPath") == str(cfg.gateway.log_dir)

    c1 = _dict(settings, "FIX.4.4", "PLXTRA", "CLIENT1")
    assert c1.getString("ConnectionType") == "acceptor"
    assert c1.getString("DataDictionary") == str(dicts.path("FIX44.xml"))
    assert Path(c1.getString("DataDictionary")).is_file()
    assert c1.getInt("SocketAcceptPort") == 9878
    assert c1.getInt("HeartBtInt") == 30
    assert c1.getBool("NonStopSession") is True
    assert not c1.has("StartTime")
    assert c1.getBool("ResetOnLogon") is False
    assert c1.getBool("UseDataDictionary") is True   # [DEFAULT] merged into every session
    assert c1.getString("ValidateUserDefinedFields") == "N"   # partners' own tags reach the application
    assert c1.getString("AllowUnknownMsgFields") == "N"
    assert c1.getString("ValidateFieldsOutOfOrder") == "Y"
    assert not c1.has("DefaultApplVerID") and not c1.has("Password")

    c2 = _dict(settings, "FIX.4.2", "PLXTRA", "CLIENT2")
    assert c2.getString("DataDictionary") == str(dicts.path("FIX42.xml"))

    c3 = _dict(settings, "FIXT.1.1", "PLXTRA", "CLIENT3")
    assert c3.getString("DefaultApplVerID") == "FIX.5.0SP2"
    assert c3.getString("TransportDataDictionary") == str(dicts.path("FIXT11.xml"))
    assert c3.getString("AppDataDictionary") == str(dicts.path("FIX50SP2.xml"))
    assert not c3.has("DataDictionary")


class _NullApp(fix.Application):
    def onCreate(self, sessionID): pass
    def onLogon(self, sessionID): pass
    def onLogout(self, sessionID): pass
    def toAdmin(self, message, sessionID): pass
    def fromAdmin(self, message, sessionID): pass
    def toApp(self, message, sessionID): pass
    def fromApp(self, message, sessionID): pass


def test_quickfix_builds_every_session_from_the_settings(tmp_path: Path) -> None:
    """A SocketAcceptor/SocketInitiator creates its sessions in the constructor: that loads the
    data dictionaries and checks schedules and DefaultApplVerID, without opening a socket."""
    text = ("sessions:\n" + SESSION.replace("FIX.4.4", "FIXT.1.1")
            + SESSION.replace("s1", "s2").replace("CLIENT1", "CLIENT2").replace("FIX.4.4", "FIX.4.2")
            + "    schedule: {start_time: '06:00:00', end_time: '20:00:00', time_zone: Australia/Sydney,"
              " start_day: Mon, end_day: Fri}\n"
            + SESSION.replace("s1", "s3").replace("CLIENT1", "VENUE")
            + "    role: initiator\n    host: 127.0.0.1\n    port: 9\n"
            + "    schedule: {start_time: '07:00:00', end_time: '18:00:00'}\n")
    cfg = load_ok(tmp_path, text)
    app = _NullApp()
    # One SessionSettings per connector, each holding only its own sessions.
    acceptor = fix.SocketAcceptor(app, fix.MemoryStoreFactory(), session_settings(cfg, role=Role.ACCEPTOR))
    initiator = fix.SocketInitiator(app, fix.MemoryStoreFactory(), session_settings(cfg, role=Role.INITIATOR))
    for begin, target in (("FIXT.1.1", "CLIENT1"), ("FIX.4.2", "CLIENT2")):
        assert acceptor.getSession(fix.SessionID(begin, "PLXTRA", target)) is not None
    assert initiator.getSession(fix.SessionID("FIX.4.4", "PLXTRA", "VENUE")) is not None


def test_initiator_session_keys(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION + "    role: initiator\n    host: fix.example.com\n"
                  "    port: 9880\n    heartbeat_interval: 20\n    reset_on_logon: true\n")
    settings = session_settings(cfg)
    d = _dict(settings, "FIX.4.4", "PLXTRA", "CLIENT1")
    assert d.getString("ConnectionType") == "initiator"
    assert d.getString("SocketConnectHost") == "fix.example.com"
    assert d.getInt("SocketConnectPort") == 9880
    assert d.getInt("ReconnectInterval") > 0
    assert d.getInt("HeartBtInt") == 20
    assert d.getBool("ResetOnLogon") is True
    assert not d.has("SocketAcceptPort")


@pytest.mark.parametrize(("today", "start", "end"), [
    (date(2026, 11, 25), ("Sun", "21:00:00"), ("Fri", "06:00:00")),   # AEDT, UTC+11
    (date(2026, 7, 15), ("Sun", "22:00:00"), ("Fri", "07:00:00")),    # AEST, UTC+10
])
def test_zoned_weekly_schedule_is_converted_to_utc_days_included(
        tmp_path: Path, today: date, start: tuple[str, str], end: tuple[str, str]) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION + "    schedule: {start_time: '08:00:00', "
                  "end_time: '17:00:00', time_zone: Australia/Sydney, start_day: Mon, end_day: Fri}\n")
    text = render_quickfix_settings(cfg, today=today)
    settings = build_session_settings(text)   # keep it alive: get() returns a reference into it
    d = _dict(settings, "FIX.4.4", "PLXTRA", "CLIENT1")
    assert (d.getString("StartDay"), d.getString("StartTime")) == start
    assert (d.getString("EndDay"), d.getString("EndTime")) == end
    assert not d.has("NonStopSession") and not d.has("TimeZone")
    assert "# schedule in Australia/Sydney, converted to UTC" in text


def test_utc_daily_schedule_is_written_as_is(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION
                  + "    schedule: {start_time: '23:30:00', end_time: '22:00:00'}\n")
    settings = session_settings(cfg)
    d = _dict(settings, "FIX.4.4", "PLXTRA", "CLIENT1")
    assert (d.getString("StartTime"), d.getString("EndTime")) == ("23:30:00", "22:00:00")
    assert not d.has("StartDay")


def test_memory_store_has_no_file_store_path(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "gateway: {message_store: memory}\nsessions:\n" + SESSION)
    text = render_quickfix_settings(cfg)
    assert "FileStorePath" not in text
    settings = build_session_settings(text)
    assert settings.get().has("FileLogPath")


def test_secrets_never_reach_the_settings_text(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "zenith: {url: 'ws://h:1/Z', token: tok-SECRET-1}\nsessions:\n" + SESSION
                  + "    credentials: {username: u, password: pw-SECRET-2}\n")
    text = render_quickfix_settings(cfg)
    assert "SECRET" not in text


def test_configured_dictionary_dir_is_used(tmp_path: Path) -> None:
    real = locate_dictionaries()
    mine = tmp_path / "dicts"
    mine.mkdir()
    for name in ("FIX44.xml",):
        (mine / name).symlink_to(real.path(name))
    (tmp_path / "conf").mkdir()
    cfg = load_ok(tmp_path / "conf", "gateway: {data_dictionary_dir: ../dicts}\nsessions:\n" + SESSION)
    settings = session_settings(cfg)
    d = _dict(settings, "FIX.4.4", "PLXTRA", "CLIENT1")
    assert d.getString("DataDictionary") == str(mine / "FIX44.xml")


def test_quickfix_rejection_becomes_config_error() -> None:
    with pytest.raises(ConfigError, match="QuickFIX rejected"):
        build_session_settings("[DEFAULT]\nConnectionType=acceptor\n[SESSION]\nBeginString=FIX.9.9\n"
                               "SenderCompID=A\nTargetCompID=B\n")


def test_overlong_lines_are_refused(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "gateway: {log_dir: /" + "x" * 1100 + "}\nsessions:\n" + SESSION)
    with pytest.raises(ConfigError, match="longer than"):
        render_quickfix_settings(cfg, dictionaries=DictionaryPaths(tmp_path))



@pytest.mark.parametrize(("host", "restricted"),
                         [("127.0.0.1", True), ("localhost", True), ("0.0.0.0", False)])
def test_loopback_listen_host_restricts_acceptors_to_local_peers(host: str, restricted: bool) -> None:
    # QuickFIX binds every interface; only AllowedRemoteAddresses keeps a loopback gateway local.
    cfg = load_config(CONFIG_DIR / "gateway.yaml", env={})
    cfg = dataclasses.replace(cfg, gateway=dataclasses.replace(cfg.gateway, listen_host=host))
    settings = build_session_settings(render_quickfix_settings(cfg))
    assert not settings.get().has("AllowedRemoteAddresses")   # [DEFAULT]: initiators never see it
    for s in cfg.sessions:
        d = _dict(settings, s.begin_string, s.sender_comp_id, s.target_comp_id)
        if restricted:
            assert d.getString("AllowedRemoteAddresses") == "127.0.0.1"
        else:
            assert not d.has("AllowedRemoteAddresses")
