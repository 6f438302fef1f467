"""The hand-off itself, driven from several threads the way QuickFIX drives it."""

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

    def __init__(self) -> None:
        self.got: list[InboundMessage] = []
        self.threads: set[str] = set()

    def dispatch(self, msg: InboundMessage) -> None:
        self.threads.add(threading.current_thread().name)
        self.got.append(msg)

    def logon(self, key: SessionKey) -> None: ...

    def logout(self, key: SessionKey) -> None: ...


def test_concurrent_from_app_calls_arrive_on_the_loop_complete_and_in_order(tmp_path: Path) -> None:
    config = load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999))
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="the-loop", daemon=True)
    loop_thread.start()
    inbox = RecordingInbox()
    app = GatewayApplication(config, inbox, loop, QuickFixOutbox(lambda key: None))

    def engine_thread(sender: str) -> None:
        sid = fix.SessionID("FIX.4.4", "PLXTRA", sender)
        for seq in range(1, PER_THREAD + 1):
            text = build_message("FIX.4.4", "D", [(49, sender), (56, "PLXTRA"), (34, str(seq))],
                                 [(11, f"{sender}-{seq}"), (55, "XS01")])
            app.fromApp(fix.Message(text, False), sid)

    threads = [threading.Thread(target=engine_thread, args=(s,), name=f"qf-{s}") for s in SENDERS]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

        async def drained() -> None:   # bounded: each loop turn dispatches up to one batch
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
        assert all(m.get(11) == f"{sender}-{m.msg_seq_num}" for m in inbox.got
                   if m.session.target_comp_id == sender)
    assert app.callback_errors == 0
