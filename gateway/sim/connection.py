"""A ``ServerConnection`` that hands complete text frames to the simulator as they are parsed.

websockets' ``recv()`` path queues every frame in an assembler and wakes a reader task per message;
at tens of thousands of requests per second that hand-off dominates. ``serve(create_connection=...)``
lets us subclass the connection: ``process_event`` (run inside ``data_received``) passes each
unfragmented data frame straight to the session's handler, in wire order, on the loop thread.
Fragmented messages, control frames and the handshake keep websockets' own path.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def attach(self, handler: Callable[[bytes], None]) -> None:
        """Start delivering frames to ``handler``; frames that arrived before are delivered first."""
        early, self._early = self._early, []
        self._frame_handler = handler
        for data in early:
            handler(data)

    def process_event(self, event: Any) -> None:
        if self.request is not None and isinstance(event, Frame):
            opcode = event.opcode
            if opcode is OP_TEXT or opcode is OP_BINARY:
                if event.fin and not self._fragmented:
                    handler = self._frame_handler
                    if handler is None:
                        self._early.append(event.data)
                    else:
                        handler(event.data)
                    return
                self._fragmented = not event.fin
            elif opcode is OP_CONT:
                self._fragmented = not event.fin
        super().process_event(event)
