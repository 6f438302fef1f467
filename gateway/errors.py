"""Root of the project's error tree.

Every part defines its own ``errors.py`` whose classes derive from :class:`GatewayError`:

    GatewayError
    ├── config.errors.ConfigError        (file, line, key)
    ├── zenith.errors.ZenithError         (RPC failures, timeouts, auth, connection)
    ├── bridge.errors.BridgeRejection     (carries the FIX answer to send)
    ├── store.errors.StoreError
    ├── harness.errors.HarnessError       (log parsing, replay, certification)
    └── sim.errors.SimError               (simulator start-up / config)

Anything that is not a ``GatewayError`` escaping a part is a bug.
"""

__all__ = ["GatewayError"]


class GatewayError(Exception):
    """Base class of every error this project raises on purpose."""
