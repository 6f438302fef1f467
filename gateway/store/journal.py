"""The store's write-ahead journal: an append-only file of numbered, checksummed records.

Frame of one record (little-endian)::

    length u32 | seq u64 | crc32 u32 | payload (length bytes)

``crc32`` covers the eight ``seq`` bytes and the payload, so a record whose bytes were cut by a
crash (a torn tail) or never fully reached the file fails its check and ends the journal there.
``seq`` increases by one per record for the life of the store; the database remembers the last
one it holds, so replay skips what it already has and a journal may be truncated once applied.

The writer appends a whole block (every record of one loop turn) with one ``os.writev`` (or
``os.write`` of an encoded block) on a file opened ``O_APPEND``: when it returns the bytes are in
the kernel and survive ``kill -9`` of the process. Only with ``fsync=True`` do they also survive a
power loss (an fsync costs 0.1 to 10 ms depending on the disk, so it is off by default, as the
SQLite store's ``synchronous=NORMAL`` was).

Pure file format and file handling: no knowledge of what a payload means.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["HEADER", "Journal", "encode_block", "encode_frame", "journal_file", "read_frames"]

HEADER = struct.Struct("<IQI")
_SEQ = struct.Struct("<Q")
_MAX_RECORD = 64 << 20  # a length above this is garbage (a torn or overwritten header), not a record
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16  # writev's limit


def journal_file(store_path: Path) -> Path:
    """The journal beside the SQLite store: ``gateway.sqlite`` -> ``gateway.sqlite.journal``."""
    return store_path.with_name(store_path.name + ".journal")


def encode_frame(seq: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq)))
    return HEADER.pack(len(payload), seq, crc) + payload


def encode_block(frames: Iterable[Sequence[Any]]) -> bytes:
    """The records of ``frames`` (``(seq, payload, ...)``) as one block: the bytes of
    :func:`encode_frame` of each, joined once (no header + payload copy per record)."""
    parts: list[bytes] = []
    append, pack, seq_pack, crc32 = parts.append, HEADER.pack, _SEQ.pack, zlib.crc32
    for f in frames:
        seq, payload = f[0], f[1]
        append(pack(len(payload), seq, crc32(payload, crc32(seq_pack(seq)))))
        append(payload)
    return b"".join(parts)


def read_frames(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The records of ``data`` in order, and the offset where the valid part ends (a torn or
    corrupt record, and everything after it, is not returned)."""
    out: list[tuple[int, bytes]] = []
    pos, end, size = 0, len(data), HEADER.size
    while pos + size <= end:
        length, seq, crc = HEADER.unpack_from(data, pos)
        if length > _MAX_RECORD or pos + size + length > end:
            break
        payload = data[pos + size:pos + size + length]
        if zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq))) != crc:
            break
        out.append((seq, payload))
        pos += size + length
    return out, pos


def _iter_file(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    frames, _ = read_frames(data)
    yield from frames


class Journal:
    """The journal file ``path`` (created if missing), written by one thread.

    ``path.old`` is the previous segment after :meth:`rotate`, kept until the database holds all
    of its records (:meth:`drop_old`).
    """

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self.old_path = path.with_name(path.name + ".old")
        self.fsync = fsync
        self.old_last_seq: int | None = None  # last record of the old segment, if there is one
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.size = os.fstat(self._fd).st_size

    def records(self) -> Iterator[tuple[int, bytes]]:
        """Every valid record of the old segment, then of the current one (recovery)."""
        yield from _iter_file(self.old_path)
        yield from _iter_file(self.path)

    def write(self, block: bytes) -> None:
        """Append ``block`` (whole frames); raises OSError if the file cannot take it."""
        view = memoryview(block)
        while view:
            view = view[os.write(self._fd, view):]
        if self.fsync:
            os.fsync(self._fd)
        self.size += len(block)

    def write_frames(self, frames: Sequence[Sequence[Any]]) -> None:
        """Append the records of ``frames`` (``(seq, payload, ...)``): the bytes of
        :func:`encode_block`, handed to the kernel as they are with one ``writev`` (the headers and
        the payloads, never joined: at one record per loop turn that copy is about an eighth of
        the write). Raises OSError if the file cannot take them."""
        parts: list[bytes] = []
        append, pack, seq_pack, crc32 = parts.append, HEADER.pack, _SEQ.pack, zlib.crc32
        total = 0
        for f in frames:
            seq, payload = f[0], f[1]
            append(pack(len(payload), seq, crc32(payload, crc32(seq_pack(seq)))))
            append(payload)
            total += HEADER.size + len(payload)
        done = os.writev(self._fd, parts) if len(parts) <= _IOV_MAX else 0
        if done != total:
            # A short write (which a regular file does not do), or more parts than one call takes:
            # the rest as one buffer, as write() does.
            view = memoryview(b"".join(parts))[done:]
            while view:
                view = view[os.write(self._fd, view):]
        if self.fsync:
            os.fsync(self._fd)
        self.size += total

    def truncate(self) -> None:
        """Forget every record: call only once the database holds all of them."""
        if self.size:
            os.ftruncate(self._fd, 0)
            self.size = 0
        if self.old_last_seq is not None:
            self.drop_old()

    def rotate(self, last_seq: int) -> bool:
        """Start a new segment; the current one (ending at ``last_seq``) becomes ``path.old``.
        False (nothing done) while an older segment is still waiting for the database."""
        if self.old_last_seq is not None:
            return False
        os.rename(self.path, self.old_path)  # atomic: recovery sees the segment under one name or the other
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.old_last_seq, self.size = last_seq, 0
        return True

    def drop_old(self) -> None:
        self.old_last_seq = None
        try:
            os.unlink(self.old_path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
