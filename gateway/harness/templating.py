"""``{{ ... }}`` values in certification scenarios, and field selectors on FIX field lists.

Expressions (a scenario names its steps with ``as:`` so later steps can refer to them)::

    {{uuid}}  {{now}}  {{today}}  {{sender}}  {{target}}  {{seq}}
    {{clordid}}                  a fresh unique ClOrdID for this send step (the same for every use
                                 inside the step); in an expect step, the last one generated
    {{received.NAME.TAG}}        a field of the message an expect step named NAME matched
    {{sent.NAME.TAG}}            a field of the message a send step named NAME sent
    {{vars.NAME}}                a scenario variable (``vars:`` mapping)
    {{this.TAG}}                 in an expect step: a field of the message being matched

``TAG`` may carry a selector: ``270#2`` is the second MDEntryPx(270); ``270[269=1]`` is the first
270 inside the repeating-group entry whose MDEntryType(269) is 1 (offer). Filters compute in Decimal:
``{{received.snap.270[269=0] | mul 0.9 | round 2}}``; ``add``, ``sub``, ``mul``, ``div``, ``round N``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from gateway.harness.errors import HarnessError
from gateway.harness.sessionproto import Field, format_utc

__all__ = [
    "Selector",
    "TemplateContext",
    "TemplateError",
    "parse_selector",
    "referenced_names",
    "render",
    "select_field",
    "validate_template",
]

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_SELECTOR = re.compile(r"^(\d+)(?:#(\d+)|\[(\d+)=([^\]]*)\])?$")
_SIMPLE = frozenset({"uuid", "now", "today", "sender", "target", "seq", "clordid"})
_FILTERS = frozenset({"add", "sub", "mul", "div", "round"})


class TemplateError(HarnessError):
    """A ``{{...}}`` expression is malformed, or refers to something that does not exist (yet)."""


@dataclass(frozen=True, slots=True)
class Selector:
    tag: int
    occurrence: int = 1                        # 1-based
    within: tuple[int, str] | None = None      # (group delimiter-ish tag, value)

    def __str__(self) -> str:
        if self.within:
            return f"{self.tag}[{self.within[0]}={self.within[1]}]"
        return f"{self.tag}#{self.occurrence}" if self.occurrence != 1 else str(self.tag)


def parse_selector(text: str | int) -> Selector:
    """``"44"``, ``"270#2"`` or ``"270[269=1]"`` -> :class:`Selector`; raises TemplateError."""
    found = _SELECTOR.match(str(text).strip())
    if not found:
        raise TemplateError(f"bad field selector {text!r} (use TAG, TAG#N or TAG[TAG=VALUE])")
    tag, nth, key, value = found.groups()
    if nth is not None:
        if int(nth) < 1:
            raise TemplateError(f"bad field selector {text!r}: occurrences count from 1")
        return Selector(int(tag), int(nth))
    if key is not None:
        return Selector(int(tag), 1, (int(key), value))
    return Selector(int(tag))


def select_field(fields: Sequence[Field], selector: Selector) -> str | None:
    """Value picked by ``selector`` from ``fields`` (wire order), or None when absent.

    For ``TAG[KEY=VALUE]`` the entry runs from a ``KEY=VALUE`` field to the next ``KEY`` field,
    which is how a repeating group's entries follow each other on the wire when KEY comes first
    in each entry, as MDEntryType(269) does in MarketDataSnapshot entries."""
    if selector.within is None:
        count = 0
        for tag, value in fields:
            if tag == selector.tag:
                count += 1
                if count == selector.occurrence:
                    return value
        return None
    key, wanted = selector.within
    inside = False
    for tag, value in fields:
        if tag == key:
            inside = value == wanted
        elif inside and tag == selector.tag:
            return value
    return None


@dataclass(slots=True)
class TemplateContext:
    """What templates can see while a scenario runs; the runner updates it step by step."""

    sender: str = ""
    target: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    received: dict[str, Sequence[Field]] = field(default_factory=dict)
    sent: dict[str, Sequence[Field]] = field(default_factory=dict)
    clordid_prefix: str = "H"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    seq: int | None = None
    current: Sequence[Field] | None = None      # the message an expect step is matching
    clordid: str | None = None
    _in_send: bool = False
    _fresh_this_step: bool = False
    _counter: int = 0

    def begin_step(self, *, sending: bool, seq: int | None = None) -> None:
        """Call before rendering a step: send steps mint a new ``{{clordid}}`` on first use."""
        self._in_send = sending
        self._fresh_this_step = False
        self.seq = seq

    def _clordid(self) -> str:
        if self._in_send and not self._fresh_this_step:
            self._counter += 1
            # Unique per run and short: many engines cap ClOrdID around 20-32 chars.
            self.clordid = f"{self.clordid_prefix}{self._counter:03d}"
            self._fresh_this_step = True
        if self.clordid is None:
            raise TemplateError("{{clordid}} used before any send step generated one")
        return self.clordid


def _base_value(expr: str, ctx: TemplateContext) -> str:
    if expr == "uuid":
        return uuid.uuid4().hex
    if expr == "now":
        return format_utc(ctx.clock())
    if expr == "today":
        return ctx.clock().astimezone(UTC).strftime("%Y%m%d")
    if expr == "sender":
        return ctx.sender
    if expr == "target":
        return ctx.target
    if expr == "seq":
        if ctx.seq is None:
            raise TemplateError("{{seq}} is only known while sending")
        return str(ctx.seq)
    if expr == "clordid":
        return ctx._clordid()
    head, _, rest = expr.partition(".")
    if head == "vars":
        if rest not in ctx.variables:
            raise TemplateError(f"unknown variable {rest!r} in {{{{{expr}}}}}")
        return str(ctx.variables[rest])
    if head == "this":
        if ctx.current is None:
            raise TemplateError(f"{{{{{expr}}}}} is only known while matching a received message")
        value = select_field(ctx.current, parse_selector(rest))
        if value is None:
            raise TemplateError(f"{{{{{expr}}}}}: the message has no field {rest}")
        return value
    if head in ("received", "sent"):
        name, _, selector_text = rest.partition(".")
        store = ctx.received if head == "received" else ctx.sent
        if name not in store:
            raise TemplateError(f"{{{{{expr}}}}}: no earlier {head} message named {name!r}")
        value = select_field(store[name], parse_selector(selector_text))
        if value is None:
            raise TemplateError(f"{{{{{expr}}}}}: {head} message {name!r} has no field {selector_text}")
        return value
    raise TemplateError(f"unknown template expression {{{{{expr}}}}}")


def _apply_filter(value: str, name: str, arg: str, expr: str) -> str:
    try:
        number = Decimal(value)
        if name == "round":
            places = int(arg)
            return str(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
        operand = Decimal(arg)
    except (InvalidOperation, ValueError):
        raise TemplateError(f"{{{{{expr}}}}}: filter {name} {arg} needs numbers, got {value!r}") from None
    if name == "add":
        result = number + operand
    elif name == "sub":
        result = number - operand
    elif name == "mul":
        result = number * operand
    else:
        if operand == 0:
            raise TemplateError(f"{{{{{expr}}}}}: division by zero")
        result = number / operand
    return format(result.normalize(), "f") if result == result.to_integral() else str(result)


def _split(expr: str) -> tuple[str, list[tuple[str, str]]]:
    parts = [p.strip() for p in expr.split("|")]
    filters: list[tuple[str, str]] = []
    for part in parts[1:]:
        name, _, arg = part.partition(" ")
        if name not in _FILTERS or not arg.strip():
            raise TemplateError(f"bad filter {part!r} in {{{{{expr}}}}} (use add/sub/mul/div/round N)")
        filters.append((name, arg.strip()))
    return parts[0], filters


def validate_template(text: str) -> None:
    """Check syntax only (names of earlier steps are checked by the scenario loader)."""
    for found in _PLACEHOLDER.finditer(text):
        base, _ = _split(found.group(1).strip())
        head, _, rest = base.partition(".")
        if base in _SIMPLE:
            continue
        if head == "vars" and rest:
            continue
        if head == "this" and rest:
            parse_selector(rest)
            continue
        if head in ("received", "sent"):
            name, _, selector = rest.partition(".")
            if name and selector:
                parse_selector(selector)
                continue
        raise TemplateError(f"unknown template expression {{{{{base}}}}}")


def referenced_names(text: str) -> list[tuple[str, str]]:
    """``[("received", "exec_new"), ...]`` for every step reference in ``text``."""
    out = []
    for found in _PLACEHOLDER.finditer(text):
        head, _, rest = found.group(1).strip().partition(".")
        if head in ("received", "sent"):
            out.append((head, rest.partition(".")[0]))
    return out


def render(text: str, ctx: TemplateContext) -> str:
    """Substitute every ``{{...}}`` in ``text``; raises TemplateError naming the expression."""
    def one(found: re.Match[str]) -> str:
        expr = found.group(1).strip()
        base, filters = _split(expr)
        value = _base_value(base, ctx)
        for name, arg in filters:
            value = _apply_filter(value, name, arg, expr)
        return value

    return _PLACEHOLDER.sub(one, text)
