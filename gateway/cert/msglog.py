"""The certification session's message log: every message in and out, as a log file the harness's
readers (and ``plxtra-fix decode``) read back, plus the in-memory list the steps and the JSON view
point into.

One line per message, in the QuickFIX/J screen-log shape the readers recognise with its direction::

    20261206-04:30:00.123 outgoing FIX.4.4:PLXTRA->PARTNER: 8=FIX.4.4<SOH>9=...

The record carries the SHA-256 of this file, so it is written once, in order, and never rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from gateway.harness.codec import FixMessage, FixParser
from gateway.harness.errors import ParseError
from gateway.harness.sessionproto import format_utc

__all__ = ["LoggedMessage", "MessageLog"]

_WORDS = {"in": b"incoming", "out": b"outgoing"}


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    index: int
    time: datetime
    direction: str                # "in": from the partner; "out": from Plxtra
    raw: bytes
    msg_type: str | None
    checksum_ok: bool = True

    def fields(self) -> list[tuple[int, str]]:
        message = _parse_one(self.raw)
        return [] if message is None else list(message.fields)


def _parse_one(raw: bytes) -> FixMessage | None:
    parser = FixParser()
    parser.feed(raw)
    try:
        return parser.next()
    except ParseError:
        return None


class MessageLog:
    """Cut the two byte streams into messages; write and keep each one. ``wire`` is the
    ``FixSession(wire_log=...)`` callback and runs on the loop thread."""

    def __init__(self, path: Path | None, begin_string: str, ours: str, partner: str,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self.entries: list[LoggedMessage] = []
        self.listeners: list[Callable[[LoggedMessage], None]] = []
        self._clock = clock or (lambda: datetime.now(UTC))
        self._parsers = {"in": FixParser(), "out": FixParser()}
        self._ids = {"in": f"{begin_string}:{partner}->{ours}".encode(),
                     "out": f"{begin_string}:{ours}->{partner}".encode()}
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb")

    def new_connection(self) -> None:
        """A reconnect: bytes cut short on the old connection must not glue onto the new one."""
        self._parsers = {"in": FixParser(), "out": FixParser()}

    def wire(self, direction: str, data: bytes) -> None:
        parser = self._parsers[direction]
        parser.feed(data)
        for _ in range(100_000):   # bounded: one chunk never holds more messages than this
            try:
                message = parser.next()
            except ParseError as exc:
                self._add(direction, getattr(exc, "snippet", b"") or b"", None, False)
                continue
            if message is None:
                return
            self._add(direction, message.raw, message.msg_type, message.checksum_ok)

    def _add(self, direction: str, raw: bytes, msg_type: str | None, checksum_ok: bool) -> None:
        now = self._clock()
        entry = LoggedMessage(len(self.entries), now, direction, raw, msg_type, checksum_ok)
        self.entries.append(entry)
        line = (format_utc(now).encode() + b" " + _WORDS[direction] + b" " + self._ids[direction]
                + b": " + raw.rstrip(b"\r\n") + b"\n")
        self._hash.update(line)
        if self._file is not None:
            self._file.write(line)
            self._file.flush()
        for listener in self.listeners:
            listener(entry)

    def sha256(self) -> str:
        """SHA-256 of every line written so far (equal to the file's hash)."""
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
