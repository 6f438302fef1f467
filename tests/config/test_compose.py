"""docker-compose.yml and config/ must agree (Docker itself cannot run here).

Checks what would otherwise only fail at ``docker compose up``: the command each service runs, the
ports it publishes, and that the gateway's configuration names the simulator service's endpoint.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from config_helpers import REPO

from gateway.config import load_config

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
# The compose file requires both tokens (no silent demo default): give them as docker compose would.
ENV = {"PLXTRA_TOKEN": "demo", "PLXTRA_ADMIN_TOKEN": "compose-admin-token-0123"}
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")


def _entrypoint() -> list[str]:
    match = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile needs an exec-form ENTRYPOINT"
    return list(yaml.safe_load(match.group(1)))


def _argv(service: str) -> list[str]:
    command = COMPOSE["services"][service]["command"]
    return _entrypoint() + (command if isinstance(command, list) else command.split())


def _option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def _published(service: str) -> dict[int, str]:
    """container port -> host binding (``host_ip:host_port`` or ``host_port``)."""
    out: dict[int, str] = {}
    for spec in COMPOSE["services"][service].get("ports", []):
        parts = str(spec).split(":")
        out[int(parts[-1].split("/")[0])] = ":".join(parts[:-1])
    return out


def _host_path(volume: str) -> tuple[Path, str]:
    source, target = volume.split(":")[:2]
    return (REPO / source).resolve(), target


def _gateway_config_path() -> Path:
    config_in_container = _option(_argv("gateway"), "--config")
    for volume in COMPOSE["services"]["gateway"]["volumes"]:
        source, target = _host_path(volume)
        if config_in_container.startswith(target.rstrip("/") + "/"):
            return source / config_in_container[len(target.rstrip("/")) + 1:]
    pytest.fail(f"{config_in_container} is not inside a bind-mounted volume")


def test_services_run_the_plxtra_fix_commands() -> None:
    assert set(COMPOSE["services"]) >= {"sim", "gateway"}
    assert _entrypoint() == ["plxtra-fix"]
    assert _argv("sim")[:2] == ["plxtra-fix", "sim"]
    assert _argv("gateway")[:2] == ["plxtra-fix", "run"]
    assert "sim" in COMPOSE["services"]["gateway"]["depends_on"]
    assert "FROM python:3.11-slim" in DOCKERFILE


def test_config_is_mounted_read_only_and_state_is_not_in_it() -> None:
    volumes = COMPOSE["services"]["gateway"]["volumes"]
    config_mount = next(v for v in volumes if v.split(":")[1] == "/config")
    assert config_mount.split(":")[0] == "./config" and config_mount.endswith(":ro")
    cfg = load_config(_gateway_config_path(), env=ENV)
    for path in (cfg.gateway.store_path, cfg.gateway.log_dir, cfg.gateway.message_store_dir):
        assert not str(path).startswith("/config"), f"{path} would be on the read-only /config mount"


def test_gateway_command_names_a_config_that_validates_and_is_published() -> None:
    path = _gateway_config_path()
    assert path.is_file() and path.parent == REPO / "config"
    cfg = load_config(path, env=ENV)
    assert cfg.gateway.listen_host == "0.0.0.0"   # reachable through the container's network
    assert cfg.gateway.listen_port in _published("gateway")


def test_zenith_url_matches_the_sim_service() -> None:
    cfg = load_config(_gateway_config_path(), env=ENV)
    url = urlsplit(cfg.zenith.url)
    assert url.scheme == "ws" and url.hostname == "sim"   # the compose service name
    sim_argv = _argv("sim")
    assert _option(sim_argv, "--host") == "0.0.0.0"
    assert url.port == int(_option(sim_argv, "--port"))
    assert url.port in _published("sim")
    assert url.path == "/Zenith"
