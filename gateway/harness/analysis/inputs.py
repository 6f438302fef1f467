"""Where the analysers' records come from: logs (everything ``decode`` reads), pcap/pcapng
captures, and a log that is still being written (``--follow``).

Files are read in the order given. Logs go through one :class:`~gateway.harness.readers.LogReader`
(so two logs of one session, one per side, group into one session); captures are recognised by
their magic bytes, whatever their name. When captures or a followed file are involved, sessions are
named once for all inputs: the first (BeginString, CompID pair) seen fixes its :class:`SessionKey`.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence

from gateway.harness.analysis.pcap import is_capture, read_capture
from gateway.harness.readers import LogProblem, LogReader, LogRecord
from gateway.vocab.records import SessionKey

__all__ = ["Inputs", "SessionNamer"]

_FOLLOW_CHUNK = 4 << 20


class SessionNamer:
    """One :class:`SessionKey` per (BeginString, unordered CompID pair), the first one seen."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, frozenset[str]], SessionKey] = {}

    def of(self, begin_string: str, sender: str, target: str) -> SessionKey:
        key = (begin_string, frozenset((sender, target)))
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = SessionKey(begin_string, sender, target)
        return found

    def same(self, record: LogRecord) -> LogRecord:
        session = self.of(
            record.session.begin_string, record.session.sender_comp_id, record.session.target_comp_id
        )
        return record if session == record.session else record._replace(session=session)


class Inputs:
    """Iterate the records of ``paths``; ``problems`` collects what was wrong in them.

    With ``follow`` (one plain log file) the file is read as it grows, every ``poll`` seconds, until
    it has not grown for ``idle_exit`` seconds (None: until ``stop()`` or Ctrl-C).
    """

    def __init__(
        self,
        paths: Sequence[str],
        *,
        format: str = "auto",
        follow: bool = False,
        idle_exit: float | None = None,
        poll: float = 0.2,
        max_problems: int = 10_000,
    ) -> None:
        self.paths = list(paths)
        self.format = format
        self.follow = follow
        self.idle_exit = idle_exit
        self.poll = poll
        self.max_problems = max_problems
        self.problems: list[LogProblem] = []
        self.problem_count = 0
        self.namer = SessionNamer()
        self._stopped = False
        if follow and len(self.paths) != 1:
            raise ValueError("--follow reads exactly one log file")

    def problem(self, problem: LogProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)

    def stop(self) -> None:
        """End ``--follow`` at its next poll."""
        self._stopped = True

    def __iter__(self) -> Iterator[LogRecord]:
        if self.follow:
            return self._follow(self.paths[0])
        captures = [p for p in self.paths if p != "-" and is_capture(p)]
        if not captures:  # the common case: the reader's own iterator, no generator level of ours
            return iter(LogReader(self.paths or ["-"], format=self.format, on_problem=self.problem))
        return self._mixed(captures)

    def _mixed(self, captures: list[str]) -> Iterator[LogRecord]:
        same = self.namer.same
        logs: list[str] = []
        for path in [*self.paths, None]:
            if path is not None and path not in captures:
                logs.append(path)
                continue
            if logs:  # the logs given before this capture, as one reader
                for record in LogReader(logs, format=self.format, on_problem=self.problem):
                    yield same(record)
                logs = []
            if path is not None:
                yield from read_capture(path, session_of=self.namer.of, on_problem=self.problem)

    # -- follow --------------------------------------------------------------------------------------------
    def _follow(self, path: str) -> Iterator[LogRecord]:
        """Complete lines as they are appended; a truncated (rotated) file is read from the start."""
        position = 0
        carry = b""
        lines_before = 0
        fmt = self.format
        idle_since = time.monotonic()
        sleep: Callable[[float], None] = time.sleep
        for _ in itertools.count():
            if self._stopped:
                break
            try:
                size = os.stat(path).st_size
            except OSError as exc:
                self.problem(LogProblem(path, 0, f"cannot read: {exc.strerror or exc}", "io"))
                return
            if size < position:  # truncated or replaced: start again
                position, carry, lines_before = 0, b"", 0
            if size > position:
                with open(path, "rb") as f:
                    f.seek(position)
                    chunk = f.read(_FOLLOW_CHUNK)
                position += len(chunk)
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                complete, carry = data[:cut], data[cut:]
                if complete:
                    fmt = yield from self._lines(path, complete, fmt, lines_before)
                    lines_before += complete.count(b"\n")
                idle_since = time.monotonic()
                continue
            if self.idle_exit is not None and time.monotonic() - idle_since >= self.idle_exit:
                break
            sleep(self.poll)
        if carry.strip():  # the last line never got its newline: read it as it is
            yield from self._lines(path, carry, fmt, lines_before)

    def _lines(self, path: str, data: bytes, fmt: str, lines_before: int) -> Generator[LogRecord, None, str]:
        def shift(problem: LogProblem) -> None:
            self.problem(LogProblem(path, problem.line + lines_before, problem.reason, problem.kind))

        reader = LogReader(["-"], format=fmt, on_problem=shift, stdin=io.BytesIO(data))
        same = self.namer.same
        for record in reader:
            yield same(record)._replace(file=path, line=record.line + lines_before)
        # the format seen in the first lines holds for the rest of the file
        return reader.formats.get("<stdin>", fmt) if fmt == "auto" else fmt
