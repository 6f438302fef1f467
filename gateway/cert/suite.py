"""Partner-certification suites: YAML in, validated frozen records out.

A suite (``specs/partner-certification/*.yaml``) lists steps. Each step is what Plxtra injects
(``inject``: actions written like the send steps of ``specs/certification``) and what the partner's
engine must do (``expect``: written like its expect steps, same matchers and ``{{...}}`` templates),
plus a prompt for a person, the FIX session test case it maps to and the capabilities it needs::

    name: session
    title: FIX session layer
    versions: [FIX.4.2, FIX.4.4, FIXT.1.1]
    automatic: true                # no human action: every step is driven by Plxtra
    steps:
      - id: test-request
        title: TestRequest answered with its TestReqID
        case: 4b                   # FIX Session Layer Test Cases numbering
        prompt: Nothing to do: your engine must answer our TestRequest.
        requires: [cancel]         # capability from the questionnaire (optional)
        inject:
          - send: "1"              # MsgType; as / fields / seq / duplicate_of as in specs/certification
            as: tr
            fields: {112: "CERT-{{uuid}}"}
          - gap: "1"               # MsgSeqNum `skip` ahead
          - send_raw: "8={{vars.begin_string}}|35=1|...|10=000|"   # | is SOH; 9 and 10 added if absent
          - sequence_reset: {advance: 5}      # SequenceReset-Reset to our next MsgSeqNum + 5
          - logout: {text: ...}
          - wait: 1
        expect:
          - expect: "0"            # fields, timeout, search, as
            fields: {112: "{{sent.tr.112}}"}
          - expect_logon: {fields: {108: {ge: 1}}}
          - expect_none: {within: 2, ignore_heartbeats: true}
          - expect_resend: {timeout: 5}      # answer to our last ResendRequest
          - expect_disconnect: {timeout: 10}  # Logout and/or TCP close
          - expect_reconnect: {timeout: 20}   # a new connection and Logon (sequence numbers kept)

Timeouts may be written in heartbeats (``heartbeats: 1.5``: 1.5 x the partner's HeartBtInt + 1 s).
The suite's *version* is the SHA-256 of its file content, so a record names exactly what ran.

``send``, ``gap``, ``send_raw`` and ``expect`` entries are parsed by the scenario parser of
``specs/certification`` (:func:`gateway.harness.scenario.parse_entry`), so they take exactly what a
scenario step takes (FIX names such as ``ClOrdID``, ``[tag, value]`` lists, checked
``{{received.x}}`` / ``{{sent.x}}`` references). Kept here: the certification-only kinds
(``sequence_reset``, ``logout`` without waiting, ``wait``, ``expect_logon``, ``expect_none`` with
``ignore_heartbeats``, ``expect_resend``, ``expect_disconnect``, ``expect_reconnect``), the
``heartbeats:`` timeout unit, and ``expect``'s default ``ignore`` of resync traffic (0, 2, 4).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.cert.errors import SuiteError
from gateway.harness.errors import HarnessError
from gateway.harness.matchers import FieldMatcher, parse_matcher
from gateway.harness.scenario import ScenarioError, parse_entry

__all__ = [
    "BUILTIN_DIR",
    "Action",
    "CertStep",
    "Expectation",
    "Suite",
    "find_suite",
    "load_suite",
    "parse_suite",
]

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "specs" / "partner-certification"

ACTION_KINDS = ("send", "gap", "send_raw", "sequence_reset", "logout", "wait")
EXPECT_KINDS = ("expect", "expect_logon", "expect_none", "expect_resend", "expect_disconnect",
                "expect_reconnect")
_ACTION_KEYS: dict[str, frozenset[str]] = {
    # The scenario format's keys, less those whose meaning the certification runner does not have
    # (header, consumes_seq): refused with this list rather than silently ignored.
    "send": frozenset({"as", "fields", "seq", "duplicate_of", "description"}),
    "gap": frozenset({"as", "fields", "skip", "description"}),
    "send_raw": frozenset({"delimiter", "description"}),
    "sequence_reset": frozenset(),
    "logout": frozenset(),
    "wait": frozenset(),
}
_EXPECT_KEYS: dict[str, frozenset[str]] = {
    "expect": frozenset({"as", "fields", "timeout", "heartbeats", "search", "ignore", "description"}),
    "expect_logon": frozenset(),
    "expect_none": frozenset(),
    "expect_resend": frozenset(),
    "expect_disconnect": frozenset(),
    "expect_reconnect": frozenset(),
}
_MAPPING_ARGS = frozenset({"fields", "timeout", "heartbeats", "within", "ignore_heartbeats", "text",
                           "advance", "ignore", "seconds"})
_STEP_KEYS = frozenset({"id", "title", "case", "prompt", "requires", "inject", "expect", "automatic"})
_TOP_KEYS = frozenset({"name", "title", "description", "versions", "automatic", "vars", "steps"})
VERSIONS = ("FIX.4.2", "FIX.4.4", "FIXT.1.1")


@dataclass(frozen=True, slots=True)
class Action:
    """Something Plxtra's side does to the partner (see the module docstring)."""

    kind: str
    msg_type: str | None = None
    name: str | None = None
    fields: tuple[tuple[int, str], ...] = ()
    seq: int | None = None
    skip: int = 1
    duplicate_of: str | None = None
    raw: str | None = None
    advance: int = 1
    text: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Expectation:
    """Something the partner's engine must do within a bounded time."""

    kind: str
    msg_type: str | None = None
    name: str | None = None
    matchers: tuple[FieldMatcher, ...] = ()
    timeout: float | None = None           # seconds, or None: the run's default
    heartbeats: float | None = None        # timeout in units of the partner's HeartBtInt
    search: bool = False
    ignore: tuple[str, ...] = ("0", "2", "4")
    ignore_heartbeats: bool = True         # expect_none: periodic Heartbeats, partner TestRequests are fine

    def describe(self) -> str:
        if self.kind == "expect":
            what = f"{self.msg_type}" + (f" with {', '.join(m.describe() for m in self.matchers)}"
                                         if self.matchers else "")
            return f"partner sends {what}"
        return self.kind.replace("_", " ")


