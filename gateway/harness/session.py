"""Asyncio edge of the harness's FIX session (initiator or acceptor) over a raw TCP socket.

:class:`FixSession` drives a :class:`~gateway.harness.sessionproto.SessionProtocol`: one reader task
feeds it bytes, one timer task sends Heartbeats / TestRequests, and every message from the peer lands
in an inbox the test code reads with :meth:`FixSession.next_message`. Every wait has a timeout.

It also misbehaves on request, for session-level test cases: :meth:`send` with ``seq=`` (skip or
repeat a MsgSeqNum), :meth:`send_duplicate` (PossDup resend), :meth:`send_raw`, :meth:`drop`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gateway.harness.codec import FixMessage
from gateway.harness.errors import HarnessError
from gateway.harness.sessionproto import (
    Field,
    Received,
    SentMessage,
    SessionProblem,
    SessionProtocol,
    SessionSettings,
    SessionState,
)

__all__ = ["FixAcceptor", "FixSession", "SessionClosed", "SessionFailure", "SessionTimeout"]

_READ_CHUNK = 65536


class SessionFailure(HarnessError):
    """The harness's FIX session could not do what was asked (connect, logon, ...)."""


class SessionTimeout(SessionFailure):
    """Nothing suitable arrived within the timeout."""


class SessionClosed(SessionFailure):
    """The peer closed the connection (``logout_text`` holds its Logout Text(58), if any)."""

    def __init__(self, text: str, logout_text: str | None = None) -> None:
        super().__init__(text)
        self.logout_text = logout_text


@dataclass(frozen=True, slots=True)
class _Eof:
    reason: str


