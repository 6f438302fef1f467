"""Simulator errors.

    GatewayError
    └── SimError                 simulator start-up, configuration or state-file problems
        └── SimConfigError       invalid sim YAML (names the file and key)

Protocol-level failures are not exceptions of this tree: they are answered on the wire
(``ActionError`` in :mod:`gateway.sim.dispatch` carries the Appendix D code).
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["SimConfigError", "SimError"]


class SimError(GatewayError):
    """The simulator could not start, load its configuration or its state file."""


class SimConfigError(SimError):
    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ", ".join(p for p in (f"file {file}" if file else "", f"key {key}" if key else "") if p)
        super().__init__(f"{message} ({where})" if where else message)
        self.file = file
        self.key = key
