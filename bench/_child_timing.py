"""Timing helpers shared by the log benches (bench/replay.py, bench/log_analysis.py).

Each measurement runs in a child process of its own, so that timings and peak RSS do not mix; on a
shared machine the wall clock also counts other people's work, so results are rated on CPU time and
the best (least CPU) of several runs counts, as timeit takes the minimum.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child_result(count: int, start: float, cpu: float) -> dict[str, object]:
    """What a child prints: messages handled, wall and CPU seconds since ``start``/``cpu``, peak RSS."""
    return {
        "messages": count,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "rss_kib": peak_rss_kib(),
    }


def best_child_run(script: str, args: tuple[str, ...], repeat: int) -> dict[str, object]:
    """The least-CPU result of ``repeat`` runs of ``script --child ARGS`` (its stdout is one JSON)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    best: dict[str, object] | None = None
    for _ in range(max(1, repeat)):
        done = subprocess.run(
            [sys.executable, script, "--child", *args], capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"child {args} failed:\n{done.stderr}")
        measured = json.loads(done.stdout)
        if best is None or measured["cpu_seconds"] < best["cpu_seconds"]:
            best = measured
    assert best is not None
    return best


def time_gateway_command(*args: str, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall, CPU) seconds of a real ``plxtra-fix ARGS`` process writing its output to /dev/null."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            stdout=devnull,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok_codes:
        raise SystemExit(f"{args} failed: {done.stderr.decode(errors='replace')}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def copy_lines(src: Path, dst: Path, lines: int) -> None:
    """The first ``lines`` lines of ``src`` into ``dst`` (a smaller log of the same shape)."""
    with open(src, "rb") as f, open(dst, "wb") as out:
        for n, line in enumerate(f):
            if n >= lines:
                break
            out.write(line)
