"""THE hand-off between QuickFIX's threads and the asyncio loop (see STYLE.md, "fix").

Inbound: :class:`GatewayApplication` (the ``quickfix.Application``) copies each application
message into an :class:`InboundMessage` and schedules ``inbox.dispatch(record)`` on the loop
with ``loop.call_soon_threadsafe``; it never blocks and never waits for the loop, because
QuickFIX holds the session mutex around these callbacks.

Outbound: :class:`QuickFixOutbox` keeps a bounded FIFO per session; ``send`` only appends
(the loop never blocks) and a writer thread builds the ``quickfix.Message`` and calls
``quickfix.Session.sendToTarget``. With the threaded acceptor that call writes to a blocking
socket while holding the session mutex, so a partner that stops reading blocks whichever
thread sends to it. One shared writer serves all sessions (a thread per session costs ~1.7x
the CPU in GIL hand-overs); a watchdog moves the other sessions to a fresh writer as soon as
one send hangs, so the slow partner delays only itself. ``backlog(session)`` says how far a
session is behind (the market-data service conflates on it); ``on_sent`` callbacks come back
on the loop in batches. Threads between QuickFIX and the loop exist only in this module.

Every callback is guarded: the SWIG binding calls ``Py_Exit(1)`` for any Python exception
other than the few FIX ones it translates (``director:except`` in quickfix.i), which would
kill every session of the process. Those allowed exceptions pass on purpose (they are how
QuickFIX rejects at session level); anything else is logged with session, MsgSeqNum and
ClOrdID and answered with a BusinessMessageReject (35=j) queued for the loop to send.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from asyncio import _get_running_loop
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import quickfix as fix

from gateway.config.model import GatewayConfig, Role, SessionConfig
from gateway.failpoints import crash_point
from gateway.fix.convert import (
    Dictionaries,
    invalid_text_tag,
    key_of,
    record_from_text,
    session_id_of,
    to_quickfix,
)
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.rejects import BusinessRejectReason, business_reject, ref_id_of
from gateway.vocab.wire import split_fields

__all__ = ["GatewayApplication", "Inbox", "QuickFixOutbox"]

log = logging.getLogger("gateway.fix.handoff")

# Exceptions the binding translates into QuickFIX's C++ exceptions, per callback.
_FROM_APP_ALLOWED = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue,
                     fix.UnsupportedMessageType)
_FROM_ADMIN_ALLOWED = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue, fix.RejectLogon)
_TO_APP_ALLOWED = (fix.DoNotSend,)

_USERNAME, _PASSWORD, _RESET_SEQ_NUM_FLAG, _HEART_BT_INT = 553, 554, 141, 108
_DRAIN_BATCH = 256   # inbound records dispatched per loop callback before yielding


class Inbox(Protocol):
    """What the loop side offers the hand-off (``gateway.app.services.ServiceRegistry``)."""

    handled_types: frozenset[str]

    def dispatch(self, msg: InboundMessage) -> None: ...

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


@dataclass(frozen=True, slots=True)
class _Logout:
    text: str




# A send that has not returned after this long means the partner's TCP window is full (or the
# disk stalls): the shared writer is handed to a fresh thread and the slow one keeps that session.
DETACH_AFTER = 0.02
_WATCH_EVERY = 0.005
_WATCH_IDLE = 0.02


class _Lane:
    """One session's FIFO of items and its counters.

    ``puts`` and ``items`` change under the outbox lock; ``done`` only on the thread that owns
    the lane right now (one at a time), so ``backlog = puts - done`` is never negative and
    counts the message in hand (off the FIFO, not yet accepted by QuickFIX) as queued.
    """

    __slots__ = ("done", "failed", "items", "key", "owner", "puts", "scheduled", "sent", "session_id",
                 "unsent")

    def __init__(self, key: SessionKey, owner: _Worker) -> None:
        self.key = key
        self.session_id = session_id_of(key)
        self.items: deque[object] = deque()
        self.owner = owner
        self.scheduled = False   # in its owner's ready queue, or being worked on
        self.puts = 0
        self.done = 0
        self.sent = 0     # accepted by QuickFIX
        self.failed = 0   # refused by QuickFIX or raised
        self.unsent = 0   # discarded at close


class _Worker:
    """A writer thread. The *shared* worker serves every session; one caught in a slow send is
    detached by the watchdog: it keeps that session alone until its FIFO is empty, then ends."""

    __slots__ = ("current", "detached", "outbox", "ready", "since", "stopping", "thread", "wake")

    def __init__(self, outbox: QuickFixOutbox, name: str) -> None:
        self.outbox = outbox
        self.ready: deque[_Lane] = deque()
        self.wake = threading.Condition(outbox._lock)
        self.current: _Lane | None = None   # lane whose message is inside sendToTarget
        self.since = 0.0
        self.detached = False
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        outbox = self.outbox
        lock = outbox._lock
        while True:
            with lock:
                while not self.ready and not self.stopping:
                    self.wake.wait()
                if not self.ready:
                    return
                lane = self.ready.popleft()
                n = min(len(lane.items), _SEND_BATCH)
                batch = [lane.items.popleft() for _ in range(n)]
            for item in batch:
                self.since = time.monotonic()
                self.current = lane
                try:
                    outbox._handle(lane, item)
                finally:
                    self.current = None
                    lane.done += 1
            with lock:
                if lane.items:
                    self.ready.append(lane)   # round robin: other sessions go first
                else:
                    lane.scheduled = False
                    if self.detached:   # its slow session is caught up: back to the shared writer
                        lane.owner = outbox._shared
                if lane.done == lane.puts:
                    outbox._idle.notify_all()
                if self.detached and not self.ready:
                    outbox._workers.discard(self)
                    return


_SEND_BATCH = 64   # messages of one session sent before the next session's turn


class QuickFixOutbox:
    """Sends records through QuickFIX without ever blocking the caller (the loop).

    ``send`` appends the record to its session's FIFO (per-session order is kept) and returns;
    a writer thread builds the ``quickfix.Message`` and calls ``sendToTarget``. Normally one
    *shared* writer serves every session, round robin: one thread, so the GIL is not fought
    over by a thread per session (measured: ~1.7x the CPU with 10 sessions). A watchdog
    detaches the shared writer from a session whose send has not returned within
    ``DETACH_AFTER`` (a partner whose TCP window is full): that thread stays with the slow
    session, a new shared writer takes the others. So a slow partner delays only itself (the
    others once, by at most ``DETACH_AFTER`` plus a watchdog tick).

    ``on_sent(ok)`` runs on the loop: True once QuickFIX accepted the message (MsgSeqNum
    assigned, message stored), False when it refused it, when the send raised, when the
    session's FIFO was full (``queue_limit``) or the outbox closed first. A message for a
    session that is not logged on is numbered and stored by QuickFIX (sent on the partner's
    ResendRequest, as FIX requires): True, unless a sequence reset is pending for that session
    (ResetOnLogon etc.), when QuickFIX refuses it: False.

    ``dictionaries`` gives the data dictionaries of a session (for repeating groups).
    Shutdown: :meth:`drain` (wait for the FIFOs to empty, before the engine logs out), then
    :meth:`close` after the engine stopped (what is still queued is reported unsent).
    """

    def __init__(self, dictionaries: Callable[[SessionKey], Dictionaries | None],
                 loop: asyncio.AbstractEventLoop | None = None, queue_limit: int = 50_000) -> None:
        self._dictionaries = dictionaries
        self._loop = loop
        self.queue_limit = queue_limit
        self._builders: dict[SessionKey, Dictionaries | None] = {}
        self._lanes: dict[SessionKey, _Lane] = {}
        self._lock = threading.Lock()   # lanes' FIFOs and ownership, workers' ready queues
        self._idle = threading.Condition(self._lock)
        self._workers: set[_Worker] = set()
        self._shared: _Worker | None = None
        self._watchdog: threading.Thread | None = None
        self._stop_watch = threading.Event()
        self._spawned = 0
        self.detached = 0   # times a slow session got a writer of its own
        self._closed = False
        self._to_wake: set[_Worker] = set()   # woken at the end of this loop iteration
        self._flush_scheduled = False
        # on_sent callbacks wait here for the loop; one wake-up runs a burst (as GatewayApplication).
        self._completions: deque[tuple[Callable[[bool], object], bool]] = deque()
        self._wake_scheduled = False
        self.refused = 0     # never queued: queue full or outbox closed
        # Sessions with a logout() queued or in progress, re-enabled once they disconnect
        # (QuickFIX's Session::logout also disables the session: see _do_logout).
        self._logging_out: set[SessionKey] = set()
        self._logout_lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop ``on_sent`` callbacks run on (set before the first send with a callback)."""
        self._loop = loop

    # -- caller side (any thread; in practice the loop) --------------------------------------------

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None:
        """Queue ``msg`` for its session; returns at once."""
        if self._closed:
            self.refused += 1
            log.warning("outbox closed: %s on %s not sent", msg.msg_type, msg.session)
        elif self._put(msg.session, (msg, on_sent), self.queue_limit):
            return
        else:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("send queue of %s full (%d): %s not sent (%d refused so far)",
                            msg.session, self.queue_limit, msg.msg_type, self.refused)
        if on_sent is not None:
            self._complete(on_sent, False)

    def backlog(self, session: SessionKey) -> int:
        """Messages queued for ``session`` and not yet accepted by QuickFIX."""
        lane = self._lanes.get(session)
        return lane.puts - lane.done if lane is not None else 0

    def logout(self, session: SessionKey, text: str = "") -> None:
        """Log ``session`` out with Logout Text(58) ``text`` after what is already queued for it.

        QuickFIX sends the Logout on its next timer tick and disconnects when it is answered
        (or after LogoutTimeout).
        """
        if self._closed:
            return
        with self._logout_lock:
            if session in self._logging_out:
                return   # one Logout per episode: a burst of over-limit messages asks many times
            self._logging_out.add(session)
        self._put(session, _Logout(text), None)

    def total_backlog(self) -> int:
        return sum(lane.puts - lane.done for lane in list(self._lanes.values()))

    def drain(self, timeout: float) -> int:
        """Block until every FIFO is empty (at most ``timeout`` s); returns what is still queued.
        Call it off the loop: ``on_sent`` callbacks need the loop to run."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while (left := self.total_backlog()) and (wait := deadline - time.monotonic()) > 0:
                self._idle.wait(min(wait, 0.1))
        return left

    def close(self, timeout: float = 5.0) -> bool:
        """Refuse new sends, report what is still queued as unsent (``on_sent(False)``), stop the
        writers. True when every writer thread ended, i.e. nothing can be inside QuickFIX any
        more and the engine may be released."""
        self._closed = True
        self._stop_watch.set()
        with self._lock:
            workers = list(self._workers)
            for worker in workers:
                worker.stopping = True
                worker.wake.notify()
        deadline = time.monotonic() + timeout
        if self._watchdog is not None:
            self._watchdog.join(max(0.0, deadline - time.monotonic()))
        stuck = []
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():
                stuck.append(worker.thread.name)
        for lane in list(self._lanes.values()):
            if lane.unsent:
                log.warning("%d message(s) for %s not sent: gateway shutting down", lane.unsent, lane.key)
        if stuck:
            log.error("writers still inside QuickFIX after %.1f s: %s", timeout, ", ".join(stuck))
        return not stuck

    @property
    def sent(self) -> int:
        """Messages QuickFIX accepted."""
        return sum(lane.sent for lane in list(self._lanes.values()))

    @property
    def failed(self) -> int:
        """Messages QuickFIX refused or that raised."""
        return sum(lane.failed for lane in list(self._lanes.values()))

    @property
    def unsent(self) -> int:
        """Messages discarded at close."""
        return sum(lane.unsent for lane in list(self._lanes.values()))

    @property
    def writer_threads(self) -> int:
        """Writer threads alive: the shared one plus one per session detached as slow."""
        with self._lock:
            return len(self._workers)

    def _put(self, key: SessionKey, item: object, limit: int | None) -> bool:
        lane = self._lanes.get(key) or self._new_lane(key)
        # asyncio._get_running_loop: the documented low-level variant that returns None off a loop.
        on_loop = self._loop is not None and _get_running_loop() is self._loop
        with self._lock:
            if limit is not None and lane.puts - lane.done >= limit:
                return False
            lane.puts += 1
            lane.items.append(item)
            if lane.scheduled:
                return True
            lane.scheduled = True
            owner = lane.owner
            owner.ready.append(lane)
            if not on_loop:
                owner.wake.notify()
                return True
        # On the loop, wake the writer once at the end of this iteration rather than per
        # message: it then does not fight the still-producing loop for the GIL.
        self._to_wake.add(owner)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._wake_writers)   # type: ignore[union-attr]
        return True

    def _wake_writers(self) -> None:
        self._flush_scheduled = False
        workers, self._to_wake = self._to_wake, set()
        with self._lock:
            for worker in workers:
                worker.wake.notify()

    def _new_lane(self, key: SessionKey) -> _Lane:
        dictionaries = self._dictionaries(key)   # outside the lock: may parse an XML file
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                self._builders[key] = dictionaries
                if self._shared is None:
                    self._shared = self._spawn()
                    self._watchdog = threading.Thread(target=self._watch, name="fix-writer-watchdog",
                                                      daemon=True)
                    self._watchdog.start()
                lane = self._lanes[key] = _Lane(key, self._shared)
            return lane

    def _spawn(self) -> _Worker:
        """A new shared writer (under the lock)."""
        self._spawned += 1
        worker = _Worker(self, f"fix-writer-{self._spawned}")
        self._workers.add(worker)
        worker.thread.start()
        return worker

    # -- writer side (writer threads) ---------------------------------------------------------------

    def _watch(self) -> None:
        """Detach the shared writer from a session whose send does not return."""
        interval = _WATCH_IDLE
        while not self._stop_watch.wait(interval):
            worker = self._shared
            lane = worker.current if worker is not None else None
            # Tick fast only while a send is in progress: an idle gateway costs ~50 wake-ups/s.
            interval = _WATCH_IDLE if lane is None else _WATCH_EVERY
            if lane is None or time.monotonic() - worker.since < DETACH_AFTER:   # type: ignore[union-attr]
                continue
            with self._lock:
                if self._closed or worker is not self._shared or worker.current is not lane:
                    continue
                worker.detached = True
                fresh = self._spawn()
                self._shared = fresh
                for other in self._lanes.values():
                    if other is not lane and other.owner is worker:
                        other.owner = fresh
                moved = [other for other in worker.ready if other is not lane]
                worker.ready = deque(other for other in worker.ready if other is lane)
                fresh.ready.extend(moved)
                fresh.wake.notify()
                self.detached += 1
            log.warning("%s is not reading: its send has been blocked for %.0f ms; it gets a writer "
                        "of its own", lane.key, 1000 * (time.monotonic() - worker.since))

    def _handle(self, lane: _Lane, item: object) -> None:
        try:
            if isinstance(item, _Logout):
                self._do_logout(lane.key, lane.session_id, item)
                return
            msg, on_sent = item   # type: ignore[misc]
            if self._closed:
                lane.unsent += 1
                ok = False
            else:
                ok = self._deliver(msg, lane.session_id)
                if ok:
                    lane.sent += 1
                else:
                    lane.failed += 1
            if on_sent is not None:
                self._complete(on_sent, ok)
        except BaseException:   # a writer must outlive any single message
            log.exception("writer failed on one item for %s", lane.key)

    def _deliver(self, msg: OutboundMessage, session_id: fix.SessionID) -> bool:
        try:
            ok = bool(fix.Session.sendToTarget(to_quickfix(msg, self._builders.get(msg.session)),
                                               session_id))
        except fix.SessionNotFound:
            log.warning("dropped %s for unknown session %s", msg.msg_type, msg.session)
            return False
        except Exception:
            # A record QuickFIX cannot take is a bug in the caller; it costs that message only.
            log.exception("could not send %s on %s", msg.msg_type, msg.session)
            return False
        if not ok:   # not stored: a reset is pending on a logged-out session, or DoNotSend
            log.info("%s on %s refused by QuickFIX", msg.msg_type, msg.session)
        return ok

    def _do_logout(self, key: SessionKey, session_id: fix.SessionID, item: _Logout) -> None:
        """Log one session out, and make sure it can log on again afterwards.

        QuickFIX C++ ``Session::logout(reason)`` sets the session *disabled* as well as asking
        for the Logout (its timer then sends it); a disabled acceptor session refuses every later
        Logon ("Session is not enabled for logon") until ``Session::logon()`` enables it again.
        Enabling it at once would cancel the Logout, so it happens when the session has
        disconnected: :meth:`session_disconnected` (from ``onLogout``), or here when the
        connection was already gone by the time ``logout`` returned.
        """
        session = fix.Session.lookupSession(session_id)
        if session is None:
            log.warning("logout of unknown session %s", session_id.toString())
            self._logout_finished(key)
            return
        if not session.isLoggedOn():
            self._logout_finished(key)   # nothing to end: it went away on its own
            return
        with self._logout_lock:
            self._logging_out.add(key)   # again: a disconnect may have cleared it since logout()
        log.info("logging out %s: %s", key, item.text)
        session.logout(item.text)
        if not session.isLoggedOn():
            # Disconnected meanwhile: its onLogout may have run before logout() disabled it.
            self._enable(key, session)

    def session_disconnected(self, key: SessionKey) -> None:
        """``onLogout`` of ``key`` (QuickFIX thread): re-enable it if :meth:`logout` ended it."""
        with self._logout_lock:
            if key not in self._logging_out:
                return
        session = fix.Session.lookupSession(session_id_of(key))
        if session is not None:
            self._enable(key, session)

    def _enable(self, key: SessionKey, session: fix.Session) -> None:
        with self._logout_lock:
            self._logging_out.discard(key)
        session.logon()   # Session::logon() only sets the enabled flag (no message is sent)
        log.info("%s logged out; it may log on again", key)

    def _logout_finished(self, key: SessionKey) -> None:
        with self._logout_lock:
            self._logging_out.discard(key)

    def _complete(self, on_sent: Callable[[bool], object], ok: bool) -> None:
        """Queue ``on_sent(ok)`` for the loop (same burst scheme as ``GatewayApplication._enqueue``)."""
        self._completions.append((on_sent, ok))
        if not self._wake_scheduled:
            self._wake_scheduled = True
            loop = self._loop
            try:
                if loop is None:
                    raise RuntimeError("no loop bound")
                loop.call_soon_threadsafe(self._run_completions)
            except RuntimeError:   # loop closed or never bound: the callbacks cannot run
                self._wake_scheduled = False
                log.warning("on_sent callbacks dropped: no running loop")
                self._completions.clear()

    def _run_completions(self) -> None:
        self._wake_scheduled = False
        pending = self._completions
        for _ in range(_DRAIN_BATCH):
            if not pending:
                return
            on_sent, ok = pending.popleft()
            try:
                on_sent(ok)
            except Exception:
                log.exception("on_sent callback failed")
        if pending and not self._wake_scheduled:
            self._wake_scheduled = True
            self._loop.call_soon(self._run_completions)   # type: ignore[union-attr]


class InboundJournalLike(Protocol):
    """What the hand-off needs of the inbound journal: a thread-safe, non-blocking append."""

    def append(self, record: InboundMessage) -> None: ...


class GatewayApplication(fix.Application):
    """The ``quickfix.Application`` of the gateway: copies, checks, hands off; nothing else.

    ``outbox`` sends the BusinessMessageRejects produced for failed callbacks (on the loop).
    """

    def __init__(self, config: GatewayConfig, inbox: Inbox, loop: asyncio.AbstractEventLoop,
                 outbox: QuickFixOutbox, journal: InboundJournalLike | None = None,
                 journal_types: frozenset[str] = frozenset(),
                 logon_gate: Callable[[SessionKey], str | None] | None = None) -> None:
        super().__init__()
        self._config = config
        self._inbox = inbox
        self._loop = loop
        self._outbox = outbox
        # Order-changing messages are journaled on this thread before they reach the loop, so a
        # crash after QuickFIX consumed their MsgSeqNum cannot lose them (gateway.store.inbound_journal).
        self._journal = journal
        self._journal_types = journal_types
        # gateway.ops: Text(58) to refuse a Logon with (operator disabled it, Zenith down), or None.
        self._logon_gate = logon_gate
        if outbox._loop is None:
            outbox.bind(loop)
        self._keys: dict[str, SessionKey] = {}
        self._sessions: dict[SessionKey, SessionConfig | None] = {}
        self._lock = threading.Lock()   # guards the two dicts against concurrent onCreate
        self.callback_errors = 0
        # Inbound records wait here for the loop; one wake-up drains a burst (see _enqueue).
        self._pending: deque[InboundMessage] = deque()
        self._wake_scheduled = False

    # -- helpers ---------------------------------------------------------------------------

    def _key(self, session_id: fix.SessionID) -> SessionKey:
        text = session_id.toString()
        key = self._keys.get(text)
        if key is None:
            key = key_of(session_id)
            with self._lock:
                self._keys[text] = key
        return key

    def use_config(self, config: GatewayConfig) -> None:
        """After a reload: sessions added to ``config`` are known (before their connector starts)."""
        with self._lock:
            self._config = config
            self._sessions = {}

    def _session(self, key: SessionKey) -> SessionConfig | None:
        try:
            return self._sessions[key]
        except KeyError:
            found = self._config.session_for(key.begin_string, key.sender_comp_id, key.target_comp_id)
            with self._lock:
                self._sessions[key] = found
            return found

    def _enqueue(self, record: InboundMessage) -> None:
        """Queue ``record`` for the loop (QuickFIX thread). Only the first record of a burst pays
        for ``call_soon_threadsafe`` (a self-pipe write); the rest ride the same drain.

        Safe without a lock: ``deque.append``/``popleft`` are atomic, and a producer appends
        *before* reading the flag, so either the scheduled drain sees its record or it sees
        the flag down and schedules another drain (a spare drain finds nothing to do).
        """
        self._pending.append(record)
        if not self._wake_scheduled:
            self._wake_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except BaseException:   # loop closed: the next record tries again
                self._wake_scheduled = False
                raise

    def _drain(self) -> None:
        """On the loop: dispatch queued records in arrival order, a bounded batch at a time."""
        self._wake_scheduled = False
        pending = self._pending
        dispatch = self._inbox.dispatch
        for _ in range(_DRAIN_BATCH):
            if not pending:
                return
            record = pending.popleft()
            try:
                dispatch(record)
            except Exception:   # dispatch contains service errors; this is a bug in it
                log.exception("dispatch failed on %s MsgSeqNum=%s", record.session, record.msg_seq_num)
        if pending and not self._wake_scheduled:
            # Let other loop work (Zenith frames, timers) run between batches.
            self._wake_scheduled = True
            self._loop.call_soon(self._drain)

    def _post(self, fn: Callable[..., object], *args: object) -> None:
        """Fire-and-forget onto the loop; a closed loop (shutdown) only costs a log line."""
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            log.warning("event loop closed; dropped %s", getattr(fn, "__name__", fn))

    def _failed(self, where: str, message: fix.Message | None, session_id: fix.SessionID | None,
                reply: bool) -> None:
        """Log a callback failure with its context and, for application messages, queue a j."""
        self.callback_errors += 1
        key: SessionKey | None = None
        msg_type, seq, ref = "?", None, None
        try:
            key = self._key(session_id) if session_id is not None else None
            if message is not None:
                fields = tuple(split_fields(message.toString()))
                pairs = dict(fields)
                msg_type = pairs.get(35, "?")
                seq = int(pairs[34]) if pairs.get(34, "").isdigit() else None
                ref = ref_id_of(msg_type, fields) or pairs.get(11)
        except Exception:   # the context is best effort; the guard itself must never raise
            pass
        try:
            log.exception("%s failed on %s MsgType=%s MsgSeqNum=%s ClOrdID=%s",
                          where, key, msg_type, seq, ref)
            if reply and key is not None and msg_type != "?":
                reject = business_reject(key, msg_type, seq, BusinessRejectReason.OTHER,
                                         "Internal error processing message", ref)
                self._post(self._outbox.send, reject)
        except Exception:   # nothing may escape towards the engine, not even from the guard
            pass

    # -- quickfix.Application --------------------------------------------------------------

    def onCreate(self, sessionID: fix.SessionID) -> None:
        try:
            key = self._key(sessionID)
            log.info("session created %s", key)
        except Exception:
            self._failed("onCreate", None, sessionID, reply=False)

    def onLogon(self, sessionID: fix.SessionID) -> None:
        try:
            key = self._key(sessionID)
            log.info("logon %s", key)
            self._post(self._inbox.logon, key)
        except Exception:
            self._failed("onLogon", None, sessionID, reply=False)

    def onLogout(self, sessionID: fix.SessionID) -> None:
        try:
            key = self._key(sessionID)
            log.info("logout %s", key)
            self._outbox.session_disconnected(key)
            self._post(self._inbox.logout, key)
        except Exception:
            self._failed("onLogout", None, sessionID, reply=False)

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            header = message.getHeader()
            if header.getField(35) == "A":
                session = self._session(self._key(sessionID))
                if session is not None and session.role is Role.INITIATOR:
                    creds = session.credentials
                    if creds.username:
                        message.setField(_USERNAME, creds.username)
                    if creds.password:
                        message.setField(_PASSWORD, creds.password)
        except Exception:
            self._failed("toAdmin", message, sessionID, reply=False)

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "A":
                bad = invalid_text_tag(message.toString())
                if bad is not None:
                    # Credentials or a CompID that are not text cannot match anything we hold.
                    log.warning("logon refused on %s: tag %d is not valid text", self._key(sessionID), bad)
                    raise fix.RejectLogon(f"Tag {bad} is not valid text (incorrect data format)")
                self._check_logon(message, self._key(sessionID))
        except _FROM_ADMIN_ALLOWED:
            raise
        except Exception:
            self._failed("fromAdmin", message, sessionID, reply=False)
            # Refusing is the safe answer when a logon could not be checked.
            if _is_logon(message):
                raise fix.RejectLogon("Logon could not be processed") from None

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        # Runs under the session mutex on the sending thread: nothing here may block.
        try:
            # QuickFIX C++ (Session::generateBusinessReject) writes DefaultApplVerID(1137) into the
            # body of its own FIXT.1.1 35=j; 1137 belongs to Logon only, so a strict partner Rejects it.
            if message.isSetField(1137) and message.getHeader().getField(35) != "A":
                message.removeField(1137)
        except Exception:   # never let an exception reach the engine (Py_Exit)
            log.exception("toApp clean-up failed")

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            text = message.toString()
            bad = invalid_text_tag(text)
            if bad is not None:
                # Bytes that are not text (issue 9): refused here with a session Reject
                # SessionRejectReason(373)=6 naming the field; nothing of it is journaled or
                # dispatched, so it can reach neither Plxtra nor another session's state.
                log.warning("refused MsgSeqNum=%s on %s: tag %d is not valid text",
                            _seq_of(message), self._key(sessionID), bad)
                raise fix.IncorrectDataFormat(bad)
            record = record_from_text(text, self._key(sessionID))
            if record.msg_type not in self._inbox.handled_types:
                # QuickFIX answers with 35=j BusinessRejectReason=3 (FIX 4.2+).
                raise fix.UnsupportedMessageType()
            if self._journal is not None and record.msg_type in self._journal_types:
                try:
                    self._journal.append(record)
                except Exception:   # a full disk must not stop trading: log and go on
                    log.exception("inbound journal append failed for %s MsgSeqNum=%s",
                                  record.session, record.msg_seq_num)
                crash_point("journal-appended")
            self._enqueue(record)
        except _FROM_APP_ALLOWED:
            raise
        except Exception:
            self._failed("fromApp", message, sessionID, reply=True)

    # -- logon policy ----------------------------------------------------------------------

    def _check_logon(self, message: fix.Message, key: SessionKey) -> None:
        """Credentials and reset policy of an incoming Logon; raises ``RejectLogon`` with the
        reason QuickFIX puts in the Logout's Text(58)."""
        session = self._session(key)
        if session is None:
            raise fix.RejectLogon(f"Unknown session {key}")
        if session.role is not Role.ACCEPTOR:
            return
        if self._logon_gate is not None and (refusal := self._logon_gate(key)):
            raise fix.RejectLogon(refusal)
        heart_bt_int = _get(message, _HEART_BT_INT)
        if heart_bt_int is None or not heart_bt_int.isdigit():
            # A negative interval (or junk) is no heartbeat contract at all; 0 means "none" in FIX.
            raise fix.RejectLogon(f"HeartBtInt(108) must be a whole number of seconds >= 0, "
                                  f"got {heart_bt_int!r}")
        expected = session.credentials
        if expected.username is not None or expected.password is not None:
            username = _get(message, _USERNAME)
            password = _get(message, _PASSWORD)
            if expected.username is not None and not _same(username, expected.username):
                log.warning("logon refused on %s: bad username %r", key, username)
                raise fix.RejectLogon("Invalid username or password")
            if expected.password is not None and not _same(password, expected.password):
                log.warning("logon refused on %s: bad password for %r", key, username)
                raise fix.RejectLogon("Invalid username or password")
        if _get(message, _RESET_SEQ_NUM_FLAG) == "Y" and not session.accept_reset_seq_num_flag:
            raise fix.RejectLogon("ResetSeqNumFlag(141)=Y not accepted on this session")


def _get(message: fix.Message, tag: int) -> str | None:
    return message.getField(tag) if message.isSetField(tag) else None


def _same(given: str | None, expected: str) -> bool:
    # Constant-time comparison so timing does not leak how much of a password matched.
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _seq_of(message: fix.Message) -> str:
    header = message.getHeader()
    return header.getField(34) if header.isSetField(34) else "?"


def _is_logon(message: fix.Message) -> bool:
    try:
        return message.getHeader().getField(35) == "A"
    except Exception:
        return False
