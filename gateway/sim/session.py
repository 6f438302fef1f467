"""One client connection of the simulator: its authority, subscriptions and outbound queue.

Every outbound frame (responses and publishes alike) goes through one FIFO drained by one writer
task, so wire order equals the order the server produced them in, and a slow reader never stalls the
engine: its queue grows up to ``max_outbox`` frames, then the connection is closed (1008).

Fast path (same order): when nothing is queued, a frame goes straight into the websockets protocol
buffer; the buffer is written once per batch, either when the connection finishes reading the
batch of requests that produced it or at the end of the loop turn (see ``connection.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from gateway.sim.config import UserConfig

__all__ = ["Session"]

log = logging.getLogger("gateway.sim")


class Session:
    __slots__ = (
        "_direct",
        "_flush_due",
        "_outq",
        "_wake",
        "_writing",
        "accounts",
        "closing",
        "configure",
        "expires_at",
        "id",
        "last_ping",
        "last_seen",
        "max_outbox",
        "pending",
        "scopes",
        "subs",
        "token",
        "user",
        "was_expired",
        "ws",
    )

    def __init__(self, ws: ServerConnection, session_id: int, max_outbox: int) -> None:
        self.ws = ws
        self.id = session_id
        self.user: UserConfig | None = None
        self.token: str | None = None
        self.scopes: frozenset[str] = frozenset()
        self.accounts: frozenset[str] = frozenset()
        self.expires_at = 0.0
        self.was_expired = False
        self.closing = False
        self.subs: dict[tuple[str, str], int] = {}
        self.configure: dict[str, dict[str, float]] = {}
        self.pending: dict[int, asyncio.TimerHandle] = {}
        self.last_seen = time.monotonic()
        self.last_ping = self.last_seen
        self.max_outbox = max_outbox
        self._outq: deque[Any] = deque()
        self._wake = asyncio.Event()
        self._writing = False
        self._flush_due = False
        # Fast path: hand the frame straight to the websockets sans-I/O core and the transport when
        # nothing is queued and the socket is not applying back-pressure (same loop thread, so the
        # core is still driven sequentially). Saves a task switch per frame; falls back to the queue.
        self._direct = hasattr(ws, "protocol") and hasattr(ws, "send_data") and hasattr(ws, "paused")

    # ------------------------------------------------------------------ authority

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def live(self, now: float) -> bool:
        """Authenticated and the token has not expired (spec §2.9: no publishes after expiry)."""
        return self.user is not None and now < self.expires_at

    def may(self, scope: str | None, now: float) -> bool:
        return self.live(now) and (scope is None or scope in self.scopes)

    # ------------------------------------------------------------------ output

    def send(self, text: str) -> None:
        try:
            data = text.encode()
        except UnicodeEncodeError:
            # Never reached by design (requests with such text are refused first), but a frame that
            # cannot be written must cost that frame only, not the writer and the connection.
            log.error("session %d: frame not sent, not valid text: %r", self.id, text[:200])
            return
        q = self._outq
        if self._direct and not q and not self._writing:
            ws = self.ws
            if ws.protocol.state is State.OPEN and not ws.paused and ws.send_in_progress is None:
                try:
                    ws.protocol.send_text(data)
                except Exception:  # the connection is failing: let the writer path report it
                    self._direct = False
                else:
                    if getattr(ws, "receiving", False):
                        return  # our own connection is reading: it writes when the batch is done
                    # one socket write for everything produced in this loop iteration
                    if not self._flush_due:
                        self._flush_due = True
                        asyncio.get_running_loop().call_soon(self._flush)
                    return
        if len(q) >= self.max_outbox:
            q.clear()
            q.append((1008, "slow consumer: outbound queue full"))
        else:
            q.append(text)
        if not self._wake.is_set():
            self._wake.set()

    def _flush(self) -> None:
        self._flush_due = False
        try:
            self.ws.send_data()
        except Exception:  # the transport is gone; the handler notices the close
            self._direct = False

    def close_after_flush(self, code: int, reason: str) -> None:
        self._outq.append((code, reason))
        self._wake.set()

    async def writer(self) -> None:
        q, ws, wake = self._outq, self.ws, self._wake
        try:
            while True:
                if not q:
                    wake.clear()
                    await wake.wait()
                self._writing = True
                while q:
                    item = q.popleft()
                    if isinstance(item, tuple):
                        await ws.close(item[0], item[1])
                        return
                    await ws.send(item)
                self._writing = False
        except ConnectionClosed:
            return
