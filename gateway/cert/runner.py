"""Plxtra's side of a partner certification: accept the partner's FIX initiator, run suite steps.

The harness's own session layer (:class:`~gateway.harness.session.FixSession`) faces the partner, so
steps can misbehave on purpose (skip a MsgSeqNum, resend with PossDup, garble a CheckSum, send a
too-low MsgSeqNum). Its sequence numbers survive a reconnect, as a real engine's store would.
Application messages from the partner go to an optional :class:`AppBackend` (the real gateway on
the simulator, see :mod:`gateway.cert.proxy`) whose answers are sent back through the same session;
every order message is also checked by :class:`~gateway.cert.orderchecks.OrderFlowChecker`.

Every wait is bounded: per expectation (``timeout`` or ``heartbeats``), per connection, per run.
Viewers (JSON view, web console) call :meth:`CertRun.snapshot` and subscribe with ``listeners``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.cert.errors import QuestionnaireError
from gateway.cert.msglog import LoggedMessage, MessageLog
from gateway.cert.orderchecks import OrderFlowChecker
from gateway.cert.questionnaire import CHOICES, check_answers
from gateway.cert.results import StepState, iso_utc
from gateway.cert.suite import Action, CertStep, Expectation, Suite
from gateway.harness.codec import FixMessage
from gateway.harness.errors import HarnessError
from gateway.harness.session import FixSession, SessionClosed, SessionFailure, SessionTimeout
from gateway.harness.sessionproto import (
    ADMIN_MSG_TYPES,
    Field,
    SentMessage,
    SessionProtocol,
    SessionSettings,
    complete_raw,
)
from gateway.harness.templating import TemplateContext, render

__all__ = ["AppBackend", "CertOptions", "CertRun", "StepFailure"]

log = logging.getLogger("gateway.cert.runner")


class AppBackend(Protocol):
    """What answers the partner's application messages (orders, market data)."""

    async def start(self, send: Callable[[str, Sequence[Field]], None]) -> None: ...
    def on_partner_message(self, message: FixMessage) -> None: ...
    async def reset(self) -> int: ...
    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CertOptions:
    begin_string: str = "FIX.4.4"
    partner_comp_id: str = "PARTNER"
    our_comp_id: str = "PLXTRA"
    host: str = "127.0.0.1"
    port: int = 0
    timeout: float = 15.0             # default for an automatic expectation
    prompt_timeout: float = 300.0     # a prompted step waits this long for a person
    connect_timeout: float = 120.0    # for the partner to connect and log on
    run_timeout: float = 3600.0
    default_appl_ver_id: str = "9"    # FIXT.1.1: FIX 5.0 SP2
    log_path: Path | None = None
    max_failures: int | None = None   # stop after this many failed steps (the rest: not-run)
    connect: tuple[str, int] | None = None   # initiate to the partner's acceptor instead of listening
    heartbeat: int = 30               # HeartBtInt Plxtra proposes when it initiates


_SETTLE = 0.3     # seconds the gateway gets to answer the last message of a prompted step


class StepFailure(HarnessError):
    """A step failed; the text is the reason shown to the partner."""


_NAMES = {"0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject",
          "4": "SequenceReset", "5": "Logout", "A": "Logon", "D": "NewOrderSingle",
          "F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest",
          "8": "ExecutionReport", "9": "OrderCancelReject", "V": "MarketDataRequest",
          "j": "BusinessMessageReject"}


def describe(m: FixMessage) -> str:
    name = _NAMES.get(m.msg_type or "", "")
    extra = [f"{t}={v}" for t, v in m.fields if t in (11, 41, 112, 7, 16, 36, 123, 43, 58, 45)]
    return f"{m.msg_type} {name} MsgSeqNum {m.get(34)}" + (f" ({' '.join(extra)})" if extra else "")


