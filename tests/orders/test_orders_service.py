"""OrdersService against the real simulator over a real WebSocket, a real ZenithClient and a real
SQLite store; the FIX side is a recording Outbox (the engine tests cover QuickFIX itself).

Books are built exactly by placing orders from accounts the gateway does not trade (XS:0005+)
through Zenith, with the simulator's market activity off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.app.orders_service import CONNECTION_UNAVAILABLE, OrdersService
from gateway.app.services import ServiceRegistry
from gateway.config.model import (
    GatewayConfig,
    GatewaySettings,
    Limits,
    SessionConfig,
    ThrottleAction,
    ZenithSettings,
)
from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.store import Store
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.zenith import ZenithClient

V42, V44, V50 = "FIX.4.2", "FIX.4.4", "FIXT.1.1"
TARGETS = {V44: "CLIENT1", V42: "CLIENT2", V50: "CLIENT3"}
ACCOUNTS = ("XS:0001", "XS:0002", "XS:0003")


def session_config(begin: str, **over: Any) -> SessionConfig:
    base: dict[str, Any] = dict(
        name=TARGETS[begin].lower(),
        begin_string=begin,
        sender_comp_id="PLXTRA",
        target_comp_id=TARGETS[begin],
        default_appl_ver_id="FIX.5.0SP2" if begin == V50 else None,
        accounts=ACCOUNTS,
        account_aliases={a[3:]: a for a in ACCOUNTS},
        default_account="XS:0001",
        markets=("XSX",),
        limits=Limits(max_order_qty=Decimal(100_000), max_notional=Decimal(5_000_000)),
    )
    base.update(over)
    return SessionConfig(**base)


def key(begin: str) -> SessionKey:
    return SessionKey(begin, "PLXTRA", TARGETS[begin])


class RecordingOutbox:
    """Records what is sent; answers ``on_sent`` on the loop like the engine's outbox, with
    ``accept`` (True: QuickFIX took it, False: refused, None: never answered)."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.accept: bool | None = True
        self.logouts: list[tuple[SessionKey, str]] = []

    def logout(self, session: SessionKey, text: str = "") -> None:
        self.logouts.append((session, text))

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None:
        self.sent.append(msg)
        if on_sent is not None and self.accept is not None:
            asyncio.get_running_loop().call_soon(on_sent, self.accept)


def fields(m: OutboundMessage) -> dict[int, str]:
    out: dict[int, str] = {}
    for t, v in m.fields:
        out.setdefault(t, v)
    return out


