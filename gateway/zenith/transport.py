"""A ``websockets`` client connection tuned for Zenith: inline delivery, batched writes.

``websockets``' asyncio connection queues every inbound message and wakes a reader task per
message; Zenith sends one message per frame (§1.1) at high rates, so this subclass hands each
complete text message straight to ``on_message`` from ``data_received`` (the sans-I/O core runs
inline, no future or task per message). Ping, pong and close frames keep the library's handling.
Outbound frames go through the library's sans-I/O protocol. A frame queued when nothing else is
(a request at a paced rate) is written at once, in the caller's loop turn: no loop hop between the
orders service's send (itself run after the turn's journal commit) and the socket. Frames queued
after it in the same turn leave together at the next iteration, and while requests keep coming in
bursts (the last turn that sent queued two or more) every frame waits for that one write, so a
burst costs one ``send`` system call instead of one each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode, Frame, Opcode

from gateway import stages

__all__ = ["ZenithConnection"]

log = logging.getLogger("gateway.zenith")

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT


class ZenithConnection(ClientConnection):
    """ClientConnection delivering messages to ``on_message(text)`` synchronously, in wire order."""

    def __init__(self, *args: Any, on_message: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_message = on_message
        self.last_frame = 0.0          # loop time of the last inbound frame of any kind (keep-alive)
        self.frames_received = 0
        self._fragments: list[bytes] | None = None
        self._flush_scheduled = False
        self._burst = False    # the last turn that sent queued 2+ frames: batch, don't write at once
        self._turn_frames = 0  # frames queued since the last flush
        self._request_origins: list[stages.Origin] = []   # gateway.stages: requests queued this turn

    def data_received(self, data: bytes) -> None:
        token = stages.open_origin(stages.Kind.ZENITH)   # what this read causes is timed from here
        try:
            super().data_received(data)
        finally:
            stages.close_origin(token)

    def process_event(self, event: Any) -> None:
        if type(event) is not Frame:  # the handshake response
            super().process_event(event)
            return
        self.last_frame = self.loop.time()
        op = event.opcode
        if op is _TEXT or op is _BINARY:
            if event.fin:
                self._dispatch(bytes(event.data))   # already bytes as received: no copy
            else:
                self._fragments = [bytes(event.data)]
        elif op is _CONT:
            # The protocol parser rejects continuations without a start; be defensive anyway.
            if self._fragments is not None:
                self._fragments.append(bytes(event.data))
                if event.fin:
                    data = b"".join(self._fragments)
                    self._fragments = None
                    self._dispatch(data)
        else:
            super().process_event(event)  # ping (auto-pong), pong (ping waiters), close

    def _dispatch(self, data: bytes) -> None:
        self.frames_received += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            self.send_data()
            return
        try:
            self.on_message(text)
        except Exception:  # the client's handler logs its own errors; never let one kill the socket
            log.exception("Zenith message handler raised")

    def send_text_soon(self, text: str) -> None:
        """Queue one text frame: written now when nothing else is queued (outside a burst), else with
        the other frames of this loop iteration, in one write at the next.

        Raises ``websockets.exceptions.InvalidState`` when the connection is not open. The caller
        should ``await drain()`` when ``paused`` (the transport's buffer is over its high-water mark).
        """
        self.protocol.send_text(text.encode("utf-8"))
        origin = stages.request_origin()
        if origin is not None:
            self._request_origins.append(origin)
        self._turn_frames += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            if not self._burst:
                self._write()   # nothing queued before it: wire order is kept
            self.loop.call_soon(self._flush)

    def send_data(self) -> None:
        # The library flushes what is queued itself after each read: requests may leave here.
        super().send_data()
        if self._request_origins:
            origins, self._request_origins = self._request_origins, []
            stages.request_written(origins)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._burst = self._turn_frames > 1
        self._turn_frames = 0
        self._write()

    def _write(self) -> None:
        """Write what the protocol has queued, in one write."""
        chunks = self.protocol.data_to_send()
        if not chunks:
            return
        try:
            if all(chunks):
                # The library writes frame by frame (one system call each); join them instead.
                self.transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
                if self._request_origins:
                    origins, self._request_origins = self._request_origins, []
                    stages.request_written(origins)
                return
            self._request_origins.clear()   # closing: not timed
            for data in chunks:  # an empty chunk means "half-close" (after a close frame)
                if data:
                    self.transport.write(data)
                elif self.transport.can_write_eof():
                    self.transport.write_eof()
                else:
                    self.transport.close()
        except Exception as exc:  # the transport failed: abort; connection_lost() reports it
            log.warning("Zenith write failed: %s", exc)
            self.transport.abort()
