"""Thread: applies journal batches to SQLite off the loop; shares nothing mutable but two queues.

The loop hands over lists of ``(seq, payload bytes)`` (it never touches a list again once put on
the inbox) and reads back the database's applied mark (an int) or the error of a failed batch.
The thread owns its own SQLite connection. Batches waiting in the inbox are merged into one
transaction, so a slow disk makes the batches bigger, not the queue longer.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from pathlib import Path

from gateway.store.sqlite_apply import apply_frames

__all__ = ["ApplyThread"]

log = logging.getLogger("gateway.store")

_SYNC = "sync"   # inbox token: answer with the same token once everything before it is applied
_STOP = "stop"

Frames = list[tuple[int, bytes]]


class ApplyThread:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._inbox: queue.SimpleQueue[Frames | str] = queue.SimpleQueue()
        self._outbox: queue.SimpleQueue[int | str | Exception] = queue.SimpleQueue()
        self.outstanding = 0  # batches submitted and not yet acknowledged (read by the loop only)
        self._thread = threading.Thread(target=self._run, name=f"store-apply {path.name}", daemon=True)
        self._thread.start()

    # --- loop side --------------------------------------------------------------------------

    def submit(self, frames: Frames) -> None:
        self.outstanding += 1
        self._inbox.put(frames)

    def marks(self) -> int | None:
        """The newest applied mark reported since the last call (None: no news); errors are logged."""
        mark = None
        while True:
            try:
                got = self._outbox.get_nowait()
            except queue.Empty:
                return mark
            mark = self._take(got, mark)

    def sync(self, timeout: float = 30.0) -> int | None:
        """Wait until every batch submitted so far is applied (or failed); the newest mark."""
        self._inbox.put(_SYNC)
        mark = None
        while True:
            got = self._outbox.get(timeout=timeout)
            if got == _SYNC:
                return mark
            mark = self._take(got, mark)

    def stop(self) -> None:
        self._inbox.put(_STOP)
        self._thread.join(timeout=30.0)

    def _take(self, got: int | str | Exception, mark: int | None) -> int | None:
        if isinstance(got, Exception):
            self.outstanding -= 1
            log.error("store apply thread: batch failed, retried with the next one: %s", got)
            return mark
        if isinstance(got, int):
            self.outstanding -= 1
            return got
        return mark

    # --- thread side ------------------------------------------------------------------------

    def _run(self) -> None:
        db = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        failed: Frames = []
        try:
            while True:
                item = self._inbox.get()
                frames: Frames = failed
                acks = 0
                tokens: list[str] = []
                while True:
                    if isinstance(item, str):
                        tokens.append(item)
                    else:
                        frames = frames + item if frames else item
                        acks += 1
                    if tokens:
                        break
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                result: int | Exception | None = None
                if frames:
                    try:
                        result = apply_frames(db, frames)
                        failed = []
                    except sqlite3.Error as exc:
                        result, failed = exc, frames
                for _ in range(acks):
                    # one answer per batch so the loop's count of outstanding batches stays exact
                    self._outbox.put(result if result is not None else 0)
                for token in tokens:
                    if token == _STOP:
                        return
                    self._outbox.put(token)
        finally:
            db.close()
