"""What a subscriber's callback receives (interfaces.md, "Zenith client").

Callbacks run on the loop thread, in wire order, and must not block: dispatch on ``type(event)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.zenith.errors import ZenithError

__all__ = ["StreamReset", "SubscriptionClosed", "SubscriptionData", "SubscriptionEvent"]


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    """A publish for the topic; the first one after subscribing (or after StreamReset) is the snapshot."""

    controller: str
    topic: str
    data: Any


@dataclass(frozen=True, slots=True)
class StreamReset:
    """The stream was interrupted (reconnect or resynchronisation) and the topic subscribed again.

    Discard every state built from this topic: a fresh snapshot follows.
    """

    controller: str
    topic: str


@dataclass(frozen=True, slots=True)
class SubscriptionClosed:
    """The subscription ended without the subscriber asking: it failed (``Error`` then failed ``Sub``,
    §1.7.2), the server unsubscribed (§1.7.4), or the client stopped for good.

    ``error`` is the reason the server gave, or ``None`` when it unsubscribed without one.
    The subscription is dead; subscribe again to retry.
    """

    controller: str
    topic: str
    error: ZenithError | None


SubscriptionEvent = SubscriptionData | StreamReset | SubscriptionClosed
