"""The HTML report in a real browser: Debian's headless Chromium takes a screenshot and dumps the DOM."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from analysis_logs import orders_log, session_log

from gateway.cli import main

CHROMIUM = "/usr/bin/chromium"  # .ci/run installs Debian's chromium before the tests


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or CHROMIUM
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture()
def report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    html = tmp_path / "report.html"
    logs = [orders_log(tmp_path / "orders.log"), session_log(tmp_path / "session.log")]
    assert main(["orders", *map(str, logs), "--html", str(html)]) == 0
    capsys.readouterr()
    return html


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert text.count("<svg") == 5  # one session timeline, four latency histograms
    assert text.count("<details>") == 7  # six order stories and the session events


def test_chromium_renders_the_report(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,1800", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1800) and len(data) > 50_000  # a page with charts, not a blank one
    dom = chromium("--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert "<b>6</b> orders" in page and "<b>2</b> sequence gaps" in page
    assert "<td>ord-1 &gt; ord-2 &gt; ord-3</td><td>O1</td><td>XS01</td><td>Buy</td>" in page
    assert '<td class="num">10.07</td>' in page
    assert "fill 50@9.90 after terminal OrdStatus 4" in page
    assert "OrdRejReason=3: Order exceeds limit" in page
    assert "TestRequest T1 not answered" in page
    assert "<summary>9 messages</summary>" in page  # ord-1's story, expandable
    assert page.count('class="mark gap"') == 2 and page.count('class="mark logon"') == 4
