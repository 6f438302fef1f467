"""In-process cost per order of the order core and its executor (no sockets, no simulator process).

    PYTHONPATH=. python bench/orders_micro.py [--orders 5000] [--runs 5] [--profile OUT.prof]

``service``: a real :class:`OrdersService` on a real SQLite store (group commit, journal), fed
through the dispatch seam (:class:`ServiceRegistry`, throttle included) as the gateway feeds it: per
order a NewOrderSingle, the PlaceOrder answer (``Success`` with the Order, as the simulator sends
it) and the ``Orders`` publish of the new order, 50 orders per loop turn; the ExecutionReports go
to a recording outbox. ``core``: :meth:`OrderCore.handle` alone on the same three events, the
executor's reads served from dicts (the bench's parsing of the answers counted too); ``events``
(only with ``--only events``): the same, each kind of event timed on its own. ``timers``: arming
and cancelling one pending-status timer per order (``pending_status_after``, 2 s by default;
0.05 s here, so that they fire within the run),
minus the same run without. Times are CPU time of the loop thread (not the store's apply thread,
not idle waits). Prints the best of ``--runs`` runs, in microseconds per order.

On a shared machine these times swing by +-20 us; instruction counts do not. Per order, as
measured for the figures of issue 13: run ``core_bench(N)`` / ``service_bench(N)`` under
``PYTHONHASHSEED=0 valgrind --tool=callgrind`` for two N and divide the difference of the
``Collected`` counts by the difference of the N. ``GATEWAY_ROOT=<checkout>`` measures another
checkout's code with this script.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

# GATEWAY_ROOT: measure another checkout's code with this script (before/after comparisons)
ROOT = Path(os.environ.get("GATEWAY_ROOT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

from gateway.app.orders_service import OrdersService  # noqa: E402
from gateway.app.services import ServiceRegistry  # noqa: E402
from gateway.bridge.orders.core import (  # noqa: E402
    Answer,
    CallZenith,
    FixRequest,
    Now,
    OrderCore,
    Record,
    SessionLogon,
    ZenithAnswer,
    ZenithOrderUpdate,
)
from gateway.bridge.orders.lifecycle import is_terminal  # noqa: E402
from gateway.bridge.orders.model import OrderRecord  # noqa: E402
from gateway.config.model import GatewayConfig, GatewaySettings, Limits, SessionConfig, ZenithSettings  # noqa: E402
from gateway.store import Store  # noqa: E402
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey  # noqa: E402
from gateway.zenith.events import SubscriptionData  # noqa: E402
from gateway.zenith.records import Order, OrderActionResponse  # noqa: E402

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
SESSION = SessionConfig(
    name="client1", begin_string="FIX.4.4", sender_comp_id="PLXTRA", target_comp_id="CLIENT1",
    accounts=("XS:0001",), account_aliases={"0001": "XS:0001"}, default_account="XS:0001", markets=("XSX",),
    limits=Limits(max_order_qty=Decimal(100_000), max_notional=Decimal(5_000_000)),
)
BATCH = 50


def d_message(seq: int, cl_ord_id: str) -> InboundMessage:
    fields = ((49, "CLIENT1"), (56, "PLXTRA"), (34, str(seq)), (52, "20261206-13:00:00.000"),
              (11, cl_ord_id), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "10"),
              (40, "2"), (44, "1.00"), (59, "0"), (60, "20261206-13:00:00.000"))
    return InboundMessage(KEY, "D", seq, fields, received_ns=time.time_ns())


def order_json(order_id: str, request_id: str) -> dict[str, Any]:
    """The Order object as the simulator writes it (gateway.sim.orders.order_json)."""
    return {
        "ID": order_id, "Account": "XS:0001", "ExternalID": request_id, "DepthOrderID": "d" + order_id,
        "Status": "Accepted", "Exchange": "XSX", "TradingMarket": "XSX::XSX", "Currency": "AUD",
        "EstimatedValue": Decimal("10.00"), "CurrentValue": Decimal(0),
        "CreatedDate": "2026-12-06T13:00:00.000000+00:00", "UpdatedDate": "2026-12-06T13:00:00.000000+00:00",
        "Style": "Market",
        "Details": {"Exchange": "XSX", "Code": "XS01", "Side": "Bid", "Style": "Market", "Type": "Limit",
                    "LimitPrice": Decimal("1.00"), "Quantity": Decimal(10), "Validity": "UntilDay"},
        "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
        "ExecutedQuantity": Decimal(0), "AveragePrice": None,
    }


class StubClient:
    """The Zenith client's callback API; the bench answers the requests it collects."""

    request_timeout = 5.0

    def __init__(self) -> None:
        self.connected = True
        self.requests: list[tuple[dict[str, Any], Callable[[Any, Exception | None], None]]] = []
        self.handlers: dict[str, Callable[[Any], None]] = {}

    def send_request(self, controller: str, topic: str, data: dict[str, Any],
                     done: Callable[[Any, Exception | None], None], decode: Any = None) -> None:
        self.requests.append((data, done))

    def subscribe(self, controller: str, topic: str, handler: Callable[[Any], None],
                  decode: Any = None) -> Any:
        self.handlers[topic] = handler
        return self

    def close(self) -> None:
        pass

    def add_connection_listener(self, listener: Any) -> None:
        pass

    def remove_connection_listener(self, listener: Any) -> None:
        pass


