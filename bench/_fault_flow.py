"""The steady order flow of the fault probe: new orders, cancels and replaces on every session.

:class:`Flow` decides what to send from what each partner has been told so far (it listens to
every application message the partners receive) and records every request it sends as a
:class:`~_fault_checks.Request`. Rules that keep the invariants checkable:

- every D and G gets a quantity unique within its (account, code, side), so a Plxtra order can
  be tied to the request that made it even when no acceptance came over FIX;
- at most one request per order is unanswered at a time, and an order whose F or G was
  rejected gets no further F or G: its state at Plxtra must stay what the reject said;
- about a third of the orders are marketable (they fill against the simulator's market maker),
  the rest rest on the book, away from the touch, to be cancelled or replaced.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from _fault_checks import Request
from _fault_partners import Fields, Partners, PartnerSpec

__all__ = ["Flow"]

SYMBOLS = {f"XS{i:02d}": Decimal(5 * i) for i in range(1, 11)}   # code -> reference price
_CENT = Decimal("0.01")


def _utc() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def _price(ref: Decimal, factor: str) -> Decimal:
    return (ref * Decimal(factor)).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class _Order:
    spec: PartnerSpec
    root: str
    code: str
    side: str
    qty: Decimal
    price: Decimal
    current: str                 # ClOrdID of the live version (the last accepted D or G)
    pending: str | None          # ClOrdID of the request not answered yet
    pending_req: Request | None
    live: bool = False
    frozen: bool = False         # an F or G of it was rejected
    rejected: bool = False       # the D was rejected: for the partner the order is dead, whatever follows


class Flow:
    """Call :meth:`step` at the flow's rate; it sends one request on the next session logged on."""

    def __init__(self, partners: Partners, rng: random.Random, tag: str, max_live: int = 30) -> None:
        self.partners = partners
        self.rng = rng
        self.tag = tag
        self.max_live = max_live
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.sent_by_type: dict[str, int] = defaultdict(int)
        self._n = 0
        self._turn = 0
        self._qty_counter: dict[tuple[str, str, str], int] = defaultdict(int)
        self._orders: dict[tuple[str, str], _Order] = {}       # (sender, any ClOrdID of it) -> order
        self._big = 0
        partners.listener = self._on_message

    # --- what the partners are told ------------------------------------------------------------

    def _on_message(self, sender: str, fields: Fields) -> None:
        """On a QuickFIX thread, under the partners' lock: update the order the answer is about."""
        f = dict(fields)
        cl = f.get(11)
        if cl is None:
            return
        with self.lock:
            o = self._orders.get((sender, cl))
            if o is None:
                return
            msg_type, exec_type, status = f.get(35), f.get(150), f.get(39)
            if o.pending == cl and msg_type in ("8", "9") and exec_type not in ("A", "6", "E"):
                req = o.pending_req
                o.pending, o.pending_req = None, None
                if msg_type == "9":
                    o.frozen = True
                elif req is not None and req.msg_type == "G" and exec_type == "5":
                    o.current, o.qty = cl, req.qty
                    o.price = req.price or o.price
            if msg_type == "8":
                if cl == o.root and status == "8":
                    o.rejected = True
                if status in ("2", "4", "C", "8"):
                    o.live = False
                elif status in ("0", "1", "5") and cl in (o.current, o.root) and not o.rejected:
                    o.live = True

    # --- what to send --------------------------------------------------------------------------

    def _next_qty(self, account: str, code: str, side: str) -> Decimal:
        key = (account, code, side)
        self._qty_counter[key] += 1
        return Decimal(50 + self._qty_counter[key])

    def _cl(self) -> str:
        self._n += 1
        return f"{self.tag}-{self._n}"

    def _record(self, req: Request) -> None:
        self.requests.append(req)
        self.sent_by_type[req.msg_type] += 1

    def step(self) -> str | None:
        """Send one request; returns its type, or None when no session is logged on."""
        specs = self.partners.specs
        for _ in range(len(specs)):
            spec = specs[self._turn % len(specs)]
            self._turn += 1
            if self.partners.is_logged_on(spec.sender):
                return self._step_on(spec)
        return None

    def _step_on(self, spec: PartnerSpec) -> str:
        with self.lock:
            idle = [o for k, o in self._orders.items() if k[0] == spec.sender and k[1] == o.root
                    and o.live and not o.frozen and o.pending is None]
        roll = self.rng.random()
        if idle and (roll < 0.45 or len(idle) >= self.max_live):
            o = self.rng.choice(idle)
            return self._cancel(o) if self.rng.random() < 0.5 else self._replace(o)
        return self._new(spec)

    def _send(self, spec: PartnerSpec, o: _Order, req: Request, body: list[tuple[int, str]]) -> None:
        """Hand the request to the partner's engine; if the engine would not take it (no session),
        it was never sent: forget it, so that it is not counted as unanswered."""
        if self.partners.send(spec.sender, req.msg_type, body):
            return
        with self.lock:
            self.requests.remove(req)
            self.sent_by_type[req.msg_type] -= 1
            self._orders.pop((spec.sender, req.cl_ord_id), None)
            if o.pending == req.cl_ord_id:
                o.pending, o.pending_req = None, None

    def _new(self, spec: PartnerSpec) -> str:
        code = self.rng.choice(sorted(SYMBOLS))
        side = self.rng.choice("12")
        marketable = self.rng.random() < 0.35
        ref = SYMBOLS[code]
        factor = {("1", True): "1.05", ("1", False): "0.90", ("2", True): "0.95", ("2", False): "1.10"}
        price = _price(ref, factor[(side, marketable)])
        with self.lock:
            qty = self._next_qty(spec.plxtra_account, code, side)
            cl = self._cl()
            req = Request(spec.sender, "D", cl, None, spec.plxtra_account, code, side, qty, price)
            o = _Order(spec, cl, code, side, qty, price, cl, cl, req)
            self._orders[(spec.sender, cl)] = o
            self._record(req)
        self._send(spec, o, req, [(11, cl), (1, spec.fix_account), (21, "1"), (55, code), (207, "XSX"),
                               (54, side), (38, str(qty)), (40, "2"), (44, str(price)), (59, "0"),
                               (60, _utc())])
        return "D"

    def new_over_limit(self, spec: PartnerSpec, base: int) -> Request:
        """A buy far below the market with OrderQty above ``base`` (the session's max_order_qty):
        rejected by the gateway's limit check; it must never reach Plxtra, whatever happens next."""
        with self.lock:
            self._big += 1
            qty = Decimal(2 * base + self._big)
            cl = self._cl()
            req = Request(spec.sender, "D", cl, None, spec.plxtra_account, "XS01", "1", qty, Decimal("0.01"))
            o = _Order(spec, cl, "XS01", "1", qty, Decimal("0.01"), cl, cl, req)
            self._orders[(spec.sender, cl)] = o
            self._record(req)
        self._send(spec, o, req, [(11, cl), (1, spec.fix_account), (21, "1"), (55, "XS01"), (207, "XSX"),
                               (54, "1"), (38, str(qty)), (40, "2"), (44, "0.01"), (59, "0"), (60, _utc())])
        return req

    def _cancel(self, o: _Order) -> str:
        spec = o.spec
        with self.lock:
            cl = self._cl()
            req = Request(spec.sender, "F", cl, o.current, spec.plxtra_account, o.code, o.side, o.qty,
                          o.price)
            o.pending, o.pending_req = cl, req
            self._orders[(spec.sender, cl)] = o
            self._record(req)
            orig = o.current
        self._send(spec, o, req, [(11, cl), (41, orig), (1, spec.fix_account), (55, o.code), (207, "XSX"),
                               (54, o.side), (38, str(o.qty)), (60, _utc())])
        return "F"

    def _replace(self, o: _Order) -> str:
        spec = o.spec
        marketable = self.rng.random() < 0.3
        ref = SYMBOLS[o.code]
        price = _price(ref, ("1.05" if o.side == "1" else "0.95")) if marketable else o.price
        with self.lock:
            qty = self._next_qty(spec.plxtra_account, o.code, o.side)
            cl = self._cl()
            req = Request(spec.sender, "G", cl, o.current, spec.plxtra_account, o.code, o.side, qty, price)
            o.pending, o.pending_req = cl, req
            self._orders[(spec.sender, cl)] = o
            self._record(req)
            orig = o.current
        self._send(spec, o, req, [(11, cl), (41, orig), (1, spec.fix_account), (21, "1"), (55, o.code),
                               (207, "XSX"), (54, o.side), (38, str(qty)), (40, "2"), (44, str(price)),
                               (59, "0"), (60, _utc())])
        return "G"

    def snapshot(self) -> list[Request]:
        with self.lock:
            return list(self.requests)