@dataclass(frozen=True, slots=True)
class CertStep:
    id: str
    title: str
    prompt: str
    case: str | None = None
    requires: tuple[str, ...] = ()
    automatic: bool = True
    inject: tuple[Action, ...] = ()
    expect: tuple[Expectation, ...] = ()

    def expected_text(self) -> str:
        return "; ".join(e.describe() for e in self.expect) or "nothing"


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    title: str
    file: str
    sha256: str
    steps: tuple[CertStep, ...]
    description: str = ""
    versions: tuple[str, ...] = VERSIONS
    automatic: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)

    def step(self, step_id: str) -> CertStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


def _matchers(raw: Any, err: Any) -> tuple[FieldMatcher, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise err("fields must be a mapping of tag to matcher")
    out = []
    for key, spec in raw.items():
        try:
            out.append(parse_matcher(key, spec))
        except HarnessError as exc:
            raise err(str(exc)) from None
    return tuple(out)


def _number(value: Any, what: str, err: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise err(f"{what} must be a non-negative number, got {value!r}")
    return float(value)


def _split(item: Any, kinds: tuple[str, ...], keys: Mapping[str, frozenset[str]],
           err: Any) -> tuple[str, Any, dict[str, Any]]:
    if not isinstance(item, Mapping):
        raise err(f"expected a mapping with one of {', '.join(kinds)}, got {item!r}")
    found = [k for k in item if k in kinds]
    if len(found) != 1:
        raise err(f"each entry needs exactly one of {', '.join(kinds)}; got {sorted(item)}")
    kind = found[0]
    rest = {k: v for k, v in item.items() if k != kind}
    unknown = set(rest) - keys[kind]
    if unknown:
        raise err(f"{kind}: unknown keys {sorted(unknown)} (allowed: {sorted(keys[kind])})")
    return kind, item[kind], rest


def _args(value: Any, kind: str, err: Any) -> dict[str, Any]:
    """Kinds written as ``kind: {key: value}`` (``wait: 1`` is ``{seconds: 1}``)."""
    if value is None:
        return {}
    if kind == "wait" and not isinstance(value, Mapping):
        return {"seconds": value}
    if not isinstance(value, Mapping):
        raise err(f"{kind} takes a mapping of options")
    unknown = set(value) - _MAPPING_ARGS
    if unknown:
        raise err(f"{kind}: unknown options {sorted(unknown)}")
    return dict(value)


@dataclass(slots=True)
class _Shared:
    """What entries of one suite share while it is parsed: ``as:`` names (references are checked
    across steps, as the runner keeps them across steps) and the FIX version for tag names."""

    file: str
    begin_string: str
    names: dict[str, str] = field(default_factory=dict)
    count: int = 0


def _scenario_entry(item: Mapping[str, Any], shared: _Shared, err: Any) -> Any:
    shared.count += 1
    try:
        return parse_entry(dict(item), file=shared.file, index=shared.count, names=shared.names,
                           begin_string=shared.begin_string,
                           appl_ver_id="9" if shared.begin_string == "FIXT.1.1" else None,
                           default_timeout=math.inf)    # inf: "not given", the run's default applies
    except ScenarioError as exc:
        raise err(exc.detail) from None


def _action(item: Any, err: Any, shared: _Shared) -> Action:
    kind, head, _ = _split(item, ACTION_KINDS, _ACTION_KEYS, err)
    if kind in ("send", "gap", "send_raw"):
        step = _scenario_entry(item, shared, err)
        return Action(kind, step.msg_type, step.name, step.fields, seq=step.seq, skip=step.skip,
                      duplicate_of=step.duplicate_of, raw=step.raw)
    args = _args(head, kind, err)
    if kind == "sequence_reset":
        advance = args.get("advance", 1)
        if isinstance(advance, bool) or not isinstance(advance, int) or advance < 1:
            raise err(f"sequence_reset advance must be a positive integer, got {advance!r}")
        return Action(kind, advance=advance)
    if kind == "logout":
        return Action(kind, text=None if args.get("text") is None else str(args["text"]))
    return Action(kind, seconds=_number(args.get("seconds", 0), "wait", err))


def _expectation(item: Any, err: Any, shared: _Shared) -> Expectation:
    kind, head, rest = _split(item, EXPECT_KINDS, _EXPECT_KEYS, err)
    if kind == "expect":
        step = _scenario_entry({k: v for k, v in item.items() if k != "heartbeats"}, shared, err)
        # By default resync traffic (ResendRequest, GapFill) is skipped over: the session layer
        # answers it itself (the scenario format's default skips Heartbeats only).
        ignore = step.ignore if "ignore" in rest else tuple(t for t in ("0", "2", "4") if t != step.msg_type)
        beats = rest.get("heartbeats")
        return Expectation(kind, step.msg_type, step.name, step.matchers,
                           timeout=None if step.timeout == math.inf else step.timeout,
                           heartbeats=None if beats is None else _number(beats, "heartbeats", err),
                           search=step.search, ignore=ignore)
    args = _args(head, kind, err)
    timeout = args.get("within", args.get("timeout"))
    beats = args.get("heartbeats")
    return Expectation(kind, matchers=_matchers(args.get("fields"), err),
                       timeout=None if timeout is None else _number(timeout, "timeout", err),
                       heartbeats=None if beats is None else _number(beats, "heartbeats", err),
                       ignore_heartbeats=bool(args.get("ignore_heartbeats", True)))


def _step(raw: Any, index: int, file: str, suite_automatic: bool, shared: _Shared) -> CertStep:
    if not isinstance(raw, Mapping):
        raise SuiteError(f"step {index} must be a mapping", file=file)
    step_id = str(raw.get("id") or f"step-{index}")

    def err(detail: str) -> SuiteError:
        return SuiteError(detail, file=file, step=step_id)

    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise err(f"unknown keys {sorted(unknown)} (allowed: {sorted(_STEP_KEYS)})")
    if not raw.get("prompt"):
        raise err("every step needs a prompt (what a person at the partner does, or 'nothing')")
    inject = raw.get("inject") or []
    expect = raw.get("expect") or []
    if not isinstance(inject, list) or not isinstance(expect, list):
        raise err("inject and expect must be lists")
    if not expect:
        raise err("a step must expect something of the partner")
    requires = raw.get("requires") or []
    if not isinstance(requires, list):
        raise err("requires must be a list of capability names")
    return CertStep(step_id, str(raw.get("title") or step_id), str(raw["prompt"]).strip(),
                    None if raw.get("case") is None else str(raw["case"]),
                    tuple(str(r) for r in requires), bool(raw.get("automatic", suite_automatic)),
                    tuple(_action(a, err, shared) for a in inject),
                    tuple(_expectation(e, err, shared) for e in expect))


def parse_suite(text: str, file: str = "<suite>") -> Suite:
    """Validate a suite's YAML text; raises :class:`SuiteError` naming file and step."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteError(f"not valid YAML: {exc}", file=file) from None
    if not isinstance(data, Mapping):
        raise SuiteError("a suite is a mapping with name and steps", file=file)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SuiteError(f"unknown keys {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})", file=file)
    if not data.get("name") or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise SuiteError("a suite needs a name and a non-empty list of steps", file=file)
    versions = tuple(str(v) for v in data.get("versions") or VERSIONS)
    bad = [v for v in versions if v not in VERSIONS]
    if bad:
        raise SuiteError(f"versions {bad} not supported (use {', '.join(VERSIONS)})", file=file)
    automatic = bool(data.get("automatic", False))
    # Tag names resolve in the newest version the suite covers (the others' names are a subset).
    shared = _Shared(file, max(versions, key=VERSIONS.index))
    steps = tuple(_step(raw, i, file, automatic, shared) for i, raw in enumerate(data["steps"], 1))
    ids = [s.id for s in steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SuiteError(f"step ids must be unique: {duplicates}", file=file)
    variables = {str(k): str(v) for k, v in (data.get("vars") or {}).items()}
    return Suite(str(data["name"]), str(data.get("title") or data["name"]), file,
                 hashlib.sha256(text.encode("utf-8")).hexdigest(), steps,
                 str(data.get("description") or "").strip(), versions, automatic, variables)


def find_suite(name_or_file: str) -> Path:
    """A shipped suite name (``session``) or a path to a suite file."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SuiteError("no such suite file", file=str(path))
        return path
    candidate = BUILTIN_DIR / f"{name_or_file}.yaml"
    if not candidate.is_file():
        shipped = sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")) if BUILTIN_DIR.is_dir() else []
        raise SuiteError(f"unknown suite {name_or_file!r} (shipped: {', '.join(shipped) or 'none'})")
    return candidate


def load_suite(name_or_file: str) -> Suite:
    path = find_suite(name_or_file)
    return parse_suite(path.read_text(encoding="utf-8"), str(path))
