"""The certification proxy's back end: the REAL gateway on the simulator answers the partner.

    partner ──FIX──► CertRun (harness session layer, may misbehave) ──app messages──► GatewayBackend
                                                                                      │ FIX initiator
                                                 simulator (no activity) ◄──WS── gateway (QuickFIX acceptor)
                                                        ▲
                                          certification maker (Zenith client): liquidity by quantity,
                                          unsolicited cancels (gateway.cert.market)

The partner's application messages are forwarded in order, header stripped, over a second FIX
session to an in-process gateway; every application message the gateway sends comes back to the
partner through the certification session. There is no second implementation of order or market-
data handling: what the partner sees is what the production gateway answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.cert.market import CERT_ACCOUNT, MAKER_ACCOUNT, MARKET_PRICE, MAX_ORDER_QTY, plan_for
from gateway.harness.codec import FixMessage
from gateway.harness.session import FixSession, SessionFailure, SessionTimeout
from gateway.harness.sessionproto import ADMIN_MSG_TYPES, Field, SessionSettings

__all__ = ["GatewayBackend"]

# Header and trailer tags that belong to one session and are rewritten by the other.
_SESSION_TAGS = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 115, 122, 128, 1128, 1129})


def body_of(m: FixMessage) -> list[Field]:
    return [(t, v) for t, v in m.fields if t not in _SESSION_TAGS]


class GatewayBackend:
    """Starts simulator + gateway + maker; forwards both ways. ``cancel_after``: seconds before
    Plxtra cancels a 400-lot order (the table in :mod:`gateway.cert.market`)."""

    def __init__(self, begin_string: str, partner_comp_id: str, *, cancel_after: float = 3.0,
                 workdir: Path | None = None) -> None:
        self.begin_string = begin_string
        self.comp_id = ("CP" + "".join(c for c in partner_comp_id if c.isalnum()))[:20]
        self.cancel_after = cancel_after
        self._tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="plxtra-cert-")
        self.workdir = workdir or Path(self._tmp.name)   # type: ignore[union-attr]
        self._send: Callable[[str, Sequence[Field]], None] | None = None
        self._inbox: asyncio.Queue[FixMessage] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._cancel_planned: set[str] = set()     # ClOrdIDs Plxtra will cancel unsolicited
        # The gateway's MsgSeqNum of each forwarded message -> the partner's, so a Reject's
        # RefSeqNum(45) names the partner's message, not the proxy's.
        self._partner_seq: dict[int, str] = {}
        self._timers: set[asyncio.TimerHandle] = set()   # maker quotes and unsolicited cancels due
        self._sim: Any = None
        self._gateway: Any = None
        self._zenith: Any = None
        self._fix: FixSession | None = None
        self.errors: list[str] = []

    async def start(self, send: Callable[[str, Sequence[Field]], None]) -> None:
        from gateway.app.testing import demo_session, free_port, run_gateway_in_thread, write_test_config
        from gateway.sim.config import load_sim_config
        from gateway.sim.server import SimServer
        from gateway.zenith import ZenithClient

        self._send = send
        self.workdir.mkdir(parents=True, exist_ok=True)
        sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7,
                                                       state_path=self.workdir / "sim.sqlite")
        self._sim = SimServer(sim_cfg, host="127.0.0.1", port=0)
        await self._sim.start()
        extra: dict[str, Any] = {"limits": {"max_order_qty": MAX_ORDER_QTY}}
        if self.begin_string == "FIXT.1.1":
            extra["default_appl_ver_id"] = "FIX.5.0SP2"
        session = demo_session("certification", self.begin_string, self.comp_id, ["0001"], **extra)
        config = write_test_config(self.workdir, zenith_url=self._sim.url, fix_port=free_port(),
                                   sessions=[session])
        self._gateway = await asyncio.to_thread(run_gateway_in_thread, config)
        self._zenith = ZenithClient(self._sim.url, "demo")
        await self._zenith.start()
        settings = SessionSettings(self.begin_string, self.comp_id, "PLXTRA", heartbeat=30,
                                   reset_seq_num=True,
                                   default_appl_ver_id="9" if self.begin_string == "FIXT.1.1" else None)
        self._fix = await FixSession.connect(settings, "127.0.0.1", self._gateway.port)
        await self._fix.logon(timeout=15)
        self._tasks = [asyncio.create_task(self._forward_loop(), name="cert-forward"),
                       asyncio.create_task(self._answer_loop(), name="cert-answers")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)
        if self._fix is not None:
            with contextlib.suppress(Exception):
                await self._fix.logout(timeout=2.0)
        if self._zenith is not None:
            with contextlib.suppress(Exception):
                await self._zenith.close()
        if self._gateway is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._gateway.stop)
        if self._sim is not None:
            with contextlib.suppress(Exception):
                await self._sim.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _later(self, delay: float, action: Callable[[], object]) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            action()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    async def reset(self, timeout: float = 5.0) -> int:
        """Empty the certification market before a step, so no step depends on another: what an
        earlier step left (the maker's quotes, a partner's resting or half-filled orders, a quote or
        an unsolicited cancel still due) would otherwise fill, or show in, the next step's orders
        and snapshots. Returns how many orders were cancelled; each partner order cancelled here
        reaches the partner as an unsolicited cancel (ExecType 4)."""
        from gateway.sim.orders import OPEN_STATUSES

        for handle in list(self._timers):
            handle.cancel()
        self._timers.clear()
        self._cancel_planned.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cancelled = 0
        for _ in range(20):       # bounded: cancels are synchronous in the simulator, one pass suffices
            open_orders = []
            for account in (MAKER_ACCOUNT, CERT_ACCOUNT):
                rows = await self._zenith.request("Trading", "QueryOrders", {"Account": account},
                                                  timeout=max(0.5, deadline - loop.time()))
                open_orders += [(account, r["ID"]) for r in rows or [] if r.get("Status") in OPEN_STATUSES]
            if not open_orders:
                return cancelled
            if loop.time() >= deadline:
                raise TimeoutError(f"{len(open_orders)} orders still open after {timeout:g}s")
            for account, order_id in open_orders:
                with contextlib.suppress(Exception):    # already finished meanwhile: next pass sees it
                    await self._zenith.request("Trading", "CancelOrder",
                                               {"Account": account, "OrderID": order_id})
                    cancelled += 1
            await asyncio.sleep(0.05)
        return cancelled

    # ------------------------------------------------------------------ partner -> gateway
    def on_partner_message(self, message: FixMessage) -> None:
        self._inbox.put_nowait(message)   # one task forwards, so the gateway sees wire order

    async def _forward_loop(self) -> None:
        while True:
            m = await self._inbox.get()
            try:
                if m.msg_type == "D":
                    await self._prepare_market(m)
                assert self._fix is not None and m.msg_type is not None
                sent = self._fix.send(m.msg_type, body_of(m))
                self._partner_seq[sent.seq] = m.get(34) or ""
                if m.msg_type == "V" and m.get(263) == "1":
                    # A subscription always sees an incremental update: the maker rests a bid.
                    self._later(1.0, functools.partial(self._spawn_quote, m.get(55)))
            except Exception as exc:   # keep forwarding: the step that needed it fails by timeout
                self.errors.append(f"forwarding {m.msg_type}: {type(exc).__name__}: {exc}")

    async def _prepare_market(self, m: FixMessage) -> None:
        plan = plan_for(m.get(38))
        cl = m.get(11) or ""
        if plan.cancel:
            self._cancel_planned.add(cl)
        if plan.maker_quantity is None:
            return
        limit = m.get(44)
        price = Decimal(limit) if limit else MARKET_PRICE
        details = {"Exchange": m.get(207) or "XSX", "Code": (m.get(55) or "XS01").split(".")[0],
                   "Side": "Ask" if m.get(54) == "1" else "Bid", "Style": "Market", "Type": "Limit",
                   "LimitPrice": price, "Quantity": plan.maker_quantity, "Validity": "UntilCancel"}
        await self._zenith.request("Trading", "PlaceOrder", {
            "Account": MAKER_ACCOUNT, "Details": details,
            "Route": {"Algorithm": "Market", "Market": f"{details['Exchange']}::{details['Exchange']}"}})

    def _spawn_quote(self, symbol: str | None) -> object:
        return asyncio.ensure_future(self._quote(symbol))

    def _spawn_cancel(self, order_id: str | None) -> object:
        return asyncio.ensure_future(self._cancel(order_id))

    async def _quote(self, symbol: str | None) -> None:
        code, _, market = (symbol or "XS01").partition(".")
        market = market or "XSX"
        details = {"Exchange": market, "Code": code, "Side": "Bid", "Style": "Market", "Type": "Limit",
                   "LimitPrice": Decimal("9.00"), "Quantity": Decimal(100), "Validity": "UntilCancel"}
        try:
            await self._zenith.request("Trading", "PlaceOrder", {
                "Account": MAKER_ACCOUNT, "Details": details,
                "Route": {"Algorithm": "Market", "Market": f"{market}::{market}"}})
        except Exception as exc:
            self.errors.append(f"maker quote on {symbol}: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ gateway -> partner
    async def _answer_loop(self) -> None:
        assert self._fix is not None
        while True:
            try:
                m = await self._fix.next_message(1.0)
            except SessionTimeout:
                continue
            except SessionFailure as exc:
                self.errors.append(f"gateway session ended: {exc}")
                return
            if m.msg_type is None or (m.msg_type in ADMIN_MSG_TYPES and m.msg_type != "3"):
                continue
            if m.msg_type == "8" and m.get(150) == "0" and m.get(11) in self._cancel_planned:
                self._cancel_planned.discard(m.get(11) or "")
                self._later(self.cancel_after, functools.partial(self._spawn_cancel, m.get(37)))
            body = body_of(m)
            if m.msg_type in ("3", "j"):
                # A session-level or business reject of the partner's message reaches the partner
                # (and fails the step, see CertRun._send_app) with the partner's own MsgSeqNum.
                theirs = self._partner_seq.get(int(m.get(45) or "0"))
                body = [(t, theirs if t == 45 and theirs else v) for t, v in body]
            if self._send is not None:
                self._send(m.msg_type, body)

    async def _cancel(self, order_id: str | None) -> None:
        if order_id is None:
            return
        try:
            await self._zenith.request("Trading", "CancelOrder",
                                       {"Account": CERT_ACCOUNT, "OrderID": order_id})
        except Exception as exc:
            self.errors.append(f"unsolicited cancel of {order_id}: {type(exc).__name__}: {exc}")
