"""Pure parts of partner certification: suite validation, order-flow rules, the quantity table,
questionnaire selection and verdicts from a log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.cert.errors import QuestionnaireError, SuiteError
from gateway.cert.logverdict import judge_log
from gateway.cert.market import plan_for
from gateway.cert.orderchecks import OrderFlowChecker
from gateway.cert.questionnaire import capabilities
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite, parse_suite
from gateway.harness.codec import FixParser, encode


def test_shipped_suites_load_with_prompts_and_cases() -> None:
    session = load_suite("session")
    assert session.automatic and len(session.steps) == 12
    assert all(s.prompt and s.case for s in session.steps)
    assert {s.name for s in map(load_suite, ["orders", "market-data"])} == {"orders", "market-data"}


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nsteps: [{id: a, expect: [{expect: '0'}]}]", "step a: every step needs a prompt"),
    ("name: x\nsteps: [{id: a, prompt: p, expect: [{expect: '0', colour: red}]}]", "unknown keys ['colour']"),
    ("name: x\nsteps: [{id: a, prompt: p, inject: [{send: '1', fields: {112: '{{nope}}'}}], "
     "expect: [{expect: '0'}]}]", "unknown template"),
    ("name: x\nversions: [FIX.4.0]\nsteps: [{id: a, prompt: p, expect: [{expect: '0'}]}]", "not supported"),
])
def test_invalid_suites_name_file_and_step(text: str, message: str) -> None:
    with pytest.raises(SuiteError) as err:
        parse_suite(text, "bad.yaml").steps[0].expect[0].matchers[0].describe()
    assert "bad.yaml" in str(err.value) and message in str(err.value)


def test_order_flow_checker_names_reuse_and_wrong_orig() -> None:
    c = OrderFlowChecker()
    assert c.from_partner("D", [(11, "A")]) == []
    assert c.from_partner("G", [(11, "B"), (41, "A")]) == []
    assert "reused" in c.from_partner("D", [(11, "A")])[0]
    assert "not the order's current ClOrdID 'B'" in c.from_partner("F", [(11, "C"), (41, "A")])[0]
    assert "names no order" in c.from_partner("F", [(11, "E"), (41, "ZZZ")])[0]
    # A rejected replace leaves the previous ClOrdID current.
    c2 = OrderFlowChecker()
    c2.from_partner("D", [(11, "X")])
    c2.from_partner("G", [(11, "Y"), (41, "X")])
    c2.from_plxtra("9", [(11, "Y"), (41, "X")])
    assert c2.from_partner("F", [(11, "Z"), (41, "X")]) == []


def test_quantity_table_is_deterministic() -> None:
    assert plan_for("100").behaviour == "fill" and plan_for("100").maker_quantity == 100
    assert plan_for("200").maker_quantity == 50
    assert plan_for("400").cancel and plan_for("999").behaviour == "reject"
    assert plan_for("123").behaviour == "rest" and plan_for("abc").behaviour == "rest"


def test_questionnaire_selects_steps() -> None:
    caps = capabilities({"order_types": ["limit"], "cancel": True, "market_data": ["snapshot"]})
    assert caps == {"order_type:limit", "cancel", "md:snapshot"}
    run = CertRun([load_suite("orders")], CertOptions(), capabilities=caps)
    status = {s.step.id: s.status for s in run.states}
    assert status["market-filled"] == "skipped" and status["replace-chain"] == "skipped"
    assert status["limit-filled"] == status["partial-fill-cancel"] == "waiting"
    with pytest.raises(QuestionnaireError):
        capabilities({"colour": "red"})


def _msg(sender: str, target: str, seq: int, msg_type: str, *fields: tuple[int, str]) -> object:
    parser = FixParser()
    parser.feed(encode("FIX.4.4", [(35, msg_type), (49, sender), (56, target), (34, str(seq)),
                                   (52, "20260101-00:00:00.000"), *fields]))
    return parser.next()


def test_log_verdicts_prove_what_the_log_shows() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    p, x = "ACME", "PLXTRA"
    log = [(t0, True, _msg(p, x, 1, "A", (98, "0"), (108, "2"))),
           (t0, False, _msg(x, p, 1, "A", (98, "0"), (108, "2"))),
           (t0 + timedelta(seconds=1), False, _msg(x, p, 2, "1", (112, "T1"))),
           (t0 + timedelta(seconds=2), True, _msg(p, x, 2, "0")),
           (t0 + timedelta(seconds=4), True, _msg(p, x, 3, "0"))]
    verdicts = {v.step_id: v for v in judge_log(load_suite("session"), log)}   # type: ignore[arg-type]
    assert verdicts["logon"].status == "passed"
    assert verdicts["heartbeat-idle"].status == "passed"
    assert verdicts["test-request"].status == "failed" and "'T1'" in verdicts["test-request"].reason
    assert verdicts["gap-detected"].status == "needs-live"
    assert verdicts["too-low-seqnum"].status == "needs-live"


def test_a_logout_answered_after_heartbeats_in_flight_is_answered() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    p, x = "ACME", "PLXTRA"
    base = [(t0, True, _msg(p, x, 1, "A", (98, "0"), (108, "1"))),
            (t0, False, _msg(x, p, 1, "A", (98, "0"), (108, "1"))),
            (t0, False, _msg(x, p, 2, "5"))]
    in_flight = [(t0, False, _msg(x, p, 3, "0")), (t0, True, _msg(p, x, 2, "0")),
                 (t0, False, _msg(x, p, 4, "0")), (t0, True, _msg(p, x, 3, "0"))]
    answered = [*base, *in_flight, (t0, True, _msg(p, x, 4, "5"))]
    verdict = {v.step_id: v for v in judge_log(load_suite("session"), answered)}   # type: ignore[arg-type]
    assert verdict["logout-answered"].status == "passed", verdict["logout-answered"].reason
    # No Logout from the partner before the session starts again: not answered.
    unanswered = [*base, *in_flight, (t0, True, _msg(p, x, 1, "A", (98, "0"), (108, "1"), (141, "Y"))),
                  (t0, True, _msg(p, x, 2, "5"))]
    verdict = {v.step_id: v for v in judge_log(load_suite("session"), unanswered)}   # type: ignore[arg-type]
    logout = verdict["logout-answered"]
    assert logout.status == "failed" and "not answered" in logout.reason
