"""A fault of the harness or of a viewer never leaves a certification run half-told.

An error that escaped a step used to end the run with that step still "running" and no "end" event,
so the web console kept showing it running; a raising viewer ended the run. Both are injected here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite


def _options(comp: str) -> CertOptions:
    # No partner ever connects: the steps that need one fail fast, which is all these tests need.
    return CertOptions("FIX.4.4", comp, "PLXTRA", port=0, timeout=1, connect_timeout=1, run_timeout=30)


async def _run(run: CertRun) -> bool:
    await run.start()
    try:
        return await run.run()
    finally:
        await run.stop()


def test_an_unexpected_error_in_a_step_fails_that_step_named_and_the_run_ends() -> None:
    run = CertRun([load_suite("session")], _options("FAULTSTEP"))
    events: list[tuple[str, dict[str, Any]]] = []
    run.listeners.append(lambda kind, data: events.append((kind, data)))
    calls = 0

    async def broken_check(expectation: Any, state: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("injected harness fault")

    run._check = broken_check  # type: ignore[method-assign]   # the fault is injected where steps judge
    passed = asyncio.run(_run(run))
    assert not passed and calls >= 1
    first = run.states[0]
    assert first.status == "failed"
    assert "the harness failed in this step: RuntimeError: injected harness fault" in first.reason
    assert not [s.key for s in run.states if s.status == "running"]
    assert events[-1] == ("end", {"passed": False})
    # The page is told each step's final status: the last "step" event of every step is not "running".
    last: dict[str, str] = {}
    for kind, data in events:
        if kind == "step":
            last[data["key"]] = data["status"]
    assert last and "running" not in last.values()


def test_a_raising_viewer_neither_ends_the_run_nor_starves_the_other_viewers() -> None:
    clean = CertRun([load_suite("session")], _options("VIEWOK"))
    clean_events: list[str] = []
    clean.listeners.append(lambda kind, data: clean_events.append(kind))
    asyncio.run(_run(clean))

    run = CertRun([load_suite("session")], _options("VIEWBAD"))
    seen: list[str] = []

    def broken_viewer(kind: str, data: dict[str, Any]) -> None:
        raise RuntimeError("viewer fault")

    run.listeners.append(broken_viewer)
    run.listeners.append(lambda kind, data: seen.append(kind))
    asyncio.run(_run(run))
    assert seen == clean_events and seen[-1] == "end"
    assert [s.status for s in run.states] == [s.status for s in clean.states]
