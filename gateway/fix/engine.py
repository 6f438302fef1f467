"""Lifecycle of the QuickFIX engine: acceptor and initiator sessions built from the config.

:class:`FixEngine` owns the ``ThreadedSocketAcceptor`` (one thread per partner connection)
and the ``SocketInitiator``, the message store (file or memory) and the ``FileLog`` (the
usual QuickFIX layout: ``<log_dir>/<BeginString>-<Sender>-<Target>.messages.current.log``
and ``.event.current.log``). Settings come from ``gateway.config.quickfix_settings``, one
``SessionSettings`` per connector holding only that connector's sessions (QuickFIX's threaded
acceptor reads ``SocketAcceptPort`` of every session it is given), each with its own store and
log factories; both connectors run side by side in one engine.

QuickFIX binds its acceptor socket on every interface (it has no accept-host setting); the
settings renderer restricts acceptor sessions to ``AllowedRemoteAddresses=127.0.0.1`` when
the configured listen host is a loopback address.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import quickfix as fix

from gateway.config.model import GatewayConfig, Role, SessionConfig, Transport
from gateway.fix.convert import DictionaryCache, MessageDictionaries, session_id_of
from gateway.fix.errors import FixEngineError
from gateway.vocab.records import SessionKey

__all__ = ["WILDCARD_HOSTS", "FixEngine", "acceptor_reach", "acceptor_warning", "dictionary_paths",
           "listen_host_honoured", "load_dictionaries"]

log = logging.getLogger("gateway.fix.engine")


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})


def listen_host_honoured(host: str) -> bool:
    """Whether QuickFIX can do what ``listen_host`` asks: a wildcard (it binds every interface
    anyway) or loopback (the renderer adds ``AllowedRemoteAddresses=127.0.0.1``)."""
    from gateway.config.quickfix_settings import LOOPBACK_HOSTS

    return host in WILDCARD_HOSTS or host in LOOPBACK_HOSTS


def acceptor_reach(config: GatewayConfig) -> str:
    """Where partners can reach the acceptor, truthfully: QuickFIX C++ 1.16 binds
    ``SocketAcceptPort`` on every interface (no accept-address setting), so a loopback
    ``listen_host`` is enforced per connection by ``AllowedRemoteAddresses``, and any other
    specific address is not enforced at all."""
    from gateway.config.quickfix_settings import LOOPBACK_HOSTS

    if not any(s.role is Role.ACCEPTOR for s in config.sessions):
        return "no FIX acceptor (initiator sessions only)"
    host, port = config.gateway.listen_host, config.gateway.listen_port
    if host in LOOPBACK_HOSTS:
        return f"FIX acceptor on port {port} (all interfaces; only 127.0.0.1 peers allowed)"
    if host in WILDCARD_HOSTS:
        return f"FIX acceptor on port {port} (all interfaces; any peer allowed)"
    return (f"FIX acceptor on port {port} (all interfaces, any peer allowed: listen_host {host} "
            f"is NOT enforced)")


def acceptor_warning(config: GatewayConfig) -> str | None:
    """What to warn about at start-up: a specific, non-loopback ``listen_host`` (None if fine)."""
    gw = config.gateway
    if listen_host_honoured(gw.listen_host) or not any(s.role is Role.ACCEPTOR for s in config.sessions):
        return None
    return (f"listen_host {gw.listen_host} cannot be honoured: QuickFIX C++ binds port {gw.listen_port} "
            "on EVERY interface and accepts any peer; firewall the port (or use a container network), "
            "or set listen_host to 127.0.0.1 (loopback peers only) or 0.0.0.0")


def dictionary_paths(config: GatewayConfig, session: SessionConfig) -> tuple[Path, Path | None]:
    """(session/transport dictionary, application dictionary or None) for ``session``."""
    from gateway.config.dictionaries import locate_dictionaries, required_files

    found = locate_dictionaries(config.gateway.data_dictionary_dir, needed=required_files(config))
    paths = found.for_session(session)
    if "DataDictionary" in paths:
        return paths["DataDictionary"], None
    return paths["TransportDataDictionary"], paths["AppDataDictionary"]


def load_dictionaries(config: GatewayConfig, cache: DictionaryCache | None = None,
                      ) -> dict[SessionKey, MessageDictionaries]:
    """Data dictionaries of every configured session, keyed as the outbox sees sessions; each
    message type's is parsed when the first message of that type is sent."""
    cache = cache or DictionaryCache()
    result: dict[SessionKey, MessageDictionaries] = {}
    for session in config.sessions:
        main, app = dictionary_paths(config, session)
        key = SessionKey(session.begin_string, session.sender_comp_id, session.target_comp_id)
        result[key] = MessageDictionaries(cache, main, app)
    return result


