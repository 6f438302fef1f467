"""``plxtra-fix run --instance NAME [--standby]``: one instance's sessions, guarded by its lease.

The lease (``gateway/store/lease.py``, named after the instance) is taken before anything touches
state: an active start on a running lease fails at once naming the holder; a standby waits for it
to lapse. While serving, a :class:`~gateway.store.lease.LeaseKeeper` renews it; on loss the process
exits at once with code 3, without a Logout: another owner may already be serving the sessions,
and the store's fence (each commit checks the lease's epoch) keeps this one from writing meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import time
import uuid
from typing import Any

from gateway.config.model import GatewayConfig
from gateway.errors import GatewayError

__all__ = ["LEASE_LOST_EXIT", "InstanceError", "InstanceLease", "LeaseHeld", "restrict_to_instance"]

log = logging.getLogger("gateway.app.instance")

LEASE_LOST_EXIT = 3


class InstanceError(GatewayError):
    """``--instance`` cannot be used with this configuration (exit 2)."""


class LeaseHeld(GatewayError):
    """An active start found the instance's lease held by a running owner (exit 1)."""


def restrict_to_instance(config: GatewayConfig, name: str) -> GatewayConfig:
    """``config`` with only the sessions of instance ``name``; :class:`InstanceError` when the
    store is not PostgreSQL or the instance is not declared."""
    if config.gateway.store is None:
        raise InstanceError("--instance needs gateway.store: postgresql://... (the lease and the "
                            "instance's state live there)")
    inst = config.instances.get(name) if config.instances.declared else None
    if inst is None:
        declared = ", ".join(config.instances.names) or "none"
        raise InstanceError(f"unknown instance {name!r} (declared in instances: {declared})")
    members = set(inst.sessions)
    return dataclasses.replace(config, sessions=tuple(s for s in config.sessions if s.name in members))


def _name_store_connections(lease: Any) -> None:
    # QuickFIX's PostgreSQL message store knows nothing of the lease: its connections (made after
    # this, when the engine starts) carry the term in application_name, and the trigger of
    # pg_schema/0004 refuses their writes once that term is no longer the valid one. Epoch first:
    # a name cut at PostgreSQL's 63 bytes then no longer matches the lease, and writes are refused.
    os.environ["PGAPPNAME"] = f"plxtra:{lease.epoch}:{lease.name}"


def _on_lost(name: str, reason: str) -> None:
    # No graceful stop: a Logout or a last report could reach a partner another owner already serves.
    log.critical("lease %s lost (%s): stopping at once, exit %d", name, reason, LEASE_LOST_EXIT)
    with contextlib.suppress(Exception):
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
    os._exit(LEASE_LOST_EXIT)


