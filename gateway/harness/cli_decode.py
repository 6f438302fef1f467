"""``plxtra-fix decode LOG...``: FIX messages from logs, with tag names and enum meanings.

Reads any format the log readers know (QuickFIX C++ and QuickFIX/J logs, raw SOH streams,
``|``/``^A`` dumps, gzip, ``-`` for stdin), filters by MsgType, session and field values, and
prints each message as a block (``35=D (MsgType=NewOrderSingle)``, repeating groups indented as
the dictionary lays them out), one line (``--compact``) or a JSON object per line (``--json``).
Problems found in the logs (bad BodyLength/CheckSum, corrupt lines, truncated gzip) are
summarised on stderr at the end; with ``--strict`` they make the exit code 1. Writing into a
closed pipe (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from gateway.harness.codec import FixMessage
from gateway.harness.dictionary import FixDictionary, GroupLayout, dictionary_for, load_dictionary
from gateway.harness.errors import DictionaryError, HarnessError, MalformedFieldError
from gateway.harness.readers import FORMATS, LogProblem, LogReader, LogRecord
from gateway.harness.selectors import parse_session
from gateway.vocab.masking import mask_fields, mask_fix

__all__ = ["Filters", "configure", "parse_filters", "run"]

_MAX_PROBLEMS_SHOWN = 20


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="*", metavar="LOG", help="log files (gzip ok); '-' or nothing: stdin")
    parser.add_argument(
        "--msg-type",
        action="append",
        default=[],
        metavar="TYPES",
        help="only these MsgTypes, comma separated values or names (D,8 or NewOrderSingle); repeatable",
    )
    parser.add_argument(
        "--session",
        action="append",
        default=[],
        metavar="SENDER:TARGET",
        help="only this session (both directions); SENDER->TARGET (quoted) works too, "
        "BEGINSTRING:SENDER:TARGET names the version",
    )
    parser.add_argument(
        "--grep",
        action="append",
        default=[],
        metavar="TAG=VALUE",
        help="only messages with this field value (TAG is a number or a name; TAG~REGEX searches); "
        "repeat to require all",
    )
    parser.add_argument(
        "--no-admin", action="store_true", help="hide session-level messages (Heartbeat, Logon...)"
    )
    parser.add_argument(
        "--format", choices=["auto", *FORMATS], default="auto", help="log format (default: detect per file)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--compact", action="store_true", help="one line per message")
    mode.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--limit", type=int, default=0, metavar="N",
                        help="stop after N messages printed (0, the default: no limit)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any problem was found in the logs")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="print the sessions found (messages per side, time span) on stderr",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="print Password(554) and NewPassword(925) as logged (masked by default)",
    )
    parser.add_argument(
        "--dictionary-dir",
        metavar="DIR",
        default=None,
        help="QuickFIX spec XML directory (default: from quickfix)",
    )


# -- filters ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Grep:
    tag: int
    value: str
    regex: re.Pattern[str] | None

    def matches(self, message: FixMessage) -> bool:
        values = message.get_all(self.tag)
        if self.regex is not None:
            return any(self.regex.search(v) for v in values)
        return self.value in values


@dataclass(frozen=True, slots=True)
class _SessionFilter:
    begin_string: str | None
    pair: frozenset[str]
    ordered: tuple[str, str]

    def matches(self, record: LogRecord) -> bool:
        if self.begin_string is not None and record.session.begin_string != self.begin_string:
            return False
        return (record.sender, record.target) in (self.ordered, self.ordered[::-1])


@dataclass(frozen=True, slots=True)
class Filters:
    """What ``decode`` keeps; everything empty keeps everything."""

    msg_types: frozenset[str] = frozenset()
    sessions: tuple[_SessionFilter, ...] = ()
    greps: tuple[_Grep, ...] = ()
    no_admin: bool = False

    def matches(self, record: LogRecord, dictionary: FixDictionary | None) -> bool:
        message = record.message
        if self.msg_types and message.msg_type not in self.msg_types:
            return False
        if self.no_admin and dictionary is not None and dictionary.is_admin(message.msg_type):
            return False
        if self.sessions and not any(s.matches(record) for s in self.sessions):
            return False
        return all(g.matches(message) for g in self.greps)


def _known_dictionaries(spec_dir: str | None) -> list[FixDictionary]:
    found = []
    for version in ("FIX.4.4", "FIXT.1.1", "FIX.4.2"):
        try:
            found.append(load_dictionary(version, spec_dir=spec_dir))
        except DictionaryError:
            continue
    return found


def _msg_type_of(d: FixDictionary, name: str) -> str | None:
    return d.msg_type(name)


def _tag_of(d: FixDictionary, name: str) -> int | None:
    return d.tag(name)


def parse_filters(args: argparse.Namespace) -> Filters:
    """Build filters from the options; ValueError with a readable message if one is bad."""
    spec_dir = getattr(args, "dictionary_dir", None)
    dictionaries: list[FixDictionary] | None = None

    def lookup(fn: Callable[[FixDictionary], str | int | None]) -> str | int | None:
        nonlocal dictionaries
        if dictionaries is None:
            dictionaries = _known_dictionaries(spec_dir)
        for d in dictionaries:
            found = fn(d)
            if found is not None:
                return found
        return None

    msg_types: set[str] = set()
    for item in (t.strip() for group in args.msg_type for t in group.split(",")):
        if not item:
            continue
        if len(item) > 3:  # a name: MsgType values are at most 3 characters
            value = lookup(functools.partial(_msg_type_of, name=item))
            if value is None:
                raise ValueError(f"--msg-type: unknown message name {item!r}")
            msg_types.add(str(value))
        else:
            msg_types.add(item)

    sessions = []
    for text in args.session:
        try:
            begin, sender, target = parse_session(text)
        except ValueError as exc:
            raise ValueError(f"--session {exc}") from None
        sessions.append(_SessionFilter(begin, frozenset((sender, target)), (sender, target)))

    greps = []
    for text in args.grep:
        match = re.fullmatch(r"([^=~]+)([=~])(.*)", text, re.DOTALL)
        if match is None:
            raise ValueError(f"--grep {text!r}: expected TAG=VALUE or TAG~REGEX")
        tag_text, op, value = match.groups()
        tag_text = tag_text.strip()
        if tag_text.isdigit():
            tag = int(tag_text)
        else:
            found = lookup(functools.partial(_tag_of, name=tag_text))
            if found is None:
                raise ValueError(f"--grep: unknown field name {tag_text!r}")
            tag = int(found)
        regex = None
        if op == "~":
            try:
                regex = re.compile(value)
            except re.error as exc:
                raise ValueError(f"--grep {text!r}: bad regular expression: {exc}") from None
        greps.append(_Grep(tag, value, regex))
    return Filters(
        frozenset(msg_types), tuple(sessions), tuple(greps), bool(getattr(args, "no_admin", False))
    )


# -- output ---------------------------------------------------------------------------------------
class _Printer:
    def __init__(self, out: TextIO, mode: str, spec_dir: str | None, warn: Callable[[str], None]) -> None:
        self.out = out
        self.mode = mode
        self.spec_dir = spec_dir
        self.warn = warn
        self._dictionaries: dict[tuple[str, str | None], FixDictionary | None] = {}
        self._default_appl_ver: dict[object, str] = {}  # session -> DefaultApplVerID(1137) from Logon
        self._json_prefixes: dict[tuple[FixDictionary | None, int], str] = {}

    def dictionary(self, record: LogRecord) -> FixDictionary | None:
        message = record.message
        begin = message.begin_string
        appl_ver = None
        if begin.startswith("FIXT"):
            appl_ver = message.header_value(1128)
            if message.msg_type == "A":
                default = message.header_value(1137)
                if default:
                    self._default_appl_ver[record.session] = default
            appl_ver = appl_ver or self._default_appl_ver.get(record.session)
        key = (begin, appl_ver)
        if key not in self._dictionaries:
            try:
                self._dictionaries[key] = dictionary_for(begin, appl_ver, spec_dir=self.spec_dir)
            except DictionaryError as exc:
                self.warn(f"no dictionary for {begin}{'/' + appl_ver if appl_ver else ''}: {exc}")
                self._dictionaries[key] = None
        return self._dictionaries[key]

    def print(self, record: LogRecord, fields: list[tuple[int, str]], d: FixDictionary | None,
              problems: list[str] = ()) -> None:   # type: ignore[assignment]
        """``problems``: what is wrong with this message (from its line), shown beside it."""
        if self.mode == "json":
            text = self._json(record, fields, d)
            if problems:
                text = text[:-1] + ", \"problems\": " + json.dumps(list(problems), ensure_ascii=False) + "}"
            self.out.write(text + "\n")
        elif self.mode == "compact":
            line = self._compact(record, fields, d)
            self.out.write(line + "".join(f" !{p}" for p in problems) + "\n")
        else:
            block = self._block(record, fields, d)
            if problems:
                head, _, rest = block.partition("\n")
                block = head + "\n" + "".join(f"  !! {p}\n" for p in problems) + rest
            self.out.write(block)

    def print_malformed(self, record: LogRecord, detail: str) -> None:
        """A message whose fields cannot be split: shown as it is (secrets masked), with what is wrong."""
        text = mask_fix(record.message.to_text())
        if self.mode == "json":
            obj = {
                "file": record.file,
                "line": record.line,
                "time_text": record.time_text,
                "session": str(record.session),
                "msg_type": record.message.msg_type,
                "error": detail,
                "raw": text,
                "fields": None,
            }
            self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        elif self.mode == "compact":
            self.out.write(f"{record.file}:{record.line} MALFORMED ({detail}) {_printable(text)}\n")
        else:
            self.out.write(f"--- {self._heading(record)}  MALFORMED: {detail}\n  {_printable(text)}\n\n")

    @staticmethod
    def _heading(record: LogRecord) -> str:
        parts = [f"{record.file}:{record.line}"]
        if record.time_text:
            parts.append(record.time_text)
        parts.append(str(record.session))
        arrow = f"{record.sender} -> {record.target}"
        parts.append(f"{arrow} ({record.direction})" if record.direction else arrow)
        message = record.message
        if not message.checksum_ok:
            parts.append("BAD CHECKSUM")
        if not message.body_length_ok:
            parts.append("BAD BODYLENGTH")
        return "  ".join(parts)

    def _block(self, record: LogRecord, fields: list[tuple[int, str]], d: FixDictionary | None) -> str:
        lines = [f"--- {self._heading(record)}"]
        names = d.field_names if d is not None else {}
        # repeating groups indented by depth, as the dictionary lays them out for this MsgType;
        # a tag that is not a member of the open group closes it (FIX 4.4 Vol. 1, repeating groups)
        layout = d.group_layout(record.message.msg_type) if d is not None else None
        stack: list[GroupLayout] = []
        for tag, value in fields:
            while stack and tag not in stack[-1].members:
                stack.pop()
            indent = "  " * (len(stack) + 1)
            name = names.get(tag)
            meaning = d.value_meaning(tag, value) if d is not None else None
            shown = _printable(value)
            if name is None:
                lines.append(f"{indent}{tag}={shown}")
            elif meaning is None:
                lines.append(f"{indent}{tag}={shown} ({name})")
            else:
                lines.append(f"{indent}{tag}={shown} ({name}={meaning})")
            if layout is not None:
                level = stack[-1].groups if stack else layout.groups
                group = level.get(tag)
                if group is not None:
                    stack.append(group)
        lines.append("")
        return "\n".join(lines) + "\n"

    def _compact(self, record: LogRecord, fields: list[tuple[int, str]], d: FixDictionary | None) -> str:
        message = record.message
        names = d.field_names if d is not None else {}
        type_name = d.message_name(message.msg_type) if d is not None else None
        parts = [
            f"{record.file}:{record.line}",
            record.time_text or "-",
            f"{record.sender}->{record.target}",
            f"{type_name}({message.msg_type})" if type_name else message.msg_type,
        ]
        for tag, value in fields:
            if tag in (8, 9, 10, 35):
                continue
            meaning = d.value_meaning(tag, value) if d is not None else None
            text = f"{names.get(tag, tag)}={_printable(value)}"
            parts.append(f"{text}({meaning})" if meaning else text)
        if not message.checksum_ok:
            parts.append("!checksum")
        if not message.body_length_ok:
            parts.append("!bodylength")
        return " ".join(parts)

    def _json(self, record: LogRecord, fields: list[tuple[int, str]], d: FixDictionary | None) -> str:
        message = record.message
        when = record.time
        head = {
            "file": record.file,
            "line": record.line,
            "time": when.isoformat() if when is not None else None,
            "time_text": record.time_text,
            "session": str(record.session),
            "direction": record.direction,
            "sender": record.sender,
            "target": record.target,
            "msg_type": message.msg_type,
            "msg_type_name": d.message_name(message.msg_type) if d is not None else None,
            "checksum_ok": message.checksum_ok,
            "body_length_ok": message.body_length_ok,
        }
        # the field list is most of the work: written from cached per-tag fragments, values
        # escaped by json's own encoder (same text json.dumps would give)
        prefixes = self._json_prefixes
        enums = d.enums if d is not None else {}
        encode_str = _encode_json_str
        parts = []
        for tag, value in fields:
            prefix = prefixes.get((d, tag))
            if prefix is None:
                name = d.field_name(tag) if d is not None else None
                prefix = prefixes[(d, tag)] = f'{{"tag": {tag}, "name": {json.dumps(name)}, "value": '
            meaning = (
                d.value_meaning(tag, value) if tag == 35 and d is not None else enums.get(tag, {}).get(value)
            )
            shown = "null" if meaning is None else encode_str(meaning)
            parts.append(f'{prefix}{encode_str(value)}, "meaning": {shown}}}')
        text = json.dumps(head, ensure_ascii=False)
        return f'{text[:-1]}, "fields": [{", ".join(parts)}]}}'


_encode_json_str = json.encoder.encode_basestring


def _printable(value: str) -> str:
    # data fields may hold SOH or newlines: keep one field per line
    if value.isprintable():
        return value
    return value.encode("unicode_escape").decode("ascii")


# -- run ------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    stderr = sys.stderr
    try:
        filters = parse_filters(args)
    except ValueError as exc:
        print(f"plxtra-fix decode: {exc}", file=stderr)
        return 2
    warned: set[str] = set()

    def warn(text: str) -> None:
        if text not in warned:
            warned.add(text)
            print(f"plxtra-fix decode: warning: {text}", file=stderr)

    unreadable = _unreadable(args.logs)
    if unreadable:
        # A path that cannot be read is a usage error (exit 2, as check-config on a missing
        # file), so `plxtra-fix decode $LOG | grep ...` does not pass on a typo.
        for problem in unreadable:
            print(f"plxtra-fix decode: {problem}", file=stderr)
        return 2
    mode = "json" if args.json else "compact" if args.compact else "block"
    printer = _Printer(sys.stdout, mode, args.dictionary_dir, warn)
    beside: dict[tuple[str, int], list[str]] = {}   # problems of lines not printed yet

    def keep(problem: LogProblem) -> None:
        if len(beside) > 10_000:   # problems of lines that held no message: bounded
            beside.clear()
        beside.setdefault((problem.file, problem.line), []).append(problem.reason)

    reader = LogReader(args.logs or ["-"], format=args.format, on_problem=keep)
    printed = 0
    seen = 0
    try:
        for record in reader:
            seen += 1
            d = printer.dictionary(record)
            try:
                if not filters.matches(record, d):
                    continue
                fields = record.message.fields
            except MalformedFieldError as exc:
                last = reader.problems[-1] if reader.problems else None
                if last is None or (last.file, last.line, last.kind) != (
                    record.file,
                    record.line,
                    "MalformedFieldError",
                ):
                    reader.report(record.file, record.line, exc.detail, "MalformedFieldError")
                if filters.greps:
                    continue  # cannot tell whether it matches
                printer.print_malformed(record, exc.detail)
            else:
                printer.print(record, fields if args.show_secrets else mask_fields(fields), d,
                              beside.pop((record.file, record.line), []))
            printed += 1
            if args.limit and printed >= args.limit:
                break
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except HarnessError as exc:
        print(f"plxtra-fix decode: {exc}", file=stderr)
        return 2
    if args.summary:
        _sessions(reader, stderr)
    _summary(reader, printed, stderr)
    if args.strict and not seen:
        print("plxtra-fix decode: no FIX message found in the input (--strict)", file=stderr)
        return 1
    return 1 if args.strict and reader.problem_count else 0


def _unreadable(paths: list[str]) -> list[str]:
    """``cannot read PATH: reason`` for every input (other than ``-``) that cannot be opened."""
    problems = []
    for path in paths:
        if path == "-":
            continue
        try:
            with open(path, "rb") as f:
                f.read(0)
        except OSError as exc:
            problems.append(f"cannot read {path}: {exc.strerror or exc}")
    return problems


def _sessions(reader: LogReader, out: TextIO) -> None:
    sessions = reader.sessions
    print(f"plxtra-fix decode: {len(sessions)} session(s):", file=out)
    for key, stats in sessions.items():
        sides = ", ".join(f"{sender} sent {count}" for sender, count in stats.by_sender.items())
        span = f", {stats.first_time} .. {stats.last_time}" if stats.first_time else ""
        print(f"  {key}: {stats.messages} message(s) ({sides}){span}", file=out)


def _summary(reader: LogReader, printed: int, out: TextIO) -> None:
    if not reader.problem_count:
        return
    shown: list[LogProblem] = reader.problems[:_MAX_PROBLEMS_SHOWN]
    print(
        f"plxtra-fix decode: {reader.problem_count} problem(s) found ({printed} message(s) printed):",
        file=out,
    )
    for problem in shown:
        print(f"  {problem}", file=out)
    if reader.problem_count > len(shown):
        print(f"  ... and {reader.problem_count - len(shown)} more", file=out)


def _silence_stdout() -> None:
    # the reader went away (``| head``): point stdout at /dev/null so the interpreter's final
    # flush does not raise again
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
