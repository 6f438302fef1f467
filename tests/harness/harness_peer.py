"""A small FIX acceptor ("venue") for the harness tests: raw asyncio sockets plus the codec only.

It deliberately shares nothing with ``gateway.harness.sessionproto`` (its own sequence handling),
so a misunderstanding in the harness's session layer shows up as a failing test. It answers like a
plain broker: NewOrderSingle -> ExecutionReport New, market orders fill at once, limit orders rest;
cancel / replace; cancel of an unknown ClOrdID -> OrderCancelReject (9) with CxlRejReason 1;
MarketDataRequest -> snapshot (W) or reject (Y); SecurityListRequest -> SecurityList (y).

``mode`` makes it misbehave for negative tests: ``wrong_exec_type`` (New acknowledged with
ExecType 8), ``missing_tag`` (no OrderID(37) on the New), ``silent`` (no answer to orders).
Every message in and out is appended to ``log`` as a QuickFIX-style log line.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from gateway.harness.codec import FixMessage, FixParser, encode

SYMBOLS = {f"XS{i:02d}" for i in range(1, 11)}
BID, ASK = Decimal("9.90"), Decimal("10.10")


def _now() -> str:
    t = datetime.now(UTC)
    return t.strftime("%Y%m%d-%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


@dataclass
class _Order:
    order_id: str
    cl_ord_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal | None
    status: str = "0"
    cum: Decimal = Decimal(0)


@dataclass
class _Conn:
    writer: asyncio.StreamWriter
    begin: str = ""
    peer: str = ""
    next_in: int = 1
    next_out: int = 1
    logged_on: bool = False
    sent: dict[int, tuple[str, list]] = field(default_factory=dict)


class TestVenue:
    __test__ = False  # not a pytest class

    def __init__(self, comp_id: str = "VENUE", mode: str = "good", *, reset_on_logon: bool = False) -> None:
        self.comp_id = comp_id
        self.mode = mode
        self.reset_on_logon = reset_on_logon    # QuickFIX ResetOnLogon=Y, as its acceptance tests run
        self.port = 0
        self.log: list[str] = []
        self.received: list[FixMessage] = []
        self.orders: dict[str, _Order] = {}
        self._server: asyncio.Server | None = None
        self._conns: list[_Conn] = []
        self._seqs: dict[str, _Conn] = {}
        self._order_seq = 0
        self._exec_seq = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for c in self._conns:
            c.writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> TestVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ wire
    def _send(self, c: _Conn, msg_type: str, body: list, *, seq: int | None = None,
              poss_dup: bool = False, orig: str | None = None) -> None:
        number = c.next_out if seq is None else seq
        now = _now()
        head = [(35, msg_type), (49, self.comp_id), (56, c.peer), (34, number)]
        if poss_dup:
            head.append((43, "Y"))
        head.append((52, now))
        if orig:
            head.append((122, orig))
        raw = encode(c.begin, head + body)
        if seq is None:
            c.sent[number] = (msg_type, body, now)
            c.next_out += 1
        self.log.append(f"{now} : {raw.decode('latin-1')}")
        c.writer.write(raw)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c = _Conn(writer)
        self._conns.append(c)
        parser = FixParser()
        try:
            while True:
                data = await asyncio.wait_for(reader.read(4096), 60)
                if not data:
                    return
                parser.feed(data)
                while (m := parser.next()) is not None:
                    if not (m.checksum_ok and m.body_length_ok):
                        continue            # garbled: ignored and not counted (FIX session rules)
                    self.log.append(f"{_now()} : {m.raw.decode('latin-1')}")
                    if not self._on_message(c, m):
                        await writer.drain()
                        writer.close()
                        return
                await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    # ------------------------------------------------------------------ session level
    def _on_message(self, c: _Conn, m: FixMessage) -> bool:
        """Handle one message; False closes the connection."""
        seq = int(m.get(34) or 0)
        if m.msg_type == "A":
            c.begin, c.peer = m.begin_string, m.get(49) or ""
            # Sequence numbers belong to the session, not the connection (as in any FIX engine).
            known = self._seqs.get(c.peer)
            if known is not None and not self.reset_on_logon:
                c.next_in, c.next_out, c.sent = known.next_in, known.next_out, known.sent
            self._seqs[c.peer] = c
            if m.get(56) != self.comp_id:
                c.peer = m.get(49) or "?"
                self._send(c, "5", [(58, f"unknown TargetCompID {m.get(56)}")])
                return False
            if m.get(141) == "Y":
                c.next_in = c.next_out = 1
        if not c.begin:
            return False  # first message must be a Logon
        if m.msg_type == "4" and m.get(123) != "Y":
            c.next_in = int(m.get(36) or c.next_in)
            return True
        if seq < c.next_in:
            if m.get(43) == "Y":
                return True     # PossDup of something already processed: ignore (FIX)
            self._send(c, "5", [(58, f"MsgSeqNum too low, expecting {c.next_in} but received {seq}")])
            return False
        if seq > c.next_in and m.msg_type not in ("4",):
            self._send(c, "2", [(7, c.next_in), (16, 0)])
        c.next_in = seq + 1
        self.received.append(m)
        t = m.msg_type
        if t == "A":
            body = [(98, 0), (108, m.get(108) or 30)]
            if m.get(141) == "Y":
                body.append((141, "Y"))
            if m.get(1137):
                body.append((1137, m.get(1137)))
            self._send(c, "A", body)
            c.logged_on = True
        elif t == "1":
            self._send(c, "0", [(112, m.get(112) or "")])
        elif t == "2":
            begin, end = int(m.get(7) or 1), int(m.get(16) or 0)
            end = c.next_out - 1 if end == 0 else end
            for n in range(begin, end + 1):
                msg_type, body, orig = c.sent.get(n, ("0", [], ""))
                if msg_type in ("0", "1", "2", "4", "5", "A"):
                    self._send(c, "4", [(123, "Y"), (36, n + 1)], seq=n, poss_dup=True, orig=_now())
                else:
                    self._send(c, msg_type, body, seq=n, poss_dup=True, orig=orig)
        elif t == "4":
            c.next_in = max(c.next_in, int(m.get(36) or 0))
        elif t == "5":
            self._send(c, "5", [])
            return False
        elif t == "D":
            self._new_order(c, m)
        elif t == "F":
            self._cancel(c, m)
        elif t == "G":
            self._replace(c, m)
        elif t == "V":
            self._market_data(c, m)
        elif t == "x":
            rows: list = [(320, m.get(320)), (322, "SL-1"), (560, 0), (146, len(SYMBOLS))]
            for s in sorted(SYMBOLS):
                rows += [(55, s), (207, "XSX")]
            self._send(c, "y", rows)
        return True

    # ------------------------------------------------------------------ application
    def _exec(self, c: _Conn, o: _Order, exec_type: str, extra: list | None = None,
              orig: str | None = None) -> None:
        self._exec_seq += 1
        body: list = []
        if not (self.mode == "missing_tag" and exec_type == "0"):
            body.append((37, o.order_id))
        body += [(11, o.cl_ord_id)]
        if orig:
            body.append((41, orig))
        if self.mode == "wrong_exec_type" and exec_type == "0":
            exec_type = "8"
        body += [(17, f"E{self._exec_seq}"), (150, exec_type), (39, o.status), (55, o.symbol),
                 (54, o.side), (38, o.qty), (151, o.qty - o.cum if o.status in "01" else 0),
                 (14, o.cum)]
        body += extra or []
        body += [(6, ASK if o.cum else 0), (60, _now())]
        self._send(c, "8", body)

    def _new_order(self, c: _Conn, m: FixMessage) -> None:
        if self.mode == "silent":
            return
        self._order_seq += 1
        o = _Order(f"O{self._order_seq}", m.get(11) or "", m.get(55) or "", m.get(54) or "1",
                   Decimal(m.get(38) or "0"), Decimal(m.get(44)) if m.get(44) else None)
        if o.symbol not in SYMBOLS:
            o.status = "8"
            self._exec(c, o, "8", [(103, 1), (58, f"unknown symbol {o.symbol}")])
            return
        self.orders[o.cl_ord_id] = o
        self._exec(c, o, "0")
        crosses = m.get(40) == "1" or (o.price is not None and o.side == "1" and o.price >= ASK)
        if crosses:
            o.cum, o.status = o.qty, "2"
            self._exec(c, o, "F" if c.begin != "FIX.4.2" else "2", [(32, o.qty), (31, ASK)])

    def _cancel(self, c: _Conn, m: FixMessage) -> None:
        o = self.orders.get(m.get(41) or "")
        if o is None or o.status in ("2", "4", "8"):
            self._send(c, "9", [(37, o.order_id if o else "NONE"), (11, m.get(11)), (41, m.get(41)),
                                (39, o.status if o else "8"), (434, 1), (102, 1 if o is None else 0)])
            return
        o.status = "4"
        del self.orders[o.cl_ord_id]
        o.cl_ord_id = m.get(11) or ""
        self.orders[o.cl_ord_id] = o
        self._exec(c, o, "4", orig=m.get(41))

    def _replace(self, c: _Conn, m: FixMessage) -> None:
        o = self.orders.get(m.get(41) or "")
        if o is None:
            self._send(c, "9", [(37, "NONE"), (11, m.get(11)), (41, m.get(41)), (39, 8), (434, 2),
                                (102, 1)])
            return
        del self.orders[o.cl_ord_id]
        o.cl_ord_id = m.get(11) or ""
        o.qty = Decimal(m.get(38) or o.qty)
        o.price = Decimal(m.get(44)) if m.get(44) else o.price
        self.orders[o.cl_ord_id] = o
        self._exec(c, o, "5", [(44, o.price)] if o.price is not None else [], orig=m.get(41))

    def _market_data(self, c: _Conn, m: FixMessage) -> None:
        req = m.get(262) or ""
        symbol = m.get(55) or ""
        if symbol not in SYMBOLS:
            self._send(c, "Y", [(262, req), (281, 0), (58, f"unknown symbol {symbol}")])
            return
        self._send(c, "W", [(262, req), (55, symbol), (207, "XSX"), (268, 2),
                            (269, 0), (270, BID), (271, 500), (269, 1), (270, ASK), (271, 300)])


class VenueThread:
    """Runs a :class:`TestVenue` on its own event loop in a daemon thread (for code that calls
    ``asyncio.run`` itself, such as the CLI commands)."""

    def __init__(self, comp_id: str = "VENUE", mode: str = "good", *, reset_on_logon: bool = False) -> None:
        import threading

        self.venue = TestVenue(comp_id, mode, reset_on_logon=reset_on_logon)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="test-venue")

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.venue.start())
        self._ready.set()
        self._loop.run_forever()

    @property
    def port(self) -> int:
        return self.venue.port

    def __enter__(self) -> VenueThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test venue did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.venue.stop(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
