"""Where QuickFIX meets the asyncio loop: polled connectors driven on the loop thread, no threads.

QuickFIX's non-threaded connectors (``SocketAcceptor``, ``SocketInitiator`` and their SSL
twins) keep their sockets in a ``SocketMonitor`` and do all their work inside ``poll()``:
accept, read, parse, ``Session::next`` (hence ``fromApp``/``fromAdmin``/``onLogon``... on the
calling thread), write what a full socket could not take earlier. :class:`LoopDriver` calls
``poll()`` on the loop thread only when one of the connector's sockets is ready: after every
poll it asks the monitor which sockets it now waits on (``plx_connector_sockets``, compiled into
our QuickFIX build by ``deploy/build-quickfix-ssl.sh``) and brings ``loop.add_reader`` /
``add_writer`` in line with that (a diff). The monitor's own signal socket is among them: a
send that could not complete writes to it, so the loop wakes up and the next poll starts
waiting for writability. A timer (``TICK`` s) runs what an idle poll would run
(``plx_connector_timeout``: heartbeats, TestRequests, logon/logout time-outs, initiator
reconnects), because a poll that finds a socket ready skips it.

While QuickFIX runs inside a poll it holds session mutexes and is in the middle of
``Session::next``; :attr:`LoopDriver.busy` says so, so that sends wait for
:meth:`LoopDriver.after_poll` hooks (run right after the poll, in the same loop callback) rather
than re-entering QuickFIX from a callback. Every method runs on the loop thread.

Known limits of QuickFIX's polled connectors, which this module cannot change: the first
message of a new acceptor connection is read with a blocking wait of up to 1 s when it arrives
in pieces, and a TLS handshake completes inside one poll; the loop stalls for that long.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import logging
import threading
import weakref
from asyncio import _get_running_loop
from collections.abc import Callable
from typing import Any

import _quickfix  # type: ignore[import-not-found]
import quickfix as fix

__all__ = ["TICK", "ConnectorKind", "LoopDriver", "loop_is_current", "loop_is_current_or_idle",
           "loop_sockets_available", "queued_counter", "session_queued"]

log = logging.getLogger("gateway.fix.loop_driver")

TICK = 0.2   # s between idle-poll runs: QuickFIX's heartbeat and time-out checks work in seconds
_READ, _WRITE = 1, 2
_CAPACITY = 1024   # sockets per connector read at once (grown on demand)


_get_ident = threading.get_ident
_NO_THREAD_ID = object()


def loop_is_current(loop: asyncio.AbstractEventLoop) -> bool:
    """``asyncio._get_running_loop() is loop``: ``loop`` runs on this thread.

    Without its ``getpid()`` system call: Python 3.11 checks the process id on every call of
    ``_get_running_loop`` that finds a loop (against a fork), and the order path asked it five
    times per order (the FIX log twice, the hand-off and the outbox three times). asyncio's loops
    set ``_thread_id`` to the running thread's ident when ``run_forever`` starts and back to None
    when it ends, next to setting the running loop, so comparing it with this thread's ident is
    the same test; a loop without that attribute (another implementation) is asked the slow way.
    No process of the gateway forks with a running loop (subprocesses are spawned by exec)."""
    thread = getattr(loop, "_thread_id", _NO_THREAD_ID)
    if thread is _NO_THREAD_ID:
        return _get_running_loop() is loop
    return thread == _get_ident()


def loop_is_current_or_idle(loop: asyncio.AbstractEventLoop) -> bool:
    """``loop`` runs on this thread or does not run at all (``not loop.is_running()``): whoever
    calls then owns what the loop would (the outbox's test, on every send). One attribute read
    for asyncio's loops (see :func:`loop_is_current`)."""
    thread = getattr(loop, "_thread_id", _NO_THREAD_ID)
    if thread is _NO_THREAD_ID:
        return not loop.is_running() or _get_running_loop() is loop
    return thread is None or thread == _get_ident()


class ConnectorKind(enum.IntEnum):
    """Which C++ class a connector is (the accessors cast the pointer to it)."""

    SOCKET_ACCEPTOR = 0
    SOCKET_INITIATOR = 1
    SSL_SOCKET_ACCEPTOR = 2
    SSL_SOCKET_INITIATOR = 3


def _kind_of(connector: Any) -> ConnectorKind:
    # Exact classes: the threaded ones would be cast to the wrong C++ type.
    kinds = {fix.SocketAcceptor: ConnectorKind.SOCKET_ACCEPTOR,
             fix.SocketInitiator: ConnectorKind.SOCKET_INITIATOR,
             getattr(fix, "SSLSocketAcceptor", None): ConnectorKind.SSL_SOCKET_ACCEPTOR,
             getattr(fix, "SSLSocketInitiator", None): ConnectorKind.SSL_SOCKET_INITIATOR}
    kind = kinds.get(type(connector))
    if kind is None:
        raise TypeError(f"{type(connector).__name__} is not a polled QuickFIX connector")
    return kind


class _Accessors:
    """The extern "C" functions of deploy/quickfix-loop-sockets.cpp, through ctypes.

    ``PyDLL``: the calls are short and keep the GIL (ctypes' ``CDLL`` would drop and retake it).
    """

    def __init__(self, path: str | None = None) -> None:
        lib = ctypes.PyDLL(path or _quickfix.__file__)
        self.sockets = lib.plx_connector_sockets
        self.sockets.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.sockets.restype = ctypes.c_int
        self.timeout = self._per_connector(lib, "plx_connector_timeout")
        self.close = self._per_connector(lib, "plx_connector_close")
        self.dropped = self._per_connector(lib, "plx_connector_dropped")
        self.queued = lib.plx_session_queued
        self.queued.argtypes = [ctypes.c_void_p]
        self.queued.restype = ctypes.c_int

    @staticmethod
    def _per_connector(lib: ctypes.PyDLL, name: str) -> Any:
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn


_accessors: _Accessors | None = None


def _lib() -> _Accessors:
    global _accessors
    if _accessors is None:
        _accessors = _Accessors()
    return _accessors


def loop_sockets_available() -> bool:
    """Whether this quickfix has our accessors (``deploy/build-quickfix-ssl.sh``, ``ssl.plx3`` on)."""
    try:
        _lib()
    except (AttributeError, OSError):
        return False
    return True


def session_queued(session: fix.Session) -> int:
    """Messages waiting in ``session``'s polled connection (its partner's window was full); 0
    when it has no connection."""
    return max(0, _lib().queued(int(session.this)))


def queued_counter() -> Callable[[int], int]:
    """:func:`session_queued` by the session's C++ pointer (``int(session.this)``, kept by the
    caller while the session lives): the outbox asks it before every send, and converting the
    SWIG pointer each time cost as much as the call (negative: no connection)."""
    return _lib().queued


_ACCEPTORS = (ConnectorKind.SOCKET_ACCEPTOR, ConnectorKind.SSL_SOCKET_ACCEPTOR)


class _Connector:
    __slots__ = ("kind", "obj", "pointer", "poll", "watched")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.kind = _kind_of(obj)
        # Acceptor::poll / Initiator::poll without quickfix.py's wrapper frame (a poll per D read:
        # a Python frame costs several us with the cold caches of an order at 200/s)
        self.poll: Callable[[Any], object] = (_quickfix.Acceptor_poll if self.kind in _ACCEPTORS
                                              else _quickfix.Initiator_poll)
        self.pointer = int(obj.this)
        self.watched: dict[int, int] = {}   # fd -> _READ | _WRITE as registered with the loop


_drivers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopDriver] = weakref.WeakKeyDictionary()


