"""``plxtra-fix run --instance NAME [--standby]`` (issue 14, item 3): two real gateway processes on
one instance, its lease and order state in a real PostgreSQL server, one host and shared state
folders (QuickFIX file stores; QuickFIX's own PostgreSQL message store is the next step)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from instance_procs import listening_pids as _listening_pids
from instance_procs import until as _until

from gateway.app.testing import GatewayProcess, spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port

TTL = 2.0
# After the active's last renewal the standby takes the lease within ttl + ttl/3 (its poll); then it
# starts like any gateway (embedded simulator, dictionaries, QuickFIX): a few seconds on a busy host.
TAKEOVER_BOUND = TTL + TTL / 3 + 20.0
ORDER = [(1, "0001"), (55, "XS03"), (207, "XSX"), (54, "1"), (38, "5"), (40, "2"), (44, "1.00"), (59, "0"),
         (60, "<now>")]


def _config(tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch, db: str) -> tuple[Path, int]:
    pg_server.create_database(db)
    store = pg_server.config_url(db)
    fix_port = free_port()
    sim_yaml = tmp_path / "sim.yaml"
    sim_yaml.write_text("seed: 3\nmarket:\n  activity: off\n", encoding="utf-8")
    cfg = write_test_config(tmp_path, "embedded", fix_port, gateway={"store": store},
                            zenith={"sim_config": str(sim_yaml)})
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f"\ninstances:\n  a: {{sessions: [client1, client2], lease_ttl: {TTL:g}}}\n"
                "  b: [client3]\n")
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    return cfg, fix_port


def _standby(cfg: Path) -> GatewayProcess:
    standby = GatewayProcess(cfg, ["--instance", "a", "--standby"])
    _until("standby waiting", lambda: "waiting for the lease held by" in standby.output(), 30)
    return standby


def test_standby_takes_over_after_kill_9_and_partner_resumes_its_sequence(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, fix_port = _config(tmp_path, pg_server, monkeypatch, "inst_kill")
    active = spawn_gateway_process(cfg, extra_args=["--instance", "a"], timeout=60)
    standby = _standby(cfg)
    try:
        assert _listening_pids(fix_port) == {active.pid}   # the standby does not listen
        c = FixTestClient(port=fix_port, tmp_path=tmp_path / "client", reset_on_logon=False)
        with c:
            c.wait_logged_on(timeout=15)
            c.send("D", [(11, "k1"), *ORDER])
            new = c.expect("8", timeout=10, where={11: "k1", 150: "0"})
            order_id, last_seq = new.get(37), int(new.get(34))
            active.kill()   # kill -9
            took = _until("standby listening", lambda: _listening_pids(fix_port) == {standby.pid},
                          TAKEOVER_BOUND)
            _until("partner logged on again", lambda: c.logons == 2 and c.logged_on, 15)
            logon = [m for m in c.admin if m.msg_type == "A"][-1]
            assert int(logon.get(34)) == last_seq + 1   # the sequence continues: no reset, no gap
            assert logon.get(141) in (None, "N")
            # No SequenceReset from the gateway; a ResendRequest may only ask for the client's Logon
            # attempts made while no gateway answered (admin, gap-filled), never for the order it took.
            assert not [m for m in c.admin if m.msg_type == "4"]
            assert all(int(m.get(7)) > 2 for m in c.admin if m.msg_type == "2")
            c.send("H", [(11, "k1"), (55, "XS03"), (207, "XSX"), (54, "1")])
            status = c.expect("8", timeout=10, where={11: "k1", 150: "I"})
            assert (status.get(37), status.get(39)) == (order_id, "0")
        assert "took over the lease" in standby.output(), standby.output()
        assert "instance a: lease epoch 2 held as" in standby.output()
        print(f"standby listening {took:.2f} s after kill -9 (ttl {TTL:g} s)")
        assert standby.terminate() == 0
        assert "instance a: lease released" in standby.output()   # a clean stop frees it at once
    finally:
        active.kill()
        standby.kill()


def test_second_active_exits_1_at_once_and_bad_instance_exits_2(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _fix_port = _config(tmp_path, pg_server, monkeypatch, "inst_busy")
    active = spawn_gateway_process(cfg, extra_args=["--instance", "a"], timeout=60)
    try:
        second = GatewayProcess(cfg, ["--instance", "a"])
        start = time.monotonic()
        assert second.wait(15) == 1
        assert time.monotonic() - start < 10
        out = second.output()
        assert "instance a is served by" in out and f":{active.pid}:" in out, out
        unknown = GatewayProcess(cfg, ["--instance", "zz"])
        assert unknown.wait(15) == 2
        assert "unknown instance 'zz'" in unknown.output()
        assert active.proc.poll() is None
    finally:
        assert active.terminate() == 0


def test_sigstop_longer_than_ttl_standby_takes_over_old_exits_3_answering_nothing(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, fix_port = _config(tmp_path, pg_server, monkeypatch, "inst_stop")
    active = spawn_gateway_process(cfg, extra_args=["--instance", "a"], timeout=60)
    standby = _standby(cfg)
    try:
        c = FixTestClient(port=fix_port, tmp_path=tmp_path / "client", reset_on_logon=False)
        with c:
            c.wait_logged_on(timeout=15)
            os.kill(active.pid, signal.SIGSTOP)
            c.send("D", [(11, "s1"), *ORDER])   # waits in the stopped process's socket
            _until("standby took the lease", lambda: "took over the lease" in standby.output(),
                   TTL + TTL / 3 + 5)
            received, logons = len(c.received), c.logons
            os.kill(active.pid, signal.SIGCONT)
            assert active.wait(10) == 3
            assert "lease a lost" in active.output(), active.output()
            assert len(c.received) == received   # the old owner answered nothing
            _until("standby listening", lambda: _listening_pids(fix_port) == {standby.pid}, 30)
            _until("partner logged on to the standby", lambda: c.logons == logons + 1 and c.logged_on, 15)
            # The order the stopped owner never read reaches the new owner (QuickFIX's resend) and is
            # answered there, once.
            c.expect("8", timeout=15, where={11: "s1", 150: "0"})
        assert standby.terminate() == 0
    finally:
        if active.proc.poll() is None:
            os.kill(active.pid, signal.SIGCONT)
        active.kill()
        standby.kill()


def test_instance_needs_postgresql_and_standby_needs_instance(tmp_path: Path) -> None:
    cfg = write_test_config(tmp_path, "embedded", free_port())   # SQLite store, no instances
    plain = GatewayProcess(cfg, ["--instance", "a"])
    assert plain.wait(20) == 2
    assert "--instance needs gateway.store: postgresql://" in plain.output()
    lone = GatewayProcess(cfg, ["--standby"])
    assert lone.wait(20) == 2
    assert "--standby needs --instance NAME" in lone.output()
    assert not (tmp_path / "gateway.sqlite").exists()   # refused before touching any state
