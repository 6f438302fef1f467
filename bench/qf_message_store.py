"""Cost of QuickFIX's message store per message, as the gateway's loop pays it (issue 14, item 2).

    PYTHONPATH=. python3 bench/qf_message_store.py [--messages 2000] [--repeat 3] [--pg-url URL]

One "message" is what a D -> ER exchange costs the store of the session: the D received
(``incrNextTargetMsgSeqNum``) and the ER sent (``set`` of its text + ``incrNextSenderMsgSeqNum``),
the calls QuickFIX's Session makes, on the calling thread (the loop, since the loop drives
QuickFIX). Stores: QuickFIX's MemoryStore, FileStore (the default: each call a write, no fsync),
and PostgreSQLStore (``message_store: postgresql``: each call one autocommit statement, a round
trip). ``--pg-url`` names a server; else a throw-away one is started with tests/pg_server.py
(fsync and synchronous_commit off: the figure is round trips and CPU, not a disk's flush; with
``synchronous_commit=on`` add the server's WAL flush time to each of the three statements).
Needs the quickfix of deploy/build-quickfix-ssl.sh (HAVE_POSTGRESQL).

``--e2e``: also the whole gateway (bench/order_roundtrip.py's raw client and figures), its order
state in PostgreSQL both times, with ``message_store: file`` and then ``postgresql``: what the
QuickFIX store adds to an order's round trip and to the orders/s one process sustains.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import quickfix as fix

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ER = ("8=FIX.4.4\x019=230\x0135=8\x0134={seq}\x0149=PLXTRA\x0152=20261206-10:00:00.000\x0156=CLIENT1\x01"
      "1=XS:0001\x016=0\x0111=bench{seq}\x0114=0\x0117=E{seq}\x0137=O{seq}\x0138=5\x0139=0\x0140=2\x01"
      "44=1.00\x0154=1\x0155=XS03\x0159=0\x0160=20261206-10:00:00.000\x01150=0\x01151=5\x01207=XSX\x01"
      "10=000\x01")


def _settings(kind: str, folder: Path, pg: dict[str, str], sender: str) -> fix.SessionSettings:
    lines = ["[DEFAULT]"]
    if kind == "file":
        lines.append(f"FileStorePath={folder}")
    elif kind == "postgresql":
        lines += [f"PostgreSQLStoreDatabase={pg['database']}", f"PostgreSQLStoreUser={pg['user']}",
                  f"PostgreSQLStoreHost={pg['host']}", f"PostgreSQLStorePort={pg['port']}"]
    lines += ["[SESSION]", "BeginString=FIX.4.4", f"SenderCompID={sender}", "TargetCompID=CLIENT1",
              "ConnectionType=acceptor"]
    settings = fix.SessionSettings()
    settings.setFromString("\n".join(lines) + "\n")
    return settings


def _run(kind: str, n: int, pg: dict[str, str]) -> tuple[float, float]:
    """(wall us, process CPU us) per message of a fresh store of ``kind``."""
    with tempfile.TemporaryDirectory() as tmp:
        sender = f"PLX{time.monotonic_ns()}"   # a fresh session (row) per run
        settings = _settings(kind, Path(tmp), pg, sender)
        factory = {"memory": lambda: fix.MemoryStoreFactory(), "file": lambda: fix.FileStoreFactory(settings),
                   "postgresql": lambda: fix.PostgreSQLStoreFactory(settings)}[kind]()
        sid = fix.SessionID("FIX.4.4", sender, "CLIENT1")
        store = factory.create(fix.UtcTimeStamp.now(), sid)
        texts = [ER.format(seq=i) for i in range(1, n + 1)]
        wall, cpu = time.perf_counter(), time.process_time()
        for i, text in enumerate(texts, 1):
            store.incrNextTargetMsgSeqNum()
            store.set(i, text)
            store.incrNextSenderMsgSeqNum()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert store.getNextSenderMsgSeqNum() == n + 1
        del store
        del factory
    return wall / n * 1e6, cpu / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg-url", default="")
    ap.add_argument("--e2e", action="store_true", help="also the gateway end to end, file vs postgresql")
    ap.add_argument("--orders", type=int, default=3000, help="--e2e: orders at max rate")
    ap.add_argument("--paced-orders", type=int, default=600, help="--e2e: orders at --rate")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--window", type=int, default=100)
    args = ap.parse_args()
    server = None
    url = args.pg_url
    if not url:
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_server import start_pg_server

        server = start_pg_server()
        url = server.create_database("bench_qf_store")
    try:
        import psycopg

        from gateway.store.pg_migrate import migrate

        with psycopg.connect(url) as conn:
            migrate(conn)   # 0004: QuickFIX's tables
        parts = urlsplit(url)
        if parts.password:
            os.environ["PGPASSWORD"] = unquote(parts.password)   # as the gateway does
        pg = {"database": parts.path.lstrip("/"), "user": unquote(parts.username or ""),
              "host": parts.hostname or "localhost", "port": str(parts.port or 5432)}
        print(f"QuickFIX message store per D -> ER ({args.messages} messages, best of {args.repeat})")
        print(f"{'store':12} {'wall us':>9} {'process CPU us':>15}")
        for kind in ("memory", "file", "postgresql"):
            wall, cpu = min(_run(kind, args.messages, pg) for _ in range(args.repeat))
            print(f"{kind:12} {wall:9.1f} {cpu:15.1f}")
        if args.e2e:
            _e2e(args, url, server)
    finally:
        if server is not None:
            server.stop()


def _e2e(args: argparse.Namespace, url: str, server: Any) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from order_roundtrip import drive, report

    from gateway.app.testing import spawn_gateway_process, write_test_config
    from gateway.fix.testing import free_port

    results = {}
    for n, kind in enumerate(("file", "postgresql")):
        db_url = url
        if server is not None:   # a fresh database per run
            db_url = server.create_database(f"bench_e2e_{n}")
        with tempfile.TemporaryDirectory(prefix="bench-qfstore-") as tmp:
            port = free_port()
            cfg = write_test_config(Path(tmp), "embedded", port, message_store=kind,
                                    gateway={"store": db_url})
            with spawn_gateway_process(cfg, extra_args=["--log-level", "WARNING"], timeout=60) as proc:
                results[kind] = drive(kind, port, args, "1.00", proc.pid)
                proc.terminate()
    print(f"\ngateway end to end, order state in PostgreSQL ({args.orders} orders at max rate, "
          f"{args.paced_orders} at {args.rate:.0f}/s, window {args.window})")
    for kind, (slow, fast) in results.items():
        report(kind, slow, fast, args.rate)


if __name__ == "__main__":
    main()
