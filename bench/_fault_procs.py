"""The simulator and the gateway as their own processes, for the fault probe.

Each runs in a process group of its own (``start_new_session``), so a kill reaches it and any
child it made, and asks the kernel to kill it if the probe dies (PR_SET_PDEATHSIG). Output goes
to a log file in the probe's work directory, appended across restarts, so a violation can be
traced to what the gateway logged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ManagedProcess", "free_port", "gateway_yaml", "port_open"]

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL when the probe dies (Linux prctl PR_SET_PDEATHSIG = 1; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class ManagedProcess:
    """``python -m gateway <args>``, restartable; ready when ``port`` accepts connections."""

    def __init__(self, name: str, args: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.args = args
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60.0, ready_text: str | None = None) -> float:
        """Start and wait until the port accepts, or with ``ready_text`` until this start's output
        shows it (a standby never listens while it waits); returns the seconds it took. Raises
        RuntimeError."""
        began = time.monotonic()
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {self.name} start {self.starts + 1}: {' '.join(self.args)} =====\n"
                      .encode())
            log.flush()
            offset = log.tell()
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway", *self.args], cwd=str(REPO),
                                         env=env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.starts += 1
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start; "
                                   f"see {self.log_path}")
            if ready_text is None and port_open(self.port):
                return time.monotonic() - began
            if ready_text is not None and ready_text in self.output_since(offset):
                return time.monotonic() - began
            time.sleep(0.1)
        self.kill()
        what = f"print {ready_text!r}" if ready_text else f"accept on port {self.port}"
        raise RuntimeError(f"{self.name} did not {what} within {timeout}s")

    def output_since(self, offset: int) -> str:
        """The log from byte ``offset`` on (this process's output after a start)."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """kill -9 of the whole process group."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a clean stop); kill -9 if it has not exited within ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def gateway_yaml(workdir: Path, listen_port: int, zenith_port: int, max_order_qty: int,
                 request_timeout: float, store_url: str | None = None,
                 instance: tuple[str, float] | None = None) -> str:
    """The three demo sessions of config/gateway.yaml, every state path under ``workdir``, Zenith
    reached through the probe's proxy. ``store_url``: the order state in PostgreSQL
    (``postgresql://user:${PGPASSWORD}@...``); ``instance`` (name, lease ttl): one instance owning
    the three sessions, for an active + standby pair."""
    sessions = [("client1", "FIX.4.4", "CLIENT1", '["0001", "0002"]', "0001", ""),
                ("client2", "FIX.4.2", "CLIENT2", '["0003"]', "0003", ""),
                ("client3", "FIXT.1.1", "CLIENT3", '["0004"]', "0004",
                 "    default_appl_ver_id: FIX.5.0SP2\n")]
    out = [
        "gateway:",
        "  listen_host: 127.0.0.1",
        f"  listen_port: {listen_port}",
        f"  store_path: {workdir / 'gateway.sqlite'}",
        f"  log_dir: {workdir / 'log'}",
        # With PostgreSQL state, QuickFIX's sequence numbers and resend history live there too (the
        # deployment's default): a takeover continues the sessions from the database, not from files.
        f"  message_store: {'postgresql' if store_url else 'file'}",
        f"  message_store_dir: {workdir / 'store'}",
        *([f"  store: {store_url}"] if store_url else []),
        "zenith:",
        f"  url: ws://127.0.0.1:{zenith_port}/Zenith",
        "  token: demo",
        "  auth_method: bearer",
        f"  request_timeout: {request_timeout}",
        "sessions:",
    ]
    for name, begin, target, accounts, default, extra in sessions:
        out.append(f"  - name: {name}\n    begin_string: {begin}\n{extra}    sender_comp_id: PLXTRA\n"
                   f"    target_comp_id: {target}\n    role: acceptor\n    heartbeat_interval: 30\n"
                   "    schedule: 24/7\n    reset_on_logon: false\n    accept_reset_seq_num_flag: true\n"
                   f"    accounts: {accounts}\n    default_account: \"{default}\"\n    markets: [XSX]\n"
                   "    symbology: {default_market: XSX, allow_suffix: true}\n"
                   f"    limits: {{max_order_qty: {max_order_qty}, max_notional: 50000000, "
                   "messages_per_second: 500, throttle_action: reject}")
    if instance is not None:
        name, ttl = instance
        out.append(f"instances:\n  {name}: {{sessions: [{', '.join(s[0] for s in sessions)}], "
                   f"lease_ttl: {ttl:g}}}")
    return "\n".join(out) + "\n"
