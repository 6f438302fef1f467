"""Replay one side of a recorded FIX session against a live engine and compare the answers.

The recording's application messages are cut into blocks: the messages "we" (the replayed side)
sent in a row, then the messages the other side sent before our next one. For each block we send
ours (rewritten: CompIDs, MsgSeqNum, SendingTime, OrigSendingTime, now-tags, our IDs made unique
per run, the peer's IDs replaced by the ones it gave us this time), then wait up to ``window``
seconds for as many answers as were recorded, and pair them up with :func:`compare.match_block`.
PossDup resends in the recording are skipped (their originals are replayed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.harness.codec import FixMessage
from gateway.harness.compare import CompareRules, IdMaps, all_matched, match_block
from gateway.harness.errors import HarnessError
from gateway.harness.readers import LogReader, LogRecord
from gateway.harness.results import ENGINE_LOGON, CaseResult, MessagePair
from gateway.harness.runner import msg_label, run_token
from gateway.harness.selectors import normalize_session
from gateway.harness.session import FixAcceptor, FixSession, SessionClosed, SessionFailure, SessionTimeout
from gateway.harness.sessionproto import Field, SessionSettings, format_utc

__all__ = ["Recording", "ReplayError", "ReplayOptions", "load_recording", "replay"]

# Header and trailer tags the session layer writes again.
_REWRITTEN = frozenset({8, 9, 10, 34, 35, 49, 52, 56, 43, 97, 122, 369})


class ReplayError(HarnessError):
    """The log cannot be replayed as asked (no such session, no messages for that side...)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded session: its application records and which CompID played which role."""

    name: str
    begin_string: str
    initiator: str
    acceptor: str
    records: tuple[LogRecord, ...]       # application messages only, PossDup resends removed
    logon: FixMessage | None             # the initiator's recorded Logon, if any
    skipped_dups: int = 0
    warnings: tuple[str, ...] = ()       # one per file: messages read only leniently (pasted text)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    host: str
    port: int
    role: str = "initiator"              # which side of the recording we play
    sender: str | None = None            # our CompID on the wire (default: the recorded one)
    target: str | None = None            # theirs
    speed: float = 0.0                   # 0: as fast as answers allow; N: N x recorded pace
    rules: CompareRules = field(default_factory=CompareRules)
    logon_timeout: float = 10.0
    accept_timeout: float = 60.0
    heartbeat: int | None = None
    token: str = field(default_factory=run_token)


def _session_label(record: LogRecord) -> str:
    return str(record.session)


def load_recording(paths: Sequence[str], selector: str | None = None) -> Recording:
    """Read logs and pick one session: ``selector`` matches the session text
    (``FIX.4.4:CLIENT1->PLXTRA``) or any CompID in it; required when the logs hold several."""
    reader = LogReader(paths)
    groups: dict[str, list[LogRecord]] = {}
    for record in reader:
        groups.setdefault(_session_label(record), []).append(record)
    if not groups:
        problems = "; ".join(str(p) for p in reader.problems[:3])
        raise ReplayError(f"no FIX messages in {', '.join(paths)}" + (f" ({problems})" if problems else ""))
    names = list(groups)
    if selector:
        selector = normalize_session(selector)   # A:B as well as A->B (no shell quoting needed)
        chosen = [n for n in names if n == selector] or [n for n in names if selector in n]
        if len(chosen) != 1:
            raise ReplayError(f"--session {selector!r} matches {len(chosen)} of the sessions: "
                              f"{', '.join(names)}")
        name = chosen[0]
    elif len(names) > 1:
        raise ReplayError(f"the log holds {len(names)} sessions; pick one with --session: {', '.join(names)}")
    else:
        name = names[0]
    records = groups[name]
    logon = next((r for r in records if r.msg_type == "A"), None)
    first = logon or records[0]
    initiator, acceptor = first.sender, first.target
    app = []
    dups = 0
    for r in records:
        if r.msg_type in ("0", "1", "2", "4", "5", "A"):   # Reject(3) is compared like app messages
            continue
        if r.message.get(43) == "Y":
            dups += 1
            continue
        app.append(r)
    warnings = tuple(f"{file}: {count} message(s) with a wrong or missing BodyLength, CheckSum or "
                     "delimiter, read as pasted (see plxtra-fix decode)"
                     for file, count in reader.salvaged.items())
    return Recording(name, first.message.begin_string, initiator, acceptor, tuple(app),
                     logon.message if logon else None, dups, warnings)


def _blocks(records: Sequence[LogRecord], ours: str) -> list[tuple[list[int], list[int]]]:
    """[(indexes we send, indexes we then expect)] in recording order."""
    blocks: list[tuple[list[int], list[int]]] = []
    for i, r in enumerate(records):
        mine = r.sender == ours
        if mine:
            if not blocks or blocks[-1][1]:
                blocks.append(([i], []))
            else:
                blocks[-1][0].append(i)
        else:
            if not blocks:
                blocks.append(([], [i]))
            else:
                blocks[-1][1].append(i)
    return blocks


class _Replayer:
    def __init__(self, recording: Recording, options: ReplayOptions) -> None:
        self.rec = recording
        self.opt = options
        self.rules = options.rules
        initiator = options.role == "initiator"
        self.ours = recording.initiator if initiator else recording.acceptor
        self.theirs = recording.acceptor if initiator else recording.initiator
        # IDs the replayed side invents vs IDs the other side invents (roles swap for an acceptor).
        self.made_tags = self.rules.client_ids if initiator else self.rules.server_ids
        self.learned_tags = self.rules.server_ids if initiator else self.rules.client_ids
        self.ids = IdMaps(token=options.token)
        logon = recording.logon
        heartbeat = options.heartbeat or int((logon.get(108) if logon else None) or 30)
        appl = logon.get(1137) if logon is not None else None
        # The recorded Logon's credentials go out again when we are the initiator.
        creds = logon if initiator else None
        self.settings = SessionSettings(recording.begin_string, options.sender or self.ours,
                                        options.target or self.theirs, heartbeat, True,
                                        default_appl_ver_id=appl,
                                        username=creds.get(553) if creds is not None else None,
                                        password=creds.get(554) if creds is not None else None)
        self.pairs: list[MessagePair] = []
        self.failures: list[str] = []
        self.log: list[str] = []
        self.inbox: list[FixMessage] = []
        self.carry_exp: list[int] = []             # recorded indexes still unmatched (one block)
        self.carry_got: list[FixMessage] = []      # received messages still unmatched (one block)
        self.arrived = asyncio.Event()
        self.closed_reason: str | None = None

    def _rewrite(self, record: LogRecord) -> list[Field]:
        out: list[Field] = []
        now = format_utc(datetime.now(UTC))
        for tag, value in record.message.fields:
            if tag in _REWRITTEN:
                continue
            if tag in self.made_tags:
                value = self.ids.make(value)
            elif tag in self.learned_tags:
                value = self.ids.learned_value(tag, value) or value
            elif tag in self.rules.now_tags:
                value = now
            out.append((tag, value))
        return out

    async def _pump(self, session: FixSession) -> None:
        try:
            for _ in range(10_000_000):
                m = await session.next_message(3600.0)
                if m.msg_type in self.rules.ignore_msg_types and m.msg_type != "3":
                    continue
                self.inbox.append(m)
                self.arrived.set()
        except SessionClosed as exc:
            self.closed_reason = str(exc) + (f" (Logout text: {exc.logout_text})" if exc.logout_text else "")
            self.arrived.set()
        except SessionTimeout:
            pass

    async def _collect(self, expected: list[int], window: float, *, tail: bool = False) -> list[FixMessage]:
        """Wait until every expected message (this block's and those carried) has a matching
        answer, or ``window`` seconds (always the whole window for the ``tail``); return what arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + window
        exp = [(self.rec.records[i].msg_type, self.rec.records[i].message.fields)
               for i in self.carry_exp + expected]
        while self.closed_reason is None:
            got = [(m.msg_type, m.fields) for m in self.carry_got + self.inbox]
            if not tail and len(got) >= len(exp) and all_matched(
                    exp, got, self.rules, self.ids, made_tags=self.made_tags, learned_tags=self.learned_tags):
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                break
        taken, self.inbox = self.inbox, []
        return taken

    def _label(self, index: int) -> str:
        r = self.rec.records[index]
        return f"recorded #{index + 1} ({msg_label(r.msg_type)}, {r.file}:{r.line})"

    def _judge(self, expected: list[int], received: list[FixMessage], *, final: bool) -> None:
        """Pair this block's expected and received messages, plus what the previous block left.

        A late answer lands in the next block; so an unmatched message (either side) is carried
        one block further and reported as missing / extra only if it is still unmatched there."""
        carried_exp, carried_got = len(self.carry_exp), len(self.carry_got)
        exp_idx = self.carry_exp + expected
        got = self.carry_got + received
        exp = [(self.rec.records[i].msg_type, self.rec.records[i].message.fields) for i in exp_idx]
        pairs, extras = match_block(exp, [(m.msg_type, m.fields) for m in got], self.rules, self.ids,
                                    made_tags=self.made_tags, learned_tags=self.learned_tags)
        self.carry_exp, self.carry_got = [], []
        for ei, ri, diffs in pairs:
            index = exp_idx[ei]
            label = self._label(index)
            fields = tuple(self.rec.records[index].message.fields)
            if ri is None:
                if ei >= carried_exp and not final:
                    self.carry_exp.append(index)
                    continue
                self.failures.append(f"missing: {label} not received within {self.rules.window:g}s")
                self.pairs.append(MessagePair(label, fields, None, (), False))
                continue
            self.pairs.append(MessagePair(label, fields, tuple(got[ri].fields), tuple(diffs), not diffs))
            for d in diffs:
                exp_text = "absent" if d.expected is None else repr(d.expected)
                got_text = "absent" if d.received is None else repr(d.received)
                note = f" ({d.note})" if d.note else ""
                self.failures.append(f"different: {label} tag {d.tag}: recorded {exp_text}, "
                                     f"received {got_text}{note}")
        for ri in extras:
            m = got[ri]
            if ri >= carried_got and not final:
                self.carry_got.append(m)
                continue
            label = f"extra received {msg_label(m.msg_type)} seq {m.get(34)}"
            self.failures.append(f"extra: {label} not in the recording")
            self.pairs.append(MessagePair(label, None, tuple(m.fields), (), False))

    async def _open(self) -> FixSession:
        if self.opt.role == "initiator":
            session = await FixSession.connect(self.settings, self.opt.host, self.opt.port,
                                               timeout=self.opt.logon_timeout)
            await session.logon(timeout=self.opt.logon_timeout)
            return session
        acceptor = FixAcceptor(self.settings, self.opt.host, self.opt.port)
        await acceptor.start()
        self.log.append(f"listening on {self.opt.host}:{acceptor.port}")
        try:
            return await acceptor.accept(timeout=self.opt.accept_timeout,
                                         logon_timeout=self.opt.logon_timeout)
        finally:
            await acceptor.stop()

    async def run(self, progress: Callable[[int, int], None] | None) -> None:
        session = await self._open()
        self.log.append(f"logged on as {self.settings.sender}->{self.settings.target}")
        if session.protocol.peer_logon is not None:
            self.log.append(ENGINE_LOGON + session.protocol.peer_logon.to_text())
        pump = asyncio.create_task(self._pump(session))
        try:
            blocks = _blocks(self.rec.records, self.ours)
            start_wall = time.monotonic()
            first_time = next((r.time for r in self.rec.records if r.time is not None), None)
            for n, (send_idx, expect_idx) in enumerate(blocks):
                for i in send_idx:
                    record = self.rec.records[i]
                    if record.msg_type == "3":
                        continue    # our recorded session Rejects answered old seqs: meaningless now
                    if self.opt.speed > 0 and first_time is not None and record.time is not None:
                        due = (record.time - first_time).total_seconds() / self.opt.speed
                        delay = due - (time.monotonic() - start_wall)
                        if delay > 0:
                            await asyncio.sleep(delay)
                    if self.closed_reason:
                        raise SessionClosed(self.closed_reason)
                    sent = session.send(record.msg_type, self._rewrite(record))
                    self.log.append(f"sent {self._label(i)} as seq {sent.seq}")
                want = len(expect_idx) + len(self.carry_exp)
                received = await self._collect(expect_idx, self.rules.window if want else 0.0)
                self._judge(expect_idx, received, final=False)
                if progress:
                    progress(n + 1, len(blocks))
                if self.closed_reason:
                    self.failures.append(f"connection closed: {self.closed_reason}")
                    return
            tail = await self._collect([], self.rules.tail, tail=True)
            self._judge([], tail, final=True)
            if session.problems:
                self.log.extend(f"session: {p.text}" for p in session.problems)
            await session.logout(timeout=3.0)
        finally:
            pump.cancel()
            await session.close()


async def replay(recording: Recording, options: ReplayOptions,
                 progress: Callable[[int, int], None] | None = None) -> CaseResult:
    """Replay and compare; never raises for what the engine does (that is a failed case)."""
    r = _Replayer(recording, options)
    started = time.monotonic()
    error = None
    try:
        await r.run(progress)
    except SessionFailure as exc:
        error = f"session: {exc}"
        r.failures.append(error)
    if recording.skipped_dups:
        r.log.append(f"skipped {recording.skipped_dups} PossDup resends in the recording")
    return CaseResult("replay", f"{recording.name} as {options.role}", not r.failures,
                      time.monotonic() - started, tuple(r.failures), tuple(r.pairs),
                      ", ".join(sorted({rec.file for rec in recording.records})) or None, error, tuple(r.log))
