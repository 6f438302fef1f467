"""``plxtra-fix check-config``: through gateway.cli.main and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from config_helpers import CONFIG_DIR, REPO, SESSION, write

from gateway.cli import main
from gateway.config import build_session_settings


def test_valid_file_prints_summary_and_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(CONFIG_DIR / "gateway.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "valid, 3 session(s)" in out
    assert "client1: PLXTRA -> CLIENT1 FIX.4.4 (acceptor, accepts)" in out
    assert "XS:0001 (alias 0001, default), XS:0002 (alias 0002)" in out
    assert "client3: PLXTRA -> CLIENT3 FIXT.1.1/FIX.5.0SP2" in out
    assert out.count("[SESSION]") == 3 and "[DEFAULT]" in out
    assert "parsed these settings: 3 session(s)" in out


def test_invalid_file_exits_2_with_every_error_on_stderr(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "gateway:\n  listen_port: nine\nsessions:\n" + SESSION
                 + "    heartbeat_interval: 0\n    default_account: x\n")
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}:2: gateway.listen_port: expected a whole number, got 'nine'",
        f"{path}:9: sessions[0].heartbeat_interval: must be at least 1, got 0",
        f"{path}:10: sessions[0].default_account: unknown account alias 'x': "
        "not one of this session's accounts (XS:0001)",
    ]


def test_quiet_and_settings_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CONFIG_DIR / "gateway.yaml")
    assert main(["check-config", "--quiet", path]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["check-config", "--settings-only", path]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("# QuickFIX settings generated")
    settings = build_session_settings(out)
    assert settings.size() == 3


def test_secrets_are_not_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFGTEST_PW", "pw-SECRET-9")
    path = write(tmp_path, "zenith: {url: 'ws://127.0.0.1:1/Zenith', token: tok-SECRET-8}\nsessions:\n"
                 + SESSION + "    credentials: {username: client1, password: '${CFGTEST_PW}'}\n")
    assert main(["check-config", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert "SECRET" not in out
    assert "logon username client1, password set" in out


def test_explicit_dictionary_dir_without_files_fails(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    path = write(tmp_path, "gateway: {data_dictionary_dir: empty}\nsessions:\n" + SESSION)
    assert main(["check-config", str(path)]) == 2
    _, err = capsys.readouterr()
    assert "gateway.data_dictionary_dir" in err and "lacks FIX44.xml" in err


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "gateway", "check-config", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120, check=False)


def test_subprocess_exit_codes(tmp_path: Path) -> None:
    ok = _run("config/gateway.yaml")
    assert ok.returncode == 0, ok.stderr
    assert "SocketAcceptPort=9878" in ok.stdout
    bad = write(tmp_path, "sessions:\n" + SESSION.replace("FIX.4.4", "FIX.5.0"))
    failed = _run(str(bad))
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert f"{bad}:3: sessions[0].begin_string: 'FIX.5.0' is not one of" in failed.stderr
    missing = _run(str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_without_quickfix_the_text_is_still_printed() -> None:
    """check-config must work where the engine is not installed (e.g. a CI lint job)."""
    code = ("import sys; sys.modules['quickfix'] = None\n"   # makes `import quickfix` fail
            "from gateway.cli import main\n"
            "sys.exit(main(['check-config', 'config/gateway.yaml']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("[SESSION]") == 3
    assert "parsed these settings" not in proc.stdout
