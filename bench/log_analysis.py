#!/usr/bin/env python3
"""Log analysis speed and memory: ``orders`` and ``sessions`` on bench/replay.py's log.

    PYTHONPATH=. python3 bench/log_analysis.py                   # 1,000,000 messages
    PYTHONPATH=. python3 bench/log_analysis.py --messages 200000 --rss-sizes 50000,200000

Writes the QuickFIX C++ style log of ``bench/replay.py`` (NewOrderSingle, ExecutionReport, market data
and Heartbeats over four sessions), then measures, each in its own child process so that timings and
peak RSS do not mix:

- the reader alone (``LogReader``), the baseline every analysis pays;
- ``orders``: the order tracker over every record (one pass, as ``plxtra-fix orders`` does it);
- ``sessions``: the session-health tracker over every record;
- the whole ``plxtra-fix sessions`` command (text output to /dev/null);
- peak RSS (``resource.getrusage``) of ``orders`` and ``sessions`` at two log sizes.

Target: >= 100,000 msg/s for each of ``orders`` and ``sessions``; memory growing with orders and
sessions, not with messages. The generated log is a worst case for ``orders``: its ExecutionReports
name ClOrdIDs that were never sent (``ord-(n-3)``), so every report starts an order of its own, flagged
"unknown ClOrdID": the log holds about 0.42 orders per message.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from _child_timing import best_child_run, child_result, copy_lines, time_gateway_command  # noqa: E402
from replay import generate  # noqa: E402  (bench/replay.py: the same log as the reader benchmark)

from gateway.harness.analysis.inputs import Inputs  # noqa: E402
from gateway.harness.analysis.pipeline import analyse  # noqa: E402

REPEAT = 3


def child(kind: str, path: str) -> dict[str, object]:
    cpu = time.process_time()
    start = time.perf_counter()
    if kind == "reader":
        count = sum(1 for _ in Inputs([path]))
        extra: dict[str, object] = {}
    else:
        result = analyse(Inputs([path]), orders=kind == "orders", sessions=kind == "sessions")
        count = result.messages
        if result.orders is not None:
            extra = {
                "orders": len(result.orders.orders),
                "flagged": sum(1 for o in result.orders.orders if o.issues),
            }
        else:
            assert result.sessions is not None
            extra = {
                "sessions": len(result.sessions.sessions),
                "gaps": sum(len(h.gaps()) for h in result.sessions.sessions.values()),
            }
    return {**child_result(count, start, cpu), **extra}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--rss-sizes", default="200000,1000000", help="two log sizes (messages) for peak RSS")
    ap.add_argument("--repeat", type=int, default=REPEAT, help="runs per measurement; the best counts")
    ap.add_argument("--keep", metavar="DIR", help="write the logs here and keep them")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    sizes = sorted(int(s) for s in args.rss_sizes.split(","))
    total = max(args.messages, sizes[-1])
    with tempfile.TemporaryDirectory(prefix="plxtra-analysis-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        log = work / f"bench-{total}.messages.log"
        if not log.exists():
            raw = work / f"bench-{total}.soh"
            generate(log, raw, total)
            raw.unlink()
        print(f"log: {total:,} messages, {log.stat().st_size / 1e6:.0f} MB (bench/replay.py's generator)")
        rows = []
        rates = {}
        for kind in ("reader", "orders", "sessions"):
            r = best_child_run(__file__, (kind, str(log)), args.repeat)
            rate = float(r["messages"]) / float(r["cpu_seconds"])  # type: ignore[arg-type]
            wall = float(r["messages"]) / float(r["seconds"])  # type: ignore[arg-type]
            rates[kind] = rate
            notes = ", ".join(
                f"{k} {v:,}" for k, v in r.items() if k in ("orders", "flagged", "sessions", "gaps")
            )
            rows.append((kind, rate, wall, notes))
        wall, cpu = time_gateway_command("sessions", str(log), ok_codes=(0, 1))
        rows.append(("plxtra-fix sessions > /dev/null", total / cpu, total / wall, "whole command, one run"))
        print(f"{'what':34} {'msg/s CPU':>11} {'msg/s wall':>11}  notes")
        for name, rate, wall_rate, notes in rows:
            print(f"{name:34} {rate:11,.0f} {wall_rate:11,.0f}  {notes}")
        print(
            f"(msg/s CPU: messages per CPU second of the process, best of {args.repeat} runs; machine shared)"
        )
        print()
        print("peak RSS (child processes, resource.getrusage):")
        for size in sizes:
            path = log if size == total else work / f"bench-{size}.messages.log"
            if path != log:
                copy_lines(log, path, size)
            figures = []
            for kind in ("reader", "orders", "sessions"):
                r = best_child_run(__file__, (kind, str(path)), 1)
                extra = f" ({r['orders']:,} orders)" if "orders" in r else ""
                figures.append(f"{kind} {int(r['rss_kib']) / 1024:.0f} MiB{extra}")  # type: ignore[call-overload]
            print(f"  {size:>10,} messages: " + ", ".join(figures))
        print()
        verdict = ", ".join(f"{k} {rates[k]:,.0f}" for k in ("orders", "sessions"))
        ok = all(rates[k] >= 100_000 for k in ("orders", "sessions"))
        print(f"target >= 100,000 msg/s each: {verdict} -> {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
