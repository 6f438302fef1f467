"""The asyncio edge of the Zenith client: one WebSocket, fed into :class:`ZenithProtocol`.

The edge owns the connection, time and tasks; the core owns every decision. Inbound frames run
through the core *inline* from the socket callback (:mod:`gateway.zenith.transport`): results
resolve futures (:meth:`ZenithClient.request`) or call back (:meth:`ZenithClient.send_request`, no
task or future per call), publishes call subscriber callbacks directly, no task per message.
Per connection one watcher task waits for the close and one keep-alive task pings every
``ping_interval`` and aborts the connection after ``dead_after`` seconds of silence (§1.11).
A supervisor task reconnects with capped, jittered back-off whatever the close code (1000
included: a graceful server restart closes with it) until :meth:`ZenithClient.close`;
authenticates, tells subscribers :class:`StreamReset` and subscribes every live topic again.
A connection that ends within ``stable_after`` seconds of being established does not reset the
back-off, so a server that keeps dropping the client is retried ever more slowly, not in a loop.
Every task lives in ``self._tasks`` and stops in :meth:`ZenithClient.close`; every network wait
has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidState,
    InvalidStatus,
    InvalidURI,
    ProtocolError,
)

from gateway import __version__
from gateway.zenith.errors import (
    ZenithAuthError,
    ZenithConnectionError,
    ZenithError,
    ZenithRequestError,
    ZenithTimeout,
)
from gateway.zenith.events import SubscriptionClosed, SubscriptionEvent
from gateway.zenith.protocol import (
    CallFailed,
    CallResult,
    ControllerError,
    DataDecoder,
    Deliver,
    ErrorHeld,
    Subscription,
    ZenithProtocol,
    backoff_delay,
    backoff_start,
    refresh_delay,
)
from gateway.zenith.transport import ZenithConnection
from gateway.zenith.values import parse_datetime, parse_timespan

__all__ = ["ZenithClient"]

log = logging.getLogger("gateway.zenith")

SUBPROTOCOL = "ZenithJson"
PROTOCOL_VERSION = "2.0"


def versioned_url(url: str) -> str:
    """Add ``version=2.0`` to the query unless the URL already names a version (§1.3)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k == "version" for k, _ in query):
        query.append(("version", PROTOCOL_VERSION))
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class _Answer:
    """The waiter of one :meth:`ZenithClient.send_request`: the core settles it like a future
    (``done`` / ``set_result`` / ``set_exception``), and it calls back at once, once."""

    __slots__ = ("_fn", "timer")

    def __init__(self, fn: Callable[[Any, ZenithError | None], None]) -> None:
        self._fn: Callable[[Any, ZenithError | None], None] | None = fn
        self.timer: asyncio.TimerHandle | None = None

    def done(self) -> bool:
        return self._fn is None

    def set_result(self, data: Any) -> None:
        self._settle(data, None)

    def set_exception(self, error: BaseException) -> None:
        if not isinstance(error, ZenithError):  # the core fails calls with ZenithErrors only
            error = ZenithError(str(error))
        self._settle(None, error)

    def _settle(self, data: Any, error: ZenithError | None) -> None:
        fn, self._fn = self._fn, None
        if fn is None:
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        try:
            fn(data, error)
        except Exception:  # the reader, a timer or the loss handling called us: keep them alive
            log.exception("Zenith answer callback raised")


