"""Start-up bench: gateway process start to first Logon answered, and idle RSS after logon.

    PYTHONPATH=. python3 bench/startup.py --runs 5                 # 3-version config, embedded sim
    PYTHONPATH=. python3 bench/startup.py --runs 5 --config default   # config/gateway.yaml (./dev.sh run)
    PYTHONPATH=. python3 bench/startup.py --runs 3 --zenith process   # simulator in its own process
    PYTHONPATH=. python3 bench/startup.py --breakdown                 # + import times, dictionary parses
    PYTHONPATH=. python3 bench/startup.py --runs 5 --compare /work/main  # A/B, runs interleaved

What runs, per run:
* a fresh state directory with either a generated config holding a FIX.4.4, a FIX.4.2 and a
  FIXT.1.1/FIX.5.0SP2 acceptor session (``--config three``), or a copy of ``config/gateway.yaml``
  with its port changed (``--config default``: the same three sessions with the shipped settings);
* ``python -m gateway run --config ...`` as a subprocess; Zenith is the embedded simulator
  (``--zenith embedded``, the default: its start is part of the measured time, as for ``./dev.sh
  run``) or a ``plxtra-fix sim`` process started once before the runs (``--zenith process``);
* a QuickFIX initiator in this process with the three sessions (ResetOnLogon=Y). It is built
  before the gateway starts and without data dictionaries, so that nothing of the bench's own
  set-up is inside the measured window; this process polls the FIX port every 2 ms and starts the
  initiator the moment the port accepts (QuickFIX connects at once on start; a refused first
  attempt would wait ReconnectInterval, a whole second).

Prints per run: time from ``Popen`` to the port listening, to the first Logon answered and to all
three answered, the CPU time (user + system, all threads) the gateway had used when all three
were answered (on a loaded machine wall times stretch, this much less), the gateway's own stage
times from its log, and VmRSS / RssAnon / VmHWM of the
gateway after ``--idle`` seconds idle, logged on. Then best and median over the runs.
Bytecode: this machine may set PYTHONDONTWRITEBYTECODE, which makes every start compile every
module from source (a deployed gateway has its ``.pyc`` files from the install). By default the
gateway runs with ``PYTHONPYCACHEPREFIX`` pointing at a private temporary directory per checkout,
and a first, uncounted run per checkout fills it (it also fills the compiled-dictionary cache; its
figures are printed as "cold"). ``--no-bytecode`` measures without ``.pyc`` files instead.
``--compare ROOT`` alternates each run with one of the gateway of another checkout (e.g. the main
one, before a change), so both see the same machine load; each gets its own table.
``--breakdown`` adds one run under ``python -X importtime`` (top imports, cumulative) and times
``quickfix.DataDictionary`` on every dictionary file the config uses (the QuickFIX file as shipped
and the compiled one the gateway gives QuickFIX), with the RSS each parsed copy costs.
Figures only: no target is asserted here or in tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import quickfix as fix  # noqa: E402

from gateway.app.testing import free_port, write_test_config  # noqa: E402

SESSIONS = (("FIX.4.4", "CLIENT1", None), ("FIX.4.2", "CLIENT2", None), ("FIXT.1.1", "CLIENT3", "FIX.5.0SP2"))
# Log lines of the gateway that mark its start-up stages (gateway.app.runtime / fix.engine).
STAGES = (("sim", "embedded simulator at"), ("zenith", "connected to Zenith"),
          ("engine", "FIX engine started"), ("ready", "plxtra-fix gateway ready"))
_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})Z")


class _Initiator(fix.Application):
    """Notes when each session's Logon is answered; nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.logons: dict[str, float] = {}
        self.cond = threading.Condition()

    def onCreate(self, sessionID: fix.SessionID) -> None:
        pass

    def onLogon(self, sessionID: fix.SessionID) -> None:
        now = time.time()
        with self.cond:
            self.logons.setdefault(sessionID.getBeginString().getValue(), now)
            self.cond.notify_all()

    def onLogout(self, sessionID: fix.SessionID) -> None:
        pass

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass


def _initiator_settings(port: int, log_dir: Path) -> str:
    lines = ["[DEFAULT]", "ConnectionType=initiator", "ReconnectInterval=1", "HeartBtInt=30",
             "UseDataDictionary=N", "ResetOnLogon=Y", "NonStopSession=Y", "SocketConnectHost=127.0.0.1",
             f"SocketConnectPort={port}", f"FileLogPath={log_dir}", "LogonTimeout=10", "LogoutTimeout=2", ""]
    for begin, sender, appl in SESSIONS:
        lines += ["[SESSION]", f"BeginString={begin}", f"SenderCompID={sender}", "TargetCompID=PLXTRA"]
        if appl:
            lines.append(f"DefaultApplVerID={appl}")
        lines.append("")
    return "\n".join(lines)


