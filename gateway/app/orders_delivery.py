"""Exactly-once delivery of the orders service's reports (FIX sense), between store and Outbox.

Not a translation module: it is the edge code the :class:`OrdersService` delegates delivery to,
given the store and the outbox. The rules, in order of a report's life:

1. A report with an ExecID is committed to the store *with its full content* (``outbound``,
   ``handed`` = the session is logged on) in the same transaction as the order's new state,
   before it is handed to the outbox. Its ExecID is then "generated": never generated twice.
2. ``on_sent(True)`` (QuickFIX accepted it: it has a MsgSeqNum and is in QuickFIX's store)
   deletes the row (buffered: journaled with the next commit of the store, or by its apply tick
   at the latest; no journal write of its own).
3. A row still there at the next logon is sent again: with PossResend(97)=Y when it was handed
   before (a kill -9 between steps 1 and 2, or a refused send), since the partner may have it
   and de-duplicates by ExecID; as a plain message when it was held (session logged out).

Messages without an ExecID (rejects, status answers) are sent at once, or held while the
session is logged out. An outbox without ``on_sent`` (older engine) is treated as confirming
at hand-off, which is the at-most-once behaviour of before.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import OrderedDict
from collections.abc import Iterable
from functools import partial
from typing import Any

from gateway import stages
from gateway.bridge.orders.flow import Report
from gateway.bridge.orders.lifecycle import is_terminal
from gateway.bridge.orders.model import OrderRecord, record_to_data
from gateway.failpoints import crash_point
from gateway.store import Store
from gateway.store.orders_store import Decision, DeferredMessage, OutboundRow
from gateway.vocab.records import OutboundMessage, SessionKey

__all__ = ["POSS_RESEND", "Delivery", "accepts_on_sent"]

log = logging.getLogger("gateway.app.orders")

POSS_RESEND = 97
_KEEP_FRESH = 100_000  # orders whose ExecIDs are known in memory (older ones: asked of the store)


def accepts_on_sent(outbox: Any) -> bool:
    """True if ``outbox.send`` takes the ``on_sent`` keyword (interfaces.md, delivery seam)."""
    try:
        params = inspect.signature(outbox.send).parameters
    except (TypeError, ValueError):
        return False
    return "on_sent" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _retarget(msg: OutboundMessage, key: SessionKey) -> OutboundMessage:
    """Address ``msg`` to the exact key the engine logged on (it may carry a qualifier)."""
    return msg if msg.session == key else OutboundMessage(key, msg.msg_type, msg.fields)


class Delivery:
    """Store + outbox for one :class:`OrdersService`; every method runs on the loop thread."""

    def __init__(self, store: Store, outbox: Any) -> None:
        self._store = store
        self._outbox = outbox
        self._confirms = accepts_on_sent(outbox)
        self._inflight: set[int] = set()  # outbound seqs handed in this process, not yet answered
        self._flush_handle: asyncio.Handle | None = None   # PostgreSQL: confirmations' commit
        self.logged_on: dict[str, SessionKey] = {}
        # ExecIDs of orders created by this process: all of them are here, so "already sent?" needs
        # no store read (a read releases the GIL to every other thread of the process).
        self._fresh: OrderedDict[str, set[str]] = OrderedDict()

    def fresh_order(self, request_id: str) -> None:
        """``request_id`` was allocated by this process: no earlier run can have reported on it."""
        self._fresh[request_id] = set()
        if len(self._fresh) > _KEEP_FRESH:
            self._fresh.popitem(last=False)

    def already_sent(self, name: str, request_id: str, exec_id: str) -> bool:
        """True if ``exec_id`` of the order placed with ``request_id`` was generated before."""
        return self._seen(name, self._fresh.get(request_id), exec_id)

    def _seen(self, name: str, known: set[str] | None, exec_id: str) -> bool:
        return exec_id in known if known is not None else self._store.exec_already_sent(name, exec_id)

    # --- reports of an order -----------------------------------------------------------------

    def deliver(self, name: str, record: OrderRecord | None, reports: Iterable[Report],
                request_id: str | None = None, decision: Decision | None = None) -> None:
        """Commit ``record`` (None: no order row; ``request_id`` then names the request) with its
        new reports and the ``decision`` they answer in one transaction, then hand the reports to
        the outbox (or hold them while ``name`` is logged out)."""
        store = self._store
        key = self.logged_on.get(name)
        rows: list[OutboundRow] = []
        tracked: list[OutboundMessage] = []
        untracked: list[OutboundMessage] = []
        exec_ids: list[str] = []
        known = self._fresh.get(record.request_id if record is not None else request_id or "")
        for r in reports:
            exec_id = r.exec_id
            if exec_id is not None:
                # _seen inline: one call less per report on the answer's critical path
                if exec_id in known if known is not None else store.exec_already_sent(name, exec_id):
                    continue
                exec_ids.append(exec_id)
            msg = r.message
            if key is None:
                rows.append((name, exec_id, False, msg.msg_type, msg.fields))
            elif exec_id is None:
                untracked.append(msg)
            else:
                rows.append((name, exec_id, True, msg.msg_type, msg.fields))
                tracked.append(msg)
        if record is not None:
            seqs = store.apply(request_id=record.request_id, cl_ord_id=record.cl_ord_id,
                               order_id=record.order_id, state=record.state.value,
                               working=not is_terminal(record.state), data=record_to_data(record),
                               session=name, exec_ids=exec_ids, outbound=rows, decision=decision)
        elif rows or decision is not None:
            seqs = store.apply(request_id=None, session=name, exec_ids=exec_ids, outbound=rows,
                               decision=decision)
        else:
            seqs = []
        if known is not None:
            known.update(exec_ids)  # written: from now on "already sent"
        if key is not None and (tracked or untracked):
            # Handed to the FIX side only once the rows are committed (group commit: end of turn).
            pairs = list(zip(seqs, tracked, strict=True))
            store.after_commit(partial(self._send_batch, key, pairs, untracked, stages.delivery_stage()))

    def _send_batch(self, key: SessionKey, tracked: list[tuple[int, OutboundMessage]],
                    untracked: list[OutboundMessage],
                    stage: tuple[stages.Origin, str] | None = None) -> None:
        for seq, msg in tracked:
            self._send_tracked(seq, _retarget(msg, key))
        for msg in untracked:
            self._outbox.send(_retarget(msg, key))
        if stage is not None:
            stages.handed(stage)

    def send(self, name: str, msg: OutboundMessage) -> None:
        """A message without ExecID bookkeeping: now, or held for the next logon."""
        key = self.logged_on.get(name)
        if key is not None:  # behind any report still waiting for its commit: order is kept
            self._store.after_commit(partial(self._send_batch, key, [], [msg], stages.delivery_stage()))
        else:
            self._store.defer_message(name, msg.msg_type, msg.fields)

    # --- session events -------------------------------------------------------------------

    def logon(self, name: str, key: SessionKey) -> int:
        """Mark ``name`` live and send every unconfirmed row, oldest first; returns how many."""
        self.logged_on[name] = key
        rows = [r for r in self._store.deferred_for(name) if r.seq not in self._inflight]
        # Committed as handed before any is sent: a copy after a crash then carries PossResend.
        newly_handed = [r.seq for r in rows if r.exec_id is not None and not r.handed]
        if newly_handed:
            self._store.mark_handed(newly_handed)
        if rows:
            self._store.after_commit(partial(self._send_rows, key, rows))
            self._store.flush()  # a logon is rare: commit now and send at once
        return len(rows)

    def _send_rows(self, key: SessionKey, rows: list[DeferredMessage]) -> None:
        plain = []
        for row in rows:
            if row.exec_id is None:
                self._outbox.send(OutboundMessage(key, row.msg_type, row.fields))
                plain.append(row.seq)
            else:  # handed before: it may have reached the partner before a crash; flag the copy
                fields = ((POSS_RESEND, "Y"), *row.fields) if row.handed else row.fields
                self._send_tracked(row.seq, OutboundMessage(key, row.msg_type, fields))
        if plain:  # after sending: a crash in between repeats a reject rather than losing it
            self._store.drop_deferred(plain)

    def logout(self, name: str) -> None:
        self.logged_on.pop(name, None)

    # --- confirmation ---------------------------------------------------------------------

    def _send_tracked(self, seq: int, msg: OutboundMessage) -> None:
        self._inflight.add(seq)
        if self._confirms:
            self._outbox.send(msg, on_sent=partial(self._on_sent, seq))
        else:
            self._outbox.send(msg)
            self._on_sent(seq, True)

    def _on_sent(self, seq: int, ok: bool) -> None:
        self._inflight.discard(seq)
        crash_point("answer-handed")
        if not ok:
            # Kept (handed): the next logon sends it again with PossResend=Y.
            log.info("outbound #%d refused by the FIX engine; kept for the next logon", seq)
            return
        # With a journal: buffered, journaled with the store's next commit (the next order's) or
        # by its apply tick (APPLY_EVERY) when none comes; not a journal write of its own per
        # report (one per order at a paced rate). A kill -9 leaves at most that long's worth of
        # harmless PossResend copies, which the partner de-duplicates by ExecID.
        self._store.confirm_sent(seq)
        if self._flush_handle is None and not self._store.journaling:
            with contextlib.suppress(RuntimeError):  # no running loop: the next commit carries it
                loop = asyncio.get_running_loop()
                # A commit is a database transaction (PostgreSQL): every confirmation of the turn
                # in one, at the end of the turn (at most one turn's worth of PossResend copies).
                self._flush_handle = loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        try:
            self._store.flush()
        except Exception:  # a failed flush only means a PossResend copy later
            log.exception("could not commit delivery confirmations")

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        with contextlib.suppress(Exception):
            self._store.flush()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

