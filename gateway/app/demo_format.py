"""One readable line per FIX message, with names taken from the data dictionary.

Used by ``plxtra-fix demo``: ``-> NewOrderSingle ClOrdID=demo-1 Buy 100 XS01 @ 10.20`` rather
than tag soup. Names (messages, fields, enum values) come from the QuickFIX dictionary XML, so
nothing here is a hand-kept tag table; only the choice of what to show per MsgType is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FixNames", "describe"]


@dataclass(slots=True)
class FixNames:
    """Message, field and enum names of one dictionary file."""

    messages: dict[str, str] = field(default_factory=dict)     # MsgType -> name
    fields: dict[int, str] = field(default_factory=dict)       # tag -> name
    enums: dict[int, dict[str, str]] = field(default_factory=dict)   # tag -> value -> description

    @classmethod
    def load(cls, path: Path) -> FixNames:
        from gateway.vocab.dictionary import load_spec_file  # the one reader of these files

        spec = load_spec_file(path)
        enums = {tag: {value: _title(text) for value, text in values.items()}
                 for tag, values in spec.enums.items()}
        return cls(dict(spec.message_names), dict(spec.field_names), enums)

    def message(self, msg_type: str) -> str:
        return self.messages.get(msg_type, f"MsgType {msg_type}")

    def value(self, tag: int, value: str) -> str:
        return self.enums.get(tag, {}).get(value, value)


def _title(description: str) -> str:
    # Dictionary enums are upper snake case (PARTIAL_FILL); show "Partial fill".
    text = description.replace("_", " ").strip().lower()
    return text[:1].upper() + text[1:]


def describe(names: FixNames, msg_type: str, fields: Iterable[tuple[int, str]]) -> str:
    """A one-line summary of a message (header fields left out)."""
    pairs = list(fields)
    get = dict(pairs).get
    name = names.message(msg_type)
    if msg_type == "D":
        return (f"{name} ClOrdID={get(11)} {names.value(54, get(54) or '')} {get(38)} {get(55)}"
                + (f" @ {get(44)}" if get(44) else " at market"))
    if msg_type == "8":
        text = (f"{name} {names.value(150, get(150) or '')}: {names.value(39, get(39) or '')} "
                f"ClOrdID={get(11)} OrderID={get(37)}")
        if get(150) in ("F", "1", "2"):
            text += f" LastQty={get(32)} LastPx={get(31)}"
        text += f" CumQty={get(14)} LeavesQty={get(151)}"
        if get(58):
            text += f" Text={get(58)!r}"
        return text
    if msg_type in ("W", "X"):
        return f"{name} {get(55) or ''} MDReqID={get(262)}: " + _md_entries(names, pairs)
    if msg_type == "V":
        kind = {"0": "snapshot", "1": "subscribe", "2": "unsubscribe"}.get(get(263) or "", "")
        return f"{name} {kind} MDReqID={get(262)} {' '.join(v for t, v in pairs if t == 55)} depth={get(264)}"
    if msg_type in ("j", "3", "Y"):
        return f"{name} {get(58) or ''} (RefMsgType={get(372)}, reason {get(380) or get(373) or get(281)})"
    shown = " ".join(f"{names.fields.get(t, t)}={names.value(t, v)}" for t, v in pairs
                     if t not in (8, 9, 10, 34, 35, 49, 52, 56))
    return f"{name} {shown}".strip()


def _md_entries(names: FixNames, pairs: list[tuple[int, str]]) -> str:
    """``Bid 500@4.99, Offer 238@5.01, ...`` (first few entries of the group)."""
    entries: list[str] = []
    current: dict[int, str] = {}
    for tag, value in pairs:
        if tag == 279 or (tag == 269 and 269 in current):
            if current:
                entries.append(_entry(names, current))
            current = {}
        if tag in (269, 270, 271, 279):
            current[tag] = value
    if current:
        entries.append(_entry(names, current))
    more = f" (+{len(entries) - 6} more)" if len(entries) > 6 else ""
    return ", ".join(entries[:6]) + more if entries else "no entries"


def _entry(names: FixNames, entry: dict[int, str]) -> str:
    action = {"0": "new ", "1": "change ", "2": "delete "}.get(entry.get(279, ""), "")
    kind = names.value(269, entry.get(269, "?"))
    size = entry.get(271)
    price = entry.get(270)
    return f"{action}{kind} {size or ''}@{price or ''}".replace(" @", " @").strip()
