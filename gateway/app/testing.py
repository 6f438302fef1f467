"""Test helpers on the gateway side: a config file, the gateway in a thread, or as a process.

::

    cfg_path = write_test_config(tmp_path, zenith_url=sim.url, fix_port=free_port())
    with run_gateway_in_thread(cfg_path) as gw:        # QuickFIX acceptor + loop in this process
        ...
    with spawn_gateway_process(cfg_path) as proc:      # real `plxtra-fix run --config ...`
        proc.kill()                                    # kill -9 tests

The demo sessions mirror ``config/gateway.yaml`` (acceptors, our CompID ``PLXTRA``, market
``XSX``, trading and market data): ``CLIENT1`` FIX.4.4 accounts XS:0001 (default), XS:0002;
``CLIENT2`` FIX.4.2 XS:0003; ``CLIENT3`` FIXT.1.1/FIX.5.0SP2 XS:0004. FIX Account(1) may
carry the alias ``0001`` or the ID ``XS:0001``.
Every wait is bounded; teardown runs even when the test failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway.fix.testing import free_port

__all__ = [
    "DEMO_SESSIONS",
    "GatewayProcess",
    "GatewayThread",
    "demo_session",
    "free_port",
    "run_gateway_in_thread",
    "spawn_gateway_process",
    "wait_for_port",
    "write_test_config",
]

_REPO_ROOT = Path(__file__).resolve().parents[2]

def demo_session(name: str, begin: str, target: str, accounts: list[str], **extra: Any) -> dict[str, Any]:
    """A YAML session mapping like the demo ones (acceptor, our CompID PLXTRA, market XSX)."""
    return {"name": name, "begin_string": begin, **extra, "sender_comp_id": "PLXTRA",
            "target_comp_id": target, "heartbeat_interval": 30, "accept_reset_seq_num_flag": True,
            "accounts": accounts, "default_account": accounts[0], "markets": ["XSX"]}


# Same sessions and accounts as the shipped config/gateway.yaml.
DEMO_SESSIONS: tuple[dict[str, Any], ...] = (
    demo_session("client1", "FIX.4.4", "CLIENT1", ["0001", "0002"]),
    demo_session("client2", "FIX.4.2", "CLIENT2", ["0003"]),
    demo_session("client3", "FIXT.1.1", "CLIENT3", ["0004"], default_appl_ver_id="FIX.5.0SP2"),
)


def write_test_config(
    tmp_path: Path,
    zenith_url: str = "embedded",
    fix_port: int | None = None,
    sessions: Sequence[Mapping[str, Any]] | None = None,
    *,
    message_store: str = "file",
    gateway: Mapping[str, Any] | None = None,
    zenith: Mapping[str, Any] | None = None,
    name: str = "gateway.yaml",
) -> Path:
    """Write a gateway YAML under ``tmp_path`` (stores and logs in ``tmp_path`` too); returns its path.

    ``sessions`` are YAML session mappings (keys as in ``config/gateway.yaml``); None gives
    :data:`DEMO_SESSIONS`. ``gateway`` / ``zenith`` entries override the generated sections.
    """
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "gateway": {
            "listen_host": "127.0.0.1",
            "listen_port": fix_port if fix_port is not None else free_port(),
            "store_path": str(tmp_path / "gateway.sqlite"),
            "log_dir": str(tmp_path / "fixlog"),
            "message_store": message_store,
            "message_store_dir": str(tmp_path / "fixstore"),
            **dict(gateway or {}),
        },
        "zenith": {"url": zenith_url, "token": "demo", **dict(zenith or {})},
        "sessions": [dict(s) for s in (DEMO_SESSIONS if sessions is None else sessions)],
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1",
                  alive: Any = None) -> None:
    """Wait until ``host:port`` accepts TCP connections; ``alive()`` False aborts early."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise RuntimeError("process exited before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


class GatewayThread:
    """A :class:`~gateway.app.runtime.Gateway` running on its own event loop in a daemon thread."""

    def __init__(self, config_path: Path | str, services: Sequence[Any] | None = None,
                 zenith_url: str | None = None) -> None:
        from gateway.config.loader import load_config

        self.config = load_config(config_path)
        self.port = self.config.gateway.listen_port
        self._services = services
        self._zenith_url = zenith_url
        self.gateway: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="gateway-loop", daemon=True)

    def _main(self) -> None:
        from gateway.app.runtime import Gateway

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.gateway = Gateway(self.config, services=self._services, zenith_url=self._zenith_url)
            await self.gateway.run(self._stop, ready=lambda _: self._ready.set())

        try:
            asyncio.run(main())
        except BaseException as exc:   # reported to the test thread by start()
            self._error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 30.0) -> GatewayThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"gateway did not start within {timeout}s")
        if self._error is not None:
            raise RuntimeError(f"gateway failed to start: {self._error!r}") from self._error
        return self

    def call(self, fn: Any, *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(*args)`` on the gateway loop (awaited if it is a coroutine function)."""
        assert self.loop is not None

        async def runner() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the gateway (Logouts sent) and join its thread; idempotent."""
        if self.loop is not None and self._stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"gateway thread still running {timeout}s after stop")

    def __enter__(self) -> GatewayThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_gateway_in_thread(config_path: Path | str, *, services: Sequence[Any] | None = None,
                          zenith_url: str | None = None, timeout: float = 30.0) -> GatewayThread:
    """Start the gateway of ``config_path`` in this process; use as a context manager.
    ``services`` replaces the production service factories (callables ``ctx -> service``)."""
    return GatewayThread(config_path, services, zenith_url).start(timeout)


class GatewayProcess:
    """``plxtra-fix run --config FILE`` as a subprocess; output goes to ``log_path``."""

    def __init__(self, config_path: Path | str, extra_args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None) -> None:
        from gateway.config.loader import load_config

        self.config_path = Path(config_path)
        self.port = load_config(config_path).gateway.listen_port
        self.log_path = self.config_path.parent / f"gateway-process-{os.getpid()}-{id(self)}.log"
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_REPO_ROOT), full_env.get("PYTHONPATH", "")) if p)
        full_env.update(env or {})
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in wait/stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(self.config_path), *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env,
            cwd=str(self.config_path.parent),
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> GatewayProcess:
        try:
            wait_for_port(self.port, timeout, alive=lambda: self.proc.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            self.kill()
            raise RuntimeError(f"gateway process not ready: {exc}\n--- output ---\n{self.output()}") from exc
        return self

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit within ``timeout``. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL (crash tests)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10.0)

    def wait(self, timeout: float = 20.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10.0)
        self._log.close()
        return code

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.terminate()
        else:
            self._log.close()


def spawn_gateway_process(config_path: Path | str, *, extra_args: Sequence[str] = (),
                          env: Mapping[str, str] | None = None, timeout: float = 30.0) -> GatewayProcess:
    """Start ``plxtra-fix run --config config_path`` and wait until its FIX port listens."""
    return GatewayProcess(config_path, extra_args, env).wait_ready(timeout)

