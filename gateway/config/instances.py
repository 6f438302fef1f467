"""Instances (sets of sessions served by one gateway process) and the PostgreSQL store URL.

Issue 14: sessions are spread over several gateway instances; each instance's session set is
guarded by a lease in PostgreSQL (``gateway/store/lease.py``), renewed by the active process and
taken over by a standby when it lapses. This module only reads and checks the YAML:

``gateway.store``: ``postgresql://user:${PGPASSWORD}@host:5432/db[?sslmode=...]`` keeps the
gateway's state in PostgreSQL (without it, the SQLite file ``gateway.store_path``). User and
password are taken literally and percent-encoded after ``${VAR}`` substitution, so a password from
the environment may hold ``@``, ``:``, ``/`` or ``%``.

``instances:`` maps an instance name to its sessions, by session ``name``::

    instances:
      a: [client1, client2]                    # short form
      b: {sessions: [client3], lease_ttl: 5}   # lease_ttl: seconds (default 10)

or a session says ``instance: a`` itself (both forms may be mixed if they agree). When any
instance is declared, every session belongs to exactly one; a configuration without instances is
one implicit instance, ``default``, with every session. Errors name file, line and key like the
loader's others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from yaml.nodes import MappingNode, Node, ScalarNode

from gateway.config.yamlnodes import MapReader, NodeReader, join_key, suggest

if TYPE_CHECKING:
    from gateway.config.model import GatewayConfig, SessionConfig

__all__ = [
    "DEFAULT_INSTANCE",
    "DEFAULT_LEASE_TTL",
    "INSTANCE_KEYS",
    "InstanceConfig",
    "InstancesConfig",
    "PostgresStore",
    "describe_instances",
    "describe_store",
    "read_instances",
    "read_store",
]

INSTANCE_KEYS = ("sessions", "lease_ttl")
DEFAULT_INSTANCE = "default"
DEFAULT_LEASE_TTL = 10.0
# Below a second a GC pause or a busy host loses the lease for nothing; above an hour a dead host's
# sessions wait too long for their standby.
_TTL_MIN, _TTL_MAX = Decimal(1), Decimal(3600)
# Instance names go into lease rows, the store's instance column, log lines and --instance.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class PostgresStore:
    """``gateway.store``: where the state lives in PostgreSQL. ``url`` holds the password: hand it
    to the driver, never to a log (``redacted`` is the printable form)."""

    url: str = field(repr=False)
    host: str
    port: int
    database: str
    user: str

    @property
    def redacted(self) -> str:
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    name: str
    sessions: tuple[str, ...]                # session names, in configuration order
    lease_ttl: float = DEFAULT_LEASE_TTL     # s: the standby takes over this long after the last renewal


@dataclass(frozen=True, slots=True)
class InstancesConfig:
    """``instances:``; ``declared`` False: no instances written, one implicit ``default``."""

    instances: tuple[InstanceConfig, ...] = ()
    declared: bool = False

    def get(self, name: str) -> InstanceConfig | None:
        return next((i for i in self.instances if i.name == name), None)

    def instance_of(self, session: str) -> str:
        for i in self.instances:
            if session in i.sessions:
                return i.name
        return DEFAULT_INSTANCE

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.instances)


# -- gateway.store ------------------------------------------------------------------------------------

def read_store(reader: NodeReader, node: Node, key: str) -> PostgresStore | None:
    """Read ``gateway.store``; the raw text is split before ``${VAR}`` substitution so that a
    substituted password is percent-encoded instead of breaking the URL."""
    if not isinstance(node, ScalarNode) or not node.value.strip():
        reader.string(node, key)   # reports the right "expected a value" error
        return None
    raw = node.value.strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc:
        reader.error(node, key, f"{raw!r} is not a postgresql://user:password@host:port/database URL "
                                "(without gateway.store the state is the SQLite file gateway.store_path)")
        return None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user_raw, has_password, password_raw = userinfo.partition(":")

    def substitute(text: str) -> str | None:   # ${VAR} in one part, errors on the key's line
        return reader.text(ScalarNode(node.tag, text, node.start_mark, node.end_mark, style="'"), key)

    user = substitute(user_raw) if user_raw else None
    password = substitute(password_raw) if has_password else ""
    rest = substitute(hostport + raw[len(f"{parts.scheme}://{parts.netloc}"):])
    if (user_raw and user is None) or password is None or rest is None:
        return None   # an unset variable: already reported
    if not user:
        reader.error(node, key, "needs a user: postgresql://USER:${PGPASSWORD}@host:port/database")
        return None
    # Taken literally (never percent-decoded), then encoded: what the file or variable says is the name.
    netloc = quote(user, safe="") + (":" + quote(password, safe="") if has_password else "")
    url = f"postgresql://{netloc}@{rest}"
    check = urlsplit(url)
    try:
        port = check.port or 5432
    except ValueError:
        reader.error(node, key, f"invalid port in {check.netloc.rpartition('@')[2]!r}")
        return None
    database = unquote(check.path.lstrip("/"))
    if not check.hostname:
        reader.error(node, key, "needs a host: postgresql://user:password@HOST:port/database")
        return None
    if not database or "/" in database:
        reader.error(node, key, "needs a database name: postgresql://user:password@host:port/DATABASE")
        return None
    return PostgresStore(url=url, host=check.hostname, port=port, database=database, user=user)


# -- instances: ---------------------------------------------------------------------------------------

def read_instances(reader: NodeReader, item: tuple[Node, str] | None, session_nodes: Sequence[Node],
                   sessions: Sequence[SessionConfig | None], *,
                   postgres: bool) -> InstancesConfig | None:
    """The ``instances:`` section and the sessions' ``instance:`` keys, checked against each other.

    ``session_nodes[i]`` is the YAML node of ``sessions[i]``, ``sessions[i]`` what it became (None
    where it had errors, already reported). ``postgres``: ``gateway.store`` is a PostgreSQL URL
    (leases live there, so instances need it). Returns None when anything is wrong (every problem
    is in ``reader.errors``).
    """
    before = len(reader.errors)
    declared: dict[str, tuple[list[str], float, Node]] = {}   # name -> (sessions, ttl, node)
    owner_of: dict[str, str] = {}                             # session -> instance
    known = [s.name for s in sessions if s is not None]
    if item is not None:
        _read_section(reader, *item, declared, owner_of, known)
    per_session = _per_session(reader, session_nodes, sessions)
    for name_of_session, (value_node, key, instance) in per_session.values():
        if instance not in declared:
            if item is not None:   # a section exists: it is the list of instances
                reader.error(value_node, key, f"unknown instance {instance!r}"
                             f"{suggest(instance, declared)} (declared: {', '.join(declared) or 'none'})")
                continue
            declared[instance] = ([], DEFAULT_LEASE_TTL, value_node)
        listed_in = owner_of.get(name_of_session)
        if listed_in is not None and listed_in != instance:
            reader.error(value_node, key, f"session {name_of_session!r} says instance {instance!r} but is "
                                          f"listed in instances.{listed_in}")
            continue
        if listed_in is None:
            owner_of[name_of_session] = instance
            declared[instance][0].append(name_of_session)
    if declared:
        for i, session in enumerate(sessions):
            if session is not None and session.name not in owner_of:
                reader.error(session_nodes[i], f"sessions[{i}]",
                             f"session {session.name!r} is in no instance: list it under one of "
                             f"instances ({', '.join(declared)}) or give it instance: NAME")
        for name, (members, _ttl, node) in declared.items():
            if not members:
                reader.error(node, join_key("instances", name), "owns no session")
        if not postgres:
            first = item[0] if item is not None else next(iter(declared.values()))[2]
            reader.error(first, "instances", "instances need gateway.store: postgresql://... (their "
                                             "leases and shared state live there)")
    if len(reader.errors) != before:
        return None
    if not declared:
        return InstancesConfig()
    order = {name: i for i, name in enumerate(known)}
    built = tuple(InstanceConfig(name, tuple(sorted(members, key=order.__getitem__)), ttl)
                  for name, (members, ttl, _node) in declared.items())
    return InstancesConfig(built, declared=True)


def _read_section(reader: NodeReader, node: Node, key: str,
                  declared: dict[str, tuple[list[str], float, Node]], owner_of: dict[str, str],
                  known: list[str]) -> None:
    if not isinstance(node, MappingNode):
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            reader.error(node, key, "is empty: name at least one instance, or remove the section")
        else:
            reader.error(node, key, "expected a mapping: instance name -> its sessions")
        return
    for key_node, value_node in node.value:
        name = key_node.value if isinstance(key_node, ScalarNode) else None
        ikey = join_key(key, str(name))
        if name is None or not _NAME.fullmatch(name):
            reader.error(key_node, ikey, f"instance name {name!r}: letters, digits, '_', '.', '-' "
                                         "(up to 63, starting with a letter or digit)")
            continue
        if name in declared:
            reader.error(key_node, ikey, "duplicate instance")
            continue
        ttl = DEFAULT_LEASE_TTL
        list_node: Node | None = value_node
        list_key = ikey
        if isinstance(value_node, MappingNode):
            m = reader.mapping(value_node, ikey, INSTANCE_KEYS)
            if m is None:
                continue
            ttl = _ttl(reader, m) or ttl
            got = m.get("sessions")
            list_node, list_key = (got if got else (None, join_key(ikey, "sessions")))
        members: list[str] = []
        declared[name] = (members, ttl, key_node)
        if list_node is None:
            continue   # its sessions name it themselves (instance: NAME)
        items = reader.sequence(list_node, list_key)
        for j, entry in enumerate(items or ()):
            ekey = join_key(list_key, j)
            session = reader.string(entry, ekey)
            if session is None:
                continue
            if session not in known:
                reader.error(entry, ekey, f"unknown session {session!r}{suggest(session, known)}")
            elif session in owner_of:
                reader.error(entry, ekey, f"session {session!r} is already in instance "
                                          f"{owner_of[session]!r}: a session belongs to exactly one instance")
            else:
                owner_of[session] = name
                members.append(session)


def _ttl(reader: NodeReader, m: MapReader) -> float | None:
    got = m.get("lease_ttl")
    if got is None:
        return None
    value = reader.decimal(*got)
    if value is None:
        return None
    if not _TTL_MIN <= value <= _TTL_MAX:
        reader.error(got[0], got[1], f"must be between {_TTL_MIN} and {_TTL_MAX} seconds, got {value}")
        return None
    return float(value)


def _per_session(reader: NodeReader, session_nodes: Sequence[Node],
                 sessions: Sequence[SessionConfig | None]) -> dict[int, tuple[str, tuple[Node, str, str]]]:
    """``instance:`` of each loaded session: index -> (session name, (node, key, instance))."""
    found: dict[int, tuple[str, tuple[Node, str, str]]] = {}
    for i, (node, session) in enumerate(zip(session_nodes, sessions, strict=True)):
        if session is None or not isinstance(node, MappingNode):
            continue
        # A scratch reader: the session's other keys were checked (and reported) by its reader;
        # this one only finds `instance`, honouring <<: merges the same way.
        keys = MapReader(NodeReader(reader.file_label, reader.env), node, f"sessions[{i}]",
                         (*_session_keys(),))
        got = keys.get("instance")
        if got is None:
            continue
        value = reader.string(*got)
        if value is None:
            continue
        if not _NAME.fullmatch(value):
            reader.error(got[0], got[1], f"instance name {value!r}: letters, digits, '_', '.', '-'")
            continue
        found[i] = (session.name, (got[0], got[1], value))
    return found


def _session_keys() -> tuple[str, ...]:
    from gateway.config.sessions import SESSION_KEYS

    return SESSION_KEYS


# -- check-config ---------------------------------------------------------------------------------------

def describe_store(config: GatewayConfig) -> str:
    store = config.gateway.store
    if store is None:
        return f"SQLite {config.gateway.store_path}"
    return f"PostgreSQL {store.redacted}"


def describe_instances(config: GatewayConfig) -> list[str]:
    """``check-config`` lines: which instance serves which sessions, and its lease."""
    inst = config.instances
    if not inst.declared:
        return []
    lines = ["", "Instances (one lease per instance in PostgreSQL; a standby takes over when it lapses)"]
    for i in inst.instances:
        lines.append(f"  {i.name}: {', '.join(i.sessions)} (lease ttl {i.lease_ttl:g}s, "
                     f"renewed every {i.lease_ttl / 3:.3g}s)")
    return lines