class InstanceLease:
    """The lease of one instance for one process: :meth:`acquire` (or wait for it with
    ``standby``), then :meth:`start_keeper`; :meth:`fence` goes to the store; :meth:`release` at stop."""

    def __init__(self, config: GatewayConfig, name: str, *, standby: bool = False) -> None:
        inst = config.instances.get(name)
        assert inst is not None and config.gateway.store is not None
        self.name = name
        self.ttl = inst.lease_ttl
        self.standby = standby
        self._conninfo = config.gateway.store.url
        self._where = config.gateway.store.redacted
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.keeper: Any = None   # gateway.store.lease.LeaseKeeper once serving
        self._task: asyncio.Task[str] | None = None
        self._lease: Any = None

    async def acquire(self) -> None:
        """Take the lease now (active) or when it lapses (standby); :class:`LeaseHeld` for an
        active start on a running lease."""
        import psycopg

        from gateway.store.lease import acquire_async, wait_and_acquire

        if self._lease is not None:
            return   # taken already (``run`` takes it before building the gateway)
        # The leases table comes with the store's schema: bring it up to date first (schema only,
        # no state; concurrent migrators wait on the migrator's advisory lock).
        await asyncio.to_thread(self._migrate)
        if self.standby:
            last: list[str | None] = [None]

            def waiting(row: Any) -> None:
                holder = row.owner if row is not None else None
                if holder != last[0]:   # one line per holder, not one per poll
                    last[0] = holder
                    log.warning("standby for instance %s: waiting for the lease held by %s (epoch %s, "
                                "expires %s)", self.name, holder, getattr(row, "epoch", "?"),
                                getattr(row, "expires_at", "?"))

            log.info("standby for instance %s: waiting for its lease (ttl %gs) in %s",
                     self.name, self.ttl, self._where)
            started = time.monotonic()
            self._lease = await wait_and_acquire(self._conninfo, self.name, self.owner, self.ttl,
                                                 on_wait=waiting)
            log.warning("standby for instance %s took over the lease (epoch %d) after %.1f s: starting",
                        self.name, self._lease.epoch, time.monotonic() - started)
            _name_store_connections(self._lease)
            return
        try:
            async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                got = await acquire_async(conn, self.name, self.owner, self.ttl)
                if got is None:
                    cur = await conn.execute("SELECT owner, epoch, expires_at FROM leases WHERE name = %s",
                                             (self.name,))
                    row = await cur.fetchone()
                    holder = f"{row[0]} (epoch {row[1]}, expires {row[2]})" if row else "another owner"
                    raise LeaseHeld(f"instance {self.name} is served by {holder}: start it with "
                                    "--standby to take over when that owner stops")
        except psycopg.Error as exc:
            raise GatewayError(f"lease of instance {self.name}: cannot reach {self._where}: "
                               f"{type(exc).__name__}") from None
        self._lease = got
        _name_store_connections(got)
        log.info("instance %s: lease taken (epoch %d, ttl %gs)", self.name, got.epoch, self.ttl)

    def start_keeper(self) -> None:
        """Renew every ttl/3 from now on; on loss the process exits (code 3) at once."""
        from gateway.store.lease import LeaseKeeper

        self.keeper = LeaseKeeper(self._conninfo, self._lease, on_lost=lambda why: _on_lost(self.name, why))
        self._task = asyncio.get_running_loop().create_task(self.keeper.run(), name=f"lease-{self.name}")
        # A process resumed after SIGSTOP must not answer whatever waited in its sockets before the
        # keeper's timer runs: a Python-level handler runs at the first bytecode after the wake,
        # before the loop dispatches any I/O callback.
        with contextlib.suppress(ValueError):   # not the main thread (tests running it in a thread)
            signal.signal(signal.SIGCONT, lambda _sig, _frame: self._check_deadline("resumed (SIGCONT)"))

    def _check_deadline(self, when: str) -> None:
        if self.keeper is not None and not self.keeper.still_valid():
            _on_lost(self.name, f"{when}: the local deadline of the lease has passed")

    def _migrate(self) -> None:
        import psycopg

        from gateway.store.pg_migrate import migrate

        try:
            with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise GatewayError(f"lease of instance {self.name}: cannot reach {self._where}: "
                               f"{type(exc).__name__}") from None

    async def acquire_interruptibly(self) -> bool:
        """:meth:`acquire` with SIGINT/SIGTERM ending a standby's wait; False when so ended."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, task.cancel)
                installed.append(sig)
        try:
            await self.acquire()
            return True
        except asyncio.CancelledError:
            log.info("standby for instance %s: stopped while waiting", self.name)
            return False
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def lock_state(self, lock: Any, bound: float | None = None) -> None:
        """Take the state lock, waiting up to ``bound`` (default 3 ttl) for it: holding the lease,
        a lock still held on this host is an old owner that has lost its lease and is exiting (or
        is stopped: it exits as soon as it runs again, before touching anything)."""
        from gateway.app.state_lock import StateLocked

        limit = time.monotonic() + (3 * self.ttl if bound is None else bound)
        told = False
        while True:
            try:
                lock.acquire()
                return
            except StateLocked as exc:
                if time.monotonic() >= limit:
                    raise
                if not told:
                    told = True
                    log.warning("instance %s: waiting for the old owner on this host to exit: %s",
                                self.name, exc)
            await asyncio.sleep(0.1)

    def fence(self, conn: Any) -> None:
        """The store calls it inside each commit: the lease must still be ours (local deadline, then
        the row's epoch under KEY SHARE so a takeover waits for this commit)."""
        from gateway.store.lease import LeaseLost, fence

        self._check_deadline("commit")   # past the deadline: exit before the database is even asked
        lease = self.keeper.lease if self.keeper is not None else self._lease
        try:
            fence(conn, lease)
        except LeaseLost as exc:
            _on_lost(self.name, exc.reason)

    async def release(self) -> None:
        """Clean stop: stop renewing and free the lease so a standby starts at its next try."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.keeper is not None:
            if await self.keeper.release():
                log.info("instance %s: lease released", self.name)
        elif self._lease is not None:
            import psycopg

            from gateway.store.lease import release_async

            with contextlib.suppress(psycopg.Error):
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await release_async(conn, self._lease)
        self._lease = None
