"""Runs QuickFIX acceptance-test ``.def`` scripts against a FIX acceptor (the engine under test).

Format, as QuickFIX's ``test/Reflector.rb`` / ``ReflectorClient.rb`` read it (one action a line):

- ``#...`` comment; blank line ignored.
- ``iCONNECT`` / ``i1,CONNECT``: open connection 1 (the digit picks a connection, default 1).
- ``iDISCONNECT``: close it. ``eDISCONNECT``: expect the engine to close it (10 s), with no data first.
- ``I<message>``: send the message; ``E<message>``: read the next message and compare.
  Messages are SOH-delimited; BodyLength(9) and CheckSum(10) are added when the line has none.
  ``<TIME>`` becomes the current UTC time (``YYYYMMDD-HH:MM:SS``), ``<TIME+n>`` / ``<TIME-n>``
  n seconds later / earlier, ``<FILE:path>`` the file's contents.
- ``iSET_SEQNUM ...`` (some ports of the suite): sets the *engine's* numbers through its API, which
  cannot be done over the wire: such a script is reported as not runnable (an error), never skipped
  silently into a pass.

Comparison (``Comparator.rb``): same number of fields, same tags in the same order, values equal
except the tags in :data:`PATTERNS` (``definitions/fields.fmt``: 10, 42, 52, 60, 122), which must
match a pattern. ``subset=True`` relaxes this to "every field of the expected line is there with
that value" (9 and 10 skipped), for engines that add optional fields.
``eCONNECT`` scripts (the engine as initiator) are not supported: they need a listening harness.
A script that cannot be run (``eCONNECT``, an unreadable line, ``iSET_SEQNUM``) is that script's
error in the report; the other scripts still run (:func:`load_defs`).

``DefOptions.sender`` / ``target_comp`` replace the script's CompIDs (the first ``I`` line's 49/56)
on every line, mirrored on ``E`` lines, so the scripts run against an engine that knows other
CompIDs. A script that passed without the engine ever sending a message (it only expected a
disconnect) is checked with a plain Logon under the same CompIDs: if the engine refuses that too,
the disconnect proved nothing and the script fails ("expected messages never came").

``accept_any_app_answer`` is for engines that are not echo servers: where a line expects an
application message, any well-formed application message (BodyLength and CheckSum right, a MsgType
that is not session level) with the expected MsgSeqNum and CompIDs is accepted; session-level
lines are compared exactly, except that BodyLength(9) and CheckSum(10) must be right rather than
equal to the script's (they follow SendingTime's precision, seconds or milliseconds).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.harness.codec import FixMessage, FixParser
from gateway.harness.errors import HarnessError
from gateway.harness.results import (
    ENGINE_LOGON,
    CaseResult,
    FieldDiff,
    MessagePair,
    SuiteResult,
    describe_engine,
)
from gateway.harness.sessionproto import complete_raw
from gateway.vocab.times import utc_timestamp

__all__ = ["PATTERNS", "DefAction", "DefError", "DefOptions", "DefScript", "compare_def",
           "expand_placeholders", "load_def", "load_defs", "parse_def", "run_def", "run_defs"]

# QuickFIX test/definitions/fields.fmt (searched, not anchored, as Ruby's Regexp#=== does).
PATTERNS: dict[int, re.Pattern[str]] = {
    10: re.compile(r"\d{3}"),
    42: re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}"),
    52: re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}|\d{8}-\d{2}:\d{2}:\d{2}[.]\d{3}"),
    60: re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}"),
    122: re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}"),
}
_PREFIXED = re.compile(r"^([IEie])(\d),(.*)$", re.S)
_TIME = re.compile(r"<TIME(?:([+-])(\d+))?>")
_FILE = re.compile(r"<FILE:([^>]+)>")
_ADMIN_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})
_SUITE = "quickfix-def"


class DefError(HarnessError):
    """A ``.def`` script line cannot be understood; names file and line."""

    def __init__(self, detail: str, *, file: str = "", line: int | None = None) -> None:
        self.file, self.line = file, line
        super().__init__(f"{file}:{line}: {detail}" if line else f"{file}: {detail}")


@dataclass(frozen=True, slots=True)
class DefAction:
    line: int
    kind: str          # "I", "E", "i", "e"
    cid: int
    body: str          # message text (SOH-delimited, placeholders not yet expanded) or command


@dataclass(frozen=True, slots=True)
class DefScript:
    file: Path
    name: str
    actions: tuple[DefAction, ...]


@dataclass(frozen=True, slots=True)
class DefOptions:
    host: str
    port: int
    timeout: float = 10.0          # per expected message (QuickFIX's runner waits forever)
    disconnect_timeout: float = 10.0
    subset: bool = False
    connect_timeout: float = 10.0
    sender: str | None = None          # replaces the script's SenderCompID (the harness side)
    target_comp: str | None = None     # replaces the script's TargetCompID (the engine)
    accept_any_app_answer: bool = False


def parse_def(text: str, file: str = "<def>") -> DefScript:
    actions = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        found = _PREFIXED.match(line)
        if found:
            kind, cid, body = found.group(1), int(found.group(2)), found.group(3)
        elif line[0] in "IEie":
            kind, cid, body = line[0], 1, line[1:]
        else:
            raise DefError(f"syntax error: line must start with I, E, i, e or # ({line[:40]!r})",
                           file=file, line=number)
        if kind in "ie":
            command = body.strip()
            verb = command.split()[0] if command else ""
            allowed = {"i": ("CONNECT", "DISCONNECT", "SET_SEQNUM"), "e": ("CONNECT", "DISCONNECT")}[kind]
            if verb not in allowed:
                raise DefError(f"syntax error: unknown command {kind}{command!r}", file=file, line=number)
            if kind == "e" and verb == "CONNECT":
                raise DefError("eCONNECT scripts (engine as initiator) are not supported",
                               file=file, line=number)
            if verb == "SET_SEQNUM":
                raise DefError("iSET_SEQNUM sets the engine's sequence numbers through its own API: "
                               "not runnable over the wire", file=file, line=number)
            body = command
        elif "\x01" not in body and "^A" in body:
            body = body.replace("^A", "\x01")   # scripts pasted through a terminal
        actions.append(DefAction(number, kind, cid, body))
    if not any(a.kind == "i" and a.body == "CONNECT" for a in actions):
        raise DefError("the script has no iCONNECT", file=file)
    return DefScript(Path(file), Path(file).stem, tuple(actions))


def load_def(path: str | Path) -> DefScript:
    path = Path(path)
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError as exc:
        raise DefError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_def(text, str(path))


def load_defs(paths: Sequence[str | Path]) -> tuple[list[DefScript], list[CaseResult]]:
    """Every script that can be read, and an error case for each one that cannot."""
    scripts: list[DefScript] = []
    broken: list[CaseResult] = []
    for path in paths:
        try:
            scripts.append(load_def(path))
        except DefError as exc:
            text = f"not runnable: {exc}"
            broken.append(CaseResult(_SUITE, Path(path).stem, False, 0.0, (text,), (), str(path), text))
    return scripts, broken


def _script_comp_ids(script: DefScript) -> tuple[str, str] | None:
    for action in script.actions:
        if action.kind == "I":
            fields = dict(_split(action.body))
            if fields.get("49") and fields.get("56"):
                return fields["49"], fields["56"]
    return None


def _begin_string(script: DefScript) -> str:
    first = next((a.body for a in script.actions if a.kind == "I"), "")
    return dict(_split(first)).get("8", "FIX.4.4")


def _rewrite_comp_ids(body: str, kind: str, ours: tuple[str, str], wanted: tuple[str, str]) -> str:
    """49/56 of a line from the script's CompIDs to the wanted ones (E lines: mirrored)."""
    if ours == wanted:
        return body
    (old_s, old_t), (new_s, new_t) = ours, wanted
    swap = {"49": {old_s: new_s}, "56": {old_t: new_t}} if kind == "I" else \
        {"49": {old_t: new_t}, "56": {old_s: new_s}}
    parts = body.split("\x01")
    for n, part in enumerate(parts):
        tag, eq, value = part.partition("=")
        if eq and tag in swap and value in swap[tag]:
            parts[n] = f"{tag}={swap[tag][value]}"
    return "\x01".join(parts)


