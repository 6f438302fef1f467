"""Zoned session schedules are evaluated by QuickFIX in local time (UseLocalTime), so a
daylight-saving change applies without a restart."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.app.testing import demo_session, run_gateway_in_thread, write_test_config
from gateway.config.loader import load_config
from gateway.config.quickfix_settings import render_quickfix_settings  # one text, all roles
from gateway.fix.schedule_zone import localize
from gateway.fix.testing import FixTestClient, free_port

pytestmark = pytest.mark.timeout(120)
ZONE = "America/New_York"


@pytest.fixture()
def restore_tz():   # type: ignore[no-untyped-def]
    before = os.environ.get("TZ")
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def _window_around_now() -> dict[str, str]:
    # Open now in New York; read as UTC (4-5 hours off) the same clock times would be closed.
    now = datetime.now(ZoneInfo(ZONE))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return {"start_time": f"{start:%H:%M:%S}", "end_time": f"{end:%H:%M:%S}", "time_zone": ZONE}


def test_zoned_schedule_is_local_time_and_a_partner_logs_on_inside_it(  # type: ignore[no-untyped-def]
        tmp_path: Path, restore_tz) -> None:
    fix_port = free_port()
    window = _window_around_now()
    session = demo_session("client1", "FIX.4.4", "CLIENT1", ["0001"], schedule=window)
    cfg_path = write_test_config(tmp_path, "embedded", fix_port, sessions=[session])
    cfg = load_config(cfg_path)
    text, zone = localize(cfg, render_quickfix_settings(cfg))
    assert zone == ZONE
    assert "UseLocalTime=Y" in text
    assert f"StartTime={window['start_time']}" in text and f"EndTime={window['end_time']}" in text
    with run_gateway_in_thread(cfg_path), FixTestClient(port=fix_port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=15)
    assert os.environ["TZ"] == ZONE


def test_utc_and_always_on_schedules_are_left_alone(tmp_path: Path) -> None:
    session = demo_session("client1", "FIX.4.4", "CLIENT1", ["0001"])
    cfg = load_config(write_test_config(tmp_path, "embedded", 9878, sessions=[session]))
    text = render_quickfix_settings(cfg)
    assert localize(cfg, text) == (text, None)
