"""Two recordings of the same flow compared order by order and by session events. No I/O.

Orders are aligned within paired sessions (same SessionKey, else in order of appearance): first by
equal first ClOrdID, then, for recordings whose IDs differ (a replay makes its own ClOrdIDs, each
side its own OrderIDs and ExecIDs), by the terms of the first request (Symbol, Side, OrderQty, Price,
OrdType) in order of appearance. The ID families of the comparison rules (``client_ids``,
``server_ids``, as ``replay`` has them) are then learned as ``replay`` learns them: recording A's value
is bound to B's at first sight and must stay bound, so an ID is only a difference when it is used
inconsistently. Fields ignored by default: 9, 10, 34, 52, 60, 122 (framing, sequencing, times);
``--rules`` YAML in ``replay``'s form adds to them (``ignore_tags``, ``ignore_by_msg_type``,
``tolerances``, ``client_ids``, ``server_ids``, ``default_ignore: false``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from gateway.harness.analysis.orders import Order, OrderEvent
from gateway.harness.analysis.pipeline import Analysis
from gateway.harness.analysis.sessions import SessionHealth, SideHealth
from gateway.harness.analysis.vocab import Vocabulary
from gateway.harness.compare import CompareRules, IdMaps, RulesError, compare_fields, load_rules
from gateway.vocab.records import SessionKey

__all__ = ["DIFF_DEFAULT_IGNORE", "DiffResult", "diff_analyses", "load_diff_rules"]

DIFF_DEFAULT_IGNORE = frozenset({9, 10, 34, 52, 60, 122})
_COMP_ID_TAGS = frozenset({49, 56, 50, 57, 115, 128, 116, 129})
_TERMS = (55, 54, 38, 44, 40)
_MAX_LINES_PER_ORDER = 20


def load_diff_rules(path: str | Path | None) -> CompareRules:
    """Comparison rules for ``diff``: replay's YAML keys, over diff's own default ignore list."""
    base = CompareRules(ignore_tags=DIFF_DEFAULT_IGNORE)
    if path is None:
        return base
    rules = load_rules(path)  # validates the file and parses every key
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    extra = frozenset(int(t) for t in data.get("ignore_tags", []) or [])
    ignore = extra if data.get("default_ignore", True) is False else DIFF_DEFAULT_IGNORE | extra
    if not isinstance(data, dict):
        raise RulesError(f"{path}: rules must be a mapping")
    return replace(rules, ignore_tags=ignore)


@dataclass(slots=True)
class OrderPair:
    a: Order
    b: Order
    differences: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DiffResult:
    only_a: list[Order] = field(default_factory=list)
    only_b: list[Order] = field(default_factory=list)
    pairs: list[OrderPair] = field(default_factory=list)
    session_differences: list[str] = field(default_factory=list)
    sessions_only_a: list[SessionKey] = field(default_factory=list)
    sessions_only_b: list[SessionKey] = field(default_factory=list)

    @property
    def differing(self) -> list[OrderPair]:
        return [p for p in self.pairs if p.differences]

    @property
    def same(self) -> bool:
        return not (
            self.only_a
            or self.only_b
            or self.differing
            or self.session_differences
            or self.sessions_only_a
            or self.sessions_only_b
        )

    def lines(self) -> list[str]:
        """Every difference as one line of text (the text report and the HTML list)."""
        out = [f"session only in A: {s}" for s in self.sessions_only_a]
        out += [f"session only in B: {s}" for s in self.sessions_only_b]
        out += self.session_differences
        out += [f"order only in A: {_label(o)}" for o in self.only_a]
        out += [f"order only in B: {_label(o)}" for o in self.only_b]
        for pair in self.differing:
            name = (
                _label(pair.a)
                if pair.a.cl_ord_id == pair.b.cl_ord_id
                else f"{_label(pair.a)} ~ {pair.b.cl_ord_id}"
            )
            out += [f"order {name}: {d}" for d in pair.differences]
        return out


def _label(order: Order) -> str:
    return f"{order.cl_ord_id} ({order.symbol or '?'} {order.session})"


def diff_analyses(a: Analysis, b: Analysis, rules: CompareRules, vocab: Vocabulary) -> DiffResult:
    """Compare two analyses made with ``orders=True, sessions=True, keep_events=True``."""
    assert a.orders is not None and b.orders is not None
    result = DiffResult()
    sessions_a = list(
        dict.fromkeys([*(a.sessions.sessions if a.sessions else {}), *(o.session for o in a.orders.orders)])
    )
    sessions_b = list(
        dict.fromkeys([*(b.sessions.sessions if b.sessions else {}), *(o.session for o in b.orders.orders)])
    )
    pairs: list[tuple[SessionKey, SessionKey]] = [(s, s) for s in sessions_a if s in sessions_b]
    rest_a = [s for s in sessions_a if s not in sessions_b]
    rest_b = [s for s in sessions_b if s not in sessions_a]
    pairs += list(zip(rest_a, rest_b, strict=False))
    result.sessions_only_a = rest_a[len(rest_b) :]
    result.sessions_only_b = rest_b[len(rest_a) :]
    for sa, sb in pairs:
        session_rules = rules
        if sa != sb:
            result.session_differences.append(f"session {sa} (A) compared with {sb} (B)")
            session_rules = replace(rules, ignore_tags=rules.ignore_tags | _COMP_ID_TAGS)
        orders_a = [o for o in a.orders.orders if o.session == sa]
        orders_b = [o for o in b.orders.orders if o.session == sb]
        _diff_orders(orders_a, orders_b, session_rules, vocab, result)
        if a.sessions is not None and b.sessions is not None:
            ha, hb = a.sessions.sessions.get(sa), b.sessions.sessions.get(sb)
            if ha is not None and hb is not None:
                result.session_differences += _diff_session(ha, hb, sa)
    return result


def _terms(order: Order) -> tuple[str | None, ...]:
    if not order.events or not order.request_seen:
        return (order.symbol, order.side, None, None, order.ord_type)
    message = order.events[0].record.message
    return tuple(message.get(t) for t in _TERMS)


def _diff_orders(
    orders_a: list[Order], orders_b: list[Order], rules: CompareRules, vocab: Vocabulary, result: DiffResult
) -> None:
    ids = IdMaps()
    id_tags = rules.client_ids | rules.server_ids
    by_root = {o.cl_ord_id: o for o in orders_b}
    matched: dict[int, Order] = {}
    used: set[int] = set()
    for i, order in enumerate(orders_a):
        other = by_root.get(order.cl_ord_id)
        if other is not None and id(other) not in used:
            matched[i] = other
            used.add(id(other))
    for i, order in enumerate(orders_a):
        if i in matched:
            continue
        terms = _terms(order)
        other = next((o for o in orders_b if id(o) not in used and _terms(o) == terms), None)
        if other is not None:
            matched[i] = other
            used.add(id(other))
    for i, order in enumerate(orders_a):
        other = matched.get(i)
        if other is None:
            result.only_a.append(order)
            continue
        for x, y in zip(order.chain, other.chain, strict=False):  # the chains name the same requests
            for tag in (11, 41):
                ids.learned.setdefault(tag, {}).setdefault(x, y)
        result.pairs.append(OrderPair(order, other, _diff_order(order, other, rules, ids, id_tags, vocab)))
    result.only_b += [o for o in orders_b if id(o) not in used]


def _state_text(states: list[tuple[str, str]] | None, vocab: Vocabulary, begin: str) -> str:
    return ", ".join(f"{vocab.meaning(begin, 150, e)}/{vocab.meaning(begin, 39, s)}" for e, s in states or ())


def _diff_order(
    a: Order, b: Order, rules: CompareRules, ids: IdMaps, id_tags: frozenset[int], vocab: Vocabulary
) -> list[str]:
    begin = a.begin_string
    out: list[str] = []
    if a.states != b.states:
        out.append(
            f"lifecycle differs: A [{_state_text(a.states, vocab, begin)}] vs "
            f"B [{_state_text(b.states, vocab, begin)}]"
        )
    for what, va, vb in (
        ("final status", vocab.meaning(begin, 39, a.status), vocab.meaning(begin, 39, b.status)),
        ("filled quantity", a.filled_qty, b.filled_qty),
        ("fills", a.fills, b.fills),
        ("average price", a.avg_px, b.avg_px),
        ("rejects", a.rejects, b.rejects),
    ):
        if va != vb:
            out.append(f"{what}: A {va} vs B {vb}")
    # messages aligned by type and rank: the 2nd ExecutionReport of A with the 2nd of B
    ranked_a = _ranked(a)
    ranked_b = _ranked(b)
    for key in list(dict.fromkeys([*ranked_a, *ranked_b])):
        msg_type, rank = key
        name = f"{vocab.message(begin, msg_type)} #{rank}"
        ea, eb = ranked_a.get(key), ranked_b.get(key)
        if ea is None or eb is None:
            out.append(f"{name} only in {'B' if ea is None else 'A'}")
            continue
        diffs = compare_fields(
            msg_type,
            ea.record.message.fields,
            eb.record.message.fields,
            rules,
            ids,
            bind=True,
            made_tags=frozenset(),
            learned_tags=id_tags,
        )
        for d in diffs:
            tag = int(d.tag) if d.tag.isdigit() else 0
            label = f"{vocab.field(begin, tag)}({d.tag})" if tag else d.tag
            note = f" ({d.note})" if d.note else ""
            out.append(
                f"{name} {label}: A {d.expected if d.expected is not None else 'absent'} vs "
                f"B {d.received if d.received is not None else 'absent'}{note}"
            )
    if len(out) > _MAX_LINES_PER_ORDER:
        out = [*out[:_MAX_LINES_PER_ORDER], f"... and {len(out) - _MAX_LINES_PER_ORDER} more differences"]
    return out


def _ranked(order: Order) -> dict[tuple[str, int], OrderEvent]:
    counts: dict[str, int] = {}
    out: dict[tuple[str, int], OrderEvent] = {}
    for event in order.events or ():
        record = event.record
        if record.message.get(43) == "Y" or record.message.get(97) == "Y":
            continue  # repeats say nothing new about the order
        msg_type = record.msg_type
        counts[msg_type] = counts.get(msg_type, 0) + 1
        out[(msg_type, counts[msg_type])] = event
    return out


def _side_facts(side: SideHealth) -> dict[str, object]:
    return {
        "logons": side.logons,
        "logout reasons": side.logouts,
        "sequence gaps": [(g.first, g.last) for g in side.gaps],
        "ResendRequests": side.resend_ranges,
        "GapFills": side.gap_fills,
        "session Rejects": side.rejects,
        "TestRequests missed": side.test_missed,
        "MsgSeqNum too low": side.seq_too_low,
        "SequenceReset-Reset": side.resets,
    }


def _diff_session(a: SessionHealth, b: SessionHealth, key: SessionKey) -> list[str]:
    out = []
    sides_a = list(a.sides.values())
    sides_b = list(b.sides.values())
    for side_a in sides_a:
        side_b = b.sides.get(side_a.sender)
        if side_b is None:  # CompIDs differ: pair by position
            index = sides_a.index(side_a)
            side_b = sides_b[index] if index < len(sides_b) else None
        if side_b is None:
            out.append(f"session {key}: {side_a.sender} sent nothing in B")
            continue
        fa, fb = _side_facts(side_a), _side_facts(side_b)
        for name in fa:
            if fa[name] != fb[name]:
                out.append(f"session {key}: {side_a.sender} {name}: A {fa[name]} vs B {fb[name]}")
    if a.storms != b.storms:
        out.append(f"session {key}: ResendRequest storms: A {a.storms} vs B {b.storms}")
    return out
