"""Compose files through a real Compose parser, for the tests of docker-compose.yml and
docker-compose.instances.yml: ``docker-compose config`` (Debian's docker-compose 1.29, installed by
dev.sh's system_test_tools; ``config`` needs no Docker daemon).

Compose 1.29 predates one key the files use on purpose, ``depends_on: {X: {required: false}}``
(Compose spec, docker compose >= 2.20): the tests prove it is the only thing 1.29 refuses, then
validate the file with exactly that key taken out, so everything else goes through the real parser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
NEWER_THAN_1_29 = "depends_on contains unsupported option: 'required'"


def compose(file: Path, *args: str, env: Mapping[str, str],
            unset: Collection[str] = ()) -> subprocess.CompletedProcess[str]:
    """``docker-compose -f FILE ARGS`` with ``env`` as the only values of the file's variables
    (every name in ``env`` or ``unset`` is first taken out of this process's environment)."""
    exe = shutil.which("docker-compose")
    assert exe is not None, "docker-compose is missing: ./dev.sh test installs it (system_test_tools)"
    clean = {k: v for k, v in os.environ.items() if k not in env and k not in unset}
    clean.update(env)
    return subprocess.run([exe, "-f", str(file), "--project-directory", str(REPO), *args],
                          capture_output=True, text=True, env=clean, timeout=60, check=False)


def without_required(file: Path, tmp_path: Path, services: list[str]) -> Path:
    """A copy of ``file`` minus ``depends_on.*.required``, which exactly ``services`` carry."""
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    removed = [name for name, service in data["services"].items()
               if isinstance(depends := service.get("depends_on"), dict)   # a list has no conditions
               for condition in depends.values()
               if isinstance(condition, dict) and condition.pop("required", None) is not None]
    assert sorted(removed) == sorted(services)
    out = tmp_path / file.name
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out


def config(file: Path, *profiles: str, env: Mapping[str, str],
           unset: Collection[str] = ()) -> dict[str, Any]:
    """What ``docker-compose config`` makes of ``file`` with ``profiles`` (it must accept it)."""
    args = [a for p in profiles for a in ("--profile", p)]
    result = compose(file, *args, "config", env=env, unset=unset)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded
