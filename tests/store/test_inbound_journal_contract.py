"""The inbound journal's contract against both backends: the file beside the SQLite store and the
instance's table in PostgreSQL (``gateway.store: postgresql://...``, real server: ``pg_server``).

Both: append order kept, a record read back exactly by a later run, compaction by the service's rule
(drop what ``keep`` rejects) that neither loses nor doubles a record appended meanwhile, a closed
journal refusing appends. Per backend where it applies: a torn last line (file), a refused write
leaving nothing (PostgreSQL), fencing by the lease's term, instances kept apart, another host's
clock. And the hand-off's side: a failed append refuses the message, it is not dispatched."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import quickfix as fix

from gateway.app.testing import write_test_config
from gateway.config.loader import load_config
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.store.errors import StoreError
from gateway.store.inbound_journal import (
    InboundJournal,
    Journal,
    encode,
    journal_for,
    journal_path,
    open_inbound_journal,
    replayable,
)
from gateway.store.orders_store import store_path_of
from gateway.store.pg_inbound_journal import PgInboundJournal
from gateway.store.pg_migrate import migrate
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.wire import build_message

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
_names = itertools.count()


def msg(cl: str, seq: int, received_ns: int = 1, msg_type: str = "D") -> InboundMessage:
    fields = ((35, msg_type), (34, str(seq)), (11, cl), (58, "é\n|\x01 'text'"), (55, "XS01"))
    return InboundMessage(KEY, msg_type, seq, fields, received_ns)


@pytest.fixture(scope="module")
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_server").create_database("inbound_journal"))


# A backend: a function opening "the journal of one place" again, as a new process (run) would.
Opener = Callable[[], Journal]


@pytest.fixture(params=["file", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[Journal] = []
    if request.param == "file":
        path = tmp_path / "gateway.sqlite.inbound"

        def open_file() -> Journal:
            opened.append(InboundJournal(path))
            return opened[-1]
        yield open_file
    else:
        url = request.getfixturevalue("db_url")
        instance = f"c{next(_names)}"   # a fresh instance: the rows of this test only

        def open_pg() -> Journal:
            opened.append(PgInboundJournal(url, instance=instance))
            return opened[-1]
        yield open_pg
    for j in opened:
        j.close()


def test_appends_are_read_back_exactly_in_order_by_a_later_run(opener: Opener) -> None:
    first = opener()
    sent = [msg(f"o{i}", i + 1, received_ns=1000 + i, msg_type="DFGq"[i % 4]) for i in range(12)]
    for m in sent:
        first.append(m)
    assert first.records() == sent
    first.close()
    assert first.closed
    assert opener().records() == sent   # another process (another host, for PostgreSQL)


def test_compact_drops_what_keep_rejects_and_appends_go_on(opener: Opener) -> None:
    journal = opener()
    old = [msg(f"old{i}", i + 1, received_ns=10) for i in range(5)]
    new = [msg(f"new{i}", i + 6, received_ns=20) for i in range(3)]
    for m in old + new:
        journal.append(m)
    # The orders service's rule: keep this run's records (received at or after its start).
    assert journal.compact(lambda m: m.received_ns >= 20) == 5
    assert journal.records() == new
    journal.append(msg("after", 9, received_ns=30))
    assert [m.get(11) for m in opener().records()] == ["new0", "new1", "new2", "after"]
    assert journal.compact(lambda m: True) == 0


def test_compaction_neither_loses_nor_doubles_records_appended_meanwhile(opener: Opener) -> None:
    journal = opener()
    for i in range(50):
        journal.append(msg(f"early{i}", i + 1, received_ns=1))
    stop = threading.Event()
    appended: list[str] = []

    def writer() -> None:
        for i in range(400):   # bounded
            if stop.is_set():
                return
            journal.append(msg(f"live{i}", 100 + i, received_ns=5))
            appended.append(f"live{i}")

    thread = threading.Thread(target=writer)
    thread.start()
    dropped = 0
    for _ in range(5):
        dropped += journal.compact(lambda m: m.received_ns >= 5)
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=30)
    assert dropped == 50
    assert [m.get(11) for m in journal.records()] == appended


def test_a_closed_journal_refuses_appends(opener: Opener) -> None:
    journal = opener()
    journal.close()
    with pytest.raises(StoreError, match="closed"):
        journal.append(msg("late", 1))


def test_file_a_torn_last_line_is_dropped_and_appends_start_clean(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = InboundJournal(path)
    journal.append(msg("whole", 1))
    journal.close()
    with open(path, "ab") as f:
        f.write(b'{"s":["FIX.4.4","PLXTRA","CLIENT1",""],"t":"D","n":2,')   # a write cut by kill -9
    again = InboundJournal(path)
    again.append(msg("next", 3))
    assert [m.get(11) for m in again.records()] == ["whole", "next"]
    again.close()


def _lease(url: str, name: str, epoch: int, valid: bool = True) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO leases (name, owner, epoch, expires_at, acquired_at, renewed_at) "
            "VALUES (%s, 'host:1:x', %s, now() + %s * interval '1 minute', now(), now()) "
            "ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, expires_at = excluded.expires_at",
            (name, epoch, 1 if valid else -1))


def test_postgresql_a_process_whose_lease_term_is_over_can_neither_append_nor_compact(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger of 0004 on the journal's table: the connection carries the term it was opened
    under (PGAPPNAME, set by gateway/app/instance.py when the lease is taken)."""
    name = f"f{next(_names)}"
    _lease(db_url, name, 1)
    monkeypatch.setenv("PGAPPNAME", f"plxtra:1:{name}")
    owner = PgInboundJournal(db_url, instance=name)
    owner.append(msg("in-term", 1))
    _lease(db_url, name, 2)   # a standby took the lease over
    with pytest.raises(StoreError, match=r"lease f\d+ epoch 1 is no longer valid"):
        owner.append(msg("after-takeover", 2))
    with pytest.raises(StoreError, match="no longer valid"):
        owner.compact(lambda m: False)
    monkeypatch.setenv("PGAPPNAME", f"plxtra:2:{name}")
    standby = PgInboundJournal(db_url, instance=name)
    # The refused write left nothing; the standby reads what the old owner appended in its term.
    assert [m.get(11) for m in standby.records()] == ["in-term"]
    standby.append(msg("standby", 3))
    _lease(db_url, name, 2, valid=False)   # expired, nobody took it: still no write
    with pytest.raises(StoreError, match="no longer valid"):
        standby.append(msg("expired", 4))
    monkeypatch.delenv("PGAPPNAME")
    operator = PgInboundJournal(db_url, instance=name)   # a connection naming no term is not fenced
    assert [m.get(11) for m in operator.records()] == ["in-term", "standby"]
    for j in (owner, standby, operator):
        j.close()


def test_postgresql_instances_sharing_a_database_see_their_own_records_only(db_url: str) -> None:
    a = PgInboundJournal(db_url, instance=f"a{next(_names)}")
    b = PgInboundJournal(db_url, instance=f"b{next(_names)}")
    a.append(msg("of-a", 1))
    b.append(msg("of-b", 1))
    assert [m.get(11) for m in a.records()] == ["of-a"]
    assert b.compact(lambda m: False) == 1
    assert [m.get(11) for m in a.records()] == ["of-a"] and b.records() == []
    a.close()
    b.close()


def test_postgresql_a_dead_host_whose_clock_ran_ahead_still_gets_its_records_replayed(db_url: str) -> None:
    name = f"k{next(_names)}"
    dead = PgInboundJournal(db_url, instance=name)
    ahead = time.time_ns() + 60 * 10**9   # that host's clock: one minute ahead of ours
    dead.append(msg("on-dead-host", 7, received_ns=ahead))
    dead.close()
    standby = PgInboundJournal(db_url, instance=name)
    started_ns = time.time_ns()   # the orders service starts after its journal is opened
    standby.append(msg("this-run", 8, received_ns=0))   # stamped now, as the hand-off does
    records = standby.records()
    assert [m.get(11) for m in records] == ["on-dead-host", "this-run"]
    assert records[0].received_ns < standby.opened_ns <= started_ns
    assert [m.get(11) for m in replayable(records, started_ns, lambda m: False)] == ["on-dead-host"]
    assert standby.compact(lambda m: m.received_ns >= started_ns) == 1
    standby.close()


