"""Scenario YAML validation: errors name file, line and step; the shipped specs all load."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.harness.scenario import ScenarioError, load_scenario, load_scenarios, parse_scenario

SPECS = Path(__file__).resolve().parents[2] / "specs" / "certification"

HEAD = """name: t
session: {begin_string: FIX.4.4, sender: A, target: B}
steps:
"""


def test_shipped_specs_load_and_cover_three_versions() -> None:
    scenarios = load_scenarios([SPECS])
    assert len(scenarios) >= 25
    versions = {s.session.begin_string for s in scenarios}
    assert versions == {"FIX.4.2", "FIX.4.4", "FIXT.1.1"}
    fixt = [s for s in scenarios if s.session.begin_string == "FIXT.1.1"]
    assert fixt and all(s.session.default_appl_ver_id == "9" for s in fixt)
    names = [s.name for s in scenarios]
    assert len(names) == len(set(names))
    tags = {t for s in scenarios for t in s.tags}
    assert {"session", "orders", "marketdata", "reject", "resend", "possdup", "fill", "cancel",
            "amend", "reference"} <= tags


def test_full_scenario_parses_every_step_kind() -> None:
    text = HEAD + """\
  - send: D
    as: order
    fields: {11: "{{clordid}}", 38: 100}
  - expect: "8"
    as: ack
    timeout: 2
    ignore: ["0", X]
    fields: {11: "{{sent.order.11}}", 150: {one_of: ["0", "A"]}, "270[269=1]": {gt: 0}}
  - send: F
    fields: [[11, "{{clordid}}"], [41, "{{sent.order.11}}"], [37, "{{received.ack.37}}"]]
  - gap: "0"
    skip: 2
  - send: D
    duplicate_of: order
  - send_raw: "8=FIX.4.4|35=0|34={{seq}}|49={{sender}}|56={{target}}|52={{now}}|"
  - expect_none: {within: 0.5}
  - wait: 0.1
  - logout: {text: bye}
  - reconnect: {reset: true}
  - disconnect: {}
  - expect_disconnect: {timeout: 1}
"""
    s = parse_scenario(text, "x.yaml")
    kinds = [st.kind for st in s.steps]
    assert kinds == ["send", "expect", "send", "gap", "send", "send_raw", "expect_none", "wait", "logout",
                     "reconnect", "disconnect", "expect_disconnect"]
    assert s.steps[1].ignore == ("0", "X") and s.steps[1].timeout == 2
    assert s.steps[0].fields == ((11, "{{clordid}}"), (38, "100"))
    assert s.steps[5].raw.count("\x01") == 6
    assert s.steps[3].skip == 2 and s.steps[4].duplicate_of == "order"
    assert s.steps[9].reset is True and s.steps[8].text == "bye"


@pytest.mark.parametrize(("steps", "message"), [
    ("  - send: D\n    feilds: {11: x}\n", "step 1: unknown key(s) ['feilds'] for a send step"),
    ("  - send: D\n  - expect: '8'\n    fields: {37: {between: 1}}\n", "step 2: tag 37: unknown matcher"),
    ("  - expect: '8'\n    fields: {37: '{{received.nope.37}}'}\n",
     "refers to no earlier expect step named 'nope'"),
    ("  - send: D\n    fields: {41: '{{sent.later.11}}'}\n  - send: D\n    as: later\n",
     "refers to no earlier send step named 'later'"),
    ("  - send: D\n    duplicate_of: ghost\n", "duplicate_of: no earlier send step named 'ghost'"),
    ("  - send: D\n    fields: {abc: 1}\n", "tag 'abc' is not a number"),
    ("  - send: D\n    fields: {11: '{{bogus}}'}\n", "unknown template expression"),
    ("  - jump: 3\n", "needs exactly one of"),
    ("  - send: D\n    expect: '8'\n", "needs exactly one of"),
    ("  - wait: -1\n", "wait must be a number >= 0"),
    ("  - send: D\n    as: a\n  - send: D\n    as: a\n", "already names an earlier send step"),
    ("  - gap: '0'\n    skip: 0\n", "skip must be a positive integer"),
])
def test_step_errors_name_file_line_and_step(steps: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(HEAD + steps, "specs/bad.yaml")
    text = str(info.value)
    assert text.startswith("specs/bad.yaml:")
    assert message in text
    assert info.value.step is not None and info.value.line is not None and info.value.line >= 4


@pytest.mark.parametrize(("text", "message"), [
    ("name: t\nsteps: [{wait: 1}]\n", "session: a `session:` mapping is required"),
    ("name: t\nsession: {begin_string: FIX.9.9, sender: A, target: B}\nsteps: [{wait: 1}]\n", "not one of"),
    ("name: t\nsession: {begin_string: FIXT.1.1, sender: A, target: B}\nsteps: [{wait: 1}]\n",
     "needs default_appl_ver_id"),
    ("name: t\nsession: {begin_string: FIX.4.4, sender: A, target: B}\nsteps: []\n", "non-empty list"),
    ("name: t\nsession: {begin_string: FIX.4.4, sender: A, target: B, colour: red}\nsteps: [{wait: 1}]\n",
     "unknown key(s) ['colour']"),
    ("name: [unclosed\n", "invalid YAML"),
    ("nmae: t\n", "unknown top-level key(s) ['nmae']"),
])
def test_document_errors(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(text, "f.yaml")


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "none.yaml")


def test_fix_names_resolve_through_the_data_dictionary() -> None:
    text = """name: names
session: {begin_string: FIXT.1.1, default_appl_ver_id: "9", sender: A, target: B}
steps:
  - send: NewOrderSingle
    as: order
    fields: {ClOrdID: "{{clordid}}", Side: 1, 38: 10}
  - expect: ExecutionReport
    fields: {ExecType: "0", "MDEntryPx[MDEntryType=1]": {gt: 0}, "270#2": {present: true}}
  - expect: "0"
"""
    s = parse_scenario(text, "n.yaml")
    assert s.steps[0].msg_type == "D" and s.steps[0].fields == ((11, "{{clordid}}"), (54, "1"), (38, "10"))
    assert s.steps[1].msg_type == "8"
    assert [str(m.selector) for m in s.steps[1].matchers] == ["150", "270[269=1]", "270#2"]
    with pytest.raises(ScenarioError, match=r"'NoSuchField' is neither a tag number nor a FIXT\.1\.1 field"):
        parse_scenario(text.replace("ClOrdID", "NoSuchField"), "n.yaml")
    with pytest.raises(ScenarioError, match="'NewOrderDouble' is neither a MsgType nor"):
        parse_scenario(text.replace("NewOrderSingle", "NewOrderDouble"), "n.yaml")
