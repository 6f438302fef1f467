"""The console script routes every documented sub-command and loads only the chosen part."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.cli import COMMANDS, main


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"plxtra-fix {command}" in capsys.readouterr().out


def test_sim_command_does_not_load_gateway_runtime() -> None:
    # The simulator is a separate program: choosing it must not import the gateway's runtime parts.
    code = (
        "import sys; from gateway.cli import _build_parser; _build_parser(['sim']); "
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (['gateway','app'], ['gateway','fix'], "
        "['gateway','bridge'], ['gateway','zenith'], ['gateway','store'])); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
