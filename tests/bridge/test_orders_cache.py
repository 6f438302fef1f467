"""The in-memory order view: working orders always, finished ones bounded, lookups by order ID."""

from __future__ import annotations

from decimal import Decimal

from gateway.app.orders_cache import OrderCache
from gateway.bridge.orders.lifecycle import OrderState
from gateway.bridge.orders.model import OrderRecord, OrderTerms
from gateway.vocab.tags import OrdType, Side

TERMS = OrderTerms(code="XS01", market="XSX", side=Side.BUY, ord_type=OrdType.LIMIT, order_qty=Decimal(10),
                   price=Decimal(1))


def rec(
    rid: str, state: OrderState = OrderState.NEW, order_id: str | None = None, created: int = 0
) -> OrderRecord:
    return OrderRecord(session="S", request_id=rid, cl_ord_id=f"c-{rid}", account="XS:0001", fix_account=None,
                       terms=TERMS, state=state, order_id=order_id, created_ns=created)


def test_working_and_lookup_by_order_id() -> None:
    cache = OrderCache()
    cache.put(rec("r2", order_id="o2", created=2))
    cache.put(rec("r1", OrderState.PENDING_NEW, created=1))
    assert [r.request_id for r in cache.working("S")] == ["r1", "r2"] and cache.working("T") == []
    assert cache.has_unlinked("XS:0001") and not cache.has_unlinked("XS:0002")
    cache.put(rec("r1", OrderState.NEW, order_id="o1", created=1))
    assert not cache.has_unlinked("XS:0001")
    assert cache.by_order_id("o1") == rec("r1", OrderState.NEW, order_id="o1", created=1)
    assert cache.by_order_id("nope") is None


def test_finished_orders_are_bounded() -> None:
    cache = OrderCache(keep_done=2)
    for i in range(3):
        cache.put(rec(f"r{i}", OrderState.FILLED, order_id=f"o{i}"))
    assert cache.get("r0") is None and cache.by_order_id("o0") is None  # evicted: read from the store
    assert cache.get("r2") is not None and cache.working() == [] and len(cache) == 2
    cache.put(rec("r2", OrderState.NEW, order_id="o2"))  # back to working (never, but must stay coherent)
    assert [r.request_id for r in cache.working()] == ["r2"] and cache.by_order_id("o2") is not None
