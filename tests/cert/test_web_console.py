"""The web console in a real browser: headless Chromium from Debian (``chromium`` +
``chromium-driver``) driven by Selenium. A conforming partner's ``session`` run turns every step
green live (server-sent events, no reload) and the signed record downloads; a broken partner's
failed step opens with its reason and decoded messages."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qf_partner import QuickFixPartner
from raw_partners import IgnoresTestRequest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from gateway.cert.httpview import StatusServer
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import load_suite

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
KEY = b"console-key"
SCREENSHOT = Path(__file__).resolve().parents[2] / "specs" / "partner-certification" / "console.png"
FORM_SCREENSHOT = SCREENSHOT.with_name("console-questionnaire.png")


class CertThread:
    """A certification run with its web console on an event loop in a thread (Selenium is sync)."""

    def __init__(self, options: CertOptions, partner: Callable[[int], Any] | None = None, *,
                 suite: str = "session", await_questionnaire: bool = False) -> None:
        self.options = options
        self.partner = partner
        self.suite = suite
        self.await_questionnaire = await_questionnaire
        self.run: CertRun | None = None
        self.view_port = 0
        self.cert_port = 0
        self.ready = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            run = self.run = CertRun([load_suite(self.suite)], self.options,
                                     await_questionnaire=self.await_questionnaire)
            await run.start()
            view = StatusServer(run, key=KEY)
            await view.start()
            self.cert_port, self.view_port = run.port, view.port
            self.ready.set()
            task = asyncio.create_task(self.partner(run.port)) if self.partner else None
            try:
                await run.run()
            finally:
                await run.stop()
                for _ in range(600):       # the page stays up until the test has read it
                    if self.release.is_set():
                        break
                    await asyncio.sleep(0.1)
                await view.stop()
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> CertThread:
        self._thread.start()
        assert self.ready.wait(20), "certification did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._thread.join(30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are required (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    try:
        yield driver
    finally:
        driver.quit()


def _statuses(driver: Any) -> dict[str, str]:
    return {li.get_attribute("id")[5:]: li.get_attribute("data-status")
            for li in driver.find_elements(By.CSS_SELECTOR, "ol#steps li")}


def test_console_shows_steps_turning_green_and_downloads_record(browser: Any, tmp_path: Path) -> None:
    options = CertOptions("FIX.4.4", "WEBQF", "PLXTRA", port=0, timeout=10, connect_timeout=20,
                          run_timeout=90, log_path=tmp_path / "web.log")
    with CertThread(options) as cert:
        browser.get(f"http://127.0.0.1:{cert.view_port}/")
        WebDriverWait(browser, 10).until(lambda d: len(_statuses(d)) == 12)
        before = _statuses(browser)
        assert before.pop("session/logon") == "running"     # waiting for the partner's Logon
        assert set(before.values()) == {"waiting"}
        seen_running = set()
        with QuickFixPartner("FIX.4.4", "WEBQF", "PLXTRA", cert.cert_port, tmp_path):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                statuses = _statuses(browser)
                seen_running |= {k for k, v in statuses.items() if v == "running"}
                if all(v == "passed" for v in statuses.values()):
                    break
                time.sleep(0.2)
        not_passed = {k: v for k, v in _statuses(browser).items() if v != "passed"}
        assert not not_passed, (not_passed, browser.find_element(By.ID, "steps").text[-2000:])
        assert seen_running, "no step was ever shown running: updates are not live"
        WebDriverWait(browser, 10).until(lambda d: "PASSED" in d.find_element(By.ID, "verdict").text)
        browser.save_screenshot(str(tmp_path / "console.png"))
        if os.environ.get("PLXTRA_CONSOLE_SCREENSHOT"):
            shutil.copy(tmp_path / "console.png", SCREENSHOT)
        browser.find_element(By.ID, "download").click()
        target = tmp_path / "certification-record.json"
        for _ in range(100):
            if target.exists() and target.stat().st_size > 0:
                break
            time.sleep(0.1)
        record = json.loads(target.read_text())
    assert record["verdict"] == "passed" and len(record["steps"]) == 12
    assert record["signature"]["algorithm"] == "HMAC-SHA256"


def test_console_opens_failed_step_with_reason(browser: Any, tmp_path: Path) -> None:
    async def broken(port: int) -> None:
        await IgnoresTestRequest(port, "FIX.4.4", "WEBBRK").run(duration=40)

    options = CertOptions("FIX.4.4", "WEBBRK", "PLXTRA", port=0, timeout=3, connect_timeout=20,
                          run_timeout=60, max_failures=1)
    with CertThread(options, broken) as cert:
        browser.get(f"http://127.0.0.1:{cert.view_port}/")
        WebDriverWait(browser, 40).until(lambda d: _statuses(d).get("session/test-request") == "failed")
        item = browser.find_element(By.ID, "step-session/test-request")
        assert "no 0 Heartbeat" in item.find_element(By.CLASS_NAME, "reason").text
        item.click()
        WebDriverWait(browser, 10).until(lambda d: "TestRequest" in d.find_element(By.ID, "details").text)
        details = browser.find_element(By.ID, "details").text
        assert "TestReqID" in details and "no 0 Heartbeat" in details
        WebDriverWait(browser, 20).until(lambda d: "FAILED" in d.find_element(By.ID, "verdict").text)


def test_console_questionnaire_form_selects_steps_and_is_recorded(browser: Any, tmp_path: Path) -> None:
    # No partner connects: the form, the selection and the record are what is checked here; the
    # selected steps then fail fast ("did not log on") so the record can be downloaded.
    options = CertOptions("FIX.4.4", "WEBQ", "PLXTRA", port=0, timeout=3, prompt_timeout=60,
                          connect_timeout=2, run_timeout=60, log_path=tmp_path / "q.log")
    with CertThread(options, suite="orders", await_questionnaire=True) as cert:
        browser.get(f"http://127.0.0.1:{cert.view_port}/")
        WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "qform").is_displayed())
        assert set(_statuses(browser).values()) == {"waiting"} and len(_statuses(browser)) == 7
        time.sleep(0.5)
        assert set(_statuses(browser).values()) == {"waiting"}, "the run started before the answers"
        assert browser.find_element(By.ID, "q-fix_version-FIX.4.4").is_selected()
        browser.find_element(By.ID, "q-engine-name").send_keys("AcmeFIX")
        browser.find_element(By.ID, "q-engine-version").send_keys("2.1")
        for box in ("q-order_types-limit", "q-time_in_force-day", "q-cancel", "q-market_data-snapshot"):
            browser.find_element(By.ID, box).click()
        if os.environ.get("PLXTRA_CONSOLE_SCREENSHOT"):
            browser.save_screenshot(str(FORM_SCREENSHOT))
        browser.find_element(By.ID, "qform-submit").click()
        WebDriverWait(browser, 10).until(lambda d: not d.find_element(By.ID, "qform").is_displayed())
        WebDriverWait(browser, 10).until(
            lambda d: _statuses(d).get("orders/market-filled") == "skipped")
        statuses = _statuses(browser)
        assert {k for k, v in statuses.items() if v == "skipped"} == {
            "orders/market-filled", "orders/replace-chain", "orders/order-status"}
        assert "order_types" in browser.find_element(By.ID, "questionnaire").text
        WebDriverWait(browser, 30).until(lambda d: "FAILED" in d.find_element(By.ID, "verdict").text)
        browser.find_element(By.ID, "download").click()
        target = tmp_path / "certification-record.json"
        for _ in range(100):
            if target.exists() and target.stat().st_size > 0:
                break
            time.sleep(0.1)
        record = json.loads(target.read_text())
    assert record["questionnaire"] == {
        "fix_version": "FIX.4.4", "order_types": ["limit"], "time_in_force": ["day"],
        "market_data": ["snapshot"], "amend": False, "cancel": True, "order_status": False,
        "engine": {"name": "AcmeFIX", "version": "2.1"}}
    assert record["partner"]["engine"] == {"name": "AcmeFIX", "version": "2.1"}
    recorded = {s["id"]: s["status"] for s in record["steps"]}
    assert recorded["market-filled"] == "skipped" and recorded["limit-filled"] == "failed"