def _any_app_answer(expected: str, received: str) -> str | None:
    """The accept-any-app-answer rule; None when ``received`` stands in for ``expected``."""
    exp = dict(_split(expected))
    message, _ = FixParser().cut(received.encode("latin-1"), 0, final=True)
    if not isinstance(message, FixMessage) or not (message.checksum_ok and message.body_length_ok):
        return "not a well-formed message (BodyLength or CheckSum)"
    if message.msg_type in _ADMIN_TYPES:
        return f"expected an application message, got MsgType {message.msg_type}"
    for tag in (34, 49, 56):
        if exp.get(str(tag)) is not None and message.get(tag) != exp[str(tag)]:
            return f"Value in field ({tag}) should be ({exp[str(tag)]}) but was ({message.get(tag)})"
    return None


def _judge(expected: str, received: str, options: DefOptions) -> tuple[str | None, list[FieldDiff]]:
    """(reason or None, diffs): QuickFIX's comparison, or the accept-any-app-answer rule for an
    expected application message (then a pass carries the fields that differed, for the log)."""
    if options.accept_any_app_answer and dict(_split(expected)).get("35") not in _ADMIN_TYPES:
        reason = _any_app_answer(expected, received)
        if reason is not None:
            want, got = dict(_split(expected)).get("35"), dict(_split(received)).get("35")
            return reason, [FieldDiff("35", want, got, reason)]
        return None, compare_def(expected, received)[1]
    reason, diffs = compare_def(expected, received, subset=options.subset)
    if reason is not None and options.accept_any_app_answer and all(d.tag in ("9", "10") for d in diffs):
        # BodyLength and CheckSum follow SendingTime's precision, which the 52 pattern leaves open
        # (seconds or milliseconds); in this mode they are checked for being right, not for being equal.
        message, _ = FixParser().cut(received.encode("latin-1"), 0, final=True)
        if isinstance(message, FixMessage) and message.checksum_ok and message.body_length_ok:
            return None, diffs
    return reason, diffs


