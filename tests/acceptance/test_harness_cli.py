"""The harness commands as a user runs them: certify, decode, replay; exit codes and reports."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from rawfix import free_port, utc_ts

from conftest import REPO

SPECS = REPO / "specs" / "certification"


def cli(*args: str, timeout: float = 120,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=str(REPO), env=env,
                          text=stdin is None,
                          input=stdin, capture_output=True, timeout=timeout)


class _Html(HTMLParser):
    VOID: ClassVar[set[str]] = {"br", "meta", "link", "img", "input", "hr", "col", "wbr", "area", "base",
                                "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("src", "href") and v and (v.startswith("http") or v.startswith("//")):
                self.external.append(v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(tag)


def test_certify_shipped_fix44_order_scenarios_pass_with_reports(gateway, tmp_path: Path) -> None:
    junit, html = tmp_path / "j.xml", tmp_path / "r.html"
    r = cli("certify", str(SPECS), "-k", "fix44_1", "-k", "fix42_1", "--target", f"127.0.0.1:{gateway.port}",
            "--junit", str(junit), "--html", str(html))
    assert r.returncode == 0, r.stdout + r.stderr
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    cases = [tc for s in suites for tc in s.iter("testcase")]
    assert len(cases) >= 10
    assert not [tc for tc in cases if tc.find("failure") is not None or tc.find("error") is not None]
    parser = _Html()
    parser.feed(html.read_text())
    assert parser.stack == [] and parser.errors == [] and parser.external == []


def test_certify_against_nothing_listening_is_an_error_exit(tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    r = cli("certify", str(SPECS / "fix44_01_logon_logout.yaml"), "--target", f"127.0.0.1:{free_port()}",
            "--junit", str(junit), timeout=60)
    assert r.returncode != 0
    root = ET.parse(junit).getroot()
    bad = [tc for tc in root.iter("testcase")
           if tc.find("error") is not None or tc.find("failure") is not None]
    assert bad


def _record_session(gateway, uid: str) -> None:
    c = gateway.connect("FIX.4.2", "CLIENT2")
    try:
        c.logon(reset=True)
        c.send("D", [(11, f"{uid}-u"), (1, "0003"), (21, "1"), (55, "NOPE"), (207, "XSX"), (54, "1"),
                     (38, "1"), (40, "2"), (44, "1.00"), (59, "0"), (60, utc_ts())])
        c.expect("8", where={11: f"{uid}-u"})
        c.send("F", [(11, f"{uid}-c"), (41, f"{uid}-never"), (55, "XS01"), (54, "1"), (38, "1"),
                     (60, utc_ts())])
        c.expect("9", where={11: f"{uid}-c"})
        c.send("5")
        c.expect("5")
    finally:
        c.close()


def test_decode_recorded_gateway_log_in_every_shape(gateway, tmp_path: Path, uid: str) -> None:
    _record_session(gateway, uid)
    log = gateway.log_dir / "FIX.4.2-PLXTRA-CLIENT2.messages.current.log"
    lines = [ln for ln in log.read_text(encoding="latin-1").splitlines() if f"{uid}-" in ln]
    assert len(lines) == 4, lines
    qf = tmp_path / "qf.log"
    qf.write_text("\n".join(lines) + "\n", encoding="latin-1")
    bodies = [ln.split(" : ", 1)[1] for ln in lines]
    shapes = {
        "pipe.log": "\n".join(b.replace("\x01", "|") for b in bodies) + "\n",
        "raw.log": "".join(bodies),
        "crlf.log": "\r\n".join(lines) + "\r\n",
    }
    for name, text in shapes.items():
        (tmp_path / name).write_text(text, encoding="latin-1")
    with gzip.open(tmp_path / "qf.log.gz", "wt", encoding="latin-1") as f:
        f.write(qf.read_text(encoding="latin-1"))
    for name in ["qf.log", "qf.log.gz", *shapes]:
        r = cli("decode", "--compact", "--strict", str(tmp_path / name), timeout=60)
        assert r.returncode == 0, (name, r.stderr)
        out = [ln for ln in r.stdout.splitlines() if ln.strip()]
        assert len(out) == 4, (name, r.stdout)
        assert "NewOrderSingle" in r.stdout and "OrderCancelReject" in r.stdout, name
    r = cli("decode", "--msg-type", "8", str(qf), timeout=60)
    assert r.returncode == 0 and "ExecutionReport" in r.stdout and "OrdRejReason" in r.stdout


def test_replay_of_deterministic_recording_passes_against_the_gateway(gateway, tmp_path: Path,
                                                                      uid: str) -> None:
    _record_session(gateway, uid)
    log = gateway.log_dir / "FIX.4.2-PLXTRA-CLIENT2.messages.current.log"
    lines = [ln for ln in log.read_text(encoding="latin-1").splitlines() if f"{uid}-" in ln]
    rec = tmp_path / "rec.log"
    rec.write_text("\n".join(lines) + "\n", encoding="latin-1")
    junit = tmp_path / "replay.xml"
    r = cli("replay", str(rec), "--target", f"127.0.0.1:{gateway.port}", "--window", "3",
            "--junit", str(junit))
    assert r.returncode == 0, r.stdout + r.stderr
    root = ET.parse(junit).getroot()
    assert [tc for tc in root.iter("testcase")]
    # Negative control: the same recording with a different OrdRejReason must fail the replay.
    altered = tmp_path / "altered.log"
    altered.write_text(rec.read_text(encoding="latin-1").replace("\x01103=1\x01", "\x01103=2\x01"),
                       encoding="latin-1")
    assert altered.read_text(encoding="latin-1") != rec.read_text(encoding="latin-1")
    r = cli("replay", str(altered), "--target", f"127.0.0.1:{gateway.port}", "--window", "3")
    assert r.returncode != 0 and "103" in r.stdout + r.stderr, r.stdout + r.stderr
