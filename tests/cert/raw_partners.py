"""Small raw-socket FIX initiators that each get one thing wrong, to prove certification names it.

:class:`RawPartner` is a minimal, mostly correct initiator written straight on the socket with the
harness codec (no session library: the faults must be on purpose and visible). Each subclass below
overrides one behaviour; ``script`` lets a partner send application messages after logon.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.harness.codec import FixMessage, FixParser, encode
from gateway.harness.sessionproto import format_utc

Field = tuple[int, str]


class RawPartner:
    def __init__(self, port: int, begin: str, sender: str, target: str = "PLXTRA",
                 heartbeat: int = 1) -> None:
        self.port, self.begin, self.sender, self.target = port, begin, sender, target
        self.heartbeat = heartbeat
        self.next_out = 1
        self.next_in = 1
        self.received: list[FixMessage] = []
        self._writer: asyncio.StreamWriter | None = None
        self._last_sent = datetime.now(UTC)
        self.closed = False

    # -- sending ----------------------------------------------------------------------------------
    def send(self, msg_type: str, body: Sequence[Field] = (), *, seq: int | None = None,
             poss_dup: bool = False) -> None:
        number = self.next_out if seq is None else seq
        header: list[Field] = [(35, msg_type), (49, self.sender), (56, self.target), (34, str(number))]
        if poss_dup:
            header.append((43, "Y"))
        now = format_utc(datetime.now(UTC))
        header.append((52, now))
        if poss_dup:
            header.append((122, now))
        if seq is None:
            self.next_out += 1
        assert self._writer is not None
        self._writer.write(encode(self.begin, [*header, *body]))
        self._last_sent = datetime.now(UTC)

    # -- behaviour (override one of these to misbehave) --------------------------------------------
    def on_test_request(self, m: FixMessage) -> None:
        self.send("0", [(112, m.get(112) or "")])

    def on_gap(self, m: FixMessage, seq: int) -> None:
        self.send("2", [(7, str(self.next_in)), (16, "0")])

    def on_resend_request(self, m: FixMessage) -> None:
        begin = int(m.get(7) or "1")
        # Only admin messages were sent in these tests: one GapFill covers them, as FIX allows.
        self.send("4", [(123, "Y"), (36, str(self.next_out))], seq=begin, poss_dup=True)

    async def script(self) -> None:
        """Application messages to send once logged on (none by default)."""

    # -- the loop ---------------------------------------------------------------------------------
    def _handle(self, m: FixMessage) -> None:
        self.received.append(m)
        seq = int(m.get(34) or "0")
        t = m.msg_type
        if t == "4" and m.get(123) != "Y":
            self.next_in = int(m.get(36) or "0")
            return
        if seq < self.next_in:
            if m.get(43) != "Y":
                self.send("5", [(58, f"MsgSeqNum too low, expecting {self.next_in} but received {seq}")])
                self.closed = True
            return
        if seq > self.next_in and t not in ("A", "5", "2"):
            self.on_gap(m, seq)
            # Accept what follows as if resent (keeps the partner simple).
            self.next_in = seq
        self.next_in = seq + 1 if t != "4" else int(m.get(36) or str(seq + 1))
        if t == "1":
            self.on_test_request(m)
        elif t == "2":
            self.on_resend_request(m)
        elif t == "5":
            self.send("5")
            self.closed = True

    async def run(self, duration: float) -> None:
        """Connect, log on, answer for ``duration`` seconds at most (or until logged out)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer = writer
        parser = FixParser()
        self.send("A", [(98, "0"), (108, str(self.heartbeat)),
                        *([(1137, "9")] if self.begin == "FIXT.1.1" else [])])
        script: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        try:
            while not self.closed and loop.time() < deadline:
                try:
                    data = await asyncio.wait_for(reader.read(65536), 0.2)
                except TimeoutError:
                    data = None
                if data == b"":
                    break
                if data:
                    parser.feed(data)
                    for _ in range(1000):
                        m = parser.next()
                        if m is None:
                            break
                        if not m.checksum_ok:
                            continue       # garbled: ignored, not counted
                        self._handle(m)
                        if m.msg_type == "A" and script is None:
                            script = asyncio.create_task(self.script())
                if (datetime.now(UTC) - self._last_sent).total_seconds() >= self.heartbeat:
                    self.send("0")
                await writer.drain()
        finally:
            if script is not None:
                script.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await script
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


class IgnoresTestRequest(RawPartner):
    def on_test_request(self, m: FixMessage) -> None:
        pass


class NoResendOnGap(RawPartner):
    def on_gap(self, m: FixMessage, seq: int) -> None:
        pass


class ResendWithNewSeqNums(RawPartner):
    """Answers a ResendRequest by sending fresh messages: new MsgSeqNums, no PossDupFlag."""

    def on_resend_request(self, m: FixMessage) -> None:
        self.send("4", [(123, "Y"), (36, str(self.next_out + 1))])


