"""FIX messages out of pcap / pcapng captures: TCP reassembled per connection and direction.

Packets are read with dpkt (pure Python, small, maintained; see README "Log analysis" for the
choice over scapy and tshark). Each TCP direction is a stream of bytes put back in sequence order:
retransmitted bytes are dropped, segments that arrive early wait for the missing ones, and a hole
the capture never filled (packet loss at capture time) is reported and skipped, the FIX parser then
finding the next ``8=FIX``. The bytes feed a streaming :class:`~gateway.harness.codec.FixParser`;
each message becomes a :class:`~gateway.harness.readers.LogRecord` whose time is the capture time
of the packet that completed it and whose "line" is that packet's number in the file.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dpkt

from gateway.harness.codec import FixParser
from gateway.harness.errors import ParseError
from gateway.harness.readers import LogProblem, LogRecord
from gateway.vocab.records import SessionKey
from gateway.vocab.times import utc_timestamp_from_epoch

__all__ = ["PCAP_MAGICS", "is_capture", "read_capture"]

PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",  # pcap, microseconds (little, big endian)
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",  # pcap, nanoseconds
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)
_MASK = 0xFFFFFFFF
_HALF = 1 << 31
_MAX_WAITING = 4096  # segments held while waiting for a missing one, per direction
Flow = tuple[str, int, str, int]


def is_capture(path: str | os.PathLike[str]) -> bool:
    """Does the file start like a pcap or pcapng capture?"""
    try:
        with open(path, "rb") as f:
            return f.read(4) in PCAP_MAGICS
    except OSError:
        return False


@dataclass(slots=True)
class _Stream:
    """One direction of one TCP connection."""

    next_seq: int | None = None
    waiting: dict[int, bytes] = field(default_factory=dict)  # seq -> payload that came early
    parser: FixParser = field(default_factory=FixParser)


def _ip_of(linktype: int, buf: bytes) -> dpkt.ip.IP | dpkt.ip6.IP6 | None:
    try:
        if linktype == dpkt.pcap.DLT_EN10MB:
            frame = dpkt.ethernet.Ethernet(buf)
            ip = frame.data
        elif linktype == dpkt.pcap.DLT_LINUX_SLL:
            ip = dpkt.sll.SLL(buf).data
        elif linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
            ip = dpkt.loopback.Loopback(buf).data
        elif linktype in (dpkt.pcap.DLT_RAW, 12, 14, 228, 229):  # raw IP (12/14 on some BSDs), IPv4, IPv6
            ip = dpkt.ip6.IP6(buf) if buf[:1] and buf[0] >> 4 == 6 else dpkt.ip.IP(buf)
        else:
            return None
    except (dpkt.dpkt.UnpackError, IndexError, ValueError):
        return None
    return ip if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) else None


def _address(ip: dpkt.ip.IP | dpkt.ip6.IP6) -> tuple[str, str]:
    family = socket.AF_INET6 if isinstance(ip, dpkt.ip6.IP6) else socket.AF_INET
    return socket.inet_ntop(family, ip.src), socket.inet_ntop(family, ip.dst)


def _time_text(ts: float) -> str:
    return utc_timestamp_from_epoch(float(ts), 6)


def read_capture(
    path: str,
    *,
    session_of: Callable[[str, str, str], SessionKey],
    on_problem: Callable[[LogProblem], None],
) -> Iterator[LogRecord]:
    """Records of every FIX message in the capture, in capture order.

    ``session_of(begin_string, sender, target)`` names the session (shared with the other inputs so
    one session seen in a log and a capture is one session); problems go to ``on_problem``.
    """
    streams: dict[Flow, _Stream] = {}
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by the with below; open errors reported here)
    except OSError as exc:
        on_problem(LogProblem(path, 0, f"cannot open: {exc.strerror or exc}", "io"))
        return
    with f:
        try:
            magic = f.read(4)
            f.seek(0)
            reader = dpkt.pcapng.Reader(f) if magic == PCAP_MAGICS[-1] else dpkt.pcap.Reader(f)
            linktype = reader.datalink()
        except (ValueError, dpkt.dpkt.UnpackError, dpkt.dpkt.NeedData) as exc:
            on_problem(LogProblem(path, 0, f"not a readable capture: {exc}", "io"))
            return
        number = 0
        try:
            for ts, buf in reader:
                number += 1
                ip = _ip_of(linktype, buf)
                if ip is None or not isinstance(ip.data, dpkt.tcp.TCP):
                    continue
                tcp = ip.data
                src, dst = _address(ip)
                flow = (src, tcp.sport, dst, tcp.dport)
                stream = streams.get(flow)
                if stream is None:
                    stream = streams[flow] = _Stream()
                if tcp.flags & dpkt.tcp.TH_SYN:
                    stream.next_seq = (tcp.seq + 1) & _MASK
                    stream.waiting.clear()
                if not tcp.data:
                    continue
                for data in _in_order(stream, tcp.seq, bytes(tcp.data), path, number, on_problem):
                    stream.parser.feed(data)
                    yield from _messages(stream.parser, path, number, ts, session_of, on_problem)
        except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError, ValueError) as exc:
            on_problem(LogProblem(path, number, f"capture ends early (truncated?): {exc}", "io"))
        for flow, stream in streams.items():
            if stream.waiting:
                missing = min(((s - (stream.next_seq or s)) & _MASK) for s in stream.waiting)
                on_problem(
                    LogProblem(
                        path,
                        number,
                        f"TCP {flow[0]}:{flow[1]} -> {flow[2]}:{flow[3]}: "
                        f"{missing} bytes never captured; later data skipped to resync",
                        "capture-gap",
                    )
                )
                for seq in sorted(stream.waiting, key=lambda s: (s - (stream.next_seq or s)) & _MASK):
                    stream.parser.feed(stream.waiting[seq])
            stream.waiting.clear()
            stream.parser.feed_eof()
            yield from _messages(stream.parser, path, number, None, session_of, on_problem)


def _in_order(
    stream: _Stream, seq: int, data: bytes, path: str, number: int, on_problem: Callable[[LogProblem], None]
) -> Iterator[bytes]:
    """The bytes that this segment makes available in order (none, its own, or more)."""
    if stream.next_seq is None:
        stream.next_seq = seq  # capture started mid-connection: trust the first segment
    offset = (seq - stream.next_seq) & _MASK
    if offset >= _HALF:  # starts before what we have: a retransmission, maybe with new bytes
        overlap = (stream.next_seq - seq) & _MASK
        if overlap >= len(data):
            return
        data = data[overlap:]
        offset = 0
    if offset > 0:
        if len(stream.waiting) >= _MAX_WAITING:
            on_problem(
                LogProblem(
                    path, number, f"{offset} TCP bytes missing from the capture; skipped", "capture-gap"
                )
            )
            stream.next_seq = min(stream.waiting, key=lambda s: (s - stream.next_seq) & _MASK)  # type: ignore[operator]
            yield from _drain(stream)
        else:
            stream.waiting[seq] = data
        return
    stream.next_seq = (stream.next_seq + len(data)) & _MASK
    yield data
    yield from _drain(stream)


def _drain(stream: _Stream) -> Iterator[bytes]:
    while stream.waiting and stream.next_seq is not None:
        ready = None
        for seq in list(stream.waiting):
            offset = (seq - stream.next_seq) & _MASK
            data = stream.waiting[seq]
            if offset == 0 or offset >= _HALF:
                del stream.waiting[seq]
                overlap = 0 if offset == 0 else (stream.next_seq - seq) & _MASK
                if overlap < len(data):
                    ready = data[overlap:]
                    break
        if ready is None:
            return
        stream.next_seq = (stream.next_seq + len(ready)) & _MASK
        yield ready


def _messages(
    parser: FixParser,
    path: str,
    number: int,
    ts: float | None,
    session_of: Callable[[str, str, str], SessionKey],
    on_problem: Callable[[LogProblem], None],
) -> Iterator[LogRecord]:
    time_text = None if ts is None else _time_text(ts)
    for _ in range(1_000_000):  # bounded: one packet holds far fewer messages
        try:
            message = parser.next()
        except ParseError as exc:
            on_problem(LogProblem(path, number, exc.detail, type(exc).__name__))
            continue
        if message is None:
            return
        sender, target = message.comp_ids()
        sender = sender or ""
        target = target or ""
        session = session_of(message.begin_string, sender, target)
        yield LogRecord(message, path, number, time_text, None, session, sender, target)
