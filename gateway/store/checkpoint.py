"""WAL checkpoints off the loop thread.

A checkpoint copies the WAL into the database file and fsyncs it; run inside a commit on the
loop (SQLite's automatic checkpoint) it costs milliseconds every few hundred commits. Here a
thread with its own connection runs ``wal_checkpoint(PASSIVE)`` every
:data:`CHECKPOINT_EVERY` seconds; PASSIVE never blocks the writer, and the next commit after a
complete checkpoint starts the WAL again from its beginning, so it stays small.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

__all__ = ["CHECKPOINT_EVERY", "Checkpointer"]

CHECKPOINT_EVERY = 0.5


class Checkpointer:
    def __init__(self, path: Path, every: float = CHECKPOINT_EVERY) -> None:
        self._path = path
        self._every = every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"store-checkpoint {path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return  # the loop's connection checkpoints when it closes
        try:
            db.execute("PRAGMA busy_timeout=1000")
            while not self._stopped.wait(self._every):
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5.0)
