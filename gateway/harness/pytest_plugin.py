"""pytest plugin: certification scenarios (``specs/certification/*.yaml``) as pytest items.

Registered through the ``pytest11`` entry point. With a target (``--certify-target HOST:PORT`` or
the environment variable ``PLXTRA_CERTIFY_TARGET``) each scenario file becomes one test item that
runs the scenario against that engine and fails with the step, MsgType and tag that went wrong.

With ``--certify-embedded`` (or the ini option ``certify_embedded = true``, which this project's
own pyproject.toml sets) and no explicit target, the scenarios run against our own gateway on the
embedded simulator: a real ``plxtra-fix run`` process started before the first scenario and stopped
at the end of the run. Otherwise, without a target, nothing is collected and the header says so in
one line: scenarios must never pass silently against nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ENV_TARGET", "resolve_target"]

ENV_TARGET = "PLXTRA_CERTIFY_TARGET"
_NO_TARGET = (f"plxtra certification: no target (--certify-target HOST:PORT or {ENV_TARGET}); "
              "specs/certification scenarios not collected")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("plxtra-certification", "Plxtra FIX certification scenarios")
    group.addoption("--certify-target", default=None, metavar="HOST:PORT",
                    help=f"run specs/certification scenarios against this FIX acceptor (or set {ENV_TARGET})")
    group.addoption("--certify-sender", default=None, help="override the scenarios' SenderCompID")
    group.addoption("--certify-target-comp", default=None, help="override the scenarios' TargetCompID")
    group.addoption("--certify-embedded", action="store_true", default=False,
                    help="without a target, run the scenarios against this project's gateway on the "
                         "embedded simulator (started for the run)")
    parser.addini("certify_embedded", type="bool", default=False,
                  help="same as --certify-embedded")
    partner = parser.getgroup("plxtra-partner-certification",
                              "Plxtra partner certification (specs/partner-certification suites)")
    partner.addoption("--certify-partner", action="store_true", default=False,
                      help="run the partner-certification suite files given on the command line as pytest "
                           "items: Plxtra's side listens for the partner's initiator, one item per step")
    partner.addoption("--certify-partner-comp-id", default=None, metavar="COMPID",
                      help="the partner's SenderCompID")
    partner.addoption("--certify-partner-port", type=int, default=9880, metavar="PORT")
    partner.addoption("--certify-partner-begin-string", default="FIX.4.4",
                      help="FIX.4.2, FIX.4.4 or FIXT.1.1 (FIX 5.0 SP2)")
    partner.addoption("--certify-partner-timeout", type=float, default=15.0, metavar="SECONDS",
                      help="how long an automatic step waits for the partner")
    partner.addoption("--certify-partner-connect-timeout", type=float, default=120.0, metavar="SECONDS",
                      help="how long to wait for the partner to connect and log on")


EMBEDDED = ("embedded", 0)


def resolve_target(config: pytest.Config) -> tuple[str, int] | None:
    """Where scenarios run: the option, else the environment, else :data:`EMBEDDED` when the
    embedded gateway is asked for, else None (nothing is collected)."""
    text = config.getoption("certify_target", None) or os.environ.get(ENV_TARGET)
    if not text:
        embedded = config.getoption("certify_embedded", False) or config.getini("certify_embedded")
        return EMBEDDED if embedded else None
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit():
        raise pytest.UsageError(f"certification target must be HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _is_scenario(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and "certification" in path.parent.parts


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TARGET_KEY] = resolve_target(config)


def pytest_report_header(config: pytest.Config) -> str | None:
    target = config.stash.get(_TARGET_KEY, None)
    if target == EMBEDDED:
        return "plxtra certification target: this gateway on the embedded simulator (started on demand)"
    return None if target is None else f"plxtra certification target: {target[0]}:{target[1]}"


class _EmbeddedGateway:
    """Our gateway as a real subprocess on the embedded simulator, shared by every scenario."""

    def __init__(self) -> None:
        import tempfile

        from gateway.app.testing import free_port, spawn_gateway_process, write_test_config

        self._dir = tempfile.TemporaryDirectory(prefix="plxtra-certify-")
        config_path = write_test_config(Path(self._dir.name), zenith_url="embedded", fix_port=free_port())
        self._process = spawn_gateway_process(config_path, timeout=60.0)
        self.address = ("127.0.0.1", self._process.port)

    def close(self) -> None:
        try:
            self._process.terminate()
        finally:
            self._dir.cleanup()


def _target_address(config: pytest.Config) -> tuple[str, int]:
    target = config.stash[_TARGET_KEY]
    if target != EMBEDDED:
        return target
    gateway = config.stash.get(_EMBEDDED_KEY, None)
    if gateway is None:
        gateway = config.stash[_EMBEDDED_KEY] = _EmbeddedGateway()
    return gateway.address


def pytest_unconfigure(config: pytest.Config) -> None:
    gateway = config.stash.get(_EMBEDDED_KEY, None)
    if gateway is not None:
        gateway.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_partner_suite(file_path) and parent.config.getoption("certify_partner", False):
        return PartnerSuiteFile.from_parent(parent, path=file_path)
    if not _is_scenario(file_path):
        return None
    if parent.config.stash.get(_TARGET_KEY, None) is None:
        parent.config.stash[_SKIPPED_KEY] = parent.config.stash.get(_SKIPPED_KEY, 0) + 1
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The one line saying why scenario files were not collected (shown even with -q)."""
    skipped = terminalreporter.config.stash.get(_SKIPPED_KEY, 0)
    if skipped:
        terminalreporter.write_line(f"{_NO_TARGET} ({skipped} files)")


