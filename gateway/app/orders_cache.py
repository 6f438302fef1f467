"""In-memory view of the orders the service drives, in front of the store. No I/O.

The store is written through on every change and stays the truth after a restart; this cache
only saves the read + JSON decode of a row on each Zenith event (the loop thread is the only
writer, so the two cannot disagree). Working orders are all kept; finished ones are kept in a
bounded most-recently-used list (late fills and status requests), then read from the store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Protocol

from gateway.bridge.orders.lifecycle import is_terminal
from gateway.bridge.orders.model import OrderRecord, record_from_data

__all__ = ["OrderCache", "OrderLookup"]


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
        if is_terminal(record.state):
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


class _Rows(Protocol):  # the part of gateway.store.Store the lookup reads
    def order(self, request_id: str) -> Any: ...
    def order_by_order_id(self, order_id: str) -> Any: ...
    def order_by_cl_ord_id(self, session: str, cl_ord_id: str) -> Any: ...


class OrderLookup:
    """Finding one order: the cache first, then the store's row (which then enters the cache)."""

    def __init__(self, cache: OrderCache, rows: _Rows) -> None:
        self._cache, self._rows = cache, rows

    def cached(self, data: dict[str, Any]) -> OrderRecord:
        record = record_from_data(data)
        self._cache.put(record)
        return record

    def load(self, request_id: str) -> OrderRecord | None:
        record = self._cache.get(request_id)
        if record is None:
            stored = self._rows.order(request_id)
            record = self.cached(stored.data) if stored else None
        return record

    def for_order_id(self, order_id: str, external_id: str | None = None) -> OrderRecord | None:
        """The order with Plxtra ``order_id``; ``external_id`` (our PlaceOrder RequestID) finds it
        when the publish comes before the PlaceOrder answer linked the ID."""
        record = self._cache.by_order_id(order_id)
        if record is not None:
            return record
        if external_id:
            record = self._cache.get(external_id)
            if record is not None and record.order_id in (None, order_id):
                return record
        stored = self._rows.order_by_order_id(order_id)
        if stored is not None:
            return self.cached(stored.data)
        if external_id:
            record = self.load(external_id)
            if record is not None and record.order_id not in (None, order_id):
                record = None
        return record

    def find(self, session: str, cl_ord_id: str | None, order_id: str | None) -> OrderRecord | None:
        """The order of ``session`` named by any ClOrdID of its chain, else by its OrderID(37)."""
        stored = self._rows.order_by_cl_ord_id(session, cl_ord_id) if cl_ord_id else None
        if stored is not None:
            return self.load(stored.request_id)
        if order_id:
            record = self.for_order_id(order_id)
            if record is not None and record.session == session:
                return record
        return None