@dataclass
class Harness:
    sim: SimServer
    client: ZenithClient
    other: ZenithClient
    store: Store
    service: OrdersService
    outbox: RecordingOutbox
    config: GatewayConfig
    registry: ServiceRegistry
    seq: dict[str, int] = field(default_factory=dict)
    cursor: int = 0

    def send(self, begin: str, msg_type: str, pairs: list[tuple[int, object]]) -> None:
        self.seq[begin] = self.seq.get(begin, 1) + 1
        msg = InboundMessage(key(begin), msg_type, self.seq[begin], tuple((t, str(v)) for t, v in pairs))
        cfg = self.config.session_for(begin, "PLXTRA", TARGETS[begin])
        assert cfg is not None
        # Through the dispatch seam, as in the gateway: the session's throttle applies there.
        self.registry.dispatch(msg)

    def order(
        self,
        begin: str,
        cl: str,
        side: str,
        qty: object,
        px: object | None,
        *,
        symbol: str = "XS01",
        ord_type: str = "2",
        extra: list[tuple[int, object]] | None = None,
    ) -> None:
        pairs: list[tuple[int, object]] = [
            (11, cl),
            (1, "0001"),
            (55, symbol),
            (207, "XSX"),
            (54, side),
            (38, qty),
            (40, ord_type),
            (59, "0"),
            (60, "20250603-00:00:00"),
        ]
        if px is not None:
            pairs.append((44, px))
        override = {t for t, _ in extra or []}
        self.send(begin, "D", [p for p in pairs if p[0] not in override] + (extra or []))

    async def expect(
        self,
        msg_type: str,
        where: dict[int, str] | None = None,
        timeout: float = 5.0,
        session: str | None = None,
    ) -> dict[int, str]:
        """The next message (after the cursor) of ``msg_type`` matching ``where``; advances the cursor."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i in range(self.cursor, len(self.outbox.sent)):
                m = self.outbox.sent[i]
                f = fields(m)
                if (
                    m.msg_type == msg_type
                    and all(f.get(t) == v for t, v in (where or {}).items())
                    and (session is None or m.session.begin_string == session)
                ):
                    self.cursor = i + 1
                    return f
            if asyncio.get_running_loop().time() > deadline:
                got = [
                    (m.msg_type, fields(m).get(150), fields(m).get(11), fields(m).get(58))
                    for m in self.outbox.sent[self.cursor :]
                ]
                raise AssertionError(f"no {msg_type} {where} within {timeout}s; after cursor: {got}")
            await asyncio.sleep(0.01)

    async def quiet(self, seconds: float = 0.3) -> list[OutboundMessage]:
        """Everything sent from the cursor on, after ``seconds`` of letting the loop run."""
        await asyncio.sleep(seconds)
        await self.service.wait_idle(5)
        return self.outbox.sent[self.cursor :]

    async def book(
        self,
        account: str,
        side: str,
        qty: object,
        px: object,
        symbol: str = "XS01",
        validity: str = "UntilDay",
    ) -> dict[str, Any]:
        """Place an order straight through Zenith from an account the gateway does not trade."""
        data = await self.other.request(
            "Trading",
            "PlaceOrder",
            {
                "Account": account,
                "Details": {
                    "Exchange": "XSX",
                    "Code": symbol,
                    "Side": side,
                    "Style": "Market",
                    "Type": "Limit",
                    "LimitPrice": Decimal(str(px)),
                    "Quantity": Decimal(str(qty)),
                    "Validity": validity,
                },
                "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
            },
        )
        assert data["Result"] == "Success", data
        return data


@contextlib.asynccontextmanager
async def harness(
    tmp_path: Path,
    *,
    sessions: tuple[SessionConfig, ...] | None = None,
    logon: bool = True,
    sim: SimServer | None = None,
    store_name: str = "gw.sqlite",
    **service_options: Any,
) -> AsyncIterator[Harness]:
    own_sim = sim is None
    if sim is None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
    client = ZenithClient(sim.url, "demo", request_timeout=5.0, reconnect_initial=0.05, reconnect_max=0.5)
    other = ZenithClient(sim.url, "demo", request_timeout=5.0, reconnect_initial=0.05, reconnect_max=0.5)
    await client.start()
    await other.start()
    config = GatewayConfig(
        path=None,
        gateway=GatewaySettings(store_path=tmp_path / store_name),
        zenith=ZenithSettings(url=sim.url),
        sessions=sessions or (session_config(V44), session_config(V42), session_config(V50)),
    )
    store = Store(tmp_path / store_name)
    outbox = RecordingOutbox()
    service = OrdersService(client, outbox, config, store, **service_options)
    await service.start()
    if logon:
        for s in config.sessions:
            service.on_logon(SessionKey(s.begin_string, s.sender_comp_id, s.target_comp_id), s)
    registry = ServiceRegistry(config, outbox, [service])
    h = Harness(sim, client, other, store, service, outbox, config, registry)
    try:
        yield h
    finally:
        await service.close()
        await client.close()
        await other.close()
        store.close()
        if own_sim:
            await sim.stop()


def run(coro_fn: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 60))


# --- lifecycle per version --------------------------------------------------------------------


@pytest.mark.parametrize("begin", [V42, V44, V50])
def test_new_partial_fill_and_fill(tmp_path: Path, begin: str) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            await h.book("XS:0005", "Ask", 30, "5.00")
            await h.book("XS:0006", "Ask", 70, "5.02")
            h.order(begin, "b1", "1", 200, "5.01")
            new = await h.expect("8", {11: "b1", 150: "0"})
            assert new[39] == "0" and new[151] == "200" and new[14] == "0" and new[1] == "0001"
            fill_type = "1" if begin == V42 else "F"
            part = await h.expect("8", {11: "b1", 150: fill_type})
            assert (part[39], part[32], part[31], part[14], part[151]) == ("1", "30", "5", "30", "170")
            assert part[37] == new[37] and part[17] != new[17]
            assert (20 in part) == (begin == V42)
            # The rest at 5.01 rests; a seller crossing it fills the remainder at 5.01.
            await h.book("XS:0007", "Ask", 170, "5.00")
            done = await h.expect("8", {11: "b1", 39: "2"})
            assert done[150] == ("2" if begin == V42 else "F")
            assert (done[32], done[31], done[14], done[151]) == ("170", "5.01", "200", "0")
            assert Decimal(done[6]) == (Decimal(30) * 5 + Decimal(170) * Decimal("5.01")) / 200
            assert [m for m in await h.quiet() if m.msg_type == "8"] == []

    run(main)


def test_first_request_of_a_loop_turn_leaves_in_that_turn_after_its_journal_write(tmp_path: Path) -> None:
    """The write-ahead rule, without waiting for the end of the turn: the first D of a loop turn
    has its decision journaled and its PlaceOrder handed to the Zenith client before the dispatch
    returns; a second D of the same turn goes with the turn's group commit (one write for the rest)."""

    async def main() -> None:
        async with harness(tmp_path) as h:
            handed: list[tuple[str, str, int]] = []
            send_request = h.client.send_request

            def watch(controller: str, topic: str, data: Any, on_answer: Any, timeout: Any = None,
                      decode: Any = None) -> None:
                handed.append((topic, data.get("RequestID"), h.store.journal_bytes))
                send_request(controller, topic, data, on_answer, timeout, decode)

            h.client.send_request = watch  # type: ignore[method-assign]
            await asyncio.sleep(0)  # a fresh loop turn
            before = h.store.journal_bytes
            h.order(V44, "t1", "1", 10, "1.00")
            assert [(topic, size > before) for topic, _, size in handed] == [("PlaceOrder", True)]
            first = h.store.journal_bytes
            h.order(V44, "t2", "1", 10, "1.00")
            assert len(handed) == 1 and h.store.journal_bytes == first  # waits for the turn's commit
            await asyncio.sleep(0)
            assert len(handed) == 2 and handed[1][2] > first
            await h.expect("8", {11: "t1", 150: "0"})
            await h.expect("8", {11: "t2", 150: "0"})

    run(main)


