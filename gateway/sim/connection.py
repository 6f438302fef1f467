"""A ``ServerConnection`` that hands complete text frames to the simulator as they are parsed.

websockets' ``recv()`` path queues every frame in an assembler and wakes a reader task per message;
at tens of thousands of requests per second that hand-off dominates. ``serve(create_connection=...)``
lets us subclass the connection: ``process_event`` (run inside ``data_received``) passes each
unfragmented data frame straight to the session's handler, in wire order, on the loop thread.
Fragmented messages, control frames and the handshake keep websockets' own path.

Output: websockets writes every serialised frame to the transport with its own ``write`` call, and
an idle asyncio transport turns each into a ``send`` syscall. ``send_data`` is overridden to join
everything the protocol has queued into one write, so a loop turn that answers N requests costs one
syscall. It first calls the ``barrier`` (the state file's group commit): nothing leaves the process
before the state it describes is committed (write-ahead), whichever path wrote the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode

__all__ = ["ZenithConnection"]

OP_TEXT, OP_BINARY, OP_CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


class ZenithConnection(ServerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frame_handler: Callable[[bytes], None] | None = None
        self._early: list[bytes] = []
        self._fragmented = False
        self.last_frame = monotonic()  # when the last frame of any kind arrived (idle timer)
        # True while data_received runs: frames the session queues then are written at its end
        # (one write per batch of requests, without waiting for another loop iteration)
        self.receiving = False
        # Called before any bytes are written; False = the state could not be saved: drop the link.
        self.barrier: Callable[[], bool] | None = None

    def attach(self, handler: Callable[[bytes], None]) -> None:
        """Start delivering frames to ``handler``; frames that arrived before are delivered first."""
        early, self._early = self._early, []
        self._frame_handler = handler
        for data in early:
            handler(data)

    def process_event(self, event: Any) -> None:
        if self.request is not None and isinstance(event, Frame):
            # any inbound frame, control frames included (a client's Ping), is activity (spec §1.11)
            self.last_frame = monotonic()
            opcode = event.opcode
            if opcode is OP_TEXT or opcode is OP_BINARY:
                if event.fin and not self._fragmented:
                    handler = self._frame_handler
                    data = bytes(event.data)   # already bytes as received: no copy
                    if handler is None:
                        self._early.append(data)
                    else:
                        handler(data)
                    return
                self._fragmented = not event.fin
            elif opcode is OP_CONT:
                self._fragmented = not event.fin
        super().process_event(event)

    def data_received(self, data: bytes) -> None:
        self.receiving = True
        try:
            super().data_received(data)
        finally:
            self.receiving = False
        self.send_data()

    def send_data(self) -> None:
        chunks = self.protocol.data_to_send()
        if not chunks:
            return
        barrier = self.barrier
        if barrier is not None and not barrier():
            self.transport.abort()  # never acknowledge what the state file does not hold
            return
        transport = self.transport
        pending: list[bytes] = []
        for data in chunks:
            if data:
                pending.append(data)
                continue
            # b"" = half-close after what precedes it (websockets' end-of-stream marker)
            if pending:
                transport.write(b"".join(pending))
                pending = []
            if transport.can_write_eof():
                try:
                    transport.write_eof()
                except Exception:  # as websockets does: write_eof may raise anything
                    pass
            else:
                transport.close()
        if pending:
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))
