"""The pytest plugin, run in a real pytest subprocess against the local acceptor."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from harness_peer import VenueThread

ROOT = Path(__file__).resolve().parents[2]

SPEC = """name: {name}
session: {{begin_string: FIX.4.4, sender: CLIENT1, target: VENUE, timeout: 2}}
tags: [{tag}]
steps:
  - send: D
    as: order
    fields: {{11: "{{{{clordid}}}}", 55: {symbol}, 54: 1, 38: 10, 40: 2, 44: "9.00", 60: "{{{{now}}}}"}}
  - expect: "8"
    fields: {{150: "0", 39: "0"}}
"""


def _pytest(tmp: Path, *args: str, env_target: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PLXTRA_CERTIFY_TARGET", None)
    if env_target:
        env["PLXTRA_CERTIFY_TARGET"] = env_target
    plugin = [] if any(e.name == "plxtra_certification" for e in entry_points(group="pytest11")) \
        else ["-p", "gateway.harness.pytest_plugin"]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *plugin, *args,
               "specs/certification"]
    return subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "specs" / "certification"
    folder.mkdir(parents=True)
    (folder / "good.yaml").write_text(SPEC.format(name="known symbol", symbol="XS01", tag="fix44"))
    (folder / "bad.yaml").write_text(SPEC.format(name="unknown symbol", symbol="NOPE", tag="fix44"))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def test_without_target_nothing_is_collected_and_one_line_says_why(project: Path) -> None:
    run = _pytest(project, "-rA")
    assert "no tests ran" in run.stdout or "collected 0 items" in run.stdout
    lines = [line for line in run.stdout.splitlines() if "plxtra certification: no target" in line]
    assert len(lines) == 1, run.stdout
    assert "--certify-target HOST:PORT or PLXTRA_CERTIFY_TARGET" in lines[0]


def test_with_target_scenarios_run_as_items(project: Path) -> None:
    with VenueThread() as v:
        run = _pytest(project, "--certify-target", f"127.0.0.1:{v.port}", "-rA")
        by_env = _pytest(project, "-k", "known and not unknown", env_target=f"127.0.0.1:{v.port}")
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert "step 2 (expect 8): 8 (ExecutionReport) tag 150: expected '0', received '8'" in run.stdout
    assert "1 passed, 1 deselected" in by_env.stdout, by_env.stdout + by_env.stderr


def test_invalid_scenario_is_a_collection_error(project: Path) -> None:
    (project / "specs" / "certification" / "broken.yaml").write_text(
        "name: b\nsession: {begin_string: FIX.4.4, sender: A, target: B}\n"
        "steps:\n  - expect: '8'\n    wat: 1\n")
    run = _pytest(project, "--certify-target", "127.0.0.1:1", "--co")
    assert "broken.yaml:4: step 1" in run.stdout + run.stderr
    assert run.returncode != 0


EMBEDDED_CONFTEST = """
import pytest

class Venue:
    address = ("127.0.0.1", {port})
    def close(self):
        print("embedded target closed")

@pytest.hookimpl(optionalhook=True)
def pytest_plxtra_certify_embedded(config):
    return Venue()
"""


def test_the_embedded_target_comes_from_the_repository_s_conftest(project: Path) -> None:
    """The harness starts no engine of its own (it imports nothing of the gateway): a repository
    that asks for an embedded target provides it through the hook in its conftest.py."""
    (project / "pytest.ini").write_text("[pytest]\ncertify_embedded = true\n")
    without = _pytest(project, "-k", "known and not unknown")
    assert without.returncode != 0
    assert "no conftest.py provides one" in without.stdout + without.stderr
    with VenueThread() as v:
        (project / "conftest.py").write_text(EMBEDDED_CONFTEST.format(port=v.port))
        run = _pytest(project, "-rA", "-s")
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert "embedded target closed" in run.stdout
