"""Reports (terminal, JUnit, HTML) name the engine tested: host:port, BeginString, CompIDs, its Logon."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness_peer import VenueThread
from test_defrunner import LOGON_E, LOGON_I, LOGOUT_E, LOGOUT_I, script

from gateway.cli import main as cli_main
from gateway.harness.report import render_html, render_junit, render_terminal
from gateway.harness.results import ENGINE_LOGON, CaseResult, SuiteResult, describe_engine


def test_describe_engine_takes_the_first_logon_seen() -> None:
    cases = [CaseResult("s", "a", True, log=("sent x",)),
             CaseResult("s", "b", True, log=(ENGINE_LOGON + "8=FIX.4.4|35=A|108=30|",))]
    text = describe_engine("10.0.0.5", 9878, ["FIX.4.4", "FIX.4.4"], [("C1", "PLX"), ("C1", "PLX")], cases)
    assert text == "10.0.0.5:9878, FIX.4.4, C1->PLX; its Logon: 8=FIX.4.4|35=A|108=30|"
    assert describe_engine("h", 1, ["FIX.4.2"], [("A", "B")], cases[:1]).endswith("it answered no Logon")
    suite = SuiteResult("x", tuple(cases), 0.1, text)
    assert render_terminal(suite).splitlines()[0] == f"engine under test: {text}"
    prop = ET.fromstring(render_junit(suite).split("\n", 1)[1]).find("testsuite/properties/property")
    assert prop is not None and (prop.get("name"), prop.get("value")) == ("engine", text)
    assert "engine under test: <code>10.0.0.5:9878, FIX.4.4, C1-&gt;PLX" in render_html(suite)


def test_certify_reports_name_the_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "1a_good.def"
    good.write_bytes(script("iCONNECT", LOGON_I, LOGON_E, LOGOUT_I.replace("34=3", "34=2"),
                            LOGOUT_E.replace("34=3", "34=2"), "eDISCONNECT").encode("latin-1"))
    junit, page = tmp_path / "r.xml", tmp_path / "r.html"
    with VenueThread(reset_on_logon=True) as v:
        code = cli_main(["certify", str(good), "--target", f"127.0.0.1:{v.port}", "--junit", str(junit),
                         "--html", str(page)])
        port = v.port
    assert code == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"engine under test: 127.0.0.1:{port}, FIX.4.4, TW->VENUE; its Logon: 8=FIX.4.4|")
    assert "|35=A|" in first and "|108=30|" in first
    assert f"127.0.0.1:{port}" in junit.read_text() and f"127.0.0.1:{port}" in page.read_text()
