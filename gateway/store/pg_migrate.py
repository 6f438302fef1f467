"""Schema migrations of the PostgreSQL store: versioned SQL files applied at start.

The files are ``gateway/store/pg_schema/NNNN_name.sql`` (package data). :func:`migrate` applies
the ones a database has not had yet, each once, in version order, each in its own transaction
together with its row in ``schema_migrations`` (version, name, SHA-256 of the file, time), so a
crash mid-way leaves the database at the last whole version. Rules it enforces:

* Two gateways starting at once: the second waits on a PostgreSQL advisory lock held for the
  whole run, then finds the work done. (A plain ``CREATE TABLE IF NOT EXISTS`` race would fail.)
* A file that was applied and then changed is refused (:class:`MigrationChanged`), naming the file
  and both checksums: released migrations are immutable, a fix is a new file.
* A database that has a version this code does not know (a newer gateway migrated it) is refused
  (:class:`MigrationError`): an older gateway must not write to a schema it does not understand.
* Versions are 1, 2, 3... without gaps or duplicates (a missing file is a packaging mistake).

Why not alembic: the schema is a handful of tables written in SQL, with no ORM models to diff
against; plain files plus this ~150-line runner are the whole mechanism, readable by a DBA.

The caller opens the connection (``psycopg.connect(url)``); :func:`migrate` switches it to
autocommit for its own use and restores it. Blocking I/O: call it at start-up, before the loop
serves partners (or from a thread).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.store.errors import StoreError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "LOCK_KEY",
    "Migration",
    "MigrationChanged",
    "MigrationError",
    "applied_versions",
    "load_migrations",
    "migrate",
    "plan",
]

# pg_advisory_lock key of the migrator: a fixed 63-bit number, "plxtra-fix schema" in hex-ish,
# chosen so no other user of the database is likely to pick it.
LOCK_KEY = 0x706C_7874_7261_6D67
_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER     PRIMARY KEY,
    name       TEXT        NOT NULL,
    checksum   TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class MigrationError(StoreError):
    """The schema cannot be brought to this code's version; nothing was written by this run
    except whole migrations before the failing one."""


class MigrationChanged(MigrationError):
    """An applied migration file differs from what was applied."""

    def __init__(self, version: int, name: str, applied: str, now: str) -> None:
        super().__init__(
            f"migration {version:04d}_{name}.sql was changed after it was applied (checksum in the "
            f"database {applied[:12]}..., file {now[:12]}...): released migrations are immutable; "
            f"restore the file and put the change in a new migration")
        self.version = version
        self.name = name


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str   # SHA-256 hex of the file's bytes

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def load_migrations(folder: Traversable | Path | None = None) -> list[Migration]:
    """The migration files of ``folder`` (default: the package's ``pg_schema``), by version."""
    root: Traversable | Path = (folder if folder is not None
                                else resources.files("gateway.store") / "pg_schema")
    found: dict[int, Migration] = {}
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        m = _FILE.fullmatch(entry.name)
        if m is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_lower_case_name.sql")
        data = entry.read_bytes()
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migration files for version {version}: "
                                 f"{found[version].filename} and {entry.name}")
        found[version] = Migration(version, m.group(2), data.decode("utf-8"),
                                   hashlib.sha256(data).hexdigest())
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, found {versions}")
    return [found[v] for v in versions]


def plan(available: Sequence[Migration], applied: Mapping[int, tuple[str, str]]) -> list[Migration]:
    """What to apply, given what the database has (``version -> (name, checksum)``); I/O-free.

    Raises :class:`MigrationChanged` for an applied file whose bytes changed and
    :class:`MigrationError` for an applied version this code does not have.
    """
    by_version = {m.version: m for m in available}
    for version, (name, checksum) in sorted(applied.items()):
        mine = by_version.get(version)
        if mine is None:
            raise MigrationError(
                f"the database has schema version {version} ({name}), which this gateway does not know "
                f"(it knows 1..{len(available)}): a newer gateway migrated it; run that version")
        if mine.checksum != checksum:
            raise MigrationChanged(version, mine.name, checksum, mine.checksum)
    return [m for m in available if m.version not in applied]


def applied_versions(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    """``version -> (name, checksum)`` recorded in ``schema_migrations`` (empty if none)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {int(v): (str(n), str(c)) for v, n, c in rows}


def migrate(conn: psycopg.Connection, migrations: Iterable[Migration] | None = None) -> list[Migration]:
    """Bring the database to the newest version; returns the migrations this call applied.

    Waits (without a bound: a migrator holds the lock only while it migrates) for any other
    migrator of the same database. Raises :class:`MigrationError` (or its subclass) and leaves the
    failing migration unapplied.
    """
    import psycopg

    available = list(migrations) if migrations is not None else load_migrations()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise MigrationError("migrate needs a connection with no open transaction")
    was_autocommit = conn.autocommit
    conn.autocommit = True
    done: list[Migration] = []
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(_CREATE_TABLE)
            for m in plan(available, applied_versions(conn)):
                try:
                    with conn.transaction():
                        conn.execute(m.sql)   # no parameters: several statements, % taken as is
                        conn.execute("INSERT INTO schema_migrations (version, name, checksum) "
                                     "VALUES (%s, %s, %s)", (m.version, m.name, m.checksum))
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {m.filename} failed: {exc}") from exc
                done.append(m)
        finally:
            if not conn.closed and not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    except psycopg.Error as exc:
        raise MigrationError(f"cannot migrate the database: {exc}") from exc
    finally:
        if not conn.closed and not conn.broken:
            conn.autocommit = was_autocommit
    return done
