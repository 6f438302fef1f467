"""A real, throw-away PostgreSQL server for the tests and the benches (issue 14): never a mock.

Shared by ``tests/pg_server.py`` (the ``pg_server`` fixture; a thin re-export) and the benches
(``bench/fault_trials.py --postgres``), which cannot import the tests. Nothing of the gateway is
imported here: it only runs Debian's binaries.

Debian's binaries (``initdb``, ``postgres``: package ``postgresql``, installed by ``dev.sh`` when
missing) run with a fresh data directory in a temporary folder, listening on a free port of
127.0.0.1 only, with the unix socket in that folder too (never ``/var/run/postgresql``, which a
system cluster may own). ``fsync``, ``synchronous_commit`` and ``full_page_writes`` are off: the
data is thrown away, and crash-safety of the machine is not what the tests measure.

Root: ``initdb`` and ``postgres`` refuse to run as root. Then both run as an unprivileged user
(``postgres`` from the Debian package when it exists, else ``nobody``) through ``subprocess``'s
``user=``/``group=``/``extra_groups=[]`` (setgroups + setregid + setreuid in the child before exec:
no ``sudo``/``runuser`` needed); the temporary folder is chowned to that user first. The server
also gets PR_SET_PDEATHSIG=SIGTERM after that switch, so a test run killed with -9 does not leave a
server behind.

Authentication: ``trust`` on the unix socket (the folder is private), SCRAM with a generated password
on TCP, so the tests exercise the same ``postgresql://user:${PGPASSWORD}@host:port/db`` form that a
deployment uses.

Use :func:`start_pg_server` (or the session fixture ``pg_server`` in ``tests/conftest.py``) and
always :meth:`PgServer.stop` it: it stops the server (fast shutdown, then SIGKILL after a bound) and
removes the folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgServer", "PgServerError", "find_pg_bin", "start_pg_server"]

SUPERUSER = "plxtra"
DATABASE = "plxtra"
_START_ATTEMPTS = 3            # a free port can be taken between probing it and the server's bind
_READY_TIMEOUT = 60.0          # s: initdb + start on a loaded 2-core machine
_STOP_TIMEOUT = 15.0
_PR_SET_PDEATHSIG = 1


class PgServerError(RuntimeError):
    """The server could not be set up; the message carries the server's own log tail."""


def find_pg_bin() -> Path:
    """The newest Debian PostgreSQL ``bin`` folder, else wherever ``initdb`` is on PATH."""
    def major(path: str) -> int:
        m = re.search(r"/postgresql/(\d+)/bin$", path)
        return int(m.group(1)) if m else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    for folder in candidates:
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise PgServerError("PostgreSQL server binaries not found: install Debian's 'postgresql' package "
                        "(./dev.sh test does it)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class _RunAs:
    uid: int | None
    gid: int | None
    name: str

    @staticmethod
    def pick() -> _RunAs:
        if os.geteuid() != 0:
            return _RunAs(None, None, pwd.getpwuid(os.geteuid()).pw_name)
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return _RunAs(entry.pw_uid, entry.pw_gid, name)
        raise PgServerError("running as root and neither user 'postgres' nor 'nobody' exists")

    def popen_args(self) -> dict[str, object]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _die_with_parent() -> None:
    """In the child, after the uid switch (which clears the setting): SIGTERM when we die."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class PgServer:
    """One running server. ``url`` carries the password; ``url_template`` has ``${PGPASSWORD}``."""

    root: Path
    port: int
    password: str
    process: subprocess.Popen[bytes]
    run_as: str
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    database: str = DATABASE
    _stopped: bool = field(default=False, repr=False)

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def url_template(self) -> str:
        """The config form: the password comes from the environment variable PGPASSWORD."""
        return self.config_url(self.database)

    def config_url(self, database: str) -> str:
        """``gateway.store`` for ``database`` as a config names it, the password from ${PGPASSWORD}."""
        return f"postgresql://{self.user}:${{PGPASSWORD}}@{self.host}:{self.port}/{database}"

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg  # here, not at import: conftest loads this module for every test run

        return psycopg.connect(self.url, connect_timeout=10, autocommit=autocommit)

    def create_database(self, name: str) -> str:
        """A fresh database on this server (per test module or test); returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name {name!r}: use lower-case letters, digits, _")
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{name}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL after a bound; then the folder goes. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        _terminate(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)   # PostgreSQL's "fast" shutdown
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)


def _run(cmd: list[str], run_as: _RunAs, what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=False, env=_child_env(),
                          **run_as.popen_args())   # type: ignore[call-overload]
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
        raise PgServerError(f"{what} failed (exit {done.returncode}):\n{output}")


def _child_env() -> dict[str, str]:
    # Locale: C.UTF-8 exists on every Debian; a caller's PG* variables must not redirect initdb.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return env


def start_pg_server(*, base_dir: str | None = None,
                    ready: Callable[[PgServer], None] | None = None) -> PgServer:
    """initdb + start; returns once the server accepts a password login over TCP.

    ``ready`` (tests of this module) is called with the server before it is returned.
    Raises :class:`PgServerError` with the server log's tail when it cannot be brought up.
    """
    bin_dir = find_pg_bin()
    run_as = _RunAs.pick()
    root = Path(tempfile.mkdtemp(prefix="plxtra-pg-", dir=base_dir))
    try:
        server = _init_and_start(bin_dir, run_as, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        if ready is not None:
            ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _init_and_start(bin_dir: Path, run_as: _RunAs, root: Path) -> PgServer:
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as.uid is not None:
        for path in (root, sock, pwfile):
            os.chown(path, run_as.uid, run_as.gid if run_as.gid is not None else -1)
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
          "--no-sync"], run_as, "initdb")
    pwfile.unlink()
    last_error = ""
    for _ in range(_START_ATTEMPTS):
        port = _free_port()
        log = open(root / "server.log", "ab")   # noqa: SIM115 - the server keeps writing to it
        try:
            process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sock}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=60", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning",
                 "-c", "timezone=UTC"],
                stdout=log, stderr=subprocess.STDOUT, env=_child_env(), preexec_fn=_die_with_parent,
                **run_as.popen_args())   # type: ignore[call-overload]
        finally:
            log.close()
        server = PgServer(root=root, port=port, password=password, process=process, run_as=run_as.name)
        if _wait_ready(server):
            _create_database(server)
            return server
        last_error = server.log_tail()
        _terminate(process)
    raise PgServerError(f"PostgreSQL did not start after {_START_ATTEMPTS} attempts:\n{last_error}")


def _wait_ready(server: PgServer) -> bool:
    import psycopg

    deadline = time.monotonic() + _READY_TIMEOUT
    admin = f"postgresql://{SUPERUSER}:{server.password}@127.0.0.1:{server.port}/postgres"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False   # e.g. the port was taken after all: the caller retries on another
        try:
            with psycopg.connect(admin, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    return False


def _create_database(server: PgServer) -> None:
    import psycopg

    admin = f"postgresql://{SUPERUSER}:{server.password}@127.0.0.1:{server.port}/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
