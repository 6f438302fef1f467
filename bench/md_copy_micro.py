"""In-process micro-benchmark of the market-data fan-out's cost per copy (per added session).

    PYTHONPATH=. python3 bench/md_copy_micro.py [--root /work/main] [--events 3000] [--sessions 20]

The real gateway (QuickFIX acceptor, outbox, QuickFIX log with SessionWatch, the market-data
service) runs in a thread of this process; the simulator in another; the raw FIX clients of
``bench/md_fanout.py`` in a child process. On the gateway's loop thread, the CPU time of that
thread (``time.thread_time_ns``) is summed over what the fan-out costs per Zenith Depth event:
``MarketDataState.on_data`` (the view, the diff, one body, one queue entry per subscriber) and
``MarketDataService._drain`` (per session: backlog look, drain, conversion, ``Session::send``
with its toApp/onOutgoing callbacks and the socket write). Zenith frame parsing, the clients and
the simulator are not in it, so the figure moves with the per-copy code only.

Prints µs per event with 1 and with N sessions, the per added session per event figure
``(N - 1) / (N - 1)`` and the messages sent; ``--merge-max 1`` (default) keeps one X per event
per session. ``--root`` measures another checkout's gateway (e.g. /work/main) with this driver.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _time_parts(service: Any, parts: dict[str, list[int]]) -> None:
    """MICRO_PARTS=1: CPU per call of the pieces of a copy (the last phase's calls dominate)."""
    import quickfix as fix

    def wrap(name: str, fn: Any) -> Any:
        cell = parts.setdefault(name, [0, 0])

        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.thread_time_ns()
            try:
                return fn(*a, **k)
            finally:
                cell[0] += time.thread_time_ns() - t0
                cell[1] += 1
        return timed

    outbox = service._outbox
    outbox.send = wrap("outbox.send", outbox.send)
    if service._backlog is not None:
        service._backlog = wrap("backlog", service._backlog)
    for attr in ("_send_window", "_send_windows"):   # per session (round 19) or per pass (20 on)
        if getattr(service, attr, None) is not None:
            setattr(service, attr, wrap(attr[1:], getattr(service, attr)))
    service.state.drain = wrap("state.drain", service.state.drain)
    outbox.convert = wrap("convert", outbox.convert)
    fix.Session.send = wrap("Session.send", fix.Session.send)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--events", type=int, default=3000, help="Depth events per phase")
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--merge-max", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="phases of each size, alternated")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root / "bench"))
    sys.path.insert(0, str(root))
    import md_fanout  # type: ignore[import-not-found]

    from gateway.app.marketdata_service import MarketDataService
    from gateway.app.testing import free_port, run_gateway_in_thread, write_test_config
    from gateway.sim.config import load_sim_config
    from gateway.sim.generator import MarketGenerator
    from gateway.sim.testing import run_sim_in_thread

    symbols = [f"XS{i:02d}" for i in range(1, args.symbols + 1)]
    services: list[Any] = []
    spent = [0, 0]   # ns of loop-thread CPU in on_data / _drain
    parts: dict[str, list[int]] = {}

    def factory(ctx: Any) -> Any:
        service = MarketDataService(ctx.client, ctx.outbox, ctx.config)
        services.append(service)
        drain, on_data = service._drain, service.state.on_data

        def timed_drain() -> None:
            t0 = time.thread_time_ns()
            drain()
            spent[1] += time.thread_time_ns() - t0

        def timed_on_data(*a: Any) -> None:
            t0 = time.thread_time_ns()
            on_data(*a)
            spent[0] += time.thread_time_ns() - t0

        service._drain = timed_drain   # type: ignore[method-assign]
        if os.environ.get("MICRO_PARTS"):
            _time_parts(service, parts)
        service.state.on_data = timed_on_data   # type: ignore[method-assign]
        return service

    tmp = Path(tempfile.mkdtemp(prefix="md_copy_micro-"))
    sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    with run_sim_in_thread(sim_cfg) as handle:
        gen = handle.call_sync(lambda: MarketGenerator(handle.server, random.Random(7)))
        handle.call_sync(gen.seed_books)
        port = free_port()
        sessions = [{"name": f"md{i:02d}", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                     "target_comp_id": f"MD{i:02d}", "heartbeat_interval": 30,
                     "accept_reset_seq_num_flag": True, "markets": ["XSX"], "trading": False,
                     "persist_messages": False, "log_messages": False}
                    for i in range(1, args.sessions + 1)]
        cfg = write_test_config(tmp, zenith_url=handle.url, fix_port=port, sessions=sessions,
                                message_store="memory", gateway={"md_merge_max": args.merge_max})
        source = md_fanout.EventSource(handle, symbols, args.rate)
        with run_gateway_in_thread(cfg, services=[factory]):
            proc = ctx.Process(target=md_fanout.client_process,
                               args=(child, port, args.sessions, symbols, 0))
            proc.start()
            try:
                results: dict[int, list[float]] = {1: [], args.sessions: []}
                split: dict[int, list[tuple[float, float]]] = {1: [], args.sessions: []}
                sent: dict[int, list[float]] = {1: [], args.sessions: []}

                def measure(n: int) -> None:
                    time.sleep(0.5)
                    service = services[-1]
                    spent[0] = spent[1] = 0
                    ev0, sent0 = source.events, service.sent
                    target = ev0 + args.events
                    deadline = time.monotonic() + 3 * args.events / args.rate + 10
                    while source.events < target and time.monotonic() < deadline:
                        time.sleep(0.005)
                    events = source.events - ev0
                    results[n].append((spent[0] + spent[1]) / 1e3 / max(1, events))
                    split[n].append((spent[0] / 1e3 / max(1, events), spent[1] / 1e3 / max(1, events)))
                    sent[n].append((service.sent - sent0) / max(1, events))

                parent.send(("connect", 1))
                parent.recv()
                source.start()
                time.sleep(1.0)
                # The 1-session figure first, then N; the connected sessions stay (a client
                # cannot be disconnected cleanly mid-run), so repeats of the 1-session phase
                # are measured before the others connect.
                for _ in range(args.repeats):
                    measure(1)
                parent.send(("connect", args.sessions))
                parent.recv()
                for _ in range(args.repeats):
                    measure(args.sessions)
            finally:
                md_fanout.stop_clients(source, parent, proc)
    one = min(results[1])
    many = min(results[args.sessions])
    print(f"root {root} load {os.getloadavg()[0]:.2f}: us/event (fan-out part, loop thread CPU), best of "
          f"{args.repeats}: 1 session {one:.1f} ({', '.join(f'{x:.1f}' for x in results[1])}); "
          f"{args.sessions} sessions {many:.1f} ({', '.join(f'{x:.1f}' for x in results[args.sessions])}); "
          f"messages/event {sent[args.sessions][-1]:.2f}; per added session per event "
          f"{(many - one) / (args.sessions - 1):.2f} us")
    for name, (ns, calls) in parts.items():
        print(f"  part {name}: {ns / max(1, calls) / 1e3:.2f} us per call, {calls} calls")
    for n in (1, args.sessions):
        print(f"  {n} session(s): on_data / _drain us per event: "
              + ", ".join(f"{a:.1f} / {b:.1f}" for a, b in split[n]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
