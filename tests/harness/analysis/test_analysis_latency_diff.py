"""``latency`` per message pair and ``diff`` of two recordings aligned by order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from analysis_logs import NEW_LATENCIES_MS, orders_log, session_log

from gateway.cli import main
from gateway.harness.analysis.fastpath import Quantiles
from gateway.harness.analysis.inputs import Inputs
from gateway.harness.analysis.latency import LatencyMonitor


def test_latency_pairs_from_the_log_timestamps(tmp_path: Path) -> None:
    monitor = LatencyMonitor()
    for record in Inputs([str(orders_log(tmp_path / "o.log")), str(session_log(tmp_path / "s.log"))]):
        monitor.feed(record)
    monitor.finish()
    new = monitor.pairs["D->8 New/Reject"]
    assert new.latencies.count == len(NEW_LATENCIES_MS) and new.unanswered == 0
    assert new.latencies.quantile(0.5) == pytest.approx(0.003, abs=1e-6)
    assert new.latencies.max == pytest.approx(0.005, abs=1e-6)
    assert sorted(s[1] for s in new.slowest)[:2] == ["ord-1", "ord-4"]
    assert monitor.pairs["G->8 Replaced/9"].latencies.count == 2
    assert monitor.pairs["G->8 Replaced/9"].latencies.max == pytest.approx(0.020, abs=1e-6)
    assert monitor.pairs["F->8 Canceled/9"].latencies.max == pytest.approx(0.007, abs=1e-6)
    test = monitor.pairs["1->0 TestRequest"]
    assert test.latencies.count == 1 and test.unanswered == 1


def test_latency_cli_text_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = orders_log(tmp_path / "o.log")
    assert main(["latency", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == [
        "D->8",
        "New/Reject",
        "5",
        "0",
        "3.0",
        "ms",
        "5.0",
        "ms",
        "5.0",
        "ms",
        "5.0",
        "ms",
    ]
    assert "D->8 New/Reject: histogram (log scale)" in out
    assert main(["latency", "--json", str(log)]) == 0
    pairs = {p["pair"]: p for p in json.loads(capsys.readouterr().out)}
    assert sum(b["count"] for b in pairs["D->8 New/Reject"]["histogram"]) == 5


def test_quantiles_stay_within_two_percent_past_the_exact_window() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-6, 1.2) for _ in range(50_000)]
    q = Quantiles()
    q.extend(values)
    assert q.exact is None and len(q.buckets) < 1000  # constant memory, not 50,000 floats
    ordered = sorted(values)
    for share in (0.5, 0.9, 0.99):
        true = ordered[int(share * len(values)) - 1]
        assert q.quantile(share) == pytest.approx(true, rel=0.021)
    assert q.max == max(values) and q.count == len(values)


@pytest.fixture()
def recordings(tmp_path: Path) -> tuple[Path, Path]:
    return orders_log(tmp_path / "a.log"), orders_log(tmp_path / "b.log", variant="b")


def test_diff_aligns_orders_by_chain_and_terms(
    capsys: pytest.CaptureFixture[str], recordings: tuple[Path, Path]
) -> None:
    a, b = recordings
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "5 order(s) paired, 2 differ; 1 only in A, 0 only in B; 0 session difference(s)" in out
    lines = [line.strip() for line in out.splitlines()]
    assert "order only in A: ord-8 (XS01 FIX.4.4:CLIENT1->PLXTRA)" in lines
    assert (
        "order ord-1 (XS01 FIX.4.4:CLIENT1->PLXTRA) ~ R-1: ExecutionReport #6 LastPx(31): A 10.10 vs B 10.11"
        in lines
    )
    assert (
        "order ord-7 (XS01 FIX.4.4:CLIENT1->PLXTRA) ~ R-7: ExecutionReport #1 Text(58): "
        "A Order exceeds limit vs B Limit exceeded"
    ) in lines
    # other IDs (OrderID, ExecID, OrigClOrdID) differ everywhere but consistently: learned, not reported
    assert not any("OrderID" in line or "ExecID" in line or "OrigClOrdID" in line for line in lines)


def test_diff_rules_yaml_and_identical_recordings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, recordings: tuple[Path, Path]
) -> None:
    a, b = recordings
    rules = tmp_path / "rules.yaml"
    rules.write_text("ignore_tags: [31, 58]\n")
    assert main(["diff", "--json", "--rules", str(rules), str(a), str(b)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert not any("LastPx(31)" in d or "Text(58)" in d for d in data["differences"])
    assert any("average price: A 10.07 vs B 10.076" in d for d in data["differences"])
    assert data["only_a"] == ["ord-8"] and data["paired"] == 5
    assert main(["diff", str(a), str(a)]) == 0
    assert "no differences" in capsys.readouterr().out
    rules.write_text("ignore_tagz: [1]\n")
    assert main(["diff", "--rules", str(rules), str(a), str(b)]) == 2


def test_diff_reports_session_event_differences(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = session_log(tmp_path / "a.log")
    b = tmp_path / "b.log"
    b.write_bytes(a.read_bytes().replace(b"TestRequest T1 not answered", b"bye"))
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert (
        "session FIX.4.4:CLIENT1->PLXTRA: CLIENT1 logout reasons: A ['TestRequest T1 not answered'] "
        "vs B ['bye']"
    ) in out
