"""Read one ``sessions[i]`` entry of ``gateway.yaml`` into a :class:`SessionConfig`.

Used by ``loader.py``; the rules are listed there and in ``config/README.md``. Every check
reports through the shared :class:`NodeReader`, so a broken session never hides the next one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from yaml.nodes import MappingNode, Node

from gateway.config.model import (
    Credentials,
    GatewaySettings,
    Limits,
    Role,
    SessionConfig,
    Symbology,
    ThrottleAction,
    Transport,
)
from gateway.config.ops_settings import read_tls
from gateway.config.schedule import read_schedule
from gateway.config.yamlnodes import MapReader, NodeReader, join_key

__all__ = [
    "APPL_VER_IDS",
    "BEGIN_STRINGS",
    "DEFAULT_APPL_VER_ID",
    "DEFAULT_LIMITS",
    "FIXT",
    "SESSION_KEYS",
    "SessionReader",
]

SESSION_KEYS = (
    "name", "begin_string", "sender_comp_id", "target_comp_id", "role", "default_appl_ver_id",
    "host", "port", "heartbeat_interval", "schedule", "reset_on_logon", "accept_reset_seq_num_flag",
    "credentials", "accounts", "default_account", "markets", "symbols", "symbology", "limits",
    "cancel_on_disconnect", "market_data", "trading", "pending_reports", "persist_messages", "log_messages",
    "validate_user_defined_fields", "allow_unknown_msg_fields", "validate_fields_out_of_order",
    "data_dictionary", "transport", "tls", "backup_hosts",
    "instance",   # read by gateway/config/instances.py
)
# Only for market-data-only sessions (trading: false): see SessionConfig.persist_messages.
QUIET_FLAGS = ("persist_messages", "log_messages")
VALIDATION_FLAGS = ("validate_user_defined_fields", "allow_unknown_msg_fields",
                    "validate_fields_out_of_order")
BACKUP_HOST_KEYS = ("host", "port")
# A session that says nothing about limits is not unlimited (README "Default limits"): a fat finger
# or a runaway loop stops here. Generous for real flow; a session wanting none writes limits: {}.
DEFAULT_LIMITS = Limits(max_order_qty=Decimal(1_000_000), max_notional=Decimal(100_000_000),
                        messages_per_second=2_000)
# SessionConfig's own default for markets (a session naming none), typed for the symbol readers.
_DEFAULT_MARKETS: tuple[str, ...] = SessionConfig.__dataclass_fields__["markets"].default  # type: ignore[assignment]
CREDENTIAL_KEYS = ("username", "password")
SYMBOLOGY_KEYS = ("default_market", "allow_suffix")
LIMIT_KEYS = ("max_order_qty", "max_notional", "messages_per_second", "throttle_action")
ACCOUNT_KEYS = ("id", "alias")

FIXT = "FIXT.1.1"
BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4", FIXT)
DEFAULT_APPL_VER_ID = "FIX.5.0SP2"
# DefaultApplVerID(1137) accepts the version name or the ApplVerID enum value (FIX 5.0 SP2 tag 1128).
APPL_VER_IDS = {
    "FIX.5.0SP2": "FIX.5.0SP2", "9": "FIX.5.0SP2",
    "FIX.5.0SP1": "FIX.5.0SP1", "8": "FIX.5.0SP1",
    "FIX.5.0": "FIX.5.0", "7": "FIX.5.0",
}

# CompIDs and market/symbol codes go into FIX fields and QuickFIX settings: printable ASCII, no
# blanks, no '=' (the settings file splits on it) and no '|' (log dumps use it as a delimiter).
_COMP_ID = re.compile(r"[\x21-\x3c\x3e-\x7b\x7d\x7e]+")
_CODE = re.compile(r"[A-Za-z0-9_\-:\[\]]+")
_SYMBOL = re.compile(r"([A-Za-z0-9_\-]+)(?:\.([A-Za-z0-9_\-:]+))?")
_BARE_ACCOUNT = re.compile(r"[0-9]{4}")


class SessionReader:
    def __init__(self, reader: NodeReader, gateway: GatewaySettings | None, owner: str | None,
                 base_dir: Path | None = None) -> None:
        self.r = reader
        self.gateway = gateway or GatewaySettings()
        self.owner = owner
        self.base_dir = base_dir or Path.cwd()

    def read(self, node: Node, key: str) -> SessionConfig | None:
        m = self.r.mapping(node, key, SESSION_KEYS)
        if m is None:
            return None
        before = len(self.r.errors)
        kw: dict[str, object] = {}

        name = self._opt(m, "name", self.r.string) or key
        begin = self._required(m, "begin_string", lambda n, k: self.r.choice(n, k, BEGIN_STRINGS))
        sender = self._required(m, "sender_comp_id", self._comp_id)
        target = self._required(m, "target_comp_id", self._comp_id)
        role_text = self._opt(m, "role", lambda n, k: self.r.choice(n, k, [r.value for r in Role]))
        role = Role(role_text) if role_text else Role.ACCEPTOR

        kw["default_appl_ver_id"] = self._appl_ver_id(m, begin)
        self._endpoint(m, role, kw)
        self._transport(m, role, kw)
        kw["heartbeat_interval"] = self._opt(
            m, "heartbeat_interval", lambda n, k: self.r.integer(n, k, minimum=1, maximum=3600))
        if got := m.get("schedule"):
            kw["schedule"] = read_schedule(self.r, *got)
        for flag in ("reset_on_logon", "accept_reset_seq_num_flag", "market_data", "trading",
                     "pending_reports", *QUIET_FLAGS):
            kw[flag] = self._opt(m, flag, self.r.boolean)
        for flag in VALIDATION_FLAGS:
            kw[flag] = self._opt(m, flag, self.r.boolean)
        kw["data_dictionary"] = self._opt(m, "data_dictionary", self._dictionary_file)
        kw["cancel_on_disconnect"] = self._opt(m, "cancel_on_disconnect", self.r.boolean)
        if kw["cancel_on_disconnect"] is None:
            kw["cancel_on_disconnect"] = self.gateway.cancel_on_disconnect
        if got := m.get("credentials"):
            kw["credentials"] = self._credentials(*got)
        self._accounts(m, kw)
        markets = self._markets(m)
        if markets is not None:
            kw["markets"] = markets
        effective_markets: tuple[str, ...] = markets if markets is not None else _DEFAULT_MARKETS
        kw["symbols"] = self._symbols(m, effective_markets)
        kw["symbology"] = self._symbology(m, effective_markets)
        if got := m.get("limits"):
            kw["limits"] = self._limits(*got)   # limits: {} is the explicit way to have none
        else:
            kw["limits"] = DEFAULT_LIMITS

        trading = kw["trading"] if kw["trading"] is not None else True
        market_data = kw["market_data"] if kw["market_data"] is not None else True
        if not trading and not market_data:
            self.r.error(m.node, key, "a session with trading: false and market_data: false can do nothing")
        if trading and "accounts" in m and kw.get("accounts") == ():
            self.r.error(m.get("accounts")[0], join_key(key, "accounts"),  # type: ignore[index]
                         "a trading session needs at least one account (or set trading: false)")
        if trading and "accounts" not in m:
            self.r.error(m.node, join_key(key, "accounts"),
                         "missing: a trading session needs at least one account (or set trading: false)")
        for flag in QUIET_FLAGS:
            if trading and kw[flag] is False:
                # A trading partner's ResendRequest must get the ExecutionReports again, not a gap
                # fill (and the message log is the record of its orders).
                self.r.error(m.get(flag)[0], join_key(key, flag),   # type: ignore[index]
                             f"{flag}: false is for market-data-only sessions: a trading session needs "
                             "its ExecutionReports resent after a reconnect (set trading: false)")

        if len(self.r.errors) != before or begin is None or sender is None or target is None:
            return None
        values = {k: v for k, v in kw.items() if v is not None}
        return SessionConfig(name=name, begin_string=begin, sender_comp_id=sender, target_comp_id=target,
                             role=role, **values)   # type: ignore[arg-type]

    def check_unique(self, nodes: Sequence[Node], sessions: Sequence[SessionConfig | None]) -> None:
        """One session per (BeginString, SenderCompID, TargetCompID), and distinct names."""
        seen: dict[tuple[str, str, str], int] = {}
        names: dict[str, int] = {}
        for i, (node, session) in enumerate(zip(nodes, sessions, strict=True)):
            if session is None:
                continue
            ident = (session.begin_string, session.sender_comp_id, session.target_comp_id)
            if ident in seen:
                self.r.error(node, f"sessions[{i}]",
                             f"duplicate session {session.session_key_text} (also sessions[{seen[ident]}])")
            else:
                seen[ident] = i
            if session.name in names:
                self.r.error(node, f"sessions[{i}].name",
                             f"duplicate session name {session.name!r} "
                             f"(also sessions[{names[session.name]}])")
            else:
                names[session.name] = i

    # -- helpers -----------------------------------------------------------------------------
    def _opt(self, m: MapReader, name: str, read):   # type: ignore[no-untyped-def]
        got = m.get(name)
        return read(*got) if got else None

    def _required(self, m: MapReader, name: str, read):   # type: ignore[no-untyped-def]
        got = m.get(name)
        if got is None:
            self.r.error(m.node, join_key(m.key, name), "missing (required)")
            return None
        return read(*got)

    def _comp_id(self, node: Node, key: str) -> str | None:
        value = self.r.string(node, key)
        if value is not None and not _COMP_ID.fullmatch(value):
            self.r.error(node, key, f"{value!r} is not a CompID (printable ASCII, no spaces, '=' or '|')")
            return None
        return value

    def _appl_ver_id(self, m: MapReader, begin: str | None) -> str | None:
        got = m.get("default_appl_ver_id")
        if begin != FIXT:
            if got and begin is not None:
                self.r.error(got[0], got[1], f"only for FIXT.1.1 sessions; {begin} carries its "
                                             "application version in BeginString")
            return None
        if not got:
            return DEFAULT_APPL_VER_ID
        value = self.r.string(*got)
        if value is None:
            return None
        if value not in APPL_VER_IDS:
            self.r.error(got[0], got[1],
                         f"{value!r} is not one of FIX.5.0SP2, FIX.5.0SP1, FIX.5.0 (or 9, 8, 7)")
            return None
        return APPL_VER_IDS[value]

    def _endpoint(self, m: MapReader, role: Role, kw: dict[str, object]) -> None:
        host_item, port_item = m.get("host"), m.get("port")
        if role is Role.ACCEPTOR:
            for item in (host_item, port_item):
                if item:
                    self.r.error(item[0], item[1], "only for initiators: acceptor sessions share "
                                                   "gateway.listen_host/listen_port")
            return
        for name, item in (("host", host_item), ("port", port_item)):
            if item is None:
                self.r.error(m.node, join_key(m.key, name),
                             "missing: an initiator needs host and port to connect to")
        if host_item:
            host = self.r.string(*host_item)
            if host is not None and any(c.isspace() for c in host):
                self.r.error(host_item[0], host_item[1], f"{host!r} is not a host name or address")
            kw["host"] = host
        if port_item:
            kw["port"] = self.r.integer(*port_item, minimum=1, maximum=65535)

    def _file_path(self, node: Node, key: str) -> Path | None:
        """A path as written, relative to the YAML's folder (existence is checked by the caller)."""
        text = self.r.string(node, key)
        if text is None:
            return None
        path = Path(text).expanduser()
        return Path(os.path.normpath(path if path.is_absolute() else self.base_dir / path))

    def _transport(self, m: MapReader, role: Role, kw: dict[str, object]) -> None:
        """``transport: tls``, an initiator's own ``tls:`` block and its ``backup_hosts``."""
        if got := m.get("transport"):
            text = self.r.choice(*got, [t.value for t in Transport])
            kw["transport"] = Transport(text) if text else None
        tls_item, backups_item = m.get("tls"), m.get("backup_hosts")
        if role is Role.ACCEPTOR:
            for item in (tls_item, backups_item):
                if item:
                    self.r.error(item[0], item[1], "only for initiators: acceptor sessions use gateway.tls "
                                                   "and gateway.tls_listen_port")
            return
        if tls_item:
            if kw.get("transport") is not Transport.TLS:
                self.r.error(tls_item[0], tls_item[1], "has no effect without transport: tls")
            kw["tls"] = read_tls(self.r, *tls_item, self._file_path, server=False)
        elif kw.get("transport") is Transport.TLS and self.gateway.tls is None:
            self.r.error(m.node, join_key(m.key, "tls"),
                         "missing: a TLS initiator needs a tls: block (ca, and certificate/private_key "
                         "if the partner asks for one) or gateway.tls")
        if backups_item:
            backups: list[tuple[str, int]] = []
            for i, entry in enumerate(self.r.sequence(*backups_item) or []):
                item_key = join_key(backups_item[1], i)
                bm = self.r.mapping(entry, item_key, BACKUP_HOST_KEYS)
                if bm is None:
                    continue
                host_got, port_got = bm.get("host"), bm.get("port")
                if host_got is None or port_got is None:
                    self.r.error(entry, item_key, "a backup host needs host and port")
                    continue
                host = self.r.string(*host_got)
                port = self.r.integer(*port_got, minimum=1, maximum=65535)
                if host is not None and port is not None:
                    backups.append((host, port))
            kw["backup_hosts"] = tuple(backups)

    def _dictionary_file(self, node: Node, key: str) -> Path | None:
        text = self.r.string(node, key)
        if text is None:
            return None
        path = Path(text).expanduser()
        if not path.is_absolute():   # like every path in the file: relative to the YAML's folder
            path = self.base_dir / path
        path = Path(os.path.normpath(path))
        if not path.is_file():
            self.r.error(node, key, f"file {str(path)!r} does not exist (a QuickFIX XML data dictionary)")
            return None
        return path

    # -- credentials -------------------------------------------------------------------------
    def _credentials(self, node: Node, key: str) -> Credentials | None:
        m = self.r.mapping(node, key, CREDENTIAL_KEYS)
        if m is None:
            return None
        username = self._opt(m, "username", self.r.string)
        password = self._opt(m, "password", lambda n, k: self.r.string(n, k))
        if "password" in m and "username" not in m:
            self.r.error(node, join_key(key, "username"), "missing: a password needs a username")
        return Credentials(username=username, password=password)

    # -- accounts ----------------------------------------------------------------------------
    def _accounts(self, m: MapReader, kw: dict[str, object]) -> None:
        got = m.get("accounts")
        if got is None:
            if dflt := m.get("default_account"):
                self.r.error(dflt[0], dflt[1], "names no account: the session lists no accounts")
            return
        node, key = got
        items = self.r.sequence(node, key)
        if items is None:
            return
        accounts: list[str] = []
        aliases: dict[str, str] = {}
        where: dict[str, str] = {}   # alias or id -> the key that declared it, for clashes
        for i, item in enumerate(items):
            item_key = join_key(key, i)
            parsed = self._account(item, item_key)
            if parsed is None:
                continue
            account_id, alias = parsed
            if account_id in accounts:
                self.r.error(item, item_key, f"account {account_id} is listed twice")
                continue
            if account_id in aliases and aliases[account_id] != account_id:
                self.r.error(item, item_key, f"{account_id} is already an alias ({where[account_id]})")
                continue
            if alias is not None:
                if alias in aliases or (alias in accounts and alias != account_id):
                    self.r.error(item, item_key, f"alias {alias!r} is already used ({where[alias]})")
                    continue
                aliases[alias] = account_id
                where[alias] = item_key
            accounts.append(account_id)
            where[account_id] = item_key
        kw["accounts"] = tuple(accounts)
        kw["account_aliases"] = aliases
        if dflt := m.get("default_account"):
            text = self.r.string(*dflt)
            if text is None:
                return
            candidates = [aliases.get(text, text)]
            if self.owner and _BARE_ACCOUNT.fullmatch(text):
                candidates.append(f"{self.owner}:{text}")
            chosen = next((c for c in candidates if c in accounts), None)
            if chosen is None:
                listed = ", ".join(accounts) or "none"
                self.r.error(dflt[0], dflt[1], f"unknown account alias {text!r}: not one of this "
                                               f"session's accounts ({listed})")
                return
            kw["default_account"] = chosen

    def _account(self, node: Node, key: str) -> tuple[str, str | None] | None:
        if isinstance(node, MappingNode):
            m = self.r.mapping(node, key, ACCOUNT_KEYS)
            if m is None:
                return None
            account_id = self._required(m, "id", self._account_text)
            alias = self._opt(m, "alias", self._account_text)
            if account_id is None:
                return None
            return account_id, alias
        text = self._account_text(node, key)
        if text is None:
            return None
        if self.owner and _BARE_ACCOUNT.fullmatch(text):
            return f"{self.owner}:{text}", text
        return text, None

    def _account_text(self, node: Node, key: str) -> str | None:
        text = self.r.string(node, key)
        if text is not None and not _CODE.fullmatch(text):
            self.r.error(node, key, f"{text!r} is not an account ID such as XS:0001")
            return None
        return text

    # -- markets, symbols, symbology ---------------------------------------------------------
    def _markets(self, m: MapReader) -> tuple[str, ...] | None:
        got = m.get("markets")
        if got is None:
            return None
        node, key = got
        items = self.r.sequence(node, key)
        if items is None:
            return None
        if not items:
            self.r.error(node, key, "must list at least one market, e.g. [XSX]")
            return None
        markets: list[str] = []
        for i, item in enumerate(items):
            code = self.r.string(item, join_key(key, i))
            if code is None:
                continue
            if not _CODE.fullmatch(code):
                self.r.error(item, join_key(key, i), f"{code!r} is not a market code such as XSX")
            elif code in markets:
                self.r.error(item, join_key(key, i), f"market {code} is listed twice")
            else:
                markets.append(code)
        return tuple(markets)

    def _symbols(self, m: MapReader, markets: tuple[str, ...]) -> tuple[str, ...] | None:
        got = m.get("symbols")
        if got is None:
            return None
        node, key = got
        items = self.r.sequence(node, key)
        if items is None:
            return None
        symbols: list[str] = []
        for i, item in enumerate(items):
            item_key = join_key(key, i)
            text = self.r.string(item, item_key)
            if text is None:
                continue
            match = _SYMBOL.fullmatch(text)
            if not match:
                self.r.error(item, item_key, f"{text!r} is not a symbol such as XS01 or XS01.XSX")
            elif match.group(2) and match.group(2) not in markets:
                self.r.error(item, item_key, f"market {match.group(2)} of {text} is not in this session's "
                                             f"markets ({', '.join(markets)})")
            elif text in symbols:
                self.r.error(item, item_key, f"symbol {text} is listed twice")
            else:
                symbols.append(text)
        return tuple(symbols)

    def _symbology(self, m: MapReader, markets: tuple[str, ...]) -> Symbology | None:
        # Without a default_market setting: the session's only market, else none (207 required).
        default_market: str | None = markets[0] if len(markets) == 1 else None
        allow_suffix = True
        got = m.get("symbology")
        if got is not None:
            sm = self.r.mapping(got[0], got[1], SYMBOLOGY_KEYS)
            if sm is None:
                return None
            if item := sm.get("default_market"):
                default_market = self.r.text(*item)
                if default_market is not None and default_market not in markets:
                    self.r.error(item[0], item[1], f"{default_market!r} is not in this session's markets "
                                                   f"({', '.join(markets)})")
                    return None
            if item := sm.get("allow_suffix"):
                value = self.r.boolean(*item)
                if value is None:
                    return None
                allow_suffix = value
        return Symbology(default_market=default_market, allow_suffix=allow_suffix)

    # -- limits ------------------------------------------------------------------------------
    def _limits(self, node: Node, key: str) -> Limits | None:
        m = self.r.mapping(node, key, LIMIT_KEYS)
        if m is None:
            return None
        values: dict[str, object] = {
            "max_order_qty": self._opt(m, "max_order_qty", self.r.decimal),
            "max_notional": self._opt(m, "max_notional", self.r.decimal),
            "messages_per_second": self._opt(
                m, "messages_per_second", lambda n, k: self.r.integer(n, k, minimum=1)),
        }
        action = self._opt(m, "throttle_action",
                           lambda n, k: self.r.choice(n, k, [a.value for a in ThrottleAction]))
        if action is not None:
            values["throttle_action"] = ThrottleAction(action)
        if "throttle_action" in m and "messages_per_second" not in m:
            self.r.error(m.get("throttle_action")[0], join_key(key, "throttle_action"),  # type: ignore[index]
                         "has no effect without messages_per_second")
        return Limits(**values)   # type: ignore[arg-type]
