"""The tests' throw-away PostgreSQL server: the code lives in ``gateway/store/pg_server.py`` so the
benches can start one too; this module keeps ``from pg_server import ...`` working for the
fixture in ``tests/conftest.py`` and the tests that import it."""

from __future__ import annotations

from gateway.store.pg_server import PgServer, PgServerError, find_pg_bin, start_pg_server

__all__ = ["PgServer", "PgServerError", "find_pg_bin", "start_pg_server"]
