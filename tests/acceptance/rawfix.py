"""A deliberately independent raw-socket FIX client for acceptance tests.

Built on ``simplefix`` (not on the gateway's own codec or QuickFIX) so that the gateway is
exercised by a second implementation of the wire format, as a partner's engine would.
Every read is bounded by a deadline.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import simplefix

__all__ = ["Msg", "RawFix", "free_port", "utc_ts"]

SOH = b"\x01"


def utc_ts() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d-%H:%M:%S.") + f"{now.microsecond // 1000:03d}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Msg:
    """A received message: fields in wire order; ``m[tag]`` is the first value or None."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.fields: list[tuple[int, str]] = []
        for part in raw.split(SOH):
            if not part:
                continue
            tag, _, value = part.partition(b"=")
            self.fields.append((int(tag), value.decode("latin-1")))

    def __getitem__(self, tag: int) -> str | None:
        for t, v in self.fields:
            if t == tag:
                return v
        return None

    def all(self, tag: int) -> list[str]:
        return [v for t, v in self.fields if t == tag]

    @property
    def msg_type(self) -> str | None:
        return self[35]

    def __repr__(self) -> str:
        return self.raw.replace(SOH, b"|").decode("latin-1")


class RawFix:
    """One TCP connection speaking FIX by hand."""

    def __init__(self, port: int, begin: str, sender: str, target: str, host: str = "127.0.0.1",
                 timeout: float = 5.0) -> None:
        self.begin = begin
        self.sender = sender
        self.target = target
        self.seq = 1
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.parser = simplefix.FixParser()
        self.received: list[Msg] = []
        self._pending: list[Msg] = []

    # -- sending -------------------------------------------------------------------------------
    def build(self, msg_type: str, fields: Iterable[tuple[int, str]], seq: int | None = None,
              header: Iterable[tuple[int, str]] = ()) -> bytes:
        m = simplefix.FixMessage()
        m.append_pair(8, self.begin, header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, self.sender, header=True)
        m.append_pair(56, self.target, header=True)
        m.append_pair(34, str(self.seq if seq is None else seq), header=True)
        m.append_pair(52, utc_ts(), header=True)
        for t, v in header:
            m.append_pair(t, v, header=True)
        for t, v in fields:
            m.append_pair(t, v)
        return m.encode()

    def send(self, msg_type: str, fields: Iterable[tuple[int, str]] = (), seq: int | None = None,
             header: Iterable[tuple[int, str]] = ()) -> bytes:
        raw = self.build(msg_type, fields, seq, header)
        self.sock.sendall(raw)
        if seq is None:
            self.seq += 1
        return raw

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def logon(self, heartbeat: int = 30, reset: bool = True, extra: Iterable[tuple[int, str]] = (),
              timeout: float = 10.0) -> Msg:
        fields = [(98, "0"), (108, str(heartbeat))]
        if reset:
            fields.append((141, "Y"))
        fields.extend(extra)
        self.send("A", fields)
        return self.expect("A", timeout=timeout)

    # -- receiving -----------------------------------------------------------------------------
    def _read_some(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(min(remaining, 1.0))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            return False
        if not data:
            raise ConnectionError("peer closed the connection")
        self.parser.append_buffer(data)
        while True:
            m = self.parser.get_message()
            if m is None:
                break
            msg = Msg(m.encode(raw=True))
            self.received.append(msg)
            self._pending.append(msg)
        return True

    def next(self, timeout: float = 5.0) -> Msg | None:
        deadline = time.monotonic() + timeout
        while not self._pending:
            if not self._read_some(deadline):
                return None
        return self._pending.pop(0)

    def expect(self, msg_type: str, timeout: float = 5.0,
               where: Mapping[int, str] | None = None, skip_heartbeats: bool = True) -> Msg:
        """The next message of ``msg_type`` matching ``where``; others are kept in ``received``."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            for i, m in enumerate(self._pending):
                if m.msg_type == msg_type and all(m[t] == v for t, v in (where or {}).items()):
                    del self._pending[i]
                    return m
            if not self._read_some(deadline):
                seen = [repr(m) for m in self._pending]
                raise AssertionError(f"no {msg_type} {dict(where or {})} within {timeout}s; pending: {seen}")

    def drain(self, timeout: float = 0.5) -> list[Msg]:
        deadline = time.monotonic() + timeout
        try:
            while self._read_some(deadline):
                pass
        except ConnectionError:
            pass
        out, self._pending = self._pending, []
        return out

    def closed_within(self, timeout: float) -> bool:
        """True if the peer closes the TCP connection before ``timeout``."""
        deadline = time.monotonic() + timeout
        try:
            while self._read_some(deadline):
                pass
        except ConnectionError:
            return True
        return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> RawFix:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
