"""Market-data service: FIX V/x/c/e/g in, Zenith subscriptions and queries, W/X/Y/y/d/f/h out.

The loop-side edge around the pure :class:`~gateway.bridge.marketdata.state.MarketDataState`:

* Zenith topics (``Security!``, ``Depth!``, ``Levels!``, ``Trades!``) are held once per topic
  for the whole gateway, whatever the number of FIX sessions and requests: the state reports
  which topics became needed or unneeded and this service subscribes / closes them.
* Outbound messages are queued per FIX session in the state (bounded; conflated when full) and
  drained by :meth:`_drain`, scheduled on the loop with ``call_soon``, a bounded ``budget`` per
  session per pass so a burst for one session cannot starve the others or the Zenith reader.
  When the Outbox can tell how much it holds for a session (an optional
  ``backlog(session) -> int`` method), at most ``OUTBOX_WINDOW`` messages of a session wait in the
  engine: beyond that the session is not drained that pass, its queued X of one MDReqID merge
  into one message when it is, and past ``md_queue_limit`` conflation takes over. So the more
  sessions share the engine, the fuller (and fewer) each session's messages, instead of a deep
  engine FIFO that only adds latency. With QuickFIX's outbox the pass is one ``send_windows``
  call (per session: backlog look, drain of the room left, sends, on the outbox lane its queue
  keeps): per copy of an update only the drain of one queue item and ``Session::send`` remain.
* A Zenith ``StreamReset`` voids the topic's state; once the new snapshot is in, every affected
  subscription gets an unsolicited W for its MDReqID (RptSeq restarts at 1): the signal to drop
  the book and start again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.bridge.marketdata.messages import (
    md_reject,
    security_definition,
    security_list_pages,
    security_list_reject,
    security_status,
    trading_session_status,
    trading_status_from_allows,
)
from gateway.bridge.marketdata.request import (
    MarketDataRejected,
    fix_profile,
    parse_market_data_request,
    parse_security_definition_request,
    parse_security_list_request,
    parse_security_status_request,
    parse_trading_session_status_request,
)
from gateway.bridge.marketdata.state import MarketDataState, Topic
from gateway.bridge.marketdata.status import StatusRegistry
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.fix.md_send import SharedBodyConverter
from gateway.vocab import tags
from gateway.vocab.records import Fields, InboundMessage, SessionKey
from gateway.vocab.rejects import reject_inbound
from gateway.zenith import (
    StreamReset,
    SubscriptionClosed,
    SubscriptionData,
    ZenithClient,
    ZenithError,
    ZenithRequestError,
)
from gateway.zenith.values import parse_datetime

__all__ = ["MarketDataService"]

log = logging.getLogger("gateway.app.marketdata")

DRAIN_BUDGET = 512  # messages per session per drain pass
# Messages of one session handed to the engine and not yet taken by it. Beyond this the service
# keeps a session's updates in its own queue, where queued X of one MDReqID merge into one message
# (and conflate at md_queue_limit): under load each session gets fewer, fuller messages, and an
# update waits behind at most this many messages of its session rather than a deep engine FIFO.
OUTBOX_WINDOW = 4
BEHIND_POLL = 0.001  # s between looks at a busy session's backlog
SECURITY_LIST_PAGE = 100  # symbols per SecurityList(y) message


class MarketDataService:
    """FixService for MsgTypes V, x, c, e, g (see :mod:`gateway.app.services`)."""

    msg_types = frozenset({"V", "x", "c", "e", "g"})

    def __init__(
        self,
        client: ZenithClient,
        outbox: Any,
        config: GatewayConfig,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self.state = MarketDataState(
            conflation=config.gateway.md_conflation,
            queue_limit=config.gateway.md_queue_limit,
            parse_time=parse_datetime,
            # Entries per merged X for a session that fell behind; 1 sends one X per event.
            merge_max=config.gateway.md_merge_max,
        )
        self._zsubs: dict[Topic, Any] = {}
        self._profiles: dict[SessionKey, str] = {}
        self._drain_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._backlog = getattr(outbox, "backlog", None)
        # QuickFIX's outbox: backlog looks and sends of every session of a pass in one call.
        self._send_windows = getattr(outbox, "send_windows", None)
        self.converter: SharedBodyConverter | None = None
        if hasattr(outbox, "convert"):
            # QuickFIX's outbox: each shared W/X body is converted once, not once per subscriber
            # (a service built again for the same outbox keeps the converter already there).
            current = outbox.convert
            if not isinstance(current, SharedBodyConverter):
                current = SharedBodyConverter(current)
            self.converter = current
            outbox.convert = self.converter
        self.status = StatusRegistry()
        self._status_zsubs: dict[str, Any] = {}  # Zenith topic -> handle, for e/g subscriptions
        self.sent = 0  # messages handed to the Outbox (for benches)

    # -- FixService --------------------------------------------------------------------------------

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None:
        self._profiles[key] = self._profile(key, session)

    def on_logout(self, key: SessionKey) -> None:
        self._release(self.state.remove_session(key))
        instruments, markets = self.status.drop_session(key)
        for instrument in instruments:
            self._close_status(f"Security!{instrument.key}")
        if markets:
            self._close_status("Markets")
        self._profiles.pop(key, None)

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None:
        key = msg.session
        profile = self._profiles.get(key) or self._profile(key, session)
        self._profiles[key] = profile
        if msg.msg_type == "V":
            self._on_market_data_request(msg, session, profile)
        elif msg.msg_type == "x":
            self._spawn(self._security_list(msg, session, profile))
        elif msg.msg_type == "c":
            self._spawn(self._security_definition(msg, session, profile))
        elif msg.msg_type == "e":
            self._spawn(self._security_status(msg, session, profile))
        elif msg.msg_type == "g":
            self._spawn(self._trading_session_status(msg, session, profile))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for handle in [*self._zsubs.values(), *self._status_zsubs.values()]:
            handle.close()
        self._zsubs.clear()
        self._status_zsubs.clear()

    # -- MarketDataRequest -------------------------------------------------------------------------

    @staticmethod
    def _profile(key: SessionKey, session: SessionConfig | None) -> str:
        return fix_profile(key.begin_string, session.default_appl_ver_id if session else None)

    def _on_market_data_request(self, msg: InboundMessage, session: SessionConfig, profile: str) -> None:
        key = msg.session
        try:
            request = parse_market_data_request(msg, session)
            if request.subscription_type == "2":
                if not self.state.has_request(key, request.md_req_id):
                    text = f"MDReqID {request.md_req_id} is not an active subscription"
                    raise MarketDataRejected(None, text, req_id=request.md_req_id)
                self._release(self.state.remove_request(key, request.md_req_id))
                return
            topics = self.state.add_request(key, profile, request)
        except MarketDataRejected as exc:
            self.state.send_plain(key, profile, "Y", md_reject(exc.req_id, exc.reason, exc.text))
            self._schedule_drain()
            return
        for topic in topics:
            self._zsubs[topic] = self._client.subscribe("Market", topic.name, self._callback(topic))
        self._schedule_drain()

    def _callback(self, topic: Topic) -> Callable[[Any], None]:
        def on_event(event: Any) -> None:
            if self._zsubs.get(topic) is None:
                return  # released: late frames are dropped
            kind = type(event)
            if kind is SubscriptionData:
                self.state.on_data(topic, event.data, self._clock())
            elif kind is StreamReset:
                log.info("Zenith stream reset on %s: subscribers will get a fresh snapshot", topic.name)
                self.state.on_reset(topic)
            elif kind is SubscriptionClosed:
                self._zsubs.pop(topic, None)
                text = str(event.error) if event.error is not None else "subscription ended by the server"
                rejects, failed = self.state.on_failed(topic, text)
                for reject in rejects:
                    self.state.send_plain(
                        reject.session, self._profiles.get(reject.session, "4.4"), "Y", reject.fields
                    )
                for session_key, req_id in failed:
                    self._release(self.state.remove_request(session_key, req_id))
            self._schedule_drain()

        return on_event

    def _release(self, topics: list[Topic]) -> None:
        for topic in topics:
            handle = self._zsubs.pop(topic, None)
            if handle is not None:
                handle.close()

    # -- draining --------------------------------------------------------------------------------

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        """One pass over the sessions with pending messages, ``DRAIN_BUDGET`` each at most."""
        self._drain_scheduled = False
        now = self._clock()
        if self._send_windows is not None:
            more, behind = self._drain_windows(now)
        else:
            more, behind = self._drain_each(now)
        if more or behind:
            self._drain_scheduled = True
            loop = asyncio.get_running_loop()
            if more:
                loop.call_soon(self._drain)  # yield to the Zenith reader, then go on
            else:
                loop.call_later(BEHIND_POLL, self._drain)  # poll the busy session's backlog

    def _drain_windows(self, now: datetime) -> tuple[bool, bool]:
        """The pass with QuickFIX's outbox: one ``send_windows`` call for every session with
        something queued (per session: backlog look, drain of at most the room left, sends), so
        a copy costs the least Python: what a pass shares is looked at once, not per session."""
        state = self.state
        send_windows = self._send_windows
        assert send_windows is not None
        queues = state.pending_queues()
        if not queues:
            return False, False
        lane_of = self._outbox.lane
        lanes: list[Any] = []
        for q in queues:
            lane = q.edge
            if lane is None:
                lane = q.edge = lane_of(q.key)   # once per session queue: no look-up per pass
            lanes.append(lane)
        released: list[Topic] = []
        results = send_windows(lanes, queues, OUTBOX_WINDOW, DRAIN_BUDGET, state.pass_taker(now, released))
        more = behind = False
        sent = 0
        for q, taken in zip(queues, results, strict=True):
            if taken < 0:
                behind = True  # the engine is behind on this session: its queue merges, then conflates
            elif taken:
                sent += taken
                if q.items:
                    more = True
        self.sent += sent
        if released:
            self._release(released)
        return more, behind

    def _drain_each(self, now: datetime) -> tuple[bool, bool]:
        """The pass with any other outbox: ``backlog`` (when it has one), then ``send`` each."""
        more = behind = False
        for key in self.state.sessions_pending():
            room = DRAIN_BUDGET
            if self._backlog is not None:
                room = min(room, OUTBOX_WINDOW - self._backlog(key))
                if room <= 0:
                    behind = True  # the engine is behind on this session: its queue merges, then conflates
                    continue
            messages, released = self.state.drain(key, room, now)
            for message in messages:
                self._outbox.send(message)
            self.sent += len(messages)
            if released:
                self._release(released)
            if messages and self.state.pending(key):
                more = True
        return more, behind

    def _send(self, key: SessionKey, profile: str, msg_type: str, fields: Fields) -> None:
        self.state.send_plain(key, profile, msg_type, fields)
        self._schedule_drain()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("market-data request task failed", exc_info=task.exception())

    # -- reference data ----------------------------------------------------------------------------

    async def _security_list(self, msg: InboundMessage, session: SessionConfig, profile: str) -> None:
        key = msg.session
        req_id = msg.get(tags.SECURITY_REQ_ID) or ""
        response_id = f"SL-{req_id}"
        try:
            request = parse_security_list_request(msg, session)
        except MarketDataRejected as exc:
            result = "3" if exc.reason == "3" else "1"
            self._send(key, profile, "y", security_list_reject(req_id, response_id, result, exc.text))
            return
        markets = [request.market] if request.market else list(session.markets)
        details: list[dict[str, Any]] = []
        try:
            for market in markets:
                body: dict[str, Any] = {"Market": market, "FullSymbol": True, "Count": 1000}
                if request.request_type == "0" and request.symbol:
                    text = request.symbol.rsplit(".", 1)[0] if "." in request.symbol else request.symbol
                    body["Conditions"] = [{"Text": text, "Field": "Code", "Match": "FromStart"}]
                found = await self._client.request("Market", "SearchSymbols", body)
                details += [d for d in (found or []) if isinstance(d, dict)]
        except ZenithError as exc:
            self._send(key, profile, "y", security_list_reject(req_id, response_id, "4", str(exc)))
            return
        if session.symbols:
            allowed = set(session.symbols)
            details = [
                d
                for d in details
                if d.get("Code") in allowed or f"{d.get('Code')}.{d.get('Market')}" in allowed
            ]
        details.sort(key=lambda d: (str(d.get("Code")), str(d.get("Market"))))
        for page in security_list_pages(req_id, response_id, details, page_size=SECURITY_LIST_PAGE):
            self.state.send_plain(key, profile, "y", page)
        self._schedule_drain()

    async def _security_definition(self, msg: InboundMessage, session: SessionConfig, profile: str) -> None:
        key = msg.session
        req_id = msg.get(tags.SECURITY_REQ_ID) or ""
        try:
            request = parse_security_definition_request(msg, session)
        except MarketDataRejected as exc:
            body = security_definition(profile, req_id, f"SD-{req_id}", None, None, exc.text)
            self._send(key, profile, "d", body)
            return
        security = None
        text = None
        if request.instrument is None:
            text = "Symbol(55) required"
        else:
            try:
                inst = request.instrument
                security = await self._client.request(
                    "Market", "QuerySecurity", {"Market": inst.market, "Code": inst.code}
                )
            except ZenithRequestError as exc:
                text = str(exc)
            except ZenithError as exc:
                text = f"security data unavailable: {exc}"
        self._send(
            key,
            profile,
            "d",
            security_definition(
                profile,
                req_id,
                f"SD-{req_id}",
                security if isinstance(security, dict) else None,
                request.instrument,
                text,
            ),
        )

    async def _security_status(self, msg: InboundMessage, session: SessionConfig, profile: str) -> None:
        key = msg.session
        req_id = msg.get(tags.SECURITY_STATUS_REQ_ID) or ""
        if msg.get(tags.SUBSCRIPTION_REQUEST_TYPE) == "2":  # end a status subscription
            if not self.status.has_security(key, req_id):
                self._send(
                    key, profile, "j", _refusal_j(msg, "1", f"unknown SecurityStatusReqID {req_id}")
                )
            for instrument in self.status.remove_security(key, req_id):
                self._close_status(f"Security!{instrument.key}")
            return
        try:
            request = parse_security_status_request(msg, session)
        except MarketDataRejected as exc:
            self._send(key, profile, "j", _refusal_j(msg, "2" if exc.reason == "0" else "6", exc.text))
            return
        inst = request.instrument
        try:
            security = await self._client.request(
                "Market", "QuerySecurity", {"Market": inst.market, "Code": inst.code}
            )
            states = await self._client.request("Market", "QueryTradingStates", {"Market": inst.market})
        except ZenithRequestError as exc:
            self._send(key, profile, "j", _refusal_j(msg, "2", str(exc)))
            return
        except ZenithError as exc:
            self._send(key, profile, "j", _refusal_j(msg, "4", str(exc)))
            return
        security = security if isinstance(security, dict) else {}
        table: list[Mapping[str, Any]] = [s for s in (states or []) if isinstance(s, dict)]
        self.status.trading_states[inst.market] = table
        name = security.get("TradingState")
        state = next((s for s in table if s.get("Name") == name), None)
        if state is None and name:
            state = {"Name": name}
        status = trading_status_from_allows(profile, state)
        self._send(
            key,
            profile,
            "f",
            security_status(profile, req_id, inst, status, security, self._clock(), unsolicited=False),
        )
        if request.subscription_type == "1" and self.status.add_security(
            key, req_id, profile, inst, security
        ):
            topic = f"Security!{inst.key}"
            # resync=False: joining a topic the book streams may hold must not reset their streams;
            # the status needs diffs only (the current state was just queried).
            self._status_zsubs[topic] = self._client.subscribe(
                "Market", topic, self._status_callback(topic, inst), resync=False
            )

    def _status_callback(self, topic: str, instrument: Any) -> Callable[[Any], None]:
        def on_event(event: Any) -> None:
            if self._status_zsubs.get(topic) is None:
                return
            if type(event) is SubscriptionData:
                if instrument is None:
                    messages = self.status.on_markets(event.data)
                elif isinstance(event.data, dict):
                    messages = self.status.on_security(instrument, event.data, self._clock())
                else:
                    messages = []
                for m in messages:
                    self.state.send_plain(
                        m.session, self._profiles.get(m.session, "4.4"), m.msg_type, m.fields
                    )
                if messages:
                    self._schedule_drain()
            elif type(event) is SubscriptionClosed:
                self._status_zsubs.pop(topic, None)

        return on_event

    def _close_status(self, topic: str) -> None:
        handle = self._status_zsubs.pop(topic, None)
        if handle is not None:
            handle.close()

    async def _trading_session_status(
        self, msg: InboundMessage, session: SessionConfig, profile: str
    ) -> None:
        key = msg.session
        request = parse_trading_session_status_request(msg, session)
        if request.subscription_type == "2":
            if self.status.remove_session_status(key, request.req_id):
                self._close_status("Markets")
            return
        wanted = [request.trading_session_id] if request.trading_session_id else list(session.markets)
        try:
            markets = await self._client.request("Market", "QueryMarkets", None)
        except ZenithError as exc:
            for market in wanted:
                self.state.send_plain(
                    key,
                    profile,
                    "h",
                    trading_session_status(
                        profile, request.req_id, market, None, unsolicited=False, text=f"unavailable: {exc}"
                    ),
                )
            self._schedule_drain()
            return
        by_code = {m.get("Code"): m for m in (markets or []) if isinstance(m, dict)}
        for market in wanted:
            info = by_code.get(market) if market in session.markets else None
            text = None if info is not None else f"unknown or not permitted trading session {market}"
            status = info.get("Status") if info else None
            self.state.send_plain(
                key,
                profile,
                "h",
                trading_session_status(profile, request.req_id, market, status, unsolicited=False, text=text),
            )
            if (
                info is not None
                and request.subscription_type == "1"
                and self.status.add_session(key, request.req_id, profile, market, status)
            ):
                self._status_zsubs["Markets"] = self._client.subscribe(
                    "Market", "Markets", self._status_callback("Markets", None), resync=False
                )
        self._schedule_drain()


def _refusal_j(msg: InboundMessage, reason: str, text: str) -> Fields:
    """BusinessMessageReject(j) body for a reference-data request we cannot answer (the one
    builder: reasons the session's version lacks become 0, Text cleaned, 379 the request's ID)."""
    return reject_inbound(msg, reason, text).fields
