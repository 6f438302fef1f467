"""QuickFIX message and event logs written by the gateway (runs inside QuickFIX, on the loop thread).

:class:`GatewayLogFactory` replaces QuickFIX's ``FileLogFactory``: same files and line format
(``<log_dir>/<BeginString>-<Sender>-<Target>.messages.current.log`` / ``.event.current.log``,
``GLOBAL.*`` for the acceptor, ``YYYYMMDD-HH:MM:SS.nnnnnnnnn : <text>``), so ``decode`` and the
log readers keep working, plus what FileLog cannot do:

* Password(554) and NewPassword(925) are masked before anything reaches the disk;
* files rotate daily (UTC) or by size into ``<prefix>.messages.<stamp>.log`` and rotated files
  older than ``keep_days`` are deleted;
* every line is also handed to :class:`~gateway.ops.events.SessionWatch`, which turns session
  events into lines of the gateway's own log and into metrics.

QuickFIX calls a session's Log under that session's mutex, from the thread polling it: the
asyncio loop's (``gateway.fix.loop_driver``), and on the order's critical path: onIncoming
before fromApp, onOutgoing inside ``Session::send`` before the socket write. So a callback keeps
``(kind, time.time(), text)`` in a list and nothing more (issue 13: about 1.5 us per message
instead of 10 to 20); everything else happens at the end of the loop turn, after the turn's
sends (one ``call_soon`` per turn for the whole factory, :class:`_TurnFlush`): masking, the
lines (stamped with the hand-over times, in QuickFIX's order, one ``write`` per file), and
the watch, fed every message and event of the turn in QuickFIX's order with their hand-over
times, so its figures are those it would have had at once. A reader of the watch on the loop
(the admin API's session view) settles the current turn first (:meth:`SessionWatch.info`);
metrics may lag by one turn. A quiet session's W/X and heartbeats go to the watch at once
(:meth:`SessionWatch.outgoing_for`, no list at all); its other outgoing messages wait like the
rest. A crash (kill -9) loses the lines of the turn it hits, at most: those of the poll that
was running and of what the turn sent after it; QuickFIX's store and the gateway's journal,
not this log, are what state recovers from. Called off a running loop (a worker thread
building the engine or starting a connector), a callback is handled at once, with what the
log still held before it. Every callback is guarded: an exception escaping a SWIG director
would end the process (see ``gateway/fix/handoff.py``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from asyncio import AbstractEventLoop, _get_running_loop
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import quickfix as fix

from gateway.config.model import LogSettings
from gateway.fix.loop_driver import loop_is_current
from gateway.ops.events import SessionWatch
from gateway.ops.masking import mask_fix
from gateway.vocab.times import utc_timestamp_from_epoch

__all__ = ["GatewayLogFactory", "RotatingFile", "session_prefix"]

log = logging.getLogger("gateway.ops.fixlog")


def session_prefix(session_text: str | None) -> str:
    """QuickFIX FileLog's file prefix: ``FIX.4.4-PLXTRA-CLIENT1`` (``GLOBAL`` for none)."""
    if session_text is None:
        return "GLOBAL"
    begin, _, rest = session_text.partition(":")
    sender, _, target = rest.partition("->")
    target, _, qualifier = target.partition(":")
    return "-".join(p for p in (begin, sender, target, qualifier) if p)


# (whole second, its "YYYYMMDD-HH:MM:SS." text): rebound whole, so a worker thread's flush and
# the loop's never see one second with another's text.
_stamp_cache: tuple[int, str] = (-1, "")


def _stamp(now: float) -> str:
    """QuickFIX's log time stamp (nanosecond digits); the per-second prefix is formatted once."""
    global _stamp_cache
    second = int(now)
    cached = _stamp_cache
    if cached[0] != second:
        cached = _stamp_cache = (second, utc_timestamp_from_epoch(second, 0) + ".")
    return f"{cached[1]}{int((now - second) * 1_000_000):06d}000"


