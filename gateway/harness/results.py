"""Outcome records shared by replay, certification and the ``.def`` runner; the reports read only these.

A :class:`SuiteResult` holds :class:`CaseResult` objects (one per scenario, ``.def`` file or replayed
log). A case keeps its failure texts and the message pairs (expected vs received, with per-tag
:class:`FieldDiff`) that the HTML report shows side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CaseResult", "FieldDiff", "MessagePair", "SuiteResult"]


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
