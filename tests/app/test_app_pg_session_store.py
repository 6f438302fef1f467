"""QuickFIX's sequence numbers and resend history in PostgreSQL (issue 14, item 2): with
``gateway.store: postgresql://...`` every session's QuickFIX message store is QuickFIX's own
PostgreSQLStore on that database, so a new gateway process on another state directory (another
host) resumes the sessions where a killed one left them, and answers a ResendRequest for the
killed process's messages from the database. The partner is a QuickFIX initiator with a file store;
Plxtra is a simulator that outlives both gateways, as the real one would."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import quickfix as fix
import yaml
from instance_procs import two_host_configs

from gateway.app.testing import GatewayProcess, spawn_gateway_process
from gateway.cli import main
from gateway.config.errors import ConfigError
from gateway.config.loader import load_config_text
from gateway.fix.testing import FixTestClient, free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread

ORDER = [(1, "0001"), (55, "XS03"), (207, "XSX"), (54, "1"), (38, "5"), (40, "2"), (44, "1.00"), (59, "0"),
         (60, "<now>")]
SECRET = "s3cret-not-in-settings"


def _yaml(store: str | None, *, message_store: str | None = None, sender: str = "PLXTRA") -> str:
    gateway: dict[str, Any] = {"listen_port": 19878}
    if store is not None:
        gateway["store"] = store
    if message_store is not None:
        gateway["message_store"] = message_store
    session = {"name": "client1", "begin_string": "FIX.4.4", "sender_comp_id": sender,
               "target_comp_id": "CLIENT1", "role": "acceptor", "accounts": ["0001"], "markets": ["XSX"]}
    return yaml.safe_dump({"gateway": gateway, "zenith": {"url": "embedded"}, "sessions": [session]})


def test_check_config_shows_the_postgresql_store_settings_and_never_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(_yaml(f"postgresql://plx:{SECRET}@db.example:5433/fixstate"), encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    summary = capsys.readouterr().out
    assert "message store postgresql (QuickFIX's PostgreSQLStore in postgresql://plx:***@db.example" \
        in summary
    assert main(["check-config", "--settings-only", str(path)]) == 0
    text = capsys.readouterr().out
    for line in ("PostgreSQLStoreDatabase=fixstate", "PostgreSQLStoreUser=plx",
                 "PostgreSQLStoreHost=db.example", "PostgreSQLStorePort=5433", "RefreshOnLogon=Y"):
        assert line in text.splitlines(), (line, text)
    assert "FileStorePath" not in text and "PostgreSQLStorePassword" not in text
    assert SECRET not in summary + text


def test_message_store_defaults_and_refusals() -> None:
    assert load_config_text(_yaml(None)).gateway.message_store == "file"
    url = "postgresql://plx:pw@db:5432/fixstate"
    assert load_config_text(_yaml(url)).gateway.message_store == "postgresql"
    file_cfg = load_config_text(_yaml(url, message_store="file"))   # the config may still say otherwise
    assert file_cfg.gateway.message_store == "file"
    with pytest.raises(ConfigError, match=r"postgresql needs gateway\.store"):
        load_config_text(_yaml(None, message_store="postgresql"))
    # QuickFIX's store writes CompIDs into its SQL unescaped: refused with that store only.
    with pytest.raises(ConfigError, match=r"sender_comp_id.*may not contain"):
        load_config_text(_yaml(url, sender="PLX'TRA"))
    assert load_config_text(_yaml(url, message_store="file", sender="PLX'TRA")).sessions[0].sender_comp_id \
        == "PLX'TRA"


class FileStoreClient(FixTestClient):
    """The test partner with a QuickFIX file store (its numbers are its own, as a real partner's)."""

    def __init__(self, store_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings_text = self.settings_text.replace(
            "[DEFAULT]\n", f"[DEFAULT]\nFileStorePath={store_dir}\n", 1)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._settings = fix.SessionSettings()
        self._settings.setFromString(self.settings_text)
        self._store = fix.FileStoreFactory(self._settings)   # type: ignore[assignment]
        self._log = fix.FileLogFactory(self._settings)
        self._initiator = fix.SocketInitiator(self._app, self._store, self._settings, self._log)
        self._initiator.start()

    def numbers(self) -> tuple[int, int]:
        """(next MsgSeqNum to send, next expected from the gateway)."""
        session = self._session()
        assert session is not None
        return int(session.getExpectedSenderNum()), int(session.getExpectedTargetNum())

    def send_resend_request(self, begin: int) -> None:
        msg = fix.Message()
        msg.getHeader().setField(fix.BeginString(self.key.begin_string))
        msg.getHeader().setField(fix.MsgType("2"))
        msg.setField(fix.BeginSeqNo(begin))
        msg.setField(fix.EndSeqNo(0))
        assert fix.Session.sendToTarget(msg, fix.SessionID(self.key.begin_string, self.key.sender_comp_id,
                                                          self.key.target_comp_id))

    def incoming(self) -> list[dict[int, str]]:
        """Every message QuickFIX received, from its message log: resent messages below the
        expected number are logged there but never reach the application."""
        path = self.log_dir / f"{self.key.begin_string}-{self.key.sender_comp_id}-{self.key.target_comp_id}" \
                              ".messages.current.log"
        found = []
        for raw in re.findall(r"8=FIX[^\n]*", path.read_text(encoding="ascii", errors="replace")):
            fields = dict(f.split("=", 1) for f in raw.split("\x01") if "=" in f)
            found.append({int(k): v for k, v in fields.items() if k.isdigit()})
        return found


def _until(what: str, predicate: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


@pytest.mark.parametrize("instance", [False, True], ids=["restart", "standby"])
def test_new_process_on_an_empty_state_directory_resumes_the_sessions_from_postgresql(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch, instance: bool
) -> None:
    """``restart``: a plain gateway started on host B after A died. ``standby``: ``--instance a``
    on A, ``--instance a --standby`` waiting on B, which takes the lease when A stops renewing it
    (its QuickFIX connections then fenced by the lease's term, pg_schema/0004)."""
    db = f"qf_failover_{int(instance)}"
    url = pg_server.create_database(db)
    store = pg_server.config_url(db)
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    fix_port = free_port()
    with run_sim_in_thread(load_sim_config(None).with_overrides(activity=False, seed=5)) as sim:
        configs = two_host_configs(tmp_path, sim.url, fix_port, store, instance=instance)
        args = ["--instance", "a"] if instance else []
        first = spawn_gateway_process(configs[0], extra_args=args, timeout=60)
        second = None
        if instance:
            second = GatewayProcess(configs[1], [*args, "--standby"])
            _until("standby waiting", lambda: "waiting for the lease held by" in second.output(), 30)
        client = FileStoreClient(tmp_path / "client-store", port=fix_port, tmp_path=tmp_path / "client",
                                 reset_on_logon=False)
        try:
            with client:
                client.wait_logged_on(timeout=15)
                sent: dict[str, tuple[int, str]] = {}   # ClOrdID -> (MsgSeqNum of its ER New, OrderID)
                for cl in ("r1", "r2", "r3"):
                    client.send("D", [(11, cl), *ORDER])
                    er = client.expect("8", timeout=10, where={11: cl, 150: "0"})
                    sent[cl] = (int(er.get(34)), er.get(37))
                first.kill()   # kill -9
                client_next, client_expects = client.numbers()
                with psycopg.connect(url) as conn:
                    numbers = conn.execute(
                        "SELECT incoming_seqnum, outgoing_seqnum FROM sessions WHERE sendercompid = 'PLXTRA' "
                        "AND targetcompid = 'CLIENT1'").fetchone()
                    stored = dict(conn.execute(
                        "SELECT msgseqnum, message FROM messages WHERE sendercompid = 'PLXTRA' "
                        "AND targetcompid = 'CLIENT1'").fetchall())
                # What the killed process committed is exactly what the partner holds.
                assert numbers == (client_next, client_expects)
                for cl, (seq, _) in sent.items():
                    assert f"\x0111={cl}\x01" in stored[seq]

                if second is None:
                    second = spawn_gateway_process(configs[1], timeout=60)
                else:
                    second.wait_ready(60)   # the lease lapses after ttl, then the standby starts
                _until("partner logged on to the new process",
                       lambda: client.logons == 2 and client.logged_on, 20)
                logon = [m for m in client.admin if m.msg_type == "A"][-1]
                assert int(logon.get(34)) == client_expects   # the numbers continue: no reset
                assert logon.get(141) in (None, "N")
                assert not [m for m in client.admin if m.msg_type == "4" and m.get(123) != "Y"]
                if instance:
                    assert "took over the lease (epoch 2)" in second.output(), second.output()
                    with psycopg.connect(url) as conn:   # QuickFIX's connection carries the new term
                        named = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name "
                                             "= 'plxtra:2:a' AND query ~ '(sessions|messages) '").fetchone()
                    assert named is not None and named[0] >= 1

                first_er = min(seq for seq, _ in sent.values())
                client.send_resend_request(first_er)
                wanted = {seq: (cl, order_id) for cl, (seq, order_id) in sent.items()}
                resent: dict[int, dict[int, str]] = {}

                def all_resent() -> bool:
                    # The answers under their first numbers; the new process may also repeat an answer
                    # whose delivery the killed one had not confirmed yet (PossResend, a new number).
                    for m in client.incoming():
                        if m.get(35) == "8" and m.get(43) == "Y" and int(m[34]) in wanted:
                            resent[int(m[34])] = m
                    return len(resent) == len(wanted)

                _until("ResendRequest answered with the stored ERs", all_resent, 15)
                for seq, (cl, order_id) in wanted.items():
                    m = resent[seq]
                    assert (m[11], m[37], m[150], m.get(122) is not None) == (cl, order_id, "0", True), m
                gap_fills = [m for m in client.incoming() if m.get(35) == "4" and int(m[34]) >= first_er]
                for m in gap_fills:   # gap fills cover admin messages only, never an ER
                    assert not any(int(m[34]) <= seq < int(m[36]) for seq, _ in sent.values()), m

                # The order state is in the database too: the new process answers a status request
                # for an order the killed one placed.
                client.send("H", [(11, "r1"), (55, "XS03"), (207, "XSX"), (54, "1")])
                status = client.expect("8", timeout=10, where={11: "r1", 150: "I"})
                assert (status.get(37), status.get(39)) == (sent["r1"][1], "0")
            b_dir = tmp_path / "b"
            assert not (b_dir / "fixstore").exists()        # no QuickFIX file store on the new host
            assert not (b_dir / "gateway.sqlite").exists()  # nor a SQLite state
        finally:
            first.kill()
            if second is not None:
                assert second.terminate() == 0, second.output()


def test_quickfix_store_writes_are_refused_once_the_instance_lease_moved_on(
    pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger of pg_schema/0004: QuickFIX's own connections, named after the lease's term
    (gateway/app/instance.py sets PGAPPNAME), cannot write once another owner took the lease or
    the lease expired; other connections are not fenced."""
    from gateway.store.pg_migrate import migrate

    url = pg_server.create_database("qf_fence")
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute("INSERT INTO leases (name, owner, epoch, expires_at, acquired_at, renewed_at) "
                     "VALUES ('a', 'host:1:x', 2, now() + interval '1 minute', now(), now())")
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    monkeypatch.setenv("PGAPPNAME", "plxtra:2:a")   # what the owner of epoch 2 runs with
    settings = fix.SessionSettings()
    settings.setFromString(
        f"[DEFAULT]\nPostgreSQLStoreDatabase=qf_fence\nPostgreSQLStoreUser={pg_server.user}\n"
        f"PostgreSQLStoreHost={pg_server.host}\nPostgreSQLStorePort={pg_server.port}\n"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=PLXTRA\nTargetCompID=CLIENT1\nConnectionType=acceptor\n")
    factory = fix.PostgreSQLStoreFactory(settings)
    store = factory.create(fix.UtcTimeStamp.now(), fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
    store.set(1, "8=FIX.4.4\x0135=8\x01")
    store.incrNextSenderMsgSeqNum()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE leases SET owner = 'host:2:y', epoch = 3")   # a standby took over
    # QuickFIX reports the failed statement, not the server's reason (QuickFIX then sends nothing:
    # Session::sendRaw persists before it sends).
    with pytest.raises(Exception, match="Query failed"):
        store.set(2, "8=FIX.4.4\x0135=0\x01")
    with pytest.raises(Exception, match="Query failed"):
        store.incrNextSenderMsgSeqNum()
    with psycopg.connect(url, autocommit=True, application_name="plxtra:2:a") as conn, \
            pytest.raises(psycopg.errors.SerializationFailure, match="lease a epoch 2 is no longer valid"):
        conn.execute("UPDATE sessions SET outgoing_seqnum = 9")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE leases SET epoch = 2, expires_at = now() - interval '1 second'")   # expired
    with pytest.raises(Exception, match="Query failed"):
        store.set(2, "8=FIX.4.4\x0135=0\x01")
    with psycopg.connect(url, autocommit=True, application_name="psql") as conn:   # not PGAPPNAME's
        assert conn.execute("SELECT msgseqnum FROM messages").fetchall() == [(1,)]
        assert conn.execute("SELECT outgoing_seqnum FROM sessions").fetchone() == (2,)
        # A connection that names no term (an operator, a gateway without --instance) may write.
        conn.execute("UPDATE sessions SET incoming_seqnum = 1")
    del store
    del factory


def test_the_password_and_libpq_options_reach_quickfix_through_the_environment(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.fix.message_store import export_store_environment

    for name in ("PGPASSWORD", "PGSSLMODE", "PGCONNECT_TIMEOUT"):
        monkeypatch.setenv(name, "before")   # restored after the test
    monkeypatch.setenv("SECRET_FROM_ENV", "p@ss:w/rd%")
    url = "postgresql://plx:${SECRET_FROM_ENV}@db:5432/fixstate?sslmode=require&application_name=x"
    config = load_config_text(_yaml(url))
    export_store_environment(config.gateway)
    assert os.environ["PGPASSWORD"] == "p@ss:w/rd%"
    assert os.environ["PGSSLMODE"] == "require"
    assert os.environ["PGCONNECT_TIMEOUT"] == "before"   # not in the URL: left alone
