"""Partner-certification suites and specs/certification scenarios share one step parser
(gateway.harness.scenario.parse_entry): what a scenario step may write, a suite's send / gap /
send_raw / expect entry may write too, with the same checks and the same error texts."""

from __future__ import annotations

import pytest

from gateway.cert.errors import SuiteError
from gateway.cert.suite import Expectation, parse_suite
from gateway.harness.scenario import parse_scenario

NUMBERS = """
name: n
versions: [FIX.4.4]
steps:
  - id: a
    prompt: p
    inject:
      - send: "1"
        as: tr
        fields: {112: "CERT-{{uuid}}"}
    expect:
      - expect: "8"
        as: er
        fields: {11: {regex: "X.*"}, 39: "2"}
      - expect: "F"
        fields: {41: "{{received.er.11}}"}
"""

NAMES = """
name: n
versions: [FIX.4.4]
steps:
  - id: a
    prompt: p
    inject:
      - send: TestRequest
        as: tr
        fields: [[TestReqID, "CERT-{{uuid}}"]]
    expect:
      - expect: ExecutionReport
        as: er
        fields: {ClOrdID: {regex: "X.*"}, OrdStatus: "2"}
      - expect: OrderCancelRequest
        fields: {OrigClOrdID: "{{received.er.11}}"}
"""


def test_fix_names_and_pair_lists_parse_as_in_scenarios() -> None:
    by_number, by_name = parse_suite(NUMBERS).steps[0], parse_suite(NAMES).steps[0]
    assert by_name.inject == by_number.inject
    def shape(e: Expectation) -> tuple:
        return e.msg_type, e.name, [m.describe() for m in e.matchers], e.ignore, e.timeout

    assert [shape(e) for e in by_name.expect] == [shape(e) for e in by_number.expect]
    assert by_number.expect[0].ignore == ("0", "2", "4") and by_number.expect[0].timeout is None


@pytest.mark.parametrize(("entry", "message"), [
    ("{expect: '8', fields: {41: '{{received.nothing.11}}'}}",
     "refers to no earlier expect step named 'nothing'"),
    ("{expect: '8', header: {50: x}}", "unknown keys ['header']"),
    ("{expect: NoSuchMessage}", "is neither a MsgType nor a FIX.4.4 message name"),
    ("{expect: '8', fields: {NoSuchField: '1'}}", "NoSuchField"),
])
def test_suite_errors_are_the_scenario_parser_errors(entry: str, message: str) -> None:
    text = f"name: x\nversions: [FIX.4.4]\nsteps: [{{id: a, prompt: p, expect: [{entry}]}}]"
    with pytest.raises(SuiteError) as err:
        parse_suite(text, "bad.yaml")
    assert "bad.yaml: step a" in str(err.value) and message in str(err.value)


def test_same_reference_error_text_as_a_scenario() -> None:
    scenario = ("name: s\nsession: {begin_string: FIX.4.4, sender: A, target: B}\n"
                "steps: [{expect: '8', fields: {41: '{{received.nothing.11}}'}}]")
    with pytest.raises(Exception) as from_scenario:
        parse_scenario(scenario, "s.yaml")
    with pytest.raises(SuiteError) as from_suite:
        parse_suite("name: x\nversions: [FIX.4.4]\nsteps: [{id: a, prompt: p, expect: "
                    "[{expect: '8', fields: {41: '{{received.nothing.11}}'}}]}]")
    assert from_suite.value.detail == from_scenario.value.detail   # type: ignore[attr-defined]
