"""Templates and field matchers on plain data (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.harness.matchers import MatcherError, parse_matcher
from gateway.harness.templating import (
    TemplateContext,
    TemplateError,
    parse_selector,
    render,
    select_field,
    validate_template,
)

SNAPSHOT = [(35, "W"), (262, "MD1"), (268, "2"), (269, "0"), (270, "9.90"), (271, "500"),
            (269, "1"), (270, "10.10"), (271, "300")]


def ctx(**kw) -> TemplateContext:
    c = TemplateContext(sender="CLIENT1", target="PLXTRA", clordid_prefix="T-",
                        clock=lambda: datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), **kw)
    c.received["snap"] = SNAPSHOT
    c.sent["order"] = [(35, "D"), (11, "T-001"), (44, "10.10")]
    return c


def test_selectors_pick_occurrence_and_group_entry() -> None:
    assert select_field(SNAPSHOT, parse_selector("270")) == "9.90"
    assert select_field(SNAPSHOT, parse_selector("270#2")) == "10.10"
    assert select_field(SNAPSHOT, parse_selector("271[269=1]")) == "300"
    assert select_field(SNAPSHOT, parse_selector("270[269=2]")) is None
    assert select_field(SNAPSHOT, parse_selector("999")) is None
    with pytest.raises(TemplateError):
        parse_selector("27O")
    with pytest.raises(TemplateError):
        parse_selector("270#0")


def test_render_simple_values_and_references() -> None:
    c = ctx(variables={"account": "0001"})
    assert render("{{now}}", c) == "20260102-03:04:05.678"
    assert render("{{today}}", c) == "20260102"
    assert render("{{sender}}->{{target}}", c) == "CLIENT1->PLXTRA"
    assert render("{{received.snap.270[269=1]}}", c) == "10.10"
    assert render("{{sent.order.11}}", c) == "T-001"
    assert render("acct {{vars.account}}", c) == "acct 0001"
    assert len(render("{{uuid}}", c)) == 32


def test_filters_compute_in_decimal() -> None:
    c = ctx()
    assert render("{{received.snap.270[269=0] | mul 0.95 | round 2}}", c) == "9.41"
    assert render("{{received.snap.271[269=1] | add 5000}}", c) == "5300"
    assert render("{{received.snap.270 | sub 0.9}}", c) == "9"
    assert render("{{received.snap.270[269=1] | div 2}}", c) == "5.05"
    with pytest.raises(TemplateError, match="needs numbers"):
        render("{{sent.order.11 | add 1}}", c)
    with pytest.raises(TemplateError, match="bad filter"):
        render("{{received.snap.270 | pow 2}}", c)


def test_clordid_is_fresh_per_send_step_and_stable_inside_it() -> None:
    c = ctx()
    c.begin_step(sending=True, seq=5)
    first = render("{{clordid}}", c)
    assert render("{{clordid}}/{{seq}}", c) == f"{first}/5"
    c.begin_step(sending=True, seq=6)
    second = render("{{clordid}}", c)
    assert second != first and second.startswith("T-")
    c.begin_step(sending=False)
    assert render("{{clordid}}", c) == second   # expect steps see the last one


def test_unknown_references_fail_with_the_expression() -> None:
    c = ctx()
    with pytest.raises(TemplateError, match="no earlier received message named 'nope'"):
        render("{{received.nope.37}}", c)
    with pytest.raises(TemplateError, match="has no field 37"):
        render("{{received.snap.37}}", c)
    with pytest.raises(TemplateError, match="only known while sending"):
        render("{{seq}}", c)
    with pytest.raises(TemplateError, match="unknown template"):
        validate_template("{{bogus}}")
    c2 = TemplateContext()
    with pytest.raises(TemplateError, match="before any send"):
        render("{{clordid}}", c2)


@pytest.mark.parametrize(("spec", "value", "ok"), [
    ("0", "0", True), ("0", "8", False), ("0", None, False),
    ({"regex": "E\\d+"}, "E12", True), ({"regex": "E\\d+"}, "XE12", False),
    ({"one_of": ["1", "2"]}, "2", True), ({"one_of": ["1", "2"]}, "4", False),
    ({"present": True}, "x", True), ({"present": True}, None, False),
    ({"absent": True}, None, True), ({"absent": True}, "x", False),
    ({"gt": 0}, "0.01", True), ({"gt": 0}, "0", False), ({"ge": "10.0"}, "10", True),
    ({"lt": 5, "ge": 1}, "4.99", True), ({"lt": 5, "ge": 1}, "5", False),
    ({"le": "{{received.snap.270[269=1]}}"}, "10.10", True), ({"eq": 100}, "100.00", True),
    ({"gt": 0}, "abc", False),
])
def test_matchers(spec: object, value: str | None, ok: bool) -> None:
    fields = [(35, "8")] + ([(150, value)] if value is not None else [])
    miss = parse_matcher(150, spec).check(fields, ctx())
    assert (miss is None) is ok
    if not ok:
        assert miss.selector == "150"
        assert "tag 150" in str(miss)


def test_matcher_on_group_selector_names_it() -> None:
    miss = parse_matcher("270[269=1]", {"gt": 11}).check(SNAPSHOT, ctx())
    assert miss is not None and miss.selector == "270[269=1]" and miss.received == "10.10"
    assert str(miss) == "tag 270[269=1]: expected > 11, received '10.10'"


@pytest.mark.parametrize(("spec", "message"), [
    ({"between": 1}, "unknown matcher 'between'"),
    ({"one_of": []}, "non-empty list"),
    ({"present": "yes"}, "true or false"),
    ({"gt": "ten"}, "needs a number"),
    ({"regex": "("}, "bad regex"),
    ({}, "empty matcher"),
    ([1, 2], "scalar"),
])
def test_bad_matchers_are_refused(spec: object, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        parse_matcher(39, spec)
