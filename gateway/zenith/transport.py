"""A ``websockets`` client connection tuned for Zenith: inline delivery, batched writes.

``websockets``' asyncio connection queues every inbound message and wakes a reader task per
message; Zenith sends one message per frame (§1.1) at high rates, so this subclass hands each
complete text message straight to ``on_message`` from ``data_received`` (the sans-I/O core runs
inline, no future or task per message). Ping, pong and close frames keep the library's handling.

Inbound framing has a fast path (issue 13: the library's generator-based parser cost ~5 us a
frame, 15% of an order's Zenith frames in bench/zenith_frames.py). While the connection is open,
no extension is in use and the library's parser stands between two frames with nothing buffered,
``data_received`` cuts the frames itself: each unfragmented data frame (FIN, no RSV bit, not
masked, within ``max_size``) goes straight to ``_dispatch``, and a partial one waits in
``_partial`` (a bytearray the next reads are appended to) for the rest of its bytes. Any other
frame (ping, pong, close, a fragment, a compressed or masked one, one too big) and every byte
after it go to the library, whole, as before, and the fast path resumes at the next read that
finds the library's parser between frames again. What the library did for those data frames is
kept: the protocol's queued writes leave first, then the frames are dispatched in wire order,
all of them even when one fails the connection (not UTF-8). One difference is left: after such
a failure, the frames of that read behind a frame the fast path leaves to the library are
discarded (the library would have parsed them before the failure, delivered the data frames and
answered a ping).
Outbound frames go through the library's sans-I/O protocol. A frame queued when nothing else is
(a request at a paced rate) is written at once, in the caller's loop turn: no loop hop between the
orders service's send (itself run after the turn's journal commit) and the socket. Frames queued
after it in the same turn leave together at the next iteration, and while requests keep coming in
bursts (the last turn that sent queued two or more) every frame waits for that one write, so a
burst costs one ``send`` system call instead of one each.

A text frame sent on an open connection without extensions is serialized here (issue 13: the
library's ``send_text`` -> ``Frame`` -> ``serialize`` chain cost ~2 us hot, several times that
at a paced rate's cold caches) into the protocol's write queue, where the library would put it:
the same bytes (FIN text header, the length's three forms, a fresh 4-byte mask from ``secrets``
as the library takes it, the library's ``apply_mask``), the same checks (open state, no fragmented
message in progress); anything else goes through ``send_text``.
"""

from __future__ import annotations

import logging
import secrets
import struct
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import CLIENT, State

from gateway import stages

__all__ = ["ZenithConnection", "client_text_frame"]

log = logging.getLogger("gateway.zenith")

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_OPEN = State.OPEN
# The first header byte of an unfragmented text or binary frame: FIN set, no RSV bit.
_FIN_TEXT = 0x80 | Opcode.TEXT.value
_FIN_BINARY = 0x80 | Opcode.BINARY.value
_HEAD_TEXT = bytes((_FIN_TEXT,))
_pack_16 = struct.Struct("!BH").pack   # masked length 126 + 16-bit length
_pack_64 = struct.Struct("!BQ").pack   # masked length 127 + 64-bit length
_token_bytes = secrets.token_bytes
try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:   # pragma: no cover - the library's pure-Python fallback, as it uses it
    from websockets.utils import apply_mask as _apply_mask


def client_text_frame(data: bytes) -> bytes:
    """The masked, unfragmented client text frame of ``data``: the bytes the library's
    ``Frame(Opcode.TEXT, data).serialize(mask=True)`` makes, with a fresh mask taken as it does."""
    n = len(data)
    mask = _token_bytes(4)
    if n < 126:
        head = bytes((_FIN_TEXT, 0x80 | n))
    elif n < 65536:
        head = _HEAD_TEXT + _pack_16(0xFE, n)
    else:
        head = _HEAD_TEXT + _pack_64(0xFF, n)
    return head + mask + _apply_mask(data, mask)


# The library's parser waits for the next frame inside StreamReader.at_eof (Protocol.parse). A
# version without it leaves every frame to its own parser (the fast path never starts).
try:
    from websockets.streams import StreamReader

    _AT_EOF: Any = StreamReader.at_eof.__code__
