"""Lifecycle of the QuickFIX engine: acceptor and initiator sessions built from the config.

:class:`FixEngine` owns QuickFIX's polled connectors (``SocketAcceptor``, ``SocketInitiator``,
and ``SSLSocketAcceptor``/``SSLSocketInitiator`` for TLS sessions), which the asyncio loop
drives on its own thread (:mod:`gateway.fix.loop_driver`): no QuickFIX thread exists. It also
owns the message store (file or memory) and the ``FileLog`` (the usual QuickFIX layout:
``<log_dir>/<BeginString>-<Sender>-<Target>.messages.current.log`` and
``.event.current.log``). Settings come from ``gateway.config.quickfix_settings``, one
``SessionSettings`` per connector holding only that connector's sessions (an acceptor reads
``SocketAcceptPort`` of every session it is given), each with its own store and log factories.

Start, stop and the reload steps run on the loop thread; called from another thread they are
handed to the loop and waited for (the loop must then be running).

QuickFIX binds its acceptor socket on every interface (it has no accept-host setting); the
settings renderer restricts acceptor sessions to ``AllowedRemoteAddresses=127.0.0.1`` when
the configured listen host is a loopback address.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from asyncio import _get_running_loop
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import quickfix as fix

from gateway.config.model import GatewayConfig, Role, SessionConfig, Transport
from gateway.fix.convert import DictionaryCache, MessageDictionaries, session_id_of
from gateway.fix.errors import FixEngineError
from gateway.fix.handoff import forget_sessions
from gateway.fix.loop_driver import LoopDriver, loop_sockets_available
from gateway.fix.message_store import message_store_factory
from gateway.vocab.records import SessionKey

_T = TypeVar("_T")

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
    """QuickFIX acceptor + initiator for one gateway config, driven by ``loop``. ``start`` and
    ``stop`` from the loop thread or any other (``stop`` waits for logouts: from the loop thread
    use :meth:`stop_async`)."""

    def __init__(self, config: GatewayConfig, application: fix.Application,
                 settings_texts: Mapping[Role, str] | None = None, log_factory: object | None = None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        """``settings_texts`` (default: rendered from ``config``) is one text per connector role.
        ``log_factory`` replaces QuickFIX's FileLogFactory (``gateway.ops.fixlog``: masking,
        rotation, session events). ``loop`` (default: the application's ``loop``) polls QuickFIX."""
        from gateway.config.errors import ConfigError
        from gateway.config.quickfix_settings import (
            build_session_settings,
            connector_session_settings,
            render_connector_settings,
        )
        from gateway.fix.schedule_zone import localize
        from gateway.fix.transport import plan_transports
        from gateway.vocab.dictionary import use_compiled_dictionaries

        self.config = config
        self.application = application
        self._loop: asyncio.AbstractEventLoop | None = loop or getattr(application, "loop", None)
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
        self._tls: list[Any] = []   # SSL acceptor/initiators
        self._stopped_plain: Any = None   # between the two halves of an acceptor rebuild
        self._driver: LoopDriver | None = None
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
        # Plain connectors constructed by build() and not started yet (see build()).
        self._built: dict[Role, Any] | None = None
        self._build_error: BaseException | None = None
        self._build_lock = threading.Lock()

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
        # With postgresql each session's store connects and reads its numbers when the connector
        # creates it: the caller has the instance lease by then (gateway/app/cli_run.py).
        store = message_store_factory(self.config.gateway, settings)
        log_factory = self._given_log_factory or fix.FileLogFactory(settings)
        self._factories += [store, log_factory]
        return store, log_factory

    # -- running on the loop ------------------------------------------------------------------------

    def _off_loop(self) -> bool:
        """True when called from a thread other than the running loop's (hand the work over)."""
        loop = self._loop
        return loop is not None and loop.is_running() and _get_running_loop() is not loop

    def _call_on_loop(self, fn: Callable[[], _T], timeout: float = 30.0) -> _T:
        if not self._off_loop():
            return fn()

        async def call() -> _T:
            return fn()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def _wait_on_loop(self, make: Callable[[], Coroutine[Any, Any, _T]], timeout: float) -> _T:
        """Run a coroutine on the loop and wait for it (from another thread, or with the loop
        not running)."""
        assert self._loop is not None
        if self._off_loop():
            return asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout)
        return self._loop.run_until_complete(make())

    def _connectors(self) -> list[Any]:
        return [c for c in (self._acceptor, self._initiator, *self._tls) if c is not None]

    # -- lifecycle ------------------------------------------------------------------------------------

    def build(self) -> None:
        """Construct the plain acceptor and initiator without starting them: QuickFIX parses the
        data dictionaries and creates the sessions (stores, logs, ``onCreate``) here, which is
        most of the engine's start-up (FIX 5.0SP2: ~0.4 s), and binds or connects nothing.

        Safe from a worker thread, so that start-up can do other work meanwhile: the binding
        releases the GIL inside QuickFIX's C++, and nothing else touches these connectors until
        :meth:`start`. Call :meth:`use_zone` on the loop thread first (it changes the process's
        time zone). Once; :meth:`start` builds whatever was not built. Errors surface in
        :meth:`start`.
        """
        with self._build_lock:
            if self._built is not None or self._build_error is not None:
                return
            built: dict[Role, Any] = {}
            try:
                if Role.ACCEPTOR in self.settings:
                    settings = self.settings[Role.ACCEPTOR]
                    store, logs = self._factories_for(settings)
                    built[Role.ACCEPTOR] = fix.SocketAcceptor(self.application, store, settings, logs)
                if Role.INITIATOR in self.settings:
                    settings = self.settings[Role.INITIATOR]
                    store, logs = self._factories_for(settings)
                    built[Role.INITIATOR] = fix.SocketInitiator(self.application, store, settings, logs)
            except BaseException as exc:
                self._build_error = exc
                for connector in built.values():
                    self._retired.append(connector)   # never started: freed by release()
                return
            self._built = built

    def use_zone(self) -> None:
        """Apply the sessions' schedule time zone to the process (before :meth:`build`)."""
        from gateway.fix.schedule_zone import use_process_zone

        use_process_zone(self._zone)

    def _take_built(self) -> dict[Role, Any]:
        self.build()
        with self._build_lock:
            error, built = self._build_error, self._built or {}
            self._build_error, self._built = None, {}
        if error is not None:
            raise error
        return built

    def start(self) -> None:
        """Create stores and logs, bind the acceptor port, start connecting initiators."""
        self._call_on_loop(self._start)

    def _start(self) -> None:
        if self._started:
            return
        if self._loop is None:
            raise FixEngineError("FIX engine needs an event loop (the application's loop)")
        gw = self.config.gateway
        from gateway.fix.transport import build_tls_connectors

        self.use_zone()
        Path(gw.log_dir).mkdir(parents=True, exist_ok=True)
        if gw.message_store == "file":
            Path(gw.message_store_dir).mkdir(parents=True, exist_ok=True)
        if not loop_sockets_available():
            raise FixEngineError("this quickfix cannot be driven from the event loop (no socket "
                                 "accessors): run deploy/build-quickfix-ssl.sh or ./dev.sh")
        self._driver = LoopDriver.for_loop(self._loop)
        try:
            built = self._take_built()   # constructed now, unless build() ran earlier
            if Role.ACCEPTOR in built:
                self._acceptor = built[Role.ACCEPTOR]
                self._driver.add(self._acceptor)   # its first poll binds the port
            if Role.INITIATOR in built:
                self._initiator = built[Role.INITIATOR]
                self._driver.add(self._initiator)   # its first poll starts the connects
            for connector in build_tls_connectors(self.transports, self.application, gw,
                                                  self._given_log_factory):
                self._tls.append(connector)
                self._driver.add(connector)
        except (fix.ConfigError, fix.RuntimeError) as exc:
            self._stop_quickfix()
            self.release()   # nothing can be sending through an engine that never started
            raise FixEngineError(f"FIX engine failed to start: {exc}") from exc
        self._started = True
        log.info("FIX engine started (%d sessions, polled on the loop)", len(self.config.sessions))

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
        """First half of an acceptor rebuild: Logout(58=``text``) to the partners logged on to
        the plain acceptor, then stop it (connections and port closed). Returns who was logged
        on. From a thread other than the loop's (it waits); on the loop use the async variant."""
        return self._wait_on_loop(lambda: self.stop_plain_acceptor_async(text, timeout), timeout + 10)

    async def stop_plain_acceptor_async(self, text: str, timeout: float = 3.0) -> list[SessionKey]:
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
        await owner._wait_logged_off(bounced, timeout)
        owner._stop_connector(acceptor)
        owner._stopped_plain = acceptor   # freed by replace_plain_acceptor
        return bounced

    def replace_plain_acceptor(self, config: GatewayConfig) -> list[SessionKey]:
        """Second half: free the stopped acceptor (its sessions leave QuickFIX's registry, their
        stores are closed) and start one serving the plain acceptor sessions of ``config``. The
        file stores keep every MsgSeqNum: partners log on again where they left off.

        Call it on the loop thread, outside any QuickFIX call (the outbox sends only from there)."""
        owner = self._acceptor_owner
        old = owner._stopped_plain
        owner._stopped_plain = None
        owner._retired = [r for r in owner._retired if r is not old]
        _destroy(old)   # QuickFIX's ~Acceptor deletes the sessions now
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
        partners to answer, then close every connection and the ports; stores are closed and
        flushed by QuickFIX. On the loop thread itself it cannot wait: the Logouts are sent and
        the connections closed at once (use :meth:`stop_async` there)."""
        if not self._started:
            return
        if self._loop is not None and _get_running_loop() is self._loop:
            log.warning("FixEngine.stop on the loop thread: not waiting for Logout answers")
            self._call_on_loop(lambda: self._stop_now(reason))
            return
        self._wait_on_loop(lambda: self.stop_async(timeout, reason), timeout + 10)

    async def stop_async(self, timeout: float = 5.0, reason: str = "Gateway shutting down") -> None:
        """:meth:`stop` on the loop thread."""
        if not self._started:
            return
        for child in self._children:
            await child.stop_async(timeout, reason)
        keys = self.logged_on()
        self._logout(keys, reason)
        await self._wait_logged_off(keys, timeout)
        self._stop_now(reason)

    def _logout(self, keys: Sequence[SessionKey], reason: str) -> None:
        for key in keys:
            session = fix.Session.lookupSession(session_id_of(key))
            if session is not None and session.isLoggedOn():
                session.logout(reason)
        if keys and self._driver is not None:
            self._driver.timeout_all()   # QuickFIX sends a requested Logout from its timer work

    async def _wait_logged_off(self, keys: Sequence[SessionKey], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(_is_logged_on(k) for k in keys) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def _stop_now(self, reason: str) -> None:
        if not self._started:
            return
        self._started = False
        for child in self._children:
            child._stop_now(reason)
        self._logout(self.logged_on(), reason)
        left = self.logged_on()
        if left:
            log.warning("stopping with sessions still logged on: %s", ", ".join(map(str, left)))
        self._stop_quickfix()
        log.info("FIX engine stopped")

    def release(self) -> None:
        """Free the stopped connectors (their sessions, stores and logs, which are closed).

        Call it after :meth:`stop`, on the loop thread or with the loop stopped. Until this runs,
        the sessions stay registered process-wide and a new engine with the same session IDs
        would not get its own.
        """
        for child in self._children:
            child.release()
        self._children.clear()
        with self._build_lock:   # a build still running (start-up failed meanwhile) ends first
            unstarted, self._built = list((self._built or {}).values()), None
        self._retired += unstarted
        for connector in self._retired:
            _destroy(connector)
        self._retired.clear()
        self._factories.clear()   # only now: the freed connectors held raw pointers to them
        self.transports.release()

    def _stop_connector(self, connector: Any) -> None:
        """Close every connection of ``connector``, stop watching it, close its ports."""
        if self._driver is not None:
            self._driver.close_connections(connector)
            self._driver.remove(connector)
        connector.stop(True)
        self._retired.append(connector)   # kept, not dropped: see release()
        if connector is self._acceptor:
            self._acceptor = None
        elif connector is self._initiator:
            self._initiator = None
        elif connector in self._tls:
            self._tls.remove(connector)

    def _stop_quickfix(self) -> None:
        for connector in self._connectors():
            try:
                self._stop_connector(connector)
            except Exception:
                log.exception("stopping a QuickFIX connector failed")


def _destroy(connector: Any) -> None:
    """Free a stopped connector now. Dropping our reference is not enough: a traceback kept by
    a log handler holds the loop driver's frames, whose locals reference the connector that
    was polled, and its sessions would then stay in QuickFIX's process-wide registry."""
    if connector is None or not connector.thisown:
        return
    destroy = type(connector).__swig_destroy__
    forget_sessions()   # the outbox keeps Session objects this deletes
    connector.thisown = False   # a proxy collected later must not free it a second time
    destroy(connector)


def _is_logged_on(key: SessionKey) -> bool:
    session = fix.Session.lookupSession(session_id_of(key))
    return session is not None and bool(session.isLoggedOn())