def test_amend_priority_and_cancel(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V44, "s1", "2", 100, "6.00")
            await h.expect("8", {11: "s1", 150: "0"})
            h.order(V44, "s2", "2", 100, "6.00")
            await h.expect("8", {11: "s2", 150: "0"})
            # Raising s1's quantity loses its time priority (Zenith §5.4): s2 must fill first.
            h.send(
                V44,
                "G",
                [
                    (11, "s1b"),
                    (41, "s1"),
                    (1, "0001"),
                    (55, "XS01"),
                    (207, "XSX"),
                    (54, "2"),
                    (38, 150),
                    (40, "2"),
                    (44, "6.00"),
                    (60, "20250603-00:00:00"),
                ],
            )
            rep = await h.expect("8", {150: "5"})
            assert (rep[11], rep[41], rep[38], rep[39], rep[151]) == ("s1b", "s1", "150", "0", "150")
            await h.book("XS:0005", "Bid", 100, "6.00")
            fill = await h.expect("8", {150: "F"})
            assert fill[11] == "s2" and fill[39] == "2"
            # Cancel s1b (the chain head), answered on its own ClOrdID chained to the previous one.
            h.send(V44, "F", [(11, "s1c"), (41, "s1b"), (55, "XS01"), (54, "2"), (60, "20250603-00:00:00")])
            cxl = await h.expect("8", {150: "4"})
            assert (cxl[11], cxl[41], cxl[39], cxl[151], cxl[14]) == ("s1c", "s1b", "4", "0", "0")
            # Too late now: cancel of a canceled order.
            h.send(V44, "F", [(11, "s1d"), (41, "s1c"), (55, "XS01"), (54, "2"), (60, "20250603-00:00:00")])
            rej = await h.expect("9")
            assert (rej[102], rej[434], rej[39]) == ("0", "1", "4")

    run(main)