def expand_placeholders(body: str, now: datetime, base_dir: Path | None = None) -> str:
    """``<TIME>``, ``<TIME±n>`` and ``<FILE:path>`` substituted (UTC, whole seconds, as QuickFIX)."""
    def time_value(found: re.Match[str]) -> str:
        moment = now
        if found.group(1):
            delta = timedelta(seconds=int(found.group(2)))
            moment = now + delta if found.group(1) == "+" else now - delta
        return utc_timestamp(moment, 0)

    def file_value(found: re.Match[str]) -> str:
        path = Path(found.group(1))
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return path.read_bytes().decode("latin-1").strip()

    return _FILE.sub(file_value, _TIME.sub(time_value, body))


def _split(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split("\x01"):
        if part:
            tag, _, value = part.partition("=")
            out.append((tag, value))
    return out


def compare_def(expected: str, received: str, *, subset: bool = False) -> tuple[str | None, list[FieldDiff]]:
    """QuickFIX's comparison; returns (reason or None, per-field diffs)."""
    exp, got = _split(expected), _split(received)
    diffs: list[FieldDiff] = []

    def value_ok(tag: str, e: str, g: str) -> bool:
        pattern = PATTERNS.get(int(tag)) if tag.isdigit() else None
        return pattern.search(g) is not None if pattern else e == g

    if subset:
        got_map: dict[str, list[str]] = {}
        for tag, value in got:
            got_map.setdefault(tag, []).append(value)
        for tag, value in exp:
            if tag in ("9", "10"):
                continue
            values = got_map.get(tag, [])
            if not any(value_ok(tag, value, g) for g in values):
                diffs.append(FieldDiff(tag, value, values[0] if values else None))
        reason = None
        if diffs:
            d = diffs[0]
            reason = (f"Field ({d.tag}) missing" if d.received is None
                      else f"Value in field ({d.tag}) should be ({d.expected}) but was ({d.received})")
        return reason, diffs
    reason = None
    if len(exp) != len(got):
        reason = "Number of fields do not match"
    for i in range(max(len(exp), len(got))):
        e = exp[i] if i < len(exp) else None
        g = got[i] if i < len(got) else None
        if e is None or g is None:
            tag = e[0] if e is not None else g[0] if g is not None else "?"
            diffs.append(FieldDiff(tag, e[1] if e else None, g[1] if g else None))
            continue
        if e[0] != g[0]:
            diffs.append(FieldDiff(e[0], e[1], None, f"found field ({g[0]}) instead"))
            reason = reason or f"Expected field ({e[0]}) but found field ({g[0]})"
            break
        if not value_ok(e[0], e[1], g[1]):
            diffs.append(FieldDiff(e[0], e[1], g[1]))
            if reason is None:
                reason = (f"Field ({e[0]}) does not match pattern" if int(e[0]) in PATTERNS
                          else f"Value in field ({e[0]}) should be ({e[1]}) but was ({g[1]})")
    return reason, diffs


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FixParser()
        self.eof = False

    async def read_message(self, timeout: float) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for _ in range(1_000_000):
            message = self.parser.next()
            if message is not None:
                return message.raw.decode("latin-1")
            if self.eof:
                raise HarnessError("Was disconnected, expected data")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise HarnessError(f"no message within {timeout:g}s")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), remaining)
            except TimeoutError:
                raise HarnessError(f"no message within {timeout:g}s") from None
            except ConnectionError:
                data = b""
            if not data:
                self.eof = True
                self.parser.feed_eof()
            else:
                self.parser.feed(data)
        raise HarnessError("read loop bound exceeded")

    async def wait_disconnect(self, timeout: float) -> None:
        if self.parser.buffered:
            raise HarnessError("Expected disconnection, got data")
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            raise HarnessError(f"Connection hangs after {timeout:g} seconds.") from None
        except ConnectionError:
            data = b""
        if data:
            raise HarnessError("Expected disconnection, got data: "
                               + data[:200].replace(b"\x01", b"|").decode("latin-1"))
        self.eof = True

    def close(self) -> None:
        self.writer.close()