class CertRun:
    """One certification run. ``await start()`` binds; ``await run()`` executes every step."""

    def __init__(self, suites: Sequence[Suite], options: CertOptions, *,
                 capabilities: frozenset[str] | None = None, backend: AppBackend | None = None,
                 questionnaire: dict[str, Any] | None = None, await_questionnaire: bool = False) -> None:
        self.suites = list(suites)
        self.options = options
        self.capabilities = capabilities
        self.questionnaire = questionnaire or {}
        # With a console and no answers yet, the run waits for them (form or POST /questionnaire).
        self.awaiting_questionnaire = await_questionnaire and questionnaire is None
        self._answered = asyncio.Event()
        self.backend = backend
        self.settings = SessionSettings(options.begin_string, options.our_comp_id, options.partner_comp_id,
                                        heartbeat=30, reset_seq_num=False,
                                        default_appl_ver_id=(options.default_appl_ver_id
                                                             if options.begin_string == "FIXT.1.1" else None))
        self.log = MessageLog(options.log_path, options.begin_string, options.our_comp_id,
                              options.partner_comp_id)
        self.log.listeners.append(self._on_logged)
        self.states = [StepState(suite, step) for suite in self.suites for step in suite.steps]
        self._apply_selection()
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.started: datetime | None = None
        self.ended: datetime | None = None
        self.port = options.port
        self.partner_engine: str | None = None
        self._server: asyncio.Server | None = None
        self._connections: asyncio.Queue[FixSession] = asyncio.Queue()
        self._protocol: SessionProtocol | None = None
        self.session: FixSession | None = None
        self._sent: dict[str, SentMessage] = {}
        self._vars: dict[str, str] = {}
        self._ctx = TemplateContext(sender=options.our_comp_id, target=options.partner_comp_id,
                                    variables=self._vars, clordid_prefix="PLX")
        self._resend_range: tuple[int, int] | None = None
        self._checker = OrderFlowChecker()
        self._order_problems: list[str] = []
        self._app_seqs_seen: set[int] = set()
        self._closed_at: str | None = None
        self._never_connected = False

    # ------------------------------------------------------------------ selection
    def _selected(self, step: CertStep) -> bool:
        return self.capabilities is None or all(r in self.capabilities for r in step.requires)

    def _apply_selection(self) -> list[StepState]:
        """(Re)select the steps not yet run; returns the ones whose status changed."""
        changed = []
        for s in self.states:
            if s.status not in ("waiting", "skipped"):
                continue
            status = "waiting" if self._selected(s.step) else "skipped"
            reason = "" if status == "waiting" else (
                "not selected by the questionnaire (needs " + ", ".join(s.step.requires) + ")")
            if (status, reason) != (s.status, s.reason):
                s.status, s.reason = status, reason
                changed.append(s)
        return changed

    def answer_questionnaire(self, answers: Any) -> frozenset[str]:
        """The answers from the console's form or a partner's tooling: selects the steps, as
        ``--questionnaire FILE`` does, and releases the waiting run. Raises QuestionnaireError."""
        if not self.awaiting_questionnaire:
            raise QuestionnaireError("the questionnaire is closed: it was answered already or not asked")
        capabilities = check_answers(answers, self.options.begin_string)
        self.questionnaire = dict(answers)
        self.capabilities = capabilities
        self.awaiting_questionnaire = False
        changed = self._apply_selection()
        self._emit("questionnaire", {"answers": self.questionnaire, "capabilities": sorted(capabilities)})
        for state in changed:
            self._emit("step", state.to_json())
        self._answered.set()
        return capabilities

    async def _wait_questionnaire(self) -> bool:
        try:
            await asyncio.wait_for(self._answered.wait(), self.options.prompt_timeout)
            return True
        except TimeoutError:
            self.awaiting_questionnaire = False
            reason = f"not run: the questionnaire was not answered within {self.options.prompt_timeout:g}s"
            for s in self.states:
                if s.status == "waiting":
                    s.status, s.reason = "not-run", reason
                    self._emit("step", s.to_json())
            return False

    # ------------------------------------------------------------------ connections
    async def start(self) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self._protocol is not None:
                self.log.new_connection()
            session = FixSession(self.settings, reader, writer, initiator=False, protocol=self._protocol,
                                 wire_log=self.log.wire)
            self._protocol = session.protocol
            self._connections.put_nowait(session)

        if self.options.connect is None:
            self._server = await asyncio.start_server(on_connect, self.options.host, self.options.port)
            self.port = self._server.sockets[0].getsockname()[1]
        else:
            self.port = self.options.connect[1]
        if self.backend is not None:
            await self.backend.start(self._send_app)

    async def stop(self) -> None:
        if self.session is not None and not self.session.closed:
            with contextlib.suppress(SessionFailure, OSError):
                await self.session.logout("certification run ended", timeout=3.0)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        if self.backend is not None:
            await self.backend.stop()
        self.log.close()

    async def _initiate(self, timeout: float) -> FixSession:
        """Plxtra as the initiator: connect and log on, retrying until ``timeout`` (the partner's
        acceptor may not be up yet); sequence numbers carry on across reconnects."""
        assert self.options.connect is not None
        host, port = self.options.connect
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        problem = ""
        while loop.time() < deadline:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                        max(0.1, deadline - loop.time()))
            except (OSError, TimeoutError) as exc:
                problem = f" ({exc or 'timeout'})"
                await asyncio.sleep(0.5)
                continue
            if self._protocol is not None:
                self.log.new_connection()
            settings = dataclasses.replace(self.settings, heartbeat=self.options.heartbeat)
            session = FixSession(settings, reader, writer, initiator=True, protocol=self._protocol,
                                 wire_log=self.log.wire)
            self._protocol = session.protocol
            try:
                await session.logon(timeout=max(1.0, deadline - loop.time()), reset=False)
            except SessionFailure as exc:
                await session.close()
                problem = f" ({exc})"
                await asyncio.sleep(0.5)
                continue
            self._vars["heartbeat"] = str(self.options.heartbeat)
            self.session = session
            self._emit("session", {"connected": True})
            return session
        self._never_connected = self.session is None
        raise StepFailure(f"could not log on to the partner at {host}:{port} within {timeout:g}s{problem}")

    async def _accept(self, timeout: float) -> FixSession:
        if self.options.connect is not None:
            return await self._initiate(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_problem = ""
        while True:
            try:
                session = await asyncio.wait_for(self._connections.get(),
                                                 max(0.0, deadline - loop.time()))
            except TimeoutError:
                self._never_connected = self.session is None
                raise StepFailure(f"the partner did not log on at {self.options.host}:{self.port} "
                                  f"within {timeout:g}s{last_problem}") from None
            try:
                logon = await session.wait_logon(timeout=max(1.0, deadline - loop.time()))
            except SessionFailure as exc:
                # A port probe or a failed attempt: wait for the next connection until the deadline.
                await session.close()
                last_problem = f" (last connection: {exc})"
                continue
            self._adopt_heartbeat(session, logon)
            self.session = session
            self._emit("session", {"connected": True})
            return session

    def _adopt_heartbeat(self, session: FixSession, logon: FixMessage) -> None:
        """The acceptor uses the initiator's HeartBtInt (FIX Session Protocol, Logon)."""
        try:
            beat = int(logon.get(108) or "30")
        except ValueError:
            beat = 30
        settings = dataclasses.replace(self.settings, heartbeat=max(1, beat))
        session.settings = session.protocol.settings = settings
        self._vars["heartbeat"] = str(beat)

    def _live(self) -> FixSession:
        if self.session is None or self.session.closed:
            raise StepFailure("the session is down" + (f" (ended at {self._closed_at})"
                                                        if self._closed_at else ""))
        return self.session

    # ------------------------------------------------------------------ application messages
    def _on_logged(self, entry: LoggedMessage) -> None:
        self._emit("message", {"index": entry.index, "direction": entry.direction,
                               "msg_type": entry.msg_type})
        if entry.msg_type is None or entry.msg_type in ADMIN_MSG_TYPES or not entry.checksum_ok:
            return
        fields = entry.fields()
        if entry.direction == "out":
            self._checker.from_plxtra(entry.msg_type, fields)
            return
        seq_text = next((v for t, v in fields if t == 34), "")
        poss_dup = any(t == 43 and v == "Y" for t, v in fields)
        seq = int(seq_text) if seq_text.isdigit() else -1
        if poss_dup and seq in self._app_seqs_seen:
            return      # a resend of something already handled: never decided twice
        self._app_seqs_seen.add(seq)
        self._order_problems.extend(self._checker.from_partner(entry.msg_type, fields))
        if self.backend is not None:
            from gateway.harness.codec import FixParser

            parser = FixParser()
            parser.feed(entry.raw)
            message = parser.next()
            if message is not None:
                self.backend.on_partner_message(message)

    def _send_app(self, msg_type: str, body: Sequence[Field]) -> None:
        if msg_type in ("3", "j"):
            # The real gateway refused the partner's message (e.g. a tag its FIX version requires):
            # whatever the step matched, the partner's engine would not have traded.
            values = dict(body)
            kind = "session Reject" if msg_type == "3" else "BusinessMessageReject"
            self._order_problems.append(
                f"Plxtra's gateway answered your {values.get(372, '?')} MsgSeqNum {values.get(45, '?')} "
                f"with a {kind}: {values.get(58) or 'no text'}"
                + (f" (tag {values[371]})" if values.get(371) else ""))
        if self.session is not None and not self.session.closed:
            self.session.send(msg_type, body)

    # ------------------------------------------------------------------ events for viewers
    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception:   # a viewer's fault must not end the certification or starve other viewers
                log.exception("certification viewer failed on a %r event", kind)

    def snapshot(self) -> dict[str, Any]:
        current = next((s for s in self.states if s.status == "running"), None)
        return {
            "suites": [{"name": s.name, "title": s.title, "sha256": s.sha256, "file": s.file}
                       for s in self.suites],
            "begin_string": self.options.begin_string, "questionnaire": self.questionnaire,
            "questionnaire_pending": self.awaiting_questionnaire,
            "questionnaire_choices": CHOICES,
            "partner_comp_id": self.options.partner_comp_id, "our_comp_id": self.options.our_comp_id,
            "port": self.port, "started": iso_utc(self.started), "ended": iso_utc(self.ended),
            "connected": self.session is not None and not self.session.closed,
            "current": None if current is None else current.to_json(),
            "steps": [s.to_json() for s in self.states],
            "messages": len(self.log.entries),
            "finished": self.ended is not None,
            "passed": self.ended is not None and self.passed,
        }

    @property
    def passed(self) -> bool:
        return all(s.status in ("passed", "skipped") for s in self.states) and any(
            s.status == "passed" for s in self.states)

    # ------------------------------------------------------------------ the run
    async def run(self) -> bool:
        """Run every selected step in order; True when all passed. Call :meth:`start` first."""
        self.started = datetime.now(UTC)
        self._emit("run", {"started": iso_utc(self.started)})
        try:
            await asyncio.wait_for(self._run_all(), self.options.run_timeout)
        except TimeoutError:
            for s in self.states:
                if s.status in ("waiting", "running"):
                    s.status, s.reason = "failed", f"run timeout of {self.options.run_timeout:g}s reached"
        finally:
            # Viewers learn the end however the run ended (a cancel too): none keeps showing a step running.
            self.ended = datetime.now(UTC)
            for s in self.states:
                if s.status == "running":
                    s.status, s.reason = "failed", "the run ended before this step was judged"
            self._emit("end", {"passed": self.passed})
        return self.passed

    async def _run_all(self) -> None:
        if self.awaiting_questionnaire and not await self._wait_questionnaire():
            return
        await self._run_steps()

    async def _run_steps(self) -> None:
        failures = 0
        limit = self.options.max_failures
        for state in self.states:
            if state.status == "skipped":
                continue
            if limit is not None and failures >= limit:
                state.status, state.reason = "not-run", f"not run: stopped after {failures} failed step(s)"
                self._emit("step", state.to_json())
                continue
            await self._run_step(state)
            failures += state.status == "failed"

    async def _run_step(self, state: StepState) -> None:
        state.status, state.started = "running", datetime.now(UTC)
        state.first_message = len(self.log.entries)
        self._order_problems.clear()
        self._emit("step", state.to_json())
        try:
            first = state.step.expect[0].kind
            if self.session is None and first in ("expect_logon", "expect_reconnect"):
                pass  # the expectation itself waits for the connection
            elif self.session is None and self._never_connected:
                raise StepFailure("not run: the partner never logged on")
            elif self.session is None:
                await self._accept(self.options.connect_timeout)
            if self.backend is not None and not state.step.automatic:
                await self._reset_market(state)
            for action in state.step.inject:
                await self._do(action, state)
            for expectation in state.step.expect:
                await self._check(expectation, state)
            if self.backend is not None and not state.step.automatic:
                # The gateway's answer to the partner's last message (a Reject?) judges the step too.
                await asyncio.sleep(_SETTLE)
            self._raise_order_problems()
            state.status = "passed"
        except StepFailure as exc:
            state.status, state.reason = "failed", str(exc)
        except HarnessError as exc:   # a template or session problem: the step cannot be judged
            state.status, state.reason = "failed", f"could not run the step: {exc}"
        except (ConnectionError, OSError, ValueError, LookupError, TypeError, RuntimeError) as exc:
            # A fault of ours or of the socket, not a verdict on the partner: the step fails with it
            # named, the run goes on and the report says so (an escaped error left the step "running").
            log.exception("certification step %s: unexpected error", state.key)
            state.status = "failed"
            state.reason = f"the harness failed in this step: {type(exc).__name__}: {exc}"
        state.ended = datetime.now(UTC)
        state.last_message = len(self.log.entries) - 1
        self._emit("step", state.to_json())

    async def _reset_market(self, state: StepState) -> None:
        """Every prompted step starts on an empty deterministic market (see GatewayBackend.reset)."""
        assert self.backend is not None
        try:
            cancelled = await self.backend.reset()
        except Exception as exc:   # the market cannot be made deterministic: the step proves nothing
            raise StepFailure(f"could not reset the certification market: {type(exc).__name__}: "
                              f"{exc}") from None
        if cancelled:
            state.notes.append(f"market reset: {cancelled} order(s) left by earlier steps cancelled")

    def _raise_order_problems(self) -> None:
        if self._order_problems:
            problems, self._order_problems = list(self._order_problems), []
            raise StepFailure("; ".join(problems))

    # ------------------------------------------------------------------ actions (Plxtra injects)
    def _refresh_vars(self) -> None:
        self._vars["begin_string"] = self.options.begin_string
        self._vars["our_comp_id"] = self.options.our_comp_id
        self._vars["partner_comp_id"] = self.options.partner_comp_id
        if self._protocol is not None:
            self._vars["partner_last_seq"] = str(self._protocol.next_in - 1)
            self._vars["our_next_seq"] = str(self._protocol.next_out)

    def _render(self, fields: Sequence[tuple[int, str]], seq: int) -> list[Field]:
        self._refresh_vars()
        self._ctx.begin_step(sending=True, seq=seq)
        return [(tag, render(value, self._ctx)) for tag, value in fields]

    def _remember(self, name: str | None, sent: SentMessage) -> None:
        if name:
            self._sent[name] = sent
            self._ctx.sent[name] = [(35, sent.msg_type), (34, str(sent.seq)), (52, sent.sending_time),
                                    *sent.body]

    async def _do(self, action: Action, state: StepState) -> None:
        if action.kind == "wait":
            await asyncio.sleep(action.seconds)
            return
        s = self._live()
        p = s.protocol
        if action.kind == "send" and action.duplicate_of:
            original = self._sent.get(action.duplicate_of)
            if original is None:
                raise StepFailure(f"nothing sent earlier as {action.duplicate_of!r} to duplicate")
            s.send_duplicate(original)
            state.notes.append(f"resent MsgSeqNum {original.seq} with PossDupFlag=Y")
        elif action.kind == "send":
            seq = action.seq if action.seq is not None else p.next_out
            body = self._render(action.fields, seq)
            assert action.msg_type is not None
            sent = s.send(action.msg_type, body, seq=action.seq)
            self._remember(action.name, sent)
            if action.msg_type == "2":
                begin = int(dict(body).get(7, "1"))
                self._resend_range = (begin, p.next_in - 1)
        elif action.kind == "gap":
            assert action.msg_type is not None
            body = self._render(action.fields, p.next_out + action.skip)
            sent = s.send_gap(action.msg_type, body, skip=action.skip)
            self._remember(action.name, sent)
            state.notes.append(f"skipped MsgSeqNum {sent.seq - action.skip}..{sent.seq - 1}")
        elif action.kind == "send_raw":
            assert action.raw is not None
            self._refresh_vars()
            self._ctx.begin_step(sending=True, seq=p.next_out)
            s.send_raw(complete_raw(render(action.raw, self._ctx)))
        elif action.kind == "sequence_reset":
            new = p.next_out + action.advance
            s.send("4", [(36, str(new))])
            p.set_next_out(new)
            state.notes.append(f"SequenceReset-Reset to NewSeqNo {new}")
        elif action.kind == "logout":
            p.logout(action.text)
            s.send_raw(b"")     # flushes the Logout the protocol queued (state LOGOUT_SENT kept)

    # ------------------------------------------------------------------ expectations (partner does)
    def _timeout(self, e: Expectation, state: StepState) -> float:
        if e.heartbeats is not None:
            beat = self.session.settings.heartbeat if self.session is not None else 30
            return e.heartbeats * beat + 1.0
        if e.timeout is not None:
            return e.timeout
        return self.options.timeout if state.step.automatic else self.options.prompt_timeout

    async def _check(self, e: Expectation, state: StepState) -> None:
        timeout = self._timeout(e, state)
        if e.kind == "expect_logon":
            await self._expect_logon(e, self.options.connect_timeout)
        elif e.kind == "expect_reconnect":
            await self._expect_reconnect(timeout, state)
        elif e.kind == "expect":
            await self._expect(e, timeout)
        elif e.kind == "expect_none":
            await self._expect_none(e, timeout)
        elif e.kind == "expect_resend":
            await self._expect_resend(timeout)
        elif e.kind == "expect_disconnect":
            await self._expect_disconnect(timeout, state)

    async def _events(self, timeout: float, what: str) -> Any:
        """Yield the partner's messages (not our own link-check answers) until ``timeout``."""
        s = self._live()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return
            try:
                event = await s.next_event(left)
            except SessionTimeout:
                return
            except SessionClosed as exc:
                self._closed_at = f"waiting for {what}"
                text = f" (Logout text: {exc.logout_text})" if exc.logout_text else ""
                raise StepFailure(f"the partner closed the session while we waited for {what}: "
                                  f"{exc}{text}") from None
            if event.own_answer:
                continue
            self._raise_order_problems()
            yield event

    async def _expect_logon(self, e: Expectation, timeout: float) -> None:
        s = self.session or await self._accept(timeout)
        logon = s.protocol.peer_logon
        if logon is None:
            raise StepFailure("no Logon received")
        self._match(e, logon, "Logon")
        problems = [p.text for p in s.problems]
        if problems:
            raise StepFailure("Logon: " + "; ".join(problems))
        engine = [v for t, v in logon.fields if t in (1603, 1604, 1605)]   # DefaultApplExtID-era engine ids
        if engine:
            self.partner_engine = " ".join(engine)

    async def _expect_reconnect(self, timeout: float, state: StepState) -> None:
        if self._never_connected:
            raise StepFailure("not run: the partner never logged on")
        if self.session is not None and not self.session.closed:
            raise StepFailure("the previous connection is still up: the partner never disconnected")
        s = await self._accept(timeout)
        # A gap on Logon is normal after a disconnect (the partner's own Logout may not have
        # reached us): the session layer asks for it with a ResendRequest. Too low is a fault.
        faults = [p.text for p in s.problems if not p.text.startswith("sequence gap")]
        gaps = [p.text for p in s.problems if p.text.startswith("sequence gap")]
        state.notes.extend(f"{g}: ResendRequest sent" for g in gaps)
        if faults:
            raise StepFailure("Logon after reconnect: " + "; ".join(faults))
        logon = s.protocol.peer_logon
        if logon is not None and logon.get(141) == "Y":
            state.notes.append("the partner reset sequence numbers on reconnect (141=Y)")
        else:
            state.notes.append(f"reconnected, Logon MsgSeqNum {logon.get(34) if logon else '?'}")

    def _match(self, e: Expectation, m: FixMessage, label: str) -> list[str]:
        self._refresh_vars()
        self._ctx.begin_step(sending=False)
        self._ctx.current = list(m.fields)
        try:
            mismatches = [x for x in (matcher.check(m.fields, self._ctx) for matcher in e.matchers) if x]
        finally:
            self._ctx.current = None
        if mismatches:
            raise StepFailure(f"{label}: " + "; ".join(str(x) for x in mismatches))
        return []

    async def _expect(self, e: Expectation, timeout: float) -> None:
        assert e.msg_type is not None
        label = f"{e.msg_type} {_NAMES.get(e.msg_type, '')}".strip()
        seen: list[str] = []
        async for event in self._events(timeout, label):
            if event.duplicate:
                continue
            m = event.message
            periodic = m.msg_type == "0" and m.get(112) is None
            if m.msg_type != e.msg_type:
                if m.msg_type in e.ignore or e.search:
                    seen.append(describe(m))
                    continue
                raise StepFailure(f"expected {label}, received {describe(m)}")
            try:
                self._match(e, m, label)
            except StepFailure:
                if e.search or (periodic and e.msg_type == "0"):
                    seen.append(describe(m))
                    continue
                raise
            if e.name:
                self._ctx.received[e.name] = list(m.fields)
            return
        others = f"; received meanwhile: {', '.join(seen[-5:])}" if seen else "; nothing received"
        raise StepFailure(f"no {label} matching {e.describe()} within {timeout:g}s{others}")

    async def _expect_none(self, e: Expectation, timeout: float) -> None:
        async for event in self._events(timeout, "silence"):
            m = event.message
            # Liveness traffic is no answer: periodic Heartbeats, and the partner's own TestRequest
            # when our side was quiet for a heartbeat interval (under load, at HeartBtInt 1).
            if e.ignore_heartbeats and (m.msg_type == "1" or (m.msg_type == "0" and m.get(112) is None)):
                continue
            raise StepFailure(f"the partner answered when it must ignore: {describe(m)}")

    async def _expect_resend(self, timeout: float) -> None:
        if self._resend_range is None:
            raise StepFailure("no ResendRequest was sent in this run")
        begin, end = self._resend_range
        if end < begin:
            return
        covered = begin
        async for event in self._events(timeout, f"the resend of {begin}..{end}"):
            m, seq = event.message, event.seq
            if m.get(43) != "Y":
                raise StepFailure(
                    f"our ResendRequest({begin}..{end}) was answered with {describe(m)} without "
                    f"PossDupFlag(43)=Y: a new message instead of the resend of MsgSeqNum {covered}")
            if seq != covered:
                raise StepFailure(f"resend out of order: MsgSeqNum {seq} came when {covered} was due")
            if m.msg_type == "4":
                if m.get(123) != "Y":
                    raise StepFailure(f"SequenceReset without GapFillFlag(123)=Y answering a ResendRequest: "
                                      f"{describe(m)}")
                try:
                    covered = int(m.get(36) or "")
                except ValueError:
                    raise StepFailure("SequenceReset-GapFill without a numeric NewSeqNo(36): "
                                      f"{describe(m)}") from None
            else:
                if m.get(122) is None:
                    raise StepFailure(f"resent {describe(m)} without OrigSendingTime(122)")
                covered = seq + 1
            if covered > end:
                return
        raise StepFailure(f"the resend of {begin}..{end} stopped at {covered} "
                          f"(nothing more within {timeout:g}s)")

    async def _expect_disconnect(self, timeout: float, state: StepState) -> None:
        s = self._live()
        logout: str | None = None
        try:
            async for event in self._events(timeout, "Logout and disconnect"):
                if event.message.msg_type == "5":
                    logout = event.message.get(58) or ""
        except StepFailure:
            # The close itself is what we wait for here.
            state.notes.append("partner logged out" + (f": {logout}" if logout else "") + " and disconnected"
                               if logout is not None else "partner disconnected")
            self._closed_at = state.key
            await s.close()
            return
        raise StepFailure(f"the session is still up {timeout:g}s later"
                          + (f" (Logout received: {logout!r}, but no disconnect)"
                             if logout is not None else ""))
