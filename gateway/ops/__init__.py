"""Operations: the admin HTTP API, health, readiness, Prometheus metrics and session events.

``gateway.app.runtime.Gateway`` builds :class:`~gateway.ops.runtime.Ops` before the FIX engine
(its QuickFIX log factory sees every message) and starts the HTTP server after it. Nothing
here decides anything about orders: actions go through the services' own entry points.
"""
