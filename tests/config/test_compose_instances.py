"""docker-compose.instances.yml (the scale-out form) through a real Compose parser and against its
config file, config/gateway-instances-compose.yaml (Docker itself cannot run here).

``docker-compose config`` is Debian's docker-compose 1.29 (dev.sh's system_test_tools), as in
tests/ops/test_ops_compose_config.py: it lacks only ``depends_on.*.required`` (Compose >= 2.20),
which the file uses for the optional ``sim`` profile; the tests prove that key is its one complaint
and validate the file with exactly that key taken out.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_helpers import REPO

from gateway.app.instance import restrict_to_instance
from gateway.app.testing import GatewayProcess, free_port
from gateway.config import load_config
from tests.compose_support import NEWER_THAN_1_29, compose, config, without_required

COMPOSE_FILE = REPO / "docker-compose.instances.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
# Every variable the file requires (no silent default), as docker compose would get them.
ENV = {"PLXTRA_TOKEN": "demo", "PLXTRA_ADMIN_TOKEN": "compose-admin-token-0123",
       "POSTGRES_PASSWORD": "compose-pg-password"}
GATEWAYS = ("gateway-a", "gateway-b", "gateway-a-standby")


def _compose(file: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return compose(file, *args, env=ENV if env is None else env, unset=[*ENV, "PGPASSWORD"])


def _without_required(tmp_path: Path) -> Path:
    return without_required(COMPOSE_FILE, tmp_path, ["gateway-a", "gateway-b"])   # their optional `sim`


def _config(tmp_path: Path, *profiles: str) -> dict[str, Any]:
    return config(_without_required(tmp_path), *profiles, env=ENV, unset=[*ENV, "PGPASSWORD"])


def _argv(service: str) -> list[str]:
    return ["plxtra-fix", *COMPOSE["services"][service]["command"]]   # the Dockerfile's ENTRYPOINT


def _option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def _config_path(service: str) -> Path:
    """The host file behind the container path the service's --config names."""
    in_container = _option(_argv(service), "--config")
    for volume in COMPOSE["services"][service]["volumes"]:
        source, target = volume.split(":")[:2]
        if in_container.startswith(target.rstrip("/") + "/"):
            assert source.startswith("./") and volume.endswith(":ro"), volume
            return (REPO / source).resolve() / in_container[len(target.rstrip("/")) + 1:]
    pytest.fail(f"{service}: {in_container} is not inside a bind-mounted volume")


