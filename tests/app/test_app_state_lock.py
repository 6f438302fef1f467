"""One gateway per state directory: a second ``plxtra-fix run`` on the same state exits at once,
non-zero, naming the directory and the PID holding it, and changes nothing; the lock goes with
the process (clean stop or ``kill -9``). Gateways here are real processes on real files."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from gateway.app.state_lock import LOCK_NAME, StateLock, StateLocked, holder_pid
from gateway.app.testing import GatewayProcess, spawn_gateway_process, write_test_config
from gateway.fix.testing import FixTestClient, free_port

ORDER = [(1, "0001"), (55, "XS03"), (207, "XSX"), (54, "1"), (38, "5"), (40, "2"), (44, "1.00"), (59, "0"),
         (60, "<now>")]
SECOND_EXIT_WITHIN = 20.0   # seconds; generous for a loaded 2-core CI machine (measured ~1-2 s)


def _quiet_config(directory: Path, port: int, **gateway: object) -> Path:
    """A config on the embedded simulator with its market generator off: an idle gateway then
    writes nothing, so any byte that changes was changed by the second instance."""
    directory.mkdir(parents=True, exist_ok=True)
    sim_yaml = directory / "sim.yaml"
    sim_yaml.write_text("seed: 3\nmarket:\n  activity: off\n", encoding="utf-8")
    return write_test_config(directory, "embedded", port, gateway=gateway or None,
                             zenith={"sim_config": str(sim_yaml)})


def _settled_snapshot(*directories: Path, within: float = 10.0) -> dict[str, str]:
    """:func:`_snapshot` once the first gateway has finished writing on its own (its store is
    brought up to date off the order path, a moment after the answers): two equal snapshots
    half a second apart, within ``within`` seconds."""
    deadline = time.monotonic() + within
    last = _snapshot(*directories)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _snapshot(*directories)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the first gateway kept writing its state for {within} s")


def _snapshot(*directories: Path) -> dict[str, str]:
    """Digest of every file under ``directories`` except the test's own process logs."""
    found: dict[str, str] = {}
    for directory in directories:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.name.startswith("gateway-process-"):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _run_second(config: Path) -> tuple[int, float, str]:
    """Start another gateway on ``config``; (exit code, seconds it took, its output)."""
    began = time.monotonic()
    second = GatewayProcess(config)
    code = second.wait(SECOND_EXIT_WITHIN)
    return code, time.monotonic() - began, second.output()


def _trade_once(port: int, tmp_path: Path, cl_ord_id: str) -> None:
    """One accepted order, so the store, the journal and QuickFIX's seqnums have content."""
    with FixTestClient(port=port, tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=15)
        c.send("D", [(11, cl_ord_id), *ORDER])
        c.expect("8", timeout=10, where={11: cl_ord_id, 150: "0"})


def test_second_gateway_on_the_same_config_exits_at_once_and_changes_nothing(tmp_path: Path) -> None:
    port = free_port()
    cfg = _quiet_config(tmp_path, port)
    with spawn_gateway_process(cfg, timeout=60) as first:
        _trade_once(port, tmp_path / "client", "lock1")
        journal = tmp_path / "gateway.sqlite.inbound"
        seqnums = tmp_path / "fixstore" / "FIX.4.4-PLXTRA-CLIENT1.seqnums"
        assert journal.stat().st_size > 0 and seqnums.is_file()
        assert (tmp_path / "embedded-sim.sqlite").is_file()
        before = _settled_snapshot(tmp_path)   # store, journal, sim state, QuickFIX store and logs, lock file
        assert str(tmp_path / "gateway.sqlite") in before and str(journal) in before

        code, took, output = _run_second(cfg)

        assert code != 0, output
        assert took < SECOND_EXIT_WITHIN
        assert f"state directory {tmp_path.resolve()}" in output or str(tmp_path.resolve()) in output, output
        assert f"PID {first.pid}" in output, output
        assert "replaying" not in output and "Traceback" not in output, output
        assert _snapshot(tmp_path) == before
        assert first.proc.poll() is None   # the first one runs on, untouched
        _trade_once(port, tmp_path / "client2", "lock2")
        assert first.terminate(timeout=20) == 0, first.output()


def test_another_config_whose_paths_resolve_to_the_same_directory_is_refused(tmp_path: Path,
                                                                             ) -> None:
    state = tmp_path / "state"
    port = free_port()
    cfg_a = _quiet_config(state, port)
    # Config B lives elsewhere, with its own logs and QuickFIX store, and reaches A's store
    # directory only through a symlink: the lock compares resolved directories.
    (tmp_path / "alias").symlink_to(state, target_is_directory=True)
    cfg_b = _quiet_config(tmp_path / "b", free_port(), store_path=str(tmp_path / "alias" / "gateway.sqlite"))
    with spawn_gateway_process(cfg_a, timeout=60) as first:
        _trade_once(port, tmp_path / "client", "alias1")
        before = _settled_snapshot(state)

        code, took, output = _run_second(cfg_b)

        assert code != 0 and took < SECOND_EXIT_WITHIN, output
        assert str(state.resolve()) in output and f"PID {first.pid}" in output, output
        assert _snapshot(state) == before
        assert first.terminate(timeout=20) == 0, first.output()


@pytest.mark.parametrize("how", ["clean stop", "kill -9"])
def test_lock_goes_with_the_process(tmp_path: Path, how: str) -> None:
    port = free_port()
    cfg = write_test_config(tmp_path, "embedded", port)
    first = spawn_gateway_process(cfg, timeout=60)
    try:
        assert holder_pid(tmp_path) == first.pid
        if how == "clean stop":
            assert first.terminate(timeout=20) == 0, first.output()
            assert holder_pid(tmp_path) is None   # cleared on release
        else:
            first.kill()   # the kernel drops the flock; the stale PID stays in the file
            assert holder_pid(tmp_path) == first.pid
    finally:
        first.kill()
    with spawn_gateway_process(cfg, timeout=60) as again:
        assert holder_pid(tmp_path) == again.pid
        _trade_once(port, tmp_path / "client", f"after-{how.replace(' ', '')}")
        assert again.terminate(timeout=20) == 0, again.output()


def test_lock_is_all_or_none_and_names_the_holder(tmp_path: Path) -> None:
    """In one process too (flock is per open file): the held directory is named with its
    holder's PID, and the directories locked before the failure are released again."""
    a, b = tmp_path / "a", tmp_path / "b"
    with StateLock([b]):
        both = StateLock([a, b / "." , a])
        assert both.directories == (a.resolve(), b.resolve())
        with pytest.raises(StateLocked) as info:
            both.acquire()
        assert info.value.directory == b.resolve() and info.value.pid == os.getpid()
        assert not both.held
        with StateLock([a]) as only_a:   # a was released by the failed acquire
            assert only_a.held and holder_pid(a) == os.getpid()
    assert (b / LOCK_NAME).read_text() == ""   # released: no PID claims it
    with StateLock([a, b]) as again:
        assert again.held
