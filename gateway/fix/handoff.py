"""THE hand-off between QuickFIX's threads and the asyncio loop (see STYLE.md, "fix").

Inbound: :class:`GatewayApplication` (the ``quickfix.Application``) copies each application
message into an :class:`InboundMessage` and schedules ``inbox.dispatch(record)`` on the loop
with ``loop.call_soon_threadsafe``; it never blocks and never waits for the loop, because
QuickFIX holds the session mutex around these callbacks.

Outbound: :class:`QuickFixOutbox` turns :class:`OutboundMessage` records into
``quickfix.Message`` objects and calls ``quickfix.Session.sendToTarget``; it is safe to call
from any thread (QuickFIX serialises per session). The send is direct, on the caller's thread
(the loop): no extra thread hop or GIL hand-over on the order path. The cost is that a
partner whose TCP window is full blocks that send (the threaded acceptor writes with a
blocking socket); QuickFIX's ``SocketSendBufferSize`` is the knob if that ever matters.

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
from collections import deque
from collections.abc import Callable
from typing import Protocol

import quickfix as fix

from gateway.config.model import GatewayConfig, Role, SessionConfig
from gateway.fix.convert import Dictionaries, key_of, session_id_of, to_quickfix, to_record
from gateway.fix.records import InboundMessage, OutboundMessage, SessionKey
from gateway.fix.rejects import BusinessRejectReason, business_reject, ref_id_of
from gateway.fix.wire import split_fields

__all__ = ["GatewayApplication", "Inbox", "QuickFixOutbox"]

log = logging.getLogger("gateway.fix.handoff")

# Exceptions the binding translates into QuickFIX's C++ exceptions, per callback.
_FROM_APP_ALLOWED = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue,
                     fix.UnsupportedMessageType)
_FROM_ADMIN_ALLOWED = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue, fix.RejectLogon)
_TO_APP_ALLOWED = (fix.DoNotSend,)

_USERNAME, _PASSWORD, _RESET_SEQ_NUM_FLAG = 553, 554, 141
_DRAIN_BATCH = 256   # inbound records dispatched per loop callback before yielding


class Inbox(Protocol):
    """What the loop side offers the hand-off (``gateway.app.services.ServiceRegistry``)."""

    handled_types: frozenset[str]

    def dispatch(self, msg: InboundMessage) -> None: ...

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


class QuickFixOutbox:
    """Sends records through QuickFIX. Thread-safe: QuickFIX locks the session per send.

    ``dictionaries`` gives the data dictionaries of a session (for repeating groups). A
    message for a session that is not logged on is stored by QuickFIX (sent on resend
    request, as FIX requires) and logged here as not sent.
    """

    def __init__(self, dictionaries: Callable[[SessionKey], Dictionaries | None]) -> None:
        self._dictionaries = dictionaries
        self._cache: dict[SessionKey, tuple[fix.SessionID, Dictionaries | None]] = {}
        self.sent = 0
        self.failed = 0

    def send(self, msg: OutboundMessage) -> None:
        entry = self._cache.get(msg.session)
        if entry is None:
            entry = (session_id_of(msg.session), self._dictionaries(msg.session))
            self._cache[msg.session] = entry
        session_id, dictionaries = entry
        try:
            message = to_quickfix(msg, dictionaries)
            ok = fix.Session.sendToTarget(message, session_id)
        except fix.SessionNotFound:
            self.failed += 1
            log.warning("dropped %s for unknown session %s", msg.msg_type, msg.session)
            return
        except Exception:
            # A record QuickFIX cannot parse is a bug in the caller; never let it kill the loop.
            self.failed += 1
            log.exception("could not send %s on %s", msg.msg_type, msg.session)
            return
        if ok:
            self.sent += 1
        else:
            self.failed += 1
            log.info("%s on %s stored, not sent (session not logged on)", msg.msg_type, msg.session)


class GatewayApplication(fix.Application):
    """The ``quickfix.Application`` of the gateway: copies, checks, hands off; nothing else.

    ``outbox`` sends the BusinessMessageRejects produced for failed callbacks (on the loop).
    """

    def __init__(self, config: GatewayConfig, inbox: Inbox, loop: asyncio.AbstractEventLoop,
                 outbox: QuickFixOutbox) -> None:
        super().__init__()
        self._config = config
        self._inbox = inbox
        self._loop = loop
        self._outbox = outbox
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
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            record = to_record(message, self._key(sessionID))
            if record.msg_type not in self._inbox.handled_types:
                # QuickFIX answers with 35=j BusinessRejectReason=3 (FIX 4.2+).
                raise fix.UnsupportedMessageType()
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


def _is_logon(message: fix.Message) -> bool:
    try:
        return message.getHeader().getField(35) == "A"
    except Exception:
        return False
