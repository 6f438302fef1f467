"""The admin API over real HTTP (aiohttp client) against a gateway on the embedded simulator,
with real QuickFIX partners on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import FixTestClient, free_port
from tests.ops.opshelpers import OPS_TOKEN, TOKEN, api, buy, write_admin_config

pytestmark = pytest.mark.timeout(120)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def _until(predicate, timeout: float = 10.0) -> None:   # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture()
def gateway(tmp_path: Path):   # type: ignore[no-untyped-def]
    fix_port = free_port()
    cfg, admin_port = write_admin_config(tmp_path, fix_port)
    with run_gateway_in_thread(cfg) as gw:
        yield gw, fix_port, admin_port, tmp_path


def test_every_endpoint_refuses_a_request_without_the_right_token(gateway) -> None:   # type: ignore[no-untyped-def]
    _, _, port, _ = gateway
    for method, path in (("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/sessions"),
                         ("GET", "/sessions/client1"), ("POST", "/sessions/client1/logout"),
                         ("POST", "/sessions/client1/reset-seq"), ("POST", "/reload"),
                         ("POST", "/accounts/XS:0001/cancel-all")):
        for token in (None, "wrong-token-wrong-token"):
            status, body = api(port, method, path, token=token)
            assert status == 401, (method, path, token, body)
            assert "unauthorized" in body["error"]


def test_health_readiness_sessions_and_metrics_after_an_order(gateway, caplog) -> None:   # type: ignore[no-untyped-def]
    _, fix_port, port, tmp_path = gateway
    caplog.set_level(logging.INFO)
    assert api(port, "GET", "/healthz") == (200, {"status": "alive"})
    status, ready = api(port, "GET", "/readyz")
    assert status == 200 and ready["ready"] is True
    assert set(ready["parts"]) >= {"zenith", "store", "fix_acceptor"}

    with FixTestClient(port=fix_port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("D", buy("m-1", price="1.00"))   # far below the market: it rests
        c.expect("8", timeout=10, where={11: "m-1", 150: "0"})
        c.send("V", [(262, "md-1"), (263, "1"), (264, "0"), (265, "1"), (266, "Y"), (267, "2"), (269, "0"),
                     (269, "1"), (146, "1"), (55, "XS01"), (207, "XSX")])
        c.expect("W", timeout=10)

        status, body = api(port, "GET", "/sessions")
        assert status == 200
        by_name = {s["name"]: s for s in body["sessions"]}
        assert set(by_name) == {"client1", "client2", "client3"}
        one = by_name["client1"]
        assert one["state"] == "logged_on" and one["role"] == "acceptor"
        assert one["remote_address"].startswith("127.0.0.1")
        assert one["next_target_seq_num"] == 4        # Logon (1), the D (2) and the V (3) received
        assert one["next_sender_seq_num"] >= 3
        assert one["last_in_type"] == "V" and one["last_in"].endswith("Z")
        assert one["heartbeat_interval"] == 30
        assert one["open_orders"] == 1 and one["queued_reports"] == 0
        assert one["md_subscriptions"] == 1 and one["backlog"] == 0
        assert by_name["client2"]["state"] == "logged_out"

        status, text = api(port, "GET", "/metrics")
        assert status == 200
        samples = _samples(text)
        assert _value(samples, "plxtra_fix_messages_total", session="client1", direction="in",
                      msg_type="D") == 1
        assert _value(samples, "plxtra_fix_messages_total", session="client1", direction="out",
                      msg_type="A") == 1
        assert _value(samples, "plxtra_fix_logons_total", session="client1") == 1
        assert _value(samples, "plxtra_orders_total", session="client1", outcome="accepted") == 1
        assert _value(samples, "plxtra_order_first_answer_seconds_count", session="client1") == 1
        assert _value(samples, "plxtra_fix_execution_reports_total", session="client1", exec_type="0") >= 1
        assert _value(samples, "plxtra_fix_session_logged_on", session="client1") == 1
        assert _value(samples, "plxtra_fix_session_logged_on", session="client2") == 0
        assert _value(samples, "plxtra_fix_outbound_backlog_messages", session="client1") == 0
        assert _value(samples, "plxtra_md_requests", session="client1") == 1
        assert _value(samples, "plxtra_md_conflations", session="client1") == 0
        assert _value(samples, "plxtra_zenith_subscriptions") >= 3   # Orders!, Transactions!, the book
        assert _value(samples, "plxtra_zenith_connected") == 1
        assert _value(samples, "plxtra_zenith_reconnects_total") == 0
        assert _value(samples, "plxtra_zenith_request_duration_seconds_count", controller="Trading",
                      outcome="ok") >= 1
        assert _value(samples, "process_resident_memory_bytes") > 10_000_000
        assert _value(samples, "process_cpu_seconds_total") > 0

    # The session events went to the gateway's own log, one line each, naming the session.
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.session"]
    assert any("session client1: logged on" in line for line in lines), lines


def test_disable_logs_out_and_refuses_the_next_logon_with_a_clear_text(gateway, caplog) -> None:   # type: ignore[no-untyped-def]
    _, fix_port, port, tmp_path = gateway
    caplog.set_level(logging.INFO)
    with FixTestClient(port=fix_port, tmp_path=tmp_path / "a") as c:
        c.wait_logged_on(timeout=10)
        status, result = api(port, "POST", "/sessions/client1/disable", token=OPS_TOKEN)
        assert status == 200 and result["result"] == "ok" and result["logged_out"] is True
        logout = c.expect("5", timeout=10, admin=True)
        assert "disabled by the operator" in logout.get(58)
        c.wait_logged_out(timeout=10)
    with FixTestClient(port=fix_port, tmp_path=tmp_path / "b") as c:
        refused = c.expect("5", timeout=10, admin=True)
        assert "disabled by the operator" in refused.get(58)
        assert not c.logged_on
    _until(lambda: api(port, "GET", "/sessions/client1")[1]["last_refusal"] is not None)
    status, one = api(port, "GET", "/sessions/client1")
    assert one["state"] == "disabled" and "disabled by the operator" in one["last_refusal"]
    status, text = api(port, "GET", "/metrics")
    samples = _samples(text)
    assert _value(samples, "plxtra_fix_logons_refused_total", session="client1", reason="disabled") == 1
    assert _value(samples, "plxtra_fix_session_disabled", session="client1") == 1

    assert api(port, "POST", "/sessions/client1/enable")[0] == 200
    with FixTestClient(port=fix_port, tmp_path=tmp_path / "c") as c:
        c.wait_logged_on(timeout=10)
    audit = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert any("who=alice action=disable target=client1 result=ok" in a for a in audit), audit
    assert any("who=admin action=enable target=client1 result=ok" in a for a in audit), audit
    refusals = [r.getMessage() for r in caplog.records
                if r.name == "gateway.session" and "refused" in r.getMessage()]
    assert any("client1" in r and "disabled by the operator" in r for r in refusals), refusals


def test_sequence_numbers_change_only_while_logged_out(gateway) -> None:   # type: ignore[no-untyped-def]
    _, fix_port, port, tmp_path = gateway
    with FixTestClient(port=fix_port, tmp_path=tmp_path / "a") as c:
        c.wait_logged_on(timeout=10)
        status, body = api(port, "POST", "/sessions/client1/reset-seq")
        assert status == 409 and "logged on" in body["error"]
        status, body = api(port, "POST", "/sessions/client1/logout", body={"text": "maintenance"})
        assert status == 200
        assert c.expect("5", timeout=10, admin=True).get(58) == "maintenance"
        c.wait_logged_out(timeout=10)
    _until(lambda: api(port, "GET", "/sessions/client1")[1]["state"] == "logged_out")
    status, body = api(port, "POST", "/sessions/client1/set-seq", body={"next_sender": 40, "next_target": 7})
    assert status == 200 and body["next_sender_seq_num"] == 40 and body["next_target_seq_num"] == 7
    status, body = api(port, "POST", "/sessions/client1/set-seq", body={"next_sender": 0})
    assert status == 400
    status, body = api(port, "POST", "/sessions/client1/reset-seq")
    assert status == 200 and (body["next_sender_seq_num"], body["next_target_seq_num"]) == (1, 1)
    assert api(port, "POST", "/sessions/nobody/reset-seq")[0] == 404
    assert api(port, "POST", "/sessions/client1/explode")[0] == 404


def test_cancel_all_is_a_kill_switch_for_a_session_and_for_an_account(gateway) -> None:   # type: ignore[no-untyped-def]
    _, fix_port, port, tmp_path = gateway
    with FixTestClient(port=fix_port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=10)
        for i in range(3):   # far below the market: they rest
            c.send("D", buy(f"k-{i}", price="1.00"))
            c.expect("8", timeout=10, where={11: f"k-{i}", 150: "0"})
        c.send("D", buy("k-acct2", price="1.00", account="0002"))
        c.expect("8", timeout=10, where={11: "k-acct2", 150: "0"})
        status, body = api(port, "POST", "/accounts/XS:0002/cancel-all")
        assert status == 200 and body["cancel_requested"] == 1
        c.expect("8", timeout=10, where={11: "k-acct2", 150: "4"})
        status, body = api(port, "POST", "/sessions/client1/cancel-all")
        assert status == 200 and body["cancel_requested"] == 3
        for i in range(3):
            c.expect("8", timeout=10, where={11: f"k-{i}", 150: "4"})
        _until(lambda: api(port, "GET", "/sessions/client1")[1]["open_orders"] == 0)
    assert api(port, "POST", "/accounts/XS:9999/cancel-all")[0] == 404


def test_reload_logs_out_removed_sessions_starts_added_ones_and_names_what_needs_a_restart(gateway) -> None:   # type: ignore[no-untyped-def]
    import yaml

    _, fix_port, port, tmp_path = gateway
    cfg_path = tmp_path / "gateway.yaml"
    with FixTestClient(port=fix_port, tmp_path=tmp_path / "a", sender="CLIENT2", begin_string="FIX.4.2") as c:
        c.wait_logged_on(timeout=10)
        doc = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        doc["sessions"] = [s for s in doc["sessions"] if s["name"] != "client2"]
        doc["sessions"][0]["heartbeat_interval"] = 20
        doc["sessions"].append({**doc["sessions"][1], "name": "client9", "target_comp_id": "CLIENT9"})
        cfg_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        status, body = api(port, "POST", "/reload")
        assert status == 200, body
        assert body["removed"] == ["client2"] and body["added"] == ["client9"]
        assert body["changed"] == {"client1": ["heartbeat_interval"]}
        assert body["started"] == ["client9"] and body["bounced"] == []   # client2 left for good
        assert body["restart_needed"] == ["client1"]
        c.expect("5", timeout=10, admin=True)
        c.wait_logged_out(timeout=10)


def test_the_admin_token_is_needed_in_the_config(tmp_path: Path) -> None:
    import yaml

    from gateway.config.errors import ConfigError
    from gateway.config.loader import load_config

    cfg, _ = write_admin_config(tmp_path, free_port())
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    doc["admin"] = {"listen_port": 9999}
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"admin\.token: missing"):
        load_config(cfg)
    doc["admin"] = {"listen_port": 9999, "token": "short"}
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match="too short"):
        load_config(cfg)
    assert TOKEN