def _host_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip or '' for all interfaces, host port, container port) of each short-form mapping."""
    out = []
    for spec in service.get("ports", []):
        parts = str(spec).split("/")[0].split(":")
        ip = parts[0] if len(parts) == 3 else ""
        out.append((ip, int(parts[-2]), int(parts[-1])))
    return out


def test_compose_1_29_refuses_only_the_newer_required_key() -> None:
    result = _compose(COMPOSE_FILE, "config")
    assert result.returncode != 0
    problems = sorted(line for line in result.stderr.splitlines()
                      if line.strip() and "is invalid" not in line)
    assert problems == [f"services.gateway-a.{NEWER_THAN_1_29}", f"services.gateway-b.{NEWER_THAN_1_29}"]


def test_config_validates_with_and_without_the_sim_profile(tmp_path: Path) -> None:
    for profiles in ((), ("sim",)):
        services = _config(tmp_path, *profiles)["services"]
        assert set(services) == {"postgres", "sim", *GATEWAYS}, profiles
        assert services["sim"]["profiles"] == ["sim"]
        for name, service in services.items():
            assert service["restart"] == "unless-stopped", name
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        for name in GATEWAYS:
            gateway = services[name]
            assert "profiles" not in gateway
            assert gateway["environment"] == {"PLXTRA_TOKEN": "demo",
                                              "PLXTRA_ADMIN_TOKEN": "compose-admin-token-0123",
                                              "PGPASSWORD": "compose-pg-password"}
            assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
            assert f"{REPO / 'config'}:/config:ro" in gateway["volumes"]
        assert services["gateway-a-standby"]["depends_on"]["gateway-a"]["condition"] == "service_healthy"
        assert "gateway-a-data:/data:rw" in services["gateway-a"]["volumes"]
        assert "gateway-a-data:/data:rw" in services["gateway-a-standby"]["volumes"]
        assert "gateway-b-data:/data:rw" in services["gateway-b"]["volumes"]


def test_postgres_is_pinned_persistent_checked_and_on_the_loopback_only(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    pg = cfg["services"]["postgres"]
    assert re.fullmatch(r"postgres:\d+", pg["image"]), pg["image"]     # a major version, not latest
    assert "postgres-data:/var/lib/postgresql/data:rw" in pg["volumes"]
    assert "postgres-data" in cfg["volumes"]
    assert pg["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert pg["environment"]["POSTGRES_PASSWORD"] == "compose-pg-password"
    assert all(p.startswith("127.0.0.1:") for p in pg["ports"]), pg["ports"]
    # The gateways' store URL names this service, its user, database and container port.
    store = load_config(_config_path("gateway-a"), env={**ENV, "PGPASSWORD": "x"}).gateway.store
    assert store is not None
    assert (store.host, store.port) == ("postgres", 5432)
    env = pg["environment"]
    assert (store.user, store.database) == (env["POSTGRES_USER"], env["POSTGRES_DB"])
    assert "${PGPASSWORD}" in _config_path("gateway-a").read_text(encoding="utf-8")   # not in the file


def test_config_refuses_to_run_without_each_secret(tmp_path: Path) -> None:
    """No silent default: Compose itself stops when a variable is missing, naming it."""
    file = _without_required(tmp_path)
    for missing in ENV:
        result = _compose(file, "config", env={k: v for k, v in ENV.items() if k != missing})
        assert result.returncode != 0, missing
        assert f"set {missing}" in result.stderr, result.stderr
    result = _compose(file, "config", env={k: v for k, v in ENV.items() if k != "POSTGRES_PASSWORD"})
    assert "PGPASSWORD" in result.stderr   # says the gateways get it under that name


def test_each_gateway_config_loads_and_check_config_passes() -> None:
    paths = {_config_path(name) for name in GATEWAYS}
    assert paths == {REPO / "config" / "gateway-instances-compose.yaml"}   # one file for all
    env = {**os.environ, **ENV, "PGPASSWORD": ENV["POSTGRES_PASSWORD"],
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    for path in paths:
        done = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(path)],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "PostgreSQL postgresql://plxtra:***@postgres:5432/plxtra" in done.stdout
        # QuickFIX's sequence numbers in the same database: the standby continues them on any host.
        assert "message store postgresql (QuickFIX's PostgreSQLStore in postgresql://plxtra:***@postgres" \
            in done.stdout
        assert "compose-pg-password" not in done.stdout
        # Without the password the config does not load, naming the variable.
        del env["PGPASSWORD"]
        done = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(path)],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 2 and "PGPASSWORD" in done.stderr, done.stderr


def test_instances_on_the_command_lines_exist_are_disjoint_and_cover_every_session() -> None:
    cfg = load_config(_config_path("gateway-a"), env={**ENV, "PGPASSWORD": "x"})
    assert cfg.instances.declared
    actives = {}
    for name in GATEWAYS:
        argv = _argv(name)
        assert argv[:2] == ["plxtra-fix", "run"]
        instance = _option(argv, "--instance")
        served = restrict_to_instance(cfg, instance)   # what `run --instance` does: raises if undeclared
        assert served.sessions, name
        if "--standby" not in argv:
            assert instance not in actives, f"two actives for instance {instance}"
            actives[instance] = {s.name for s in served.sessions}
    assert set(actives) == set(cfg.instances.names) == {"a", "b"}
    assert actives["a"].isdisjoint(actives["b"])
    assert actives["a"] | actives["b"] == {s.name for s in cfg.sessions}
    assert {s.target_comp_id for s in cfg.sessions if s.name in actives["a"]} == {"CLIENT1", "CLIENT2"}
    assert {s.target_comp_id for s in cfg.sessions if s.name in actives["b"]} == {"CLIENT3"}


def test_the_standby_runs_instance_a_with_standby_and_otherwise_the_same_command() -> None:
    active, standby = _argv("gateway-a"), _argv("gateway-a-standby")
    assert "--standby" in standby and "--standby" not in active
    assert [a for a in standby if a != "--standby"] == active
    assert "--standby" not in _argv("gateway-b")


def test_ports_do_not_collide_and_reach_each_listener() -> None:
    cfg = load_config(_config_path("gateway-a"), env={**ENV, "PGPASSWORD": "x"})
    assert cfg.gateway.listen_host == "0.0.0.0" and cfg.admin.enabled
    published = [(name, *p) for name, s in COMPOSE["services"].items() for p in _host_ports(s)]
    host_ports = [port for _, _, port, _ in published]
    assert len(host_ports) == len(set(host_ports)), published
    for name in GATEWAYS:
        by_target = {target: (ip, port) for ip, port, target in _host_ports(COMPOSE["services"][name])}
        assert set(by_target) == {cfg.gateway.listen_port, cfg.admin.listen_port}, name
        assert by_target[cfg.gateway.listen_port][0] == ""                # FIX: partners from anywhere
        assert by_target[cfg.admin.listen_port][0] == "127.0.0.1"         # admin: this host only
    fix_ports = {name: {t: p for _, p, t in _host_ports(COMPOSE["services"][name])}[cfg.gateway.listen_port]
                 for name in GATEWAYS}
    assert fix_ports == {"gateway-a": 9878, "gateway-b": 9880, "gateway-a-standby": 9882}
    header = COMPOSE_FILE.read_text(encoding="utf-8").split("\nx-gateway")[0]
    assert "9878" in header and "9882" in header and "SocketConnectHost1" in header   # how partners fail over


def test_the_standby_is_healthy_while_waiting_and_readyz_decides_once_it_serves() -> None:
    """The standby's check: admin health, else the process check; run here against a real port."""
    test = COMPOSE["services"]["gateway-a-standby"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    admin, _, fallback = test[1].partition(" || ")
    assert admin == "plxtra-fix admin --config /config/gateway-instances-compose.yaml health"
    code = re.fullmatch(r'python -c "(.*)"', fallback)
    assert code, fallback
    assert "9879" in code.group(1)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        snippet = code.group(1).replace("9879", str(port))
        closed = subprocess.run([sys.executable, "-c", snippet], timeout=30, check=False)
        assert closed.returncode == 0     # nothing listens: waiting for the lease, healthy
        listener.listen(1)
        serving = subprocess.run([sys.executable, "-c", snippet], timeout=30, check=False)
        assert serving.returncode == 1    # admin API up but /readyz failed: unhealthy
    for name in ("gateway-a", "gateway-b"):
        assert COMPOSE["services"][name]["healthcheck"]["test"] == ["CMD", *admin.split()]


def test_single_gateway_file_points_to_the_scale_out_form() -> None:
    single = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert "docker-compose.instances.yml" in single
    assert "POSTGRES_PASSWORD" not in single   # the single form needs no PostgreSQL secret


# -- the config run as the containers run it (real PostgreSQL, one host) --------------------------------

def _until(what: str, predicate: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


def _container_config(tmp_path: Path, pg_server: Any, data: Path, name: str) -> tuple[Path, int, int]:
    """config/gateway-instances-compose.yaml as one container sees it, on this host: its /data volume
    is ``data``, `postgres` is the test server, the simulator is embedded, and its ports are free
    ones on 127.0.0.1 (the containers' own network namespaces let them all use 9878/9879)."""
    fix_port, admin_port = free_port(), free_port()
    text = _config_path("gateway-a").read_text(encoding="utf-8")
    for old, new in (("/data/", f"{data}/"), ("ws://sim:4502/Zenith", "embedded"),
                     ("@postgres:5432/plxtra", f"@{pg_server.host}:{pg_server.port}/compose_instances"),
                     ("listen_host: 0.0.0.0", "listen_host: 127.0.0.1"),
                     ("listen_port: 9878", f"listen_port: {fix_port}"),
                     ("listen_port: 9879", f"listen_port: {admin_port}")):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, fix_port, admin_port


def _healthcheck(service: str, config: Path, admin_port: int, env: dict[str, str]) -> int:
    """The service's compose healthcheck, with this host's config path and admin port."""
    test = COMPOSE["services"][service]["healthcheck"]["test"]
    command = test[1] if test[0] == "CMD-SHELL" else " ".join(test[1:])
    command = command.replace("/config/gateway-instances-compose.yaml", str(config))
    command = command.replace("plxtra-fix ", f"{sys.executable} -m gateway ")
    command = command.replace("python -c", f"{sys.executable} -c").replace("9879", str(admin_port))
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=60,
                          check=False).returncode


def test_gateway_a_serves_and_the_waiting_standby_is_healthy_then_takes_over(
        tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """gateway-a and gateway-a-standby as compose runs them (same instance, one shared /data), with
    their healthchecks: the standby waits without an admin API and is healthy by the process check;
    when gateway-a stops cleanly (lease released), it takes over and /readyz makes it healthy."""
    pg_server.create_database("compose_instances")
    data = tmp_path / "gateway-a-data"
    active_cfg, active_fix, active_admin = _container_config(tmp_path, pg_server, data, "gateway-a")
    standby_cfg, standby_fix, standby_admin = _container_config(tmp_path, pg_server, data, "standby")
    # The containers' environment; GatewayProcess reads the config in this process too.
    for key, value in (("PLXTRA_TOKEN", "demo"), ("PLXTRA_ADMIN_TOKEN", ENV["PLXTRA_ADMIN_TOKEN"]),
                       ("PGPASSWORD", pg_server.password)):
        monkeypatch.setenv(key, value)
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    active_argv = _argv("gateway-a")[_argv("gateway-a").index("--instance"):]
    standby_argv = _argv("gateway-a-standby")[_argv("gateway-a-standby").index("--instance"):]
    with GatewayProcess(active_cfg, active_argv, env=env) as active:
        active.wait_ready(90)
        _until("gateway-a healthy", lambda: _healthcheck("gateway-a", active_cfg, active_admin, env) == 0,
               30)
        with GatewayProcess(standby_cfg, standby_argv, env=env) as standby:
            _until("standby waiting", lambda: "waiting for the lease held by" in standby.output(), 60)
            plain = subprocess.run([sys.executable, "-m", "gateway", "admin", "--config",
                                    str(standby_cfg), "health"],
                                   env=env, capture_output=True, timeout=60, check=False)
            assert plain.returncode != 0   # no admin API while waiting: readyz alone would fail it
            assert _healthcheck("gateway-a-standby", standby_cfg, standby_admin, env) == 0
            assert active.terminate(30) == 0   # clean stop: Logout, lease released
            _until("standby serving", lambda: f"port {standby_fix}" in standby.output(), 60)
            _until("standby healthy",
                   lambda: _healthcheck("gateway-a-standby", standby_cfg, standby_admin, env) == 0, 30)
            assert "took over the lease" in standby.output()
    assert active_fix != standby_fix
