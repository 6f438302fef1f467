"""Exactly-once delivery (FIX sense): a report is committed with its content before it is handed
to the outbox, confirmed by ``on_sent(True)``, and sent again with PossResend(97)=Y at the next
logon when it was handed but never confirmed (kill -9 in between, or a refused send).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from gateway.app.orders_delivery import Delivery
from gateway.bridge.orders.flow import Report
from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.store import Store
from gateway.vocab.records import OutboundMessage, SessionKey
from tests.orders.test_orders_service import V42, V44, RecordingOutbox, harness, key, run

REPO = Path(__file__).resolve().parents[2]
NAME = "FIX.4.4:PLXTRA->CLIENT1"
KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
FILL = ((37, "o1"), (11, "c1"), (17, "o1-F7"), (150, "F"), (39, "2"), (32, "10"), (31, "5"))


def test_kill_9_between_commit_and_engine_accepting_resends_with_poss_resend(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite"
    # The outbox of this process dies the moment the report is handed to it: the row is
    # committed, QuickFIX never saw the message.
    script = textwrap.dedent(f"""
        import os, signal
        from gateway.app.orders_delivery import Delivery
        from gateway.bridge.orders.flow import Report
        from gateway.vocab.records import OutboundMessage, SessionKey
        from gateway.store import Store

        class DyingOutbox:
            def send(self, msg, *, on_sent=None):
                os.kill(os.getpid(), signal.SIGKILL)

        key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
        d = Delivery(Store({str(path)!r}), DyingOutbox())
        d.logged_on[{NAME!r}] = key
        d.deliver({NAME!r}, None, [Report("o1-F7", OutboundMessage(key, "8", {FILL!r}))])
        print("not killed", flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -9, proc.stdout + proc.stderr
    store = Store(path)
    try:
        (row,) = store.deferred_for(NAME)
        assert (row.exec_id, row.handed, row.fields) == ("o1-F7", True, FILL)

        async def restart() -> RecordingOutbox:
            outbox = RecordingOutbox()
            delivery = Delivery(store, outbox)
            # The bridge regenerates the same fill after the restart: never a second fresh copy.
            delivery.deliver(NAME, None, [Report("o1-F7", OutboundMessage(KEY, "8", FILL))])
            assert outbox.sent == []
            assert delivery.logon(NAME, KEY) == 1
            await asyncio.sleep(0.05)  # on_sent(True), then the confirmation commit
            assert delivery.logon(NAME, KEY) == 0  # confirmed: nothing left to send
            delivery.close()
            return outbox

        outbox = asyncio.run(restart())
        assert [m.fields for m in outbox.sent] == [((97, "Y"), *FILL)]
        assert store.deferred_for(NAME) == []
    finally:
        store.close()
    reopened = Store(path)
    assert reopened.deferred_for(NAME) == [] and reopened.exec_already_sent(NAME, "o1-F7")
    reopened.close()


def test_unconfirmed_report_survives_restart_and_is_resent_flagged(tmp_path: Path) -> None:
    """The engine never answers (process killed before QuickFIX accepted): after a restart on the
    same store the New is sent again with PossResend=Y; once confirmed, never again."""

    async def main() -> None:
        # One venue across the restart: a fresh simulator would not know u1, and reconciliation
        # would then (rightly) report it Canceled, "no longer known to Plxtra".
        sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7)
        sim = SimServer(sim_cfg, host="127.0.0.1", port=0)
        await sim.start()
        try:
            await restart_twice(sim)
        finally:
            await sim.stop()

    async def restart_twice(sim: SimServer) -> None:
        async with harness(tmp_path, sim=sim) as h:
            h.outbox.accept = None
            h.order(V44, "u1", "1", 10, "4.00")
            new = await h.expect("8", {11: "u1", 150: "0"})
            assert 97 not in new
            await h.service.wait_idle(5)
        async with harness(tmp_path, sim=sim) as h:  # same store file, fresh service: a restart
            again = await h.expect("8", {11: "u1", 150: "0"})
            assert again[97] == "Y" and again[17] == new[17]
            await h.quiet(0.2)
            sess = h.config.session_for(V44, "PLXTRA", "CLIENT1")
            assert sess is not None
            h.service.on_logout(key(V44))
            h.service.on_logon(key(V44), sess)
            assert [m for m in await h.quiet(0.2) if m.msg_type == "8"] == []

    run(main)


def test_refused_send_is_resent_at_next_logon_with_poss_resend(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            h.outbox.accept = False  # e.g. a sequence reset pending: QuickFIX refuses the message
            h.order(V42, "r1", "2", 10, "30.00")
            new = await h.expect("8", {11: "r1", 150: "0"})
            await h.quiet(0.1)
            h.outbox.accept = True
            sess = h.config.session_for(V42, "PLXTRA", "CLIENT2")
            assert sess is not None
            h.service.on_logout(key(V42))
            h.service.on_logon(key(V42), sess)
            again = await h.expect("8", {11: "r1", 150: "0"})
            assert again[97] == "Y" and again[17] == new[17]
            await h.quiet(0.1)
            h.service.on_logout(key(V42))
            h.service.on_logon(key(V42), sess)
            assert [m for m in await h.quiet(0.2) if m.msg_type == "8"] == []

    run(main)


def test_reports_held_while_logged_out_are_sent_plain_and_confirmed(tmp_path: Path) -> None:
    async def main() -> None:
        async with harness(tmp_path) as h:
            sess = h.config.session_for(V44, "PLXTRA", "CLIENT1")
            assert sess is not None
            h.order(V44, "h1", "1", 10, "6.00")
            await h.expect("8", {11: "h1", 150: "0"})
            h.service.on_logout(key(V44))
            await h.book("XS:0005", "Ask", 10, "6.00")
            await h.quiet(0.3)
            assert [r.handed for r in h.store.deferred_for(str(key(V44)))] == [False]
            h.service.on_logon(key(V44), sess)
            fill = await h.expect("8", {11: "h1", 39: "2"})
            assert 97 not in fill  # never handed before: a plain first delivery
            await h.quiet(0.1)
            assert h.store.deferred_for(str(key(V44))) == []

    run(main)