def test_postgresql_a_lost_connection_fails_the_append_then_the_journal_reconnects(db_url: str) -> None:
    journal = PgInboundJournal(db_url, instance=f"r{next(_names)}")
    journal.append(msg("before", 1))
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (journal._conn.info.backend_pid,))  # type: ignore[union-attr]
    lost = msg("lost", 2, received_ns=12345)
    with pytest.raises(StoreError, match="append failed"):
        journal.append(lost)
    with psycopg.connect(db_url, autocommit=True) as admin:
        # What a commit whose reply the broken connection lost would have left: the partner was
        # refused (35=j), so the row must not be replayed at the next start.
        admin.execute("INSERT INTO inbound_journal (instance, run, received_ns, record) VALUES "
                      "(%s, %s, 12345, %s)", (journal.instance, journal.run, encode(lost).decode().strip()))
    deadline = time.monotonic() + 5
    while True:   # one reconnection try per RECONNECT_EVERY (1 s): bounded
        try:
            journal.append(msg("after", 3))
            break
        except StoreError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert [m.get(11) for m in journal.records()] == ["before", "after"]
    journal.close()


def _config(tmp_path: Path, store: str | None) -> Any:
    return load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999,
                                         gateway={"store": store} if store else None))


def test_open_inbound_journal_chooses_by_the_store_and_is_what_the_service_finds(
    tmp_path: Path, db_url: str
) -> None:
    sqlite = _config(tmp_path / "sqlite", None)
    journal = open_inbound_journal(sqlite)
    assert isinstance(journal, InboundJournal)
    assert journal.path == journal_path(store_path_of(sqlite))
    assert journal_for(journal_path(store_path_of(sqlite))) is journal
    journal.close()

    pg = _config(tmp_path / "pg", db_url)
    journal = open_inbound_journal(pg, instance="svc")
    assert isinstance(journal, PgInboundJournal) and journal.instance == "svc"
    # The orders service asks by the store's path (orders_service.py): it gets this one, no file.
    assert journal_for(journal_path(store_path_of(pg))) is journal
    assert open_inbound_journal(pg, instance="svc") is journal
    assert not journal_path(store_path_of(pg)).exists()
    journal.close()
    default = open_inbound_journal(pg)   # the store's instance without --instance
    assert isinstance(default, PgInboundJournal) and default.instance == "default"
    default.close()


class _FailingJournal:
    closed = False

    def append(self, record: InboundMessage) -> None:
        raise StoreError("inbound journal append failed: server closed the connection")


class _Inbox:
    handled_types = frozenset({"D"})

    def __init__(self) -> None:
        self.got: list[InboundMessage] = []

    def dispatch(self, m: InboundMessage) -> None:
        self.got.append(m)

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


class _Outbox(QuickFixOutbox):
    def __init__(self) -> None:
        super().__init__(lambda key: None)
        self.given: list[Any] = []

    def send(self, message: Any) -> Any:   # type: ignore[override]
        self.given.append(message)


def test_the_hand_off_refuses_a_message_it_could_not_journal(tmp_path: Path) -> None:
    """Dispatched unjournaled, an order a crash caught before its decision would be lost (QuickFIX
    counted it): it is answered with a BusinessMessageReject instead, and never reaches a service."""
    config = _config(tmp_path, None)
    inbox, outbox = _Inbox(), _Outbox()

    async def main() -> None:
        app = GatewayApplication(config, inbox, asyncio.get_running_loop(), outbox,
                                 journal=_FailingJournal(), journal_types=frozenset({"D"}))
        text = build_message("FIX.4.4", "D", [(49, "CLIENT1"), (56, "PLXTRA"), (34, "4")],
                             [(11, "unjournaled"), (55, "XS01")])
        app.fromApp(fix.Message(text, False), fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1"))
        assert app.callback_errors == 1

    asyncio.run(main())
    assert inbox.got == []
    [reject] = outbox.given
    fields = dict(reject.fields)
    assert (reject.msg_type, fields[45], fields[379]) == ("j", "4", "unjournaled"), reject
