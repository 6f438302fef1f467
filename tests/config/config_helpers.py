"""Shared helpers for the configuration tests: write YAML, load it, find errors by key."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from gateway.config import ConfigError, GatewayConfig, load_config

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"

# One valid acceptor session; tests splice their own lines into it.
SESSION = """\
  - name: s1
    begin_string: FIX.4.4
    sender_comp_id: PLXTRA
    target_comp_id: CLIENT1
    accounts: ["0001"]
"""


def write(tmp_path: Path, text: str, name: str = "gateway.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_ok(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> GatewayConfig:
    return load_config(write(tmp_path, text), env=env or {})


def load_err(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return info.value


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` in the dedented text."""
    for n, line in enumerate(textwrap.dedent(text).splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in the test text")


def error_for(err: ConfigError, key: str) -> ConfigError:
    """The single error about ``key``; fails listing every error when there is not exactly one."""
    found = [e for e in err.errors if e.key == key]
    assert len(found) == 1, f"expected one error for {key!r}, got:\n{err}"
    return found[0]


def assert_error(err: ConfigError, key: str, line: int, *fragments: str) -> ConfigError:
    one = error_for(err, key)
    assert one.line == line, f"{key}: expected line {line}, got {one.line}: {one}"
    assert one.file is not None and one.file.endswith("gateway.yaml")
    text = str(one)
    assert text.startswith(f"{one.file}:{line}: {key}: "), text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    # the combined message carries the same line, so stderr shows it
    assert text in str(err)
    return one
