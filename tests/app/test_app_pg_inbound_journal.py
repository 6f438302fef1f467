"""The inbound journal in PostgreSQL, end to end (issue 14): a gateway with ``gateway.store:
postgresql://...`` on state directory A is killed -9 after a NewOrderSingle was journaled and before
its decision was committed; a new process on an empty directory B (a restart on another host, or the
instance's ``--standby`` there) replays it from the database. The partner gets exactly one answer
for that ClOrdID and Plxtra holds the order once.

Crash points (gateway.failpoints): ``store-apply-midway`` is the one a file journal loses: QuickFIX
has counted the D in the database (the partner will not resend it) and the turn's batch, with its
decision, was never sent. ``journal-appended`` comes before QuickFIX counts it: the partner's resend
(PossDup) and the replay both bring it back, and it must still be decided once."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from instance_procs import two_host_configs

from gateway.app.testing import GatewayProcess, spawn_gateway_process
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import SimHandle, run_sim_in_thread
from gateway.store.inbound_journal import decode
from gateway.vocab.records import InboundMessage
from gateway.zenith import ZenithClient

ORDER = [(1, "0001"), (21, "1"), (55, "XS04"), (207, "XSX"), (54, "1"), (38, "33"), (40, "2"), (44, "4.00"),
         (59, "0"), (60, "<now>")]


def _until(what: str, predicate: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def _plxtra_orders(sim: SimHandle) -> list[dict[str, Any]]:
    async def query() -> Any:
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        await client.start()
        try:
            return await client.request("Trading", "QueryOrders", {"Account": "XS:0001"})
        finally:
            await client.close()

    return list(sim.call(query))


def _answers(client: FixTestClient, cl: str) -> list[InboundMessage]:
    return [m for m in client.received if m.msg_type in ("8", "9") and m.get(11) == cl]


@pytest.mark.parametrize("point", ["store-apply-midway", "journal-appended"])
@pytest.mark.parametrize("standby", [False, True], ids=["restart", "standby"])
def test_an_order_journaled_but_undecided_when_the_host_died_is_decided_once_by_the_next_one(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch, point: str, standby: bool
) -> None:
    db = f"ij_{point.replace('-', '_')}_{int(standby)}"
    url = pg_server.create_database(db)
    store = pg_server.config_url(db)
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    fix_port = free_port()
    with run_sim_in_thread(load_sim_config(None).with_overrides(activity=False, seed=7)) as sim:
        configs = two_host_configs(tmp_path, sim.url, fix_port, store, instance=standby)
        args = ["--instance", "a"] if standby else []
        first = spawn_gateway_process(configs[0], extra_args=args, env={"PLXTRA_FIX_CRASH_AT": point},
                                      timeout=60)
        second: GatewayProcess | None = None
        if standby:
            waiting = second = GatewayProcess(configs[1], [*args, "--standby"])
            _until("standby waiting", lambda: "waiting for the lease held by" in waiting.output(), 30)
        client = FixTestClient(port=fix_port, tmp_path=tmp_path / "client", reset_on_logon=False)
        try:
            with client:
                client.wait_logged_on(timeout=15)
                client.send("D", [(11, "lost1"), *ORDER])
                assert first.proc.wait(timeout=15) == -9, first.output()   # killed at the point
                with psycopg.connect(url) as conn:
                    rows = conn.execute("SELECT record FROM inbound_journal").fetchall()
                    counted = conn.execute(
                        "SELECT incoming_seqnum FROM sessions WHERE targetcompid = 'CLIENT1'").fetchone()
                    decided = conn.execute("SELECT count(*) FROM decisions").fetchone()
                journaled = [decode(r[0].encode()) for r in rows]
                assert [(m.msg_type, m.get(11)) for m in journaled] == [("D", "lost1")]
                assert decided == (0,)   # the host died before the decision was committed
                assert counted is not None
                d_seq = journaled[0].msg_seq_num
                # store-apply-midway: QuickFIX counted the D (expects the next one): no resend will
                # bring it back, only the journal. journal-appended: not counted yet.
                assert counted[0] == (d_seq + 1 if point == "store-apply-midway" else d_seq), (counted, d_seq)

                if second is None:
                    second = spawn_gateway_process(configs[1], timeout=60)
                else:
                    second.wait_ready(60)   # after the lease lapses (ttl 2 s)
                _until("partner logged on to the new process",
                       lambda: client.logons == 2 and client.logged_on, 20)
                _until("an answer for lost1", lambda: any(m.get(150) in ("0", "8") for m in
                                                          _answers(client, "lost1")), 20)
                time.sleep(1.5)   # anything else for lost1 would come now
                fresh = [m for m in _answers(client, "lost1") if m.get(97) != "Y"]
                kinds = [m.get(150) for m in fresh]
                assert kinds in (["0"], ["A", "0"], ["8"]), _answers(client, "lost1")
                repeats = [m for m in _answers(client, "lost1") if m.get(97) == "Y"]
                assert all(m.get(17) in {f.get(17) for f in fresh} for m in repeats), repeats
                assert "deciding journaled D ClOrdID lost1" in second.output(), second.output()
            orders = [o for o in _plxtra_orders(sim) if Decimal(str(o["Details"]["Quantity"])) == 33]
            assert len(orders) == (1 if kinds[-1] == "0" else 0), orders
            with psycopg.connect(url) as conn:
                def first_copy_left() -> list[InboundMessage]:
                    got = [decode(r[0].encode()) for r in conn.execute("SELECT record FROM inbound_journal")]
                    # The partner's PossDup resend (journal-appended) is journaled by this run: it
                    # stays until the next start; the dead host's record is compacted once decided.
                    return [m for m in got if m.get(11) == "lost1" and m.get(43) != "Y"]
                _until("the dead host's record compacted", lambda: not first_copy_left(), 10)
            b_dir = tmp_path / "b"
            assert not list(b_dir.glob("*.inbound"))   # no local journal on the new host
        finally:
            first.kill()
            if second is not None:
                assert second.terminate() == 0, second.output()
