"""Micro-benchmark of the Zenith side of one order, in process: real frames through the real code.

A :class:`ZenithClient` connects to the real simulator (127.0.0.1, in this process), wrapped as the
gateway wraps it (``gateway.ops.runtime`` request timing, ``gateway.ops.metrics_stages`` answer
marking, a stage sink). Then, with the loop not running (the simulator never sees these):

* ``request``: ``send_request`` of a PlaceOrder and the connection's flush (the frame's bytes
  written to the socket);
* ``answer``: the PlaceOrder answer frame (bytes as read) through ``ZenithConnection.data_received``
  to the orders service's parse of it (the typed decode, ``records_typed.decode_action_answer``,
  as the orders service asks for it; ``OrderActionResponse.from_json`` on a tree without it);
* ``update``: an ``Orders`` publish (an A and a U change) through ``data_received`` to the orders
  service's parse of each Order (``decode_orders_publish``, or ``Order.from_json``).

The cyclic GC is set as the gateway sets it once started (``gateway.app.cli_run``: start-up
objects frozen, young collections every 20,000 allocations): with the default threshold (700) a
young collection landed every frame or two and its cost was charged to whatever line allocated
(a py-spy profile put 10% on ``OrderRoute.from_json``'s one dict), which the gateway never pays.

Prints the best of several runs per frame in microseconds of process CPU time; with ``--cold``
also the median wall time of each frame with cold caches (``cold_frames``). Usage::

    PYTHONPATH=. python bench/zenith_frames.py [--n 5000] [--runs 7] [--price 9.95] [--cold 4]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.frames import Opcode

from gateway import stages
from gateway.app.orders_service import _action_response, _parse_each, _published
from gateway.ops import runtime as ops_runtime
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.metrics_stages import time_answers
from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.zenith import SubscriptionData, ZenithClient
from gateway.zenith.records import Order

try:   # the typed decoders the orders service gives the client (issue 13, round 19)
    from gateway.zenith.records_typed import decode_action_answer, decode_orders_publish
    TYPED: dict[str, Any] = {"decode": decode_action_answer}
    TYPED_SUB: dict[str, Any] = {"decode": decode_orders_publish}
except ImportError:   # an older tree: the generic decode only
    TYPED = TYPED_SUB = {}

PLACE = {"Account": "XS:0001",
         "Details": {"Exchange": "XSX", "Code": "XS01", "Side": "Bid", "Style": "Market", "Type": "Limit",
                     "LimitPrice": 1, "Quantity": 100, "Validity": "UntilDay"},
         "Route": {"Algorithm": "Market", "Market": "XSX::XSX"}}
ORDER = ('{"ID":"61d0cb86-a6b6-41d2-a3ef-3bda4abbd1c3","Account":"XS:0001",'
         '"ExternalID":"JzN4OTvf2zIEmxhZEKD7E8",'
         '%(extra)s"Status":"%(status)s",%(market)s"Currency":"AUD","EstimatedValue":%(value)s,"CurrentValue":0,'
         '"CreatedDate":"2026-12-06T13:53:56.846+00:00","UpdatedDate":"2026-12-06T13:53:56.846+00:00",'
         '"Style":"Market","Details":{"Exchange":"XSX","Code":"XS01","Side":"Bid","Style":"Market",'
         '"Type":"Limit","LimitPrice":%(price)s,"Quantity":100,"Validity":"UntilDay"},'
         '"Route":{"Algorithm":"Market","Market":"XSX::XSX"},"ExecutedQuantity":0,"AveragePrice":null}')


def order_text(price: str, status: str, on_market: bool) -> str:
    value = str(round(float(price) * 100, 6)).removesuffix(".0")
    return ORDER % {
        "price": price, "status": status, "value": value,
        "extra": '"DepthOrderID":"cb9327a5-48c8-4cb8-9c28-881e961949df",' if on_market else "",
        "market": '"Exchange":"XSX","TradingMarket":"XSX::XSX",' if on_market else "",
    }


def wire(text: str) -> bytes:
    """The bytes of one unmasked server text frame (FIN, no extension), as the socket delivers them."""
    data = text.encode()
    n = len(data)
    if n < 126:
        head = bytes([0x80 | Opcode.TEXT.value, n])
    elif n < 65536:
        head = bytes([0x80 | Opcode.TEXT.value, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | Opcode.TEXT.value, 127]) + n.to_bytes(8, "big")
    return head + data


async def _discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(1 << 16):
        pass
    writer.close()


# CPU time of this process: the machine is shared, and a preemption is no cost of the code.
clock = time.process_time


def best(runs: list[float]) -> float:
    return min(runs) * 1e6


def cold_frames(client: Any, ws: Any, place: Any, on_answer: Any, answer_tpl: str, update: bytes,
                parsed: list[Any], n: int, mb: int) -> None:
    """Each frame with cold caches, as at 200 orders/s (other work runs between two orders): a
    copy of ``mb`` MB evicts the caches before each; CPU time of the thread for the frame alone
    (a preemption on the shared machine is not counted), median of ``n``."""
    zeros = bytes(mb << 20)
    thrash = bytearray(len(zeros))
    ns = time.thread_time_ns

    def median(xs: list[int]) -> float:
        xs.sort()
        return xs[len(xs) // 2] / 1000

    req: list[int] = []
    for _ in range(n):
        thrash[:] = zeros
        t0 = ns()
        client.send_request("Trading", "PlaceOrder", place, on_answer, **TYPED)
        ws._flush()
        req.append(ns() - t0)
    frames = [wire(answer_tpl % tid) for tid in list(client._core._pending)]
    ans: list[int] = []
    parsed.clear()
    for data in frames:
        thrash[:] = zeros
        t0 = ns()
        ws.data_received(data)
        ans.append(ns() - t0)
    assert len(parsed) == len(frames) and parsed[-1].ok, parsed[-1:]
    upd: list[int] = []
    for _ in range(n):
        thrash[:] = zeros
        t0 = ns()
        ws.data_received(update)
        upd.append(ns() - t0)
    print(f"cold caches ({mb} MB copied before each), median of {n} (us per frame): "
          f"request {median(req):.1f}  answer {median(ans):.1f}  update {median(upd):.1f}")


async def main(n: int, runs: int, price: str, cold: int = 0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7,
                                                    state_path=Path(tmp) / "sim.sqlite")
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        client = ZenithClient(sim.url, "demo", request_timeout=600.0)
        try:
            await client.start()
            metrics = GatewayMetrics()
            stages.SINK.set(metrics.stages)
            if hasattr(ops_runtime, "_time_requests"):   # before the two wrappers became one
                ops_runtime._time_requests(client, metrics)
                time_answers(client)
            else:
                time_answers(client, metrics.zenith_request)
            parsed: list[Any] = []

            def on_answer(data: Any, error: Any) -> None:
                parsed.append(_action_response(data, "PlaceOrder"))

            def on_orders(event: Any) -> None:
                if type(event) is not SubscriptionData:
                    return
                if type(event.data) is tuple:   # typed by the client, as OrdersService takes it
                    parsed.extend(event.data)
                    return
                parsed.extend(_parse_each(_published(event.data, "Order"), Order.from_json, "Order"))

            client.subscribe("Trading", "Orders!XS:0001", on_orders, **TYPED_SUB)
            await asyncio.sleep(0.3)
            ws = client._ws
            assert ws is not None
            # The requests go to a socket that discards them (the simulator would answer them and
            # act on them); the frames read are the ones fed below.
            sink = await asyncio.start_server(_discard, "127.0.0.1", 0)
            port = sink.sockets[0].getsockname()[1]
            sink_transport, _ = await asyncio.get_running_loop().create_connection(
                asyncio.Protocol, "127.0.0.1", port)
            real_transport, ws.transport = ws.transport, sink_transport
            place = dict(PLACE, Details=dict(PLACE["Details"], LimitPrice=price))
            answer_tpl = ('{"Controller":"Trading","Topic":"PlaceOrder","TransactionID":%d,"Data":'
                          '{"Result":"Success","RequestID":"JzN4OTvf2zIEmxhZEKD7E8","EstimatedValue":100,"Order":'
                          + order_text(price, "Pending", False) + "}}")
            update = wire('{"Controller":"Trading","Topic":"Orders!XS:0001","Data":[{"O":"A","Order":'
                          + order_text(price, "Pending", False) + '},{"O":"U","Order":'
                          + order_text(price, "OnMarket", True) + "}]}")
            req_t: list[float] = []
            ans_t: list[float] = []
            upd_t: list[float] = []
            for _ in range(runs):
                t0 = clock()
                for _ in range(n):
                    client.send_request("Trading", "PlaceOrder", place, on_answer, **TYPED)
                    ws._flush()
                req_t.append((clock() - t0) / n)
                frames = [wire(answer_tpl % tid) for tid in list(client._core._pending)]
                parsed.clear()
                t0 = clock()
                for data in frames:
                    ws.data_received(data)
                ans_t.append((clock() - t0) / len(frames))
                assert len(parsed) == len(frames) and parsed[-1].ok, parsed[-1:]
                parsed.clear()
                t0 = clock()
                for _ in range(n):
                    ws.data_received(update)
                upd_t.append((clock() - t0) / n)
                assert len(parsed) == 2 * n, len(parsed)
                await asyncio.sleep(0.05)   # the sink drains what was written
            if cold:
                cold_frames(client, ws, place, on_answer, answer_tpl, update, parsed, min(n, 400), cold)
                await asyncio.sleep(0.05)
            # Paced: one request per loop turn, as at 200 orders/s. Wall time from send_request to
            # the transport's write of its frame (the loop hops between), median over n.
            real_write = sink_transport.write
            written: list[float] = []

            def spy(data: Any) -> None:
                written.append(time.perf_counter())
                real_write(data)

            sink_transport.write = spy  # type: ignore[method-assign]
            gaps: list[float] = []
            hops: list[int] = []
            for _ in range(min(n, 1000)):
                written.clear()
                t0 = time.perf_counter()
                client.send_request("Trading", "PlaceOrder", place, on_answer, **TYPED)
                for _hop in range(10):
                    if written:
                        break
                    await asyncio.sleep(0)
                gaps.append(written[0] - t0)
                hops.append(_hop)
                await asyncio.sleep(0.0005)
            sink_transport.write = real_write  # type: ignore[method-assign]
            gaps.sort()
            print(f"paced send_request -> socket write: median {gaps[len(gaps) // 2] * 1e6:.1f} us, "
                  f"p90 {gaps[len(gaps) * 9 // 10] * 1e6:.1f} us; loop turns before the write: "
                  f"{sum(hops) / len(hops):.2f} on average")
            print(f"zenith frames, price {price}, n={n}, best of {runs} (us per frame): "
                  f"request {best(req_t):.1f}  answer {best(ans_t):.1f}  update {best(upd_t):.1f}  "
                  f"sum {best(req_t) + best(ans_t) + best(upd_t):.1f}")
            fast = getattr(ws, "fast_frames", None)   # gateway.zenith.transport's fast path, when it has one
            if fast is not None:
                print(f"frames cut by the transport's fast path: {fast} of {ws.frames_received}")
            ws.transport = real_transport
            sink_transport.close()
            sink.close()
        finally:
            await client.close()
            await sim.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--price", default="1")
    p.add_argument("--cold", type=int, default=0, metavar="MB",
                   help="also each frame after a copy of MB megabytes (cold caches, cold_frames)")
    a = p.parse_args()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)   # as gateway.app.cli_run's settle()
    asyncio.run(main(a.n, a.runs, a.price, a.cold))
    sys.exit(0)
