"""In-memory view of the orders the service drives, in front of the store. No I/O.

The store is written through on every change and stays the truth after a restart; this cache
only saves the read + JSON decode of a row on each Zenith event (the loop thread is the only
writer, so the two cannot disagree). Working orders are all kept; finished ones are kept in a
bounded most-recently-used list (late fills and status requests), then read from the store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from gateway.bridge.orders_model import OrderRecord
from gateway.bridge.orders_state import TERMINAL

__all__ = ["OrderCache"]


class OrderCache:
    def __init__(self, keep_done: int = 10_000) -> None:
        self._keep_done = keep_done
        self._working: dict[str, OrderRecord] = {}
        self._done: OrderedDict[str, OrderRecord] = OrderedDict()
        self._by_order_id: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._working) + len(self._done)

    def get(self, request_id: str) -> OrderRecord | None:
        record = self._working.get(request_id)
        if record is None:
            record = self._done.get(request_id)
            if record is not None:
                self._done.move_to_end(request_id)
        return record

    def by_order_id(self, order_id: str) -> OrderRecord | None:
        request_id = self._by_order_id.get(order_id)
        return self.get(request_id) if request_id is not None else None

    def put(self, record: OrderRecord) -> None:
        rid = record.request_id
        if record.order_id is not None:
            self._by_order_id[record.order_id] = rid
        if record.state in TERMINAL:
            self._working.pop(rid, None)
            self._done[rid] = record
            self._done.move_to_end(rid)
            while len(self._done) > self._keep_done:
                _, old = self._done.popitem(last=False)
                if old.order_id is not None:
                    self._by_order_id.pop(old.order_id, None)
        else:
            self._done.pop(rid, None)
            self._working[rid] = record

    def load(self, records: Iterable[OrderRecord]) -> None:
        for record in records:
            self.put(record)

    def working(self, session: str | None = None) -> list[OrderRecord]:
        """Working orders (of ``session``), oldest first."""
        found = [r for r in self._working.values() if session is None or r.session == session]
        return sorted(found, key=lambda r: (r.created_ns, r.request_id))

    def has_unlinked(self, account: str) -> bool:
        """True if a working order of ``account`` has no Plxtra order ID yet."""
        return any(r.order_id is None and r.account == account for r in self._working.values())