class RotatingFile:
    """One ``<prefix>.<kind>.current.log`` that rotates by UTC day or size. Not thread-safe:
    the owner holds a lock around :meth:`write`. Each line reaches the file at once, unless
    ``buffered`` (then the owner calls :meth:`flush`)."""

    def __init__(self, directory: Path, prefix: str, kind: str, settings: LogSettings,
                 clock: Callable[[], float] = time.time, buffered: bool = False) -> None:
        self.directory = directory
        self.base = f"{prefix}.{kind}"
        self.path = directory / f"{self.base}.current.log"
        self.settings = settings
        self._clock = clock
        self._buffering = -1 if buffered else 1   # default block buffering, or line buffering
        self._file: IO[str] | None = None
        self._day = ""
        self._next_day = 0.0   # epoch of the next UTC midnight: one comparison per write
        # when a line at time t must rotate first (_FileLog checks it per line): next midnight
        # with daily rotation, never otherwise
        self.rotate_at = float("inf")
        self._size = 0
        self._open()

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.settings.rotate == "daily":
            opened_day = datetime.fromtimestamp(self.path.stat().st_mtime, UTC).strftime("%Y%m%d")
            if opened_day != self._today():
                self._rename(opened_day)
        self._file = open(self.path, "a", encoding="utf-8", buffering=self._buffering)  # noqa: SIM115
        self._size = self._file.tell()
        self._day = self._today()
        self._next_day = (int(self._clock()) // 86_400 + 1) * 86_400
        if self.settings.rotate == "daily":
            self.rotate_at = float(self._next_day)

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%d")

    def _rename(self, stamp: str) -> None:
        target = self.directory / f"{self.base}.{stamp}.log"
        n = 1
        while target.exists():
            n += 1
            target = self.directory / f"{self.base}.{stamp}.{n}.log"
        os.replace(self.path, target)
        self._prune()

    def _prune(self) -> None:
        cutoff = self._clock() - self.settings.keep_days * 86_400
        for old in self.directory.glob(f"{self.base}.*.log"):
            if old.name.endswith(".current.log"):
                continue
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:
                pass

    def write(self, line: str) -> None:
        rotate = self.settings.rotate
        if rotate == "daily":
            if self._clock() >= self._next_day:
                self._rotate(self._day)
        elif rotate == "size" and self._size + len(line) > self.settings.max_bytes and self._size:
            self._rotate(datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%d-%H%M%S"))
        assert self._file is not None
        self._file.write(line)
        self._size += len(line)

    def write_lines(self, lines: list[str]) -> None:
        """``lines`` (each ending with a newline) in one write, then flushed. By size, a batch
        that would not fit goes line by line (each file stays within ``max_bytes``); the daily
        rotation is the caller's, before a line of the new day (:attr:`rotate_at`)."""
        text = "".join(lines)
        settings = self.settings
        if settings.rotate == "size" and self._size + len(text) > settings.max_bytes:
            for line in lines:
                self.write(line)
        else:
            assert self._file is not None
            self._file.write(text)
            self._size += len(text)
        self.flush()

    def rotate_day(self) -> None:
        """Start the file of the new UTC day (the caller saw a line at or after :attr:`rotate_at`)."""
        self._rotate(self._day)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def _rotate(self, stamp: str) -> None:
        self.close()
        self._rename(stamp)
        self._open()

    def truncate(self) -> None:
        self.close()
        self.path.write_text("", encoding="utf-8")
        self._open()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# What a log keeps per callback until the turn's flush: (kind, hand-over time, QuickFIX's text).
_IN, _OUT, _EVENT = 0, 1, 2


class _FileLog(fix.Log):
    """The Log of one session (or the acceptor's GLOBAL one).

    A callback only appends ``(kind, time.time(), text)`` to :attr:`_pending`, in the order
    QuickFIX called: that is all that runs before the message is handled (onIncoming, before
    fromApp) or its bytes move (onOutgoing, inside Session::send). :meth:`flush`, at the
    turn's end, masks and formats the lines, stamped with their hand-over times, and feeds the
    watch in that same order (an event such as "Disconnecting" after the Logout sent before it).
    """

    def __init__(self, directory: Path, session_text: str | None, settings: LogSettings,
                 watch: SessionWatch | None, messages: bool = True,
                 turn: _TurnFlush | None = None) -> None:
        super().__init__()
        self._log_messages = messages   # False: log_messages: false (market-data-only session)
        prefix = session_prefix(session_text)
        self._session = session_text
        self._mask = settings.mask_secrets
        self._watch = watch if session_text is not None else None   # messages: sessions only
        self._event_watch = watch
        self._turn = turn if turn is not None else _TurnFlush()
        self._lock = threading.Lock()   # file operations: a worker thread may log too
        self._messages = RotatingFile(directory, prefix, "messages", settings, buffered=True)
        self._events = RotatingFile(directory, prefix, "event", settings, buffered=True)
        # Callbacks not handled yet, in QuickFIX's order; appended to without a lock (list.append
        # is atomic and a flush takes only what it saw, see _drain). Same list object for life.
        self._pending: list[tuple[int, float, str]] = []
        self._queued = False   # in the turn's list of logs to flush
        if not messages and self._watch is None:
            self.onIncoming = _ignore   # type: ignore[method-assign]
            self.onOutgoing = _ignore   # type: ignore[method-assign]
        elif not messages and self._watch is not None and session_text is not None:
            # A quiet session (market data: a message per subscriber per update) writes no
            # message lines: QuickFIX's director then calls the watch's own function straight
            # (it looks the method up on this object once, at its first call), which counts and
            # stamps W/X and heartbeats at once and hands anything else back to this log, so
            # the watch still sees it in order with the session's events.
            self.onOutgoing = self._watch.outgoing_for(   # type: ignore[method-assign,assignment]
                session_text, later=self._outgoing_later)

    def onIncoming(self, text: str) -> None:
        try:
            self._pending.append((_IN, time.time(), text))
            if not self._queued:
                self._queued = True
                self._turn.add(self)
        except Exception:
            log.exception("QuickFIX log (incoming) failed for %s", self._session)

    def onOutgoing(self, text: str) -> None:
        try:
            self._pending.append((_OUT, time.time(), text))
            if not self._queued:
                self._queued = True
                self._turn.add(self)
        except Exception:
            log.exception("QuickFIX log (outgoing) failed for %s", self._session)

    def _outgoing_later(self, text: str) -> None:
        """A quiet session's outgoing admin message (Logon, Logout, Reject...): at the flush."""
        self._pending.append((_OUT, time.time(), text))
        if not self._queued:
            self._queued = True
            self._turn.add(self)

    def onEvent(self, text: str) -> None:
        try:
            self._pending.append((_EVENT, time.time(), text))
            if _get_running_loop() is None:
                # A worker thread (engine build, connector start/stop): at once, even if a turn's
                # flush is still due on a loop that may never run it (one that is stopping).
                self.flush()
            elif not self._queued:
                self._queued = True
                self._turn.add(self)
        except Exception:
            log.exception("QuickFIX log (event) failed for %s", self._session)

    def flush(self) -> None:
        """Write and hand to the watch what this turn kept (a crash loses at most the lines of
        one loop turn)."""
        self._queued = False   # before the snapshot: a callback after it queues the log again
        try:
            with self._lock:
                self._drain(True)
        except Exception:
            log.exception("QuickFIX log flush failed for %s", self._session)

    def _drain(self, write: bool) -> None:
        """Handle what is pending, under :attr:`_lock`: lines into their files (``write``) and
        every message and event to the watch, in QuickFIX's order."""
        pending = self._pending
        if not pending:
            return
        items = pending[:]
        del pending[:len(items)]   # a callback appended meanwhile (another thread) stays pending
        session = self._session
        watch = self._watch
        event_watch = self._event_watch
        mask = self._mask
        log_messages = self._log_messages and write
        msg_file, event_file = self._messages, self._events
        msg_lines: list[str] = []
        event_lines: list[str] = []
        for kind, at, text in items:
            if kind == _EVENT:
                if write:
                    if at >= event_file.rotate_at:
                        # The previous day's lines into the previous day's file, then the new file.
                        event_lines = _write_then_rotate(event_file, event_lines)
                    event_lines.append(f"{_stamp(at)} : {mask_fix(text) if mask else text}\n")
                if event_watch is not None:
                    try:
                        event_watch.event(session, text)
                    except Exception:
                        log.exception("session watch (event) failed for %s", session)
                continue
            if log_messages:
                if at >= msg_file.rotate_at:
                    msg_lines = _write_then_rotate(msg_file, msg_lines)
                msg_lines.append(f"{_stamp(at)} : {mask_fix(text) if mask else text}\n")
            if watch is not None:
                try:
                    if kind == _IN:
                        watch.incoming(session, text, at)   # type: ignore[arg-type]
                    else:
                        watch.outgoing(session, text, at)   # type: ignore[arg-type]
                except Exception:
                    log.exception("session watch failed for %s", session)
        if msg_lines:
            msg_file.write_lines(msg_lines)
        if event_lines:
            event_file.write_lines(event_lines)

    def clear(self) -> None:
        try:
            with self._lock:
                self._drain(False)   # the lines go with the files; the watch still sees them
                self._messages.truncate()
                self._events.truncate()
        except Exception:
            log.exception("QuickFIX log clear failed for %s", self._session)

    def backup(self) -> None:
        try:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            with self._lock:
                self._drain(True)
                self._messages._rotate(stamp)
                self._events._rotate(stamp)
        except Exception:
            log.exception("QuickFIX log backup failed for %s", self._session)

    def close(self) -> None:
        with self._lock:
            try:
                self._drain(True)
            except Exception:
                log.exception("QuickFIX log flush at close failed for %s", self._session)
            self._messages.close()
            self._events.close()


def _ignore(text: str) -> None:
    """A quiet session's message callbacks when there is no watch: nothing to keep."""


def _write_then_rotate(target: RotatingFile, lines: list[str]) -> list[str]:
    """Write ``lines`` (the day that ended) and start the new day's file; the new day's list."""
    if lines:
        target.write_lines(lines)
    target.rotate_day()
    return []


class _TurnFlush:
    """The logs of one factory with callbacks waiting: flushed together at the end of the loop
    turn (one ``call_soon`` per turn, however many sessions logged), or at once off a running
    loop. :meth:`settle` lets a reader of the watch on the loop see the current turn too."""

    def __init__(self) -> None:
        self._logs: list[_FileLog] = []
        self._scheduled = False
        self._loop: AbstractEventLoop | None = None   # the loop of the last scheduled flush

    def add(self, log_obj: _FileLog) -> None:
        # The loop of the last flush, when it runs here (no getpid(): loop_is_current), else asked.
        loop = self._loop
        if loop is None or not loop_is_current(loop):
            loop = _get_running_loop()
        if loop is None:
            log_obj.flush()   # off a loop (a worker thread, a test): this log, at once
            return
        self._logs.append(log_obj)
        if not self._scheduled:
            self._scheduled = True
            self._loop = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        logs, self._logs = self._logs, []
        for log_obj in logs:
            log_obj.flush()

    def settle(self) -> None:
        """Flush now what the running turn kept, when called on the loop that owes the flush
        (the admin API's session view); elsewhere (another thread) nothing: the loop's flush
        comes within the turn."""
        if self._logs and self._loop is not None and loop_is_current(self._loop):
            self.flush()


class _NullLog(fix.Log):
    """What a session gets when its files cannot be opened (logged once): trading goes on."""

    def onIncoming(self, text: str) -> None:
        pass

    def onOutgoing(self, text: str) -> None:
        pass

    def onEvent(self, text: str) -> None:
        pass

    def clear(self) -> None:
        pass

    def backup(self) -> None:
        pass

    def close(self) -> None:
        pass


class GatewayLogFactory(fix.LogFactory):
    """Drop-in for ``quickfix.FileLogFactory``; keep it alive as long as the engine (QuickFIX
    holds raw pointers to it and to the logs it created)."""

    def __init__(self, directory: Path, settings: LogSettings, watch: SessionWatch | None = None,
                 quiet: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.quiet = quiet   # session texts (FIX.4.4:PLXTRA->MD1) whose messages are not written
        self.directory = Path(directory)
        self.settings = settings
        self.watch = watch
        self._logs: dict[int, _FileLog | _NullLog] = {}
        self._lock = threading.Lock()
        self._turn = _TurnFlush()
        if watch is not None:
            watch.add_settle(self._turn.settle)   # its readers see the current turn too

    def create(self, session_id: fix.SessionID | None = None) -> fix.Log:
        try:
            text = session_id.toString() if session_id is not None else None
            created = _FileLog(self.directory, text, self.settings, self.watch,
                               messages=text not in self.quiet, turn=self._turn)
        except Exception:
            log.exception("could not create the QuickFIX log; this session logs nothing")
            created = _NullLog()
        with self._lock:
            self._logs[id(created)] = created
        # Hand ownership to C++ before returning: otherwise SWIG records it in a process-wide
        # ownership table under a non-reentrant mutex that a concurrent release can hold, and
        # QuickFIX hangs in SessionFactory::create (seen with gdb). Our dict keeps it alive too.
        created.__disown__()
        return created

    def destroy(self, log_obj: fix.Log) -> None:
        # QuickFIX hands back a SWIG proxy, not our object: find ours by identity of the C++ side.
        try:
            with self._lock:
                for key, ours in list(self._logs.items()):
                    if ours.this == log_obj.this:
                        ours.close()
                        del self._logs[key]
        except Exception:
            log.exception("QuickFIX log destroy failed")

    def close(self) -> None:
        with self._lock:
            for ours in self._logs.values():
                ours.close()
            self._logs.clear()
