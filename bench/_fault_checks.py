"""Invariant checker of the fault-injection probe (``bench/fault_trials.py``): pure, no I/O.

It takes what the partners sent (requests), what they received (application messages, in
order) and what Plxtra says (its orders), and returns the violations of the promises a
partner relies on (issue 9):

- every D, F and G is answered (an ExecutionReport or OrderCancelReject for its ClOrdID, or
  a BusinessMessageReject naming it);
- an answer, once given, is final: a ClOrdID is never both rejected and accepted, and a
  decision is never sent again as a new message (a re-sent answer is the same message, same
  ExecID, with PossResend(97)=Y);
- a request answered with a reject is never executed: no Plxtra order for a rejected D, no
  cancel or amend applied for an F/G answered with OrderCancelReject;
- every accepted order is known to Plxtra and every Plxtra order on the partners' accounts
  belongs to an accepted D;
- FIX fill totals per order (LastQty of fills, de-duplicated by ExecID) equal Plxtra's
  ExecutedQuantity;
- no ExecID twice in a session, except a PossResend(97)=Y repeat with the same content;
- CumQty never decreases; CumQty + LeavesQty = OrderQty while the order is live, LeavesQty = 0
  once it is done.

A Plxtra order is tied to a request by its OrderID(37) in the accepted ExecutionReports, and
otherwise by a fingerprint (account, code, side, quantity): the probe gives every D and G a
quantity unique within its (account, code, side), so an order that reached Plxtra without an
acceptance over FIX can still be named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

__all__ = [
    "KINDS",
    "TRANSIENT_KINDS",
    "History",
    "PlxtraOrder",
    "Received",
    "Request",
    "Violation",
    "check",
]

# Tags that differ between an original and its PossResend repeat by design (header, trailer).
_VOLATILE = frozenset({8, 9, 10, 34, 43, 49, 52, 56, 97, 115, 122, 128, 369, 1128, 1129, 1137})
_FILL_EXEC_TYPES = frozenset({"F", "1", "2"})      # 4.4/5.0 Trade; 4.2 Partial fill / Fill
# ExecTypes that do not decide a D: a reject is 8, Pending New (A) and status (I) are not outcomes.
_NOT_ACCEPTING = frozenset({"8", "A", "I"})
_LIVE = frozenset({"0", "1", "A", "5"})             # OrdStatus with an open quantity
_DONE = frozenset({"2", "4", "C"})                   # Filled, Canceled, Expired
_PLXTRA_SIDE = {"Bid": "1", "Ask": "2"}

KINDS = (
    "unanswered",
    "contradictory_answers",
    "repeated_answer",
    "rejected_request_executed",
    "accepted_unknown_to_plxtra",
    "unknown_order_at_plxtra",
    "fill_mismatch",
    "duplicate_exec_id",
    "cum_leaves",
    "stray_report",
    "invalid_from_gateway",
)
# Kinds that can be a snapshot taken while reports are still on their way: the probe re-checks
# these until they clear or its settle time runs out. The others are about history and stay.
TRANSIENT_KINDS = frozenset({"unanswered", "unknown_order_at_plxtra", "fill_mismatch"})


@dataclass(frozen=True, slots=True)
class Request:
    """A D, F or G a partner sent. ``account`` is the Plxtra account (``XS:0001``), ``side`` the
    FIX Side(54); for F, ``qty`` and ``price`` repeat the order's."""

    session: str
    msg_type: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    account: str
    code: str
    side: str
    qty: Decimal
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """An application message a partner received, in arrival order, as (tag, value) pairs."""

    session: str
    fields: tuple[tuple[int, str], ...]

    def get(self, tag: int) -> str | None:
        for t, v in self.fields:
            if t == tag:
                return v
        return None

    @property
    def msg_type(self) -> str:
        return self.get(35) or ""

    def content(self) -> tuple[tuple[int, str], ...]:
        return tuple(sorted((t, v) for t, v in self.fields if t not in _VOLATILE))


@dataclass(frozen=True, slots=True)
class PlxtraOrder:
    """Plxtra's view of one order (Zenith QueryOrders): ``side`` Bid/Ask, ``quantity`` the current
    Details.Quantity, ``status`` the Zenith status code (Cancelled, Filled, ...)."""

    id: str
    account: str
    code: str
    side: str
    quantity: Decimal
    status: str
    executed_quantity: Decimal


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    key: str          # stable identity: the same defect found again is not counted twice
    detail: str


