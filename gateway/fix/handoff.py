"""The gateway's ``quickfix.Application`` and its outbox; both run on the asyncio loop's thread.

QuickFIX's connectors are polled on the loop (:mod:`gateway.fix.loop_driver`), so every
callback below runs on the loop thread, inside a poll. Inbound: :class:`GatewayApplication`
copies each application message into an :class:`InboundMessage`, journals order-changing ones
and dispatches it to the services synchronously, all before ``fromApp`` returns (QuickFIX
increments the expected MsgSeqNum only afterwards, so nothing QuickFIX counts as received can be
lost). Outbound: :class:`QuickFixOutbox` keeps a FIFO per session; a send made while QuickFIX is
inside a poll (a service answering from ``fromApp``) waits for the end of that poll, in the
same loop callback, so no callback re-enters QuickFIX; other sends go to QuickFIX at once.
QuickFIX's polled connections never block: a partner whose TCP window is full gets its bytes
queued in its connection (``backlog`` counts them) and written when the loop reports the socket
writable, so it delays only itself.

Every callback is guarded: the SWIG binding calls ``Py_Exit(1)`` for any Python exception
other than the few FIX ones it translates (``director:except`` in quickfix.i), which would
kill every session of the process. Those allowed exceptions pass on purpose (they are how
QuickFIX rejects at session level); anything else is logged with session, MsgSeqNum and
ClOrdID and answered with a BusinessMessageReject (35=j).

A call from another thread (a test, an operator action run in a worker) is handed to the loop
with ``call_soon_threadsafe``; nothing on the order path does that.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import _quickfix  # type: ignore[import-not-found]
import quickfix as fix

from gateway import stages
from gateway.config.model import GatewayConfig, Role, SessionConfig
from gateway.failpoints import crash_point
from gateway.fix.convert import (
    Dictionaries,
    MessageDictionaries,
    invalid_text_tag,
    key_of,
    record_from_text,
    session_id_of,
    to_quickfix,
)
from gateway.fix.loop_driver import (
    LoopDriver,
    loop_is_current_or_idle,
    loop_sockets_available,
    queued_counter,
)
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.rejects import BusinessRejectReason, business_reject, ref_id_of
from gateway.vocab.wire import SOH, split_fields

__all__ = ["GatewayApplication", "Inbox", "QuickFixOutbox", "forget_sessions"]

log = logging.getLogger("gateway.fix.handoff")

# Exceptions the binding translates into QuickFIX's C++ exceptions, per callback.
_FROM_APP_ALLOWED = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue,
                     fix.UnsupportedMessageType)
_FROM_ADMIN_ALLOWED = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue, fix.RejectLogon)
_TO_APP_ALLOWED = (fix.DoNotSend,)

_USERNAME, _PASSWORD, _RESET_SEQ_NUM_FLAG, _HEART_BT_INT = 553, 554, 141, 108
_COMPLETION_BATCH = 256   # on_sent callbacks run per loop callback before yielding
# Session::send without quickfix.py's Python wrapper frame (send_window: one per copy; every ER).
_session_send = _quickfix.Session_send
# The same for the two toString calls of every message received (fromApp).
_message_text = _quickfix.Message_toString
_session_id_text = _quickfix.SessionID_toString


def _call_take(take: Callable[[int], list[OutboundMessage]], room: int) -> list[OutboundMessage]:
    return take(room)   # send_window's take as send_windows calls it


class Inbox(Protocol):
    """What the loop side offers the hand-off (``gateway.app.services.ServiceRegistry``)."""

    handled_types: frozenset[str]

    def dispatch(self, msg: InboundMessage) -> None: ...

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


class _NoInbox:
    """The inbox until the services exist (start-up builds the engine before importing them):
    nothing is handled, so QuickFIX would refuse any message with a 35=j. No partner can be
    connected then: the connectors are started only after ``use_inbox``."""

    handled_types: frozenset[str] = frozenset()

    def dispatch(self, msg: InboundMessage) -> None:
        log.warning("%s on %s dropped: no services yet", msg.msg_type, msg.session)

    def logon(self, key: SessionKey) -> None:
        pass

    def logout(self, key: SessionKey) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Logout:
    text: str


# QuickFIX's Session objects live as long as their connector: freeing one (gateway.fix.engine's
# _destroy) deletes its sessions, so it calls forget_sessions() first and every lane's kept
# Session is looked up again. A one-item list: read on every send, bumped rarely.
_SESSIONS_EPOCH = [0]


def forget_sessions() -> None:
    """QuickFIX sessions are about to be freed: no lane may use the one it kept."""
    _SESSIONS_EPOCH[0] += 1


class _Lane:
    """One session's FIFO of messages (and logouts) not yet handed to QuickFIX, its counters, and
    its ``quickfix.Session`` (kept: ``Session::lookupSession`` per send and per backlog look cost
    ~7% of the loop's CPU with 20 market-data sessions, py-spy)."""

    __slots__ = ("dictionaries", "epoch", "failed", "items", "key", "pointer", "qf_session", "sent",
                 "session_id", "unsent")

    def __init__(self, key: SessionKey, dictionaries: Dictionaries | MessageDictionaries | None) -> None:
        self.key = key
        self.session_id = session_id_of(key)
        self.qf_session: fix.Session | None = None
        self.pointer = 0   # the C++ address of qf_session (loop_driver.queued_counter)
        self.epoch = -1
        self.dictionaries = dictionaries
        self.items: deque[tuple[OutboundMessage, Callable[[bool], object] | None] | _Logout] = deque()
        self.sent = 0     # accepted by QuickFIX
        self.failed = 0   # refused by QuickFIX or raised
        self.unsent = 0   # discarded at close

    def session(self) -> fix.Session | None:
        """QuickFIX's Session of this lane, kept until sessions are freed; None while it has none."""
        if self.epoch == _SESSIONS_EPOCH[0]:
            return self.qf_session
        found = fix.Session.lookupSession(self.session_id)
        # A session not created yet (engine still building) is looked up again next time.
        if found is not None:
            self.qf_session, self.epoch = found, _SESSIONS_EPOCH[0]
            self.pointer = int(found.this)
        return found


class QuickFixOutbox:
    """Sends records through QuickFIX on the loop thread, never blocking it.

    ``send`` hands the message to QuickFIX at once unless QuickFIX is inside a poll (then right
    after it) or earlier messages of the session are still waiting; per-session order is kept.
    ``on_sent(ok)`` runs on the loop, in a later callback: True once QuickFIX accepted the
    message (MsgSeqNum assigned, message stored), False when it refused it, when the send raised,
    when the session's queue was full (``queue_limit``) or the outbox closed first. A message for
    a session that is not logged on is numbered and stored by QuickFIX (sent on the partner's
    ResendRequest, as FIX requires): True, unless a sequence reset is pending for that session
    (ResetOnLogon etc.), when QuickFIX refuses it: False.

    ``backlog(session)`` counts what the session's partner has not been given yet: messages
    waiting here plus those queued in its QuickFIX connection because its TCP window is full
    (the market-data service conflates on it). :meth:`send_window` is the market-data service's
    pass over a session (backlog look and sends in one call, on a handle from :meth:`lane`): the
    same rules, the per-message checks made once per call. ``dictionaries`` gives the data dictionaries of
    a session (for repeating groups). There is no thread: :meth:`drain` and :meth:`close` are
    kept for the shutdown sequence (``close`` reports what is still queued as unsent).
    """

    def __init__(self, dictionaries: Callable[[SessionKey], Dictionaries | MessageDictionaries | None],
                 loop: asyncio.AbstractEventLoop | None = None, queue_limit: int = 50_000) -> None:
        self._dictionaries = dictionaries
        # Record -> quickfix.Message; the market-data service may put a converter reusing shared
        # bodies here (gateway.fix.md_send).
        self.convert: Callable[[OutboundMessage, Dictionaries | MessageDictionaries | None],
                               fix.Message] = to_quickfix
        self._loop: asyncio.AbstractEventLoop | None = None
        self._driver: LoopDriver | None = None
        self._queued: Callable[[int], int] | None = None   # with a driver: queued_counter()
        self.queue_limit = queue_limit
        self._lanes: dict[SessionKey, _Lane] = {}
        self._waiting: set[_Lane] = set()   # lanes with items, flushed after the current poll
        self._flushing = False
        self._flush_scheduled = False
        self._closed = False
        self._completions: deque[tuple[Callable[[bool], object], bool]] = deque()
        self._completions_scheduled = False
        self.refused = 0     # never queued: queue full or outbox closed
        # True while QuickFIX sends a market-data copy built from a shared body (md_send): toApp
        # then skips its check, a SWIG call of ~1 us per copy, for a body the gateway built.
        self.sending_md = False
        # Sessions with a logout() queued or in progress, re-enabled once they disconnect
        # (QuickFIX's Session::logout also disables the session: see _do_logout).
        self._logging_out: set[SessionKey] = set()
        # Kept for callers of the threaded design: no writer thread exists any more.
        self.detached = 0
        self.writer_threads = 0
        if loop is not None:
            self.bind(loop)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop this outbox and QuickFIX's polls run on (set before the first send)."""
        if self._loop is loop:
            return
        self._loop = loop
        if loop_sockets_available():
            self._driver = LoopDriver.for_loop(loop)
            self._driver.after_poll(self.flush)
            self._queued = queued_counter()

    # -- caller side (the loop thread; other threads are handed over) -------------------------------

    def _on_loop(self) -> bool:
        # On the loop's thread, or the loop is not running (then this thread owns QuickFIX).
        loop = self._loop
        return loop is None or loop_is_current_or_idle(loop)

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None:
        """Give ``msg`` to QuickFIX now, or after the current poll; returns at once."""
        if not self._on_loop():
            self._loop.call_soon_threadsafe(self._send_later, msg, on_sent)   # type: ignore[union-attr]
            return
        if self._closed:
            self.refused += 1
            log.warning("outbox closed: %s on %s not sent", msg.msg_type, msg.session)
        else:
            lane = self._lanes.get(msg.session) or self._new_lane(msg.session)
            if not lane.items and not self._held():
                ok = self._deliver(lane, msg)
                if on_sent is not None:
                    self._complete(on_sent, ok)
                return
            if len(lane.items) < self.queue_limit:
                lane.items.append((msg, on_sent))
                self._wait(lane)
                return
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("send queue of %s full (%d): %s not sent (%d refused so far)",
                            msg.session, self.queue_limit, msg.msg_type, self.refused)
        if on_sent is not None:
            self._complete(on_sent, False)

    def _send_later(self, msg: OutboundMessage, on_sent: Callable[[bool], object] | None) -> None:
        self.send(msg, on_sent=on_sent)

    def backlog(self, session: SessionKey) -> int:
        """Messages for ``session`` not yet given to its partner: waiting here, or queued in its
        QuickFIX connection because the partner's TCP window is full."""
        if not self._on_loop():
            # QuickFIX's connections live on the loop (one may be freed there meanwhile): ask it.
            loop = self._loop
            assert loop is not None

            async def ask() -> int:
                return self.backlog(session)
            try:
                return asyncio.run_coroutine_threadsafe(ask(), loop).result(5.0)
            except Exception:
                lane = self._lanes.get(session)
                return len(lane.items) if lane is not None else 0
        lane = self._lanes.get(session)
        if self._driver is None:
            return len(lane.items) if lane is not None else 0
        if lane is None:
            lane = self._new_lane(session)
        qf_session = lane.session()
        return len(lane.items) + (max(0, self._queued(lane.pointer))   # type: ignore[misc]
                                  if qf_session is not None else 0)

    def lane(self, session: SessionKey) -> _Lane:
        """The handle of ``session`` for :meth:`send_window` (kept by the caller: it lives as
        long as this outbox)."""
        return self._lanes.get(session) or self._new_lane(session)

    def send_window(self, lane: _Lane, window: int, budget: int,
                    take: Callable[[int], list[OutboundMessage]]) -> int:
        """Market data: send what ``take(room)`` returns for the session of ``lane`` (at most
        ``room`` messages, its producer's queue keeps the rest), with room = ``window`` -
        :meth:`backlog` capped at ``budget``. Returns the number of messages taken, or -1 when
        the session has no room (``take`` is not called: its partner is behind, its updates
        wait and merge).

        The same as :meth:`backlog` then :meth:`send` per message, with the per-message work
        done once per call: one look at the loop, the lane, QuickFIX's state and the session's
        connection (one ctypes call). Room is also capped by what ``queue_limit`` leaves, so no
        message taken is refused for it.

        Per copy (one per subscriber per update: the fan-out's cost) the least Python: the
        loop check compares thread idents (``loop_is_current_or_idle``, no getpid system call),
        the kept session is read straight from the lane, and ``sending_md`` (toApp skips
        its check for shared bodies, ``gateway.fix.md_send``) is set once per run of such
        copies, not around each send. It is :meth:`send_windows` for one lane; the service's
        pass calls that for all its sessions at once.
        """
        return self.send_windows((lane,), (take,), window, budget, _call_take)[0]

    def send_windows(self, lanes: Sequence[_Lane], tokens: Sequence[Any], window: int, budget: int,
                     take: Callable[[Any, int], list[OutboundMessage]]) -> list[int]:
        """:meth:`send_window` for a pass over many sessions in one call: for each ``lanes[i]``
        what ``take(tokens[i], room)`` returns is sent; the result holds each lane's number of
        messages taken, or -1 (no room, ``take`` not called for it). Lanes are served in order.

        What does not change during a pass (the loop check, the driver's state, the converter,
        ``sending_md``) is looked at once per call: per copy of an update only the session's
        connection (one ctypes call), ``take``, the conversion and ``Session::send`` remain.
        """
        driver = self._driver
        fast = driver is not None and not self._closed and self._on_loop()
        # driver._depth > 0 is LoopDriver.busy without its property frame.
        direct = fast and not self._flushing and driver._depth <= 0   # type: ignore[union-attr]
        queued_of = self._queued
        limit = self.queue_limit
        epoch = _SESSIONS_EPOCH[0]
        convert = self.convert
        send = _session_send
        results: list[int] = []
        md = False   # sending a run of shared-body copies (sending_md set)
        try:
            for lane, token in zip(lanes, tokens, strict=True):
                queued = 0
                qf_session = None
                if fast:
                    qf_session = lane.qf_session if lane.epoch == epoch else lane.session()
                    if qf_session is not None:
                        queued = queued_of(lane.pointer)   # type: ignore[misc]
                        if queued < 0:
                            queued = 0
                items = lane.items
                # min() of the three caps as comparisons: no builtin call per copy.
                room = window - len(items) - queued
                if budget < room:
                    room = budget
                if limit - queued < room:
                    room = limit - queued
                if room <= 0:
                    results.append(-1)
                    continue
                messages = take(token, room)
                results.append(len(messages))
                if qf_session is None or items or not direct:
                    # Off the fast path (no loop driver, another thread, QuickFIX inside a poll,
                    # earlier messages of the session waiting): one by one, with send's ordering
                    # and hand-offs (send sets and clears sending_md itself).
                    if md:
                        md = self.sending_md = False
                    for msg in messages:
                        self.send(msg)
                    continue
                dictionaries = lane.dictionaries
                sent = failed = 0
                for msg in messages:
                    shared = getattr(msg, "shared_body", None) is not None
                    if shared is not md:
                        md = self.sending_md = shared
                    try:
                        ok = send(qf_session, convert(msg, dictionaries))
                        if not ok:
                            log.info("%s on %s refused by QuickFIX", msg.msg_type, msg.session)
                    except Exception:
                        log.exception("could not send %s on %s", msg.msg_type, msg.session)
                        ok = False
                    if ok:
                        sent += 1
                    else:
                        failed += 1
                lane.sent += sent
                lane.failed += failed
        finally:
            if md:
                self.sending_md = False
        return results

    def logout(self, session: SessionKey, text: str = "") -> None:
        """Log ``session`` out with Logout Text(58) ``text`` after what is already queued for it.

        QuickFIX sends the Logout on its next timer tick and disconnects when it is answered
        (or after LogoutTimeout).
        """
        if not self._on_loop():
            self._loop.call_soon_threadsafe(self.logout, session, text)   # type: ignore[union-attr]
            return
        if self._closed or session in self._logging_out:
            return   # one Logout per episode: a burst of over-limit messages asks many times
        self._logging_out.add(session)
        lane = self._lanes.get(session) or self._new_lane(session)
        lane.items.append(_Logout(text))
        self._wait(lane)
        if not self._held():
            self.flush()

    def total_backlog(self) -> int:
        """Messages waiting here (not yet given to QuickFIX), every session."""
        return sum(len(lane.items) for lane in list(self._lanes.values()))

    def drain(self, timeout: float) -> int:
        """Hand everything waiting to QuickFIX; returns what is still waiting. From another
        thread it waits (at most ``timeout`` s) for the loop to do it."""
        if self._on_loop():
            self.flush()
            return self.total_backlog()
        loop = self._loop
        assert loop is not None

        async def flushed() -> int:
            self.flush()
            return self.total_backlog()
        try:
            return asyncio.run_coroutine_threadsafe(flushed(), loop).result(timeout)
        except Exception:   # loop gone or too slow: report what we can see
            return self.total_backlog()

    def close(self, timeout: float = 5.0) -> bool:
        """Refuse new sends and report what is still waiting as unsent (``on_sent(False)``).
        True: nothing of ours can be inside QuickFIX any more (there are no writer threads)."""
        self._closed = True
        for lane in list(self._lanes.values()):
            while lane.items:
                item = lane.items.popleft()
                if isinstance(item, _Logout):
                    continue
                lane.unsent += 1
                if item[1] is not None:
                    self._complete(item[1], False)
            if lane.unsent:
                log.warning("%d message(s) for %s not sent: gateway shutting down", lane.unsent, lane.key)
        self._waiting.clear()
        return True

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

    # -- delivery (loop thread, outside QuickFIX) ---------------------------------------------------

    def _held(self) -> bool:
        """Sends must wait: QuickFIX is running (a poll) or a flush is in progress."""
        return self._flushing or (self._driver is not None and self._driver.busy)

    def _wait(self, lane: _Lane) -> None:
        self._waiting.add(lane)
        if not self._flush_scheduled and not (self._driver is not None and self._driver.busy):
            # Outside a poll (a timer, a Zenith frame): flush on the next loop callback.
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)   # type: ignore[union-attr]

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Hand every waiting message to QuickFIX, session by session in FIFO order (the loop
        driver calls it after each poll)."""
        if self._flushing or not self._waiting or (self._driver is not None and self._driver.busy):
            return
        self._flushing = True
        try:
            while self._waiting:
                lane = self._waiting.pop()
                items = lane.items
                while items:
                    item = items.popleft()
                    if isinstance(item, _Logout):
                        self._do_logout(lane, item)
                        continue
                    msg, on_sent = item
                    ok = self._deliver(lane, msg)
                    if on_sent is not None:
                        self._complete(on_sent, ok)
        finally:
            self._flushing = False

    def _new_lane(self, key: SessionKey) -> _Lane:
        lane = self._lanes[key] = _Lane(key, self._dictionaries(key))
        return lane

    def _deliver(self, lane: _Lane, msg: OutboundMessage) -> bool:
        try:
            # lane.session() without its call while the kept Session is still valid (every ER)
            session = lane.qf_session if lane.epoch == _SESSIONS_EPOCH[0] else lane.session()
            if session is None:
                log.warning("dropped %s for unknown session %s", msg.msg_type, msg.session)
                ok = False
            elif (self._queued is not None and self._driver.writing   # type: ignore[union-attr]
                  and self._queued(lane.pointer) >= self.queue_limit):
                # The partner has not read this much: its connection's queue is bounded here.
                # Asked only while some connection waits for its socket (LoopDriver.writing): the
                # ctypes call costs ~7 us per ER with cold caches, and with no socket waited on no
                # connection holds anything (a queue that grows within one loop callback is seen
                # from the next poll's sync: the bound is queue_limit plus one callback's sends).
                self.refused += 1
                if self.refused == 1 or self.refused % 1000 == 0:
                    log.warning("send queue of %s full (%d): %s not sent (%d refused so far)",
                                msg.session, self.queue_limit, msg.msg_type, self.refused)
                return False
            else:
                message = self.convert(msg, lane.dictionaries)
                self.sending_md = getattr(msg, "shared_body", None) is not None
                try:
                    ok = bool(_session_send(session, message))
                finally:
                    self.sending_md = False
                if not ok:   # not stored: a reset is pending on a logged-out session, or DoNotSend
                    log.info("%s on %s refused by QuickFIX", msg.msg_type, msg.session)
        except Exception:
            # A record QuickFIX cannot take is a bug in the caller; it costs that message only.
            log.exception("could not send %s on %s", msg.msg_type, msg.session)
            ok = False
        if ok:
            lane.sent += 1
        else:
            lane.failed += 1
        return ok

    def _do_logout(self, lane: _Lane, item: _Logout) -> None:
        """Log one session out, and make sure it can log on again afterwards.

        QuickFIX C++ ``Session::logout(reason)`` sets the session *disabled* as well as asking
        for the Logout (its timer then sends it); a disabled acceptor session refuses every later
        Logon ("Session is not enabled for logon") until ``Session::logon()`` enables it again.
        Enabling it at once would cancel the Logout, so it happens when the session has
        disconnected: :meth:`session_disconnected` (from ``onLogout``), or here when the
        connection was already gone.
        """
        key = lane.key
        try:
            session = fix.Session.lookupSession(lane.session_id)
            if session is None:
                log.warning("logout of unknown session %s", key)
                self._logging_out.discard(key)
                return
            if not session.isLoggedOn():
                self._logging_out.discard(key)   # nothing to end: it went away on its own
                return
            self._logging_out.add(key)   # again: a disconnect may have cleared it since logout()
            log.info("logging out %s: %s", key, item.text)
            session.logout(item.text)
            if self._driver is not None:
                self._driver.timeout_all()   # the Logout goes out now, not on the next tick
        except Exception:
            log.exception("logout of %s failed", key)

    def session_disconnected(self, key: SessionKey) -> None:
        """``onLogout`` of ``key``: re-enable it if :meth:`logout` ended it."""
        if key not in self._logging_out:
            return
        self._logging_out.discard(key)
        session = fix.Session.lookupSession(session_id_of(key))
        if session is not None:
            session.logon()   # Session::logon() only sets the enabled flag (no message is sent)
            log.info("%s logged out; it may log on again", key)

    def _complete(self, on_sent: Callable[[bool], object], ok: bool) -> None:
        """Run ``on_sent(ok)`` on a later loop callback (never inside the caller's send)."""
        self._completions.append((on_sent, ok))
        if not self._completions_scheduled:
            loop = self._loop
            if loop is None or loop.is_closed():
                log.warning("on_sent callbacks dropped: no loop")
                self._completions.clear()
                return
            self._completions_scheduled = True
            if self._on_loop():
                loop.call_soon(self._run_completions)
            else:
                loop.call_soon_threadsafe(self._run_completions)

    def _run_completions(self) -> None:
        self._completions_scheduled = False
        pending = self._completions
        for _ in range(_COMPLETION_BATCH):
            if not pending:
                return
            on_sent, ok = pending.popleft()
            try:
                on_sent(ok)
            except Exception:
                log.exception("on_sent callback failed")
        if pending and not self._completions_scheduled:
            self._completions_scheduled = True
            self._loop.call_soon(self._run_completions)   # type: ignore[union-attr]


class InboundJournalLike(Protocol):
    """What the hand-off needs of the inbound journal: a non-blocking append (loop thread)."""

    def append(self, record: InboundMessage) -> None: ...


class GatewayApplication(fix.Application):
    """The ``quickfix.Application`` of the gateway: copies, checks, journals, dispatches.

    Its callbacks run on the loop thread inside a QuickFIX poll (``loop`` is that loop); a
    callback arriving on another thread is handed to the loop instead. ``outbox`` sends the
    BusinessMessageRejects produced for failed callbacks (after the poll). ``inbox`` may be None
    until :meth:`use_inbox` (before the connectors start).
    """

    def __init__(self, config: GatewayConfig, inbox: Inbox | None, loop: asyncio.AbstractEventLoop,
                 outbox: QuickFixOutbox, journal: InboundJournalLike | None = None,
                 journal_types: frozenset[str] = frozenset(),
                 logon_gate: Callable[[SessionKey], str | None] | None = None) -> None:
        super().__init__()
        self._config = config
        self._inbox: Inbox = inbox if inbox is not None else _NoInbox()
        self._loop = loop
        self._outbox = outbox
        # Order-changing messages are journaled before fromApp returns, so a crash after QuickFIX
        # consumed their MsgSeqNum cannot lose them (gateway.store.inbound_journal).
        self._journal = journal
        self._journal_types = journal_types
        # gateway.ops: Text(58) to refuse a Logon with (operator disabled it, Zenith down), or None.
        self._logon_gate = logon_gate
        if outbox._loop is None:
            outbox.bind(loop)
        self._keys: dict[str, SessionKey] = {}
        # (BeginString, our CompID, theirs) -> the one session with them; None: more than one
        self._by_comp_ids: dict[tuple[str, str, str], SessionKey | None] = {}
        self._sessions: dict[SessionKey, SessionConfig | None] = {}
        self._lock = threading.Lock()   # onCreate may run on a thread starting a connector
        self.callback_errors = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop whose thread runs QuickFIX's polls (and so these callbacks)."""
        return self._loop

    # -- helpers ---------------------------------------------------------------------------

    def _key(self, session_id: fix.SessionID) -> SessionKey:
        text = _session_id_text(session_id)
        key = self._keys.get(text)
        if key is None:
            key = key_of(session_id)
            with self._lock:
                self._keys[text] = key
                # What a message of this session carries: ours is its TargetCompID(56).
                comp = (key.begin_string, key.sender_comp_id, key.target_comp_id)
                known = self._by_comp_ids.get(comp, key)
                # Two sessions told apart only by their qualifier: their messages are not.
                self._by_comp_ids[comp] = key if known == key else None
        return key

    def _key_of_text(self, text: str, session_id: fix.SessionID) -> SessionKey:
        """The key of the session a received message's ``text`` (its ``toString()``) came on.

        From the text's BeginString(8), SenderCompID(49) and TargetCompID(56) when they name one
        known session (every session is created, and known here, before its first message):
        QuickFIX has checked them against the session before ``fromApp`` (CheckCompID=Y on every
        session, gateway.config.quickfix_settings; BeginString always). It saves a SWIG call
        (SessionID::toString, ~9 us with the cold caches of an order at 200/s); anything else
        asks the SessionID. QuickFIX writes 8 first and the header (49 and 56 among it) before the
        body, and no header field before them may hold an SOH, so the first "49=" and "56=" after
        an SOH are the header's."""
        begin_end = text.find(SOH)
        sender_at = text.find("\x0149=")
        target_at = text.find("\x0156=")
        if text.startswith("8=") and begin_end > 0 and sender_at > 0 and target_at > 0:
            sender_end = text.find(SOH, sender_at + 4)
            target_end = text.find(SOH, target_at + 4)
            key = self._by_comp_ids.get((text[2:begin_end], text[target_at + 4:target_end],
                                         text[sender_at + 4:sender_end]))
            if key is not None:
                return key
        return self._key(session_id)

    def use_inbox(self, inbox: Inbox) -> None:
        """The services, once they exist (before the connectors start)."""
        self._inbox = inbox

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

    def _dispatch(self, record: InboundMessage) -> None:
        """Give ``record`` to the services now (loop thread), or hand it to the loop."""
        if not loop_is_current_or_idle(self._loop):   # running, on another thread
            self._loop.call_soon_threadsafe(self._dispatch, record)
            return
        try:
            self._inbox.dispatch(record)
        except Exception:   # dispatch contains service errors; this is a bug in it
            log.exception("dispatch failed on %s MsgSeqNum=%s", record.session, record.msg_seq_num)

    def _post(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` now on the loop thread (or hand it over); failures are logged."""
        if not loop_is_current_or_idle(self._loop):   # running, on another thread
            try:
                self._loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:
                log.warning("event loop closed; dropped %s", getattr(fn, "__name__", fn))
            return
        try:
            fn(*args)
        except Exception:
            log.exception("%s failed", getattr(fn, "__name__", fn))

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
                self._outbox.send(reject)   # after the poll: QuickFIX is inside fromApp now
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
        # Runs under the session mutex inside Session::send: nothing here may block.
        # QuickFIX C++ (Session::generateBusinessReject) writes DefaultApplVerID(1137) into the
        # body of its own FIXT.1.1 35=j; 1137 belongs to Logon only, so a strict partner Rejects
        # it. QuickFIX makes such a j only inside a poll (answering a message it read); every
        # message of the gateway's own (built without 1137) goes out through the outbox, which
        # never calls QuickFIX inside a poll (it waits for the poll's end). So outside a poll
        # there is nothing to clean and no SWIG call is made: the order path's common case.
        outbox = self._outbox
        driver = outbox._driver
        if (driver is not None and not driver.busy) or outbox.sending_md:
            return   # no driver (threaded QuickFIX): W/X bodies of ours only (gateway.fix.md_send)
        try:
            if message.isSetField(1137) and message.getHeader().getField(35) != "A":
                message.removeField(1137)
        except Exception:   # never let an exception reach the engine (Py_Exit)
            log.exception("toApp clean-up failed")

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        origin = stages.open_origin(stages.Kind.FIX)   # gateway-added latency is timed from here
        try:
            text = _message_text(message)
            bad = invalid_text_tag(text)
            if bad is not None:
                # Bytes that are not text (issue 9): refused here with a session Reject
                # SessionRejectReason(373)=6 naming the field; nothing of it is journaled or
                # dispatched, so it can reach neither Plxtra nor another session's state.
                log.warning("refused MsgSeqNum=%s on %s: tag %d is not valid text",
                            _seq_of(message), self._key(sessionID), bad)
                raise fix.IncorrectDataFormat(bad)
            record = record_from_text(text, self._key_of_text(text, sessionID))
            if record.msg_type not in self._inbox.handled_types:
                # QuickFIX answers with 35=j BusinessRejectReason=3 (FIX 4.2+).
                raise fix.UnsupportedMessageType()
            if self._journal is not None and record.msg_type in self._journal_types:
                # Not journaled, not dispatched: refused below with a 35=j. Dispatched, a crash
                # before its decision would lose it, QuickFIX having counted its MsgSeqNum.
                self._journal.append(record)
                crash_point("journal-appended")
            self._dispatch(record)
        except _FROM_APP_ALLOWED:
            raise
        except Exception:
            self._failed("fromApp", message, sessionID, reply=True)
        finally:
            stages.close_origin(origin)

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
