"""Runs certification scenarios against a FIX acceptor over TCP and returns :class:`CaseResult` objects.

Each scenario gets its own connection(s) and a fresh ClOrdID prefix (unique per run, so an engine
that remembers ClOrdIDs across runs does not reject repeats as duplicates). A failing step stops its
scenario; the message says which step, which MsgType and which tag, and what came instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.harness.codec import FixMessage
from gateway.harness.errors import HarnessError
from gateway.harness.results import (
    ENGINE_LOGON,
    CaseResult,
    FieldDiff,
    MessagePair,
    SuiteResult,
    describe_engine,
)
from gateway.harness.scenario import Scenario, Step
from gateway.harness.session import FixSession, SessionClosed, SessionFailure, SessionTimeout
from gateway.harness.sessionproto import SentMessage, SessionSettings, SessionState, complete_raw
from gateway.harness.templating import TemplateContext, TemplateError, render

__all__ = ["CaseFailed", "CertifyOptions", "StepFailed", "msg_label", "run_scenario", "run_scenarios",
           "run_token"]

MSG_TYPE_NAMES = {
    "0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject", "4": "SequenceReset",
    "5": "Logout", "A": "Logon", "D": "NewOrderSingle", "8": "ExecutionReport", "9": "OrderCancelReject",
    "F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest",
    "j": "BusinessMessageReject", "V": "MarketDataRequest", "W": "MarketDataSnapshotFullRefresh",
    "X": "MarketDataIncrementalRefresh", "Y": "MarketDataRequestReject", "x": "SecurityListRequest",
    "y": "SecurityList", "c": "SecurityDefinitionRequest", "d": "SecurityDefinition",
    "e": "SecurityStatusRequest", "f": "SecurityStatus", "AF": "OrderMassStatusRequest",
}
# Fields that explain a rejection; quoted when an unexpected message arrives.
_EXPLAIN_TAGS = (39, 150, 58, 103, 102, 434, 45, 371, 372, 373, 380, 281, 560)


def msg_label(msg_type: str | None) -> str:
    name = MSG_TYPE_NAMES.get(msg_type or "")
    return f"{msg_type} ({name})" if name else str(msg_type)


def run_token() -> str:
    """Short base-36 token from the clock: unique per run, readable in logs."""
    value = time.time_ns() // 1_000_000
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out[-7:]


@dataclass(frozen=True, slots=True)
class CertifyOptions:
    host: str
    port: int
    sender: str | None = None          # override the scenario's SenderCompID (the partner's ID)
    target_comp: str | None = None     # override the scenario's TargetCompID
    connect_timeout: float = 10.0
    scenario_timeout: float = 300.0
    clordid_prefix: str = field(default_factory=run_token)


class CaseFailed(HarnessError):
    """The peer made the scenario fail outside any step (e.g. refused the initial Logon)."""


class StepFailed(CaseFailed):
    """A scenario step did not hold; ``step`` is the step and ``pair`` what the report shows."""

    def __init__(self, step: Step, detail: str, pair: MessagePair | None = None) -> None:
        self.step, self.detail, self.pair = step, detail, pair
        super().__init__(f"{step.label}: {detail}")


def _explain(m: FixMessage) -> str:
    parts = [f"{t}={m.get(t)}" for t in _EXPLAIN_TAGS if m.get(t) is not None]
    return f" [{' '.join(parts)}]" if parts else ""


class _Run:
    def __init__(self, scenario: Scenario, options: CertifyOptions, index: int) -> None:
        self.scenario = scenario
        self.options = options
        s = scenario.session
        sender = s.sender if s.fixed_comp_ids else (options.sender or s.sender)
        target = s.target if s.fixed_comp_ids else (options.target_comp or s.target)
        self.settings = SessionSettings(
            begin_string=s.begin_string, sender=sender, target=target, heartbeat=s.heartbeat,
            reset_seq_num=s.reset,
            username=s.username, password=s.password, default_appl_ver_id=s.default_appl_ver_id,
            header_fields=s.header)
        self.ctx = TemplateContext(sender=self.settings.sender, target=self.settings.target,
                                   variables=scenario.variables,
                                   clordid_prefix=f"{options.clordid_prefix}{index:02d}-")
        self.session: FixSession | None = None
        self.sent: dict[str, SentMessage] = {}
        self.pairs: list[MessagePair] = []
        self.log: list[str] = []

    # ------------------------------------------------------------------ helpers
    def _note(self, text: str) -> None:
        self.log.append(text)

    def _live(self, step: Step) -> FixSession:
        if self.session is None or self.session.closed:
            raise StepFailed(step, "not connected (add a reconnect step first)")
        return self.session

    async def _connect(self, step: Step | None, *, logon: bool, reset: bool | None,
                       timeout: float, extra: Sequence[tuple[int, str]] = ()) -> FixMessage | None:
        previous = self.session
        self.session = await FixSession.connect(self.settings, self.options.host, self.options.port,
                                                timeout=self.options.connect_timeout)
        if previous is not None and not (reset if reset is not None else self.settings.reset_seq_num):
            # Same session, new connection: sequence numbers (and what we may have to resend) carry on.
            p = self.session.protocol
            p.set_next_out(previous.protocol.next_out)
            p.set_next_in(previous.protocol.next_in)
            p.sent.update(previous.protocol.sent)
        self._note(f"connected to {self.options.host}:{self.options.port}")
        if not logon:
            return None
        answer = await self.session.logon(timeout=timeout, reset=reset, extra=extra)
        self._note(f"logged on as {self.settings.sender}->{self.settings.target}")
        self._note_engine_logon()
        return answer

    def _note_engine_logon(self) -> None:
        peer = self.session.protocol.peer_logon if self.session is not None else None
        if peer is not None and not any(line.startswith(ENGINE_LOGON) for line in self.log):
            self.log.append(ENGINE_LOGON + peer.to_text())

    # ------------------------------------------------------------------ steps
    async def run(self) -> None:
        s = self.scenario.session
        await self._connect(None, logon=False, reset=None, timeout=s.timeout)  # errors: cannot run
        if s.logon:
            assert self.session is not None
            try:
                await self.session.logon(timeout=s.timeout)
            except SessionFailure as exc:
                raise CaseFailed(f"logon: {exc}") from None
            self._note(f"logged on as {self.settings.sender}->{self.settings.target}")
            self._note_engine_logon()
        for step in self.scenario.steps:
            await self._step(step)
        if s.logout and self.session is not None and not self.session.closed \
                and self.session.protocol.state is SessionState.ACTIVE:
            answer = await self.session.logout(timeout=min(s.timeout, 5.0))
            self._note("logged out" if answer else "no Logout answer at the end (not a failure)")

    async def _step(self, step: Step) -> None:
        handler = getattr(self, f"_do_{step.kind}")
        try:
            await handler(step)
        except StepFailed:
            raise
        except SessionClosed as exc:
            text = f"; Logout text: {exc.logout_text!r}" if exc.logout_text else ""
            raise StepFailed(step, f"connection closed ({exc}){text}") from None
        except HarnessError as exc:
            raise StepFailed(step, str(exc)) from None

    def _record_sent(self, step: Step, sent: SentMessage) -> None:
        fields = [(35, sent.msg_type), (34, str(sent.seq)), (52, sent.sending_time), *sent.body]
        if step.name:
            self.sent[step.name] = sent
            self.ctx.sent[step.name] = fields
        body = " ".join(f"{t}={v}" for t, v in sent.body)
        self._note(f"{step.label}: sent {msg_label(sent.msg_type)} seq {sent.seq} {body}")

    def _render_fields(self, step: Step, pairs: Sequence[tuple[int, str]], seq: int) -> list[tuple[int, str]]:
        self.ctx.begin_step(sending=True, seq=seq)
        return [(tag, render(value, self.ctx)) for tag, value in pairs]

    async def _do_send(self, step: Step) -> None:
        session = self._live(step)
        if step.duplicate_of:
            sent = session.send_duplicate(self.sent[step.duplicate_of])
        else:
            seq = step.seq or session.protocol.next_out
            body = self._render_fields(step, step.fields, seq)
            header = self._render_fields(step, step.header, seq) if step.header else []
            self.ctx.begin_step(sending=False)
            sent = session.send(step.msg_type or "", body, seq=step.seq, header=header)
        self._record_sent(step, sent)

    async def _do_gap(self, step: Step) -> None:
        session = self._live(step)
        seq = session.protocol.next_out + step.skip
        body = self._render_fields(step, step.fields, seq)
        sent = session.send_gap(step.msg_type or "", body, skip=step.skip)
        self._record_sent(step, sent)

    async def _do_send_raw(self, step: Step) -> None:
        session = self._live(step)
        self.ctx.begin_step(sending=True, seq=session.protocol.next_out)
        data = complete_raw(render(step.raw or "", self.ctx))
        session.send_raw(data, consumes_seq=step.consumes_seq)
        shown = data.replace(b"\x01", b"|").decode("latin-1")
        self._note(f"{step.label}: sent raw {shown}")

    def _mismatches(self, step: Step, m: FixMessage) -> list[FieldDiff]:
        fields = m.fields
        diffs = []
        if m.msg_type != step.msg_type:
            diffs.append(FieldDiff("35", step.msg_type, m.msg_type, "MsgType"))
        self.ctx.begin_step(sending=False)
        self.ctx.current = fields
        try:
            for matcher in step.matchers:
                try:
                    miss = matcher.check(fields, self.ctx)
                except TemplateError as exc:   # e.g. {{this.270}} on a message without 270
                    diffs.append(FieldDiff(str(matcher.selector), str(exc), None))
                    continue
                if miss is not None:
                    diffs.append(FieldDiff(miss.selector, miss.expected, miss.received))
        finally:
            self.ctx.current = None
        return diffs

    def _expected_text(self, step: Step) -> str:
        self.ctx.begin_step(sending=False)
        parts = [f"35={step.msg_type}"]
        parts += [f"{m.selector}: {m.describe(self.ctx)}" for m in step.matchers]
        return "\n".join(parts)

    async def _do_expect(self, step: Step) -> None:
        session = self._live(step)
        loop = asyncio.get_running_loop()
        timeout = step.timeout or self.scenario.session.timeout
        deadline = loop.time() + timeout
        skipped: list[str] = []
        own_answers = session.own_answers
        for _ in range(100_000):   # bounded; the deadline ends it long before
            remaining = deadline - loop.time()
            try:
                m = await session.next_message(max(0.0, remaining), skip_duplicates=not step.allow_dup)
            except SessionTimeout:
                seen = f"; skipped {len(skipped)}: {', '.join(skipped[-8:])}" if skipped else ""
                if session.own_answers > own_answers:
                    seen += ("; the peer answered the harness's own TestRequest(s) but sent nothing "
                             "of its own")
                pair = MessagePair(step.label, None, None, (), False, self._expected_text(step))
                raise StepFailed(step, f"no {msg_label(step.msg_type)} within {timeout:g}s{seen}",
                                 pair) from None
            if m.msg_type in step.ignore and m.msg_type != step.msg_type:
                continue
            diffs = self._mismatches(step, m)
            pair = MessagePair(step.label, None, tuple(m.fields), tuple(diffs), not diffs,
                               self._expected_text(step))
            if not diffs:
                self.pairs.append(pair)
                if step.name:
                    self.ctx.received[step.name] = m.fields
                self._note(f"{step.label}: received {m.to_text()}")
                return
            if step.search:
                skipped.append(f"{m.msg_type} seq {m.get(34)}{_explain(m)}")
                continue
            if m.msg_type != step.msg_type:
                detail = f"expected {msg_label(step.msg_type)}, received {msg_label(m.msg_type)}{_explain(m)}"
            else:
                detail = f"{msg_label(m.msg_type)} " + "; ".join(
                    f"tag {d.tag}: expected {d.expected}, received "
                    f"{'absent' if d.received is None else repr(d.received)}" for d in diffs)
            raise StepFailed(step, detail, pair)
        raise StepFailed(step, "too many messages skipped")

    async def _do_expect_none(self, step: Step) -> None:
        session = self._live(step)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (step.seconds or 0.0)
        for _ in range(100_000):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                m = await session.next_message(remaining)
            except SessionTimeout:
                return
            if m.msg_type not in step.ignore:
                raise StepFailed(step, f"expected no message, received {msg_label(m.msg_type)} "
                                       f"seq {m.get(34)}{_explain(m)}",
                                 MessagePair(step.label, None, tuple(m.fields), (), False, "(nothing)"))

    async def _do_logon(self, step: Step) -> None:
        timeout = step.timeout or self.scenario.session.timeout
        extra = self._render_fields(step, step.fields, 1)
        try:
            if self.session is None or self.session.closed:
                await self._connect(step, logon=True, reset=step.reset, timeout=timeout, extra=extra)
            else:
                await self.session.logon(timeout=timeout, reset=step.reset, extra=extra)
        except SessionFailure as exc:
            if step.expect_reject:
                self._note(f"{step.label}: logon refused as expected ({exc})")
                return
            raise
        if step.expect_reject:
            raise StepFailed(step, "logon was accepted but the scenario expects it to be refused")
        self._note(f"{step.label}: logged on")

    async def _do_logout(self, step: Step) -> None:
        session = self._live(step)
        answer = await session.logout(step.text, timeout=step.timeout or self.scenario.session.timeout)
        if answer is None:
            raise StepFailed(step, "no Logout (5) answer to our Logout")
        self._note(f"{step.label}: logged out ({answer.get(58) or 'no text'})")

    async def _do_disconnect(self, step: Step) -> None:
        if self.session is not None:
            await (self.session.drop() if step.abort else self.session.close())
        self._note(f"{step.label}: {'aborted' if step.abort else 'closed'} the connection without Logout")

    async def _do_reconnect(self, step: Step) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()
        await self._connect(step, logon=step.logon_after, reset=step.reset,
                            timeout=step.timeout or self.scenario.session.timeout)

    async def _do_expect_disconnect(self, step: Step) -> None:
        if self.session is None:
            raise StepFailed(step, "never connected")
        session = self.session
        timeout = step.timeout or self.scenario.session.timeout
        if not await session.wait_closed(timeout):
            raise StepFailed(step, f"the peer did not disconnect within {timeout:g}s")
        self._note(f"{step.label}: peer disconnected")

    async def _do_wait(self, step: Step) -> None:
        await asyncio.sleep(step.seconds or 0.0)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def run_scenario(scenario: Scenario, options: CertifyOptions, index: int = 0) -> CaseResult:
    """Run one scenario; never raises for what the peer does (that is a failed case)."""
    run = _Run(scenario, options, index)
    started = time.monotonic()
    failures: tuple[str, ...] = ()
    error: str | None = None
    try:
        await asyncio.wait_for(run.run(), options.scenario_timeout)
    except StepFailed as exc:
        failures = (str(exc),)
        if exc.pair is not None:
            run.pairs.append(exc.pair)
    except CaseFailed as exc:
        failures = (str(exc),)
    except TimeoutError:
        failures = (f"scenario did not finish within {options.scenario_timeout:g}s",)
    except HarnessError as exc:
        error = str(exc)
        failures = (error,)
    finally:
        await run.close()
    if run.session is not None and run.session.problems:
        run.log.extend(f"session: {p.text}" for p in run.session.problems)
    run._note_engine_logon()   # scenarios that log on in a step
    suite = scenario.session.begin_string
    return CaseResult(suite=suite, name=scenario.name, passed=not failures,
                      duration=time.monotonic() - started, failures=failures, pairs=tuple(run.pairs),
                      file=scenario.file, error=error, log=tuple(run.log))


def run_scenarios(scenarios: Sequence[Scenario], options: CertifyOptions,
                  on_case: Callable[[CaseResult], None] | None = None,
                  suite_name: str = "certification") -> SuiteResult:
    """Run scenarios one after another (each on its own event loop)."""
    started = time.monotonic()
    cases = []
    for i, scenario in enumerate(scenarios):
        result = asyncio.run(run_scenario(scenario, options, i))
        cases.append(result)
        if on_case is not None:
            on_case(result)
    comp_ids = [(s.session.sender if s.session.fixed_comp_ids else options.sender or s.session.sender,
                 s.session.target if s.session.fixed_comp_ids else options.target_comp or s.session.target)
                for s in scenarios]
    engine = describe_engine(options.host, options.port, [s.session.begin_string for s in scenarios],
                             comp_ids, cases)
    return SuiteResult(suite_name, tuple(cases), time.monotonic() - started, engine)

