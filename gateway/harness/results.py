"""Outcome records shared by replay, certification and the ``.def`` runner; the reports read only these.

A :class:`SuiteResult` holds :class:`CaseResult` objects (one per scenario, ``.def`` file or replayed
log). A case keeps its failure texts and the message pairs (expected vs received, with per-tag
:class:`FieldDiff`) that the HTML report shows side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["ENGINE_LOGON", "CaseResult", "FieldDiff", "MessagePair", "SuiteResult", "describe_engine"]

ENGINE_LOGON = "engine Logon: "    # prefix of the case-log line holding the engine's Logon answer


@dataclass(frozen=True, slots=True)
class FieldDiff:
    tag: str                       # "44", or a selector such as "270[269=1]"
    expected: str | None           # None: the field should not be there / was not recorded
    received: str | None           # None: missing from what came back
    note: str = ""


@dataclass(frozen=True, slots=True)
class MessagePair:
    """One expected (recorded) message and what arrived in its place. Either side may be None
    (missing or extra message)."""

    label: str                                      # "recorded #12 (8 ExecutionReport)" / "step 3 ..."
    expected: tuple[tuple[int, str], ...] | None
    received: tuple[tuple[int, str], ...] | None
    diffs: tuple[FieldDiff, ...] = ()
    ok: bool = True
    expected_text: str | None = None                # for matchers: a description instead of fields


@dataclass(frozen=True, slots=True)
class CaseResult:
    suite: str
    name: str
    passed: bool
    duration: float = 0.0
    failures: tuple[str, ...] = ()
    pairs: tuple[MessagePair, ...] = ()
    file: str | None = None
    error: str | None = None       # the case could not run (connection refused, invalid input)
    log: tuple[str, ...] = ()      # step-by-step trace for the reports

    @property
    def status(self) -> str:
        return "passed" if self.passed else ("error" if self.error else "failed")


@dataclass(frozen=True, slots=True)
class SuiteResult:
    name: str
    cases: tuple[CaseResult, ...] = field(default_factory=tuple)
    duration: float = 0.0
    engine: str = ""               # which engine was tested (describe_engine), shown by every report

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases) and bool(self.cases)

    @property
    def failures(self) -> int:
        return sum(1 for c in self.cases if not c.passed and not c.error)

    @property
    def errors(self) -> int:
        return sum(1 for c in self.cases if c.error)

    @property
    def exit_code(self) -> int:
        """0 only when every case passed (and there was at least one)."""
        return 0 if self.passed else 1


def describe_engine(host: str, port: int, begin_strings: Sequence[str], comp_ids: Sequence[tuple[str, str]],
                    cases: Sequence[CaseResult]) -> str:
    """"127.0.0.1:9878, FIX.4.4, CLIENT1->PLXTRA; its Logon: 8=FIX.4.4|...": the first Logon the
    engine answered in ``cases`` (from their logs), else that none was seen."""
    begins = ", ".join(dict.fromkeys(begin_strings)) or "?"
    pairs = ", ".join(dict.fromkeys(f"{s}->{t}" for s, t in comp_ids)) or "?"
    logon = next((line[len(ENGINE_LOGON):] for c in cases for line in c.log if line.startswith(ENGINE_LOGON)),
                 None)
    said = f"its Logon: {logon}" if logon else "it answered no Logon"
    return f"{host}:{port}, {begins}, {pairs}; {said}"
