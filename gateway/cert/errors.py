"""Errors of the certification part.

    GatewayError
    └── HarnessError
        └── CertError
            ├── SuiteError          a suite file is invalid (file, step)
            ├── QuestionnaireError  a capability questionnaire is invalid
            └── RecordError         a certification record is unreadable, unsigned or tampered with
"""

from __future__ import annotations

from gateway.harness.errors import HarnessError

__all__ = ["CertError", "QuestionnaireError", "RecordError", "SuiteError"]


class CertError(HarnessError):
    """Base of the certification part's errors."""


class SuiteError(CertError):
    def __init__(self, detail: str, *, file: str = "", step: str | None = None) -> None:
        self.file, self.step, self.detail = file, step, detail
        where = file or "<suite>"
        if step:
            where += f": step {step}"
        super().__init__(f"{where}: {detail}")


class QuestionnaireError(CertError):
    pass


class RecordError(CertError):
    pass
