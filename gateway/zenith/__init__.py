"""Asyncio client for the Plxtra Zenith WebSocket API (``specs/zenith-websocket.md``).

Modules: ``protocol`` is the sans-I/O core (containers, §1.13 classification, TransactionIDs,
the Error-then-result rule, subscription reference counts, reconnect/refresh policies);
``client`` the asyncio edge (connection, auth, keep-alive, reconnect and resubscribe) over
``transport`` (a ``websockets`` connection that delivers frames inline and batches writes);
``values`` the wire values (Decimal JSON, §3.2 dates); ``records``/``market_records`` typed
payloads and ``security`` the Security diff rules; ``trading``/``market`` typed facades.

Everything runs on the event loop's thread: call it from that thread only.
"""

from gateway.zenith.client import ZenithClient
from gateway.zenith.errors import (
    ZenithAuthError,
    ZenithConnectionError,
    ZenithError,
    ZenithInvalidText,
    ZenithRequestError,
    ZenithSubscriptionLost,
    ZenithTimeout,
)
from gateway.zenith.events import StreamReset, SubscriptionClosed, SubscriptionData, SubscriptionEvent
from gateway.zenith.protocol import Subscription

__all__ = [
    "StreamReset",
    "Subscription",
    "SubscriptionClosed",
    "SubscriptionData",
    "SubscriptionEvent",
    "ZenithAuthError",
    "ZenithClient",
    "ZenithConnectionError",
    "ZenithError",
    "ZenithInvalidText",
    "ZenithRequestError",
    "ZenithSubscriptionLost",
    "ZenithTimeout",
]
