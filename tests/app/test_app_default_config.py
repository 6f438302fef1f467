"""The default configuration of ``plxtra-fix run``: found in a checkout and when installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app.cli_run import PACKAGED_CONFIG, default_config_path, load_default_config

REPO = Path(__file__).resolve().parents[2]


def test_installed_copy_is_the_demo_config() -> None:
    # Package data cannot point outside the package, so the demo YAML ships as a copy: keep them equal.
    assert PACKAGED_CONFIG.read_bytes() == (REPO / "config" / "gateway.yaml").read_bytes()


def test_installed_copy_keeps_its_state_in_the_current_directory(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_default_config(PACKAGED_CONFIG)
    assert [s.target_comp_id for s in cfg.sessions][:1] == ["CLIENT1"]
    assert Path(cfg.gateway.log_dir) == tmp_path / "var" / "log"
    assert Path(cfg.gateway.message_store_dir) == tmp_path / "var" / "store"
    assert Path(cfg.gateway.store_path) == tmp_path / "var" / "gateway.sqlite"


def test_a_config_in_the_current_directory_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    own = tmp_path / "config" / "gateway.yaml"
    own.write_text((REPO / "config" / "gateway.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert default_config_path() == own


def test_from_a_checkout_the_checkout_config_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_config_path() == REPO / "config" / "gateway.yaml"
    cfg = load_default_config()
    assert Path(cfg.gateway.log_dir) == REPO / "var" / "log"
