"""Fixtures of the end-to-end order tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.sim.config import load_sim_config
from gateway.sim.testing import SimHandle, run_sim_in_thread


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = run_sim_in_thread(load_sim_config(None).with_overrides(activity=False, seed=11))
    try:
        yield handle
    finally:
        handle.stop()