def test_amend_price_reported(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V42, "p1", "1", 50, "4.00")
            await h.expect("8", {11: "p1", 150: "0"})
            h.send(
                V42,
                "G",
                [
                    (11, "p2"),
                    (41, "p1"),
                    (55, "XS01"),
                    (207, "XSX"),
                    (54, "1"),
                    (38, 50),
                    (40, "2"),
                    (44, "4.10"),
                    (21, "1"),
                    (60, "20250603-00:00:00"),
                ],
            )
            rep = await h.expect("8", {150: "5"})
            assert (rep[11], rep[41], rep[44], rep[39], rep[20]) == ("p2", "p1", "4.1", "5", "0")
            await h.book("XS:0005", "Ask", 50, "4.05")
            fill = await h.expect("8", {150: "2"})
            assert (fill[11], fill[31]) == ("p2", "4.1")

    run(main)


def test_status_mass_status_and_mass_cancel(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            for i, sym in enumerate(["XS01", "XS01", "XS02"]):
                h.order(V44, f"m{i}", "1", 10, "1.00" if sym == "XS01" else "2.00", symbol=sym)
                await h.expect("8", {11: f"m{i}", 150: "0"})
            h.send(V44, "H", [(11, "m1"), (55, "XS01"), (54, "1"), (790, "st1")])
            st = await h.expect("8", {150: "I"})
            assert (st[11], st[39], st[790], st[151]) == ("m1", "0", "st1", "10")
            h.send(V44, "H", [(11, "nope"), (55, "XS01"), (54, "1")])
            unknown = await h.expect("8", {150: "I"})
            assert (unknown[39], unknown[103]) == ("8", "5")
            h.send(V44, "AF", [(584, "ms1"), (585, "7")])
            reports = [await h.expect("8", {584: "ms1"}) for _ in range(3)]
            assert [r[11] for r in reports] == ["m0", "m1", "m2"]
            assert [r.get(912) for r in reports] == [None, None, "Y"] and {r[911] for r in reports} == {"3"}
            h.send(V44, "q", [(11, "mc1"), (530, "1"), (55, "XS01"), (207, "XSX"), (60, "20250603-00:00:00")])
            report = await h.expect("r")
            assert (report[531], report[533]) == ("1", "2")
            c1 = await h.expect("8", {150: "4"})
            c2 = await h.expect("8", {150: "4"})
            assert {c1[41], c2[41]} == {"m0", "m1"} and c1[11] == c2[11] == "mc1"
            h.send(V44, "AF", [(584, "ms2"), (585, "7")])
            last = await h.expect("8", {584: "ms2"})
            assert last[11] == "m2" and last[912] == "Y"
            # FIX 4.2 has neither AF nor q: a BusinessMessageReject, reason 3.
            h.send(V42, "AF", [(584, "x")])
            j = await h.expect("j")
            assert (j[372], j[380]) == ("AF", "3")

    run(main)


# --- rejects ----------------------------------------------------------------------------------


def test_rejects(tmp_path: Path) -> None:
    async def main() -> None:
        s44 = session_config(
            V44,
            limits=Limits(max_order_qty=Decimal(1000), max_notional=Decimal(5000), messages_per_second=50),
        )
        async with harness(tmp_path, sessions=(s44,)) as h:
            h.order(V44, "r1", "1", 10, "1", extra=[(1, "XS:0009")])
            f = await h.expect("8", {11: "r1"})
            assert (f[150], f[39], f[103]) == ("8", "8", "15") and "XS:0009" in f[58]
            h.order(V44, "r2", "1", 10, "1", symbol="XS99")
            f = await h.expect("8", {11: "r2"})
            assert (f[150], f[103]) == ("8", "1") and f[58].startswith("Plxtra ")
            h.send(V44, "D", [(11, "r3"), (55, "XS01"), (207, "ASX"), (54, "1"), (38, 1), (40, "2"), (44, 1)])
            f = await h.expect("8", {11: "r3"})
            assert f[39] == "8" and "market ASX not permitted" in f[58]
            h.order(V44, "r4", "1", 1001, "1")
            f = await h.expect("8", {11: "r4"})
            assert (f[39], f[103]) == ("8", "3")
            h.order(V44, "r5", "1", 1000, "5.01")
            f = await h.expect("8", {11: "r5"})
            assert (f[39], f[103]) == ("8", "3") and "notional" in f[58]
            # Zenith's own refusal, codes verbatim: a price off the tick table.
            h.order(V44, "r6", "1", 1, "3.001")
            f = await h.expect("8", {11: "r6"})
            assert f[39] == "8" and f[58].startswith("Plxtra ") and "LimitPrice" in f[58]
            # Duplicate ClOrdID of a live order.
            h.order(V44, "r7", "1", 1, "1")
            await h.expect("8", {11: "r7", 150: "0"})
            h.order(V44, "r7", "1", 1, "1")
            f = await h.expect("8", {11: "r7"})
            assert (f[39], f[103]) == ("8", "6")
            h.send(V44, "F", [(11, "r7"), (41, "r7"), (55, "XS01"), (54, "1")])
            f = await h.expect("9")
            assert (f[102], f[434]) == ("6", "1")
            # Cancel / replace of an unknown order.
            h.send(V44, "F", [(11, "x1"), (41, "ghost"), (55, "XS01"), (54, "1")])
            f = await h.expect("9")
            assert (f[102], f[37], f[39]) == ("1", "NONE", "8")
            h.send(
                V44,
                "G",
                [
                    (11, "x2"),
                    (41, "ghost"),
                    (55, "XS01"),
                    (207, "XSX"),
                    (54, "1"),
                    (38, 1),
                    (40, "2"),
                    (44, 1),
                ],
            )
            f = await h.expect("9")
            assert (f[102], f[434]) == ("1", "2")
            # A stop order is a Zenith StopLoss condition: accepted and held (New), not traded yet.
            h.order(V44, "r8", "1", 1, None, ord_type="3", extra=[(99, "6")])
            f = await h.expect("8", {11: "r8"})
            assert (f[150], f[39], f[99]) == ("0", "0", "6"), f
            # Throttle: 50 messages per second, then BusinessMessageReject.
            for i in range(60):
                h.send(V44, "H", [(11, f"t{i}"), (55, "XS01"), (54, "1")])
            j = await h.expect("j", timeout=2)
            assert j[372] == "H" and "throttle" in j[58]

    run(main)


def test_pending_replace_and_cancel_reject_already_pending(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V44, "a1", "1", 10, "1.00")
            await h.expect("8", {11: "a1", 150: "0"})
            h.sim.set_response_delay(0.3)
            h.send(V44, "F", [(11, "a2"), (41, "a1"), (55, "XS01"), (54, "1")])
            await asyncio.sleep(0.05)
            h.send(V44, "F", [(11, "a3"), (41, "a1"), (55, "XS01"), (54, "1")])
            rej = await h.expect("9")
            assert (rej[11], rej[102]) == ("a3", "3")
            h.sim.set_response_delay(0)
            cxl = await h.expect("8", {150: "4"})
            assert (cxl[11], cxl[41]) == ("a2", "a1")

    run(main)


def test_cancel_right_behind_new_order_waits_for_ack(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.sim.set_response_delay(0.2)
            h.order(V50, "w1", "1", 10, "1.00")
            h.send(V50, "F", [(11, "w2"), (41, "w1"), (55, "XS01"), (54, "1")])
            g = [(11, "w3"), (41, "w1"), (55, "XS01"), (207, "XSX"), (54, "1"), (38, 2), (40, "2"), (44, 1)]
            h.send(V50, "G", g)
            busy = await h.expect("9", {11: "w3"})  # refused at once: the cancel is already pending
            assert (busy[102], busy[434]) == ("3", "2")
            await h.expect("8", {11: "w1", 150: "0"})
            h.sim.set_response_delay(0)
            cxl = await h.expect("8", {150: "4"})
            assert (cxl[11], cxl[41]) == ("w2", "w1")

    run(main)


# --- Zenith outage, restart, logged-out sessions ------------------------------------------------


def test_zenith_drop_rejects_new_orders_then_recovers_exactly_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V44, "d1", "1", 100, "7.00")
            await h.expect("8", {11: "d1", 150: "0"})
            await h.sim.drop_connections()
            h.order(V44, "d2", "1", 1, "1.00")
            f = await h.expect("8", {11: "d2"})
            assert (f[39], f[58]) == ("8", CONNECTION_UNAVAILABLE)
            # Fill d1 while the gateway reconnects (the other client reconnects on its own too).
            await wait_until(lambda: h.other.connected, 5)
            await h.book("XS:0005", "Ask", 100, "7.00")
            fill = await h.expect("8", {11: "d1", 150: "F"})
            assert fill[14] == "100"
            await wait_until(lambda: h.client.connected, 5)
            await h.service.reconcile()
            await h.service.reconcile()
            later = [m for m in await h.quiet() if m.msg_type == "8"]
            assert later == [], "a fill was reported twice after reconnect"
            h.order(V44, "d3", "1", 1, "1.00")
            await h.expect("8", {11: "d3", 150: "0"})

    run(main)


async def wait_until(pred: Callable[[], bool], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_restart_reconciles_missed_fill_exactly_once(tmp_path: Path) -> None:
    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        try:
            async with harness(tmp_path, sim=sim) as h:
                h.order(V44, "k1", "1", 100, "8.00")
                await h.expect("8", {11: "k1", 150: "0"})
                await h.book("XS:0005", "Ask", 40, "8.00")
                await h.expect("8", {11: "k1", 150: "F"})
            # Gateway down: two more fills happen meanwhile.
            other = ZenithClient(sim.url, "demo")
            await other.start()
            for qty in (25, 35):
                data = await other.request(
                    "Trading",
                    "PlaceOrder",
                    {
                        "Account": "XS:0006",
                        "Details": {
                            "Exchange": "XSX",
                            "Code": "XS01",
                            "Side": "Ask",
                            "Style": "Market",
                            "Type": "Limit",
                            "LimitPrice": 8,
                            "Quantity": qty,
                            "Validity": "UntilDay",
                        },
                        "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
                    },
                )
                assert data["Result"] == "Success"
            await other.close()
            # Restart on the same store; partner not logged on yet: reports wait for the logon.
            async with harness(tmp_path, sim=sim, logon=False) as h:
                await h.quiet(0.5)
                assert h.outbox.sent == []
                s = h.config.sessions[0]
                h.service.on_logon(key(V44), s)
                fills = [fields(m) for m in h.outbox.sent if fields(m).get(150) == "F"]
                assert [(f[32], f[14], f[39]) for f in fills] == [("25", "65", "1"), ("35", "100", "2")]
                h.cursor = len(h.outbox.sent)
                await h.service.reconcile()
                assert [m for m in await h.quiet() if m.msg_type == "8"] == []
                h.service.on_logout(key(V44))
                h.service.on_logon(key(V44), s)
                assert len(h.outbox.sent) == 2  # nothing sent twice on re-logon
        finally:
            await sim.stop()

    run(main)


def test_reports_for_a_logged_out_session_are_kept_until_logon(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.order(V42, "l1", "1", 10, "3.00")
            await h.expect("8", {11: "l1", 150: "0"})
            h.service.on_logout(key(V42))
            await h.book("XS:0005", "Ask", 4, "3.00")
            await h.book("XS:0006", "Ask", 6, "3.00")
            assert [m for m in await h.quiet() if m.session.begin_string == V42] == []
            assert len(h.store.deferred_for(str(key(V42)))) == 2
            h.service.on_logon(key(V42), h.config.sessions[1])
            a = await h.expect("8", {150: "1"})
            b = await h.expect("8", {150: "2"})
            assert (a[14], b[14]) == ("4", "10")
            await h.quiet(0.1)  # let the on_sent confirmations come back and commit
            assert h.store.deferred_for(str(key(V42))) == []

    run(main)


def test_cancel_on_disconnect(tmp_path: Path) -> None:
    async def main() -> None:
        s = session_config(V44, cancel_on_disconnect=True)
        async with harness(tmp_path, sessions=(s,)) as h:
            h.order(V44, "z1", "1", 10, "2.00")
            await h.expect("8", {11: "z1", 150: "0"})
            h.service.on_logout(key(V44))
            await h.quiet(0.5)
            stored = h.store.orders_for_session(str(key(V44)))
            assert [o.state for o in stored] == ["4"]
            h.service.on_logon(key(V44), s)
            cxl = await h.expect("8", {150: "4"})
            assert (cxl[11], 41 in cxl) == ("z1", False)

    run(main)


def test_unanswered_place_order_is_reissued_with_the_same_request_id_after_restart(tmp_path: Path) -> None:
    async def main() -> None:
        cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
        sim = SimServer(cfg, host="127.0.0.1", port=0)
        await sim.start()
        try:
            async with harness(tmp_path, sim=sim) as h:
                sim.set_response_delay(0.4)
                h.order(V44, "u1", "1", 10, "2.50")
                await asyncio.sleep(0.1)  # PlaceOrder is on the wire, unanswered: the gateway dies now
            sim.set_response_delay(0)
            await asyncio.sleep(0.5)
            async with harness(tmp_path, sim=sim) as h:
                new = await h.expect("8", {11: "u1", 150: "0"})
                orders = await h.other.request("Trading", "QueryOrders", {"Account": "XS:0001"})
                mine = [o for o in orders if o["ID"] == new[37]]
                assert (
                    len(mine) == 1
                    and mine[0]["ExternalID"] == h.store.orders_for_session(str(key(V44)))[0].request_id
                )
                assert len([o for o in orders if o.get("ExternalID") == mine[0]["ExternalID"]]) == 1
                await h.book("XS:0005", "Ask", 10, "2.50")
                await h.expect("8", {11: "u1", 150: "F"})
                assert [m for m in await h.quiet() if m.msg_type == "8"] == []
        finally:
            await sim.stop()

    run(main)


def test_throttle_queue_action_delays_in_order_then_rejects_overflow(tmp_path: Path) -> None:
    async def main() -> None:
        limits = Limits(messages_per_second=5, throttle_action=ThrottleAction.QUEUE)
        async with harness(tmp_path, sessions=(session_config(V44, limits=limits),)) as h:
            start = asyncio.get_running_loop().time()
            for i in range(12):  # 5 pass, 5 wait their turn, 2 overflow the one-second backlog
                h.send(V44, "H", [(11, f"h{i}"), (55, "XS01"), (54, "1")])
            rejects = [await h.expect("j", timeout=1) for _ in range(2)]
            assert {r[379] for r in rejects} == {"h10", "h11"}
            h.cursor = 0
            answered = [(await h.expect("8", timeout=3))[11] for _ in range(10)]
            assert answered == [f"h{i}" for i in range(10)]
            assert asyncio.get_running_loop().time() - start >= 0.8  # the queued five waited for tokens
    run(main)


@pytest.mark.parametrize("begin", [V42, V44])
def test_pending_replace_and_pending_cancel_reports(tmp_path: Path, begin: str) -> None:
    """With ``pending_reports``: ER Pending Replace (E/E) before Replaced, Pending Cancel (6/6)
    before Canceled, each on the request's ClOrdID chained to the order's current one."""

    async def main() -> None:
        async with harness(tmp_path, pending_reports=True) as h:
            h.order(begin, "pr1", "1", 40, "3.00")
            new = await h.expect("8", {11: "pr1", 150: "0"})
            h.send(begin, "G", [(11, "pr2"), (41, "pr1"), (1, "0001"), (55, "XS01"), (207, "XSX"), (54, "1"),
                                (38, 60), (40, "2"), (44, "3.00"), (60, "20250603-00:00:00")])
            pr = await h.expect("8", {11: "pr2"})  # the first report on pr2: before Plxtra answers
            assert (pr[150], pr[39], pr[11], pr[41], pr[38], pr[151], pr[37]) == (
                "E", "E", "pr2", "pr1", "40", "40", new[37])
            assert pr.get(20) == ("0" if begin == V42 else None)
            rep = await h.expect("8", {150: "5"})
            assert rep[11] == "pr2" and rep[38] == "60" and rep[17] != pr[17]
            h.send(begin, "F", [(11, "pr3"), (41, "pr2"), (55, "XS01"), (54, "1"), (38, 60),
                                (60, "20250603-00:00:00")])
            pc = await h.expect("8", {11: "pr3"})
            assert (pc[150], pc[39], pc[41], pc[151]) == ("6", "6", "pr2", "60")
            cxl = await h.expect("8", {11: "pr3"})
            assert (cxl[150], cxl[39], cxl[41]) == ("4", "4", "pr2")
            assert [m for m in await h.quiet() if m.msg_type == "8"] == []

    run(main)
