"""A certification run on its own event loop in a thread, for synchronous callers (the pytest
plugin's ``--certify-partner`` items wait on it step by step). The thread shares nothing mutable
with callers except the run's step states, which it alone writes and callers only read."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from gateway.cert.results import StepState
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import Suite

__all__ = ["BackgroundRun"]

_DONE = ("passed", "failed", "skipped", "not-run")


class BackgroundRun:
    def __init__(self, suites: Sequence[Suite], options: CertOptions) -> None:
        self.suites = list(suites)
        self.options = options
        self.run: CertRun | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._main, name="certify-partner", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            backend = None
            if any(not s.automatic for s in self.suites):
                from gateway.cert.proxy import GatewayBackend

                backend = GatewayBackend(self.options.begin_string, self.options.partner_comp_id)
            run = CertRun(self.suites, self.options, backend=backend)
            await run.start()
            self.run = run
            self._ready.set()
            try:
                await run.run()
            finally:
                await run.stop()

        try:
            asyncio.run(main())
        except BaseException as exc:   # reported to the waiting callers
            self.error = exc
        finally:
            self._ready.set()
            self._finished.set()

    def start(self, timeout: float = 60.0) -> BackgroundRun:
        self._thread.start()
        if not self._ready.wait(timeout) or self.run is None:
            raise RuntimeError(f"certification did not start: {self.error!r}")
        return self

    def wait_step(self, key: str) -> StepState:
        """Block until step ``key`` (``suite/id``) has a final status (bounded by the run timeout)."""
        assert self.run is not None
        state = next(s for s in self.run.states if s.key == key)
        deadline = time.monotonic() + self.options.run_timeout + self.options.connect_timeout + 30
        while state.status not in _DONE and time.monotonic() < deadline:
            if self._finished.wait(0.1) and state.status not in _DONE:
                break
        return state

    def stop(self, timeout: float = 30.0) -> None:
        self._finished.wait(timeout)
        self._thread.join(1.0)
