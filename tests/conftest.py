"""Fixtures shared by every test folder.

``pg_server``: one real PostgreSQL server per test session (``tests/pg_server.py``), started on
first use only, so test runs that need no database never pay for it; stopped at the end of the
session, and on failure (the server also dies with the test process: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_server import PgServer, start_pg_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_pg_server()
    try:
        yield server
    finally:
        server.stop()
