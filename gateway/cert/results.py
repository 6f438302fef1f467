"""Live and final state of a certification run: one :class:`StepState` per step, shared by the runner,
the JSON view, the record and the reports (which read the harness's :class:`SuiteResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.cert.suite import CertStep, Suite
from gateway.harness.results import CaseResult, SuiteResult
from gateway.harness.sessionproto import format_utc

__all__ = ["STATUSES", "StepState", "iso_utc", "to_suite_result"]

# waiting: not reached yet; running: the current step; skipped: not selected by the questionnaire;
# not-run: the session ended before it.
STATUSES = ("waiting", "running", "passed", "failed", "skipped", "not-run")


def iso_utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class StepState:
    """Mutable on purpose: the runner moves it through STATUSES while viewers read it."""

    suite: Suite
    step: CertStep
    status: str = "waiting"
    reason: str = ""
    started: datetime | None = None
    ended: datetime | None = None
    first_message: int | None = None     # index into the MessageLog
    last_message: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.suite.name}/{self.step.id}"

    @property
    def duration(self) -> float:
        if self.started is None or self.ended is None:
            return 0.0
        return (self.ended - self.started).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "suite": self.suite.name, "id": self.step.id, "title": self.step.title,
            "case": self.step.case, "prompt": self.step.prompt, "automatic": self.step.automatic,
            "requires": list(self.step.requires), "expected": self.step.expected_text(),
            "status": self.status, "reason": self.reason, "notes": list(self.notes),
            "started": iso_utc(self.started), "ended": iso_utc(self.ended),
            "duration": round(self.duration, 3),
            "messages": (None if self.first_message is None
                         else [self.first_message, self.last_message]),
        }


def to_suite_result(name: str, states: list[StepState], duration: float) -> SuiteResult:
    """The harness's result records, so JUnit XML and HTML come from the existing reports."""
    cases = []
    for s in states:
        if s.status == "skipped":
            continue
        passed = s.status == "passed"
        label = f"{s.step.title}" + (f" [FIX case {s.step.case}]" if s.step.case else "")
        failures = () if passed else (f"{s.key}: {s.reason or s.status}",)
        log = (f"prompt: {s.step.prompt}", f"expected: {s.step.expected_text()}", *s.notes)
        cases.append(CaseResult(s.suite.name, f"{s.step.id}: {label}", passed, s.duration, failures,
                                file=s.suite.file, log=tuple(log)))
    return SuiteResult(name, tuple(cases), duration)


def utc_text(moment: datetime) -> str:
    return format_utc(moment)
