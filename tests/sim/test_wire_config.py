"""Pure helpers: wire encoding (spec §1.4, §3.1-§3.3) and the sim YAML loader."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from gateway.sim.config import load_sim_config
from gateway.sim.errors import SimConfigError
from gateway.sim.wire import (
    DataError,
    RawJSON,
    container,
    encode,
    fmt_datetime,
    fmt_timespan,
    parse_datetime,
    parse_timespan,
)


def test_decimal_text_is_minimal():
    assert encode({"a": D("100.000"), "b": D("9.950"), "c": D("0.001"), "d": [D("12345.67")]}) == (
        '{"a":100,"b":9.95,"c":0.001,"d":[12345.67]}'
    )


def test_container_rules():
    assert container("Market", "QueryMarkets", [1], tid=3) == (
        '{"Controller":"Market","Topic":"QueryMarkets","TransactionID":3,"Data":[1]}'
    )
    assert (
        container("Trading", "Configure", tid=7)
        == '{"Controller":"Trading","Topic":"Configure","TransactionID":7}'
    )
    assert container("Market", "X", action="Sub", confirm=True) == (
        '{"Controller":"Market","Topic":"X","Action":"Sub","Confirm":true}'
    )
    raw = container("Trading", "PlaceOrder", RawJSON('{"Result":"Success"}'), tid=2)
    assert json.loads(raw) == {
        "Controller": "Trading",
        "Topic": "PlaceOrder",
        "TransactionID": 2,
        "Data": {"Result": "Success"},
    }


def test_times():
    tz = timezone(timedelta(hours=10))
    assert fmt_datetime(datetime(2025, 6, 3, 10, 15, 30, 123000, tz)) == "2025-06-03T10:15:30.123+10:00"
    assert fmt_datetime(datetime(2025, 6, 3, 10, 15, 30, tzinfo=tz)) == "2025-06-03T10:15:30+10:00"
    assert fmt_timespan(3599.999) == "00:59:59.9990000"
    assert fmt_timespan(86400 + 3600) == "1.01:00:00"
    assert parse_timespan("1.12:20:5") == 86400 + 12 * 3600 + 20 * 60 + 5
    assert parse_timespan("00:00:35") == 35
    for text in (
        "20120630T100230Z",
        "2012-06-30T10:02:30+00:00",
        "2012-06-30T20:02:30+1000",
        "2012-06-30T10:02:30",
    ):
        assert parse_datetime(text) == datetime(2012, 6, 30, 10, 2, 30, tzinfo=UTC)
    assert parse_datetime("2025-06-30").date().isoformat() == "2025-06-30"
    with pytest.raises(DataError):
        parse_datetime("tomorrow")


def test_yaml_loader(tmp_path):
    assert load_sim_config(Path(__file__).resolve().parents[2] / "config" / "sim.yaml") == load_sim_config(
        None
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("market:\n  symbols:\n    - {code: XS01, name: A, tick_table: NOPE}\n")
    with pytest.raises(SimConfigError) as info:
        load_sim_config(bad)
    assert "market.symbols[0].tick_table" in str(info.value) and str(bad) in str(info.value)
    bad.write_text("server:\n  idle_timeout: soon\n")
    with pytest.raises(SimConfigError, match=r"server\.idle_timeout"):
        load_sim_config(bad)
    small = tmp_path / "small.yaml"
    small.write_text("market:\n  activity: off\naccounts:\n  - {id: 'A:1', cash: 5, holdings: {XS01: 7}}\n")
    cfg = load_sim_config(small)
    assert cfg.activity is False and cfg.accounts[0].cash == 5 and cfg.accounts[0].holdings == {"XS01": D(7)}
    assert cfg.auth.users[0].accounts == ("A:1",)
    with pytest.raises(SimConfigError):
        cfg.with_overrides(no_such_setting=1)
    assert cfg.with_overrides(idle_timeout=0).server.idle_timeout == 0
