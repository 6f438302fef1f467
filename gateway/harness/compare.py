"""Comparison rules for replay: which tags to ignore, which IDs to map, numeric tolerances. No I/O.

Rules come from YAML (``--rules FILE``) over built-in defaults::

    ignore_tags: [58]            # added to the defaults (times, sequence numbers, checksums, ExecID)
    default_ignore: true         # false: use only ignore_tags
    ignore_by_msg_type: {"8": [6]}
    client_ids: [11, 41, 262]    # IDs the replaying side makes up: rewritten unique per run, mapped back
    server_ids: [37, 17]         # IDs the other side makes up: learned from its first reply, substituted
                                 # into later messages we send and compared through the mapping
    tolerances: {44: "0.01"}     # |recorded - received| <= tolerance
    now_tags: [60]               # set to the current UTC time when sending
    window: 5.0                  # seconds to wait for the answers to each message
    tail: 1.0                    # seconds to wait for stragglers after the last message
    ordered: false               # true: answers must come in recorded order, not just within the window
    ignore_msg_types: ["0", "1", "2", "4", "5", "A"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from gateway.harness.errors import HarnessError
from gateway.harness.results import FieldDiff
from gateway.harness.sessionproto import Field

__all__ = ["DEFAULT_IGNORE", "CompareRules", "IdMaps", "RulesError", "all_matched", "compare_fields",
           "load_rules", "match_block"]

# Volatile by nature: framing (9, 10), sequencing (34, 43, 97, 122, 369), routing (49, 56, which a
# replay rewrites), times (52, 60, 42, 64, 75, 126?, 272, 273, 483, 779), and ExecID(17).
DEFAULT_IGNORE = frozenset({9, 10, 34, 43, 49, 52, 56, 60, 97, 122, 369, 17, 42, 64, 75, 272, 273, 483, 779})
_DEFAULT_ADMIN = frozenset({"0", "1", "2", "4", "5", "A"})
_KEYS = frozenset({"ignore_tags", "default_ignore", "ignore_by_msg_type", "client_ids", "server_ids",
                   "tolerances", "now_tags", "window", "tail", "ordered", "ignore_msg_types"})


class RulesError(HarnessError):
    """The rules file is invalid (file and key named)."""


@dataclass(frozen=True, slots=True)
class CompareRules:
    ignore_tags: frozenset[int] = DEFAULT_IGNORE
    ignore_by_msg_type: Mapping[str, frozenset[int]] = field(default_factory=dict)
    client_ids: frozenset[int] = frozenset({11, 41, 262, 320, 526, 583, 66, 790, 584})
    server_ids: frozenset[int] = frozenset({37, 17, 198, 880})
    tolerances: Mapping[int, Decimal] = field(default_factory=dict)
    now_tags: frozenset[int] = frozenset({60})
    window: float = 5.0
    tail: float = 1.0
    ordered: bool = False
    ignore_msg_types: frozenset[str] = _DEFAULT_ADMIN

    def ignored(self, msg_type: str, tag: int) -> bool:
        return tag in self.ignore_tags or tag in self.ignore_by_msg_type.get(msg_type, frozenset())


def _tags(value: Any, key: str, file: str) -> frozenset[int]:
    if not isinstance(value, list):
        raise RulesError(f"{file}: {key} must be a list of tag numbers")
    try:
        return frozenset(int(v) for v in value)
    except (TypeError, ValueError):
        raise RulesError(f"{file}: {key} must hold tag numbers, got {value!r}") from None


def load_rules(path: str | Path | None) -> CompareRules:
    """Defaults, overlaid with the YAML file at ``path`` when given."""
    if path is None:
        return CompareRules()
    file = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RulesError(f"{file}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{file}: invalid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise RulesError(f"{file}: rules must be a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise RulesError(f"{file}: unknown key(s) {sorted(unknown)} (allowed: {sorted(_KEYS)})")
    base = CompareRules()
    ignore = frozenset() if data.get("default_ignore", True) is False else base.ignore_tags
    ignore |= _tags(data.get("ignore_tags", []), "ignore_tags", file)
    by_type = {}
    for msg_type, tags in (data.get("ignore_by_msg_type") or {}).items():
        by_type[str(msg_type)] = _tags(tags, f"ignore_by_msg_type.{msg_type}", file)
    tolerances = {}
    for tag, tol in (data.get("tolerances") or {}).items():
        try:
            tolerances[int(tag)] = Decimal(str(tol))
        except (InvalidOperation, ValueError):
            raise RulesError(f"{file}: tolerances.{tag} must be a number, got {tol!r}") from None
    def number(key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RulesError(f"{file}: {key} must be a number >= 0")
        return float(value)
    return CompareRules(
        ignore_tags=ignore, ignore_by_msg_type=by_type,
        client_ids=_tags(data["client_ids"], "client_ids", file) if "client_ids" in data else base.client_ids,
        server_ids=_tags(data["server_ids"], "server_ids", file) if "server_ids" in data else base.server_ids,
        tolerances=tolerances,
        now_tags=_tags(data["now_tags"], "now_tags", file) if "now_tags" in data else base.now_tags,
        window=number("window", base.window), tail=number("tail", base.tail),
        ordered=bool(data.get("ordered", False)),
        ignore_msg_types=frozenset(str(t) for t in data.get("ignore_msg_types", base.ignore_msg_types)))


@dataclass(slots=True)
class IdMaps:
    """recorded value -> live value, per ID family. ``made`` are IDs we make up (rewritten before
    sending), ``learned`` IDs the peer makes up (bound at first sight in a reply)."""

    made: dict[str, str] = field(default_factory=dict)
    learned: dict[int, dict[str, str]] = field(default_factory=dict)
    token: str = "R"
    _counter: int = 0

    def make(self, recorded: str) -> str:
        live = self.made.get(recorded)
        if live is None:
            self._counter += 1
            live = self.made[recorded] = f"{self.token}-{self._counter}"
        return live

    def unmake(self, live: str) -> str | None:
        for recorded, value in self.made.items():
            if value == live:
                return recorded
        return None

    def learned_value(self, tag: int, recorded: str) -> str | None:
        return self.learned.get(tag, {}).get(recorded)


def _equal(tag: int, expected: str, received: str, rules: CompareRules) -> bool:
    if expected == received:
        return True
    try:
        e, r = Decimal(expected), Decimal(received)
    except InvalidOperation:
        return False
    return abs(e - r) <= rules.tolerances.get(tag, Decimal(0))


def _occurrences(fields: Sequence[Field]) -> dict[tuple[int, int], str]:
    counts: dict[int, int] = {}
    out = {}
    for tag, value in fields:
        counts[tag] = counts.get(tag, 0) + 1
        out[(tag, counts[tag])] = value
    return out


def compare_fields(msg_type: str, expected: Sequence[Field], received: Sequence[Field],
                   rules: CompareRules, ids: IdMaps, *, bind: bool,
                   made_tags: frozenset[int], learned_tags: frozenset[int]) -> list[FieldDiff]:
    """Field-by-field differences of one recorded message and one received message.

    Fields pair up by tag and occurrence (the 2nd 270 with the 2nd 270), so repeating groups
    compare entry by entry. ``made_tags`` values are mapped back to the recorded IDs;
    ``learned_tags`` values are checked through (and with ``bind``, added to) the learned map."""
    exp, got = _occurrences(expected), _occurrences(received)
    diffs: list[FieldDiff] = []
    pending_binds: list[tuple[int, str, str]] = []
    for key in list(exp) + [k for k in got if k not in exp]:
        tag = key[0]
        ignored = tag == 8 or rules.ignored(msg_type, tag)
        e, g = exp.get(key), got.get(key)
        if ignored and not (tag in learned_tags and e is not None and g is not None):
            continue
        if e is None or g is None:
            diffs.append(FieldDiff(str(tag), e, g, "missing" if g is None else "not recorded"))
            continue
        if tag in made_tags:
            back = ids.unmake(g)
            if (back if back is not None else g) != e:
                diffs.append(FieldDiff(str(tag), e, g, "ID"))
            continue
        if tag in learned_tags:
            # Learned even when ignored (ExecID): later messages we send may refer to it.
            known = ids.learned.get(tag, {})
            if e in known:
                if known[e] != g and not ignored:
                    diffs.append(FieldDiff(str(tag), e, g, f"ID: {e} was {known[e]} earlier"))
            elif g in known.values():
                if not ignored:
                    diffs.append(FieldDiff(str(tag), e, g, "ID already used for another recorded value"))
            else:
                pending_binds.append((tag, e, g))
            continue
        if not _equal(tag, e, g, rules):
            diffs.append(FieldDiff(str(tag), e, g))
    if bind:
        for tag, e, g in pending_binds:
            ids.learned.setdefault(tag, {})[e] = g
    return diffs


Typed = tuple[str, Sequence[Field]]          # (MsgType, fields)
Pairing = tuple[int, int | None, list[FieldDiff]]


def match_block(expected: Sequence[Typed], received: Sequence[Typed], rules: CompareRules, ids: IdMaps,
                *, made_tags: frozenset[int],
                learned_tags: frozenset[int]) -> tuple[list[Pairing], list[int]]:
    """Pair expected messages (msg_type, fields) with received ones, any order within the block.

    Returns ``[(expected index, received index or None, diffs)]`` in expected order, and the
    indexes of received messages nobody expected (extras). Each expected message takes the
    unused received message of its MsgType with the fewest differences (earliest on a tie)."""
    used: set[int] = set()
    out: list[Pairing] = []
    for ei, (msg_type, fields) in enumerate(expected):
        best: tuple[int, int] | None = None
        for ri, (r_type, r_fields) in enumerate(received):
            if ri in used or r_type != msg_type:
                continue
            cost = len(compare_fields(msg_type, fields, r_fields, rules, ids, bind=False,
                                      made_tags=made_tags, learned_tags=learned_tags))
            if best is None or cost < best[0]:
                best = (cost, ri)
                if cost == 0:
                    break
        if best is None:
            out.append((ei, None, []))
            continue
        used.add(best[1])
        diffs = compare_fields(msg_type, fields, received[best[1]][1], rules, ids, bind=True,
                               made_tags=made_tags, learned_tags=learned_tags)
        out.append((ei, best[1], diffs))
    if rules.ordered:
        latest = -1
        for ei, got, got_diffs in out:
            if got is None:
                continue
            if got < latest:
                got_diffs.append(FieldDiff("order", f"answer {ei + 1} of this message",
                                           f"arrived as {got + 1}", "out of order"))
            latest = max(latest, got)
    extras = [ri for ri in range(len(received)) if ri not in used]
    return out, extras


def all_matched(expected: Sequence[Typed], received: Sequence[Typed], rules: CompareRules, ids: IdMaps,
                *, made_tags: frozenset[int], learned_tags: frozenset[int]) -> bool:
    """True when every expected message has its own received message with no difference (no IDs
    are learned). Replay waits for this, not just for a count, so a straggler from an earlier
    message cannot stand in for the answer still on its way."""
    used: set[int] = set()
    for msg_type, fields in expected:
        for ri, (r_type, r_fields) in enumerate(received):
            if ri in used or r_type != msg_type:
                continue
            if not compare_fields(msg_type, fields, r_fields, rules, ids, bind=False,
                                  made_tags=made_tags, learned_tags=learned_tags):
                used.add(ri)
                break
        else:
            return False
    return True
