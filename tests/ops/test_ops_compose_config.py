"""docker-compose.yml through a real Compose parser: ``docker-compose config`` (Debian's
docker-compose 1.29, installed by dev.sh's system_test_tools; ``config`` needs no Docker daemon).

Compose 1.29 predates one key the file uses on purpose: ``depends_on: {sim: {required: false}}``
(Compose spec, docker compose >= 2.20), which lets the gateway start without the ``sim`` profile.
The file keeps it; the tests prove that key is the only thing 1.29 refuses, then validate the file
with exactly that key taken out, so every other part (profiles, ``${VAR:?}`` interpolation,
ports, healthchecks, volumes) goes through the real parser.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.compose_support import NEWER_THAN_1_29, REPO, compose, config, without_required

COMPOSE_FILE = REPO / "docker-compose.yml"
TOKENS = {"PLXTRA_TOKEN": "demo", "PLXTRA_ADMIN_TOKEN": "compose-admin-token-0123"}


def _compose(file: Path, *args: str,
             tokens: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return compose(file, *args, env=TOKENS if tokens is None else tokens, unset=TOKENS)


def _without_required(tmp_path: Path) -> Path:
    return without_required(COMPOSE_FILE, tmp_path, ["gateway"])   # only gateway -> sim


def _config(tmp_path: Path, *profiles: str) -> dict[str, Any]:
    return config(_without_required(tmp_path), *profiles, env=TOKENS, unset=TOKENS)


def test_compose_1_29_refuses_only_the_newer_required_key() -> None:
    result = _compose(COMPOSE_FILE, "config")
    assert result.returncode != 0
    problems = [line for line in result.stderr.splitlines() if line.strip() and "is invalid" not in line]
    assert problems == [f"services.gateway.{NEWER_THAN_1_29}"], result.stderr


def test_config_validates_each_profile_with_ports_healthchecks_and_volumes(tmp_path: Path) -> None:
    for profiles in ((), ("sim",), ("monitoring",), ("sim", "monitoring")):
        cfg = _config(tmp_path, *profiles)
        services = cfg["services"]
        assert set(services) == {"sim", "gateway", "prometheus", "grafana"}, profiles
        assert services["sim"]["profiles"] == ["sim"]
        assert services["prometheus"]["profiles"] == services["grafana"]["profiles"] == ["monitoring"]
        assert "profiles" not in services["gateway"]   # the gateway runs in every profile
        for name, service in services.items():
            assert service["healthcheck"]["test"][0] == "CMD", name
            assert service["restart"] == "unless-stopped", name
        gateway = services["gateway"]
        assert gateway["healthcheck"]["test"][1:] == [
            "plxtra-fix", "admin", "--config", "/config/gateway-compose.yaml", "health"]
        assert gateway["environment"] == TOKENS   # interpolated from the caller's environment
        ports = [p if isinstance(p, str) else f"{p['published']}:{p['target']}" for p in gateway["ports"]]
        assert "9878:9878" in ports                          # FIX partners
        assert "127.0.0.1:9879:9879/tcp" in ports            # admin API on the loopback only
        assert services["prometheus"]["ports"] == ["127.0.0.1:9090:9090/tcp"]
        assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000/tcp"]
        assert services["sim"]["ports"] == ["127.0.0.1:4502:4502/tcp"]
        assert "gateway-data:/data:rw" in gateway["volumes"]
        assert set(cfg["volumes"]) == {"gateway-data", "prometheus-data", "grafana-data"}
        assert gateway["depends_on"]["sim"]["condition"] == "service_healthy"


def test_config_refuses_to_run_without_the_tokens(tmp_path: Path) -> None:
    """No silent default: Compose itself stops when a token is missing, naming it."""
    file = _without_required(tmp_path)
    for missing in TOKENS:
        tokens = {k: v for k, v in TOKENS.items() if k != missing}
        result = _compose(file, "config", tokens=tokens)
        assert result.returncode != 0
        assert f"set {missing}" in result.stderr, result.stderr
