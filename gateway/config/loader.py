"""Load ``gateway.yaml`` into a :class:`~gateway.config.model.GatewayConfig`.

Call :func:`load_config` (a file) or :func:`load_config_text` (a string, for tests and generated
configurations). Either returns a fully validated, frozen ``GatewayConfig`` or raises
:class:`~gateway.config.errors.ConfigError` listing every problem as ``file:line: key: reason``.

Rules the loader applies (``config/README.md`` is the operator's version of this list):

* Unknown keys are errors, with a "did you mean" suggestion: a typo must never silently fall back
  to a default. Top-level keys starting with ``x-`` are ignored so they can hold YAML anchors
  (``<<: *defaults`` merges are honoured).
* Scalars are read as written: ``0001`` stays ``"0001"`` and ``18:00:00`` stays a time, whatever
  YAML 1.1 would make of them. Quantities and notionals become ``Decimal`` from their text.
* ``${VAR}`` in any value is replaced by the environment variable ``VAR`` (``${VAR:-default}``
  gives a default, ``$$`` is a literal ``$``); an unset variable is an error naming the key.
* Relative paths (store, logs, message store, dictionaries, simulator config) resolve against the
  directory of the YAML file, never the current directory, so a service starts the same way from
  anywhere. Defaults for those paths resolve the same way.
* Accounts: an entry ``"XS:0001"`` (anything that is not a bare 4-digit code) is a Plxtra account
  ID taken as is (IDs are opaque, zenith spec §3.7). A bare 4-digit code ``"0001"`` means
  ``<owner>:0001`` with ``0001`` accepted as its alias in FIX Account(1); ``<owner>`` is
  ``gateway.account_owner`` (default ``XS``; set it to null to take bare codes as full IDs). The
  mapping form ``{id: "OM1234", alias: "1234"}`` declares any other alias.
  ``default_account`` may name an account by ID or alias and must be one of the session's accounts.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from yaml.nodes import Node

from gateway.config.errors import ConfigError
from gateway.config.instances import read_instances, read_store
from gateway.config.model import (
    AdminSettings,
    GatewayConfig,
    GatewaySettings,
    SessionConfig,
    Transport,
    ZenithSettings,
)
from gateway.config.ops_settings import read_admin, read_logs, read_tls
from gateway.config.sessions import SessionReader
from gateway.config.yamlnodes import MapReader, NodeReader

__all__ = [
    "DEFAULT_ACCOUNT_OWNER",
    "GATEWAY_KEYS",
    "TOP_LEVEL_KEYS",
    "ZENITH_KEYS",
    "load_config",
    "load_config_text",
]

TOP_LEVEL_KEYS = ("gateway", "zenith", "sessions", "admin", "instances")
GATEWAY_KEYS = (
    "listen_host", "listen_port", "store_path", "log_dir", "message_store", "message_store_dir",
    "data_dictionary_dir", "cancel_on_disconnect", "md_conflation", "md_queue_limit", "md_merge_max",
    "pending_status_after", "store_apply", "store_fsync",
    "account_owner", "tls", "tls_listen_port", "logs",
    "store",
)
ZENITH_KEYS = ("url", "token", "auth_method", "request_timeout", "sim_config", "ca", "at_start")
DEFAULT_ACCOUNT_OWNER = "XS"
MESSAGE_STORES = ("file", "memory", "postgresql")
# QuickFIX's PostgreSQLStore writes CompIDs into its SQL unescaped: with it, these are refused.
_SQL_UNSAFE_COMP_ID = ("'", "\\")
AUTH_METHODS = ("bearer", "authtoken")
EMBEDDED = "embedded"
STORE_APPLY = ("loop", "thread")

_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*")
_OWNER = re.compile(r"[A-Za-z0-9]+")


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate one YAML file; ``env`` replaces ``os.environ`` for ``${VAR}`` (tests)."""
    label = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=label) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", file=label) from None
    return load_config_text(text, source=label, base_dir=Path(path).absolute().parent,
                            env=env, path=Path(path).absolute())


def load_config_text(
    text: str,
    *,
    source: str | None = "<text>",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> GatewayConfig:
    """Validate YAML text; relative paths resolve against ``base_dir`` (default: the cwd)."""
    reader = NodeReader(source, os.environ if env is None else env)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "cannot parse"
        raise ConfigError(f"invalid YAML: {problem}", file=source, line=line) from None
    except yaml.YAMLError as exc:   # e.g. more than one document
        raise ConfigError(f"invalid YAML: {exc}", file=source) from None
    if root is None:
        raise ConfigError("the file is empty: it needs at least a 'sessions' list", file=source)
    config = _Loader(reader, (base_dir or Path.cwd()).absolute()).load(root, path)
    if reader.errors or config is None:
        errors = sorted(reader.errors, key=lambda e: e.line or 0)
        raise ConfigError.combine(errors or [ConfigError("invalid configuration", file=source)])
    return config


class _Loader:
    def __init__(self, reader: NodeReader, base_dir: Path) -> None:
        self.r = reader
        self.base_dir = base_dir

    def load(self, root: Node, path: Path | None) -> GatewayConfig | None:
        top = self.r.mapping(root, "", TOP_LEVEL_KEYS, extension_prefix="x-")
        if top is None:
            return None
        gateway, owner = self._gateway(top)
        zenith = self._zenith(top)
        sessions_item = top.get("sessions")
        if sessions_item is None:
            self.r.error(root, "sessions", "missing: the gateway needs at least one session")
            return None
        node, key = sessions_item
        nodes = self.r.sequence(node, key)
        if nodes is None:
            return None
        if not nodes:
            self.r.error(node, key, "must list at least one session")
            return None
        session_reader = SessionReader(self.r, gateway, owner, self.base_dir)
        sessions = [session_reader.read(n, f"{key}[{i}]") for i, n in enumerate(nodes)]
        built = tuple(s for s in sessions if s is not None)
        session_reader.check_unique(nodes, sessions)
        instances = read_instances(self.r, top.get("instances"), nodes, sessions,
                                   postgres=gateway is None or gateway.store is not None)
        admin = AdminSettings()
        if got := top.get("admin"):
            admin = read_admin(self.r, *got, self._host)   # type: ignore[assignment]
        if gateway is not None:
            self._check_tls(root, gateway, built)
            self._check_sql_comp_ids(nodes, gateway, sessions)
        if gateway is None or zenith is None or admin is None or len(built) != len(sessions):
            return None
        if instances is None:
            return None
        return GatewayConfig(path=path, gateway=gateway, zenith=zenith, sessions=built, admin=admin,
                             instances=instances)

    def _check_tls(self, root: Node, gateway: GatewaySettings, sessions: tuple[SessionConfig, ...]) -> None:
        """Acceptor sessions on TLS need gateway.tls and a TLS port distinct from the plain one."""
        tls_acceptors = [s for s in sessions if s.transport is Transport.TLS and s.role.value == "acceptor"]
        if not tls_acceptors:
            return
        names = ", ".join(s.name for s in tls_acceptors)
        if gateway.tls is None:
            self.r.error(root, "gateway.tls", f"missing: sessions {names} say transport: tls")
        if gateway.tls_listen_port is None:
            self.r.error(root, "gateway.tls_listen_port", f"missing: sessions {names} say transport: tls")
        elif gateway.tls_listen_port == gateway.listen_port:
            self.r.error(root, "gateway.tls_listen_port", "must differ from listen_port (plain sessions)")

    def _check_sql_comp_ids(self, nodes: list[Node], gateway: GatewaySettings,
                            sessions: list[SessionConfig | None]) -> None:
        if gateway.message_store != "postgresql":
            return
        for i, (node, s) in enumerate(zip(nodes, sessions, strict=True)):
            if s is None:
                continue
            for name, value in (("sender_comp_id", s.sender_comp_id), ("target_comp_id", s.target_comp_id)):
                if any(c in value for c in _SQL_UNSAFE_COMP_ID):
                    self.r.error(node, f"sessions[{i}].{name}",
                                 f"{value!r}: with message_store postgresql a CompID may not contain ' or \\ "
                                 "(QuickFIX's PostgreSQLStore puts it in its SQL unescaped)")

    # -- paths -----------------------------------------------------------------------------
    def _path(self, node: Node, key: str) -> Path | None:
        text = self.r.string(node, key)
        if text is None:
            return None
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        return Path(os.path.normpath(path))

    def _default_path(self, relative: Path) -> Path:
        return Path(os.path.normpath(self.base_dir / relative))

    # -- gateway: ----------------------------------------------------------------------------
    def _gateway(self, top: MapReader) -> tuple[GatewaySettings | None, str | None]:
        defaults = GatewaySettings()
        item = top.get("gateway")
        m = self.r.mapping(item[0], item[1], GATEWAY_KEYS) if item else MapReader(self.r, None, "gateway", ())
        if m is None:
            return None, DEFAULT_ACCOUNT_OWNER
        ok = True
        values: dict[str, object] = {
            "store_path": self._default_path(defaults.store_path),
            "log_dir": self._default_path(defaults.log_dir),
            "message_store_dir": self._default_path(defaults.message_store_dir),
        }

        def put(name: str, value: object) -> None:
            nonlocal ok
            if value is None:
                ok = False
            else:
                values[name] = value

        if got := m.get("listen_host"):
            put("listen_host", self._host(*got))
        if got := m.get("listen_port"):
            put("listen_port", self.r.integer(*got, minimum=1, maximum=65535))
        for name in ("store_path", "log_dir", "message_store_dir"):
            if got := m.get(name):
                put(name, self._path(*got))
        if got := m.get("data_dictionary_dir"):
            node, key = got
            if self.r.text(node, key) is not None:   # null: locate the installed dictionaries
                directory = self._path(node, key)
                if directory is not None and not directory.is_dir():
                    self.r.error(node, key, f"directory {str(directory)!r} does not exist")
                    directory = None
                put("data_dictionary_dir", directory)
        if got := m.get("store_apply"):
            put("store_apply", self.r.choice(*got, STORE_APPLY))
        for name in ("cancel_on_disconnect", "md_conflation", "store_fsync"):
            if got := m.get(name):
                put(name, self.r.boolean(*got))
        for name in ("md_queue_limit", "md_merge_max"):
            if got := m.get(name):
                put(name, self.r.integer(*got, minimum=1))
        if got := m.get("pending_status_after"):
            seconds = self.r.decimal(*got, positive=False)
            if seconds is not None and seconds < 0:
                self.r.error(*got, f"must be 0 (never) or more seconds, got {seconds}")
                seconds = None
            put("pending_status_after", float(seconds) if seconds is not None else None)
        if got := m.get("tls"):
            put("tls", read_tls(self.r, *got, self._path, server=True))
        if got := m.get("tls_listen_port"):
            put("tls_listen_port", self.r.integer(*got, minimum=1, maximum=65535))
        if got := m.get("logs"):
            put("logs", read_logs(self.r, *got))
        if got := m.get("store"):
            put("store", read_store(self.r, *got))
        self._message_store(m, values, put)
        owner: str | None = DEFAULT_ACCOUNT_OWNER
        if got := m.get("account_owner"):
            node, key = got
            owner = self.r.text(node, key)
            if owner is not None and not _OWNER.fullmatch(owner.strip()):
                self.r.error(node, key, f"{owner!r} is not an account owner code such as XS")
                ok = False
            owner = owner.strip() if owner else None
        if not ok:
            return None, owner
        return GatewaySettings(**values), owner   # type: ignore[arg-type]

    def _message_store(self, m: MapReader, values: dict[str, object], put: Any) -> None:
        """``gateway.message_store``: what the config says, else ``postgresql`` when the state is
        in PostgreSQL (a standby elsewhere must find QuickFIX's sequence numbers there too), else
        ``file``. ``postgresql`` needs ``gateway.store``."""
        got = m.get("message_store")
        if got is None:
            if values.get("store") is not None:
                values["message_store"] = "postgresql"
            return
        kind = self.r.choice(*got, MESSAGE_STORES)
        if kind == "postgresql" and values.get("store") is None and m.get("store") is None:
            self.r.error(*got, "postgresql needs gateway.store: postgresql://... (the same database)")
            kind = None
        put("message_store", kind)

    def _host(self, node: Node, key: str) -> str | None:
        host = self.r.string(node, key)
        if host is None:
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOSTNAME.fullmatch(host):
                self.r.error(node, key, f"{host!r} is neither an IP address nor a host name")
                return None
        return host

    # -- zenith: -----------------------------------------------------------------------------
    def _zenith(self, top: MapReader) -> ZenithSettings | None:
        item = top.get("zenith")
        m = self.r.mapping(item[0], item[1], ZENITH_KEYS) if item else MapReader(self.r, None, "zenith", ())
        if m is None:
            return None
        ok = True
        values: dict[str, object] = {}
        url = EMBEDDED
        if got := m.get("url"):
            url_value = self._zenith_url(*got)
            ok &= url_value is not None
            url = url_value or EMBEDDED
            values["url"] = url
        if got := m.get("token"):
            token = self.r.string(*got)
            ok &= token is not None
            values["token"] = token
        elif url != EMBEDDED:
            # The model's "demo" default only makes sense for the simulator; a real Plxtra
            # must never be sent a guessed credential.
            where = got[0] if (got := m.get("url")) else m.node
            self.r.error(where, "zenith.token",
                         "required when zenith.url is not 'embedded' "
                         "(write token: ${PLXTRA_TOKEN} to read it from the environment)")
            ok = False
        if got := m.get("auth_method"):
            method = self.r.choice(*got, AUTH_METHODS)
            ok &= method is not None
            values["auth_method"] = method
        if got := m.get("request_timeout"):
            timeout = self.r.decimal(*got)
            ok &= timeout is not None
            values["request_timeout"] = float(timeout) if timeout is not None else None
        if got := m.get("sim_config"):
            node, key = got
            sim_path = self._path(node, key)
            if sim_path is not None and url != EMBEDDED:
                self.r.error(node, key, "only used when zenith.url is 'embedded'")
                sim_path = None
            elif sim_path is not None and not sim_path.is_file():
                self.r.error(node, key, f"file {str(sim_path)!r} does not exist")
                sim_path = None
            ok &= sim_path is not None
            values["sim_config"] = sim_path
        if got := m.get("at_start"):
            values["at_start"] = self.r.choice(*got, ("wait", "fail"))
            ok &= values["at_start"] is not None
        if got := m.get("ca"):
            ca = self._path(*got)
            if ca is not None and not ca.is_file():
                self.r.error(got[0], got[1], f"file {str(ca)!r} does not exist")
                ca = None
            ok &= ca is not None
            values["ca"] = ca
        if not ok:
            return None
        return ZenithSettings(**values)   # type: ignore[arg-type]

    def _zenith_url(self, node: Node, key: str) -> str | None:
        url = self.r.string(node, key)
        if url is None:
            return None
        if url.lower() == EMBEDDED:
            return EMBEDDED
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            self.r.error(node, key, f"{url!r} is neither 'embedded' nor a ws:// or wss:// URL with a host")
            return None
        try:
            parts.port   # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            self.r.error(node, key, f"{url!r} has an invalid port")
            return None
        return url

