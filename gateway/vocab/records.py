"""Plain records that cross the QuickFIX <-> asyncio boundary.

A ``quickfix.Message`` dies with the callback that delivered it, so the engine side copies
what it received into an :class:`InboundMessage` (tag/value pairs in wire order, repeating
groups included) and the loop side answers with :class:`OutboundMessage` records, which the
engine side turns back into ``quickfix.Message`` objects on send. Nothing here imports quickfix.

:class:`InboundMessage` is built once per message received, so it is a plain slotted dataclass,
never changed once built, rather than a frozen one: a frozen dataclass's ``__init__`` sets each
field through ``object.__setattr__`` (Python 3.11: 2.35 us for 18 fields against 0.28 us). It
stays hashable (``unsafe_hash``) as the frozen one was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["Fields", "InboundMessage", "OutboundMessage", "SessionKey"]

Fields = tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Identity of a FIX session as seen from the gateway (our CompID is ``sender``)."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    qualifier: str = ""

    def __str__(self) -> str:
        base = f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"
        return f"{base}:{self.qualifier}" if self.qualifier else base


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see the module doc
class InboundMessage:
    """An application message received from a counterparty.

    ``fields`` holds the body and header tags in wire order except BeginString(8),
    BodyLength(9) and CheckSum(10); repeating groups appear as on the wire
    (count tag, then each entry's tags).
    """

    session: SessionKey
    msg_type: str
    msg_seq_num: int
    fields: Fields
    received_ns: int = 0

    def get(self, tag: int, default: str | None = None) -> str | None:
        """First value of ``tag`` anywhere in the message, or ``default``."""
        for t, v in self.fields:
            if t == tag:
                return v
        return default

    def get_all(self, tag: int) -> list[str]:
        return [v for t, v in self.fields if t == tag]

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self.fields)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """An application message the gateway wants sent on ``session``.

    ``fields`` are body tags in order (groups as count tag then entries); the engine side
    fills in the standard header (8, 9, 34, 49, 52, 56) and trailer.
    """

    session: SessionKey
    msg_type: str
    fields: Fields = field(default_factory=tuple)

    @classmethod
    def build(cls, session: SessionKey, msg_type: str,
              pairs: Iterable[tuple[int, object]]) -> OutboundMessage:
        """Build from pairs, dropping ``None`` values; Decimals are written in plain notation."""
        return cls(session, msg_type, tuple((t, _text(v)) for t, v in pairs if v is not None))


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        # FIX float fields forbid exponents: Decimal("1E+2") must go out as "100".
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)
