"""Inbound journal: a NewOrderSingle that QuickFIX has accepted cannot vanish in a crash.

QuickFIX accepts (and sequences) an inbound message before the loop has written the order row;
a ``kill -9`` in between loses the order, and the partner, whose MsgSeqNum was consumed, never
resends it. The journal closes that window: the hand-off appends every application message to a
file *inside QuickFIX's fromApp, before the message is dispatched and before QuickFIX counts
it*; at start-up the orders service replays journaled D / F / G whose ClOrdID the store does not know.

How the hand-off must call it (``gateway/fix/handoff.py``, ``fromApp`` path)::

    journal = journal_for(journal_path(store_path))    # once, at construction (same object as
                                                       # the orders service's: one per path)
    record = to_record(message, key)
    if record.msg_type in JOURNALED:                   # D, F, G (cheap to filter here)
        journal.append(record)                         # before loop.call_soon_threadsafe(...)
    loop.call_soon_threadsafe(inbox.dispatch, record)

``append`` is thread-safe, never touches the loop, and is one ``os.write`` of one line to a file
opened ``O_APPEND``: the bytes are in the kernel when it returns, so they survive ``kill -9`` of
the process (not a power loss: no fsync, by design, ~5 µs per message). It raises
:class:`StoreError` if the write fails; the hand-off then refuses the message (a
BusinessMessageReject, nothing dispatched): dispatched unjournaled, an order a crash caught
before its decision would be lost, its MsgSeqNum consumed.

With ``gateway.store: postgresql://...`` the journal is a table of that database instead
(:mod:`gateway.store.pg_inbound_journal`, same interface): the sequence numbers live there, so
must the only copy of a counted message. :func:`open_inbound_journal` is the one place choosing.

File format: one JSON object per line, ``{"s": [begin, sender, target, qualifier], "t": MsgType,
"n": MsgSeqNum, "r": received_ns, "f": [[tag, value], ...]}``. A torn last line (a write cut by a
crash) is dropped when the file is opened. The journal grows while the process runs; the orders
service compacts it at each start (every record of an earlier run is then either in the store or
answered again).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

from gateway.store.errors import StoreError
from gateway.vocab.records import InboundMessage, SessionKey

__all__ = ["JOURNALED", "InboundJournal", "Journal", "journal_for", "journal_path", "open_inbound_journal",
           "replayable"]

JOURNALED = frozenset({"D", "F", "G", "q"})
"""Message types worth journaling: those that create, change or cancel orders."""



class Journal(Protocol):
    """What the hand-off and the orders service use, whichever backend holds the journal: this
    module's file, or :class:`gateway.store.pg_inbound_journal.PgInboundJournal`."""

    @property
    def closed(self) -> bool: ...

    def append(self, msg: InboundMessage) -> None: ...

    def records(self) -> list[InboundMessage]: ...

    def compact(self, keep: Callable[[InboundMessage], bool]) -> int: ...

    def close(self) -> None: ...


_registry: dict[Path, Journal] = {}
_registry_lock = threading.Lock()


def journal_path(store_path: Path) -> Path:
    """The journal beside the SQLite store: ``gateway.sqlite`` -> ``gateway.sqlite.inbound``."""
    return store_path.with_name(store_path.name + ".inbound")


def journal_for(path: Path) -> Journal:
    """The one journal of ``path`` in this process (the hand-off and the service share it): the
    file, unless :func:`open_inbound_journal` put the PostgreSQL journal in its place."""
    key = Path(os.path.abspath(path))
    with _registry_lock:
        journal = _registry.get(key)
        if journal is None or journal.closed:
            journal = _registry[key] = InboundJournal(key)
        return journal


def open_inbound_journal(config: Any, *, instance: str | None = None) -> Journal:
    """The inbound journal ``config`` calls for, and the one place that chooses it: with
    ``gateway.store`` set (PostgreSQL), the rows of ``instance`` (default ``default``, as the store's)
    in that database, so that whoever takes the instance over on another host replays them;
    otherwise the file beside the SQLite store. Either is then what :func:`journal_for` returns
    for the store's path in this process, so the orders service (which asks for it by that path)
    and the hand-off share one journal. Call it before the orders service is built."""
    from gateway.store.orders_store import store_path_of  # the store imports much; only when called

    key = Path(os.path.abspath(journal_path(store_path_of(config))))
    pg = getattr(config.gateway, "store", None)
    if pg is None:
        return journal_for(key)
    from gateway.config.instances import DEFAULT_INSTANCE
    from gateway.store.pg_inbound_journal import PgInboundJournal  # psycopg only when used

    name = instance or DEFAULT_INSTANCE
    with _registry_lock:
        journal = _registry.get(key)
        if not (isinstance(journal, PgInboundJournal) and not journal.closed and journal.instance == name):
            journal = _registry[key] = PgInboundJournal(pg.url, instance=name)
        return journal


