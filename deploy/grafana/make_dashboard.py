"""Writes deploy/grafana/dashboards/plxtra-fix-gateway.json from the panel list below.

    python deploy/grafana/make_dashboard.py

Kept as code so each panel's query is reviewable in one line; tests/ops/test_ops_deploy.py checks
that the JSON is current and that every metric it queries is one the gateway exports.
"""

from __future__ import annotations

import json
from pathlib import Path

# (title, unit, [(PromQL, legend)])
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Sessions logged on", "short", [("plxtra_fix_session_logged_on", "{{session}}")]),
    ("Sessions disabled by an operator", "short", [("plxtra_fix_session_disabled", "{{session}}")]),
    ("FIX messages in/s by MsgType", "ops",
     [('sum by (msg_type) (rate(plxtra_fix_messages_total{direction="in"}[1m]))', "in {{msg_type}}")]),
    ("FIX messages out/s by MsgType", "ops",
     [('sum by (msg_type) (rate(plxtra_fix_messages_total{direction="out"}[1m]))', "out {{msg_type}}")]),
    ("Session and business rejects/s", "ops",
     [("sum by (session, direction) (rate(plxtra_fix_session_rejects_total[5m]))",
       "3 {{session}} {{direction}}"),
      ("sum by (session, direction) (rate(plxtra_fix_business_rejects_total[5m]))",
       "j {{session}} {{direction}}")]),
    ("Logons, refused logons, disconnects (5m)", "short",
     [("sum by (session) (increase(plxtra_fix_logons_total[5m]))", "logon {{session}}"),
      ("sum by (session, reason) (increase(plxtra_fix_logons_refused_total[5m]))",
       "refused {{session}} {{reason}}"),
      ("sum by (session) (increase(plxtra_fix_disconnects_total[5m]))", "disconnect {{session}}"),
      ("sum by (session) (increase(plxtra_fix_heartbeat_timeouts_total[5m]))", "hb timeout {{session}}")]),
    ("Sequence resets and resend requests (1h)", "short",
     [("sum by (session, kind) (increase(plxtra_fix_sequence_resets_total[1h]))", "{{session}} {{kind}}"),
      ("sum by (session, direction) (increase(plxtra_fix_resend_requests_total[1h]))",
       "2 {{session}} {{direction}}")]),
    ("Orders by first answer/s", "ops",
     [("sum by (outcome) (rate(plxtra_orders_total[1m]))", "{{outcome}}")]),
    ("NewOrderSingle to first answer", "s",
     [("histogram_quantile(0.5, sum by (le) (rate(plxtra_order_first_answer_seconds_bucket[5m])))", "p50"),
      ("histogram_quantile(0.99, sum by (le) (rate(plxtra_order_first_answer_seconds_bucket[5m])))", "p99")]),
    ("Zenith request latency", "s",
     [("histogram_quantile(0.99, sum by (le, controller) "
       "(rate(plxtra_zenith_request_duration_seconds_bucket[5m])))", "p99 {{controller}}")]),
    ("Zenith connection", "short",
     [("plxtra_zenith_connected", "connected"),
      ("increase(plxtra_zenith_reconnects_total[1h])", "reconnects/h"),
      ("plxtra_zenith_subscriptions", "subscriptions")]),
    ("Outbound backlog per session", "short", [("plxtra_fix_outbound_backlog_messages", "{{session}}")]),
    ("Market data: requests and conflations", "short",
     [("plxtra_md_requests", "requests {{session}}"), ("plxtra_md_conflations", "conflations {{session}}")]),
    ("Process CPU", "percentunit", [("rate(process_cpu_seconds_total[1m])", "cpu")]),
    ("Process memory (RSS)", "bytes", [("process_resident_memory_bytes", "rss")]),
    ("Admin actions (1h)", "short",
     [("sum by (action, result) (increase(plxtra_admin_actions_total[1h]))", "{{action}} {{result}}")]),
]


def dashboard() -> dict:
    panels = []
    for i, (title, unit, targets) in enumerate(PANELS):
        panels.append({
            "id": i + 1, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "prometheus"},
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + j), "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": "prometheus"}}
                        for j, (expr, legend) in enumerate(targets)],
        })
    return {"uid": "plxtra-fix-gateway", "title": "Plxtra FIX gateway", "schemaVersion": 39, "version": 1,
            "time": {"from": "now-1h", "to": "now"}, "refresh": "15s", "tags": ["plxtra", "fix"],
            "panels": panels}


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "dashboards" / "plxtra-fix-gateway.json"
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")