async def run_def(script: DefScript, options: DefOptions) -> CaseResult:
    """Run one script; a failure names the script line, QuickFIX's reason and both messages."""
    started = time.monotonic()
    conns: dict[int, _Conn] = {}
    pairs: list[MessagePair] = []
    log: list[str] = []
    failure: str | None = None
    error: str | None = None
    base_dir = script.file.parent
    ours = _script_comp_ids(script)
    wanted = (options.sender or ours[0], options.target_comp or ours[1]) if ours else None
    received_any = False

    def line_text(action: DefAction) -> str:
        body = expand_placeholders(action.body, datetime.now(UTC), base_dir)
        return _rewrite_comp_ids(body, action.kind, ours, wanted) if ours and wanted else body

    try:
        for action in script.actions:
            try:
                if action.kind == "i":
                    if action.body == "CONNECT":
                        reader, writer = await asyncio.wait_for(
                            asyncio.open_connection(options.host, options.port), options.connect_timeout)
                        conns[action.cid] = _Conn(reader, writer)
                    elif action.body == "DISCONNECT":
                        conns.pop(action.cid).close()
                    else:   # parse_def admits no other command
                        raise HarnessError(f"cannot run {action.body!r}")
                    log.append(f"line {action.line}: {action.body} ({action.cid})")
                elif action.kind == "e":
                    conn = conns.get(action.cid)
                    if conn is None:
                        raise HarnessError("no connection to wait on")
                    await conn.wait_disconnect(options.disconnect_timeout)
                    log.append(f"line {action.line}: disconnected as expected")
                elif action.kind == "I":
                    conn = conns.get(action.cid)
                    if conn is None:
                        raise HarnessError("Unable to send message because connection was dropped")
                    data = complete_raw(line_text(action))
                    conn.writer.write(data)
                    await conn.writer.drain()
                    log.append(f"line {action.line}: sent " + _show(data))
                else:
                    conn = conns.get(action.cid)
                    if conn is None:
                        raise HarnessError("no connection to read from")
                    expected = complete_raw(line_text(action))
                    expected_text = expected.decode("latin-1")
                    received = await conn.read_message(options.timeout)
                    if not received_any and "\x0135=A\x01" in received:
                        log.append(ENGINE_LOGON + _show(received.encode("latin-1")))
                    received_any = True
                    reason, diffs = _judge(expected_text, received, options)
                    if reason is None and options.accept_any_app_answer and diffs:
                        log.append(f"line {action.line}: application answer accepted in place of the echo")
                        diffs = []
                    pairs.append(MessagePair(
                        f"line {action.line}",
                        tuple((int(t), v) for t, v in _split(expected_text) if t.isdigit()),
                        tuple((int(t), v) for t, v in _split(received) if t.isdigit()),
                        tuple(diffs), reason is None))
                    if reason is not None:
                        raise HarnessError(f"{reason}\n    expected: {_show(expected)}\n"
                                           f"    received: {_show(received.encode('latin-1'))}")
                    log.append(f"line {action.line}: received " + _show(received.encode("latin-1")))
            except (HarnessError, OSError, TimeoutError) as exc:
                text = str(exc) or type(exc).__name__
                failure = f"line {action.line}: {text}"
                if isinstance(exc, (OSError, TimeoutError)) and action.kind == "i":
                    error = failure
                break
    finally:
        for conn in conns.values():
            conn.close()
    if (failure is None and not received_any and wanted is not None
            and not await _engine_answers_logon(options, _begin_string(script), wanted)):
        failure = (f"expected messages never came: the engine sent nothing, and it does not answer a "
                   f"valid Logon from {wanted[0]} to {wanted[1]} either, so the disconnect proves "
                   "nothing (unknown CompIDs? use --sender / --target-comp)")
    failures = (failure,) if failure else ()
    return CaseResult(_SUITE, script.name, failure is None, time.monotonic() - started, failures,
                      tuple(pairs), str(script.file), error, tuple(log))