class Outbox:
    def __init__(self) -> None:
        self.sent = 0

    def backlog(self, session: SessionKey) -> int:
        return 0

    def logout(self, session: SessionKey, text: str = "") -> None:
        pass

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None:
        self.sent += 1
        if on_sent is not None:
            asyncio.get_running_loop().call_soon(on_sent, True)


async def _service_run(n: int, work: Path, pending_after: float) -> float:
    config = GatewayConfig(path=None, gateway=GatewaySettings(store_path=work / "gw.sqlite"),
                           zenith=ZenithSettings(url="ws://127.0.0.1:1/Zenith"), sessions=(SESSION,))
    # The database is brought up to date off the order path, on a timer: not within the run (its
    # time-driven ticks would make the figure depend on the run's speed).
    store = Store(work / "gw.sqlite", apply_every=3600.0)
    client, outbox = StubClient(), Outbox()
    service = OrdersService(client, outbox, config, store, pending_status_after=pending_after)
    client.connected = False  # no start-up reconciliation: the store is empty
    await service.start()
    client.connected = True
    service.on_logon(KEY, SESSION)
    registry = ServiceRegistry(config, outbox, [service])
    publish = client.handlers["Orders!XS:0001"]
    seq = 1
    started = time.thread_time()  # the loop thread's CPU: not the store's apply thread, not idle waits
    for first in range(0, n, BATCH):
        for i in range(first, min(first + BATCH, n)):
            seq += 1
            registry.dispatch(d_message(seq, f"c{i}"))
        await asyncio.sleep(0)  # the turn's commit: the PlaceOrders leave
        requests, client.requests = client.requests, []
        changes = []
        for data, done in requests:
            rid = data["RequestID"]
            order = order_json("o" + rid, rid)
            done({"Result": "Success", "RequestID": rid, "Order": order}, None)
            changes.append({"O": "A", "Order": order})
        publish(SubscriptionData("Trading", "Orders!XS:0001", changes))
        await asyncio.sleep(0)  # commit, reports handed
        await asyncio.sleep(0)  # on_sent confirmations
    if pending_after:
        await asyncio.sleep(pending_after + 0.05)  # every pending-status timer has fired
    elapsed = time.thread_time() - started
    assert outbox.sent == n, (outbox.sent, n)
    await service.close()
    store.close()
    return elapsed


def service_bench(n: int, pending_after: float = 0.0) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_service_run(n, Path(tmp), pending_after))


