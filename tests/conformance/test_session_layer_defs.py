"""The session-layer ``.def`` scripts of ``specs/session-layer`` pass against the gateway.

Our own scripts (QuickFIX acceptance-test format, at least 20 per version: logon, heartbeat and
TestRequest, gaps and ResendRequest, SequenceReset, PossDup, too-low MsgSeqNum, garbled messages,
session Rejects, logout) run with ``--accept-any-app-answer`` against a real ``plxtra-fix run``
subprocess. The runner is also shown to fail what it must: a broken expectation, an echo expected
without the mode, CompIDs the engine does not know, and scripts that cannot run are errors while
the others still run.
"""

from __future__ import annotations

import asyncio
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app.testing import GatewayProcess, spawn_gateway_process, write_test_config
from gateway.cli import main as cli_main
from gateway.harness.defrunner import DefOptions, load_def, load_defs, parse_def, run_def, run_defs

pytestmark = pytest.mark.timeout(240)

SPECS = Path(__file__).resolve().parents[2] / "specs" / "session-layer"
VERSIONS = ["fix42", "fix44", "fix50sp2"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    cfg = write_test_config(tmp_path_factory.mktemp("defs-gw"))
    with spawn_gateway_process(cfg, timeout=60) as gw:
        yield gw


def options(gw: GatewayProcess, **over: object) -> DefOptions:
    # QuickFIX holds a second connection for a logged-on session 5 s before dropping it (script 22):
    # a disconnect is awaited well past that, or a busy machine turns it into a failure.
    base: dict[str, object] = {"timeout": 3.0, "disconnect_timeout": 12.0, "accept_any_app_answer": True}
    base.update(over)
    return DefOptions("127.0.0.1", gw.port, **base)   # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_session_layer_script_passes(gateway: GatewayProcess, version: str) -> None:
    scripts, broken = load_defs(sorted((SPECS / version).glob("*.def")))
    assert not broken, [c.error for c in broken]
    assert len(scripts) >= 20
    suite = run_defs(scripts, options(gateway))
    failed = [f"{c.name}: {c.failures}" for c in suite.cases if not c.passed]
    assert not failed, "\n".join(failed)
    names = {c.name for c in suite.cases}
    for needed in ("gap", "sequence_reset", "possdup", "too_low", "garbled", "test_request", "logout"):
        assert any(needed in n for n in names), f"no {needed} script"


def _run(gw: GatewayProcess, text: str, **over: object):   # type: ignore[no-untyped-def]
    return asyncio.run(run_def(parse_def(text, "gen/x.def"), options(gw, **over)))


def test_a_deliberately_broken_script_fails(gateway: GatewayProcess) -> None:
    text = (SPECS / "fix44" / "02_test_request.def").read_text(encoding="latin-1")
    broken = text.replace("112=HELLO\x01\nI", "112=GOODBYE\x01\nI", 1)
    assert broken != text
    result = _run(gateway, broken)
    assert not result.passed and "112" in result.failures[0], result.failures


def test_an_echo_is_expected_without_the_mode(gateway: GatewayProcess) -> None:
    text = (SPECS / "fix44" / "20_application_message_answered.def").read_text(encoding="latin-1")
    strict = _run(gateway, text, accept_any_app_answer=False, subset=True)   # 9/10 aside: the echo
    assert not strict.passed and "(35)" in strict.failures[0], strict.failures
    relaxed = _run(gateway, text)
    assert relaxed.passed and any("accepted in place of the echo" in line for line in relaxed.log)


def test_comp_id_options_apply_to_def_scripts(gateway: GatewayProcess) -> None:
    text = (SPECS / "fix44" / "02_test_request.def").read_text(encoding="latin-1")
    foreign = text.replace("49=CLIENT1", "49=TW").replace("56=CLIENT1", "56=TW") \
        .replace("49=PLXTRA", "49=ISLD").replace("56=PLXTRA", "56=ISLD")
    assert not _run(gateway, foreign).passed
    assert _run(gateway, foreign, sender="CLIENT1", target_comp="PLXTRA").passed


def test_a_disconnect_proves_nothing_when_the_engine_refuses_the_comp_ids(gateway: GatewayProcess) -> None:
    """13_first_message_not_logon only expects a disconnect: with CompIDs the gateway does not know,
    it would pass for the wrong reason; the runner checks a plain Logon and fails it."""
    text = (SPECS / "fix44" / "13_first_message_not_logon.def").read_text(encoding="latin-1")
    foreign = text.replace("49=CLIENT1", "49=TW").replace("56=PLXTRA", "56=ISLD")
    wrong = _run(gateway, foreign)
    assert not wrong.passed and "expected messages never came" in wrong.failures[0], wrong.failures
    assert _run(gateway, text).passed


def test_unrunnable_scripts_are_errors_and_the_others_run(gateway: GatewayProcess, tmp_path: Path) -> None:
    shutil.copy(SPECS / "fix44" / "01_logon_logout.def", tmp_path / "01_good.def")
    (tmp_path / "02_econnect.def").write_text("eCONNECT\n")
    (tmp_path / "03_bad_line.def").write_text("iCONNECT\nX8=FIX.4.4\n")
    (tmp_path / "04_set_seqnum.def").write_text("iCONNECT\niSET_SEQNUM 5\n")
    junit = tmp_path / "defs.xml"
    code = cli_main(["certify", str(tmp_path), "--target", f"127.0.0.1:{gateway.port}",
                     "--accept-any-app-answer", "--junit", str(junit)])
    assert code == 1
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"01_good", "02_econnect", "03_bad_line", "04_set_seqnum"}
    assert cases["01_good"].find("failure") is None and cases["01_good"].find("error") is None
    for name in ("02_econnect", "03_bad_line", "04_set_seqnum"):
        assert cases[name].find("error") is not None, name
    assert "not runnable" in cases["04_set_seqnum"].find("error").get("message")
    assert load_def(tmp_path / "01_good.def").name == "01_good"