async def _engine_answers_logon(options: DefOptions, begin: str, comp_ids: tuple[str, str]) -> bool:
    """Does the engine answer a plain, valid Logon (ResetSeqNumFlag=Y) from these CompIDs?"""
    sender, target = comp_ids
    now = utc_timestamp(datetime.now(UTC), 0)
    fields = [f"8={begin}", "35=A", "34=1", f"49={sender}", f"52={now}", f"56={target}", "98=0", "108=30",
              "141=Y"] + (["1137=9"] if begin == "FIXT.1.1" else [])
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(options.host, options.port),
                                                options.connect_timeout)
    except (OSError, TimeoutError):
        return False
    conn = _Conn(reader, writer)
    try:
        writer.write(complete_raw("\x01".join(fields) + "\x01"))
        await writer.drain()
        answer = await conn.read_message(min(options.timeout, 5.0))
        if "\x0135=A\x01" not in answer:
            return False
        logout = [f"8={begin}", "35=5", "34=2", f"49={sender}", f"52={now}", f"56={target}"]
        writer.write(complete_raw("\x01".join(logout) + "\x01"))
        await writer.drain()
        return True
    except (HarnessError, OSError, TimeoutError):
        return False
    finally:
        conn.close()


def _show(data: bytes) -> str:
    return data.replace(b"\x01", b"|").decode("latin-1")


def run_defs(scripts: Sequence[DefScript], options: DefOptions,
             on_case: Callable[[CaseResult], None] | None = None,
             broken: Sequence[CaseResult] = ()) -> SuiteResult:
    """Run ``scripts`` in order; ``broken`` (from :func:`load_defs`) are reported as errors."""
    started = time.monotonic()
    cases = list(broken)
    for script in scripts:
        case = asyncio.run(run_def(script, options))
        cases.append(case)
        if on_case:
            on_case(case)
    begins = [_begin_string(s) for s in scripts]
    comp_ids = [(options.sender or ids[0], options.target_comp or ids[1])
                for ids in (_script_comp_ids(s) for s in scripts) if ids]
    engine = describe_engine(options.host, options.port, begins, comp_ids, cases)
    return SuiteResult(_SUITE, tuple(cases), time.monotonic() - started, engine)
