"""Messages as people paste them, read leniently when the strict parser gives up. No I/O.

A message copied from a ticket or a chat rarely survives intact: the last field loses its
delimiter (``...|10=152`` at the end of a line), bars get spaces around them (``35=D | 49=A``),
BodyLength or CheckSum are placeholders (``9=0``, ``10=0``, ``10=52``). :func:`salvage` takes the
text from a BeginString to the end of its line (or the next BeginString), splits it on any
delimiter a log may use (SOH, ``|``, ``^A``) with blanks around it, re-encodes the fields with the
BodyLength and CheckSum they need, and lists what was wrong with the original beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.harness.codec import FixMessage, FixParser, encode
from gateway.harness.errors import HarnessError

__all__ = ["Salvaged", "salvage"]

_SEPARATOR = re.compile(rb"[ \t]*(?:\x01|\||\^A)[ \t]*")
_FIELD = re.compile(rb"([0-9]+)=(.*)", re.DOTALL)
_PARSER = FixParser()


@dataclass(frozen=True, slots=True)
class Salvaged:
    """The re-encoded message and the problems of the original, as (kind, text) pairs."""

    message: FixMessage
    problems: tuple[tuple[str, str], ...]


def salvage(text: bytes) -> Salvaged | None:
    """Read ``text`` (starting at ``8=FIX``) leniently; None when it is not a message at all
    (no BeginString first, no MsgType, or nothing that looks like fields)."""
    body = text.rstrip(b"\r\n").strip()
    pieces = _SEPARATOR.split(body)
    problems: list[tuple[str, str]] = []
    separators = _SEPARATOR.findall(body)
    if any(b" " in sep or b"\t" in sep for sep in separators):
        problems.append(("delimiter", "blanks around the field delimiters"))
    others = sorted({sep.strip(b" \t").decode("latin-1") for sep in separators} - {"\x01"})
    if others:   # the file's format says SOH (a '|' dump would have been converted already)
        problems.append(("delimiter", f"fields delimited by {', '.join(map(repr, others))}, not SOH"))
    if pieces and pieces[-1] == b"":
        pieces.pop()
    elif pieces:
        problems.append(("delimiter", "no delimiter after the last field"))
    fields: list[tuple[int, str]] = []
    declared_length = declared_checksum = None
    for n, piece in enumerate(pieces):
        m = _FIELD.fullmatch(piece)
        if m is None:
            problems.append(("garbage", f"not a TAG=VALUE field: {piece[:24].decode('latin-1')!r}"))
            continue
        tag, value = int(m.group(1)), m.group(2).decode("latin-1")
        if tag == 9:
            declared_length = value
        elif tag == 10:
            declared_checksum = value
            if n != len(pieces) - 1:
                problems.append(("garbage", "fields after CheckSum(10) ignored"))
            break
        else:
            fields.append((tag, value))
    if not fields or fields[0][0] != 8 or not fields[0][1].startswith("FIX") or len(fields) < 2:
        return None
    begin = fields[0][1]
    rest = [f for f in fields[1:] if f[0] != 8]
    if rest[0][0] != 35:
        return None
    try:
        raw = encode(begin, rest, check=False)
    except HarnessError:
        return None
    message, _ = _PARSER.cut(raw, 0, final=True)
    if not isinstance(message, FixMessage):
        return None
    problems += _trailer_problems(message, declared_length, declared_checksum)
    return Salvaged(message, tuple(problems))


def _trailer_problems(message: FixMessage, length: str | None, check: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if length is None:
        out.append(("body-length", f"no BodyLength(9); actual {message.body_length}"))
    elif length != str(message.body_length):
        out.append(("body-length", f"BodyLength(9) is {length}, actual {message.body_length}"))
    if check is None:
        out.append(("trailer", f"missing trailer: no CheckSum(10); computed {message.checksum:03d}"))
    elif not check.isdigit() or int(check) != message.checksum:
        out.append(("checksum", f"CheckSum(10) {check}, computed {message.checksum:03d}"))
    elif len(check) != 3:
        out.append(("checksum", f"CheckSum(10) {check} is not three digits ({message.checksum:03d})"))
    return out
