"""Per-call stamps (PLXTRA_STAMPS, bench only): wrapped functions stamp entry and exit, the dump
reads back, and bench/order_roundtrip.py splits a D -> New time line into its legs and owners."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from gateway.ops.metrics_stages import Stamps

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import order_roundtrip


class _Thing:
    def outer(self, x: int) -> int:
        return self.inner(x) + 1

    def inner(self, x: int) -> int:
        if x < 0:
            raise ValueError(x)
        return x * 2


def test_wrapped_methods_stamp_entry_and_exit_nested_and_on_raise(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("stamps_probe")
    monkeypatch.setitem(sys.modules, "stamps_probe", module)
    thing_cls = type("Thing", (_Thing,), {})
    module.Thing = thing_cls   # type: ignore[attr-defined]
    stamps = Stamps(capacity=64)
    assert stamps.wrap("stamps_probe:Thing.outer") is False   # inherited, not the class's own
    thing_cls.outer = _Thing.outer   # type: ignore[attr-defined]
    thing_cls.inner = _Thing.inner   # type: ignore[attr-defined]
    assert stamps.wrap("stamps_probe:Thing.outer") and stamps.wrap("stamps_probe:Thing.inner")
    assert not stamps.wrap("stamps_probe:Nothing.at_all") and not stamps.wrap("no_such_module_x:f")
    thing = thing_cls()
    assert thing.outer(3) == 7
    with pytest.raises(ValueError):
        thing.outer(-1)
    assert list(stamps.ids[:stamps.count]) == [0, 2, 3, 1, 0, 2, 3, 1]
    times = list(stamps.times[:stamps.count])
    assert times == sorted(times)
    path = tmp_path / "stamps.txt"
    stamps.dump(str(path))
    names, events = order_roundtrip.read_stamps(path)
    assert names == ["Thing.outer", "Thing.inner"]
    assert events == list(zip(stamps.ids[:stamps.count], times, strict=True))


def test_recording_stops_when_full() -> None:
    module = types.ModuleType("stamps_probe_full")
    sys.modules["stamps_probe_full"] = module
    try:
        module.f = lambda: 1   # type: ignore[attr-defined]
        stamps = Stamps(capacity=5)
        assert stamps.wrap("stamps_probe_full:f")
        for _ in range(10):
            assert module.f() == 1   # type: ignore[attr-defined]
        assert stamps.count == 4
    finally:
        del sys.modules["stamps_probe_full"]


def test_critical_path_splits_one_order_into_its_legs_and_owners() -> None:
    names = ["EpollSelector.select", "GatewayApplication.fromApp", "Store.flush", "ZenithConnection._write",
             "ZenithConnection.data_received", "QuickFixOutbox.send", "StageTimes.observe"]
    sel, fa, fl, zw, zr, fs, ob = (2 * i for i in range(len(names)))
    t = 1_000_000
    us = 1000
    events = [
        (sel, t), (sel + 1, t + 100 * us),                        # asleep, then the D wakes the loop
        (fa, t + 110 * us),                                       # 10 us of QuickFIX before fromApp
        (fl, t + 150 * us), (fl + 1, t + 170 * us),               # 20 us journal commit
        (zw, t + 180 * us), (zw + 1, t + 200 * us),               # PlaceOrder written
        (fa + 1, t + 205 * us),
        (ob, t + 206 * us), (ob + 1, t + 216 * us),               # after the write: the tail
        (sel, t + 220 * us), (sel + 1, t + 600 * us),
        (zr, t + 605 * us),
        (fs, t + 700 * us), (fs + 1, t + 750 * us),               # ER handed
        (zr + 1, t + 760 * us),
        (sel, t + 770 * us), (sel + 1, t + 5000 * us),
    ]
    legs = order_roundtrip.critical_path(names, events)
    (request,) = legs["request"]
    assert request["total"] == pytest.approx(100)
    assert request["<loop>"] == pytest.approx(10)
    assert request["GatewayApplication.fromApp"] == pytest.approx(40 + 10)
    assert request["Store.flush"] == pytest.approx(20)
    assert request["ZenithConnection._write"] == pytest.approx(20)
    (tail,) = legs["request_tail"]
    assert tail["StageTimes.observe"] == pytest.approx(10) and tail["total"] == pytest.approx(20)
    (answer,) = legs["answer"]
    assert answer["total"] == pytest.approx(150)
    assert answer["QuickFixOutbox.send"] == pytest.approx(50)
    assert answer["ZenithConnection.data_received"] == pytest.approx(95)
    (answer_tail,) = legs["answer_tail"]
    assert answer_tail["total"] == pytest.approx(20)