_TARGET_KEY = pytest.StashKey[Any]()
_SKIPPED_KEY = pytest.StashKey[int]()
_EMBEDDED_KEY = pytest.StashKey[Any]()


class ScenarioFailed(Exception):
    """Raised by a scenario item; carries the case result for the failure report."""

    def __init__(self, result: Any) -> None:
        super().__init__("\n".join(result.failures))
        self.result = result


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from gateway.harness.scenario import load_scenario

        scenario = load_scenario(self.path)   # ScenarioError -> a collection error naming file and step
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        # Tags become keywords (``-k fix44``), not markers: --strict-markers would refuse them.
        for tag in scenario.tags:
            self.keywords[tag] = True

    def runtest(self) -> None:
        from gateway.harness.runner import CertifyOptions, run_scenario

        host, port = _target_address(self.config)
        options = CertifyOptions(host, port, sender=self.config.getoption("certify_sender", None),
                                 target_comp=self.config.getoption("certify_target_comp", None))
        result = asyncio.run(run_scenario(self.scenario, options))
        if not result.passed:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            result = excinfo.value.result
            lines = [f"scenario {self.scenario.name} ({self.scenario.file})", *result.failures]
            lines += [f"  | {line}" for line in result.log[-20:]]
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"certification: {self.scenario.name}"


# --- partner certification (--certify-partner) -----------------------------------------------------


def _is_partner_suite(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.parent.name == "partner-certification"


_PARTNER_RUN_KEY = pytest.StashKey[Any]()


def _partner_run(item: pytest.Item) -> Any:
    """One certification run for every collected suite, started by the first step item."""
    run = item.config.stash.get(_PARTNER_RUN_KEY, None)
    if run is None:
        from gateway.cert.background import BackgroundRun
        from gateway.cert.runner import CertOptions

        config = item.config
        comp_id = config.getoption("certify_partner_comp_id")
        if not comp_id:
            raise pytest.UsageError("--certify-partner needs --certify-partner-comp-id")
        suites = []
        for other in item.session.items:
            suite = getattr(other, "suite", None)
            if isinstance(other, PartnerStepItem) and suite not in suites:
                suites.append(suite)
        begin = config.getoption("certify_partner_begin_string")
        begin = "FIXT.1.1" if begin == "FIX.5.0SP2" else begin
        options = CertOptions(begin, comp_id, port=config.getoption("certify_partner_port"),
                              timeout=config.getoption("certify_partner_timeout"),
                              connect_timeout=config.getoption("certify_partner_connect_timeout"))
        run = config.stash[_PARTNER_RUN_KEY] = BackgroundRun(suites, options).start()
    return run


class PartnerSuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from gateway.cert.suite import load_suite

        suite = load_suite(str(self.path))   # SuiteError -> a collection error naming file and step
        for step in suite.steps:
            yield PartnerStepItem.from_parent(self, name=step.id, suite=suite, step=step)


class PartnerStepFailed(Exception):
    pass


class PartnerStepItem(pytest.Item):
    def __init__(self, *, suite: Any, step: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite, self.step = suite, step

    def runtest(self) -> None:
        state = _partner_run(self).wait_step(f"{self.suite.name}/{self.step.id}")
        if state.status == "skipped":
            pytest.skip(state.reason)
        if state.status != "passed":
            raise PartnerStepFailed(f"{state.key} [{self.step.case or '-'}] {state.status}: "
                                    f"{state.reason or 'no final status'}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PartnerStepFailed):
            return f"{excinfo.value}\n  prompt: {self.step.prompt}\n  expected: {self.step.expected_text()}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"partner certification: {self.suite.name}/{self.step.id}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(_PARTNER_RUN_KEY, None)
    if run is not None:
        run.stop()
