"""Typed configuration of the gateway (what ``config/gateway.yaml`` becomes).

Only plain frozen dataclasses live here: the loader (``loader.py``) builds them from YAML
and reports errors with file, line and key; the renderer (``quickfix_settings.py``) turns
them into QuickFIX ``SessionSettings`` text. Every other part reads these objects and never
the YAML.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from gateway.config.instances import InstancesConfig, PostgresStore

__all__ = [
    "AdminSettings",
    "Credentials",
    "GatewayConfig",
    "GatewaySettings",
    "Limits",
    "LogSettings",
    "Role",
    "Schedule",
    "SessionConfig",
    "Symbology",
    "ThrottleAction",
    "TlsSettings",
    "Transport",
    "ZenithSettings",
]


class Role(StrEnum):
    ACCEPTOR = "acceptor"
    INITIATOR = "initiator"


class ThrottleAction(StrEnum):
    """What to do with an application message over the session's rate."""

    REJECT = "reject"          # BusinessMessageReject(j) with reason 99 "throttle"
    LOGOUT = "logout"          # reject, then log the session out
    QUEUE = "queue"            # delay it until the rate allows (bounded)


class Transport(StrEnum):
    """How a FIX session's bytes travel: plain TCP, or TLS (QuickFIX built with SSL)."""

    TCP = "tcp"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Certificates and policy of FIX over TLS (``gateway.tls`` or an initiator's ``tls:``).

    Paths are resolved against the YAML's directory like every other path. ``ca`` verifies the
    peer: partners' client certificates on the acceptor (when ``verify_client``), the partner's
    server certificate on an initiator.
    """

    certificate: Path | None = None
    private_key: Path | None = None
    ca: Path | None = None
    verify_client: bool = True
    min_version: str = "TLSv1.2"             # TLSv1.2 | TLSv1.3


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The gateway's own log and QuickFIX's message/event logs (``gateway.logs``)."""

    format: str = "text"                     # "text" or "json" (one object per line)
    rotate: str = "daily"                    # QuickFIX logs: "daily", "size" or "none"
    max_bytes: int = 100 * 1024 * 1024       # with rotate: size
    keep_days: int = 14                      # rotated QuickFIX logs older than this are deleted
    mask_secrets: bool = True                # Password(554), NewPassword(925) masked in files


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """The admin HTTP API of ``gateway.ops`` (``admin:``). Without an ``admin:`` section: off.

    Every request needs ``Authorization: Bearer <secret>`` of one of ``tokens`` (name, secret);
    the name is what audit lines record as who acted.
    """

    enabled: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = 9879
    tokens: tuple[tuple[str, str], ...] = ()

    def token_name(self, secret: str) -> str | None:
        """The name of the token whose secret is ``secret`` (constant-time per candidate)."""
        found = None
        for name, value in self.tokens:
            if hmac.compare_digest(value.encode(), secret.encode()):
                found = name
        return found


@dataclass(frozen=True, slots=True)
class ZenithSettings:
    """Where the gateway finds Plxtra. ``url`` ``embedded`` starts the simulator in-process."""

    url: str = "embedded"
    token: str = "demo"                      # resolved value (env vars already substituted)
    auth_method: str = "bearer"              # "bearer" (handshake header) or "authtoken" (Auth:AuthToken)
    request_timeout: float = 10.0
    sim_config: Path | None = None           # simulator YAML used when url == "embedded"
    ca: Path | None = None                   # wss://: CA bundle to verify Plxtra (None: system CAs)
    at_start: str = "wait"                   # Zenith down at start: "wait" (serve, keep trying) or "fail"


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 9878
    store_path: Path = Path("var/gateway.sqlite")
    store: PostgresStore | None = None       # gateway.store: postgresql://... (None: SQLite at store_path)
    log_dir: Path = Path("var/log")
    # QuickFIX message store: "file", "memory" or "postgresql" (QuickFIX's PostgreSQLStore in the
    # gateway.store database; the loader makes it the default when gateway.store is set)
    message_store: str = "file"
    message_store_dir: Path = Path("var/store")
    data_dictionary_dir: Path | None = None  # None: locate the dictionaries installed with quickfix
    cancel_on_disconnect: bool = False       # default for sessions that do not say
    md_conflation: bool = True               # per-session conflation of book updates for slow readers
    md_queue_limit: int = 10_000             # outbound MD messages queued per session before conflating
    md_merge_max: int = 200                  # queued X for one request merged into one message (1: never)
    pending_status_after: float = 2.0        # s without Plxtra's answer before ER Pending New/Cancel/Replace
    store_apply: str = "loop"                # SQLite brought up to date from the journal: "loop" or "thread"
    store_fsync: bool = False                # fsync each journal block (power loss, not only kill -9)
    tls: TlsSettings | None = None           # certificates of acceptor sessions with transport: tls
    tls_listen_port: int | None = None       # port of those sessions (plain ones stay on listen_port)
    logs: LogSettings = field(default_factory=LogSettings)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Session times. ``None`` start/end with ``always_on`` True means 24/7."""

    always_on: bool = True
    start_time: time | None = None
    end_time: time | None = None
    time_zone: str = "UTC"
    start_day: str | None = None             # e.g. "Mon" for weekly sessions
    end_day: str | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """Logon credentials the counterparty must present (acceptor) or we present (initiator)."""

    username: str | None = None
    password: str | None = None              # resolved from the environment when written ${VAR}


@dataclass(frozen=True, slots=True)
class Symbology:
    """How a FIX instrument maps to a Zenith symbol ``Code`` + ``Market``.

    ``Symbol(55)=XS01`` with ``SecurityExchange(207)=XSX`` always works; ``XS01.XSX`` in 55
    alone works when ``allow_suffix``; 207 may be omitted when ``default_market`` is set.
    """

    default_market: str | None = "XSX"
    allow_suffix: bool = True


@dataclass(frozen=True, slots=True)
class Limits:
    max_order_qty: Decimal | None = None
    max_notional: Decimal | None = None
    messages_per_second: int | None = None
    throttle_action: ThrottleAction = ThrottleAction.REJECT


@dataclass(frozen=True, slots=True)
class SessionConfig:
    name: str                                # "sessions[0]" style label for messages, or the YAML name
    begin_string: str                        # FIX.4.2 | FIX.4.4 | FIXT.1.1
    sender_comp_id: str                      # our CompID (e.g. PLXTRA)
    target_comp_id: str                      # the partner's CompID (e.g. CLIENT1)
    role: Role = Role.ACCEPTOR
    default_appl_ver_id: str | None = None   # FIX.5.0SP2 when begin_string is FIXT.1.1
    host: str | None = None                  # initiators: where to connect
    port: int | None = None
    backup_hosts: tuple[tuple[str, int], ...] = ()   # initiators: tried in order after host:port
    transport: Transport = Transport.TCP
    tls: TlsSettings | None = None           # initiators: own TLS block (else gateway.tls)
    heartbeat_interval: int = 30
    schedule: Schedule = field(default_factory=Schedule)
    reset_on_logon: bool = False             # we reset our sequence numbers at each logon
    accept_reset_seq_num_flag: bool = True   # honour 141=Y from the partner
    credentials: Credentials = field(default_factory=Credentials)
    accounts: tuple[str, ...] = ()           # Plxtra account IDs (e.g. "XS:0001")
    account_aliases: dict[str, str] = field(default_factory=dict)  # FIX Account(1) alias -> Plxtra ID
    default_account: str | None = None       # Plxtra ID used when Account(1) is omitted
    markets: tuple[str, ...] = ("XSX",)      # markets this session may trade and see
    symbols: tuple[str, ...] = ()            # empty: every symbol of the allowed markets
    symbology: Symbology = field(default_factory=Symbology)
    limits: Limits = field(default_factory=Limits)
    cancel_on_disconnect: bool = False
    market_data: bool = True                 # session may use MarketDataRequest
    trading: bool = True                     # session may send orders
    pending_reports: bool = False            # ER Pending Cancel/Replace (39=6/E) before Plxtra answers F/G
    # Market-data-only sessions (trading: false) may skip QuickFIX's resend store and the message
    # log: a resend is then answered with SequenceReset-GapFill, which is right for stale quotes
    # and wrong for ExecutionReports, so the loader refuses either on a trading session.
    persist_messages: bool = True            # QuickFIX PersistMessages
    log_messages: bool = True                # message lines in the QuickFIX message log
    # QuickFIX validation of what the partner sends. Off by default for user-defined tags (>= 5000):
    # a partner's own tag on a D must reach the application, not lose the order to a session Reject.
    validate_user_defined_fields: bool = False
    allow_unknown_msg_fields: bool = False   # a standard tag the message type does not define
    validate_fields_out_of_order: bool = True
    data_dictionary: Path | None = None      # the partner's own dictionary (FIXT.1.1: the application one)

    @property
    def market_data_only(self) -> bool:
        """No orders can come from this session (``trading: false``): nothing it is sent needs a
        real resend, so its messages need not be stored or logged."""
        return not self.trading

    @property
    def session_key_text(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"

    def resolve_account(self, fix_account: str | None) -> str | None:
        """Plxtra account for FIX Account(1), or None when it is not entitled."""
        if not fix_account:
            return self.default_account
        plxtra_id = self.account_aliases.get(fix_account, fix_account)
        return plxtra_id if plxtra_id in self.accounts else None


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    path: Path | None
    gateway: GatewaySettings
    zenith: ZenithSettings
    sessions: tuple[SessionConfig, ...]
    admin: AdminSettings = field(default_factory=AdminSettings)
    instances: InstancesConfig = field(default_factory=InstancesConfig)   # none declared: one set

    def session_for(self, begin_string: str, sender_comp_id: str,
                    target_comp_id: str) -> SessionConfig | None:
        wanted = (begin_string, sender_comp_id, target_comp_id)
        for s in self.sessions:
            if (s.begin_string, s.sender_comp_id, s.target_comp_id) == wanted:
                return s
        return None
