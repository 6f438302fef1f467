"""FIX time text and application versions from the shared vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.bridge.orders import model
from gateway.vocab.times import utc_date_only, utc_time_only, utc_timestamp, utc_timestamp_from_epoch
from gateway.vocab.version import FixVersion

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_utc_timestamp_precisions() -> None:
    assert utc_timestamp(MOMENT) == "20260102-03:04:05.678"
    assert utc_timestamp(MOMENT, 0) == "20260102-03:04:05"
    assert utc_timestamp(MOMENT, 6) == "20260102-03:04:05.678901"
    with pytest.raises(ValueError, match="precision"):
        utc_timestamp(MOMENT, 9)


def test_other_zones_are_converted_and_naive_is_utc() -> None:
    sydney = MOMENT.astimezone(timezone(timedelta(hours=11)))
    assert utc_timestamp(sydney) == "20260102-03:04:05.678"
    assert utc_timestamp(MOMENT.replace(tzinfo=None)) == "20260102-03:04:05.678"
    assert utc_date_only(sydney) == "20260102" and utc_time_only(sydney) == "03:04:05.678"
    assert utc_timestamp_from_epoch(MOMENT.timestamp(), 6) == "20260102-03:04:05.678901"


def test_fix_version_of_begin_string_and_one_enum_everywhere() -> None:
    assert [FixVersion.of_begin_string(b) for b in ("FIX.4.2", "FIX.4.4", "FIXT.1.1")] == [
        FixVersion.FIX42, FixVersion.FIX44, FixVersion.FIX50SP2]
    # The orders bridge compares versions with `is`: it must hold the vocabulary's enum itself.
    assert model.FixVersion is FixVersion