def _proc_status(pid: int) -> dict[str, int]:
    """kB figures of /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    return out


def _cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return time.time()
        time.sleep(0.002)
    raise TimeoutError(f"port {port} not listening after {timeout} s")


def _write_config(kind: str, state: Path, port: int, zenith_url: str) -> Path:
    if kind == "three":
        return write_test_config(state, zenith_url=zenith_url, fix_port=port)
    # config/gateway.yaml as shipped; relative paths resolve against its directory, so the copy
    # keeps its state in <state>/var like ./dev.sh run keeps it in ./var.
    text = (ROOT / "config" / "gateway.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s*listen_port:\s*)\d+", rf"\g<1>{port}", text)
    if zenith_url != "embedded":
        text = re.sub(r"(?m)^(\s*url:\s*)embedded", rf"\g<1>{zenith_url}", text)
    path = state / "config" / "gateway.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def _stage_times(output: str, t0: float) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in output.splitlines():
        match = _TS.match(line)
        for name, marker in STAGES:
            if name in found or marker not in line:
                continue
            if match:
                stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
                found[name] = stamp.timestamp() - t0
    return found


_PYCACHE: dict[Path, str] = {}


def _gateway_env(args: argparse.Namespace, root: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if root not in _PYCACHE:
            _PYCACHE[root] = tempfile.mkdtemp(prefix="startup-bench-pyc-")
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE[root]
    return env


def one_run(args: argparse.Namespace, zenith_url: str,
            extra_python: tuple[str, ...] = (), root: Path = ROOT) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    port = free_port()
    cfg = _write_config(args.config, state, port, zenith_url)
    app = _Initiator()
    settings = fix.SessionSettings()
    settings.setFromString(_initiator_settings(port, state / "client-log"))
    store = fix.MemoryStoreFactory()
    logs = fix.FileLogFactory(settings)
    initiator = fix.SocketInitiator(app, store, settings, logs)
    env = _gateway_env(args, root)
    out_path = state / "gateway.out"
    result: dict[str, object] = {}
    with open(out_path, "wb") as out:
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, *extra_python, "-m", "gateway", "run", "--config", str(cfg)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=str(cfg.parent))
        try:
            listening = _wait_listening(port, proc, args.timeout)
            initiator.start()
            with app.cond:
                app.cond.wait_for(lambda: len(app.logons) == len(SESSIONS), timeout=args.timeout)
            cpu = _cpu_seconds(proc.pid)
            logons = dict(app.logons)
            if len(logons) != len(SESSIONS):
                raise RuntimeError(f"only {sorted(logons)} logged on within {args.timeout} s")
            time.sleep(args.idle)
            result = {"listen": listening - t0, "first": min(logons.values()) - t0,
                      "all": max(logons.values()) - t0, "cpu": cpu,
                      "per_version": {k: v - t0 for k, v in logons.items()},
                      **_proc_status(proc.pid)}
        finally:
            initiator.stop()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    output = out_path.read_text(encoding="utf-8", errors="replace")
    result["stages"] = _stage_times(output, t0)
    result["output"] = output
    del initiator, logs, store, settings
    if not args.keep:
        shutil.rmtree(state, ignore_errors=True)
    return result


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:7.0f} ms"


def report(runs: list[dict[str, object]]) -> None:
    print(f"{'run':>4} {'listen':>10} {'first':>10} {'all 3':>10} {'CPU':>10}   {'VmRSS':>8} {'RssAnon':>8} "
          f"{'VmHWM':>8}   gateway log stages (s from Popen)")
    for i, r in enumerate(runs, 1):
        stages = r["stages"]
        assert isinstance(stages, dict)
        st = " ".join(f"{k}={v:.2f}" for k, v in stages.items())
        print(f"{i:>4} {_fmt(r['listen'])} {_fmt(r['first'])} {_fmt(r['all'])} {_fmt(r['cpu'])}   "  # type: ignore[arg-type]
              f"{r['VmRSS'] / 1024:6.1f}MB {r['RssAnon'] / 1024:6.1f}MB {r['VmHWM'] / 1024:6.1f}MB   {st}")
    for key in ("listen", "first", "all", "cpu"):
        values = [float(r[key]) for r in runs]  # type: ignore[arg-type]
        print(f"  {key:>6}: best {_fmt(min(values))}  median {_fmt(statistics.median(values))}")
    rss = [int(r["VmRSS"]) / 1024 for r in runs]  # type: ignore[call-overload]
    print(f"  idle VmRSS: best {min(rss):.1f} MB  median {statistics.median(rss):.1f} MB")


def breakdown(args: argparse.Namespace, zenith_url: str) -> None:
    from gateway.config.dictionaries import locate_dictionaries, required_files
    from gateway.config.loader import load_config

    print("\n-- import time (python -X importtime, top-level imports, cumulative) --")
    run = one_run(args, zenith_url, ("-X", "importtime"))
    output = str(run["output"])
    rows: list[tuple[int, str]] = []
    for line in output.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            raw = line.split("|")
            name = raw[2][1:]   # one blank after the bar; deeper imports are indented further
            if not name.startswith(" "):
                rows.append((int(raw[1].strip()), name.strip()))
    rows.sort(reverse=True)
    first = float(run["first"])  # type: ignore[arg-type]
    print(f"  all top-level imports: {sum(c for c, _ in rows) / 1000:.0f} ms (first Logon {_fmt(first)}"
          " under -X importtime)")
    for cumulative, name in rows[: args.top]:
        print(f"  {cumulative / 1000:8.1f} ms  {name}")

    print("\n-- quickfix.DataDictionary parse of each file the config uses (this process) --")
    state = Path(tempfile.mkdtemp(prefix="startup-bench-dd-"))
    cfg = load_config(_write_config(args.config, state, free_port(), zenith_url))
    found = locate_dictionaries(cfg.gateway.data_dictionary_dir, needed=required_files(cfg))
    try:
        from gateway.vocab.dictionary import compiled_dictionary
    except ImportError:  # before the compiled dictionaries existed
        compiled_dictionary = None  # type: ignore[assignment]
    keep: list[object] = []
    for name in required_files(cfg):
        paths = [("as shipped", found.path(name))]
        if compiled_dictionary is not None:
            paths.append(("compiled", compiled_dictionary(found.path(name))))
        for label, path in paths:
            before = _proc_status(os.getpid())["VmRSS"]
            t = time.perf_counter()
            keep.append(fix.DataDictionary(str(path)))
            elapsed = time.perf_counter() - t
            grown = (_proc_status(os.getpid())["VmRSS"] - before) / 1024
            print(f"  {name:<14} {label:<11} {_fmt(elapsed)}  +{grown:5.1f} MB RSS  ({path})")
    shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--config", choices=("three", "default"), default="three",
                        help="three: generated 4.4 + 4.2 + FIXT.1.1/5.0SP2 config; "
                             "default: config/gateway.yaml")
    parser.add_argument("--zenith", choices=("embedded", "process"), default="embedded",
                        help="embedded simulator in the gateway (default) or a separate "
                             "`plxtra-fix sim` process")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds logged on before reading RSS")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--breakdown", action="store_true", help="import times and dictionary parse times")
    parser.add_argument("--top", type=int, default=15, help="imports shown by --breakdown")
    parser.add_argument("--keep", action="store_true", help="keep the state directories")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="run the gateway without .pyc files (every module compiled at each start)")
    parser.add_argument("--compare", type=Path, default=None, metavar="ROOT",
                        help="also run the gateway of another checkout, alternating with this one")
    args = parser.parse_args()

    sim: subprocess.Popen[bytes] | None = None
    zenith_url = "embedded"
    if args.zenith == "process":
        sim_port = free_port()
        sim_state = Path(tempfile.mkdtemp(prefix="startup-bench-sim-"))
        sim = subprocess.Popen([sys.executable, "-m", "gateway", "sim", "--host", "127.0.0.1", "--port",
                                str(sim_port), "--state", str(sim_state / "sim.sqlite"), "--activity", "off"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(ROOT),
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", sim_port)) == 0:
                    break
            if time.monotonic() > deadline or sim.poll() is not None:
                raise SystemExit("simulator process did not start")
            time.sleep(0.05)
        zenith_url = f"ws://127.0.0.1:{sim_port}/Zenith"
    try:
        print(f"config: {args.config}   zenith: {args.zenith}   runs: {args.runs}   python: {sys.executable}")
        runs: list[dict[str, object]] = []
        other: list[dict[str, object]] = []
        roots = [ROOT] if args.compare is None else [args.compare.resolve(), ROOT]
        for root in roots:   # fills the .pyc and compiled-dictionary caches
            cold = one_run(args, zenith_url, root=root)
            print(f"cold start ({root}): first Logon {_fmt(float(cold['first']))}, "  # type: ignore[arg-type]
                  f"idle VmRSS {int(cold['VmRSS']) / 1024:.1f} MB")  # type: ignore[call-overload]
        for _ in range(args.runs):
            if args.compare is not None:
                other.append(one_run(args, zenith_url, root=args.compare.resolve()))
            runs.append(one_run(args, zenith_url))
        if other:
            print(f"\n{args.compare.resolve()}:")
            report(other)
            print(f"\n{ROOT}:")
        report(runs)
        if args.breakdown:
            breakdown(args, zenith_url)
    finally:
        if sim is not None:
            sim.terminate()
            sim.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