class FixSession:
    """One FIX connection. Build with :meth:`connect` (initiator) or :class:`FixAcceptor`."""

    def __init__(self, settings: SessionSettings, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, initiator: bool,
                 protocol: SessionProtocol | None = None,
                 wire_log: Callable[[str, bytes], None] | None = None) -> None:
        """``protocol``: carry on an existing session (sequence numbers, sent messages) over this
        new connection, as an engine with a persistent store does after a reconnect.
        ``wire_log(direction, data)``: sees every chunk written ("out") and read ("in")."""
        self.settings = settings
        if protocol is not None:
            protocol.new_connection()
        self.protocol = protocol or SessionProtocol(settings, initiator=initiator)
        self._wire_log = wire_log
        self._reader = reader
        self._writer = writer
        self._inbox: asyncio.Queue[Received | _Eof] = asyncio.Queue()
        self.received: list[FixMessage] = []          # every message from the peer, in arrival order
        self.problems: list[SessionProblem] = []      # session-level faults the peer committed
        self.own_answers = 0   # Heartbeats answering the session layer's own TestRequests
        self.closed = False
        self._tasks = [asyncio.create_task(self._read_loop(), name="fix-read"),
                       asyncio.create_task(self._timer_loop(), name="fix-timer")]

    # ------------------------------------------------------------------ construction
    @classmethod
    async def connect(cls, settings: SessionSettings, host: str, port: int,
                      *, timeout: float = 10.0) -> FixSession:
        """Open TCP to an acceptor; call :meth:`logon` next."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise SessionFailure(f"cannot connect to {host}:{port}: {exc or 'timeout'}") from exc
        return cls(settings, reader, writer, initiator=True)

    # ------------------------------------------------------------------ I/O plumbing
    def _flush(self) -> None:
        data = self.protocol.data_to_send()
        if data and not self.closed:
            self._writer.write(data)
            if self._wire_log is not None:
                self._wire_log("out", data)
        for event in self.protocol.events_received():
            if isinstance(event, SessionProblem):
                self.problems.append(event)
            else:
                if not event.duplicate:
                    self.received.append(event.message)
                self._inbox.put_nowait(event)

    async def _read_loop(self) -> None:
        reason = "connection closed by peer"
        try:
            while True:
                data = await self._reader.read(_READ_CHUNK)
                if not data:
                    break
                if self._wire_log is not None:
                    self._wire_log("in", data)
                self.protocol.receive_data(data)
                self._flush()
                with contextlib.suppress(ConnectionError):
                    await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            reason = f"connection lost: {exc}"
        except Exception as exc:  # a codec bug must not hang the test: surface it as EOF
            reason = f"harness read error: {type(exc).__name__}: {exc}"
        self._inbox.put_nowait(_Eof(reason))
        self.closed = True

    async def _timer_loop(self) -> None:
        # One-second resolution is enough for heartbeats of >= 1 s (FIX HeartBtInt is in seconds).
        while not self.closed:
            await asyncio.sleep(1.0 if self.settings.heartbeat >= 2 else 0.2)
            if self.closed:
                return
            p = self.protocol
            if p.heartbeat_due():
                p.send("0")
            p.test_request_due()
            if p.peer_silent:
                self.problems.append(SessionProblem("peer silent after TestRequest: dropping"))
                await self.drop()
                return
            self._flush()

    # ------------------------------------------------------------------ sending
    def send(self, msg_type: str, body: Iterable[Field] = (), *, seq: int | None = None,
             poss_dup: bool = False, orig_sending_time: str | None = None,
             header: Sequence[Field] = ()) -> SentMessage:
        """Send one message now. ``seq`` forces MsgSeqNum (e.g. ``next_out + 1`` to make a gap)."""
        self._ensure_open()
        sent = self.protocol.send(msg_type, body, seq=seq, poss_dup=poss_dup,
                                  orig_sending_time=orig_sending_time, header=header,
                                  advance=not poss_dup)
        self._flush()
        return sent

    def send_gap(self, msg_type: str, body: Iterable[Field] = (), *, skip: int = 1) -> SentMessage:
        """Send with MsgSeqNum ``skip`` numbers ahead of what the peer expects (a deliberate gap)."""
        return self.send(msg_type, body, seq=self.protocol.next_out + skip)

    def send_duplicate(self, original: SentMessage) -> SentMessage:
        """Resend an earlier message with PossDupFlag=Y, its MsgSeqNum and OrigSendingTime."""
        return self.send(original.msg_type, original.body, seq=original.seq, poss_dup=True,
                         orig_sending_time=original.sending_time)

    def send_raw(self, data: bytes, *, consumes_seq: bool = False) -> None:
        self._ensure_open()
        self.protocol.send_raw(data, consumes_seq=consumes_seq)
        self._flush()

    def _ensure_open(self) -> None:
        if self.closed:
            raise SessionClosed("cannot send: the connection is closed", self.protocol.logout_text)

    # ------------------------------------------------------------------ receiving
    async def next_event(self, timeout: float) -> Received:
        """Next message event (duplicates included); raises SessionTimeout / SessionClosed."""
        try:
            item = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            raise SessionTimeout(f"no message within {timeout:g}s") from None
        if isinstance(item, _Eof):
            self._inbox.put_nowait(item)     # stay closed for every later reader
            raise SessionClosed(item.reason, self.protocol.logout_text)
        return item

    async def next_message(self, timeout: float, *, skip_duplicates: bool = True) -> FixMessage:
        """Next message from the peer (admin included), PossDup duplicates of seen seqs skipped.

        Heartbeats answering the session layer's own TestRequests are never returned: they are
        the harness's link check, not something the peer did by itself (they stay in
        :attr:`received` and are counted in :attr:`own_answers`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next_event(max(0.0, deadline - loop.time()))
            if event.own_answer:
                self.own_answers += 1
                continue
            if not (skip_duplicates and event.duplicate):
                return event.message

    async def wait_for(self, msg_type: str, timeout: float) -> FixMessage:
        """Skip messages until one of ``msg_type`` arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            m = await self.next_message(max(0.0, deadline - loop.time()))
            if m.msg_type == msg_type:
                return m

    # ------------------------------------------------------------------ session life
    async def logon(self, *, timeout: float = 10.0, reset: bool | None = None,
                    extra: Sequence[Field] = ()) -> FixMessage:
        """Initiator: send Logon and wait for the peer's. Raises with the peer's Logout text."""
        self.protocol.logon(reset=reset, extra=extra)
        self._flush()
        return await self._await_logon(timeout)

    async def wait_logon(self, *, timeout: float = 10.0) -> FixMessage:
        """Acceptor: wait for the peer's Logon (answered automatically)."""
        return await self._await_logon(timeout)

    async def _await_logon(self, timeout: float) -> FixMessage:
        try:
            message = await self.wait_for("A", timeout)
        except SessionClosed as exc:
            text = f"; Logout text: {exc.logout_text}" if exc.logout_text else ""
            raise SessionClosed(f"logon refused ({exc}){text}", exc.logout_text) from None
        except SessionTimeout:
            raise SessionTimeout(f"no Logon answer within {timeout:g}s") from None
        return message

    async def logout(self, text: str | None = None, *, timeout: float = 5.0) -> FixMessage | None:
        """Send Logout, wait for the peer's Logout (or its close), then close. Returns its Logout."""
        answer: FixMessage | None = None
        if not self.closed:
            if self.protocol.state is not SessionState.CLOSED:
                self.protocol.logout(text)
                self._flush()
            with contextlib.suppress(SessionFailure):
                answer = await self.wait_for("5", timeout)
        await self.close()
        return answer

    async def wait_closed(self, timeout: float) -> bool:
        """True when the peer closes the TCP connection within ``timeout`` (messages are kept)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._tasks[0]), timeout)
        except TimeoutError:
            return False
        return True

    async def drop(self) -> None:
        """Abort the TCP connection without Logout (a crash, as the peer sees it)."""
        self.closed = True
        transport = self._writer.transport
        transport.abort()
        await self._stop_tasks()

    async def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        self._inbox.put_nowait(_Eof("connection closed by the harness"))
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 2.0)

    async def __aenter__(self) -> FixSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class FixAcceptor:
    """Listens on ``host:port`` (port 0 picks one) and hands out :class:`FixSession` objects."""

    def __init__(self, settings: SessionSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._pending: asyncio.Queue[FixSession] = asyncio.Queue()
        self.port = port

    async def start(self) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._pending.put_nowait(FixSession(self.settings, reader, writer, initiator=False))

        self._server = await asyncio.start_server(on_connect, self.host, self._requested_port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def accept(self, *, timeout: float = 30.0, logon_timeout: float = 10.0) -> FixSession:
        """Wait for a connection and its Logon; the session is active when this returns."""
        try:
            session = await asyncio.wait_for(self._pending.get(), timeout)
        except TimeoutError:
            raise SessionTimeout(f"no connection on {self.host}:{self.port} within {timeout:g}s") from None
        await session.wait_logon(timeout=logon_timeout)
        return session

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def __aenter__(self) -> FixAcceptor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
