"""pytest plugin: partner certification suites (``specs/partner-certification/*.yaml``) as pytest items.

Registered through the ``pytest11`` entry point ``plxtra_partner_certification``. With
``--certify-partner``, each suite file given on the command line becomes one item per step:
Plxtra's certification side listens for the partner's initiator (one run for every collected
suite, started by the first step item) and each item passes, fails or skips as its step did, so
a partner gates its CI on ``pytest SUITE.yaml --certify-partner --certify-partner-comp-id ID``.

It lives beside the certification side (``gateway.cert``) rather than in the harness's plugin
(:mod:`gateway.harness.pytest_plugin`) because it runs our gateway, which the harness, meant for
any FIX engine, must not import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PartnerStepItem", "PartnerSuiteFile"]


def pytest_addoption(parser: pytest.Parser) -> None:
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


def _is_partner_suite(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.parent.name == "partner-certification"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_partner_suite(file_path) and parent.config.getoption("certify_partner", False):
        return PartnerSuiteFile.from_parent(parent, path=file_path)
    return None


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
        suites: list[Any] = []
        for other in item.session.items:
            if isinstance(other, PartnerStepItem) and other.suite not in suites:
                suites.append(other.suite)
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
