"""Schema migrations against a real PostgreSQL server (tests/pg_server.py)."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import psycopg
import pytest

from gateway.store.pg_migrate import (
    LOCK_KEY,
    MigrationChanged,
    MigrationError,
    applied_versions,
    load_migrations,
    migrate,
    plan,
)

_names = itertools.count(1)


@pytest.fixture
def db_url(pg_server) -> str:   # type: ignore[no-untyped-def]
    return pg_server.create_database(f"migrate_{next(_names)}")


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


def _tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_the_shipped_schema_applies_once_and_gives_every_state_table_an_instance_column(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        assert [m.filename for m in migrate(conn)] == [
            "0001_initial.sql", "0002_outbound_seq_per_instance.sql", "0003_store_apply.sql",
            "0004_quickfix_store.sql", "0005_inbound_journal.sql"]
        assert migrate(conn) == []   # second start: nothing to do
        assert _tables(conn) == {"schema_migrations", "meta", "orders", "clordids", "execs", "outbound",
                                 "decisions", "leases", "sessions", "messages",   # 0004: QuickFIX's
                                 "inbound_journal"}
        rows = conn.execute(
            "SELECT c.table_name FROM information_schema.key_column_usage c "
            "JOIN information_schema.table_constraints t ON t.constraint_name = c.constraint_name "
            "WHERE t.constraint_type = 'PRIMARY KEY' AND c.column_name = 'instance'").fetchall()
        # 0002: outbound rows are numbered per instance too
        assert {r[0] for r in rows} == {"meta", "orders", "clordids", "execs", "decisions", "outbound",
                                        "inbound_journal"}
        cols = conn.execute("SELECT column_name FROM information_schema.columns "
                            "WHERE table_name = 'outbound'").fetchall()
        assert "instance" in {c[0] for c in cols}
        version = applied_versions(conn)
        assert list(version) == [1, 2, 3, 4, 5] and len(version[1][1]) == 64


def test_each_file_is_applied_once_in_order_and_a_new_file_alone_later(db_url: str, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {
        "0002_add_b.sql": "CREATE TABLE b (x INT REFERENCES a (x)); INSERT INTO log VALUES ('b');",
        "0001_add_a.sql": "CREATE TABLE log (what TEXT); CREATE TABLE a (x INT PRIMARY KEY); "
                          "INSERT INTO log VALUES ('a');",
    })
    with psycopg.connect(db_url) as conn:
        assert [m.version for m in migrate(conn, load_migrations(folder))] == [1, 2]
        _write(folder, {"0003_add_c.sql": "CREATE TABLE c (y TEXT DEFAULT '100%'); "
                                          "INSERT INTO log VALUES ('c');"})
        assert [m.version for m in migrate(conn, load_migrations(folder))] == [3]
        assert [r[0] for r in conn.execute("SELECT what FROM log").fetchall()] == ["a", "b", "c"]


def test_a_failing_migration_leaves_nothing_of_itself_and_keeps_the_ones_before(db_url: str,
                                                                                 tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {
        "0001_ok.sql": "CREATE TABLE a (x INT);",
        "0002_broken.sql": "CREATE TABLE half (x INT); INSERT INTO nowhere VALUES (1);",
    })
    with psycopg.connect(db_url) as conn:
        with pytest.raises(MigrationError, match=r"0002_broken\.sql failed"):
            migrate(conn, load_migrations(folder))
        assert list(applied_versions(conn)) == [1]
        assert "half" not in _tables(conn) and "a" in _tables(conn)


def test_a_changed_applied_file_is_refused_naming_the_file(db_url: str, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"0001_first.sql": "CREATE TABLE a (x INT);"})
    with psycopg.connect(db_url) as conn:
        migrate(conn, load_migrations(folder))
        _write(folder, {"0001_first.sql": "CREATE TABLE a (x BIGINT);",
                        "0002_next.sql": "CREATE TABLE b (x INT);"})
        with pytest.raises(MigrationChanged, match=r"0001_first.sql was changed after it was applied"):
            migrate(conn, load_migrations(folder))
        assert "b" not in _tables(conn)   # nothing after the refusal


def test_a_database_migrated_by_a_newer_gateway_is_refused(db_url: str, tmp_path: Path) -> None:
    newer = _write(tmp_path / "new", {"0001_a.sql": "CREATE TABLE a (x INT);",
                                      "0002_b.sql": "CREATE TABLE b (x INT);"})
    older = _write(tmp_path / "old", {"0001_a.sql": "CREATE TABLE a (x INT);"})
    with psycopg.connect(db_url) as conn:
        migrate(conn, load_migrations(newer))
        with pytest.raises(MigrationError, match=r"schema version 2 .*does not know"):
            migrate(conn, load_migrations(older))


def test_a_second_migrator_waits_on_the_advisory_lock_then_finds_the_work_done(db_url: str) -> None:
    holder = psycopg.connect(db_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    results: dict[str, object] = {}

    def run(tag: str) -> None:
        try:
            with psycopg.connect(db_url) as conn:
                results[tag] = [m.version for m in migrate(conn)]
        except Exception as exc:   # reported by the assertion below
            results[tag] = exc

    threads = [threading.Thread(target=run, args=(t,)) for t in ("x", "y")]
    for t in threads:
        t.start()
    time.sleep(0.4)
    assert results == {}, "a migrator ran while another held the migration lock"
    holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    holder.close()
    for t in threads:
        t.join(timeout=20)
    assert sorted(map(str, results.values())) == ["[1, 2, 3, 4, 5]", "[]"]   # one applied all, the other none
    with psycopg.connect(db_url) as conn:
        assert list(applied_versions(conn)) == [1, 2, 3, 4, 5]


def test_migration_files_must_be_numbered_without_gaps_or_twins(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(_write(tmp_path / "gap", {"0001_a.sql": "", "0003_c.sql": ""}))
    with pytest.raises(MigrationError, match="two migration files for version 1"):
        load_migrations(_write(tmp_path / "twin", {"0001_a.sql": "", "0001_b.sql": ""}))
    with pytest.raises(MigrationError, match="not named"):
        load_migrations(_write(tmp_path / "bad", {"1_a.sql": ""}))


def test_plan_is_what_the_database_lacks(tmp_path: Path) -> None:
    files = load_migrations(_write(tmp_path / "m", {"0001_a.sql": "A", "0002_b.sql": "B"}))
    assert [m.version for m in plan(files, {})] == [1, 2]
    assert [m.version for m in plan(files, {1: ("a", files[0].checksum)})] == [2]
    with pytest.raises(MigrationChanged):
        plan(files, {1: ("a", "0" * 64)})


def test_a_connection_inside_a_transaction_is_refused_before_anything_runs(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("SELECT 1")   # psycopg opened a transaction
        with pytest.raises(MigrationError, match="no open transaction"):
            migrate(conn)
        conn.rollback()
        assert applied_versions(conn) == {}
