"""Hook specifications of the certification pytest plugin (:mod:`gateway.harness.pytest_plugin`).

The harness must work against any FIX engine, so it knows no engine of its own: what "the
embedded target" is (``--certify-embedded`` or the ini option ``certify_embedded``) is up to the
repository that asks for it, through :func:`pytest_plxtra_certify_embedded` in its
``conftest.py``. This project's root ``conftest.py`` starts our gateway on the embedded
simulator there.
"""

from __future__ import annotations

from typing import Protocol

import pytest

__all__ = ["EmbeddedTarget", "pytest_plxtra_certify_embedded"]


class EmbeddedTarget(Protocol):
    """A FIX acceptor started for the run: where to connect, and how to stop it at the end."""

    @property
    def address(self) -> tuple[str, int]: ...

    def close(self) -> None: ...


@pytest.hookspec(firstresult=True)
def pytest_plxtra_certify_embedded(config: pytest.Config) -> EmbeddedTarget | None:
    """Start the acceptor the scenarios run against when no target is given but an embedded one
    is asked for; called once, before the first scenario. Stopped with ``close()`` when pytest
    ends. Return None to decline (another implementation, or none, answers)."""
    raise NotImplementedError   # a specification only: pluggy never calls this body
