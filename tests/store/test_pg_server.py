"""The throw-away PostgreSQL server of the tests (tests/pg_server.py) is what it claims to be."""

from __future__ import annotations

import os
import pwd

import psycopg
import pytest
from pg_server import start_pg_server


def test_the_session_server_is_loopback_only_unfsynced_and_password_protected(pg_server) -> None:   # type: ignore[no-untyped-def]
    with pg_server.connect() as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('listen_addresses', 'fsync', 'unix_socket_directories', 'port')").fetchall())
    assert settings == {"listen_addresses": "127.0.0.1", "fsync": "off",
                        "unix_socket_directories": str(pg_server.socket_dir), "port": str(pg_server.port)}
    wrong = pg_server.url.replace(pg_server.password, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)
    owner = pwd.getpwuid(os.stat(pg_server.root / "data").st_uid).pw_name
    assert owner == pg_server.run_as
    if os.geteuid() == 0:   # initdb refuses root: the server runs as an unprivileged user
        assert pg_server.run_as in ("postgres", "nobody")


def test_stop_ends_the_server_and_removes_its_folder() -> None:
    server = start_pg_server()
    with server.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.stop()
    assert server.process.poll() is not None and not server.root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)
    server.stop()   # idempotent