class LoopDriver:
    """Polls QuickFIX connectors when their sockets are ready, on ``loop``'s thread.

    One driver per loop (:meth:`for_loop`), shared by every engine of the process that uses
    that loop, so there is one timer and one notion of "inside QuickFIX".
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = TICK) -> None:
        self.loop = loop
        self.tick = tick
        self._lib = _lib()
        self._connectors: list[_Connector] = []
        self._owner: dict[int, _Connector] = {}   # fd -> connector watching it
        self._depth = 0
        self._after: list[Callable[[], object]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._repoll: set[_Connector] = set()
        self._repoll_scheduled = False
        self._buffer = (ctypes.c_int * _CAPACITY)()
        self.polls = 0
        self.ticks = 0
        # Sockets watched for writability, every connector: a connection has bytes queued (its
        # partner's window was full) only while its socket is, from the first sync after the send
        # that queued them (QuickFIX signals its monitor then, which wakes the loop for a poll).
        self.writing = 0

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop) -> LoopDriver:
        driver = _drivers.get(loop)
        if driver is None:
            driver = _drivers[loop] = cls(loop)
        return driver

    @property
    def busy(self) -> bool:
        """True while QuickFIX runs (a poll, a timeout or a close) and may call back into Python."""
        return self._depth > 0

    def after_poll(self, hook: Callable[[], object]) -> None:
        """Run ``hook()`` after every poll, timeout and close (outside QuickFIX)."""
        self._after.append(hook)

    def add(self, connector: Any) -> None:
        """Start serving ``connector``: its first poll binds the acceptor ports or starts the
        initiators' connects (QuickFIX's ``ConfigError``/``RuntimeError`` propagate)."""
        entry = _Connector(connector)
        self._connectors.append(entry)
        try:
            self._poll(entry, raise_errors=True)
        except BaseException:
            self.remove(connector)
            raise
        if self._timer is None:
            self._timer = self.loop.call_later(self.tick, self._on_tick)

    def remove(self, connector: Any) -> None:
        """Stop watching ``connector``'s sockets (before ``stop()``: it closes its listening
        sockets without telling its monitor)."""
        for entry in [c for c in self._connectors if c.obj is connector]:
            self._connectors.remove(entry)
            self._repoll.discard(entry)
            for fd in list(entry.watched):
                self._unwatch(entry, fd)
        if not self._connectors and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close_connections(self, connector: Any) -> None:
        """Disconnect every session of ``connector`` and close all its connections (QuickFIX's
        ``stop()`` on a polled connector closes only the listening sockets)."""
        for entry in self._connectors:
            if entry.obj is connector:
                self._enter()
                try:
                    self._lib.close(entry.pointer, entry.kind)
                finally:
                    self._leave()
                self._sync(entry)
                self._run_after()

    def poll_all(self) -> None:
        """Poll every connector once (tests, and right after a Logout was asked for)."""
        for entry in list(self._connectors):
            self._poll(entry)

    def timeout_all(self) -> None:
        """Run the idle-poll work of every connector now (e.g. send a requested Logout)."""
        for entry in list(self._connectors):
            self._timeout(entry)

    @property
    def watched(self) -> dict[int, int]:
        """fd -> 1 (read) | 2 (write) of every socket registered with the loop (for tests)."""
        return {fd: mode for c in self._connectors for fd, mode in c.watched.items()}

    # -- QuickFIX calls --------------------------------------------------------------------------

    def _enter(self) -> None:
        self._depth += 1

    def _leave(self) -> None:
        self._depth -= 1

    def _poll(self, entry: _Connector, raise_errors: bool = False) -> None:
        if self._depth:
            # A callback inside QuickFIX asked for a poll: QuickFIX refuses to re-enter (and
            # must not); poll once this one returned.
            self._later(entry)
            return
        self._enter()
        try:
            entry.poll(entry.obj)
        except (fix.ConfigError, fix.RuntimeError):
            if raise_errors:
                raise
            log.exception("QuickFIX poll failed")
        finally:
            self._leave()
        self.polls += 1
        self._sync(entry)
        self._run_after()

    def _timeout(self, entry: _Connector) -> None:
        if self._depth:
            return
        self._enter()
        try:
            self._lib.timeout(entry.pointer, entry.kind)
        finally:
            self._leave()
        self._sync(entry)
        self._run_after()

    def _run_after(self) -> None:
        for hook in self._after:
            try:
                hook()
            except Exception:
                log.exception("after-poll hook failed")

    def _on_tick(self) -> None:
        self._timer = self.loop.call_later(self.tick, self._on_tick) if self._connectors else None
        self.ticks += 1
        for entry in list(self._connectors):
            self._timeout(entry)

    def _later(self, entry: _Connector) -> None:
        self._repoll.add(entry)
        if not self._repoll_scheduled:
            self._repoll_scheduled = True
            self.loop.call_soon(self._run_repolls)

    def _run_repolls(self) -> None:
        self._repoll_scheduled = False
        pending, self._repoll = self._repoll, set()
        for entry in pending:
            if entry in self._connectors:
                self._poll(entry)

    # -- loop registrations ------------------------------------------------------------------------

    def _wanted(self, entry: _Connector) -> dict[int, int]:
        while True:
            n = self._lib.sockets(entry.pointer, entry.kind, self._buffer, len(self._buffer))
            if n >= 0:
                break
            self._buffer = (ctypes.c_int * (2 * -n))()
        buffer = self._buffer
        return {buffer[i] >> 2: buffer[i] & 3 for i in range(n)}

    def _sync(self, entry: _Connector) -> None:
        """Make the loop watch exactly what the connector's monitor waits on."""
        wanted = self._wanted(entry)
        watched = entry.watched
        if wanted == watched:
            if self._lib.dropped(entry.pointer, entry.kind) > 0:
                self._later(entry)   # closed sockets: their connections are freed by a poll
            return
        for fd in [fd for fd in watched if fd not in wanted]:
            self._unwatch(entry, fd)
        for fd, mode in wanted.items():
            if watched.get(fd) != mode:
                # Re-registered from scratch: the fd may be a new socket that reused the number of
                # one closed since the last sync (epoll forgets closed ones; modify would fail).
                self._unwatch(entry, fd)
                owner = self._owner.get(fd)
                if owner is not None:
                    self._unwatch(owner, fd)
                self._watch(entry, fd, mode)
        if self._lib.dropped(entry.pointer, entry.kind) > 0:
            self._later(entry)

    def _watch(self, entry: _Connector, fd: int, mode: int) -> None:
        if mode & _READ:
            self.loop.add_reader(fd, self._poll, entry)
        if mode & _WRITE:
            self.loop.add_writer(fd, self._poll, entry)
            self.writing += 1
        entry.watched[fd] = mode
        self._owner[fd] = entry

    def _unwatch(self, entry: _Connector, fd: int) -> None:
        mode = entry.watched.pop(fd, 0)
        if mode & _WRITE:
            self.writing -= 1
        try:
            if mode & _READ:
                self.loop.remove_reader(fd)
            if mode & _WRITE:
                self.loop.remove_writer(fd)
        except OSError:
            # Closed since: the selector could not narrow the registration of a dead fd, and
            # has dropped it altogether (which is what we want).
            self.loop.remove_writer(fd)
        if self._owner.get(fd) is entry:
            del self._owner[fd]
