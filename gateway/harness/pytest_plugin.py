"""pytest plugin: certification scenarios (``specs/certification/*.yaml``) as pytest items.

Registered through the ``pytest11`` entry point. With a target (``--certify-target HOST:PORT`` or
the environment variable ``PLXTRA_CERTIFY_TARGET``) each scenario file becomes one test item that
runs the scenario against that engine and fails with the step, MsgType and tag that went wrong.

With ``--certify-embedded`` (or the ini option ``certify_embedded = true``, which this project's
own pyproject.toml sets) and no explicit target, the scenarios run against the acceptor that the
repository's ``conftest.py`` starts through the hook ``pytest_plxtra_certify_embedded``
(:mod:`gateway.harness.pytest_hooks`); this project's starts our gateway on the embedded
simulator, a real ``plxtra-fix run`` process, before the first scenario and stops it at the end of
the run. The harness itself imports no engine: it must work against any. Otherwise, without a
target, nothing is collected and the header says so in one line: scenarios must never pass
silently against nothing.

Partner certification items (``--certify-partner``) are the certification side's plugin,
:mod:`gateway.cert.pytest_plugin`.
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


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from gateway.harness import pytest_hooks

    pluginmanager.add_hookspecs(pytest_hooks)


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


def _target_address(config: pytest.Config) -> tuple[str, int]:
    target = config.stash[_TARGET_KEY]
    if target != EMBEDDED:
        return target
    embedded = config.stash.get(_EMBEDDED_KEY, None)
    if embedded is None:
        embedded = config.hook.pytest_plxtra_certify_embedded(config=config)
        if embedded is None:
            raise pytest.UsageError(
                "plxtra certification: an embedded target is asked for (certify_embedded) but no "
                "conftest.py provides one (hook pytest_plxtra_certify_embedded); give --certify-target")
        config.stash[_EMBEDDED_KEY] = embedded
    return tuple(embedded.address)


def pytest_unconfigure(config: pytest.Config) -> None:
    embedded = config.stash.get(_EMBEDDED_KEY, None)
    if embedded is not None:
        embedded.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
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
