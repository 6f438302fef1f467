"""Errors raised by the Zenith client.

    GatewayError
    └── ZenithError                 anything the Zenith client raises on purpose
        ├── ZenithRequestError      an ``Error`` container answered a call or subscription (§1.10)
        │   └── ZenithInvalidText   refused locally: a topic or value is not valid text (never sent)
        ├── ZenithSubscriptionLost  a Sub was followed by connection drops, never answered: given up
        ├── ZenithTimeout           no answer within the caller's timeout (the call was abandoned)
        ├── ZenithConnectionError   not connected, or the connection dropped while the call was pending
        └── ZenithAuthError         handshake refused (HTTP 403) or ``Result`` other than ``Success``

Every error carries what the caller needs to act: the code and suffix the server sent, the
(controller, topic) concerned, the close code of a dropped connection.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError

__all__ = [
    "ZenithAuthError",
    "ZenithConnectionError",
    "ZenithError",
    "ZenithInvalidText",
    "ZenithRequestError",
    "ZenithSubscriptionLost",
    "ZenithTimeout",
]


class ZenithError(GatewayError):
    """Base of every error raised by :mod:`gateway.zenith`."""


class ZenithRequestError(ZenithError):
    """The server answered with an ``Error`` container (Appendix D codes, §7.D).

    ``code`` is the text before the first space (``Account.NotFound``), ``suffix`` the rest
    (``XS:9999``) or ``""``; ``data`` is the container's ``Data`` as received (string, list or
    object, §8.6); ``errors`` lists every (code, suffix) when ``Data`` held several.
    """

    def __init__(
        self,
        code: str,
        suffix: str = "",
        data: Any = None,
        *,
        controller: str = "",
        topic: str = "",
        errors: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.code = code
        self.suffix = suffix
        self.data = data
        self.controller = controller
        self.topic = topic
        self.errors = errors or ((code, suffix),)
        where = f"{controller}:{topic}" if topic else controller
        text = f"{code} {suffix}".strip()
        if len(self.errors) > 1:
            text = "; ".join(f"{c} {s}".strip() for c, s in self.errors)
        super().__init__(f"Zenith error on {where or 'connection'}: {text}")


class ZenithInvalidText(ZenithRequestError):
    """A topic or request value holds a string that is not valid Unicode text (a lone surrogate,
    e.g. bytes that were not UTF-8 in a FIX field): refused by the client, nothing was sent.

    A :class:`ZenithRequestError` on purpose: for the caller it is a definite refusal, like the
    server's ``Data.Deserialise``; code ``Data.InvalidText``.
    """

    def __init__(self, controller: str, topic: str, what: str) -> None:
        super().__init__("Data.InvalidText", what, None, controller=controller, topic=topic)


class ZenithSubscriptionLost(ZenithError):
    """The ``Sub`` of (controller, topic) was the first unanswered frame when the connection
    dropped, ``drops`` times in a row: the topic most likely kills the connection, so the client
    stops subscribing it (and spares every other subscription a reconnect loop)."""

    def __init__(self, controller: str, topic: str, drops: int) -> None:
        self.controller = controller
        self.topic = topic
        self.drops = drops
        super().__init__(
            f"Zenith subscription {controller}:{topic} abandoned: the connection dropped "
            f"{drops} times in a row before it was answered"
        )


class ZenithTimeout(ZenithError):
    """No answer to a call within its timeout; the client sent ``Cancel`` and forgot the call."""

    def __init__(
        self, controller: str, topic: str, timeout: float, transaction_id: int | None = None
    ) -> None:
        self.controller = controller
        self.topic = topic
        self.timeout = timeout
        self.transaction_id = transaction_id
        super().__init__(
            f"Zenith {controller}:{topic} (TransactionID {transaction_id}) got no answer within {timeout:g} s"
        )


class ZenithConnectionError(ZenithError):
    """Not connected, or the connection was lost before the answer came.

    ``close_code`` is the WebSocket close code when the server closed the connection (§1.12),
    ``None`` for network errors or when never connected.
    """

    def __init__(self, message: str, close_code: int | None = None) -> None:
        self.close_code = close_code
        super().__init__(message)


class ZenithAuthError(ZenithError):
    """Authentication refused: HTTP 403 on the handshake (§2.3) or ``Result`` != ``Success`` (§2.8)."""

    def __init__(self, message: str, result: str | None = None, status: int | None = None) -> None:
        self.result = result
        self.status = status
        super().__init__(message)