class Reads:
    """OrderReads over dicts, indexed as the executor's cache is."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}
        self.by_plx: dict[str, str] = {}
        self.clordids: set[tuple[str, str]] = set()
        self.execs: set[str] = set()
        self.seq = 0

    def zenith_connected(self) -> bool:
        return True

    def new_order_id(self) -> str:
        return self.next_request_id()

    def next_request_id(self) -> str:
        self.seq += 1
        return f"gw-{self.seq}"

    def cl_ord_id_used(self, name: str, cl_ord_id: str) -> bool:
        return (name, cl_ord_id) in self.clordids

    def cl_ord_id_decided(self, name: str, cl_ord_id: str) -> bool:
        return (name, cl_ord_id) in self.clordids

    def order(self, request_id: str) -> OrderRecord | None:
        return self.orders.get(request_id)

    def order_for_plx(self, order_id: str, external_id: str | None = None) -> OrderRecord | None:
        rid = self.by_plx.get(order_id) or external_id
        return self.orders.get(rid) if rid else None

    def find(self, name: str, cl_ord_id: str | None, order_id: str | None) -> OrderRecord | None:
        return None

    def working(self, name: str | None = None) -> list[OrderRecord]:
        return [r for r in self.orders.values() if not is_terminal(r.state)]

    def has_unlinked(self, account: str) -> bool:
        return False

    def exec_already_sent(self, name: str, request_id: str, exec_id: str) -> bool:
        return exec_id in self.execs

    def run(self, actions: list[Any]) -> list[CallZenith]:
        calls = []
        for a in actions:
            if isinstance(a, Record):
                if a.record is not None:
                    self.orders[a.record.request_id] = a.record
                    if a.record.order_id:
                        self.by_plx[a.record.order_id] = a.record.request_id
                if a.cl_ord_id or a.record is not None:
                    self.clordids.add((a.name, a.cl_ord_id or (a.record.cl_ord_id if a.record else "")))
                self.execs.update(r.exec_id for r in a.reports if r.exec_id)
            elif isinstance(a, CallZenith):
                calls.append(a)
        return calls


def core_bench(n: int) -> float:
    reads = Reads()
    core = OrderCore([SESSION], reads)
    name = str(KEY)
    reads.run(core.handle(SessionLogon(name, KEY), Now(datetime.now(UTC), 0.0, 0)))
    msgs = [d_message(i + 2, f"c{i}") for i in range(n)]
    started = time.thread_time()
    for msg in msgs:
        now = Now(datetime.now(UTC), time.monotonic(), time.time_ns())
        (call,) = reads.run(core.handle(FixRequest(name, msg), now))
        rid = call.request.data["RequestID"]
        order = Order.from_json(order_json("o" + rid, rid))
        answer = OrderActionResponse("Success", rid, order)
        reads.run(core.handle(ZenithAnswer(call.call_id, Answer.DATA, answer), now))
        reads.run(core.handle(ZenithOrderUpdate(order), now))
    return time.thread_time() - started


def core_events_bench(n: int) -> tuple[float, float, float]:
    """:meth:`OrderCore.handle` alone, per event kind: the NewOrderSingle, the PlaceOrder answer and
    the Orders update (CPU seconds in total over ``n`` orders; the bench's own work not counted)."""
    reads = Reads()
    core = OrderCore([SESSION], reads)
    name = str(KEY)
    reads.run(core.handle(SessionLogon(name, KEY), Now(datetime.now(UTC), 0.0, 0)))
    msgs = [d_message(i + 2, f"c{i}") for i in range(n)]
    clock = time.thread_time
    request = answer = update = 0.0
    for msg in msgs:
        now = Now(datetime.now(UTC), time.monotonic(), time.time_ns())
        event: Any = FixRequest(name, msg)
        started = clock()
        actions = core.handle(event, now)
        request += clock() - started
        (call,) = reads.run(actions)
        rid = call.request.data["RequestID"]
        order = Order.from_json(order_json("o" + rid, rid))
        event = ZenithAnswer(call.call_id, Answer.DATA, OrderActionResponse("Success", rid, order))
        started = clock()
        actions = core.handle(event, now)
        answer += clock() - started
        reads.run(actions)
        event = ZenithOrderUpdate(order)
        started = clock()
        actions = core.handle(event, now)
        update += clock() - started
        reads.run(actions)
    return request, answer, update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("service", "core", "events", "timers"))
    parser.add_argument("--profile", help="cProfile the service bench into this file")
    args = parser.parse_args()
    n = args.orders
    if args.profile:
        cProfile.runctx("service_bench(n)", globals(), {"n": n, "service_bench": service_bench},
                        args.profile)
        return
    benches: dict[str, Callable[[], float]] = {
        "service": lambda: service_bench(n),
        "core": lambda: core_bench(n),
        "timers": lambda: service_bench(n, pending_after=0.05),
    }
    if args.only == "events":
        runs = [core_events_bench(n) for _ in range(args.runs)]
        request, answer, update = (min(r[i] for r in runs) / n * 1e6 for i in range(3))
        print(f"handle per event: NewOrderSingle {request:6.1f}  PlaceOrder answer {answer:6.1f}  "
              f"Orders update {update:6.1f} us (best of {args.runs}, {n} orders)")
        return
    best: dict[str, float] = {}
    for label, fn in benches.items():
        if args.only and label != args.only:
            continue
        best[label] = min(fn() for _ in range(args.runs))
        if label == "timers":
            plain = best.get("service") or min(service_bench(n) for _ in range(args.runs))
            print(f"service with pending timers {best[label] / n * 1e6:8.1f} us/order, the timers "
                  f"{(best[label] - plain) / n * 1e6:6.1f} us/order (best of {args.runs}, {n} orders)")
        else:
            print(f"{label:8s} {best[label] / n * 1e6:8.1f} us/order (best of {args.runs}, {n} orders)")


if __name__ == "__main__":
    main()
