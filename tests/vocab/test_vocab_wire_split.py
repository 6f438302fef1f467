"""split_fields reads tag numbers through a bounded memo of int(): the same pairs as int() gives,
the same errors for what int() refuses, and no growth past its bound whatever a partner sends."""

from __future__ import annotations

import pytest

from gateway.vocab import wire
from gateway.vocab.wire import split_fields


def test_tags_are_the_numbers_int_gives_and_raw_data_is_cut_by_length() -> None:
    text = "8=FIX.4.4\x019=61\x01035=D\x0134=7\x0195=3\x0196=a\x01b\x0158=x=y\x0110=000\x01"
    assert split_fields(text) == [(8, "FIX.4.4"), (9, "61"), (35, "D"), (34, "7"), (95, "3"),
                                  (96, "a\x01b"), (58, "x=y"), (10, "000")]
    assert split_fields(text) == split_fields(text)   # the second read comes from the memo


@pytest.mark.parametrize("bad", ["8=FIX.4.4\x01abc=1\x01", "8=FIX.4.4\x0135\x01", "8=FIX.4.4\x01=1\x01"])
def test_what_is_not_a_field_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        split_fields(bad)


def test_the_memo_stops_growing_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = wire._TagNumbers()
    monkeypatch.setattr(wire, "_TAG_NUMBERS", memo)
    monkeypatch.setattr(wire, "_TAGS_KEPT", 50)
    for tag in range(10_000, 10_200):
        assert split_fields(f"35=D\x01{tag}=v\x01") == [(35, "D"), (tag, "v")]
    assert len(memo) == 50
