#!/usr/bin/env python3
"""Log reading speed: our codec and readers against simplefix, and memory against log size.

    PYTHONPATH=. python3 bench/replay.py                 # 1,000,000 messages
    PYTHONPATH=. python3 bench/replay.py --messages 200000 --rss-sizes 50000,200000

Writes a QuickFIX C++ style log (``YYYYMMDD-HH:MM:SS.sss : 8=FIX...``, a realistic mix of
NewOrderSingle, ExecutionReport, MarketDataSnapshot, MarketDataIncrementalRefresh and Heartbeat
over four sessions) and the same messages as a bare SOH stream into a temporary directory, then
measures, each in its own child process so that timings and peak RSS do not mix:

- ``FixParser`` over the SOH stream, cutting only, and cutting + splitting every field;
- ``simplefix.FixParser`` over the same SOH bytes (on a sample, extrapolated: it is slow);
- ``LogReader`` parse + session grouping of the log;
- ``plxtra-fix decode`` of the log to /dev/null, text and JSON;
- peak RSS (``resource.getrusage``) of the reader for two log sizes: it must not grow with the log.

Targets: >= 250,000 msg/s parse and >= 10x simplefix.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _child_timing import best_child_run, child_result, copy_lines, time_gateway_command  # noqa: E402

from gateway.harness.codec import FixParser, encode  # noqa: E402
from gateway.harness.readers import LogReader  # noqa: E402

CLIENTS = ("CLIENT1", "CLIENT2", "CLIENT3", "CLIENT4")
US = "PLXTRA"
# (msg type, share of traffic) -- market data dominates a desk's logs, then execution reports
MIX = (("X", 35), ("8", 28), ("D", 14), ("W", 8), ("0", 15))


# -- generation ---------------------------------------------------------------------------------------
def _stamp(micros: int) -> bytes:
    seconds, micro = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return b"20240102-%02d:%02d:%02d.%03d" % (8 + hour % 14, minute, second, micro // 1000)


def generate(path: Path, raw_path: Path, count: int) -> None:
    """Write ``count`` messages as a QuickFIX log and as a bare SOH stream."""
    pattern: list[str] = []
    for msg_type, share in MIX:
        pattern += [msg_type] * share
    # spread the types evenly instead of in runs (a fixed shuffle: the same log every time)
    order = sorted(range(len(pattern)), key=lambda i: (i * 37) % len(pattern))
    pattern = [pattern[i] for i in order]
    seq = {(a, b): 0 for c in CLIENTS for a, b in ((c, US), (US, c))}
    micros = 0
    with open(path, "wb", buffering=1 << 20) as log, open(raw_path, "wb", buffering=1 << 20) as raw_out:
        for n in range(count):
            client = CLIENTS[n % len(CLIENTS)]
            msg_type = pattern[n % len(pattern)]
            inbound = msg_type == "D" or (msg_type == "0" and n % 2 == 0)
            sender, target = (client, US) if inbound else (US, client)
            seq[(sender, target)] += 1
            micros += 137 + (n * 7919) % 400
            now = _stamp(micros)
            raw = encode("FIX.4.4", _fields(msg_type, n, sender, target, seq[(sender, target)], now))
            log.write(now + b" : " + raw + b"\n")
            raw_out.write(raw)


def _fields(
    msg_type: str, n: int, sender: str, target: str, seq: int, now: bytes
) -> list[tuple[int, object]]:
    head: list[tuple[int, object]] = [(35, msg_type), (34, seq), (49, sender), (52, now), (56, target)]
    symbol = f"XS{n % 10 + 1:02d}"
    price = f"{10 + (n % 500) / 100:.2f}"
    if msg_type == "D":
        return [
            *head,
            (11, f"ord-{n}"),
            (1, f"XS:{n % 10 + 1:04d}"),
            (55, symbol),
            (207, "XSX"),
            (54, "1" if n % 3 else "2"),
            (38, 100 * (n % 9 + 1)),
            (40, "2"),
            (44, price),
            (59, "0"),
            (60, now),
        ]
    if msg_type == "8":
        filled = n % 4 == 0
        return [
            *head,
            (37, f"O{n}"),
            (11, f"ord-{n - 3}"),
            (17, f"E{n}"),
            (150, "F" if filled else "0"),
            (39, "2" if filled else "0"),
            (55, symbol),
            (207, "XSX"),
            (54, "1"),
            (38, 500),
            (44, price),
            (32, 500 if filled else 0),
            (31, price if filled else "0"),
            (151, 0 if filled else 500),
            (14, 500 if filled else 0),
            (6, price if filled else "0"),
            (60, now),
        ]
    if msg_type == "W":
        entries: list[tuple[int, object]] = []
        for level in range(10):
            entries += [
                (269, "0" if level < 5 else "1"),
                (270, f"{10 + level / 100:.2f}"),
                (271, 100 * (level + 1)),
                (1023, level % 5 + 1),
            ]
        return [*head, (262, f"md-{n % 50}"), (55, symbol), (207, "XSX"), (268, 10), *entries]
    if msg_type == "X":
        entries = []
        for i in range(n % 3 + 1):
            entries += [
                (279, str(i % 3)),
                (269, str(i % 2)),
                (55, symbol),
                (207, "XSX"),
                (270, price),
                (271, 100 * (i + 1)),
                (1023, i + 1),
            ]
        return [*head, (262, f"md-{n % 50}"), (268, n % 3 + 1), *entries]
    return head  # Heartbeat


# -- children ---------------------------------------------------------------------------------------
def child_parser(path: str, split: bool) -> dict[str, object]:
    parser = FixParser()
    count = 0
    cpu = time.process_time()
    start = time.perf_counter()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            parser.feed(chunk)
            while (m := parser.next()) is not None:
                if split:
                    _ = m.fields
                count += 1
    return child_result(count, start, cpu)


def child_simplefix(path: str, limit: int) -> dict[str, object]:
    import simplefix

    parser = simplefix.FixParser()
    count = 0
    cpu = time.process_time()
    start = time.perf_counter()
    with open(path, "rb") as f:
        while count < limit and (chunk := f.read(1 << 16)):
            parser.append_buffer(chunk)
            while count < limit and parser.get_message() is not None:
                count += 1
    return child_result(count, start, cpu)


def child_reader(path: str) -> dict[str, object]:
    cpu = time.process_time()
    start = time.perf_counter()
    reader = LogReader([path])
    count = 0
    for _ in reader:
        count += 1
    result = child_result(count, start, cpu)
    result["sessions"] = {str(k): v.messages for k, v in reader.sessions.items()}
    result["problems"] = reader.problem_count
    return result


REPEAT = 3


# -- main -------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--rss-sizes", default="200000,1000000", help="two log sizes (messages) for peak RSS")
    ap.add_argument("--simplefix-sample", type=int, default=100_000)
    ap.add_argument("--skip-decode", action="store_true", help="skip the (slow) decode runs")
    ap.add_argument("--keep", metavar="DIR", help="write the logs here and keep them")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "parser":
            result = child_parser(rest[0], split=rest[1] == "split")
        elif kind == "simplefix":
            result = child_simplefix(rest[0], int(rest[1]))
        else:
            result = child_reader(rest[0])
        print(json.dumps(result))
        return 0

    global REPEAT
    REPEAT = max(1, args.repeat)
    sizes = sorted(int(s) for s in args.rss_sizes.split(","))
    total = max(args.messages, sizes[-1])
    with tempfile.TemporaryDirectory(prefix="plxtra-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        log = work / f"bench-{total}.messages.log"
        raw = work / f"bench-{total}.soh"
        t0 = time.perf_counter()
        generate(log, raw, total)
        print(
            f"generated {total:,} messages in {time.perf_counter() - t0:.1f}s: "
            f"log {log.stat().st_size / 1e6:.0f} MB, SOH stream {raw.stat().st_size / 1e6:.0f} MB"
        )
        print(
            f"mix: {', '.join(f'{t} {s}%' for t, s in MIX)}; {len(CLIENTS)} sessions; QuickFIX C++ timestamps"
        )
        print()

        rows: list[tuple[str, float, float, str]] = []  # name, msg/s on CPU time, msg/s wall, notes

        def add(name: str, result: dict[str, object], notes: str) -> float:
            count = float(result["messages"])  # type: ignore[arg-type]
            cpu_rate = count / float(result["cpu_seconds"])  # type: ignore[arg-type]
            rows.append((name, cpu_rate, count / float(result["seconds"]), notes))  # type: ignore[arg-type]
            return cpu_rate

        cut = best_child_run(__file__, ("parser", str(raw), "cut"), REPEAT)
        cut_rate = add("codec FixParser, cut + checks (SOH stream)", cut, f"{cut['messages']:,} msgs")
        split = best_child_run(__file__, ("parser", str(raw), "split"), REPEAT)
        add("codec FixParser, cut + every field split", split, f"{split['messages']:,} msgs")
        sample = min(args.simplefix_sample, total)
        sf = best_child_run(__file__, ("simplefix", str(raw), str(sample)), REPEAT)
        note = f"{sf['messages']:,}-msg sample" + (", extrapolated" if sample < total else "")
        sf_rate = add("simplefix FixParser (same SOH bytes)", sf, note)
        rd = best_child_run(__file__, ("reader", str(log)), REPEAT)
        sessions = rd["sessions"]
        assert isinstance(sessions, dict)
        reader_rate = add(
            "LogReader parse + group (QuickFIX log)",
            rd,
            f"{rd['messages']:,} msgs, {len(sessions)} sessions, {rd['problems']} problems",
        )
        if not args.skip_decode:
            for options, name in (((), "text"), (("--compact",), "--compact"), (("--json",), "--json")):
                wall, cpu = time_gateway_command("decode", *options, str(log))
                result = {"messages": total, "seconds": wall, "cpu_seconds": cpu}
                add(f"plxtra-fix decode {name} > /dev/null", result, f"{wall:.1f}s wall, one run")

        print(f"{'what':44} {'msg/s CPU':>11} {'msg/s wall':>11} {'x simplefix':>12}  notes")
        for name, cpu_rate, wall_rate, notes in rows:
            print(f"{name:44} {cpu_rate:11,.0f} {wall_rate:11,.0f} {cpu_rate / sf_rate:11.1f}x  {notes}")
        print(f"(msg/s CPU: messages per CPU second of the process, best of {REPEAT} runs; machine shared)")
        if sample < total:
            print(
                f"simplefix was run on the first {sample:,} messages only and its rate extrapolated to "
                f"{total:,} (about {total / sf_rate:.0f} CPU seconds for the whole log)."
            )
        print()
        print("peak RSS of LogReader over the whole log (child processes, resource.getrusage):")
        for size in sizes:
            path = log if size == total else work / f"bench-{size}.messages.log"
            if path != log:
                copy_lines(log, path, size)
            result = best_child_run(__file__, ("reader", str(path)), REPEAT)
            rss_mib = int(result["rss_kib"]) / 1024  # type: ignore[call-overload]
            print(f"  {size:>10,} messages ({path.stat().st_size / 1e6:6.0f} MB): {rss_mib:6.1f} MiB")
        print()
        print(
            f"targets: parse >= 250,000 msg/s -> LogReader {reader_rate:,.0f}, codec {cut_rate:,.0f}; "
            f">= 10x simplefix -> {reader_rate / sf_rate:.1f}x (reader), {cut_rate / sf_rate:.1f}x (codec)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
