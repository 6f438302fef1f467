"""FIX over TLS and initiator backup hosts: how the rendered QuickFIX settings are split.

QuickFIX C++ reads its SSL settings (certificates, CA, verify level, protocols) from the
``[DEFAULT]`` section of the settings an SSL acceptor or initiator is built with, and an
acceptor serves every acceptor session of its settings. So :func:`plan_transports` splits the
rendered text (``gateway.config.quickfix_settings``) into:

* the plain engine's settings: plain acceptor sessions on ``gateway.listen_port`` and plain
  initiators, exactly as rendered;
* one ``SSLSocketAcceptor`` for the ``transport: tls`` acceptor sessions, on
  ``gateway.tls_listen_port``, with ``gateway.tls``;
* one ``SSLSocketInitiator`` per distinct TLS block of ``transport: tls`` initiators (their own
  ``tls:`` or ``gateway.tls``).

These are QuickFIX's polled SSL connectors (the ``ThreadedSSL*`` ones run threads); the engine
hands them to the loop driver like the plain ones (:func:`build_tls_connectors`).

Initiators' ``backup_hosts`` become ``SocketConnectHost1``/``SocketConnectPort1``..., which
QuickFIX tries in order after the primary (and round again) when a connection fails.

Limits of QuickFIX's SSL layer, stated so nobody relies on more: it trusts the given CA *and*
the system's default CAs (``SSL_CTX_set_default_verify_paths``), checks no host name and does
not tie a client certificate to a CompID. Requires quickfix built with ``HAVE_SSL``
(``deploy/build-quickfix-ssl.sh``); :func:`ssl_available` says whether this one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import quickfix as fix

from gateway.config.model import GatewayConfig, GatewaySettings, Role, SessionConfig, TlsSettings, Transport
from gateway.fix.errors import FixEngineError
from gateway.fix.message_store import message_store_factory

__all__ = ["TransportPlan", "build_tls_connectors", "plan_transports", "ssl_available", "tls_lines"]

_PROTOCOLS = {"TLSv1.2": "+TLSv1_2 +TLSv1_3", "TLSv1.3": "+TLSv1_3"}


def ssl_available() -> bool:
    """True when this quickfix was compiled with HAVE_SSL. The stub SSLSocketAcceptor throws
    "HAVE_SSL not enabled" after its base class was built, so the probe needs settings the base
    accepts (one session; nothing is bound before start)."""
    settings = fix.SessionSettings()
    settings.setFromString(_PROBE_SETTINGS)
    try:
        probe = fix.SSLSocketAcceptor(_Probe(), fix.MemoryStoreFactory(), settings)
    except fix.ConfigError:
        return False   # "HAVE_SSL not enabled"
    del probe
    return True


_PROBE_SETTINGS = """[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=1
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
[SESSION]
BeginString=FIX.4.4
SenderCompID=SSL-PROBE
TargetCompID=SSL-PROBE-PEER
"""


class _Probe(fix.Application):
    def onCreate(self, sessionID: fix.SessionID) -> None: ...
    def onLogon(self, sessionID: fix.SessionID) -> None: ...
    def onLogout(self, sessionID: fix.SessionID) -> None: ...
    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...


def tls_lines(tls: TlsSettings, *, server: bool) -> list[str]:
    """QuickFIX ``[DEFAULT]`` lines for ``tls`` (server: acceptor side)."""
    lines = [f"SSLProtocol={_PROTOCOLS[tls.min_version]}"]
    if tls.certificate is not None:
        prefix = "Server" if server else "Client"
        lines += [f"{prefix}CertificateFile={tls.certificate}",
                  f"{prefix}CertificateKeyFile={tls.private_key}"]
    if tls.ca is not None:
        lines.append(f"CertificationAuthoritiesFile={tls.ca}")
    if server:
        lines.append(f"CertificateVerifyLevel={1 if tls.verify_client else 0}")
    return lines


@dataclass(slots=True)
class TransportPlan:
    plain: dict[Role, str]                      # connector role -> settings text of its plain sessions
    changed: bool = False                       # anything moved to TLS or backup hosts added
    tls_acceptor_text: str | None = None
    tls_initiator_texts: list[str] = field(default_factory=list)
    _keep: list[Any] = field(default_factory=list)

    @property
    def has_tls(self) -> bool:
        return self.tls_acceptor_text is not None or bool(self.tls_initiator_texts)

    def release(self) -> None:
        """Forget the settings and factories (after the engine freed the connectors)."""
        self._keep.clear()


def build_tls_connectors(plan: TransportPlan, application: fix.Application, gateway: GatewaySettings,
                         log_factory: Any) -> list[Any]:
    """The SSL acceptor/initiators of ``plan``, built but not started (the loop driver's first
    poll starts them)."""
    if not plan.has_tls:
        return []
    if not ssl_available():
        raise FixEngineError("sessions with transport: tls need quickfix built with SSL "
                             "(HAVE_SSL): run deploy/build-quickfix-ssl.sh or ./dev.sh")
    connectors = []
    for text, kind in ([(plan.tls_acceptor_text, "acceptor")] if plan.tls_acceptor_text else []) + [
            (t, "initiator") for t in plan.tls_initiator_texts]:
        settings = fix.SessionSettings()
        settings.setFromString(text)
        store = message_store_factory(gateway, settings)
        logs = log_factory or fix.FileLogFactory(settings)
        cls = fix.SSLSocketAcceptor if kind == "acceptor" else fix.SSLSocketInitiator
        plan._keep += [settings, store, logs]   # QuickFIX keeps raw pointers to them
        connectors.append(cls(application, store, settings, logs))
    return connectors


_BLOCK = re.compile(r"^\[SESSION\]\s*$", re.MULTILINE)


def _field(block: str, name: str) -> str | None:
    found = re.search(rf"^{name}=(.*)$", block, re.MULTILINE)
    return found.group(1).strip() if found else None


def plan_transports(config: GatewayConfig, texts: dict[Role, str]) -> TransportPlan:
    """Split each connector's rendered settings ``texts`` by transport (see the module docstring)."""
    plan = TransportPlan(plain={})
    tls_initiators: dict[TlsSettings, tuple[str, list[str]]] = {}
    for role, text in texts.items():
        starts = [m.start() for m in _BLOCK.finditer(text)]
        if not starts:
            plan.plain[role] = text
            continue
        ends = [*starts[1:], len(text)]
        default, blocks = text[:starts[0]], [text[a:b] for a, b in zip(starts, ends, strict=True)]
        plain: list[str] = []
        tls_acceptors: list[str] = []
        for block in blocks:
            session = _session_of(config, block)
            if session is not None and session.role is Role.INITIATOR and session.backup_hosts:
                block = _with_backups(block, session)
                plan.changed = True
            if session is None or session.transport is not Transport.TLS:
                plain.append(block)
            elif session.role is Role.ACCEPTOR:
                port = config.gateway.tls_listen_port
                tls_acceptors.append(re.sub(r"^SocketAcceptPort=.*$", f"SocketAcceptPort={port}", block,
                                            flags=re.MULTILINE))
            else:
                tls = session.tls or config.gateway.tls
                if tls is None:
                    raise FixEngineError(f"session {session.name}: transport: tls without a tls: block")
                tls_initiators.setdefault(tls, (default, []))[1].append(block)
        if plain:
            plan.plain[role] = default + "".join(plain)
        if len(plain) != len(blocks):
            plan.changed = True
        if tls_acceptors:
            assert config.gateway.tls is not None
            plan.tls_acceptor_text = (_with_default(default, tls_lines(config.gateway.tls, server=True))
                                      + "".join(tls_acceptors))
    plan.tls_initiator_texts = [_with_default(default, tls_lines(tls, server=False)) + "".join(blocks)
                                for tls, (default, blocks) in tls_initiators.items()]
    return plan


def _with_default(default: str, lines: list[str]) -> str:
    return default.rstrip("\n") + "\n" + "\n".join(lines) + "\n\n"


def _with_backups(block: str, session: SessionConfig) -> str:
    extra = []
    for i, (host, port) in enumerate(session.backup_hosts, start=1):
        extra += [f"SocketConnectHost{i}={host}", f"SocketConnectPort{i}={port}"]
    return block.rstrip("\n") + "\n" + "\n".join(extra) + "\n\n"


def _session_of(config: GatewayConfig, block: str) -> SessionConfig | None:
    begin, sender, target = (_field(block, k) for k in ("BeginString", "SenderCompID", "TargetCompID"))
    if begin is None or sender is None or target is None:
        return None
    return config.session_for(begin, sender, target)
