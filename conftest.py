"""Repository-wide pytest set-up: what "the embedded target" of the certification plugin is here.

``pyproject.toml`` sets ``certify_embedded = true``, so a bare ``pytest`` runs the scenarios of
``specs/certification`` against this project's own gateway on the embedded simulator. The
harness's plugin knows no engine (it certifies any FIX engine); it asks for one through the hook
``pytest_plxtra_certify_embedded`` (:mod:`gateway.harness.pytest_hooks`), answered here with a
real ``plxtra-fix run`` process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


class EmbeddedGateway:
    """Our gateway as a real subprocess on the embedded simulator, shared by every scenario."""

    def __init__(self) -> None:
        from gateway.app.testing import free_port, spawn_gateway_process, write_test_config

        self._dir = tempfile.TemporaryDirectory(prefix="plxtra-certify-")
        config_path = write_test_config(Path(self._dir.name), zenith_url="embedded", fix_port=free_port())
        self._process = spawn_gateway_process(config_path, timeout=60.0)
        self.address = ("127.0.0.1", self._process.port)

    def close(self) -> None:
        try:
            self._process.terminate()
        finally:
            self._dir.cleanup()


@pytest.hookimpl(optionalhook=True)   # a run with the certification plugin disabled has no such hook
def pytest_plxtra_certify_embedded(config: pytest.Config) -> EmbeddedGateway:
    return EmbeddedGateway()