def encode(msg: InboundMessage) -> bytes:
    s = msg.session
    obj = {
        "s": (s.begin_string, s.sender_comp_id, s.target_comp_id, s.qualifier),
        "t": msg.msg_type,
        "n": msg.msg_seq_num,
        "r": msg.received_ns or time.time_ns(),
        "f": msg.fields,   # tuples of (tag, value) pairs: JSON arrays, as decode reads them
    }
    # orjson (about 10x json.dumps on the order path): JSON escapes every control character, and no
    # byte of a UTF-8 multi-byte sequence is a newline, so a value can never break the line. A lone
    # surrogate raises (json.dumps would escape it): the hand-off refuses such messages before this.
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def decode(line: bytes) -> InboundMessage:
    obj = json.loads(line)
    key = SessionKey(*obj["s"])
    fields = tuple((int(tag), str(value)) for tag, value in obj["f"])
    return InboundMessage(key, str(obj["t"]), int(obj["n"]), fields, int(obj["r"]))


def replayable(
    records: list[InboundMessage], before_ns: int, known: Callable[[InboundMessage], bool]
) -> list[InboundMessage]:
    """Journaled D / F / G received before ``before_ns`` (an earlier run) that ``known`` (the
    store knows its ClOrdID on its session) rejects: the ones a crash kept from the store."""
    return [m for m in records if m.msg_type in JOURNALED and m.received_ns < before_ns and not known(m)]


class InboundJournal:
    """Append-only file of inbound messages; ``append`` from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        try:
            self._drop_torn_tail()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open inbound journal: {exc.strerror}", path=str(self.path)) from exc

    @property
    def closed(self) -> bool:
        return self._fd is None

    def append(self, msg: InboundMessage) -> None:
        """Write one line for ``msg`` (thread-safe; one write call, no fsync)."""
        line = encode(msg)
        with self._lock:
            fd = self._fd
            if fd is None:
                raise StoreError("inbound journal is closed", path=str(self.path))
            try:
                done = os.write(fd, line)
                if done != len(line):  # a regular file takes it all at once; loop for the letter of POSIX
                    data = memoryview(line)[done:]
                    while data:
                        data = data[os.write(fd, data):]
            except OSError as exc:
                raise StoreError(f"inbound journal write failed: {exc.strerror}",
                                 path=str(self.path)) from exc

    def records(self) -> list[InboundMessage]:
        """Every complete record, in append order (unreadable lines are skipped)."""
        with self._lock:
            return [m for m in (self._parse(line) for line in self._lines()) if m is not None]

    def compact(self, keep: Callable[[InboundMessage], bool]) -> int:
        """Rewrite the file with only the records ``keep`` accepts; returns how many were dropped.

        Runs under the append lock, so a message appended meanwhile is neither lost nor doubled.
        """
        with self._lock:
            kept: list[bytes] = []
            dropped = 0
            for line in self._lines():
                msg = self._parse(line)
                if msg is not None and keep(msg):
                    kept.append(line + b"\n")
                else:
                    dropped += 1
            tmp = self.path.with_name(self.path.name + ".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(b"".join(kept))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(f"inbound journal compaction failed: {exc.strerror}",
                                 path=str(self.path)) from exc
            return dropped

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _lines(self) -> list[bytes]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return [line for line in data.split(b"\n")[:-1] if line]  # the part after the last \n is torn

    @staticmethod
    def _parse(line: bytes) -> InboundMessage | None:
        try:
            return decode(line)
        except (ValueError, KeyError, TypeError, IndexError):
            return None

    def _drop_torn_tail(self) -> None:
        """Cut a last line without its newline (a crash mid-write) so appends start clean."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        if data and not data.endswith(b"\n"):
            os.truncate(self.path, data.rfind(b"\n") + 1)