@dataclass(slots=True)
class History:
    requests: Sequence[Request]
    received: Sequence[Received]
    plxtra_orders: Sequence[PlxtraOrder]
    accounts: frozenset[str]                      # the Plxtra accounts the partners trade on
    # per session: the session-level Rejects (35=3) the partner's engine sent back
    partner_rejects: Sequence[tuple[str, str]] = field(default_factory=tuple)


def _dec(text: str | None) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@dataclass(slots=True)
class _Chain:
    """One order: its D and every F/G that followed it, with the reports for any of their ClOrdIDs."""

    root: Request
    members: list[Request] = field(default_factory=list)
    reports: list[Received] = field(default_factory=list)   # 35=8 only, in arrival order
    order_ids: set[str] = field(default_factory=set)


def _answers(hist: History) -> dict[tuple[str, str], list[Received]]:
    """(session, ClOrdID) -> messages answering it: 8 and 9 by ClOrdID(11), j by BusinessRejectRefID."""
    out: dict[tuple[str, str], list[Received]] = defaultdict(list)
    for m in hist.received:
        if m.msg_type in ("8", "9"):
            cl = m.get(11)
        elif m.msg_type == "j":
            cl = m.get(379)
        else:
            continue
        if cl is not None:
            out[(m.session, cl)].append(m)
    return out


def _is_reject(req: Request, m: Received) -> bool:
    if m.msg_type in ("9", "j"):
        return True
    return req.msg_type == "D" and (m.get(150) == "8" or m.get(39) == "8")


def _is_acceptance(req: Request, m: Received) -> bool:
    if m.msg_type != "8":
        return False
    exec_type = m.get(150) or ""
    if req.msg_type == "D":
        return exec_type not in _NOT_ACCEPTING and m.get(39) != "8"
    return exec_type == ("4" if req.msg_type == "F" else "5")


def _decision_ids(req: Request, got: Sequence[Received]) -> tuple[set[str], set[str]]:
    """Identities of the reject and of the acceptance messages that decide ``req``: ExecID for
    ExecutionReports; an OrderCancelReject has none, so each one not flagged PossResend counts."""
    accept_type = {"D": "0", "F": "4", "G": "5"}[req.msg_type]
    rejects: set[str] = set()
    accepts: set[str] = set()
    for i, m in enumerate(got):
        if m.msg_type == "8" and m.get(150) == accept_type:
            accepts.add(m.get(17) or f"#{i}")
        elif _is_reject(req, m):
            if m.msg_type == "8":
                rejects.add(m.get(17) or f"#{i}")
            elif m.get(97) != "Y":
                rejects.add(f"#{i}")
    return rejects, accepts


def _build_chains(hist: History) -> tuple[dict[tuple[str, str], _Chain], list[Violation]]:
    chains: dict[tuple[str, str], _Chain] = {}
    by_cl: dict[tuple[str, str], _Chain] = {}
    for req in hist.requests:
        if req.msg_type == "D":
            ch = _Chain(req, [req])
            chains[(req.session, req.cl_ord_id)] = ch
        else:
            parent = by_cl.get((req.session, req.orig_cl_ord_id or ""))
            if parent is None:
                continue     # the probe only amends what it placed; nothing to tie it to
            ch = parent
            ch.members.append(req)
        by_cl[(req.session, req.cl_ord_id)] = ch
    strays: list[Violation] = []
    for m in hist.received:
        if m.msg_type != "8":
            continue
        cl = m.get(11) or ""
        ch = by_cl.get((m.session, cl))
        if ch is None:
            strays.append(Violation("stray_report", f"{m.session}/{cl}/{m.get(17)}",
                                    f"{m.session}: ExecutionReport for ClOrdID {cl!r} nobody sent"))
            continue
        ch.reports.append(m)
        req = next(r for r in ch.members if r.cl_ord_id == cl)
        oid = m.get(37)
        if oid and oid not in ("NONE", "0") and _is_acceptance(req, m):
            ch.order_ids.add(oid)
    return chains, strays


def _check_answers(hist: History, answers: dict[tuple[str, str], list[Received]]) -> Iterable[Violation]:
    for req in hist.requests:
        got = answers.get((req.session, req.cl_ord_id), [])
        key = f"{req.session}/{req.cl_ord_id}"
        if not got:
            yield Violation("unanswered", key, f"{req.session}: {req.msg_type} {req.cl_ord_id} got no answer")
            continue
        rejects = [m for m in got if _is_reject(req, m)]
        accepts = [m for m in got if _is_acceptance(req, m)]
        reject_ids, accept_ids = _decision_ids(req, got)
        if len(reject_ids) > 1 or len(accept_ids) > 1:
            what = "rejected" if len(reject_ids) > 1 else "accepted"
            ids = sorted(reject_ids if len(reject_ids) > 1 else accept_ids)
            yield Violation("repeated_answer", key,
                            f"{req.session}: {req.msg_type} {req.cl_ord_id} {what} again as a new message "
                            f"(ExecIDs {ids})")
        if rejects and accepts:
            first_rej = rejects[0].get(58) or ""
            yield Violation(
                "contradictory_answers", key,
                f"{req.session}: {req.msg_type} {req.cl_ord_id} answered both rejected ({first_rej!r}) "
                f"and accepted (ExecType {accepts[0].get(150)}, ExecID {accepts[0].get(17)})")


