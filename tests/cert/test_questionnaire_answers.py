"""The capability questionnaire answered over HTTP (``POST /questionnaire``), as a partner's tooling
does without a browser: the run waits for it, the answers select the steps with the same logic as
``--questionnaire FILE``, are saved in the record, and the window closes once answered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.cert.errors import QuestionnaireError
from gateway.cert.httpview import StatusServer
from gateway.cert.questionnaire import check_answers
from gateway.cert.record import build_record
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite

ANSWERS = {"fix_version": "FIX.5.0SP2", "order_types": ["limit", "market"], "amend": True, "cancel": True,
           "order_status": False, "market_data": ["subscribe"], "engine": {"name": "Tool", "version": "9"}}


async def http(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(-1), 5.0)
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(rest)


def _options(**kw: Any) -> CertOptions:
    base: dict[str, Any] = {"timeout": 2, "prompt_timeout": 20, "connect_timeout": 1, "run_timeout": 30}
    base.update(kw)
    return CertOptions("FIXT.1.1", "TOOLQ", "PLXTRA", port=0, **base)


def test_post_answers_select_steps_and_start_the_run() -> None:
    async def main() -> dict[str, Any]:
        run = CertRun([load_suite("orders"), load_suite("market-data")], _options(), await_questionnaire=True)
        await run.start()
        view = StatusServer(run)
        await view.start()
        task = asyncio.create_task(run.run())
        out: dict[str, Any] = {}
        try:
            await asyncio.sleep(0.3)
            out["before"] = await http(view.port, "GET", "/status")
            wrong = {**ANSWERS, "fix_version": "FIX.4.2"}
            out["mismatch"] = await http(view.port, "POST", "/questionnaire", wrong)
            out["unknown"] = await http(view.port, "POST", "/questionnaire", {"colour": "blue"})
            out["not_json"] = await http(view.port, "POST", "/questionnaire", b"{nope")
            out["ok"] = await http(view.port, "POST", "/questionnaire", ANSWERS)
            out["again"] = await http(view.port, "POST", "/questionnaire", ANSWERS)
            await asyncio.wait_for(task, 25)
            out["record"] = build_record(run, log_path=None)
        finally:
            task.cancel()
            await run.stop()
            await view.stop()
        return out

    out = asyncio.run(main())
    status, before = out["before"]
    assert status == 200 and before["questionnaire_pending"] and before["started"] is not None
    assert {s["status"] for s in before["steps"]} == {"waiting"}      # nothing ran before the answers
    assert out["mismatch"][0] == 400
    assert "does not match this session (FIXT.1.1)" in out["mismatch"][1]["error"]
    assert out["unknown"][0] == 400 and "unknown questionnaire keys" in out["unknown"][1]["error"]
    assert out["not_json"][0] == 400
    status, after = out["ok"]
    assert status == 200 and not after["questionnaire_pending"] and after["questionnaire"] == ANSWERS
    skipped = {s["key"] for s in after["steps"] if s["status"] == "skipped"}
    # Same selection as a --questionnaire file with these answers.
    caps = check_answers(ANSWERS, "FIXT.1.1")
    assert skipped == {f"{s.name}/{st.id}" for s in (load_suite("orders"), load_suite("market-data"))
                       for st in s.steps if not set(st.requires) <= caps}
    assert skipped == {"orders/order-status", "market-data/md-snapshot"}
    assert out["again"][0] == 409
    record = out["record"]
    assert record["questionnaire"] == ANSWERS and record["partner"]["engine"] == ANSWERS["engine"]
    assert {s["key"]: s["status"] for s in record["steps"]}["orders/order-status"] == "skipped"


def test_unanswered_questionnaire_runs_nothing() -> None:
    async def main() -> CertRun:
        run = CertRun([load_suite("orders")], _options(prompt_timeout=0.5), await_questionnaire=True)
        await run.start()
        try:
            await run.run()
        finally:
            await run.stop()
        return run

    run = asyncio.run(main())
    assert not run.passed and run.session is None
    assert {s.status for s in run.states} == {"not-run"}
    assert "questionnaire was not answered within 0.5s" in run.states[0].reason


def test_questionnaire_closed_when_not_asked() -> None:
    run = CertRun([load_suite("orders")], _options())
    with pytest.raises(QuestionnaireError, match="closed"):
        run.answer_questionnaire(ANSWERS)
    with pytest.raises(QuestionnaireError, match="engine must be a mapping"):
        check_answers({"engine": "x"})
