"""The orders service's timers: many keyed deadlines behind one asyncio timer (edge code).

The order core asks for a timer per order and request (``SetTimer``: pending status after 2 s,
Amend/Cancel retry, fill-hold deadline). A ``loop.call_later`` each costs a ``TimerHandle`` (a
context copy), a push onto the loop's heap and, on firing, a callback of its own. Here the deadlines
of one kind share one delay, so they arrive in deadline order: such an entry is appended to a FIFO
(O(1)); one that comes earlier than the FIFO's last goes to a heap. One loop timer is armed for the
earliest deadline; when it fires, every entry due by then is fired in deadline order (ties: in the
order they were set), within that one callback. Cancelling (or replacing a key) marks the entry
dead; it is dropped when it reaches the front.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque
from collections.abc import Callable, Hashable

__all__ = ["TimerQueue"]

log = logging.getLogger("gateway.app.orders")


class _Entry:
    __slots__ = ("alive", "at", "key", "seq")

    def __init__(self, at: float, seq: int, key: Hashable) -> None:
        self.at = at
        self.seq = seq
        self.key = key
        self.alive = True

    def __lt__(self, other: _Entry) -> bool:  # heap order: deadline, then the order of setting
        return (self.at, self.seq) < (other.at, other.seq)


class TimerQueue:
    """``fire(key)`` runs on the loop at (never before) each ``set`` deadline still armed.

    ``clock`` is the monotonic clock the deadlines are read on (the caller's, as the core's
    ``Now.mono``); the loop timer is armed with the delay measured on it."""

    def __init__(self, fire: Callable[[Hashable], None], clock: Callable[[], float]) -> None:
        self._fire = fire
        self._clock = clock
        self._live: dict[Hashable, _Entry] = {}
        self._fifo: deque[_Entry] = deque()
        self._heap: list[_Entry] = []
        self._seq = 0
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._live

    def set(self, key: Hashable, at: float) -> None:
        """Fire ``key`` at ``at``; replaces a timer of that key."""
        old = self._live.pop(key, None)
        if old is not None:
            old.alive = False
        self._seq += 1
        entry = self._live[key] = _Entry(at, self._seq, key)
        fifo = self._fifo
        if not fifo or at >= fifo[-1].at:
            fifo.append(entry)
        else:
            heapq.heappush(self._heap, entry)
        if self._handle is None or at < self._armed_at:
            self._arm(at)

    def cancel(self, key: Hashable) -> None:
        """Forget the timer of ``key``, if still armed (the loop timer may then wake once for nothing)."""
        entry = self._live.pop(key, None)
        if entry is not None:
            entry.alive = False

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for entry in self._live.values():
            entry.alive = False
        self._live.clear()
        self._fifo.clear()
        self._heap.clear()

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = at
        self._handle = asyncio.get_running_loop().call_later(max(0.0, at - self._clock()), self._run)

    def _run(self) -> None:
        self._handle = None
        now = self._clock()
        fifo, heap = self._fifo, self._heap
        due: list[_Entry] = []
        while fifo and fifo[0].at <= now:
            entry = fifo.popleft()
            if entry.alive:
                due.append(entry)
        from_fifo = len(due)
        while heap and heap[0].at <= now:
            entry = heapq.heappop(heap)
            if entry.alive:
                due.append(entry)
        if from_fifo and len(due) > from_fifo:
            due.sort()  # both sources had due entries: one deadline order
        for entry in due:
            if not entry.alive:  # cancelled by a timer fired before it in this batch
                continue
            entry.alive = False
            del self._live[entry.key]
            try:
                self._fire(entry.key)
            except Exception:  # one timer's failure costs that timer only, as a callback of its own did
                log.exception("timer %r failed", entry.key)
        self._rearm()

    def _rearm(self) -> None:
        fifo, heap = self._fifo, self._heap
        while fifo and not fifo[0].alive:
            fifo.popleft()
        while heap and not heap[0].alive:
            heapq.heappop(heap)
        if fifo and heap:
            earliest = min(fifo[0].at, heap[0].at)
        elif fifo or heap:
            earliest = (fifo[0] if fifo else heap[0]).at
        else:
            return
        if self._handle is None or earliest < self._armed_at:
            self._arm(earliest)