class ZenithClient:
    """Zenith WebSocket client (interfaces.md): RPC by TransactionID, shared subscriptions,
    authentication and refresh, reconnection with resubscription.

    ``auth_method`` is ``"bearer"`` (token in the handshake, §2.3) or ``"authtoken"``
    (``Auth:AuthToken`` after connecting, §2.4). ``token_provider``, when given, is awaited for a
    fresh token before each refresh and reconnection (e.g. an OAuth refresh-token grant).
    ``compression`` offers permessage-deflate (§1.1); the default offers it except on loopback,
    where compressing every small frame only burns CPU on both ends.
    """

    def __init__(
        self,
        url: str,
        token: str,
        auth_method: str = "bearer",
        request_timeout: float = 10.0,
        *,
        token_provider: Callable[[], Awaitable[str]] | None = None,
        connect_timeout: float = 10.0,
        close_timeout: float = 2.0,
        ping_interval: float = 30.0,
        dead_after: float = 60.0,
        reconnect_initial: float = 0.25,
        reconnect_max: float = 30.0,
        max_reconnect_attempts: int | None = None,
        stable_after: float = 10.0,
        rand: Callable[[], float] = random.random,
        compression: bool | None = None,
        max_size: int = 16 * 1024 * 1024,
        user_agent: str | None = None,
        ssl_context: Any = None,
    ) -> None:
        method = auth_method.lower()
        if method not in ("bearer", "authtoken"):
            raise ValueError(f"auth_method must be 'bearer' or 'authtoken', not {auth_method!r}")
        if request_timeout <= 0 or connect_timeout <= 0 or dead_after <= 0 or ping_interval <= 0:
            raise ValueError("timeouts and intervals must be positive")
        self.url = versioned_url(url)
        self.token = token
        self.auth_method = method
        self.request_timeout = request_timeout
        self._token_provider = token_provider
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._ping_interval = ping_interval
        self._dead_after = dead_after
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._max_reconnect_attempts = max_reconnect_attempts
        self._stable_after = stable_after
        self._up_since = 0.0      # loop time the current connection was established
        self._flaps = 0           # consecutive connections that ended before stable_after
        self._rand = rand
        if compression is None:
            compression = not is_loopback(self.url)
        self._compression = "deflate" if compression else None
        self._max_size = max_size
        self._user_agent = user_agent or f"plxtra-fix/{__version__}"
        # wss:// only: verifies Plxtra's certificate (None: websockets' default, the system CAs).
        self._ssl_context = ssl_context

        self._core = ZenithProtocol()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: ZenithConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listeners: list[Callable[[bool], None]] = []
        self._connected = False
        self._started = False
        self._closing = False
        self._refresh_handle: asyncio.TimerHandle | None = None
        self.identity: dict[str, Any] = {}          # last Identify payload (§2.7)
        self.last_error: ZenithError | None = None  # why the client stopped, if it did
        self.reconnects = 0
        self._last_close_code: int | None = None
        self.auth_refreshes = 0
        self.requests_sent = 0      # send_request calls that went on the wire (tests, metrics)

    # -- public API ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while authenticated and resubscribed on a live connection."""
        return self._connected

    @property
    def closed(self) -> bool:
        return self._closing

    def add_connection_listener(self, fn: Callable[[bool], None]) -> None:
        """``fn(True)`` after each (re)connect, ``fn(False)`` after each drop, on the loop thread."""
        self._listeners.append(fn)

    def remove_connection_listener(self, fn: Callable[[bool], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    async def start(self) -> None:
        """Connect and authenticate; raises :class:`ZenithAuthError` or :class:`ZenithConnectionError`.

        After a successful start the client reconnects on its own until :meth:`close`.
        """
        if self._started:
            raise ZenithError("ZenithClient.start() called twice")
        self._started = True
        self._loop = asyncio.get_running_loop()
        try:
            await self._establish()
        except BaseException:
            self._closing = True
            await self._stop_tasks()
            raise
        self._spawn(self._supervise(), "zenith-supervisor")

    async def start_in_background(self) -> None:
        """Like :meth:`start`, but a Zenith that cannot be reached yet is no error: the client keeps
        connecting with the reconnect back-off, and connection listeners hear when it succeeds.
        A refused token still raises :class:`ZenithAuthError` (retrying would not help).
        Used by the gateway so that it starts, and says it is not ready, while Plxtra is down.
        """
        if self._started:
            raise ZenithError("ZenithClient.start() called twice")
        self._started = True
        self._loop = asyncio.get_running_loop()
        try:
            await self._establish()
        except ZenithAuthError:
            self._closing = True
            await self._stop_tasks()
            raise
        except ZenithError as exc:
            log.warning("Zenith not reachable at start (%s): retrying with back-off", exc)
        self._spawn(self._supervise(), "zenith-supervisor")

    async def request(
        self, controller: str, topic: str, data: Any = None, timeout: float | None = None
    ) -> Any:
        """Call an action (§1.6) and return the result ``Data`` (Decimals for non-integers).

        Raises :class:`ZenithRequestError` for an ``Error`` answer, :class:`ZenithTimeout` after
        ``timeout`` (default ``request_timeout``) seconds, :class:`ZenithConnectionError` when not
        connected or when the connection drops before the answer.
        """
        if not self._connected:
            raise ZenithConnectionError(
                f"not connected to Zenith: cannot call {controller}:{topic}"
                + (f" ({self.last_error})" if self.last_error else "")
            )
        return await self._call(controller, topic, data, timeout)

    def send_request(
        self,
        controller: str,
        topic: str,
        data: Any,
        on_answer: Callable[[Any, ZenithError | None], None],
        timeout: float | None = None,
        decode: DataDecoder | None = None,
    ) -> None:
        """Call an action (§1.6) without a coroutine: ``on_answer(data, None)`` with the result
        ``Data``, or ``on_answer(None, error)`` with the error :meth:`request` would raise.

        ``on_answer`` runs exactly once, on the loop thread, never before this method returns: the
        answer from the reader's dispatch of its frame (no task, no future), a timeout from the
        request's one ``call_later`` timer (cancelled by the answer; a ``Cancel`` is sent, §1.5), a
        connection loss from the loss handling, a failure to send (not connected, closing) on the
        next loop turn. It must not raise (it is logged if it does). ``decode``: the answer's
        ``Data`` typed by it when it accepts it (:meth:`ZenithProtocol.start_call`).
        """
        loop = self._loop or asyncio.get_running_loop()
        waiter = _Answer(on_answer)
        ws = self._ws
        error: ZenithError | None = None
        if not self._connected or ws is None:
            error = ZenithConnectionError(
                f"not connected to Zenith: cannot call {controller}:{topic}"
                + (f" ({self.last_error})" if self.last_error else "")
            )
        else:
            try:
                tid, text = self._core.start_call(controller, topic, data, waiter, decode)
            except ZenithError as exc:
                error = exc
            else:
                try:
                    ws.send_text_soon(text)
                except (InvalidState, ProtocolError):
                    self._core.abandon_call(tid, waiter)
                    error = ZenithConnectionError(
                        f"Zenith connection closing: cannot send {controller}:{topic}", ws.close_code
                    )
                else:
                    limit = timeout if timeout is not None else self.request_timeout
                    waiter.timer = loop.call_later(limit, self._timed_out, tid, waiter, controller, topic,
                                                   limit)
                    self.requests_sent += 1
                    return
        # Never inside the caller's own frame: it may be in the middle of acting on an event.
        loop.call_soon(waiter.set_exception, error)

    def subscribe(
        self,
        controller: str,
        topic: str,
        callback: Callable[[SubscriptionEvent], None],
        *,
        resync: bool = True,
        decode: DataDecoder | None = None,
    ) -> Subscription:
        """Subscribe to (controller, topic); one ``Sub`` on the wire however many subscribers.

        ``callback(event)`` runs on the loop thread in wire order. May be called before
        :meth:`start` or while reconnecting: the ``Sub`` goes out once connected. A subscriber
        joining a topic whose snapshot has already passed makes the client subscribe again on the
        wire (``resync``) so it gets one; the others see :class:`StreamReset` first. ``decode``:
        the publishes' ``Data`` typed by it (:meth:`ZenithProtocol.subscribe`).
        """
        if self._closing:
            raise ZenithConnectionError("the Zenith client is closed")
        sub, frames, delivery = self._core.subscribe(
            controller, topic, callback, self._release, resync=resync, decode=decode
        )
        if delivery is not None:
            if type(delivery.event) is SubscriptionClosed:
                # Refused locally: told on the next loop turn, once the caller holds ``sub``.
                self._deliver_soon(delivery)
            else:
                self._deliver(delivery)
        for text in frames:
            self._send_soon(text)
        return sub

    async def close(self) -> None:
        """Close the connection and stop every task; pending calls fail, subscribers are told
        :class:`SubscriptionClosed`. Idempotent."""
        if self._closing and not self._tasks and self._ws is None:
            return
        self._closing = True
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), self._close_timeout + 1.0)
        await self._stop_tasks()
        self._lost(ws, ZenithConnectionError("the Zenith client was closed"))
        for delivery in self._core.close_all(ZenithConnectionError("the Zenith client was closed")):
            self._deliver(delivery)

    # -- connection ----------------------------------------------------------------------------

    async def _establish(self) -> None:
        """Open, authenticate, resubscribe, announce. Raises ZenithAuthError / ZenithConnectionError."""
        if self._token_provider is not None:
            self.token = await asyncio.wait_for(self._token_provider(), self._connect_timeout)
        headers = {}
        if self.auth_method == "bearer":
            headers["Authorization"] = f"Bearer {self.token}"
        on_frame = self._on_frame

        def make_connection(*args: Any, **kwargs: Any) -> ZenithConnection:
            return ZenithConnection(*args, on_message=on_frame, **kwargs)

        try:
            ws = await connect(
                self.url,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                additional_headers=headers,
                user_agent_header=self._user_agent,
                compression=self._compression,
                open_timeout=self._connect_timeout,
                close_timeout=self._close_timeout,
                ping_interval=None,  # our own keep-alive: it also watches for silence
                ping_timeout=None,
                max_size=self._max_size,
                proxy=None,
                create_connection=make_connection,  # type: ignore[arg-type]
                **({"ssl": self._ssl_context} if self._ssl_context is not None else {}),
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise ZenithAuthError(
                    f"Zenith refused the token (HTTP {status}) at {self.url}", status=status
                ) from exc
            raise ZenithConnectionError(f"Zenith handshake failed at {self.url}: HTTP {status}") from exc
        except (InvalidURI, InvalidHandshake) as exc:
            raise ZenithConnectionError(f"Zenith handshake failed at {self.url}: {exc}") from exc
        except (OSError, TimeoutError) as exc:
            raise ZenithConnectionError(
                f"cannot connect to Zenith at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        if ws.subprotocol not in (None, SUBPROTOCOL):
            await ws.close(1002)
            raise ZenithConnectionError(f"Zenith chose sub-protocol {ws.subprotocol!r}, not ZenithJson")

        assert isinstance(ws, ZenithConnection)
        self._ws = ws
        ws.last_frame = asyncio.get_running_loop().time()
        self._core.connection_made()
        self._reader = self._spawn(self._read(ws), "zenith-reader")
        self._spawn(self._keepalive(ws), "zenith-keepalive")
        try:
            await self._authenticate()
            deliveries, frames = self._core.resubscribe()
            for text in frames:
                # Written now or at the next loop turn, but any answer is read at a later turn,
                # and no await comes before the deliveries below: no snapshot can precede...
                ws.send_text_soon(text)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), self._close_timeout + 1.0)
            if isinstance(exc, (ConnectionClosed, InvalidState, ProtocolError)):
                raise ZenithConnectionError(
                    f"Zenith closed the connection during start-up: {exc}", ws.close_code
                ) from exc
            raise
        self._connected = True
        self._up_since = asyncio.get_running_loop().time()
        # ...these StreamResets, and a subscriber reacting to one may already call request().
        for delivery in deliveries:
            self._deliver(delivery)
        for fn in list(self._listeners):
            self._notify(fn, True)

    async def _authenticate(self) -> None:
        if self.auth_method == "authtoken":
            await self._auth_token()
            return
        # Bearer: the handshake authenticated us; Identify tells the expiry to refresh before (§2.3).
        try:
            identity = await self._call("Auth", "QueryIdentify", None, self._connect_timeout)
        except (ZenithRequestError, ZenithTimeout) as exc:
            log.info("Zenith QueryIdentify not answered (%s); token refresh disabled", exc)
            return
        if isinstance(identity, dict):
            self._adopt_identity(identity)

    async def _auth_token(self) -> None:
        try:
            result = await self._call(
                "Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": self.token}, self._connect_timeout
            )
        except ZenithRequestError as exc:  # an Error container instead of Result:Reject
            raise ZenithAuthError(f"Zenith refused the AuthToken: {exc.code} {exc.suffix}".strip()) from exc
        outcome = result.get("Result") if isinstance(result, dict) else None
        if outcome != "Success":
            raise ZenithAuthError(
                f"Zenith rejected the AuthToken (Result {outcome!r})", result=str(outcome)
            )
        self._adopt_identity(result)

    def _adopt_identity(self, identity: dict[str, Any]) -> None:
        self.identity = identity
        lifetime: float | None = None
        try:
            span = parse_timespan(identity.get("ExpiresIn"))
            if span is not None:
                lifetime = span.total_seconds()
            else:
                expiry = parse_datetime(identity.get("ExpiryDate"))
                if expiry is not None:
                    lifetime = (expiry - datetime.now(UTC)).total_seconds()
        except ValueError as exc:
            log.warning("Zenith identity has an unreadable expiry (%s); token refresh disabled", exc)
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        if lifetime is not None and lifetime > 0 and self._loop is not None:
            delay = refresh_delay(lifetime)
            self._refresh_handle = self._loop.call_later(delay, self._refresh_due)
            log.debug("Zenith token lifetime %.0f s: refresh in %.0f s", lifetime, delay)

    def _refresh_due(self) -> None:
        self._refresh_handle = None
        if not self._closing:
            self._spawn(self._refresh(), "zenith-auth-refresh")

    async def _refresh(self) -> None:
        """Re-send AuthToken on the same connection (§2.9); retry every 30 s if it fails."""
        try:
            if self._token_provider is not None:
                self.token = await asyncio.wait_for(self._token_provider(), self._connect_timeout)
            await self._auth_token()
            self.auth_refreshes += 1
            log.info("Zenith token refreshed")
        except Exception as exc:  # whatever failed (server or token provider), try again later
            log.warning("Zenith token refresh failed: %s; retrying in 30 s", exc)
            if not self._closing and self._loop is not None:
                self._refresh_handle = self._loop.call_later(30.0, self._refresh_due)

    async def _supervise(self) -> None:
        """Wait for each connection to end and reconnect, whatever the close code (issue 9: a
        client that gives up leaves every partner without Plxtra until the gateway restarts)."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            reader = self._reader
            if reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(reader)
            if self._closing:
                return
            if loop.time() - self._up_since < self._stable_after:
                self._flaps += 1
            else:
                self._flaps = 0
            code = self._last_close_code
            start = max(backoff_start(code), self._flaps - 1)
            if start:
                log.warning("Zenith closed the connection (code %s, %d short-lived connection(s) in a row): "
                            "reconnecting with a longer back-off", code, self._flaps)
            if not await self._reconnect(start):
                return

    async def _reconnect(self, attempt: int = 0) -> bool:
        tries = 0
        while not self._closing:
            delay = backoff_delay(attempt, self._reconnect_initial, self._reconnect_max, self._rand)
            log.info("Zenith reconnecting in %.2f s (attempt %d)", delay, attempt + 1)
            await asyncio.sleep(delay)
            if self._closing:
                return False
            try:
                await self._establish()
            except ZenithAuthError as exc:
                self._fail_for_good(exc)
                return False
            except Exception as exc:  # network, handshake, token provider: all worth another try
                log.warning("Zenith reconnect failed: %s", exc)
                attempt += 1
                tries += 1
                if self._max_reconnect_attempts is not None and tries >= self._max_reconnect_attempts:
                    error = exc if isinstance(exc, ZenithError) else ZenithConnectionError(str(exc))
                    self._fail_for_good(error)
                    return False
                continue
            self.reconnects += 1
            log.info("Zenith reconnected to %s", self.url)
            return True
        return False

    def _fail_for_good(self, error: ZenithError) -> None:
        log.error("Zenith client stopped: %s", error)
        self.last_error = error
        for delivery in self._core.close_all(error):
            self._deliver(delivery)

    async def _read(self, ws: ZenithConnection) -> None:
        """Frames are handled inline by the connection; this task only waits for the end."""
        try:
            await ws.wait_closed()
        finally:
            code = ws.close_code
            self._lost(ws, ZenithConnectionError(f"Zenith connection lost (close code {code})", code))

    def _lost(self, ws: ZenithConnection | None, error: ZenithConnectionError) -> None:
        """Runs once per connection: fail pending calls, tell listeners."""
        if ws is None or ws is not self._ws:
            return
        self._ws = None
        self._last_close_code = error.close_code
        # Not connected from here on, before anyone hears of the loss: a subscriber told its topic
        # is abandoned may answer its partner at once (a MarketDataRequestReject leaves QuickFIX
        # within the call), and whoever reads ``connected`` next must not see the dead connection.
        was_connected, self._connected = self._connected, False
        for failed in self._core.connection_lost(error):
            if not failed.waiter.done():
                failed.waiter.set_exception(error)
        for abandoned in self._core.take_abandoned():
            log.error("%s", abandoned.event.error)  # type: ignore[union-attr]
            self._deliver(abandoned)
        if was_connected:
            if not self._closing:
                log.warning("%s", error)
            for fn in list(self._listeners):
                self._notify(fn, False)

    async def _keepalive(self, ws: ZenithConnection) -> None:
        """Ping every ``ping_interval``; abort after ``dead_after`` s without any inbound frame."""
        loop = asyncio.get_running_loop()
        tick = min(self._ping_interval, self._dead_after / 2)
        last_ping = loop.time()
        while self._ws is ws:
            await asyncio.sleep(tick)
            now = loop.time()
            if now - ws.last_frame > self._dead_after:
                log.warning("Zenith silent for %.1f s: dropping the connection", now - ws.last_frame)
                if ws.transport is not None:
                    ws.transport.abort()
                return
            if now - last_ping >= self._ping_interval - 1e-3:
                last_ping = now
                try:
                    # The pong is seen as an inbound frame (ws.last_frame); the waiter is not needed.
                    await asyncio.wait_for(ws.ping(), self._dead_after)
                except (ConnectionClosed, TimeoutError):
                    return

    # -- calls ---------------------------------------------------------------------------------

    async def _call(self, controller: str, topic: str, data: Any, timeout: float | None) -> Any:
        ws = self._ws
        if ws is None:
            raise ZenithConnectionError(f"not connected to Zenith: cannot call {controller}:{topic}")
        loop = self._loop or asyncio.get_running_loop()
        fut = loop.create_future()
        tid, text = self._core.start_call(controller, topic, data, fut)
        limit = timeout if timeout is not None else self.request_timeout
        timer = loop.call_later(limit, self._timed_out, tid, fut, controller, topic, limit)
        try:
            try:
                ws.send_text_soon(text)
            except (InvalidState, ProtocolError) as exc:
                self._core.abandon_call(tid, fut)
                raise ZenithConnectionError(
                    f"Zenith connection closing: cannot send {controller}:{topic}", ws.close_code
                ) from exc
            if ws.paused:
                # The socket is backed up: wait for room rather than buffer without bound. If it
                # never comes, the timer or the connection loss settles ``fut`` meanwhile.
                with contextlib.suppress(TimeoutError, OSError, ConnectionClosed):
                    await asyncio.wait_for(ws.drain(), limit)
            return await fut
        except asyncio.CancelledError:
            cancel = self._core.abandon_call(tid, fut)
            if cancel is not None:
                self._send_soon(cancel)
            raise
        finally:
            timer.cancel()

    def _timed_out(
        self, tid: int, fut: asyncio.Future[Any] | _Answer, controller: str, topic: str, limit: float
    ) -> None:
        cancel = self._core.abandon_call(tid, fut)
        if cancel is None or fut.done():
            return
        fut.set_exception(ZenithTimeout(controller, topic, limit, tid))
        self._send_soon(cancel)  # tell the server to drop it (§1.5)

    def _expire_error(self, tid: int) -> None:
        failed = self._core.expire_error(tid)
        if failed is not None and not failed.waiter.done():
            failed.waiter.set_exception(failed.error)

    # -- inbound -------------------------------------------------------------------------------

    def _on_frame(self, message: str | bytes) -> None:
        try:
            outcome = self._core.receive(message)
        except ValueError as exc:
            log.error("Zenith sent an unreadable frame: %s", exc)
            return
        if self._core.outbox:  # the answer to a paced Sub: the next Sub goes
            frames, self._core.outbox = self._core.outbox, []
            for text in frames:
                self._send_soon(text)
        if outcome is None:
            return
        kind = type(outcome)
        if kind is Deliver:
            self._deliver(outcome)  # type: ignore[arg-type]
        elif kind is CallResult:
            fut = outcome.waiter  # type: ignore[union-attr]
            if not fut.done():
                fut.set_result(outcome.data)  # type: ignore[union-attr]
            for warning in outcome.warnings:  # type: ignore[union-attr]
                log.warning("Zenith call completed with an error report: %s", warning)
        elif kind is ErrorHeld:
            assert self._loop is not None
            self._loop.call_later(outcome.delay, self._expire_error, outcome.transaction_id)  # type: ignore[union-attr]
        elif kind is CallFailed:
            if not outcome.waiter.done():  # type: ignore[union-attr]
                outcome.waiter.set_exception(outcome.error)  # type: ignore[union-attr]
        elif kind is ControllerError:
            log.warning("%s", outcome.error)  # type: ignore[union-attr]

    def _deliver_soon(self, delivery: Deliver) -> None:
        try:
            asyncio.get_running_loop().call_soon(self._deliver, delivery)
        except RuntimeError:  # called off the loop (before start): nobody can be waiting yet
            self._deliver(delivery)

    def _deliver(self, delivery: Deliver) -> None:
        event = delivery.event
        for sub in delivery.subscriptions:
            if sub.active:
                try:
                    sub.callback(event)
                except Exception:
                    log.exception("Zenith subscriber for %s:%s raised", sub.controller, sub.topic)

    # -- outbound control frames ---------------------------------------------------------------

    def _release(self, sub: Subscription) -> None:
        for text in self._core.unsubscribe(sub):
            self._send_soon(text)

    def _send_soon(self, text: str) -> None:
        """Send a control frame (Sub/Unsub/Cancel) from synchronous code on the current connection.

        Without a connection it is dropped: the resubscription after a reconnect replaces it.
        """
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(InvalidState, ProtocolError):
            ws.send_text_soon(text)

    # -- tasks ---------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Zenith task %s failed", task.get_name(), exc_info=task.exception())

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        for _ in range(3):  # a cancelled task may have spawned one more; bounded
            tasks = [t for t in self._tasks if t is not current]
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=self._close_timeout + 1.0)

    def _notify(self, fn: Callable[[bool], None], up: bool) -> None:
        try:
            fn(up)
        except Exception:
            log.exception("Zenith connection listener raised")
