"""gateway.config.loader: YAML -> GatewayConfig, and every validation error with file:line: key."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
from config_helpers import (
    CONFIG_DIR,
    SESSION,
    assert_error,
    error_for,
    line_of,
    load_err,
    load_ok,
    write,
)

from gateway.config import ConfigError, load_config, load_config_text
from gateway.config.model import Role, ThrottleAction
from gateway.config.sessions import DEFAULT_LIMITS


# -- the shipped files -------------------------------------------------------------------------
def test_shipped_gateway_yaml_is_the_documented_demo() -> None:
    cfg = load_config(CONFIG_DIR / "gateway.yaml", env={})
    assert (cfg.gateway.listen_host, cfg.gateway.listen_port) == ("127.0.0.1", 9878)
    assert (cfg.zenith.url, cfg.zenith.token) == ("embedded", "demo")
    assert cfg.path == (CONFIG_DIR / "gateway.yaml").absolute()
    keys = [(s.begin_string, s.sender_comp_id, s.target_comp_id) for s in cfg.sessions]
    assert keys == [("FIX.4.4", "PLXTRA", "CLIENT1"), ("FIX.4.2", "PLXTRA", "CLIENT2"),
                    ("FIXT.1.1", "PLXTRA", "CLIENT3")]
    c1, c2, c3 = cfg.sessions
    assert all(s.role is Role.ACCEPTOR and s.accept_reset_seq_num_flag for s in cfg.sessions)
    assert c1.accounts == ("XS:0001", "XS:0002")
    assert c1.account_aliases == {"0001": "XS:0001", "0002": "XS:0002"}
    assert c1.default_account == "XS:0001"
    assert c1.resolve_account(None) == "XS:0001"
    assert c1.resolve_account("0002") == "XS:0002"
    assert c1.resolve_account("XS:0002") == "XS:0002"
    assert c1.resolve_account("0003") is None
    assert c2.accounts == ("XS:0003",) and c3.accounts == ("XS:0004",)
    assert c3.default_appl_ver_id == "FIX.5.0SP2" and c1.default_appl_ver_id is None
    assert c1.symbology.default_market == "XSX" and c1.symbology.allow_suffix
    for s in cfg.sessions:
        assert s.limits.max_order_qty == Decimal("1000000")
        assert s.limits.max_notional == Decimal("50000000")
        assert isinstance(s.limits.max_notional, Decimal)
        assert s.limits.messages_per_second == 500
        assert s.limits.throttle_action is ThrottleAction.REJECT
        assert s.schedule.always_on
    # relative paths resolve against the YAML file's directory
    assert cfg.gateway.store_path == (CONFIG_DIR.parent / "var" / "gateway.sqlite")


@pytest.mark.parametrize("name", ["gateway.yaml", "gateway-external.yaml", "gateway-compose.yaml"])
def test_every_shipped_config_validates(name: str) -> None:
    # The compose config has no silent defaults for its tokens (docker-compose.yml requires them).
    env = {"PLXTRA_TOKEN": "t", "PLXTRA_ADMIN_TOKEN": "x" * 16} if name == "gateway-compose.yaml" else {}
    cfg = load_config(CONFIG_DIR / name, env=env)
    assert len(cfg.sessions) == 3
    assert cfg.session_for("FIXT.1.1", "PLXTRA", "CLIENT3") is not None


def test_external_config_points_at_a_separate_simulator() -> None:
    cfg = load_config(CONFIG_DIR / "gateway-external.yaml", env={"PLXTRA_TOKEN": "tok-123"})
    assert cfg.zenith.url == "ws://127.0.0.1:4502/Zenith"
    assert cfg.zenith.token == "tok-123"
    assert load_config(CONFIG_DIR / "gateway-external.yaml", env={}).zenith.token == "demo"


# -- structure: unknown keys, duplicates, YAML errors --------------------------------------------
def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    text = ("gateway:\n  listen_prot: 9000\nzenith:\n  ulr: embedded\nsesions: []\nsessions:\n" + SESSION
            + "    heartbeat_intervall: 20\n    limits: {max_order_qtty: 5}\n")
    err = load_err(tmp_path, text)
    assert_error(err, "gateway.listen_prot", 2, "unknown key", "did you mean 'listen_port'?")
    assert_error(err, "zenith.ulr", 4, "did you mean 'url'?")
    assert_error(err, "sesions", 5, "did you mean 'sessions'?")
    assert_error(err, "sessions[0].heartbeat_intervall", line_of(text, "heartbeat_intervall"),
                 "did you mean 'heartbeat_interval'?")
    assert_error(err, "sessions[0].limits.max_order_qtty", line_of(text, "max_order_qtty"),
                 "did you mean 'max_order_qty'?")
    assert len(err.errors) == 5
    # every problem is on its own stderr line, in file order
    assert [e.line for e in err.errors] == sorted(e.line or 0 for e in err.errors)
    assert len(str(err).splitlines()) == 5


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    text = "gateway:\n  listen_port: 9000\n  listen_port: 9001\nsessions:\n" + SESSION
    err = load_err(tmp_path, text)
    assert_error(err, "gateway.listen_port", 3, "duplicate key (first given on line 2)")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    err = load_err(tmp_path, "gateway:\n  listen_port: 9000\n  bad: [1, 2\nsessions: []\n")
    assert err.line is not None and err.line >= 3
    assert "invalid YAML" in str(err) and str(err).startswith(str(tmp_path / "gateway.yaml"))


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.file == str(tmp_path / "nope.yaml")
    assert "empty" in str(load_err(tmp_path, "# nothing\n"))
    assert_error(load_err(tmp_path, "sessions: []\n"), "sessions", 1, "at least one session")
    err = load_err(tmp_path, "gateway: {}\n")
    assert error_for(err, "sessions").reason.startswith("missing")
    assert_error(load_err(tmp_path, "sessions: nope\n"), "sessions", 1, "expected a list")


def test_load_config_text_labels_errors_with_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("sessions:\n  - begin_string: FIX.9\n", source="inline.yaml", base_dir=tmp_path)
    assert "inline.yaml:2: sessions[0].begin_string: 'FIX.9' is not one of" in str(info.value)


# -- BeginString, CompIDs, role ------------------------------------------------------------------
def test_begin_string_must_be_supported(tmp_path: Path) -> None:
    text = SESSION.replace("FIX.4.4", "FIX.4.3")
    err = load_err(tmp_path, "sessions:\n" + text)
    assert_error(err, "sessions[0].begin_string", 3, "'FIX.4.3' is not one of FIX.4.2, FIX.4.4, FIXT.1.1")


def test_fixt_gets_default_appl_ver_id_and_accepts_the_enum_form(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION.replace("FIX.4.4", "FIXT.1.1"))
    assert cfg.sessions[0].default_appl_ver_id == "FIX.5.0SP2"
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION.replace("FIX.4.4", "FIXT.1.1")
                  + "    default_appl_ver_id: 8\n")
    assert cfg.sessions[0].default_appl_ver_id == "FIX.5.0SP1"


def test_appl_ver_id_rules(tmp_path: Path) -> None:
    text = "sessions:\n" + SESSION + "    default_appl_ver_id: FIX.5.0SP2\n"
    assert_error(load_err(tmp_path, text), "sessions[0].default_appl_ver_id", 7,
                 "only for FIXT.1.1 sessions")
    text = "sessions:\n" + SESSION.replace("FIX.4.4", "FIXT.1.1") + "    default_appl_ver_id: FIX.4.4\n"
    assert_error(load_err(tmp_path, text), "sessions[0].default_appl_ver_id", 7, "is not one of FIX.5.0SP2")


def test_comp_ids_required_non_empty_and_clean(tmp_path: Path) -> None:
    text = "sessions:\n" + SESSION.replace("target_comp_id: CLIENT1", 'target_comp_id: ""').replace(
        "sender_comp_id: PLXTRA", "sender_comp_id: PLX TRA")
    err = load_err(tmp_path, text)
    assert_error(err, "sessions[0].target_comp_id", 5, "must not be empty")
    assert_error(err, "sessions[0].sender_comp_id", 4, "is not a CompID")
    text = "sessions:\n" + SESSION.replace("    target_comp_id: CLIENT1\n", "")
    assert_error(load_err(tmp_path, text), "sessions[0].target_comp_id", 2, "missing (required)")


def test_sessions_are_unique_per_begin_sender_target(tmp_path: Path) -> None:
    second = SESSION.replace("name: s1", "name: s2")
    err = load_err(tmp_path, "sessions:\n" + SESSION + second)
    assert_error(err, "sessions[1]", 7, "duplicate session FIX.4.4:PLXTRA->CLIENT1 (also sessions[0])")
    # the same CompIDs on another BeginString are another session
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION + second.replace("FIX.4.4", "FIX.4.2"))
    assert len(cfg.sessions) == 2
    err = load_err(tmp_path, "sessions:\n" + SESSION + SESSION.replace("CLIENT1", "CLIENT2"))
    assert_error(err, "sessions[1].name", 7, "duplicate session name 's1'")


def test_initiators_need_host_and_port_acceptors_must_not_set_them(tmp_path: Path) -> None:
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    role: initiator\n")
    assert_error(err, "sessions[0].host", 2, "an initiator needs host and port")
    assert_error(err, "sessions[0].port", 2)
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    host: example.com\n")
    assert_error(err, "sessions[0].host", 7, "only for initiators")
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    role: initator\n")
    assert_error(err, "sessions[0].role", 7, "did you mean 'initiator'?")
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION
                  + "    role: initiator\n    host: 10.0.0.5\n    port: 9880\n")
    s = cfg.sessions[0]
    assert (s.role, s.host, s.port) == (Role.INITIATOR, "10.0.0.5", 9880)


@pytest.mark.parametrize(("value", "reason"), [("0", "must be at least 1"), ("-5", "must be at least 1"),
                                                ("ten", "expected a whole number"),
                                                ("1.5", "expected a whole number")])
def test_heartbeat_must_be_a_positive_integer(tmp_path: Path, value: str, reason: str) -> None:
    err = load_err(tmp_path, "sessions:\n" + SESSION + f"    heartbeat_interval: {value}\n")
    assert_error(err, "sessions[0].heartbeat_interval", 7, reason)


# -- schedule ------------------------------------------------------------------------------------
def test_schedule_forms(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, "sessions:\n" + SESSION + "    schedule: 24/7\n")
    assert cfg.sessions[0].schedule.always_on
    # unquoted 18:00:00 would be the integer 64800 in YAML 1.1: it must stay a time
    text = ("sessions:\n" + SESSION + "    schedule:\n      start_time: 08:30\n      end_time: 18:00:00\n"
            "      time_zone: Australia/Sydney\n      start_day: monday\n      end_day: Fri\n")
    sched = load_ok(tmp_path, text).sessions[0].schedule
    assert not sched.always_on
    assert (sched.start_time, sched.end_time) == (time(8, 30), time(18, 0))
    assert (sched.time_zone, sched.start_day, sched.end_day) == ("Australia/Sydney", "Mon", "Fri")
    sched = load_ok(tmp_path, "sessions:\n" + SESSION
                    + "    schedule: {start_time: '00:00:00', end_time: '23:59:59'}\n").sessions[0].schedule
    assert sched.time_zone == "UTC" and sched.start_day is None


def test_schedule_errors(tmp_path: Path) -> None:
    text = ("sessions:\n" + SESSION + "    schedule:\n      start_time: '24:00:00'\n      end_time: 7pm\n"
            "      time_zone: Europe/Atlantis\n      start_day: Funday\n")
    err = load_err(tmp_path, text)
    assert_error(err, "sessions[0].schedule.start_time", 8, "'24:00:00' is not a time of day")
    assert_error(err, "sessions[0].schedule.end_time", 9, "'7pm' is not a time of day")
    assert_error(err, "sessions[0].schedule.time_zone", 10, "not an IANA time zone")
    assert_error(err, "sessions[0].schedule.start_day", 11, "not a day of the week")
    assert_error(err, "sessions[0].schedule", 8, "start_day and end_day go together")
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    schedule: weekdays\n")
    assert_error(err, "sessions[0].schedule", 7, "write '24/7'")
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    schedule: {start_time: '08:00:00'}\n")
    assert_error(err, "sessions[0].schedule.end_time", 7, "missing")


# -- reset policy and flags ---------------------------------------------------------------------
def test_reset_flags_and_booleans(tmp_path: Path) -> None:
    text = "sessions:\n" + SESSION + "    reset_on_logon: yes\n    accept_reset_seq_num_flag: N\n"
    s = load_ok(tmp_path, text).sessions[0]
    assert s.reset_on_logon is True and s.accept_reset_seq_num_flag is False
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    reset_on_logon: maybe\n")
    assert_error(err, "sessions[0].reset_on_logon", 7, "expected true or false")


def test_cancel_on_disconnect_defaults_from_gateway(tmp_path: Path) -> None:
    text = ("gateway: {cancel_on_disconnect: true}\nsessions:\n" + SESSION
            + SESSION.replace("s1", "s2").replace("CLIENT1", "CLIENT2") + "    cancel_on_disconnect: false\n")
    a, b = load_ok(tmp_path, text).sessions
    assert a.cancel_on_disconnect is True and b.cancel_on_disconnect is False


# -- credentials and environment variables ------------------------------------------------------
def test_env_substitution(tmp_path: Path) -> None:
    text = ("zenith:\n  url: wss://plxtra.example:443/Zenith\n  token: ${PLX_TOKEN}\n"
            "gateway:\n  listen_port: ${FIX_PORT:-9999}\nsessions:\n" + SESSION
            + "    credentials:\n      username: ${USER_1}\n      password: 'pa$$word-${PASS_1}'\n")
    env = {"PLX_TOKEN": "tok", "USER_1": "alice", "PASS_1": "s3cret"}
    cfg = load_ok(tmp_path, text, env=env)
    assert cfg.zenith.token == "tok" and cfg.gateway.listen_port == 9999
    assert cfg.sessions[0].credentials.username == "alice"
    assert cfg.sessions[0].credentials.password == "pa$word-s3cret"
    assert load_ok(tmp_path, text, env={**env, "FIX_PORT": "9100"}).gateway.listen_port == 9100


def test_missing_env_var_is_an_error_naming_the_key(tmp_path: Path) -> None:
    text = ("zenith:\n  url: ws://127.0.0.1:4502/Zenith\n  token: ${PLX_TOKEN}\nsessions:\n" + SESSION
            + "    credentials: {username: bob, password: '${BOB_PASSWORD}'}\n")
    err = load_err(tmp_path, text, env={})
    assert_error(err, "zenith.token", 3, "environment variable PLX_TOKEN is not set")
    assert_error(err, "sessions[0].credentials.password", 10, "BOB_PASSWORD is not set")


def test_remote_zenith_needs_an_explicit_token(tmp_path: Path) -> None:
    err = load_err(tmp_path, "zenith:\n  url: ws://10.1.1.1:4502/Zenith\nsessions:\n" + SESSION)
    assert_error(err, "zenith.token", 2, "required when zenith.url is not 'embedded'")


@pytest.mark.parametrize("url", ["http://x/Zenith", "ws://", "tcp://1.2.3.4:5", "ws://h:99999/Zenith"])
def test_zenith_url_must_be_embedded_or_websocket(tmp_path: Path, url: str) -> None:
    err = load_err(tmp_path, f"zenith:\n  url: '{url}'\n  token: t\nsessions:\n" + SESSION)
    assert error_for(err, "zenith.url").line == 2


def test_sim_config_only_with_embedded_and_must_exist(tmp_path: Path) -> None:
    err = load_err(tmp_path, "zenith:\n  sim_config: sim.yaml\nsessions:\n" + SESSION)
    assert_error(err, "zenith.sim_config", 2, "does not exist")
    (tmp_path / "sim.yaml").write_text("{}\n")
    assert load_ok(tmp_path, "zenith:\n  sim_config: sim.yaml\nsessions:\n" + SESSION).zenith.sim_config \
        == tmp_path / "sim.yaml"
    err = load_err(tmp_path, "zenith:\n  url: ws://h:1/Z\n  token: t\n  sim_config: sim.yaml\nsessions:\n"
                   + SESSION)
    assert_error(err, "zenith.sim_config", 4, "only used when zenith.url is 'embedded'")


def test_credentials_password_needs_username(tmp_path: Path) -> None:
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    credentials: {password: x}\n")
    assert_error(err, "sessions[0].credentials.username", 7, "a password needs a username")


# -- accounts ------------------------------------------------------------------------------------
def test_bare_codes_get_the_owner_prefix_and_become_aliases(tmp_path: Path) -> None:
    # unquoted 0001 is an integer to YAML 1.1; the loader reads the text as written
    text = ("sessions:\n" + SESSION.replace('["0001"]', "[0001, XS:0002, {id: OM1234, alias: FUND}]")
            + "    default_account: FUND\n")
    s = load_ok(tmp_path, text).sessions[0]
    assert s.accounts == ("XS:0001", "XS:0002", "OM1234")
    assert s.account_aliases == {"0001": "XS:0001", "FUND": "OM1234"}
    assert s.default_account == "OM1234"
    assert s.resolve_account("FUND") == "OM1234" and s.resolve_account("0002") is None


def test_account_owner_setting(tmp_path: Path) -> None:
    text = "gateway: {account_owner: AB}\nsessions:\n" + SESSION + "    default_account: AB:0001\n"
    s = load_ok(tmp_path, text).sessions[0]
    assert s.accounts == ("AB:0001",) and s.default_account == "AB:0001"
    s = load_ok(tmp_path, "gateway: {account_owner: null}\nsessions:\n" + SESSION).sessions[0]
    assert s.accounts == ("0001",) and s.account_aliases == {}
    err = load_err(tmp_path, "gateway: {account_owner: 'X S'}\nsessions:\n" + SESSION)
    assert_error(err, "gateway.account_owner", 1, "is not an account owner code")


def test_default_account_by_id_alias_or_code(tmp_path: Path) -> None:
    for given in ("0001", "XS:0001"):
        s = load_ok(tmp_path, "sessions:\n" + SESSION + f"    default_account: '{given}'\n").sessions[0]
        assert s.default_account == "XS:0001"
    assert load_ok(tmp_path, "sessions:\n" + SESSION).sessions[0].default_account is None


def test_default_account_must_be_one_of_the_accounts(tmp_path: Path) -> None:
    text = "sessions:\n" + SESSION.replace('["0001"]', '["0001", "0002"]') + "    default_account: x\n"
    err = load_err(tmp_path, text)
    assert_error(err, "sessions[0].default_account", 7,
                 "unknown account alias 'x': not one of this session's accounts (XS:0001, XS:0002)")
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    default_account: '0009'\n")
    assert_error(err, "sessions[0].default_account", 7, "unknown account alias '0009'")


def test_account_list_errors(tmp_path: Path) -> None:
    text = "sessions:\n" + SESSION.replace('["0001"]', '\n      - "0001"\n      - XS:0001\n      - "bad id"'
                                           '\n      - {id: OM1, alias: "0001"}\n      - {alias: Q}')
    err = load_err(tmp_path, text)
    assert_error(err, "sessions[0].accounts[1]", 8, "account XS:0001 is listed twice")
    assert_error(err, "sessions[0].accounts[2]", 9, "'bad id' is not an account ID")
    assert_error(err, "sessions[0].accounts[3]", 10, "alias '0001' is already used (sessions[0].accounts[0])")
    assert_error(err, "sessions[0].accounts[4].id", 11, "missing (required)")
    err = load_err(tmp_path, "sessions:\n" + SESSION.replace('["0001"]', '"0001"'))
    assert_error(err, "sessions[0].accounts", 6, "expected a list")


def test_trading_sessions_need_accounts(tmp_path: Path) -> None:
    no_accounts = SESSION.replace('    accounts: ["0001"]\n', "")
    err = load_err(tmp_path, "sessions:\n" + no_accounts)
    assert_error(err, "sessions[0].accounts", 2, "a trading session needs at least one account")
    err = load_err(tmp_path, "sessions:\n" + SESSION.replace('["0001"]', "[]"))
    assert_error(err, "sessions[0].accounts", 6, "needs at least one account")
    s = load_ok(tmp_path, "sessions:\n" + no_accounts + "    trading: false\n").sessions[0]
    assert s.accounts == () and not s.trading and s.market_data
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    trading: false\n    market_data: false\n")
    assert_error(err, "sessions[0]", 2, "can do nothing")


# -- markets, symbols, symbology ----------------------------------------------------------------
def test_markets_symbols_and_symbology(tmp_path: Path) -> None:
    text = ("sessions:\n" + SESSION + "    markets: [XSX, ASX]\n    symbols: [XS01, XS02.XSX, BHP.ASX]\n"
            "    symbology: {default_market: ASX, allow_suffix: false}\n")
    s = load_ok(tmp_path, text).sessions[0]
    assert s.markets == ("XSX", "ASX") and s.symbols == ("XS01", "XS02.XSX", "BHP.ASX")
    assert s.symbology.default_market == "ASX" and not s.symbology.allow_suffix
    # without symbology: the only market is the default; with several, none (207 required)
    assert load_ok(tmp_path, "sessions:\n" + SESSION).sessions[0].symbology.default_market == "XSX"
    s = load_ok(tmp_path, "sessions:\n" + SESSION + "    markets: [XSX, ASX]\n").sessions[0]
    assert s.symbology.default_market is None and s.symbols == ()


def test_market_and_symbol_errors(tmp_path: Path) -> None:
    text = ("sessions:\n" + SESSION + "    markets: [XSX, XSX]\n    symbols: [XS01.NYSE, 'X Y', XS01, XS01]\n"
            "    symbology: {default_market: ASX}\n")
    err = load_err(tmp_path, text)
    assert_error(err, "sessions[0].markets[1]", 7, "market XSX is listed twice")
    assert_error(err, "sessions[0].symbols[0]", 8,
                 "market NYSE of XS01.NYSE is not in this session's markets")
    assert_error(err, "sessions[0].symbols[1]", 8, "is not a symbol")
    assert_error(err, "sessions[0].symbols[3]", 8, "listed twice")
    assert_error(err, "sessions[0].symbology.default_market", 9, "'ASX' is not in this session's markets")
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    markets: []\n")
    assert_error(err, "sessions[0].markets", 7, "at least one market")


# -- limits -------------------------------------------------------------------------------------
def test_limits_are_exact_decimals(tmp_path: Path) -> None:
    text = ("sessions:\n" + SESSION + "    limits:\n      max_order_qty: 1_000_000\n"
            "      max_notional: 0.1\n      messages_per_second: 50\n      throttle_action: QUEUE\n")
    limits = load_ok(tmp_path, text).sessions[0].limits
    assert limits.max_order_qty == Decimal("1000000")
    assert limits.max_notional == Decimal("0.1")   # from the text, not via a binary float
    assert str(limits.max_notional) == "0.1"
    assert limits.messages_per_second == 50 and limits.throttle_action is ThrottleAction.QUEUE
    # No limits: key: the safe defaults, not unlimited; limits: {} is the explicit opt-out.
    assert load_ok(tmp_path, "sessions:\n" + SESSION).sessions[0].limits == DEFAULT_LIMITS
    unlimited = load_ok(tmp_path, "sessions:\n" + SESSION + "    limits: {}\n").sessions[0].limits
    assert unlimited.max_order_qty is None and unlimited.messages_per_second is None


def test_limit_errors(tmp_path: Path) -> None:
    text = ("sessions:\n" + SESSION + "    limits:\n      max_order_qty: 0\n      max_notional: lots\n"
            "      messages_per_second: 2.5\n      throttle_action: rejct\n")
    err = load_err(tmp_path, text)
    assert_error(err, "sessions[0].limits.max_order_qty", 8, "must be greater than zero")
    assert_error(err, "sessions[0].limits.max_notional", 9, "expected a number")
    assert_error(err, "sessions[0].limits.messages_per_second", 10, "expected a whole number")
    assert_error(err, "sessions[0].limits.throttle_action", 11, "did you mean 'reject'?")


# -- gateway settings ----------------------------------------------------------------------------
def test_relative_paths_resolve_against_the_yaml_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "dicts").mkdir()
    monkeypatch.chdir(tmp_path)   # a cwd that differs from the file's directory
    path = write(conf, "gateway:\n  store_path: state/gw.sqlite\n  log_dir: /abs/log\n"
                       "  data_dictionary_dir: dicts\nsessions:\n" + SESSION)
    gw = load_config(path, env={}).gateway
    assert gw.store_path == conf / "state" / "gw.sqlite"
    assert gw.log_dir == Path("/abs/log")
    assert gw.data_dictionary_dir == conf / "dicts"
    assert gw.message_store_dir == conf / "var" / "store"   # defaults resolve the same way
    assert gw.data_dictionary_dir.is_absolute()


def test_gateway_setting_errors(tmp_path: Path) -> None:
    text = ("gateway:\n  listen_host: 'not a host'\n  listen_port: 0\n  message_store: disk\n"
            "  data_dictionary_dir: missing-dir\n  md_queue_limit: 0\n  md_conflation: sometimes\n"
            "sessions:\n" + SESSION)
    err = load_err(tmp_path, text)
    assert_error(err, "gateway.listen_host", 2, "neither an IP address nor a host name")
    assert_error(err, "gateway.listen_port", 3, "must be at least 1")
    assert_error(err, "gateway.message_store", 4, "'disk' is not one of file, memory")
    assert_error(err, "gateway.data_dictionary_dir", 5, "does not exist")
    assert_error(err, "gateway.md_queue_limit", 6, "must be at least 1")
    assert_error(err, "gateway.md_conflation", 7, "expected true or false")
    cfg = load_ok(tmp_path, "gateway: {message_store: memory, listen_host: gw.example.com}\nsessions:\n"
                  + SESSION)
    assert cfg.gateway.message_store == "memory" and cfg.gateway.listen_host == "gw.example.com"


def test_empty_values_are_errors_not_defaults(tmp_path: Path) -> None:
    err = load_err(tmp_path, "gateway:\n  listen_port:\nsessions:\n" + SESSION.replace("FIX.4.4", "")
                   + "    heartbeat_interval: ~\n")
    assert_error(err, "gateway.listen_port", 2, "has no value")
    assert_error(err, "sessions[0].begin_string", 5, "has no value")
    assert_error(err, "sessions[0].heartbeat_interval", 9, "has no value")


def test_wrong_shapes_are_reported(tmp_path: Path) -> None:
    err = load_err(tmp_path, "gateway: [1, 2]\nsessions:\n  - just a string\n")
    assert_error(err, "gateway", 1, "expected a mapping")
    assert_error(err, "sessions[0]", 3, "expected a mapping")
    err = load_err(tmp_path, "sessions:\n" + SESSION + "    heartbeat_interval: [30]\n")
    assert_error(err, "sessions[0].heartbeat_interval", 7, "expected a single value")


# -- YAML anchors and merges --------------------------------------------------------------------
def test_merge_keys_share_settings_and_explicit_keys_win(tmp_path: Path) -> None:
    text = """\
    x-defaults: &defaults
      sender_comp_id: PLXTRA
      heartbeat_interval: 15
      accounts: ["0001"]
    sessions:
      - <<: *defaults
        begin_string: FIX.4.4
        target_comp_id: A
      - <<: *defaults
        begin_string: FIX.4.4
        target_comp_id: B
        heartbeat_interval: 60
    """
    a, b = load_ok(tmp_path, text).sessions
    assert (a.sender_comp_id, a.heartbeat_interval, a.accounts) == ("PLXTRA", 15, ("XS:0001",))
    assert b.heartbeat_interval == 60
    assert (a.name, b.name) == ("sessions[0]", "sessions[1]")
    err = load_err(tmp_path, text.replace("heartbeat_interval: 15", "heartbeat_intreval: 15"))
    assert error_for(err, "sessions[0].heartbeat_intreval").line == 3


def test_commented_initiator_example_is_valid_when_uncommented(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "gateway.yaml").read_text(encoding="utf-8")
    start = text.index("  # - name: venue1")
    example = text[start:].replace("  # - name:", "  - name:").replace("  #   ", "    ")
    path = write(tmp_path, text[:start] + example)
    cfg = load_config(path, env={"VENUE1_PASSWORD": "pw"})
    venue = cfg.sessions[-1]
    assert (venue.name, venue.role, venue.host, venue.port) == ("venue1", Role.INITIATOR, "127.0.0.1", 9880)
    assert (venue.schedule.start_day, venue.schedule.end_day) == ("Mon", "Fri")
    assert venue.credentials.password == "pw" and not venue.market_data


def test_md_merge_max_is_read_and_checked(tmp_path: Path) -> None:
    import config_helpers

    good = "gateway:\n  md_merge_max: 5\nsessions:\n" + config_helpers.SESSION
    assert config_helpers.load_ok(tmp_path, good).gateway.md_merge_max == 5
    bad = "gateway:\n  md_merge_max: 0\nsessions:\n" + config_helpers.SESSION
    config_helpers.assert_error(config_helpers.load_err(tmp_path, bad), "gateway.md_merge_max", 2)


def test_pending_reports_per_session_defaults_off(tmp_path: Path) -> None:
    text = ("sessions:\n" + SESSION
            + SESSION.replace("s1", "s2").replace("CLIENT1", "CLIENT2") + "    pending_reports: true\n")
    a, b = load_config(write(tmp_path, text)).sessions
    assert a.pending_reports is False and b.pending_reports is True
    bad = "sessions:\n" + SESSION + "    pending_reports: maybe\n"
    with pytest.raises(ConfigError, match="pending_reports"):
        load_config(write(tmp_path, bad, "bad.yaml"))


def test_pending_status_after_is_read_and_bounded(tmp_path: Path) -> None:
    base = "gateway:\n  pending_status_after: {}\nzenith:\n  url: embedded\nsessions:\n" + SESSION
    path = tmp_path / "ok.yaml"
    path.write_text(base.format("0.75"))
    assert load_config(path).gateway.pending_status_after == 0.75
    path.write_text(base.format("0"))
    assert load_config(path).gateway.pending_status_after == 0.0   # 0: never send a pending status
    err = load_err(tmp_path, base.format("-1"))
    assert_error(err, "gateway.pending_status_after", 2, "must be 0 (never) or more seconds")
    err = load_err(tmp_path, base.format("soon"))
    assert_error(err, "gateway.pending_status_after", 2, "expected a number")
