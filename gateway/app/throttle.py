"""Per-session message throttle: a token bucket driven by the caller's clock, the gate that
applies it to every inbound application message, and the standard refusal of a message.

``Limits.messages_per_second`` refills the bucket; its capacity is one second's worth, so a
burst up to the rate is allowed and a sustained excess is refused message by message. The gate
sits at the dispatch seam (:class:`gateway.app.services.ServiceRegistry`), in front of every
service, market data included (the engine boundary, as Artio throttles). A refused message is
answered according to ``Limits.throttle_action`` (reject by default; ``queue`` holds at most one
second of backlog; ``logout`` rejects the message and logs the session out):

- NewOrderSingle: ExecutionReport Rejected; cancel / replace: OrderCancelReject (order-entry
  clients reconcile orders through those, finding F6);
- MarketDataRequest: MarketDataRequestReject, MDReqRejReason 2 "insufficient bandwidth" (the
  answer FIX defines for a V; every version from 4.2 enumerates it);
- anything else: BusinessMessageReject, reason 8 "throttle limit exceeded" (0 before FIX 5.0).

ExecIDs of refusals come from the caller (the orders service takes them from its store) or,
for services without a store, from the refused message's own identity: never from a counter of
this process, which would repeat after a restart.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from datetime import datetime

from gateway.bridge.marketdata.messages import md_reject
from gateway.bridge.orders.reports import cancel_reject, reject_unknown_order
from gateway.config.model import Limits, SessionConfig, ThrottleAction
from gateway.vocab import tags as t
from gateway.vocab.records import InboundMessage, OutboundMessage
from gateway.vocab.rejects import reject_inbound
from gateway.vocab.tags import (
    BusinessRejectReason,
    CxlRejReason,
    CxlRejResponseTo,
    MDReqRejReason,
    OrdRejReason,
)
from gateway.vocab.version import FixVersion

__all__ = ["Throttle", "ThrottleGate", "TokenBucket", "refusal_exec_id", "throttle_answer", "throttle_text"]

log = logging.getLogger("gateway.app.throttle")

ORIG_SENDING_TIME = 122


def throttle_text(limits: Limits) -> str:
    return f"throttle: more than {limits.messages_per_second} messages per second"


def refusal_exec_id(msg: InboundMessage) -> str:
    """An ExecID for the refusal of ``msg`` derived from the message itself: its SendingTime and
    MsgSeqNum (OrigSendingTime for a PossDup repeat, so a repeat gets the same ExecID), stable
    across restarts and unique within the session."""
    sent = msg.get(ORIG_SENDING_TIME) if msg.get(t.POSS_DUP_FLAG) == "Y" else None
    sent = sent or msg.get(t.SENDING_TIME) or ""
    return f"T{''.join(c for c in sent if c.isdigit())}-{msg.msg_seq_num}-8"


def throttle_answer(msg: InboundMessage, version: FixVersion, text: str, now: datetime,
                    exec_id: str | None = None) -> OutboundMessage:
    """The refusal of one throttled message: ER Rejected for D, 9 for F/G, Y for V, j otherwise.
    ``exec_id`` of the ER (the caller's, stable across restarts); else :func:`refusal_exec_id`."""
    if msg.msg_type == t.MsgType.NEW_ORDER_SINGLE:
        # No order row exists for a throttled order; the ExecID only has to be unique within the
        # session and the same for a repeat of the same message.
        return reject_unknown_order(msg.session, version, msg, now, exec_id=exec_id or refusal_exec_id(msg),
                                    ord_rej_reason=OrdRejReason.OTHER, text=text)
    if msg.msg_type in (t.MsgType.ORDER_CANCEL_REQUEST, t.MsgType.ORDER_CANCEL_REPLACE_REQUEST):
        to = (CxlRejResponseTo.ORDER_CANCEL_REQUEST if msg.msg_type == t.MsgType.ORDER_CANCEL_REQUEST
              else CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST)
        return cancel_reject(msg.session, version, cl_ord_id=msg.get(t.CL_ORD_ID) or "",
                             orig_cl_ord_id=msg.get(t.ORIG_CL_ORD_ID) or "", response_to=to,
                             reason=CxlRejReason.OTHER, text=text, now=now, account=msg.get(t.ACCOUNT))
    if msg.msg_type == t.MsgType.MARKET_DATA_REQUEST:
        body = md_reject(msg.get(t.MD_REQ_ID) or "", MDReqRejReason.INSUFFICIENT_BANDWIDTH.value, text)
        return OutboundMessage(msg.session, t.MsgType.MARKET_DATA_REQUEST_REJECT.value, body)
    return reject_inbound(msg, BusinessRejectReason.THROTTLE_LIMIT_EXCEEDED, text, version=version)


class TokenBucket:
    """``allow(now)`` takes one token if one is available at monotonic time ``now`` (seconds)."""

    __slots__ = ("_last", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else rate)
        self._tokens = self.capacity
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        # Runs for every inbound application message: locals and comparisons, no min().
        last = self._last
        if last is None or now > last:
            if last is not None:
                tokens = self._tokens + (now - last) * self.rate
                self._tokens = tokens if tokens < self.capacity else self.capacity
            self._last = now
        tokens = self._tokens
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        return False


class Throttle:
    """The buckets of every session and the verdict on one more message."""

    def __init__(self) -> None:
        self.buckets: dict[str, TokenBucket] = {}

    def bucket(self, name: str, rate: float) -> TokenBucket:
        bucket = self.buckets.get(name)
        if bucket is None or bucket.rate != rate:   # a reload may change the rate
            bucket = self.buckets[name] = TokenBucket(rate)
        return bucket

    def verdict(self, name: str, limits: Limits, now: float, queued: int) -> str:
        """``"ok"``, ``"queue"``, ``"reject"`` or ``"logout"`` (``queued``: messages held now)."""
        rate = limits.messages_per_second
        if not rate or self.bucket(name, rate).allow(now):
            return "ok"
        return self.over_rate(limits, queued)

    @staticmethod
    def over_rate(limits: Limits, queued: int) -> str:
        """What to do with a message over the rate: ``"queue"``, ``"reject"`` or ``"logout"``."""
        action = limits.throttle_action
        if action is ThrottleAction.QUEUE and queued < (limits.messages_per_second or 1):
            return "queue"
        return "logout" if action is ThrottleAction.LOGOUT else "reject"


class ThrottleGate:
    """Admits inbound messages of each session under its ``Limits``: handled now, queued (paced
    by the bucket, in arrival order) or refused through ``refuse(name, msg, session, logout)``."""

    def __init__(
        self,
        monotonic: Callable[[], float],
        handle: Callable[[InboundMessage, SessionConfig, str], None],
        refuse: Callable[[str, InboundMessage, SessionConfig, bool], None],
        spawn: Callable[..., object],
    ) -> None:
        self._monotonic, self._handle, self._refuse, self._spawn = monotonic, handle, refuse, spawn
        self._throttle = Throttle()
        self._buckets = self._throttle.buckets
        self._queues: dict[str, collections.deque[tuple[InboundMessage, SessionConfig]]] = {}

    def admit(self, name: str, msg: InboundMessage, session: SessionConfig) -> None:
        if self._queues.get(name):  # keep order behind messages already queued
            return self._enqueue(name, msg, session)
        # Every application message passes here: the common cases (no limit, a token left) are
        # decided without building a verdict.
        rate = session.limits.messages_per_second
        if not rate:
            return self._handle(msg, session, name)
        bucket = self._buckets.get(name)
        if bucket is None or bucket.rate != rate:
            bucket = self._throttle.bucket(name, rate)
        if bucket.allow(self._monotonic()):
            return self._handle(msg, session, name)
        verdict = self._throttle.over_rate(session.limits, 0)
        if verdict == "queue":
            return self._enqueue(name, msg, session)
        if verdict != "ok":
            return self._refuse(name, msg, session, verdict == "logout")
        self._handle(msg, session, name)

    def queued(self, name: str) -> int:
        """Messages of session ``name`` held by the ``queue`` action right now."""
        return len(self._queues.get(name, ()))

    def _enqueue(self, name: str, msg: InboundMessage, session: SessionConfig) -> None:
        queue = self._queues.setdefault(name, collections.deque())
        if len(queue) >= (session.limits.messages_per_second or 1):
            return self._refuse(name, msg, session, False)
        queue.append((msg, session))
        if len(queue) == 1:
            self._spawn(self._drain(name), f"throttle-{name}")

    async def _drain(self, name: str) -> None:
        """Release queued messages as the bucket refills (ThrottleAction.QUEUE), in arrival order."""
        queue = self._queues[name]
        while queue:
            msg, session = queue[0]
            bucket = self._throttle.bucket(name, session.limits.messages_per_second or 1)
            if not bucket.allow(self._monotonic()):
                await asyncio.sleep(1.0 / bucket.rate)
                continue
            queue.popleft()
            try:
                self._handle(msg, session, name)
            except Exception:
                log.exception("%s: queued %s failed", name, msg.msg_type)
        self._queues.pop(name, None)