def order(cl: str, qty: str = "100", price: str = "10.00") -> list[Field]:
    return [(11, cl), (1, "XS:0001"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, qty), (40, "2"),
            (44, price), (59, "0"), (60, format_utc(datetime.now(UTC)))]


def cancel(cl: str, orig: str) -> list[Field]:
    return [(11, cl), (41, orig), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "100"),
            (60, format_utc(datetime.now(UTC)))]


async def http_json(port: int, path: str) -> dict:
    """GET a JSON document from the certification's HTTP view (plain asyncio, no client library)."""
    import json

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(-1), 5.0)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


class ScriptedOrdersPartner(RawPartner):
    """Drives the prompted ``orders`` suite by reading the JSON view: for each current step id it
    sends what the prompt asks, as a partner's test tooling would."""

    def __init__(self, *args: object, view_port: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.view_port = view_port
        self.counter = 0
        self.done: list[str] = []

    handl_inst = True     # FIX 4.2 requires HandlInst(21) on D and G

    def send(self, msg_type: str, body: Sequence[Field] = (), **kwargs: object) -> None:
        if self.begin == "FIX.4.2" and self.handl_inst and msg_type in ("D", "G"):
            body = [*body, (21, "1")]
        super().send(msg_type, body, **kwargs)  # type: ignore[arg-type]

    def clordid(self) -> str:
        self.counter += 1
        return f"{self.sender}-{self.counter}"

    def cancel_id(self, orig: str) -> str:
        return self.clordid()

    def orig_for_cancel_after_replace(self, first: str, replaced: str) -> str:
        return replaced

    async def pause(self) -> None:
        await asyncio.sleep(0.4)     # let the gateway acknowledge before the next request

    async def act(self, step: str) -> None:
        if step == "limit-filled":
            self.send("D", order(self.clordid(), "100", "10.00"))
        elif step == "market-filled":
            body = [(t, v) for t, v in order(self.clordid(), "100") if t != 44]
            self.send("D", [(t, "1" if t == 40 else v) for t, v in body])
        elif step == "partial-fill-cancel":
            first = self.clordid()
            self.send("D", order(first, "200", "10.00"))
            await self.pause()
            self.send("F", cancel(self.cancel_id(first), first))
        elif step == "replace-chain":
            first, second = self.clordid(), self.clordid()
            self.send("D", order(first, "300", "9.00"))
            await self.pause()
            self.send("G", [*order(second, "300", "9.50")[:9], (41, first), (60, order("x")[-1][1])])
            await self.pause()
            self.send("F", cancel(self.clordid(), self.orig_for_cancel_after_replace(first, second)))
        elif step == "order-status":
            cl = self.clordid()
            self.send("D", order(cl, "300", "9.00"))
            await self.pause()
            self.send("H", [(11, cl), (55, "XS01"), (207, "XSX"), (54, "1")])
        elif step == "reject-handled":
            self.send("D", order(self.clordid(), "999", "10.00"))
            await self.pause()
            self.send("D", order(self.clordid(), "300", "9.00"))
        elif step == "unsolicited-cancel":
            self.send("D", order(self.clordid(), "400", "9.00"))

    async def script(self) -> None:
        for _ in range(600):     # bounded: 600 polls of 0.1 s
            status = await http_json(self.view_port, "/status")
            current = status.get("current")
            if status.get("finished"):
                return
            if current and current["id"] not in self.done and not current["automatic"]:
                self.done.append(current["id"])
                await self.act(current["id"])
            await asyncio.sleep(0.1)


class ReusesClOrdID(ScriptedOrdersPartner):
    def cancel_id(self, orig: str) -> str:
        return orig


class NoHandlInst(ScriptedOrdersPartner):
    """A FIX 4.2 engine that leaves out HandlInst(21): the gateway rejects every order."""

    handl_inst = False


class WrongOrigClOrdID(ScriptedOrdersPartner):
    def orig_for_cancel_after_replace(self, first: str, replaced: str) -> str:
        return first


def md_request(req_id: str, kind: str, symbol: str = "XS01") -> list[Field]:
    body: list[Field] = [(262, req_id), (263, kind), (264, "0")]
    if kind == "1":
        body.append((265, "1"))
    return [*body, (267, "2"), (269, "0"), (269, "1"), (146, "1"), (55, symbol), (207, "XSX")]


class ScriptedMarketDataPartner(ScriptedOrdersPartner):
    async def act(self, step: str) -> None:
        if step == "md-snapshot":
            self.send("V", md_request(self.clordid(), "0"))
        elif step == "md-subscribe":
            req = self.clordid()
            self.send("V", md_request(req, "1"))
            for _ in range(50):      # wait (bounded) for the incremental update before unsubscribing
                if any(m.msg_type == "X" for m in self.received):
                    break
                await asyncio.sleep(0.1)
            self.send("V", md_request(req, "2"))
        elif step == "md-reject":
            self.send("V", md_request(self.clordid(), "0", "XS99"))
