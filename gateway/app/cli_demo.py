"""``plxtra-fix demo``: the gateway, the embedded simulator and a scripted FIX client, in one
process, printing one line per FIX message so a newcomer sees the whole path in 30 seconds.

The client is a real QuickFIX initiator on 127.0.0.1 (``FixTestClient``); the gateway reaches
the simulator over a real WebSocket, exactly as it would reach Plxtra.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from decimal import Decimal
from pathlib import Path

__all__ = ["configure", "run"]

WAIT = 8.0   # seconds allowed for any one answer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", default="XS01", help="symbol to trade and watch (default XS01)")
    parser.add_argument("--quantity", default="100", help="order quantity (default 100)")
    parser.add_argument("--updates", type=int, default=5, help="market-data updates to show (default 5)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="keep the run's FIX logs and store in DIR (default: a temporary directory)")
    parser.add_argument("--log-level", default="ERROR", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="gateway log level on stderr (default ERROR: the trace only)")


class _Trace:
    def __init__(self, names: object) -> None:
        from gateway.app.demo_format import FixNames

        assert isinstance(names, FixNames)
        self.names = names

    def out(self, msg_type: str, fields: list[tuple[int, object]]) -> None:
        from gateway.app.demo_format import describe

        print("  -> " + describe(self.names, msg_type, [(t, str(v)) for t, v in fields]), flush=True)

    def inbound(self, msg: object) -> None:
        from gateway.app.demo_format import describe
        from gateway.vocab.records import InboundMessage

        assert isinstance(msg, InboundMessage)
        print("  <- " + describe(self.names, msg.msg_type, msg.fields), flush=True)

    @staticmethod
    def note(text: str) -> None:
        print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    from gateway.app.cli_run import setup_logging

    setup_logging(args.log_level)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return _demo(args, args.keep)
    with tempfile.TemporaryDirectory(prefix="plxtra-demo-") as tmp:
        return _demo(args, Path(tmp))


def _demo(args: argparse.Namespace, work: Path) -> int:
    from gateway.app.demo_format import FixNames
    from gateway.app.testing import DEMO_SESSIONS, run_gateway_in_thread, write_test_config
    from gateway.config.dictionaries import locate_dictionaries
    from gateway.fix.testing import FixTestClient, free_port

    trace = _Trace(FixNames.load(locate_dictionaries(None, needed=("FIX44.xml",)).path("FIX44.xml")))
    port = free_port()
    cfg_path = write_test_config(work, "embedded", port, sessions=DEMO_SESSIONS[:1], message_store="memory")
    trace.note("plxtra-fix demo: gateway + embedded Plxtra simulator + a scripted FIX 4.4 client")
    started = time.monotonic()
    with run_gateway_in_thread(cfg_path, timeout=60) as gw:
        trace.note(f"  gateway: FIX acceptor on 127.0.0.1:{port}, session FIX.4.4 PLXTRA<->CLIENT1, "
                   f"Zenith {gw.gateway.zenith_url} (simulator, real WebSocket) "
                   f"[up in {time.monotonic() - started:.1f}s]")
        with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", target="PLXTRA", port=port,
                           tmp_path=work) as c:
            trace.note("\n1. Log on")
            trace.note("  -> Logon CLIENT1 -> PLXTRA (FIX.4.4, HeartBtInt=30, ResetSeqNumFlag=Y)")
            c.wait_logged_on(timeout=WAIT)
            trace.note(f"  <- Logon accepted (HeartBtInt={c.expect('A', WAIT, admin=True).get(108)})")
            price = _best_offer(c, trace, args.symbol)
            _trade(c, trace, args.symbol, args.quantity, price)
            _watch(c, trace, args.symbol, args.updates)
            trace.note("\n5. Log out")
            trace.note("  -> Logout")
            c.logout(timeout=WAIT)
            trace.note("  <- Logout (session closed by the gateway)")
    where = (f" FIX logs (QuickFIX format): {work / 'fixlog'}" if args.keep is not None
             else " Re-run with --keep DIR to keep the FIX logs.")
    trace.note(f"\nDone in {time.monotonic() - started:.1f}s.{where} `plxtra-fix run` serves real partners.")
    return 0


def _best_offer(c: object, trace: _Trace, symbol: str) -> Decimal:
    """Ask for a one-level snapshot; the best offer is the price that crosses the market."""
    from gateway.fix.testing import FixTestClient

    assert isinstance(c, FixTestClient)
    trace.note(f"\n2. Look at the market: snapshot of {symbol}")
    request = [(262, "demo-snap"), (263, "0"), (264, "1"), (267, 2), (269, "0"), (269, "1"),
               (146, 1), (55, symbol), (207, "XSX")]
    trace.out("V", request)
    c.send("V", request)
    try:
        snap = c.expect(None, WAIT, where={262: "demo-snap"})
    except AssertionError:
        trace.note("  (no market-data answer: the market-data service is not available; using 10.20)")
        return Decimal("10.20")
    trace.inbound(snap)
    offers = [v for t, v in _entries(snap.fields) if t == "1"]
    return Decimal(offers[0]) if offers else Decimal("10.20")


def _entries(fields: tuple[tuple[int, str], ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    kind = None
    for tag, value in fields:
        if tag == 269:
            kind = value
        elif tag == 270 and kind is not None:
            out.append((kind, value))
    return out


def _trade(c: object, trace: _Trace, symbol: str, quantity: str, price: Decimal) -> None:
    from gateway.fix.testing import FixTestClient

    assert isinstance(c, FixTestClient)
    trace.note(f"\n3. Buy {quantity} {symbol} at {price} (crosses the best offer: expect New, then fills)")
    order = [(11, "demo-1"), (1, "0001"), (55, symbol), (207, "XSX"), (54, "1"), (38, quantity),
             (40, "2"), (44, price), (59, "0"), (60, "<now>")]
    trace.out("D", order)
    c.send("D", order)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            er = c.expect("8", max(0.1, deadline - time.monotonic()), where={11: "demo-1"})
        except AssertionError:
            break
        trace.inbound(er)
        if er.get(39) in ("2", "4", "8"):     # filled, canceled or rejected: the story ends here
            return
    trace.note("  (order still working after the wait; it stays on the book)")


def _watch(c: object, trace: _Trace, symbol: str, updates: int) -> None:
    from gateway.fix.testing import FixTestClient

    assert isinstance(c, FixTestClient)
    trace.note(f"\n4. Subscribe to {symbol} market data (top 5 levels and trades), show {updates} updates")
    request = [(262, "demo-md"), (263, "1"), (264, "5"), (265, "1"), (267, 3), (269, "0"), (269, "1"),
               (269, "2"), (146, 1), (55, symbol), (207, "XSX")]
    trace.out("V", request)
    c.send("V", request)
    try:
        trace.inbound(c.expect(None, WAIT, where={262: "demo-md"}))
    except AssertionError:
        trace.note("  (no market-data answer: the market-data service is not available; skipping)")
        return
    shown = 0
    deadline = time.monotonic() + max(WAIT, updates * 2.0)
    while shown < updates and time.monotonic() < deadline:
        try:
            update = c.expect("X", max(0.1, deadline - time.monotonic()), where={262: "demo-md"})
        except AssertionError:
            break
        trace.inbound(update)
        shown += 1
    if shown < updates:
        trace.note(f"  ({shown} updates within {deadline - time.monotonic() + WAIT:.0f}s: a quiet market)")
    stop = [(262, "demo-md"), (263, "2"), (264, "5"), (267, 1), (269, "0"), (146, 1), (55, symbol),
            (207, "XSX")]
    c.send("V", stop)
    logging.getLogger("gateway.app.cli_demo").debug("unsubscribed")
