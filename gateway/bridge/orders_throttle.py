"""Per-session message throttle: a token bucket driven by the caller's clock (no I/O, no clock).

``Limits.messages_per_second`` refills the bucket; its capacity is one second's worth, so a
burst up to the rate is allowed and a sustained excess is refused message by message. The
service answers a refused message according to ``Limits.throttle_action`` (BusinessMessageReject
by default; ``queue`` holds at most one second of backlog; ``logout`` rejects the message and
logs the session out).
"""

from __future__ import annotations

from gateway.config.model import Limits, ThrottleAction

__all__ = ["Throttle", "TokenBucket"]


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
        if self._last is not None and now > self._last:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Throttle:
    """The buckets of every session and the verdict on one more message."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, name: str, rate: float) -> TokenBucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket(rate)
        return bucket

    def verdict(self, name: str, limits: Limits, now: float, queued: int) -> str:
        """``"ok"``, ``"queue"``, ``"reject"`` or ``"logout"`` (``queued``: messages held now)."""
        rate = limits.messages_per_second
        if not rate or self.bucket(name, rate).allow(now):
            return "ok"
        action = limits.throttle_action
        if action is ThrottleAction.QUEUE and queued < rate:
            return "queue"
        return "logout" if action is ThrottleAction.LOGOUT else "reject"