class FixEngine:
    """QuickFIX acceptor + initiator for one gateway config. ``start``/``stop`` from any thread
    that is not a QuickFIX thread (stop waits for logouts)."""

    def __init__(self, config: GatewayConfig, application: fix.Application,
                 settings_texts: Mapping[Role, str] | None = None, log_factory: object | None = None) -> None:
        """``settings_texts`` (default: rendered from ``config``) is one text per connector role.
        ``log_factory`` replaces QuickFIX's FileLogFactory (``gateway.ops.fixlog``: masking,
        rotation, session events)."""
        from gateway.config.dictionaries import use_compiled_dictionaries
        from gateway.config.errors import ConfigError
        from gateway.config.quickfix_settings import (
            build_session_settings,
            connector_session_settings,
            render_connector_settings,
        )
        from gateway.fix.schedule_zone import localize
        from gateway.fix.transport import plan_transports

        self.config = config
        self.application = application
        try:
            texts = dict(settings_texts) if settings_texts is not None else render_connector_settings(config)
            self._zone: str | None = None
            for role, text in list(texts.items()):   # DST-safe schedules (UseLocalTime)
                texts[role], zone = localize(config, text)
                self._zone = self._zone or zone
            shown = dict(texts)   # as configured; QuickFIX reads the compiled dictionaries (start-up time)
            texts = {role: use_compiled_dictionaries(text) for role, text in texts.items()}
            verified: dict[Role, fix.SessionSettings] = connector_session_settings(config, texts)
            # TLS sessions get SSL connectors of their own; backup hosts become SocketConnectHostN.
            self.transports = plan_transports(config, texts)
            self.settings: dict[Role, fix.SessionSettings] = (
                {role: build_session_settings(text) for role, text in self.transports.plain.items()}
                if self.transports.changed else verified)
        except ConfigError as exc:
            raise FixEngineError(f"invalid QuickFIX settings: {exc}") from exc
        self.settings_texts: dict[Role, str] = shown
        self._acceptor: fix.Acceptor | None = None
        self._initiator: fix.Initiator | None = None
        self._started = False
        self._retired: list[object] = []
        # Factories must outlive the acceptor/initiator: QuickFIX keeps raw pointers to them.
        self._factories: list[object] = []
        self._given_log_factory = log_factory
        # Connectors started by a reload (added sessions), each an engine of its own: QuickFIX C++
        # cannot add a session to a running connector.
        self._children: list[FixEngine] = []
        # The engine whose ThreadedSocketAcceptor serves the plain acceptor sessions now.
        self._acceptor_owner: FixEngine = self

    @property
    def settings_text(self) -> str:
        """Every connector's settings text, acceptor first (for logs and tests)."""
        return "\n".join(self.settings_texts.values())

    @property
    def has_acceptor_sessions(self) -> bool:
        return any(s.role is Role.ACCEPTOR for s in self.config.sessions)

    @property
    def has_initiator_sessions(self) -> bool:
        return any(s.role is Role.INITIATOR for s in self.config.sessions)

    def _factories_for(self, settings: fix.SessionSettings) -> tuple[object, object]:
        """(store factory, log factory) reading ``settings``: a factory looks each session up in
        the settings it was given, so every connector needs its own."""
        store: object
        if self.config.gateway.message_store == "file":
            store = fix.FileStoreFactory(settings)
        else:
            store = fix.MemoryStoreFactory()
        log_factory = self._given_log_factory or fix.FileLogFactory(settings)
        self._factories += [store, log_factory]
        return store, log_factory

    def start(self) -> None:
        """Create stores and logs, bind the acceptor port, start connecting initiators."""
        if self._started:
            return
        gw = self.config.gateway
        from gateway.fix.schedule_zone import use_process_zone

        use_process_zone(self._zone)
        Path(gw.log_dir).mkdir(parents=True, exist_ok=True)
        if gw.message_store == "file":
            Path(gw.message_store_dir).mkdir(parents=True, exist_ok=True)
        try:
            if Role.ACCEPTOR in self.settings:
                settings = self.settings[Role.ACCEPTOR]
                store, logs = self._factories_for(settings)
                self._acceptor = fix.ThreadedSocketAcceptor(self.application, store, settings, logs)
                self._acceptor.start()
            if Role.INITIATOR in self.settings:
                settings = self.settings[Role.INITIATOR]
                store, logs = self._factories_for(settings)
                self._initiator = fix.SocketInitiator(self.application, store, settings, logs)
                self._initiator.start()
            self.transports.start(self.application, gw.message_store, self._given_log_factory)
        except (fix.ConfigError, fix.RuntimeError) as exc:
            self._stop_quickfix(force=True)
            self.release()   # nothing can be sending through an engine that never started
            raise FixEngineError(f"FIX engine failed to start: {exc}") from exc
        self._started = True
        log.info("FIX engine started (%d sessions)", len(self.config.sessions))

    # -- reload: added sessions start without a restart ---------------------------------------------

    def _child(self, config: GatewayConfig, sessions: Sequence[SessionConfig]) -> FixEngine:
        return FixEngine(dataclasses.replace(config, sessions=tuple(sessions)), self.application,
                         log_factory=self._given_log_factory)

    def start_initiators(self, config: GatewayConfig, sessions: Sequence[SessionConfig]) -> None:
        """Start ``sessions`` (initiators of ``config``, plain or TLS) on a connector of their own."""
        if not sessions:
            return
        child = self._child(config, sessions)
        child.start()
        self._children.append(child)

    def stop_plain_acceptor(self, text: str, timeout: float = 3.0) -> list[SessionKey]:
        """First half of an acceptor rebuild (off the loop): Logout(58=``text``) to the partners
        logged on to the plain acceptor, then stop it (port closed). Returns who was logged on."""
        owner = self._acceptor_owner
        acceptor = owner._acceptor
        if acceptor is None:
            return []
        keys = [k for k, s in zip(owner.session_keys(), owner.config.sessions, strict=True)
                if s.role is Role.ACCEPTOR and s.transport is not Transport.TLS]
        bounced = [k for k in keys if _is_logged_on(k)]
        for key in bounced:
            session = fix.Session.lookupSession(session_id_of(key))
            if session is not None:
                session.logout(text)
        deadline = time.monotonic() + timeout
        while any(_is_logged_on(k) for k in bounced) and time.monotonic() < deadline:
            time.sleep(0.02)
        acceptor.stop(True)
        return bounced

    def replace_plain_acceptor(self, config: GatewayConfig) -> list[SessionKey]:
        """Second half: free the stopped acceptor (its sessions leave QuickFIX's registry, their
        stores are closed) and start one serving the plain acceptor sessions of ``config``. The
        file stores keep every MsgSeqNum: partners log on again where they left off.

        Call it with no message inside ``sendToTarget`` and none able to enter (outbox empty, on
        the loop thread, which is the only one queueing): a writer holding a session pointer
        while it is freed would be a use-after-free (see :meth:`release`)."""
        owner = self._acceptor_owner
        old = owner._acceptor
        owner._acceptor = None
        del old   # the last reference: QuickFIX's ~Acceptor deletes the sessions now
        sessions = [s for s in config.sessions
                    if s.role is Role.ACCEPTOR and s.transport is not Transport.TLS]
        if not sessions:
            return []
        child = self._child(config, sessions)
        child.start()
        self._children.append(child)
        self._acceptor_owner = child
        return child.session_keys()

    def session_keys(self) -> list[SessionKey]:
        return [SessionKey(s.begin_string, s.sender_comp_id, s.target_comp_id) for s in self.config.sessions]

    def logged_on(self) -> list[SessionKey]:
        """Sessions currently logged on."""
        result = []
        for key in self.session_keys():
            session = fix.Session.lookupSession(session_id_of(key))
            if session is not None and session.isLoggedOn():
                result.append(key)
        return result

    def stop(self, timeout: float = 5.0, reason: str = "Gateway shutting down") -> None:
        """Send Logout on every logged-on session, wait (at most ``timeout`` s) for the
        partners to answer, then stop the sockets; stores are closed and flushed by QuickFIX."""
        if not self._started:
            return
        self._started = False
        for child in self._children:
            child.stop(timeout, reason)
        for key in self.session_keys():
            session = fix.Session.lookupSession(session_id_of(key))
            if session is not None and session.isLoggedOn():
                session.logout(reason)   # QuickFIX sends the Logout on its next timer tick (<= 1 s)
        deadline = time.monotonic() + timeout
        while self.logged_on() and time.monotonic() < deadline:
            time.sleep(0.02)
        left = self.logged_on()
        if left:
            log.warning("stopping with sessions still logged on: %s", ", ".join(map(str, left)))
        self._stop_quickfix(force=True)
        log.info("FIX engine stopped")

    def release(self) -> None:
        """Free the stopped acceptor/initiator (their sessions, stores and logs, which are closed).

        Call it after :meth:`stop` and once ``QuickFixOutbox.close`` returned True (its writer
        threads ended): QuickFIX looks a session up and then uses it without holding its
        registry lock, so freeing sessions while a writer is inside ``sendToTarget`` would be
        a use-after-free. Until this
        runs, the sessions stay registered process-wide and a new engine with the same
        session IDs would not get its own.
        """
        for child in self._children:
            child.release()
        self._children.clear()
        self._retired.clear()
        self._factories.clear()   # only now: the freed connectors held raw pointers to them

    def _stop_quickfix(self, force: bool) -> None:
        # The stopped objects are kept, not dropped: see release().
        self._retired.extend(self.transports.stop(force))
        if self._initiator is not None:
            self._initiator.stop(force)
            self._retired.append(self._initiator)
            self._initiator = None
        if self._acceptor is not None:
            self._acceptor.stop(force)
            self._retired.append(self._acceptor)
            self._acceptor = None


def _is_logged_on(key: SessionKey) -> bool:
    session = fix.Session.lookupSession(session_id_of(key))
    return session is not None and bool(session.isLoggedOn())
