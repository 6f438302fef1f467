"""Reports from real certification runs: terminal text, JUnit XML and the self-contained HTML page."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness_peer import VenueThread

from gateway.cli import main as cli_main
from gateway.harness.report import Progress, render_html, render_junit, render_terminal
from gateway.harness.results import CaseResult, FieldDiff, MessagePair, SuiteResult

GOOD = """name: {name}
tags: [orders]
session: {{begin_string: FIX.4.4, sender: CLIENT1, target: VENUE, timeout: 2}}
steps:
  - send: D
    as: order
    fields: {{11: "{{{{clordid}}}}", 55: {symbol}, 54: 1, 38: 100, 40: 2, 44: "9.00", 60: "{{{{now}}}}"}}
  - expect: "8"
    fields: {{11: "{{{{sent.order.11}}}}", 150: "0", 39: "0", 37: {{present: true}}}}
"""


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "a_ok.yaml").write_text(GOOD.format(name="order acknowledged", symbol="XS01"))
    (folder / "b_bad.yaml").write_text(GOOD.format(name="order for unknown symbol", symbol="NOPE"))
    (folder / "c_ok.yaml").write_text(GOOD.format(name="second order acknowledged", symbol="XS02"))
    return folder


def test_certify_cli_reports(specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    junit, html = tmp_path / "out.xml", tmp_path / "out.html"
    with VenueThread() as v:
        code = cli_main(["certify", str(specs), "--target", f"127.0.0.1:{v.port}", "--junit", str(junit),
                         "--html", str(html)])
        filtered = cli_main(["certify", str(specs), "--target", f"127.0.0.1:{v.port}", "-k", "not unknown"])
        none = cli_main(["certify", str(specs), "--target", f"127.0.0.1:{v.port}", "-k", "nothing-matches"])
    assert (code, filtered, none) == (1, 0, 2)
    out = capsys.readouterr().out
    assert "PASS  order acknowledged" in out and "FAIL  order for unknown symbol" in out
    assert "certification: 2 passed, 1 failed, 0 errors" in out

    root = ET.parse(junit).getroot()                      # well-formed, or this raises
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"order acknowledged", "order for unknown symbol", "second order acknowledged"}
    failure = cases["order for unknown symbol"].find("failure")
    assert failure is not None
    assert "step 2 (expect 8)" in failure.get("message")
    assert "tag 150: expected '0', received '8'" in failure.text
    assert cases["order acknowledged"].find("failure") is None
    assert cases["order acknowledged"].find("system-out") is not None

    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page and "<script" not in page and "src=" not in page
    # the failing ExecutionReport, side by side, with the differing tags highlighted
    assert ('<tr class="diff"><td class=tag>150 <span class=name>ExecType</span></td>'
            "<td>&#x27;0&#x27;</td><td>8</td></tr>") in page
    assert '<tr class="diff"><td class=tag>39 <span class=name>OrdStatus</span></td>' in page
    assert "PASSED order acknowledged" in page and "FAILED order for unknown symbol" in page


def test_invalid_spec_exits_2_naming_file_and_step(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsession: {begin_string: FIX.4.4, sender: A, target: B}\nsteps:\n  - sned: D\n")
    assert cli_main(["certify", str(bad), "--target", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: step 1" in err and "needs exactly one of" in err


def _suite() -> SuiteResult:
    pair = MessagePair("recorded #3 (8)", ((35, "8"), (39, "2"), (270, "1.5")), ((35, "8"), (39, "1")),
                       (FieldDiff("39", "2", "1"), FieldDiff("270", "1.5", None, "missing")), False)
    cases = (CaseResult("s", "ok", True, 0.1),
             CaseResult("s", "bad <one>", False, 0.2, ("different: tag 39\x01",), (pair,), "f.log"),
             CaseResult("s", "broken", False, 0.0, ("cannot connect",), error="cannot connect"))
    return SuiteResult("replay", cases, 0.3)


def test_junit_counts_errors_apart_from_failures_and_escapes_control_chars() -> None:
    root = ET.fromstring(render_junit(_suite()))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    assert root.find(".//testcase[@name='broken']/error") is not None
    assert root.find(".//testcase[@name='bad <one>']/failure").get("message") == "different: tag 39|"


def test_html_escapes_and_shows_missing_fields() -> None:
    page = render_html(_suite())
    assert "bad &lt;one&gt;" in page
    assert ('<tr class="diff"><td class=tag>270 <span class=name>MDEntryPx</span></td>'
            "<td>1.5</td><td></td></tr>") in page
    assert '<tr><td class=tag>35 <span class=name>MsgType</span></td><td>8</td><td>8</td></tr>' in page


def test_terminal_summary_and_progress_bar() -> None:
    text = render_terminal(_suite())
    assert text.splitlines()[-1].startswith("replay: 1 passed, 1 failed, 1 errors")
    assert "tag 270: expected 1.5, received absent (missing)" in text
    stream = io.StringIO()
    bar = Progress(stream, enabled=True)
    bar.update(5, 10, "half")
    bar.close()
    assert "[" in stream.getvalue() and "5/10 half" in stream.getvalue()
    quiet = io.StringIO()
    Progress(quiet).update(1, 2)      # StringIO is not a tty: nothing
    assert quiet.getvalue() == ""