except (ImportError, AttributeError):   # pragma: no cover - depends on the installed websockets
    _AT_EOF = None


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
        self._fast = False              # data_received cuts frames itself (module doc)
        # The start of a frame the fast path waits to complete: a bytearray, so that a big frame
        # trickling in over many reads is appended to, not copied again at every read.
        self._partial: bytearray | None = None
        self.fast_frames = 0            # frames the fast path dispatched (tests)
        # The library's size limit for an unfragmented message: max_size (max_message_size and
        # max_fragment_size in recent versions), the smaller of the two when both are set.
        limits = [getattr(self.protocol, "max_message_size", getattr(self.protocol, "max_size", None)),
                  getattr(self.protocol, "max_fragment_size", None)]
        self._max_message: int | None = min((x for x in limits if x is not None), default=None)
        # Text frames serialized here (module doc): the library's write queue and flags as named
        # in the versions this was written for; otherwise always through ``send_text``.
        protocol = self.protocol
        self._own_framing = (protocol.side is CLIENT and type(getattr(protocol, "writes", None)) is list
                             and type(getattr(protocol, "expect_continuation_frame", None)) is bool)

    def data_received(self, data: bytes) -> None:
        token = stages.open_origin(stages.Kind.ZENITH)   # what this read causes is timed from here
        try:
            partial = self._partial
            if partial is not None:
                partial += data
                self._receive_fast(partial)
            elif self._fast or self._fast_ready():
                self._receive_fast(data)
            else:
                super().data_received(data)
        finally:
            stages.close_origin(token)

    def eof_received(self) -> None:
        if self._partial is not None:   # the library sees the truncated frame, as without the fast path
            data, self._partial = bytes(self._partial), None
            self._fast = False
            super().data_received(data)
        super().eof_received()

    def _fast_ready(self) -> bool:
        """The library's parser stands between two frames with nothing buffered, on an open
        connection without extensions, and does not log frames: the fast path may take over."""
        protocol = self.protocol
        try:
            if (protocol.state is not _OPEN or protocol.extensions or protocol.current_size is not None
                    or protocol.reader.buffer or protocol.debug):
                return False
            gen: Any = protocol.parser
            while gen.gi_yieldfrom is not None:
                gen = gen.gi_yieldfrom
            self._fast = gen.gi_code is _AT_EOF
        except AttributeError:
            # These are the library's internals: a version that names them otherwise gets its own
            # parser for every frame (slower, never wrong).
            self._fast = False
        return self._fast

    def _receive_fast(self, data: bytes | bytearray) -> None:
        """Dispatch the complete data frames at the start of ``data`` (a read, or ``_partial`` with
        the read appended); keep a partial one; hand everything from the first other frame on to
        the library."""
        protocol = self.protocol
        if protocol.state is not _OPEN:   # closing (we sent Close): the library's rules from here
            self._fast = False
            self._partial = None
            super().data_received(bytes(data))
            return
        limit = self._max_message
        payloads: list[bytes | bytearray] = []
        end = len(data)
        pos = 0
        rest: bytes | bytearray = b""
        while pos < end:
            if end - pos < 2:
                break
            head = data[pos]
            length = data[pos + 1]   # the mask bit too: a masked frame fails the checks below
            start = pos + 2
            if length == 126:
                start = pos + 4
                if start > end:
                    break
                length = int.from_bytes(data[pos + 2:start], "big")
            elif length == 127:
                start = pos + 10
                if start > end:
                    break
                length = int.from_bytes(data[pos + 2:start], "big")
            elif length > 125:   # masked (a server never masks): the library fails the connection
                rest = data[pos:]
                break
            if (head != _FIN_TEXT and head != _FIN_BINARY) or (limit is not None and length > limit):
                rest = data[pos:]
                break
            stop = start + length
            if stop > end:
                break
            payloads.append(data[start:stop])
            pos = stop
        if rest or pos == end:
            self._partial = None
        elif data is self._partial:
            del data[:pos]
        else:
            self._partial = bytearray(data[pos:])
        if payloads:
            self.last_frame = self.loop.time()
            self.fast_frames += len(payloads)
            try:
                self.send_data()   # what the library writes after each read, before its events
            except Exception as exc:   # as the library: the connection's error, the frames still go
                self.set_connection_exc(exc)
            for payload in payloads:
                # Even after one that failed the connection (not UTF-8): the library parses a
                # read's frames before it processes them, and delivers them all.
                self._dispatch(payload)
            if protocol.state is not _OPEN:   # failed: what is left goes to the library (discarded)
                self._fast = False
                if self._partial is not None:
                    rest, self._partial = bytes(self._partial), None
        if rest:
            self._fast = False
            super().data_received(bytes(rest))

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

    def _dispatch(self, data: bytes | bytearray) -> None:
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
        protocol = self.protocol
        if (self._own_framing and protocol.state is _OPEN and not protocol.extensions
                and not protocol.expect_continuation_frame and not protocol.debug):
            protocol.writes.append(client_text_frame(text.encode("utf-8")))
        else:
            protocol.send_text(text.encode("utf-8"))
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
