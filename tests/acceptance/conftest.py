"""Acceptance fixtures: the gateway exactly as a new user starts it, as a real subprocess.

``python -m gateway run --config <copy of config/gateway.yaml>`` with only the listen port and
the state/log folders changed, on the embedded simulator. The tests then talk to it over real
TCP with clients that are NOT the project's own FIX code (simplefix by hand, or a partner's
QuickFIX initiator), and to the simulator over a raw WebSocket.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rawfix import RawFix, free_port

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "config" / "gateway.yaml"
READY = "plxtra-fix gateway ready"


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if pytest dies (e.g. killed by a CI timeout), so no gateway
    is left orphaned holding ports and files (Linux prctl PR_SET_PDEATHSIG; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def make_config(workdir: Path, port: int, extra_session_yaml: str = "",
                zenith_url: str | None = None) -> Path:
    """The shipped config with another port and every state path under ``workdir``."""
    text = SHIPPED_CONFIG.read_text()
    if zenith_url:
        assert "url: embedded" in text
        text = text.replace("url: embedded", f"url: {zenith_url}", 1)
    text = text.replace("listen_port: 9878", f"listen_port: {port}")
    text = text.replace("store_path: ../var/gateway.sqlite", f"store_path: {workdir / 'gateway.sqlite'}")
    text = text.replace("log_dir: ../var/log", f"log_dir: {workdir / 'log'}")
    text = text.replace("message_store_dir: ../var/store", f"message_store_dir: {workdir / 'store'}")
    assert f"listen_port: {port}" in text and str(workdir) in text, "shipped config layout changed"
    text += extra_session_yaml
    path = workdir / "gateway.yaml"
    path.write_text(text)
    return path


@dataclass
class Gateway:
    proc: subprocess.Popen[str]
    port: int
    workdir: Path
    zenith_url: str
    output: list[str]
    pump: threading.Thread | None = None

    @property
    def log_dir(self) -> Path:
        return self.workdir / "log"

    def connect(self, begin: str, sender: str, timeout: float = 5.0) -> RawFix:
        return RawFix(self.port, begin, sender, "PLXTRA", timeout=timeout)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.pump is not None:
            self.pump.join(5)               # EOF reached once the process is gone
        if self.proc.stdout is not None:
            try:
                self.proc.stdout.close()
            except (OSError, ValueError):
                pass
        return self.proc.returncode


def start_gateway(workdir: Path, extra_session_yaml: str = "", timeout: float = 60.0,
                  zenith_url: str | None = None, port: int | None = None) -> Gateway:
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    cfg = make_config(workdir, port, extra_session_yaml, zenith_url)
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(cfg)],
                            cwd=str(workdir), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent)
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if READY in line:
                ready.set()
        ready.set()

    def accepting() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    pump_thread = threading.Thread(target=pump, daemon=True)
    pump_thread.start()
    deadline = time.monotonic() + timeout
    url = ""
    # Ready = the FIX port accepts connections and the Zenith URL has been printed (banner or log);
    # not tied to the banner's exact wording.
    while time.monotonic() < deadline:
        ready.wait(0.2)
        m = re.search(r"(ws://[^\s()]+/Zenith)", "".join(output))
        if m and accepting():
            url = m.group(1)
            break
        if proc.poll() is not None:
            break
    if not url:
        proc.kill()
        proc.wait(5)
        pump_thread.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
        raise RuntimeError("gateway did not start:\n" + "".join(output)[-3000:])
    return Gateway(proc, port, workdir, url, output, pump_thread)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("acceptance-gw"))
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def uid() -> str:
    """A prefix that keeps ClOrdIDs unique across tests sharing one gateway."""
    return uuid.uuid4().hex[:8]
