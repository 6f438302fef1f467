"""Certification scenarios: YAML in, validated frozen records out. Errors name file, line and step.

A scenario file (``specs/certification/*.yaml``)::

    name: FIX44 new order, market, filled
    description: ...
    tags: [orders, fix44]
    vars: {account: "0001"}
    session:                      # the partner side the harness plays
      begin_string: FIX.4.4       # FIX.4.2 | FIX.4.4 | FIXT.1.1
      sender: CLIENT1
      target: PLXTRA
      default_appl_ver_id: "9"    # FIXT.1.1 only (9 = FIX50SP2)
      heartbeat: 30
      reset: true                 # ResetSeqNumFlag(141)=Y on Logon
      username: ...  password: ...
      logon: true                 # log on before the first step (false: use a `logon` step)
      logout: true                # log out after the last step if still connected
      fixed_comp_ids: false       # true: --sender / --target-comp overrides do not apply
      timeout: 10                 # default expect timeout, seconds
    steps:
      - send: D                   # MsgType; `as:` names it; fields: mapping or list of [tag, value]
      - expect: "8"               # fields: matchers (see matchers.py); timeout; ignore: [msg types]
                                  # search: true skips non-matching messages until one matches
      - expect_none: {within: 2}  # nothing but ignored types arrives for 2 s
      - gap: D                    # like send, with MsgSeqNum `skip` (default 1) ahead
      - send: D, duplicate_of: order   # resend step `order` with PossDupFlag=Y, OrigSendingTime
      - send_raw: "8=FIX.4.4|9=5|35=0|..."   # `|` is SOH unless `delimiter:` says otherwise
      - logon: {}  - logout: {}   - disconnect: {abort: false}  - reconnect: {reset: false}
      - expect_disconnect: {timeout: 10}      - wait: 1.5

Tags, selectors and MsgTypes may be written as FIX names (``ClOrdID``, ``NewOrderSingle``,
``MDEntryPx[MDEntryType=1]``), resolved through the QuickFIX data dictionary of the session's
version; templates (``{{received.x.270}}``) take numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.harness.errors import HarnessError
from gateway.harness.matchers import FieldMatcher, parse_matcher
from gateway.harness.sessionproto import Field
from gateway.harness.templating import referenced_names, validate_template

__all__ = [
    "SUPPORTED_BEGIN_STRINGS",
    "Scenario",
    "ScenarioError",
    "ScenarioSession",
    "Step",
    "load_scenario",
    "load_scenarios",
    "parse_entry",
    "parse_scenario",
]

SUPPORTED_BEGIN_STRINGS = ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")
STEP_KINDS = ("send", "expect", "expect_none", "gap", "send_raw", "logon", "logout", "disconnect",
              "reconnect", "expect_disconnect", "wait")
# Keys each kind accepts besides its own.
_STEP_KEYS: dict[str, frozenset[str]] = {
    "send": frozenset({"as", "fields", "header", "duplicate_of", "seq", "description"}),
    "gap": frozenset({"as", "fields", "header", "skip", "description"}),
    "expect": frozenset({"as", "fields", "timeout", "ignore", "search", "description", "dup"}),
    "expect_none": frozenset({"within", "ignore", "description"}),
    "send_raw": frozenset({"delimiter", "consumes_seq", "description"}),
    "logon": frozenset({"reset", "timeout", "fields", "expect_reject", "description"}),
    "logout": frozenset({"text", "timeout", "description"}),
    "disconnect": frozenset({"abort", "description"}),
    "reconnect": frozenset({"reset", "timeout", "then_logon", "description"}),
    "expect_disconnect": frozenset({"timeout", "description"}),
    "wait": frozenset({"description"}),
}
_SESSION_KEYS = frozenset({"begin_string", "sender", "target", "default_appl_ver_id", "heartbeat", "reset",
                           "username", "password", "logon", "logout", "timeout", "header", "fixed_comp_ids"})
_TOP_KEYS = frozenset({"name", "description", "tags", "vars", "session", "steps"})


class ScenarioError(HarnessError):
    """A scenario file is invalid. ``file``, ``line`` and ``step`` (1-based index) locate it."""

    def __init__(self, detail: str, *, file: str = "", line: int | None = None,
                 step: int | None = None, step_name: str | None = None) -> None:
        self.file, self.line, self.step, self.detail = file, line, step, detail
        where = file or "<scenario>"
        if line is not None:
            where += f":{line}"
        if step is not None:
            where += f": step {step}" + (f" ({step_name})" if step_name else "")
        super().__init__(f"{where}: {detail}")


class _Names:
    """FIX names -> numbers from the QuickFIX data dictionary of the scenario's version, so a
    scenario may write ``ClOrdID`` for 11, ``NewOrderSingle`` for D and
    ``MDEntryPx[MDEntryType=1]`` for ``270[269=1]``. Loaded only when a name is used."""

    _IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*")

    def __init__(self, begin_string: str | None, appl_ver_id: str | None) -> None:
        self.begin_string, self.appl_ver_id = begin_string, appl_ver_id
        self._dictionary: Any = None

    def _dict(self) -> Any:
        if self._dictionary is None:
            if self.begin_string is None:
                raise ValueError("tag names are not available here: write tag numbers")
            from gateway.harness.dictionary import dictionary_for

            self._dictionary = dictionary_for(self.begin_string, None, self.appl_ver_id)
        return self._dictionary

    def tag(self, key: Any) -> int:
        if isinstance(key, int) and not isinstance(key, bool):
            return key
        text = str(key).strip()
        if text.isdigit():
            return int(text)
        try:
            number = self._dict().tag(text)
        except HarnessError as exc:
            raise ValueError(f"tag name {text!r} needs the QuickFIX data dictionary: {exc}") from None
        if number is None:
            raise ValueError(f"{text!r} is neither a tag number nor a {self.begin_string} field name")
        return int(number)

    def selector(self, key: Any) -> str:
        """``MDEntryPx[MDEntryType=1]`` -> ``270[269=1]`` (numbers pass through)."""
        text = str(key)
        head, bracket, rest = text.partition("[")
        inner, _, tail = rest.partition("=")
        head = self._IDENT.sub(lambda m: str(self.tag(m.group(0))), head)
        inner = self._IDENT.sub(lambda m: str(self.tag(m.group(0))), inner) if bracket else inner
        return head + (f"[{inner}={tail}" if bracket else "")

    def msg_type(self, value: str) -> str:
        if len(value) <= 2:
            return value      # MsgType values are one or two characters; names are longer
        try:
            found = self._dict().msg_type(value)
        except (HarnessError, ValueError):
            found = None
        if found is None:
            raise ValueError(f"{value!r} is neither a MsgType nor a {self.begin_string} message name")
        return str(found)


@dataclass(frozen=True, slots=True)
class ScenarioSession:
    begin_string: str
    sender: str
    target: str
    default_appl_ver_id: str | None = None
    heartbeat: int = 30
    reset: bool = True
    username: str | None = None
    password: str | None = None
    logon: bool = True
    logout: bool = True
    timeout: float = 10.0
    header: tuple[Field, ...] = ()
    fixed_comp_ids: bool = False   # CompID overrides (--sender/--target-comp) do not apply


@dataclass(frozen=True, slots=True)
class Step:
    """One step; ``kind`` is one of STEP_KINDS and only the attributes that kind uses are set."""

    index: int                               # 1-based
    kind: str
    line: int | None = None
    name: str | None = None                  # `as:`
    msg_type: str | None = None
    fields: tuple[tuple[int, str], ...] = ()  # send / gap / logon: templated values
    header: tuple[tuple[int, str], ...] = ()
    matchers: tuple[FieldMatcher, ...] = ()  # expect
    timeout: float | None = None
    ignore: tuple[str, ...] = ("0",)         # expect / expect_none: message types to skip over
    search: bool = False
    allow_dup: bool = False                  # expect: accept a PossDup message
    skip: int = 1                            # gap
    seq: int | None = None                   # send: force MsgSeqNum
    duplicate_of: str | None = None
    raw: str | None = None                   # send_raw (templated, SOH already substituted)
    consumes_seq: bool = False
    reset: bool | None = None
    text: str | None = None
    seconds: float | None = None             # wait / expect_none within
    logon_after: bool = True                 # reconnect
    expect_reject: bool = False              # logon that must be refused
    abort: bool = False                      # disconnect: TCP reset instead of a clean close
    description: str | None = None

    @property
    def label(self) -> str:
        what = f"{self.kind} {self.msg_type}" if self.msg_type else self.kind
        return f"step {self.index} ({what}{' as ' + self.name if self.name else ''})"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    file: str
    session: ScenarioSession
    steps: tuple[Step, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)


def _step_lines(text: str) -> list[int]:
    """1-based line of each step mapping, from the YAML node tree (for error messages)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "steps" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _fields(raw: Any, err: Any, what: str = "fields",
            names: _Names | None = None) -> tuple[tuple[int, str], ...]:
    if raw is None:
        return ()
    pairs: list[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = []
        for item in raw:
            if not (isinstance(item, list) and len(item) == 2):
                raise err(f"{what}: list items must be [tag, value] pairs, got {item!r}")
            pairs.append((item[0], item[1]))
    else:
        raise err(f"{what} must be a mapping or a list of [tag, value] pairs")
    out = []
    for tag, value in pairs:
        try:
            number = (names or _Names(None, None)).tag(tag)
        except (TypeError, ValueError) as exc:
            raise err(f"{what}: tag {tag!r} is not a number ({exc})") from None
        if number <= 0:
            raise err(f"{what}: tag {tag!r} must be positive")
        if value is None or isinstance(value, (dict, list, bool)):
            raise err(f"{what}: tag {number} needs a scalar value, got {value!r}")
        text = repr(value) if isinstance(value, float) else str(value)
        try:
            validate_template(text)
        except HarnessError as exc:
            raise err(f"{what}: tag {number}: {exc}") from None
        out.append((number, text))
    return tuple(out)


def _msg_type(value: Any, err: Any, names: _Names) -> str:
    if value is None or isinstance(value, (dict, list, bool)) or str(value) == "":
        raise err("needs a MsgType, e.g. `send: D`")
    try:
        return names.msg_type(str(value))
    except ValueError as exc:
        raise err(str(exc)) from None


def _number(value: Any, err: Any, what: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise err(f"{what} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _parse_step(index: int, raw: Any, line: int | None, file: str, default_timeout: float,
                names: dict[str, str], fix: _Names) -> Step:
    def err(detail: str) -> ScenarioError:
        return ScenarioError(detail, file=file, line=line, step=index,
                             step_name=raw.get("as") if isinstance(raw, Mapping) else None)

    if not isinstance(raw, Mapping):
        raise err(f"a step must be a mapping with one of {', '.join(STEP_KINDS)}")
    kinds = [k for k in raw if k in STEP_KINDS]
    if len(kinds) != 1:
        raise err(f"a step needs exactly one of {', '.join(STEP_KINDS)}; found {kinds or list(raw)}")
    kind = kinds[0]
    unknown = set(raw) - {kind} - _STEP_KEYS[kind]
    if unknown:
        raise err(f"unknown key(s) {sorted(unknown)} for a {kind} step "
                  f"(allowed: {sorted(_STEP_KEYS[kind])})")
    value = raw[kind]
    options = dict(raw)
    if kind in ("logon", "logout", "disconnect", "reconnect", "expect_disconnect", "expect_none") \
            and isinstance(value, Mapping):
        # `logout: {text: bye}` is the same as `logout: {}` plus `text: bye` beside it
        unknown = set(value) - _STEP_KEYS[kind]
        if unknown:
            raise err(f"unknown key(s) {sorted(unknown)} for a {kind} step")
        options.update(value)
    name = options.get("as")
    if name is not None:
        if not isinstance(name, str) or not name.isidentifier():
            raise err(f"`as:` must be an identifier, got {name!r}")
        if name in names:
            raise err(f"`as: {name}` already names an earlier {names[name]} step")
    common = {"index": index, "kind": kind, "line": line, "name": name,
              "description": options.get("description")}

    def refs_ok(texts: Sequence[str]) -> None:
        for text in texts:
            for where, ref in referenced_names(text):
                wanted = "expect" if where == "received" else "send"
                if names.get(ref) not in ((wanted, "gap") if wanted == "send" else (wanted,)):
                    raise err(f"{{{{{where}.{ref}...}}}} refers to no earlier {wanted} step named {ref!r}")

    if kind in ("send", "gap"):
        fields = _fields(options.get("fields"), err, names=fix)
        header = _fields(options.get("header"), err, "header", fix)
        refs_ok([v for _, v in fields + header])
        dup = options.get("duplicate_of")
        if dup is not None and names.get(dup) not in ("send", "gap"):
            raise err(f"duplicate_of: no earlier send step named {dup!r}")
        seq = options.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 1):
            raise err(f"seq must be a positive integer, got {seq!r}")
        skip = options.get("skip", 1)
        if kind == "gap" and (isinstance(skip, bool) or not isinstance(skip, int) or skip < 1):
            raise err(f"skip must be a positive integer, got {skip!r}")
        step = Step(**common, msg_type=_msg_type(value, err, fix), fields=fields, header=header,
                    duplicate_of=dup, seq=seq, skip=skip)
    elif kind in ("expect", "expect_none"):
        ignore = options.get("ignore", ["0"])
        if not isinstance(ignore, list) or not all(isinstance(i, (str, int)) for i in ignore):
            raise err("ignore must be a list of MsgTypes, e.g. ['0', 'X']")
        if kind == "expect_none":
            within = _number(options.get("within", 2.0), err, "within")
            step = Step(**common, ignore=tuple(str(i) for i in ignore), seconds=within)
        else:
            raw_fields = options.get("fields") or {}
            if not isinstance(raw_fields, Mapping):
                raise err("expect fields must be a mapping of tag -> matcher")
            matchers = []
            for key, spec in raw_fields.items():
                try:
                    matchers.append(parse_matcher(fix.selector(key), spec))
                except (HarnessError, ValueError) as exc:
                    raise err(str(exc)) from None
                texts = [spec] if isinstance(spec, str) else []
                if isinstance(spec, Mapping):
                    texts = [str(v) for v in spec.values() if isinstance(v, str)]
                refs_ok(texts)
            timeout = _number(options.get("timeout", default_timeout), err, "timeout", minimum=0.01)
            search = options.get("search", False)
            if not isinstance(search, bool):
                raise err("search takes true or false")
            step = Step(**common, msg_type=_msg_type(value, err, fix), matchers=tuple(matchers),
                        timeout=timeout, ignore=tuple(str(i) for i in ignore), search=search,
                        allow_dup=bool(options.get("dup", False)))
    elif kind == "send_raw":
        if not isinstance(value, str) or not value:
            raise err("send_raw takes the message text, e.g. '8=FIX.4.4|9=...|'")
        delimiter = options.get("delimiter", "|")
        if not isinstance(delimiter, str) or not delimiter:
            raise err("delimiter must be a non-empty string")
        try:
            validate_template(value)
        except HarnessError as exc:
            raise err(str(exc)) from None
        step = Step(**common, raw=value.replace(delimiter, "\x01"),
                    consumes_seq=bool(options.get("consumes_seq", False)))
    elif kind == "wait":
        step = Step(**common, seconds=_number(value, err, "wait"))
    elif kind in ("logon", "reconnect"):
        reset = options.get("reset")
        if reset is not None and not isinstance(reset, bool):
            raise err("reset takes true or false")
        step = Step(**common, reset=reset, fields=_fields(options.get("fields"), err, names=fix),
                    timeout=_number(options.get("timeout", default_timeout), err, "timeout", minimum=0.01),
                    logon_after=bool(options.get("then_logon", True)),
                    expect_reject=bool(options.get("expect_reject", False)))
    elif kind == "logout":
        step = Step(**common, text=options.get("text"),
                    timeout=_number(options.get("timeout", default_timeout), err, "timeout", minimum=0.01))
    elif kind == "expect_disconnect":
        step = Step(**common,
                    timeout=_number(options.get("timeout", default_timeout), err, "timeout", minimum=0.01))
    else:  # disconnect
        step = Step(**common, abort=bool(options.get("abort", False)))
    if name:
        names[name] = kind
    return step


def parse_entry(raw: Any, *, file: str = "<steps>", index: int = 1, names: dict[str, str] | None = None,
                begin_string: str | None = None, appl_ver_id: str | None = None,
                default_timeout: float = 10.0) -> Step:
    """One step written in the scenario format, for files that embed such steps (the partner-
    certification suites' ``inject`` and ``expect`` lists), so both formats are one parser.
    ``names`` carries ``as:`` names across calls: ``{{received.x}}`` / ``{{sent.x}}`` and
    ``duplicate_of`` are checked against earlier entries. Raises :class:`ScenarioError`."""
    return _parse_step(index, raw, None, file, default_timeout, {} if names is None else names,
                       _Names(begin_string, appl_ver_id))


def _session(raw: Any, file: str) -> ScenarioSession:
    def err(detail: str) -> ScenarioError:
        return ScenarioError(f"session: {detail}", file=file)

    if not isinstance(raw, Mapping):
        raise err("a `session:` mapping is required (begin_string, sender, target)")
    unknown = set(raw) - _SESSION_KEYS
    if unknown:
        raise err(f"unknown key(s) {sorted(unknown)} (allowed: {sorted(_SESSION_KEYS)})")
    for key in ("begin_string", "sender", "target"):
        if not raw.get(key):
            raise err(f"{key} is required")
    begin = str(raw["begin_string"])
    if begin not in SUPPORTED_BEGIN_STRINGS:
        raise err(f"begin_string {begin!r} not one of {', '.join(SUPPORTED_BEGIN_STRINGS)}")
    appl = raw.get("default_appl_ver_id")
    if begin == "FIXT.1.1" and not appl:
        raise err("FIXT.1.1 needs default_appl_ver_id (e.g. '9' for FIX.5.0SP2)")
    heartbeat = raw.get("heartbeat", 30)
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 0:
        raise err(f"heartbeat must be a whole number of seconds, got {heartbeat!r}")
    bools = {k: raw.get(k, True) for k in ("reset", "logon", "logout")}
    bools["fixed_comp_ids"] = raw.get("fixed_comp_ids", False)
    for key, flag in bools.items():
        if not isinstance(flag, bool):
            raise err(f"{key} takes true or false")
    return ScenarioSession(
        begin_string=begin, sender=str(raw["sender"]), target=str(raw["target"]),
        default_appl_ver_id=str(appl) if appl is not None else None, heartbeat=heartbeat,
        username=None if raw.get("username") is None else str(raw["username"]),
        password=None if raw.get("password") is None else str(raw["password"]),
        timeout=_number(raw.get("timeout", 10.0), err, "timeout", minimum=0.01),
        header=_fields(raw.get("header"), err, "header"), **bools)


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Parse and validate one scenario document; raises :class:`ScenarioError`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ScenarioError(f"invalid YAML: {exc}", file=file,
                            line=mark.line + 1 if mark else None) from None
    if not isinstance(data, Mapping):
        raise ScenarioError("a scenario is a mapping with name, session and steps", file=file)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"unknown top-level key(s) {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})",
                            file=file)
    name = data.get("name") or Path(file).stem
    session = _session(data.get("session"), file)
    variables = data.get("vars") or {}
    if not isinstance(variables, Mapping):
        raise ScenarioError("vars must be a mapping", file=file)
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ScenarioError("steps must be a non-empty list", file=file)
    lines = _step_lines(text)
    names: dict[str, str] = {}
    fix = _Names(session.begin_string, session.default_appl_ver_id)
    steps = tuple(
        _parse_step(i + 1, raw, lines[i] if i < len(lines) else None, file, session.timeout, names, fix)
        for i, raw in enumerate(steps_raw))
    for step in steps:
        if step.kind == "send" and step.msg_type == "A":
            raise ScenarioError("use a `logon` step rather than `send: A`", file=file, step=step.index)
    tags = data.get("tags") or []
    if not isinstance(tags, list):
        raise ScenarioError("tags must be a list", file=file)
    return Scenario(name=str(name), file=file, session=session, steps=steps,
                    description=str(data.get("description") or ""), tags=tuple(str(t) for t in tags),
                    variables={str(k): str(v) for k, v in variables.items()})


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_scenario(text, str(path))


def load_scenarios(paths: Sequence[str | Path]) -> list[Scenario]:
    """Files and folders (``*.yaml``/``*.yml`` inside, sorted) -> scenarios, in order."""
    out: list[Scenario] = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            out.extend(load_scenario(f) for f in files)
        else:
            out.append(load_scenario(p))
    return out
