"""The running gateway: one asyncio loop owning Zenith, the services and the FIX engine.

Start order: first the state lock (:mod:`gateway.app.state_lock`: one gateway per state
directory, taken before any state is read or written, released last at stop), then the
embedded simulator (when ``zenith.url`` is ``embedded``: a real ``SimServer`` on a loopback
port in this process, reached over a real WebSocket), the Zenith client, the store, the
services (``OrdersService``, ``MarketDataService``), and last the FIX engine, so no partner
can log on before the gateway can answer. The engine's connectors are constructed before the
simulator starts, on a worker thread (QuickFIX's data dictionary parse, most of start-up, runs
meanwhile with the GIL released), and started (port bound, initiators connecting) only last.
What the build needs is imported before it (this module imports nothing of the services, the
bridge or the Zenith client at module level); the services are imported while it runs.
Stop runs the same list backwards: Logouts are sent and answered first, then services close,
then the Zenith connection and the simulator. The embedded simulator keeps its state in a file
next to the gateway store (see :func:`embedded_sim_config`), so a restart keeps its orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway import stages
from gateway.app.state_lock import StateLock, gateway_state_directories
from gateway.config.model import GatewayConfig
from gateway.fix.engine import FixEngine, acceptor_reach, acceptor_warning, load_dictionaries
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.store.inbound_journal import JOURNALED, Journal, open_inbound_journal
from gateway.vocab.records import SessionKey

if TYPE_CHECKING:
    # Imported in _start once the engine's build runs: the services pull in the bridge, the
    # Zenith client and websockets, start-up time that can overlap QuickFIX's dictionary parse.
    from gateway.app.services import FixService, Outbox, ServiceRegistry

__all__ = ["EMBEDDED", "EMBEDDED_SIM_STATE", "Gateway", "GatewayContext", "ServiceFactory",
           "default_service_factories", "embedded_sim_config"]

log = logging.getLogger("gateway.app.runtime")

EMBEDDED = "embedded"
EMBEDDED_SIM_STATE = "embedded-sim.sqlite"   # next to the gateway store


@dataclass(slots=True)
class GatewayContext:
    """What a service factory may use to build its service (all owned by the Gateway)."""

    config: GatewayConfig
    client: Any                  # gateway.zenith.ZenithClient
    outbox: Outbox
    store: Any = None            # gateway.store, opened lazily by the orders factory
    closers: list[Callable[[], Any]] = field(default_factory=list)   # run at shutdown, last first
    instance: str | None = None  # --instance: the store's rows of that instance, fenced by its lease
    fence: Callable[[Any], None] | None = None


ServiceFactory = Callable[[GatewayContext], "FixService"]


def _orders_factory(ctx: GatewayContext) -> FixService:
    from gateway.app.orders_service import OrdersService, open_store

    if ctx.store is None:
        ctx.store = open_store(ctx.config, instance=ctx.instance, fence=ctx.fence)
    return OrdersService(ctx.client, ctx.outbox, ctx.config, ctx.store)


def _marketdata_factory(ctx: GatewayContext) -> FixService:
    from gateway.app.marketdata_service import MarketDataService

    return MarketDataService(ctx.client, ctx.outbox, ctx.config)


def embedded_sim_config(config: GatewayConfig) -> Any:
    """The embedded simulator's config: ``zenith.sim_config`` (default: seed data), with a state
    file next to the gateway store unless the sim config names one.

    The gateway's store outlives a restart, so the simulator behind it must too: with no state
    file a restarted simulator starts from seed data and every order the store still calls
    open is unknown to it (status says open, cancel is refused).
    """
    from gateway.sim.config import load_sim_config

    sim_cfg = load_sim_config(config.zenith.sim_config)
    if sim_cfg.state_path is not None:
        return sim_cfg
    store = config.gateway.store_path
    if not store.is_absolute() and config.path is not None:
        store = config.path.parent / store    # as open_store resolves it
    state = store.parent / EMBEDDED_SIM_STATE
    state.parent.mkdir(parents=True, exist_ok=True)
    return sim_cfg.with_overrides(state_path=state)


def default_service_factories() -> list[ServiceFactory]:
    """The production registration list: orders, then market data."""
    return [_orders_factory, _marketdata_factory]


class Gateway:
    """Owns every long-lived part; use ``await start()`` / ``await stop()`` or ``await run()``."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        services: Sequence[ServiceFactory] | None = None,
        zenith_url: str | None = None,
        lease: Any = None,
    ) -> None:
        self.config = config
        self._factories = list(default_service_factories() if services is None else services)
        self._zenith_url = zenith_url or config.zenith.url
        self.sim: Any = None
        self.client: Any = None
        self.ctx: GatewayContext | None = None
        self._journal: Journal | None = None   # the inbound journal, closed after the services
        self.outbox: QuickFixOutbox | None = None
        self.registry: ServiceRegistry | None = None
        self.engine: FixEngine | None = None
        self.ops: Any = None   # gateway.ops.runtime.Ops: metrics, session events, admin API
        self.state_lock: StateLock | None = None
        self.lease = lease   # gateway.app.instance.InstanceLease with --instance
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def zenith_url(self) -> str:
        """The URL actually used (the embedded simulator's once started)."""
        return self.sim.url if self.sim is not None else self._zenith_url

    @property
    def embedded(self) -> bool:
        return self._zenith_url == EMBEDDED

    async def start(self) -> None:
        """Bring everything up; on failure whatever was started is stopped again."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        sim_cfg = embedded_sim_config(cfg) if self.embedded else None
        # Before anything reads or writes state (the simulator's state file, the store and its
        # journal, QuickFIX's stores and logs): a second gateway must fail here, having touched nothing.
        # With --instance the lease comes first of all (a standby waits there).
        if self.lease is not None:
            await self.lease.acquire()
            self.lease.start_keeper()
        self.state_lock = StateLock(gateway_state_directories(
            cfg, sim_cfg.state_path if sim_cfg is not None else None))
        if self.lease is not None:
            await self.lease.lock_state(self.state_lock)
        else:
            self.state_lock.acquire()
        from gateway.ops.runtime import Ops

        self.ops = Ops(cfg, reload_config=self._reload_config if cfg.path is not None else None)
        # Before any socket exists: every callback and task of this gateway inherits the sink.
        stages.SINK.set(self.ops.metrics.stages)

        # The FIX side is put together first and its connectors are constructed on a worker thread
        # (QuickFIX parsing the data dictionaries: the biggest part of start-up, with the GIL
        # released) while this thread starts the simulator, Zenith and the services. Nothing is
        # bound or connected before engine.start() below, after the services, as before.
        dictionaries = load_dictionaries(cfg)
        # Above md_queue_limit the market-data service stops feeding a session and conflates;
        # the outbox bound leaves room on top of that for orders traffic.
        limit = max(2 * cfg.gateway.md_queue_limit, 20_000)
        self.outbox = QuickFixOutbox(dictionaries.get, loop, queue_limit=limit)
        # Before the services and the FIX engine: the orders service finds this journal (the file, or
        # the instance's table when the state is in PostgreSQL) by the store's path
        # (gateway.store.inbound_journal); opening the table applies the schema migrations, which
        # QuickFIX's PostgreSQL message store (created by the engine's build below) needs too.
        journal = await asyncio.to_thread(open_inbound_journal, cfg, instance=self.lease and self.lease.name)
        self._journal = journal
        # The services' registry is handed to the application below, before engine.start(): no
        # partner can reach a callback that needs it before then.
        app = GatewayApplication(cfg, None, loop, self.outbox, journal=journal,
                                 journal_types=JOURNALED, logon_gate=self.ops.logon_refusal)
        self.engine = FixEngine(cfg, app, log_factory=self.ops.log_factory)
        self.engine.use_zone()
        building = loop.run_in_executor(None, self.engine.build)
        try:
            from gateway.app.services import ServiceRegistry

            self.registry = ServiceRegistry(cfg, self.outbox)
            app.use_inbox(self.registry)
            await self._start_zenith_and_services(sim_cfg)
        finally:
            await asyncio.shield(building)   # never leave the thread inside QuickFIX (stop frees it)
        self.engine.start()
        self._log_acceptor_reach()
        await self.ops.start(self)

    async def _start_zenith_and_services(self, sim_cfg: Any) -> None:
        cfg = self.config
        assert self.outbox is not None and self.registry is not None
        if sim_cfg is not None:
            from gateway.sim.server import SimServer

            self.sim = SimServer(sim_cfg, host="127.0.0.1", port=0)
            await self.sim.start()
            log.info("embedded simulator at %s (state %s)", self.sim.url, sim_cfg.state_path)
        from gateway.zenith import ZenithClient

        ssl_context = None
        if cfg.zenith.ca is not None and self.zenith_url.startswith("wss://"):
            import ssl

            ssl_context = ssl.create_default_context(cafile=str(cfg.zenith.ca))   # verifies host and chain
        self.client = ZenithClient(self.zenith_url, cfg.zenith.token, auth_method=cfg.zenith.auth_method,
                                   request_timeout=cfg.zenith.request_timeout, ssl_context=ssl_context)
        if self.embedded or cfg.zenith.at_start == "fail":
            await self.client.start()
            log.info("connected to Zenith at %s", self.zenith_url)
        else:
            # Zenith down at start: serve anyway (orders are rejected with a clear Text and /readyz
            # says not ready) instead of exiting into a restart loop.
            await self.client.start_in_background()
            if self.client.connected:
                log.info("connected to Zenith at %s", self.zenith_url)

        self.ctx = GatewayContext(cfg, self.client, self.outbox, instance=self.lease and self.lease.name,
                                  fence=self.lease and self.lease.fence)
        for factory in self._factories:
            self.registry.register(factory(self.ctx))
        await self.registry.start()

    async def start_added_sessions(self, new: GatewayConfig, added: Sequence[str], *,
                                   bounce: bool = True) -> dict[str, list[str]]:
        """Start the sessions a reload added (loop thread). Services and the hand-off learn them
        first, so their first message finds its entitlements and limits. Initiators get a
        connector of their own, started live. Plain acceptor sessions need the acceptor rebuilt
        (QuickFIX C++ cannot add a session to a running one): with ``bounce`` its logged-on
        partners get a Logout, the acceptor is recreated with the new session list and they log
        on again with their sequence numbers kept; without it they wait for a restart. Added TLS
        acceptor sessions always wait for a restart (their SSL connector is built at start)."""
        from gateway.config.model import Role, Transport

        assert self.engine is not None and self.registry is not None and self.outbox is not None
        sessions = [s for s in new.sessions if s.name in set(added)]
        self.registry.use_config(new)
        self.engine.application.use_config(new)
        for service in self.registry.services:
            add = getattr(service, "add_sessions", None)
            if add is not None:
                add(sessions)
        initiators = [s for s in sessions if s.role is Role.INITIATOR]
        acceptors = [s for s in sessions if s.role is Role.ACCEPTOR and s.transport is not Transport.TLS]
        waiting = [s.name for s in sessions if s.role is Role.ACCEPTOR and (
            s.transport is Transport.TLS or not bounce)]
        await asyncio.to_thread(self.engine.start_initiators, new, initiators)
        started = [s.name for s in initiators]
        bounced: list[str] = []
        if acceptors and bounce:
            text = "Session list reloaded by the operator: log on again"
            keys = await asyncio.to_thread(self.engine.stop_plain_acceptor, text)
            names = {str(SessionKey(s.begin_string, s.sender_comp_id, s.target_comp_id)): s.name
                     for s in new.sessions}
            # Removed sessions were logged out for good above: not "bounced".
            bounced = [names[str(k)] for k in keys if str(k) in names]
            # The old acceptor's sessions are freed below: no writer may be inside QuickFIX then.
            # Off the loop until the outbox is empty, then on the loop (nothing can queue while
            # this runs) make sure of it and swap the acceptor.
            await asyncio.to_thread(self.outbox.drain, 5.0)
            if self.outbox.drain(2.0):
                raise RuntimeError("outbox not empty: acceptor not rebuilt, restart the gateway")
            self.engine.replace_plain_acceptor(new)
            started += [s.name for s in acceptors]
        self.config = new
        log.info("reload: started %s; bounced %s; waiting for a restart %s",
                 started or "none", bounced or "none", waiting or "none")
        return {"started": started, "bounced": bounced, "not_started": waiting}

    def _reload_config(self) -> GatewayConfig:
        from gateway.config.loader import load_config

        assert self.config.path is not None
        return load_config(self.config.path)

    def _log_acceptor_reach(self) -> None:
        log.info("%s", acceptor_reach(self.config))
        if warning := acceptor_warning(self.config):
            log.warning("%s", warning)

    async def stop(self) -> None:
        """Logouts, services, Zenith, store, simulator: each step bounded, none may block the next."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            if self.ops is not None:
                with _logged("admin API close"):
                    await self.ops.close()
            if self.outbox is not None:
                # What services already sent goes out before the Logouts (bounded wait).
                left = await asyncio.to_thread(self.outbox.drain, 2.0)
                if left:
                    log.warning("%d message(s) still queued when logging out", left)
            if self.engine is not None:
                # Waits for Logout answers while the loop keeps polling QuickFIX.
                await self.engine.stop_async()
            if self.registry is not None:
                await self.registry.close()
            if self.ctx is not None:
                for closer in reversed(self.ctx.closers):
                    with _logged("closer"):
                        result = closer()
                        if asyncio.iscoroutine(result):
                            await result
                if self.ctx.store is not None and hasattr(self.ctx.store, "close"):
                    with _logged("store close"):
                        self.ctx.store.close()
            if self._journal is not None:
                with _logged("inbound journal close"):
                    self._journal.close()
            if self.client is not None:
                with _logged("zenith close"):
                    await asyncio.wait_for(self.client.close(), 5.0)
            if self.sim is not None:
                with _logged("simulator stop"):
                    await asyncio.wait_for(self.sim.stop(), 5.0)
            released = True
            if self.outbox is not None:
                # Reports what never reached QuickFIX as unsent (there is no writer thread).
                released = self.outbox.close(5.0)
            if self.engine is not None:
                if released:
                    self.engine.release()
                    if self.ops is not None:
                        self.ops.close_logs()
                else:   # a writer may still be inside QuickFIX: leak rather than free under it
                    log.error("FIX engine not released: writer threads still running")
        finally:
            if self.state_lock is not None:
                self.state_lock.release()   # last: every state file is closed by now
            if self.lease is not None:
                with _logged("lease release"):
                    await self.lease.release()
            self._stopped.set()

    async def run(self, stop: asyncio.Event | None = None, *, handle_signals: bool = False,
                  ready: Callable[[Gateway], None] | None = None) -> None:
        """Start, call ``ready(self)``, wait for ``stop`` (or SIGINT/SIGTERM), then stop."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, stop.set)
                    installed.append(sig)
        try:
            await self.start()
            if ready is not None:
                ready(self)
            await stop.wait()
            log.info("stopping")
        finally:
            await self.stop()
            for installed_sig in installed:
                loop.remove_signal_handler(installed_sig)


@contextlib.contextmanager
def _logged(what: str):  # type: ignore[no-untyped-def]
    """Shutdown steps log their failure and let the next step run."""
    try:
        yield
    except Exception:
        log.exception("%s failed during shutdown", what)
