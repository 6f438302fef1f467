"""The deployment files agree with the code: compose healthchecks and profiles, Prometheus scraping
the admin API, the Grafana dashboard querying only metrics the gateway exports. (``docker compose
config`` itself: test_ops_compose_config.py; these checks read the same files.)"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

from gateway.config.loader import load_config
from gateway.ops.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
ENV = {"PLXTRA_TOKEN": "demo", "PLXTRA_ADMIN_TOKEN": "compose-admin-token-0123"}


def test_every_service_has_a_healthcheck_and_the_gateway_uses_readyz() -> None:
    services = COMPOSE["services"]
    assert all("healthcheck" in s for s in services.values())
    test = services["gateway"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "plxtra-fix", "admin"] and test[-1] == "health"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "HEALTHCHECK" in dockerfile and '"health"]' in dockerfile
    assert "COPY --chown=plxtra specs" in dockerfile                      # specs/ in the image
    assert "deploy/build-quickfix-ssl.sh" in dockerfile                    # FIX over TLS in the image


def test_no_silent_demo_token_outside_the_simulator_profile() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert ":-demo" not in text
    assert ":-demo" not in (ROOT / "config" / "gateway-compose.yaml").read_text(encoding="utf-8")
    env = COMPOSE["services"]["gateway"]["environment"]
    assert env["PLXTRA_TOKEN"].startswith("${PLXTRA_TOKEN:?")             # compose refuses to start without
    assert env["PLXTRA_ADMIN_TOKEN"].startswith("${PLXTRA_ADMIN_TOKEN:?")
    assert COMPOSE["services"]["sim"]["profiles"] == ["sim"]
    assert COMPOSE["services"]["gateway"]["depends_on"]["sim"]["required"] is False
    assert "gateway-data:/data" in COMPOSE["services"]["gateway"]["volumes"]   # state on a named volume


def test_prometheus_scrapes_the_admin_api_with_the_token_and_grafana_is_provisioned() -> None:
    services = COMPOSE["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"] == services["grafana"]["profiles"]
    cfg = load_config(ROOT / "config" / "gateway-compose.yaml", env=ENV)
    assert cfg.admin.enabled and cfg.admin.listen_port == 9879
    assert "127.0.0.1:9879:9879" in services["gateway"]["ports"]        # operators on the host only
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    job = prom["scrape_configs"][0]
    assert job["static_configs"][0]["targets"] == [f"gateway:{cfg.admin.listen_port}"]
    assert job["authorization"]["credentials_file"] == "/prometheus/admin-token"
    assert "/prometheus/admin-token" in " ".join(services["prometheus"]["entrypoint"])
    for mount in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


def test_the_dashboard_is_current_and_queries_only_exported_metrics() -> None:
    maker = ROOT / "deploy" / "grafana" / "make_dashboard.py"
    spec = importlib.util.spec_from_file_location("make_dashboard", maker)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = ROOT / "deploy" / "grafana" / "dashboards" / "plxtra-fix-gateway.json"
    assert path.read_text(encoding="utf-8") == module.render(), "run python deploy/grafana/make_dashboard.py"
    board = json.loads(path.read_text(encoding="utf-8"))
    used = {name for panel in board["panels"] for target in panel["targets"]
            for name in re.findall(r"\b(?:plxtra|process)_[a-z_]+", target["expr"])}
    exported = set(METRIC_NAMES)
    unknown = {n for n in used if re.sub(r"_(bucket|count|sum)$", "", n) not in exported}
    assert not unknown, unknown
    assert len(used) >= 15
