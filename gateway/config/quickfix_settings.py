"""Render a :class:`GatewayConfig` as QuickFIX ``SessionSettings`` text, and parse it back.

:func:`render_quickfix_settings` is pure (no QuickFIX import): ``[DEFAULT]`` holds what every
session shares (stores, logs, validation policy), then one ``[SESSION]`` per configured session.
:func:`build_session_settings` / :func:`session_settings` hand that exact text to QuickFIX, so what
``check-config`` prints is byte for byte what the engine runs with.

One text per connector. The engine runs a ``SocketAcceptor`` for acceptor sessions and a
``SocketInitiator`` for initiator sessions (QuickFIX's polled connectors, driven from the asyncio
loop: :mod:`gateway.fix.loop_driver`), and each must get settings holding ONLY its own sessions:
QuickFIX's acceptor reads ``SocketAcceptPort`` of every session it is given
(``SocketAcceptor::onConfigure``), so one text with both roles fails at start with
"SocketAcceptPort not defined". :func:`render_connector_settings` gives each role its text;
:func:`connector_session_settings` parses them with QuickFIX and :func:`verify_connector_settings`
checks that each carries what its connector reads when it starts, so ``check-config`` and the
engine share one path and a config that cannot run cannot pass.

Key names are QuickFIX C++'s (``src/C++/SessionSettings.h``), and two of its limits shape the text:

* QuickFIX C++ has no time-zone setting (``TimeZone`` is QuickFIX/J's): times are UTC unless
  ``UseLocalTime=Y`` (the machine's zone). A schedule in another zone is therefore converted to
  UTC using that zone's offset on the rendering date, days included (08:00 Monday in Sydney is
  21:00 Sunday UTC); the text says which offset was used. Re-render after a DST change.
* QuickFIX C++ acceptors bind ``SocketAcceptPort`` on every interface (``INADDR_ANY`` in
  ``socket_createAcceptor``); there is no ``SocketAcceptHost``. When ``gateway.listen_host`` is a
  loopback address each acceptor session gets ``AllowedRemoteAddresses=127.0.0.1``, so QuickFIX
  drops connections from anywhere else; any other ``listen_host`` is shown in a comment and must
  be enforced outside QuickFIX (firewall, container network).

Logon credentials are never written: QuickFIX does not check them (the application does, in
``fromAdmin``), and this text is printed by ``check-config``. Nor is the PostgreSQL password of
``message_store: postgresql``: QuickFIX's PostgreSQLStore leaves an empty ``PostgreSQLStorePassword``
to libpq, which reads ``PGPASSWORD`` from the environment (the engine exports it from
``gateway.store``, :mod:`gateway.fix.message_store`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.config.dictionaries import DictionaryPaths, locate_dictionaries, required_files
from gateway.config.errors import ConfigError
from gateway.config.model import GatewayConfig, Role, Schedule, SessionConfig
from gateway.config.schedule import DAYS

if TYPE_CHECKING:   # quickfix is imported lazily: check-config must run without the engine
    import quickfix

__all__ = [
    "DEFAULT_SETTINGS",
    "LOOPBACK_HOSTS",
    "RECONNECT_INTERVAL",
    "build_session_settings",
    "connector_roles",
    "connector_session_settings",
    "probe_connectors",
    "render_connector_settings",
    "render_quickfix_settings",
    "session_settings",
    "verify_connector_settings",
]

# What every session shares. Validation is strict on purpose: a malformed order must be rejected
# at session level by QuickFIX (Reject 35=3), before the bridge ever sees it. The three settings a
# partner's own tags collide with are per session (see _validation_lines).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

DEFAULT_SETTINGS: tuple[tuple[str, str], ...] = (
    ("UseDataDictionary", "Y"),
    ("ValidateLengthAndChecksum", "Y"),
    ("ValidateFieldsHaveValues", "Y"),
    ("CheckCompID", "Y"),
    ("CheckLatency", "Y"),
    ("MaxLatency", "120"),
    ("TimestampPrecision", "3"),          # SendingTime with milliseconds, UTC
    ("PersistMessages", "Y"),             # resend real messages, not gap fills, after a reconnect
    ("ResetOnLogout", "N"),
    ("ResetOnDisconnect", "N"),
    ("RefreshOnLogon", "N"),              # one process owns the store; nothing to refresh from
    ("SendRedundantResendRequests", "N"),
    ("LogonTimeout", "10"),
    ("LogoutTimeout", "2"),
    ("SocketNodelay", "Y"),               # small messages, latency matters more than packets
    ("SocketReuseAddress", "Y"),
)
RECONNECT_INTERVAL = 5                     # seconds between initiator connection attempts
_MAX_LINE = 1000                           # QuickFIX reads settings lines into a 1024-byte buffer


CONNECTOR_CLASSES = {Role.ACCEPTOR: "SocketAcceptor", Role.INITIATOR: "SocketInitiator"}


def connector_roles(config: GatewayConfig) -> tuple[Role, ...]:
    """The connectors ``config`` needs, acceptor first: one per role that has a session."""
    present = {s.role for s in config.sessions}
    return tuple(role for role in (Role.ACCEPTOR, Role.INITIATOR) if role in present)


def render_quickfix_settings(
    config: GatewayConfig,
    *,
    role: Role | None = None,
    dictionaries: DictionaryPaths | None = None,
    today: date | None = None,
) -> str:
    """The QuickFIX settings text of the ``role`` connector (its sessions only).

    ``role`` None means the one role of ``config``; a config with both roles raises
    ``ConfigError``, since no single text can run both connectors (use
    :func:`render_connector_settings`). ``dictionaries`` defaults to :func:`locate_dictionaries`
    (which raises ``DictionaryNotFound``); ``today`` (UTC) fixes the date used to convert non-UTC
    schedules, for reproducible output.
    """
    if role is None:
        roles = connector_roles(config)
        if len(roles) > 1:
            raise ConfigError("sessions have both roles: each connector needs settings holding only its "
                              "own sessions; render them with render_connector_settings()", key="sessions")
        role = roles[0] if roles else Role.ACCEPTOR
    if dictionaries is None:
        dictionaries = locate_dictionaries(config.gateway.data_dictionary_dir, needed=required_files(config))
    today = today or datetime.now(UTC).date()
    gw = config.gateway
    lines: list[str] = [
        "# QuickFIX settings generated by plxtra-fix"
        + (f" from {config.path}" if config.path else "") + ": edit the YAML, not this text.",
        f"# {role.value} connector ({CONNECTOR_CLASSES[role]}): only the {role.value} sessions.",
        "[DEFAULT]",
        f"FileLogPath={gw.log_dir}",
    ]
    defaults = dict(DEFAULT_SETTINGS)
    if gw.message_store == "file":
        lines.append(f"FileStorePath={gw.message_store_dir}")
    elif gw.message_store == "postgresql" and gw.store is not None:
        lines += _postgresql_store_lines(gw.store.host, gw.store.port, gw.store.database, gw.store.user)
        # Another process (a standby taking over) may have moved the numbers since this store
        # was created: reload them at each Logon.
        defaults["RefreshOnLogon"] = "Y"
    else:
        lines.append("# message_store: memory (sequence numbers and resend buffer are lost on restart)")
    lines += [f"{k}={v}" for k, v in defaults.items()]
    for session in config.sessions:
        if session.role is role:
            lines.append("")
            lines += _session_lines(config, session, dictionaries, today)
    for n, line in enumerate(lines, 1):
        if len(line.encode()) > _MAX_LINE:
            raise ConfigError(f"QuickFIX settings line {n} is longer than {_MAX_LINE} bytes "
                              "(QuickFIX would truncate it); use shorter paths", key=line.split("=", 1)[0])
    return "\n".join(lines) + "\n"


def render_connector_settings(
    config: GatewayConfig,
    *,
    dictionaries: DictionaryPaths | None = None,
    today: date | None = None,
) -> dict[Role, str]:
    """The settings text of every connector ``config`` needs (see :func:`connector_roles`)."""
    if dictionaries is None:
        dictionaries = locate_dictionaries(config.gateway.data_dictionary_dir, needed=required_files(config))
    return {role: render_quickfix_settings(config, role=role, dictionaries=dictionaries, today=today)
            for role in connector_roles(config)}


def _postgresql_store_lines(host: str, port: int, database: str, user: str) -> list[str]:
    return ["# message_store: postgresql (QuickFIX's PostgreSQLStore, tables sessions and messages of",
            "# gateway.store; password from PGPASSWORD in the process environment, never here)",
            f"PostgreSQLStoreDatabase={database}",
            f"PostgreSQLStoreUser={user}",
            f"PostgreSQLStoreHost={host}",
            f"PostgreSQLStorePort={port}",
            # All sessions of a process share one connection: they run on one thread (the loop)
            # anyway, and a server's connections are a scarcer resource than its statements.
            "PostgreSQLStoreUseConnectionPool=Y"]


def _session_lines(config: GatewayConfig, s: SessionConfig, dictionaries: DictionaryPaths,
                   today: date) -> list[str]:
    lines = [f"# {s.name}: {s.session_key_text} ({s.role.value})", "[SESSION]",
             f"ConnectionType={s.role.value}",
             f"BeginString={s.begin_string}",
             f"SenderCompID={s.sender_comp_id}",
             f"TargetCompID={s.target_comp_id}"]
    if s.default_appl_ver_id:
        lines.append(f"DefaultApplVerID={s.default_appl_ver_id}")
    lines += _dictionary_lines(s, dictionaries)
    lines += _validation_lines(s)
    # For an acceptor the partner's Logon HeartBtInt(108) rules; QuickFIX reads this for initiators.
    lines.append(f"HeartBtInt={s.heartbeat_interval}")
    lines += _schedule_lines(s.schedule, today)
    lines.append(f"ResetOnLogon={_yn(s.reset_on_logon)}")
    if not s.persist_messages:
        lines += ["# persist_messages: false (market data only): a ResendRequest gets SequenceReset-GapFill",
                  "PersistMessages=N"]
    if not s.log_messages:
        lines.append("# log_messages: false: the gateway's log factory writes no message lines here")
    if s.role is Role.ACCEPTOR:
        host = config.gateway.listen_host
        lines.append(f"# listen_host {host}: QuickFIX C++ binds SocketAcceptPort on every interface")
        if host in LOOPBACK_HOSTS:
            # The acceptor socket listens on IPv4 INADDR_ANY, so local peers arrive as 127.0.0.1.
            lines.append("AllowedRemoteAddresses=127.0.0.1")
        lines.append(f"SocketAcceptPort={config.gateway.listen_port}")
    else:
        lines += [f"SocketConnectHost={s.host}", f"SocketConnectPort={s.port}",
                  f"ReconnectInterval={RECONNECT_INTERVAL}"]
    return lines


def _dictionary_lines(s: SessionConfig, dictionaries: DictionaryPaths) -> list[str]:
    paths = dictionaries.for_session(s)
    if s.data_dictionary is not None:
        # A partner's dictionary describes its application messages; FIXT.1.1 keeps the standard
        # transport dictionary, since session-level messages are not the partner's to redefine.
        paths["AppDataDictionary" if "AppDataDictionary" in paths else "DataDictionary"] = s.data_dictionary
    return [f"{key}={path}" for key, path in paths.items()]


def _validation_lines(s: SessionConfig) -> list[str]:
    # QuickFIX skips tags >= 5000 entirely when ValidateUserDefinedFields=N (DataDictionary::
    # shouldCheckTag), so a partner's 5001 or 20001 reaches fromApp instead of a session Reject.
    return [f"ValidateUserDefinedFields={_yn(s.validate_user_defined_fields)}",
            f"AllowUnknownMsgFields={_yn(s.allow_unknown_msg_fields)}",
            f"ValidateFieldsOutOfOrder={_yn(s.validate_fields_out_of_order)}"]


def _schedule_lines(schedule: Schedule, today: date) -> list[str]:
    if schedule.always_on or schedule.start_time is None or schedule.end_time is None:
        return ["NonStopSession=Y"]
    start, start_day = _to_utc(schedule.start_time, schedule.start_day, schedule.time_zone, today)
    end, end_day = _to_utc(schedule.end_time, schedule.end_day, schedule.time_zone, today)
    lines: list[str] = []
    if schedule.time_zone != "UTC":
        offset = datetime.combine(today, time(12), ZoneInfo(schedule.time_zone)).strftime("%z")
        lines.append(f"# schedule in {schedule.time_zone}, converted to UTC at offset {offset} "
                     f"as of {today.isoformat()}")
    lines += [f"StartTime={start:%H:%M:%S}", f"EndTime={end:%H:%M:%S}"]
    if start_day and end_day:
        lines += [f"StartDay={start_day}", f"EndDay={end_day}"]
    return lines


def _to_utc(t: time, day: str | None, zone: str, today: date) -> tuple[time, str | None]:
    if zone == "UTC":
        return t, day
    # A date in the current week (Sunday first, as QuickFIX counts days) carrying that weekday.
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    on = sunday + timedelta(days=DAYS.index(day)) if day else today
    utc = datetime.combine(on, t, ZoneInfo(zone)).astimezone(UTC)
    utc_day = DAYS[(utc.weekday() + 1) % 7] if day else None
    return utc.time(), utc_day


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def build_session_settings(text: str) -> quickfix.SessionSettings:
    """Parse settings text with QuickFIX itself; its ``ConfigError`` becomes ours."""
    import quickfix

    settings = quickfix.SessionSettings()
    try:
        if hasattr(settings, "setFromString"):
            settings.setFromString(text)
        else:   # bindings before 1.16 have no string constructor: go through a file
            settings = _via_file(quickfix, text)
    except quickfix.ConfigError as exc:
        raise ConfigError(f"QuickFIX rejected the generated settings: {exc}") from None
    return settings


def _via_file(quickfix: Any, text: str) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="plxtra-fix-") as tmp:
        path = Path(tmp) / "session.cfg"
        path.write_text(text, encoding="utf-8")
        return quickfix.SessionSettings(str(path))


def session_settings(config: GatewayConfig, *, role: Role | None = None,
                     dictionaries: DictionaryPaths | None = None) -> Any:
    """``quickfix.SessionSettings`` of the ``role`` connector (None: the config's one role)."""
    return build_session_settings(render_quickfix_settings(config, role=role, dictionaries=dictionaries))


def connector_session_settings(config: GatewayConfig, texts: dict[Role, str] | None = None,
                               ) -> dict[Role, quickfix.SessionSettings]:
    """Parsed and verified ``quickfix.SessionSettings`` per connector: what the engine runs with.

    ``texts`` (default :func:`render_connector_settings`) lets a caller parse exactly what it
    printed. Raises ``ConfigError`` naming the connector, session and setting.
    """
    texts = render_connector_settings(config) if texts is None else texts
    result = {}
    for role, text in texts.items():
        settings = build_session_settings(text)
        verify_connector_settings(config, role, settings)
        result[role] = settings
    return result


# What each connector reads from every session it is given, beyond BeginString/CompIDs; QuickFIX
# only looks for these when the connector starts, so a missing one would pass a parse.
_NEEDED: dict[Role, tuple[str, ...]] = {
    Role.ACCEPTOR: ("SocketAcceptPort",),
    Role.INITIATOR: ("SocketConnectHost", "SocketConnectPort", "HeartBtInt", "ReconnectInterval"),
}
_PORTS = ("SocketAcceptPort", "SocketConnectPort")


def verify_connector_settings(config: GatewayConfig, role: Role, settings: quickfix.SessionSettings) -> None:
    """Check that ``settings`` holds exactly ``config``'s ``role`` sessions, each of that
    ``ConnectionType`` and with the settings that connector reads at start; raise ``ConfigError``
    naming the connector, the session and the setting (key ``sessions[i]`` of the YAML)."""
    index = {(s.begin_string, s.sender_comp_id, s.target_comp_id): i for i, s in enumerate(config.sessions)}
    errors: list[ConfigError] = []
    seen: set[tuple[str, str, str]] = set()
    for sid in settings.getSessions():
        ident = (sid.getBeginString().getValue(), sid.getSenderCompID().getValue(),
                 sid.getTargetCompID().getValue())
        seen.add(ident)
        label = f"{role.value} connector: {ident[0]}:{ident[1]}->{ident[2]}"
        key = f"sessions[{index[ident]}]" if ident in index else "sessions"
        found = settings.get(sid)
        kind = found.getString("ConnectionType") if found.has("ConnectionType") else "(none)"
        if kind != role.value:
            errors.append(ConfigError(f"{label} has ConnectionType {kind}: a connector must be given only "
                                      f"its own sessions", key=key))
        for name in _NEEDED[role]:
            value = found.getString(name).strip() if found.has(name) else ""
            if not value:
                errors.append(ConfigError(f"{label} lacks {name}, which QuickFIX reads at start", key=key))
            elif name in _PORTS and not (value.isdigit() and 0 < int(value) < 65536):
                errors.append(ConfigError(f"{label} has {name}={value}, not a TCP port", key=key))
    for ident, i in index.items():
        if config.sessions[i].role is role and ident not in seen:
            errors.append(ConfigError(f"{role.value} connector: no settings for "
                                      f"{config.sessions[i].session_key_text}", key=f"sessions[{i}]"))
    if errors:
        raise ConfigError.combine(errors)


def probe_connectors(settings: dict[Role, quickfix.SessionSettings]) -> list[Role]:
    """Construct each connector on ``settings`` and drop it again; raise ``ConfigError`` if
    QuickFIX refuses one. Returns the roles whose probe was skipped (see below).

    Constructing a connector creates its sessions, which loads the data dictionaries and checks
    schedules and DefaultApplVerID, without opening a socket: this is how ``check-config`` learns
    what only a real start would otherwise tell. Stores are in memory and no log is written, so
    nothing on disk changes. QuickFIX registers sessions process-wide and unregisters them by ID
    when the connector is freed, so a connector whose session IDs are already registered in this
    process (a gateway running here) is not probed: freeing the probe would unregister the live
    sessions.
    """
    import quickfix

    class _Silent(quickfix.Application):
        def onCreate(self, sessionID: Any) -> None: pass
        def onLogon(self, sessionID: Any) -> None: pass
        def onLogout(self, sessionID: Any) -> None: pass
        def toAdmin(self, message: Any, sessionID: Any) -> None: pass
        def fromAdmin(self, message: Any, sessionID: Any) -> None: pass
        def toApp(self, message: Any, sessionID: Any) -> None: pass
        def fromApp(self, message: Any, sessionID: Any) -> None: pass

    skipped: list[Role] = []
    app = _Silent()
    for role, parsed in settings.items():
        if any(quickfix.Session.lookupSession(sid) is not None for sid in parsed.getSessions()):
            skipped.append(role)
            continue
        store = quickfix.MemoryStoreFactory()
        try:
            if role is Role.ACCEPTOR:
                connector = quickfix.SocketAcceptor(app, store, parsed)
            else:
                connector = quickfix.SocketInitiator(app, store, parsed)
        except (quickfix.ConfigError, quickfix.RuntimeError) as exc:
            raise ConfigError(f"{role.value} connector: QuickFIX refused the settings: {exc}",
                              key="sessions") from None
        del connector   # frees its sessions (and unregisters them) before the next probe
    return skipped
