"""One gateway per state directory: an exclusive OS lock on every directory a gateway writes.

Two gateways on the same files destroy each other's state without a crash to show for it: a
second start replays and empties the first's inbound journal, and resets the QuickFIX
sequence-number files of the sessions they share. So before anything reads or writes state,
:meth:`StateLock.acquire` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<dir>/.plxtra-fix.lock``
in each distinct directory (resolved, so two configs whose paths lead to the same place collide)
and then writes its PID there; a second instance gets :class:`StateLocked` at once, naming the
directory and the holder's PID, having changed nothing.

Why flock: the kernel drops it when the process dies, ``kill -9`` included, so a crash never
leaves a stale lock that an operator must remove by hand. The lock file itself is never deleted
(unlinking it would let a waiting process lock an inode nobody else looks at); the PID in it is
informative only, and cleared on release.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path

from gateway.config.model import GatewayConfig
from gateway.errors import GatewayError
from gateway.store import store_path_of

__all__ = ["LOCK_NAME", "StateLock", "StateLocked", "gateway_state_directories", "holder_pid"]

LOCK_NAME = ".plxtra-fix.lock"


class StateLocked(GatewayError):
    """Another process holds the state directory ``directory`` (``pid`` None when unknown)."""

    def __init__(self, directory: Path, pid: int | None) -> None:
        self.directory = directory
        self.pid = pid
        holder = f"PID {pid}" if pid is not None else "another process (PID not yet written)"
        super().__init__(f"state directory {directory} is in use by {holder}: another plxtra-fix gateway "
                         f"runs on this state; stop it first (lock file {directory / LOCK_NAME})")


def holder_pid(directory: Path) -> int | None:
    """The PID written in ``directory``'s lock file, or None (no file, empty, or not a number)."""
    try:
        text = (directory / LOCK_NAME).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    first = text.split("\n", 1)[0].strip()
    return int(first) if first.isdigit() else None


class StateLock:
    """Exclusive locks on a set of directories, all or none; ``release`` is idempotent.

    The directories are created if missing (an empty new directory is nobody's state). Locks are
    taken in sorted order; with non-blocking locks the order only makes the error deterministic.
    """

    def __init__(self, directories: Iterable[Path | str]) -> None:
        resolved = {Path(os.path.abspath(d)).resolve() for d in directories}
        self.directories: tuple[Path, ...] = tuple(sorted(resolved))
        self._fds: list[int] = []

    @property
    def held(self) -> bool:
        return bool(self._fds)

    def acquire(self) -> None:
        """Lock every directory or raise :class:`StateLocked` (or ``OSError``) holding none."""
        if self._fds:
            return
        try:
            for directory in self.directories:
                self._fds.append(_lock_one(directory))
        except BaseException:
            self.release()
            raise
        pid = f"{os.getpid()}\n".encode("ascii")
        for fd in self._fds:
            # Written only once every lock is held, so a PID in a file always means "held".
            os.ftruncate(fd, 0)
            os.pwrite(fd, pid, 0)

    def release(self) -> None:
        fds, self._fds = self._fds, []
        for fd in reversed(fds):
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)   # still held here: nobody reads a half-cleared file as ours
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_one(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    # No O_TRUNC: the file must not change before the lock is ours (its PID names the holder).
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateLocked(directory, holder_pid(directory)) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def gateway_state_directories(config: GatewayConfig, sim_state: Path | None = None) -> list[Path]:
    """Every directory a gateway of ``config`` keeps state in: the store's (SQLite store, its
    ``.inbound`` journal, the embedded simulator's default state file), the QuickFIX file logs,
    the QuickFIX file store when ``message_store`` is ``file``, and ``sim_state``'s when given."""
    gw = config.gateway
    directories = [store_path_of(config).parent, Path(gw.log_dir)]
    if gw.message_store == "file":
        directories.append(Path(gw.message_store_dir))
    if sim_state is not None:
        directories.append(Path(sim_state).parent)
    return directories
