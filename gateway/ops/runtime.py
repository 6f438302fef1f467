"""Wiring of the operations part into a running gateway (built by ``gateway.app.runtime``).

:class:`Ops` exists from the start of ``Gateway._start``: its QuickFIX log factory and its logon
gate must be handed to the FIX engine and the hand-off before any partner connects. Once every
part is up, :meth:`Ops.start` reads what it reports from them (outbox backlog, services,
Zenith client, store) and, when the config has an ``admin:`` section, serves the admin API.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gateway.config.model import GatewayConfig
from gateway.ops.control import OrdersControl, SessionControl, key_of_session
from gateway.ops.events import SessionWatch
from gateway.ops.fixlog import GatewayLogFactory
from gateway.ops.metrics import GatewayMetrics, LiveSources
from gateway.ops.metrics_stages import time_answers
from gateway.vocab.records import SessionKey

__all__ = ["Ops"]

log = logging.getLogger("gateway.ops")


class Ops:
    """Metrics, session events, QuickFIX logs, the control actions and the admin API."""

    def __init__(self, config: GatewayConfig, *,
                 reload_config: Callable[[], GatewayConfig] | None = None) -> None:
        self.config = config
        self.sources = LiveSources()
        self.metrics = GatewayMetrics(self.sources)
        names = {f"{s.begin_string}:{s.sender_comp_id}->{s.target_comp_id}": s.name for s in config.sessions}
        self.watch = SessionWatch(names, self.metrics)
        quiet = frozenset(s.session_key_text for s in config.sessions if not s.log_messages)
        self.log_factory = GatewayLogFactory(config.gateway.log_dir, config.gateway.logs, self.watch, quiet)
        self.control = SessionControl(config, self.watch, self.metrics, reload_config=reload_config)
        self.server: Any = None
        self._gateway: Any = None

    # -- the logon gate (QuickFIX callbacks) ------------------------------------------------------

    def logon_refusal(self, key: SessionKey) -> str | None:
        return self.control.logon_refusal(key)

    # -- readiness --------------------------------------------------------------------------------

    def readiness(self) -> dict[str, tuple[bool, str]]:
        gw = self._gateway
        parts: dict[str, tuple[bool, str]] = {}
        if gw is None:
            return {"gateway": (False, "starting")}
        client = gw.client
        parts["zenith"] = ((True, f"connected to {gw.zenith_url}") if client is not None and client.connected
                           else (False, f"not connected to {gw.zenith_url}"))
        store = gw.ctx.store if gw.ctx is not None else None
        parts["store"] = (True, str(getattr(store, "path", "open"))) if store is not None else (
            (False, "not open") if _has_orders(gw) else (True, "no orders service"))
        engine = gw.engine
        started = engine is not None and bool(getattr(engine, "_started", False))
        if engine is not None and engine.has_acceptor_sessions:
            port = gw.config.gateway.listen_port
            parts["fix_acceptor"] = (True, f"listening on port {port}") if started else (False, "not started")
        if engine is not None and engine.has_initiator_sessions:
            parts["fix_initiator"] = (True, "started") if started else (False, "not started")
        if gw._stopping:
            parts["gateway"] = (False, "stopping")
        return parts

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, gateway: Any) -> None:
        """Attach to the running ``gateway`` (its parts exist now) and serve the admin API."""
        self._gateway = gateway
        self._attach(gateway)
        admin = self.config.admin
        if admin.enabled:
            from gateway.ops.http import AdminServer, build_app

            app = build_app(admin, self.control, self.metrics, self.readiness)
            self.server = AdminServer(admin, app)
            await self.server.start()

    def _attach(self, gw: Any) -> None:
        c, s = self.control, self.sources
        c.outbox = gw.outbox
        services = gw.registry.services if gw.registry is not None else ()
        for service in services:
            if isinstance(service, OrdersControl):
                c.orders = service
            state = getattr(service, "state", None)
            if state is not None and hasattr(state, "requests"):
                c._md_requests = _md_counter(state)
                s.md_requests = functools.partial(self._md_requests, state)
                s.md_conflations = functools.partial(self._md_conflations, state)
        c.start_added = gw.start_added_sessions

        def sessions() -> Iterable[Any]:
            return c.config.sessions   # the list after the last reload

        s.logged_on = lambda: self._logged_on(sessions())
        s.disabled = lambda: c.disabled
        if gw.outbox is not None:
            s.backlog = lambda: ((x.name, gw.outbox.backlog(key_of_session(x))) for x in sessions())
        client = gw.client
        if client is not None:
            s.zenith_connected = lambda: client.connected
            s.zenith_reconnects = lambda: client.reconnects
            s.zenith_subscriptions = lambda: len(client._core.topics())
            # One wrapper for the request timing and the stage marking of each answer.
            time_answers(client, self.metrics.zenith_request)

    def _logged_on(self, sessions: Iterable[Any]) -> Iterable[tuple[str, bool]]:
        import quickfix as fix

        from gateway.fix.convert import session_id_of

        for x in sessions:
            session = fix.Session.lookupSession(session_id_of(key_of_session(x)))
            yield x.name, bool(session is not None and session.isLoggedOn())

    def _md_requests(self, state: Any) -> Iterable[tuple[str, int]]:
        return self._per_name(_md_by_key(state))

    def _md_conflations(self, state: Any) -> Iterable[tuple[str, int]]:
        return self._per_name((k, q.conflations) for k, q in list(state.queues.items()))

    def _per_name(self, pairs: Iterable[tuple[SessionKey, int]]) -> Iterable[tuple[str, int]]:
        for key, value in pairs:
            yield self.control.name_of_key(key) or str(key), value

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    def close_logs(self) -> None:
        """After the FIX engine is released: close the QuickFIX log files."""
        self.log_factory.close()


def _has_orders(gw: Any) -> bool:
    services = gw.registry.services if gw.registry is not None else ()
    return any(isinstance(s, OrdersControl) for s in services)


def _md_by_key(state: Any) -> Iterable[tuple[SessionKey, int]]:
    counts: dict[SessionKey, int] = {}
    for session, _ in list(state.requests):
        counts[session] = counts.get(session, 0) + 1
    return counts.items()


def _md_counter(state: Any) -> Callable[[SessionKey], int]:
    def count(key: SessionKey) -> int:
        return sum(1 for session, _ in list(state.requests) if session == key)
    return count
