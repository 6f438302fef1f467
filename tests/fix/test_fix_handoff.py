"""GatewayApplication's callbacks, called the way the loop driver calls them (on the loop thread,
inside a poll): journal, then dispatch, both before fromApp returns; no exception escapes; a
callback from another thread is still handed to the loop, in order."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import quickfix as fix

from gateway.app.testing import write_test_config
from gateway.config.loader import load_config
from gateway.fix.handoff import GatewayApplication, QuickFixOutbox
from gateway.vocab.records import InboundMessage, SessionKey
from gateway.vocab.wire import build_message

SENDERS = ["CLIENT1", "CLIENT2", "CLIENT3", "CLIENT4"]
PER_THREAD = 1500


class RecordingInbox:
    handled_types = frozenset({"D"})

    def __init__(self, events: list[str] | None = None) -> None:
        self.got: list[InboundMessage] = []
        self.threads: set[str] = set()
        self.events = events if events is not None else []

    def dispatch(self, msg: InboundMessage) -> None:
        if msg.get(11) == "boom":
            raise RuntimeError("dispatch bug on purpose")
        self.threads.add(threading.current_thread().name)
        self.got.append(msg)
        self.events.append(f"dispatch {msg.msg_seq_num}")

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


class ListJournal:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def append(self, record: InboundMessage) -> None:
        self.events.append(f"journal {record.msg_seq_num}")


def _message(sender: str, seq: int, cl_ord_id: str | None = None) -> fix.Message:
    text = build_message("FIX.4.4", "D", [(49, sender), (56, "PLXTRA"), (34, str(seq))],
                         [(11, cl_ord_id or f"{sender}-{seq}"), (55, "XS01")])
    return fix.Message(text, False)


def test_from_app_on_the_loop_journals_then_dispatches_before_returning(tmp_path: Path) -> None:
    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999))
    events: list[str] = []
    inbox = RecordingInbox(events)

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        app = GatewayApplication(config, inbox, loop, QuickFixOutbox(lambda key: None),
                                 journal=ListJournal(events), journal_types=frozenset({"D"}))
        sid = fix.SessionID("FIX.4.4", "PLXTRA", "CLIENT1")
        for seq in (1, 2):
            app.fromApp(_message("CLIENT1", seq), sid)
            events.append(f"returned {seq}")
        app.fromApp(_message("CLIENT1", 3, "boom"), sid)   # a dispatch bug: logged, contained
        assert app.callback_errors == 0   # dispatch errors are the registry's to answer
        return events

    got = asyncio.run(main())
    assert got[:6] == ["journal 1", "dispatch 1", "returned 1", "journal 2", "dispatch 2", "returned 2"]
    assert got[6:] == ["journal 3"]
    assert inbox.threads == {threading.current_thread().name}


def test_concurrent_from_app_calls_off_the_loop_arrive_on_it_complete_and_in_order(tmp_path: Path) -> None:
    """A threaded connector (not used by the gateway any more) would call from its own threads."""
    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999))
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="the-loop", daemon=True)
    loop_thread.start()
    inbox = RecordingInbox()
    app = GatewayApplication(config, inbox, loop, QuickFixOutbox(lambda key: None))

    def engine_thread(sender: str) -> None:
        sid = fix.SessionID("FIX.4.4", "PLXTRA", sender)
        for seq in range(1, PER_THREAD + 1):
            app.fromApp(_message(sender, seq), sid)

    threads = [threading.Thread(target=engine_thread, args=(s,), name=f"qf-{s}") for s in SENDERS]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

        async def drained() -> None:   # bounded
            for _ in range(10_000):
                if len(inbox.got) == PER_THREAD * len(SENDERS):
                    return
                await asyncio.sleep(0.001)
        asyncio.run_coroutine_threadsafe(drained(), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(5)
    assert inbox.threads == {"the-loop"}
    assert len(inbox.got) == PER_THREAD * len(SENDERS)
    for sender in SENDERS:
        seqs = [m.msg_seq_num for m in inbox.got if m.session.target_comp_id == sender]
        assert seqs == list(range(1, PER_THREAD + 1))
    assert app.callback_errors == 0
