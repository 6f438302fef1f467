"""The quickfix that deploy/build-quickfix-ssl.sh installs (issue 14, item 2): built with
HAVE_POSTGRESQL, its PostgreSQLStore works against a real PostgreSQL server, with our two fixes of
deploy/patch-quickfix.py (the port as an int, the escaped overwrite UPDATE)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
import quickfix as fix

from gateway.fix.message_store import postgresql_available
from gateway.store.pg_migrate import migrate

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_quickfix_is_the_current_build_with_postgresql() -> None:
    tag = re.search(r'^LOCAL_TAG="([^"]+)"', (ROOT / "deploy" / "build-quickfix-ssl.sh").read_text(),
                    re.MULTILINE)
    assert tag is not None
    assert version("quickfix").endswith("+" + tag.group(1)), version("quickfix")
    assert postgresql_available()   # the PyPI stub raises "HAVE_POSTGRESQL not enabled"


def _store(pg_server: Any, database: str, sender: str) -> Any:
    settings = fix.SessionSettings()
    settings.setFromString(
        f"[DEFAULT]\nPostgreSQLStoreDatabase={database}\nPostgreSQLStoreUser={pg_server.user}\n"
        f"PostgreSQLStoreHost={pg_server.host}\nPostgreSQLStorePort={pg_server.port}\n"
        f"[SESSION]\nBeginString=FIX.4.4\nSenderCompID={sender}\nTargetCompID=PEER\n"
        "ConnectionType=acceptor\n")
    factory = fix.PostgreSQLStoreFactory(settings)
    sid = fix.SessionID("FIX.4.4", sender, "PEER")
    return factory, factory.create(fix.UtcTimeStamp.now(), sid)


def test_postgresql_store_on_a_port_above_32767_overwrites_a_message_with_a_quote(
    pg_server: Any, monkeypatch: Any
) -> None:
    url = pg_server.create_database("qf_build")
    with psycopg.connect(url) as conn:
        migrate(conn)   # 0004: QuickFIX's sessions and messages tables
    monkeypatch.setenv("PGPASSWORD", pg_server.password)   # never in the settings text
    # The ephemeral port range starts at 32768: as a C short this port wrapped negative.
    assert pg_server.port > 32767, pg_server.port
    factory, store = _store(pg_server, "qf_build", "BUILD")
    assert (store.getNextSenderMsgSeqNum(), store.getNextTargetMsgSeqNum()) == (1, 1)
    store.set(1, "8=FIX.4.4\x0158=it's\x01")
    # A seqnum sent again after a crash: the overwrite UPDATE failed on the quote before the patch.
    store.set(1, "8=FIX.4.4\x0158=it's again\x01")
    store.incrNextSenderMsgSeqNum()
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT msgseqnum, message FROM messages WHERE sendercompid = 'BUILD'").fetchall()
        seq = conn.execute("SELECT incoming_seqnum, outgoing_seqnum FROM sessions "
                           "WHERE sendercompid = 'BUILD'").fetchone()
    assert rows == [(1, "8=FIX.4.4\x0158=it's again\x01")]
    assert seq == (1, 2)
    # A second store of the same session (another process taking over) starts where this one is.
    factory2, again = _store(pg_server, "qf_build", "BUILD")
    assert again.getNextSenderMsgSeqNum() == 2
    del store, again   # the stores before the factories that own their connection pool
    del factory, factory2
