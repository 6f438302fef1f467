"""Errors of the FIX engine part.

    GatewayError
    └── FixError
        └── FixEngineError     (QuickFIX settings rejected, port in use, engine failed to start)
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["FixEngineError", "FixError"]


class FixError(GatewayError):
    """Base of errors raised by ``gateway.fix``."""


class FixEngineError(FixError):
    """The QuickFIX engine could not be configured or started."""