def _fingerprint(account: str, code: str, side: str, qty: Decimal) -> tuple[str, str, str, Decimal]:
    return (account, code, side, qty.normalize())


def _check_plxtra(hist: History, chains: dict[tuple[str, str], _Chain],
                  answers: dict[tuple[str, str], list[Received]]) -> Iterable[Violation]:
    plx = {o.id: o for o in hist.plxtra_orders}
    linked: set[str] = set()
    for ch in chains.values():
        for oid in sorted(ch.order_ids):
            linked.add(oid)
            if oid not in plx:
                yield Violation("accepted_unknown_to_plxtra", f"{ch.root.session}/{ch.root.cl_ord_id}/{oid}",
                                f"{ch.root.session}: D {ch.root.cl_ord_id} accepted as OrderID {oid}, "
                                "which Plxtra does not have")
    # fingerprint of every request that could have put its quantity on a Plxtra order
    prints: dict[tuple[str, str, str, Decimal], list[tuple[Request, _Chain]]] = defaultdict(list)
    for ch in chains.values():
        for req in ch.members:
            if req.msg_type in ("D", "G"):
                prints[_fingerprint(req.account, req.code, req.side, req.qty)].append((req, ch))
    for o in hist.plxtra_orders:
        if o.account not in hist.accounts:
            continue
        fp = _fingerprint(o.account, o.code, _PLXTRA_SIDE.get(o.side, o.side), o.quantity)
        matches = prints.get(fp, [])
        if o.id not in linked:
            rejected = [(r, ch) for r, ch in matches if r.msg_type == "D" and any(
                _is_reject(r, m) for m in answers.get((r.session, r.cl_ord_id), []))]
            if rejected:
                r = rejected[0][0]
                yield Violation("rejected_request_executed", f"{r.session}/{r.cl_ord_id}",
                                f"{r.session}: D {r.cl_ord_id} was rejected over FIX, yet Plxtra has it as "
                                f"order {o.id} ({o.status}, executed {o.executed_quantity})")
            else:
                named = ", ".join(f"{r.msg_type} {r.cl_ord_id}" for r, _ in matches) or "no request"
                yield Violation("unknown_order_at_plxtra", o.id,
                                f"Plxtra order {o.id} ({o.account} {o.code} {o.side} {o.quantity}, "
                                f"{o.status}) "
                                f"was never accepted over FIX; it matches {named}")
    # a rejected D that was also accepted (its OrderID then named in a report): Plxtra has it,
    # whatever its quantity became since
    for ch in chains.values():
        root = ch.root
        if not any(_is_reject(root, m) for m in answers.get((root.session, root.cl_ord_id), [])):
            continue
        for oid in sorted(ch.order_ids):
            if oid in plx:
                o = plx[oid]
                yield Violation("rejected_request_executed", f"{root.session}/{root.cl_ord_id}",
                                f"{root.session}: D {root.cl_ord_id} was rejected over FIX, yet Plxtra has "
                                f"it as order {o.id} ({o.status}, executed {o.executed_quantity})")
    # an F/G answered with OrderCancelReject must not have been applied
    for ch in chains.values():
        orders = [plx[oid] for oid in ch.order_ids if oid in plx]
        if not orders:
            continue
        o = orders[0]
        cancels = [r for r in ch.members if r.msg_type == "F"]
        for req in ch.members:
            if req.msg_type == "D":
                continue
            got = answers.get((req.session, req.cl_ord_id), [])
            if not any(_is_reject(req, m) for m in got):
                continue
            if req.msg_type == "F" and o.status == "Cancelled":
                others_ok = [c for c in cancels if c is not req and not any(
                    _is_reject(c, m) for m in answers.get((c.session, c.cl_ord_id), []))]
                if not others_ok:
                    yield Violation("rejected_request_executed", f"{req.session}/{req.cl_ord_id}",
                                    f"{req.session}: F {req.cl_ord_id} was answered with OrderCancelReject, "
                                    f"yet Plxtra order {o.id} is Cancelled")
            elif req.msg_type == "G" and o.quantity.normalize() == req.qty.normalize():
                yield Violation("rejected_request_executed", f"{req.session}/{req.cl_ord_id}",
                                f"{req.session}: G {req.cl_ord_id} (OrderQty {req.qty}) was answered with "
                                f"OrderCancelReject, yet Plxtra order {o.id} has quantity {o.quantity}")


