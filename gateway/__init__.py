"""plxtra-fix-gateway: FIX connectivity for the Plxtra trading platform.

Parts (see ARCHITECTURE): ``config``, ``fix``, ``zenith``, ``bridge``, ``store``,
``sim``, ``harness`` and ``app``; ``cli`` wires them into the ``plxtra-fix`` command.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
