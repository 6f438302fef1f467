"""Order-handling rules Plxtra checks on a partner's own messages, free of I/O.

FIX requires ClOrdID(11) unique per session for the trading day (FIX 4.4 Vol. 4 "ClOrdID"), and a
cancel (F) or replace (G) names in OrigClOrdID(41) the ClOrdID of the order's last accepted request,
not the first one and not a stranger's. The checker is fed the partner's messages and Plxtra's
answers in wire order and returns what the partner did wrong; the runner fails the current step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["OrderFlowChecker"]

Fields = Sequence[tuple[int, str]]


def _get(fields: Fields, tag: int) -> str | None:
    return next((v for t, v in fields if t == tag), None)


@dataclass(slots=True)
class OrderFlowChecker:
    seen: set[str] = field(default_factory=set)            # every ClOrdID the partner used
    chain_of: dict[str, int] = field(default_factory=dict)  # ClOrdID -> order chain number
    current: dict[int, str] = field(default_factory=dict)   # chain -> ClOrdID to cite next
    previous: dict[str, str] = field(default_factory=dict)  # replace/cancel ClOrdID -> the one it cited

    def from_partner(self, msg_type: str, fields: Fields) -> list[str]:
        """Problems in one application message the partner sent (D, F, G, H...)."""
        if msg_type not in ("D", "F", "G"):
            return []
        problems: list[str] = []
        cl = _get(fields, 11)
        if not cl:
            return ["ClOrdID(11) missing"]
        if cl in self.seen:
            problems.append(f"ClOrdID(11) {cl!r} reused: ClOrdIDs must be unique within the session")
        self.seen.add(cl)
        if msg_type == "D":
            chain = len(self.current) + 1
            self.chain_of.setdefault(cl, chain)
            self.current.setdefault(chain, cl)
            return problems
        orig = _get(fields, 41)
        name = "cancel" if msg_type == "F" else "cancel/replace"
        if not orig:
            return [*problems, f"{name} without OrigClOrdID(41)"]
        chain_number = self.chain_of.get(orig)
        if chain_number is None:
            return [*problems, f"{name} OrigClOrdID(41) {orig!r} names no order this session sent"]
        wanted = self.current[chain_number]
        if orig != wanted:
            problems.append(f"{name} OrigClOrdID(41) {orig!r} is not the order's current ClOrdID "
                            f"{wanted!r} (it must cite the last accepted request)")
        self.chain_of.setdefault(cl, chain_number)
        self.previous[cl] = wanted
        if msg_type == "G":
            self.current[chain_number] = cl
        return problems

    def from_plxtra(self, msg_type: str, fields: Fields) -> None:
        """Answers that move a chain back: a rejected replace leaves the old ClOrdID current."""
        cl = _get(fields, 11)
        rejected = (msg_type == "9") or (msg_type == "8" and _get(fields, 150) == "8")
        if not rejected or cl is None or cl not in self.previous:
            return
        chain_number = self.chain_of.get(cl)
        if chain_number is not None and self.current.get(chain_number) == cl:
            self.current[chain_number] = self.previous[cl]
