"""Field matchers for certification ``expect`` steps.

A matcher is written in YAML as the value of a tag (or selector, see :mod:`templating`)::

    39: "0"                         exact text (templated: "{{sent.order.11}}")
    58: {regex: "unknown symbol.*"} re.fullmatch
    150: {one_of: ["F", "2"]}
    37: {present: true}             58: {absent: true}
    44: {gt: "0", le: "100"}        numeric comparisons in Decimal: gt ge lt le eq
Several keys in one mapping must all hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from gateway.harness.errors import HarnessError
from gateway.harness.sessionproto import Field
from gateway.harness.templating import (
    Selector,
    TemplateContext,
    parse_selector,
    render,
    select_field,
    validate_template,
)

__all__ = ["Check", "FieldMatcher", "MatcherError", "Mismatch", "parse_matcher"]

_NUMERIC = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "=="}
_KINDS = frozenset({"exact", "regex", "one_of", "present", "absent", *_NUMERIC})


class MatcherError(HarnessError):
    """A matcher in a scenario is malformed (the loader adds file and step)."""


@dataclass(frozen=True, slots=True)
class Check:
    kind: str
    operand: str | tuple[str, ...] | bool


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why one field failed: ``expected`` describes the matcher, ``received`` what came."""

    selector: str
    expected: str
    received: str | None

    def __str__(self) -> str:
        got = "absent" if self.received is None else repr(self.received)
        return f"tag {self.selector}: expected {self.expected}, received {got}"


@dataclass(frozen=True, slots=True)
class FieldMatcher:
    selector: Selector
    checks: tuple[Check, ...]

    def describe(self, ctx: TemplateContext | None = None) -> str:
        parts = []
        for c in self.checks:
            operand = c.operand
            if ctx is not None and isinstance(operand, str):
                operand = _safe_render(operand, ctx)
            if c.kind == "exact":
                parts.append(repr(operand))
            elif c.kind in ("present", "absent"):
                parts.append(c.kind if c.operand else f"not {c.kind}")
            elif c.kind == "one_of":
                parts.append(f"one of {list(operand)!r}")  # type: ignore[arg-type]
            elif c.kind == "regex":
                parts.append(f"/{operand}/")
            else:
                parts.append(f"{_NUMERIC[c.kind]} {operand}")
        return " and ".join(parts)

    def check(self, fields: Sequence[Field], ctx: TemplateContext) -> Mismatch | None:
        value = select_field(fields, self.selector)
        for c in self.checks:
            if not _holds(c, value, ctx):
                return Mismatch(str(self.selector), self.describe(ctx), value)
        return None


def _safe_render(text: str, ctx: TemplateContext) -> str:
    try:
        return render(text, ctx)
    except HarnessError:
        return text


def _holds(c: Check, value: str | None, ctx: TemplateContext) -> bool:
    if c.kind == "present":
        return (value is not None) == bool(c.operand)
    if c.kind == "absent":
        return (value is None) == bool(c.operand)
    if value is None:
        return False
    if c.kind == "exact":
        return value == render(str(c.operand), ctx)
    if c.kind == "one_of":
        return value in {render(o, ctx) for o in c.operand}  # type: ignore[union-attr]
    if c.kind == "regex":
        return re.fullmatch(render(str(c.operand), ctx), value) is not None
    try:
        left, right = Decimal(value), Decimal(render(str(c.operand), ctx))
    except InvalidOperation:
        return False
    return {"gt": left > right, "ge": left >= right, "lt": left < right,
            "le": left <= right, "eq": left == right}[c.kind]


def _text(value: object, where: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise MatcherError(f"{where}: expected a scalar value, got {value!r}")
    if isinstance(value, float):
        # YAML turns 10.50 into 10.5: fine for numeric checks, surprising for exact text.
        return repr(value)
    return str(value)


def parse_matcher(key: object, spec: object) -> FieldMatcher:
    """Build a matcher from one YAML ``key: spec`` pair; raises MatcherError / TemplateError."""
    selector = parse_selector(key)  # type: ignore[arg-type]
    where = f"tag {key}"
    if not isinstance(spec, Mapping):
        text = _text(spec, where)
        validate_template(text)
        return FieldMatcher(selector, (Check("exact", text),))
    if not spec:
        raise MatcherError(f"{where}: empty matcher")
    checks = []
    for kind, operand in spec.items():
        if kind not in _KINDS:
            raise MatcherError(f"{where}: unknown matcher {kind!r} (use {', '.join(sorted(_KINDS))})")
        if kind in ("present", "absent"):
            if not isinstance(operand, bool):
                raise MatcherError(f"{where}: {kind} takes true or false")
            checks.append(Check(kind, operand))
        elif kind == "one_of":
            if not isinstance(operand, list) or not operand:
                raise MatcherError(f"{where}: one_of takes a non-empty list")
            values = tuple(_text(o, where) for o in operand)
            for v in values:
                validate_template(v)
            checks.append(Check(kind, values))
        elif kind == "regex":
            text = _text(operand, where)
            if "{{" not in text:
                try:
                    re.compile(text)
                except re.error as exc:
                    raise MatcherError(f"{where}: bad regex {text!r}: {exc}") from None
            checks.append(Check(kind, text))
        else:
            text = _text(operand, where)
            validate_template(text)
            if "{{" not in text:
                try:
                    Decimal(text)
                except InvalidOperation:
                    raise MatcherError(f"{where}: {kind} needs a number, got {text!r}") from None
            checks.append(Check(kind, text))
    return FieldMatcher(selector, tuple(checks))
