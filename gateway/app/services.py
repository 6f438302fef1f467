"""The seam between the FIX engine and the gateway's application services.

A *service* (orders, market data, ...) declares the application MsgTypes it handles and
receives, on the asyncio loop thread, each such message as a plain :class:`InboundMessage`
together with the :class:`SessionConfig` of the session it came on. It answers by handing
:class:`OutboundMessage` records to the :class:`Outbox`, never by touching QuickFIX.

:class:`ServiceRegistry` routes by MsgType and turns a service failure into a
BusinessMessageReject (35=j) instead of a dead gateway. Services may also define
``async def start(self)`` (awaited once before the FIX engine accepts connections) and
``async def close(self)`` (awaited at shutdown, after the engine stopped); both optional.

The registry is also where the session's message rate is enforced (:mod:`gateway.app.throttle`):
every application message passes the throttle once, here, before any service sees it. A refused
message is answered by its service when the service implements :class:`RefusesThrottled` (the
orders service does: its refusals of D/F/G/q are decisions, made durable like any other), else
by the registry with :func:`gateway.app.throttle.throttle_answer`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from gateway.app.throttle import ThrottleGate, throttle_answer, throttle_text
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.rejects import BusinessRejectReason, ref_id_of, reject_inbound
from gateway.vocab.version import FixVersion

__all__ = ["FixService", "Outbox", "RefusesThrottled", "ServiceRegistry"]

THROTTLE_LOGOUT_TEXT = "Message rate limit exceeded"

log = logging.getLogger("gateway.app.services")


@runtime_checkable
class FixService(Protocol):
    """An application service fed by the FIX engine. Every method runs on the loop thread."""

    msg_types: frozenset[str]   # application MsgTypes handled, e.g. {"V", "x", "c", "e", "g"}

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None: ...

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None: ...

    def on_logout(self, key: SessionKey) -> None: ...


@runtime_checkable
class RefusesThrottled(Protocol):
    """A service that answers the throttle refusals of its own MsgTypes itself.

    ``refuse_throttled`` runs on the loop thread instead of ``on_message`` for a message over the
    session's rate; ``text`` is the Text(58) to answer with. The service decides and answers it
    (e.g. durably, with an ExecID from its store); a repeat of a request it decided earlier
    stays unanswered, as in ``on_message``. The registry logs the session out afterwards when the
    session's throttle action is ``logout``.
    """

    def refuse_throttled(self, msg: InboundMessage, session: SessionConfig, text: str) -> None: ...


@runtime_checkable
class Outbox(Protocol):
    """Hand-off of application messages to QuickFIX; never blocks the caller.

    ``on_sent(ok)`` runs on the loop once QuickFIX accepted (True: MsgSeqNum assigned, message
    stored) or refused the message (False; also when the session's queue is full).
    ``backlog(session)`` counts messages queued for a session and not yet accepted.
    ``logout(session, text)`` logs the session out after what is already queued for it.
    """

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None: ...

    def backlog(self, session: SessionKey) -> int: ...

    def logout(self, session: SessionKey, text: str = "") -> None: ...


class ServiceRegistry:
    """MsgType -> service routing, session events fan-out, failure containment.

    ``handled_types`` is read inside QuickFIX's callbacks (to answer unsupported types with a j,
    reason 3, before the message reaches the loop); it is an immutable frozenset replaced
    whole on :meth:`register`, so readers never see a half-built set. Register every
    service before the engine starts.
    """

    def __init__(
        self,
        config: GatewayConfig,
        outbox: Outbox,
        services: Iterable[FixService] = (),
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._services: list[FixService] = []
        self._by_type: dict[str, FixService] = {}
        self._sessions: dict[SessionKey, SessionConfig | None] = {}
        self._now = clock or (lambda: datetime.now(UTC))
        self._gate = ThrottleGate(monotonic, self._deliver, self._refuse, self._spawn)
        # MsgType -> the refuse_throttled of the service that answers its own refusals, found
        # once at registration (a Protocol isinstance check per refused message costs more than
        # the answer).
        self._refusers: dict[str, Callable[[InboundMessage, SessionConfig, str], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.handled_types: frozenset[str] = frozenset()
        for service in services:
            self.register(service)

    @property
    def services(self) -> tuple[FixService, ...]:
        return tuple(self._services)

    def register(self, service: FixService) -> None:
        """Add ``service``; a MsgType already claimed by another service is a configuration bug."""
        for msg_type in service.msg_types:
            other = self._by_type.get(msg_type)
            if other is not None:
                both = f"{type(other).__name__} and {type(service).__name__}"
                raise ValueError(f"MsgType {msg_type!r} is handled by both {both}")
        self._services.append(service)
        refuser = service.refuse_throttled if isinstance(service, RefusesThrottled) else None
        for msg_type in service.msg_types:
            self._by_type[msg_type] = service
            if refuser is not None:
                self._refusers[msg_type] = refuser
        self.handled_types = frozenset(self._by_type)

    def use_config(self, config: GatewayConfig) -> None:
        """After a reload (loop thread): sessions added to ``config`` are known from now on."""
        self._config = config
        self._sessions = {}

    def session_config(self, key: SessionKey) -> SessionConfig | None:
        """The configured session for ``key`` (our CompID is ``key.sender_comp_id``)."""
        try:
            return self._sessions[key]
        except KeyError:
            found = self._config.session_for(key.begin_string, key.sender_comp_id, key.target_comp_id)
            self._sessions[key] = found
            return found

    # -- loop-thread entry points (called through the hand-off) --------------------------------

    def dispatch(self, msg: InboundMessage) -> None:
        """Give ``msg`` to its service once the session's throttle admits it (now, or later for
        the ``queue`` action); a refusal is answered (:mod:`gateway.app.throttle`); any failure
        becomes a 35=j on the same session."""
        service = self._by_type.get(msg.msg_type)
        if service is None:
            self._reject(msg, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE,
                         f"Unsupported message type {msg.msg_type}")
            return
        session = self.session_config(msg.session)
        if session is None:
            self._reject(msg, BusinessRejectReason.APPLICATION_NOT_AVAILABLE, "Session not configured")
            return
        self._gate.admit(session.name, msg, session)   # one bucket per configured session

    def queued(self, key: SessionKey) -> int:
        """Messages of ``key`` the throttle holds (action ``queue``) and no service has seen yet."""
        session = self.session_config(key)
        return self._gate.queued(session.name) if session is not None else 0

    def _deliver(self, msg: InboundMessage, session: SessionConfig, name: str) -> None:
        service = self._by_type.get(msg.msg_type)
        if service is None:   # only if a service went away while the message was queued
            return
        try:
            service.on_message(msg, session)
        except Exception as exc:   # a bug in a service must cost one message, not the gateway
            log.exception(
                "service %s failed on %s MsgType=%s MsgSeqNum=%s RefID=%s",
                type(service).__name__, msg.session, msg.msg_type, msg.msg_seq_num,
                ref_id_of(msg.msg_type, msg.fields),
            )
            self._reject(msg, BusinessRejectReason.OTHER,
                         f"Internal error processing message ({type(exc).__name__})")

    def logon(self, key: SessionKey) -> None:
        session = self.session_config(key)
        if session is None:
            log.warning("logon on unconfigured session %s ignored by services", key)
            return
        for service in self._services:
            try:
                service.on_logon(key, session)
            except Exception:
                log.exception("service %s failed in on_logon for %s", type(service).__name__, key)

    def logout(self, key: SessionKey) -> None:
        for service in self._services:
            try:
                service.on_logout(key)
            except Exception:
                log.exception("service %s failed in on_logout for %s", type(service).__name__, key)

    async def start(self) -> None:
        """Await each service's optional ``start()`` (before the engine accepts logons)."""
        for service in self._services:
            await _maybe_await(getattr(service, "start", None))

    async def close(self) -> None:
        """Drop messages the throttle still holds, then await each service's optional
        ``close()``, last registered first; never raises."""
        for task in list(self._tasks):
            task.cancel()
        for service in reversed(self._services):
            try:
                await _maybe_await(getattr(service, "close", None))
            except Exception:
                log.exception("service %s failed to close", type(service).__name__)

    def _refuse(self, name: str, msg: InboundMessage, session: SessionConfig, logout: bool) -> None:
        """Over the session's rate: the message is answered (by its service when it can decide
        it, see :class:`RefusesThrottled`), then, for action ``logout``, the session logs out."""
        text = throttle_text(session.limits)
        refuser = self._refusers.get(msg.msg_type)
        try:
            if refuser is not None:
                refuser(msg, session, text)
            else:
                version = FixVersion.of_begin_string(session.begin_string)
                self._outbox.send(throttle_answer(msg, version, text, self._now()))
        except Exception:
            log.exception("could not refuse throttled %s MsgSeqNum=%s on %s", msg.msg_type,
                          msg.msg_seq_num, msg.session)
        if logout:
            # Every throttled message is answered first; the outbox merges repeated logouts.
            self._outbox.logout(msg.session, THROTTLE_LOGOUT_TEXT)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reject(self, msg: InboundMessage, reason: BusinessRejectReason, text: str) -> None:
        try:
            self._outbox.send(reject_inbound(msg, reason, text))
        except Exception:
            log.exception("could not send BusinessMessageReject on %s", msg.session)


async def _maybe_await(method: object) -> None:
    if method is None or not callable(method):
        return
    result = method()
    if inspect.isawaitable(result):
        await result