def _check_fills(hist: History, chains: dict[tuple[str, str], _Chain]) -> Iterable[Violation]:
    plx = {o.id: o for o in hist.plxtra_orders}
    for ch in chains.values():
        seen: set[str] = set()
        total = Decimal(0)
        for m in ch.reports:
            if (m.get(150) or "") not in _FILL_EXEC_TYPES:
                continue
            exec_id = m.get(17) or ""
            if exec_id in seen:
                continue
            seen.add(exec_id)
            total += _dec(m.get(32)) or Decimal(0)
        executed = sum((plx[oid].executed_quantity for oid in ch.order_ids if oid in plx), Decimal(0))
        if total != executed:
            oids = ",".join(sorted(ch.order_ids)) or "none"
            yield Violation("fill_mismatch", f"{ch.root.session}/{ch.root.cl_ord_id}",
                            f"{ch.root.session}: order {ch.root.cl_ord_id} (OrderID {oids}): FIX fills total "
                            f"{total}, Plxtra executed {executed}")


def _check_exec_ids(hist: History) -> Iterable[Violation]:
    first: dict[tuple[str, str], Received] = {}
    for m in hist.received:
        if m.msg_type != "8":
            continue
        exec_id = m.get(17) or ""
        # FIX 4.2 status answers carry ExecID 0 by definition (ExecTransType 3)
        if m.get(20) == "3" or m.get(150) == "I":
            continue
        key = (m.session, exec_id)
        prev = first.get(key)
        if prev is None:
            first[key] = m
            continue
        if m.get(97) == "Y" and m.content() == prev.content():
            continue
        diff = sorted({t for t, _ in set(m.content()) ^ set(prev.content())})
        why = "without PossResend(97)=Y" if m.get(97) != "Y" else f"with different content (tags {diff})"
        yield Violation("duplicate_exec_id", f"{m.session}/{exec_id}/{m.get(34)}",
                        f"{m.session}: ExecID {exec_id} received again {why}: ClOrdID {m.get(11)}, "
                        f"ExecType {m.get(150)}, OrdStatus {m.get(39)}, Text {m.get(58)!r}")


def _check_quantities(chains: dict[tuple[str, str], _Chain]) -> Iterable[Violation]:
    for ch in chains.values():
        cum_max = Decimal(0)
        for m in ch.reports:
            if m.get(97) == "Y" or m.get(150) == "8" or m.get(39) == "8":
                continue
            cum, leaves, qty = _dec(m.get(14)), _dec(m.get(151)), _dec(m.get(38))
            status = m.get(39) or ""
            where = f"{ch.root.session}: {m.get(11)} ExecID {m.get(17)} OrdStatus {status}"
            key = f"{ch.root.session}/{m.get(17)}/{m.get(34)}"
            if cum is None or leaves is None:
                yield Violation("cum_leaves", key, f"{where}: CumQty/LeavesQty missing")
                continue
            if cum < cum_max:
                yield Violation("cum_leaves", key, f"{where}: CumQty fell from {cum_max} to {cum}")
            cum_max = max(cum_max, cum)
            if status in _LIVE and qty is not None and cum + leaves != qty:
                yield Violation("cum_leaves", key,
                                f"{where}: CumQty {cum} + LeavesQty {leaves} != OrderQty {qty}")
            if status in _DONE and leaves != 0:
                yield Violation("cum_leaves", key, f"{where}: LeavesQty {leaves} on a done order")


def check(hist: History) -> list[Violation]:
    """Every violation in ``hist``, de-duplicated by (kind, key), in a stable order."""
    answers = _answers(hist)
    chains, strays = _build_chains(hist)
    found: list[Violation] = [*strays]
    found += _check_answers(hist, answers)
    found += _check_plxtra(hist, chains, answers)
    found += _check_fills(hist, chains)
    found += _check_exec_ids(hist)
    found += _check_quantities(chains)
    for session, text in hist.partner_rejects:
        found.append(Violation("invalid_from_gateway", f"{session}/{text}",
                               f"{session}: the partner's engine rejected a gateway message: {text}"))
    unique: dict[tuple[str, str], Violation] = {}
    for v in found:
        unique.setdefault((v.kind, v.key), v)
    return list(unique.values())
