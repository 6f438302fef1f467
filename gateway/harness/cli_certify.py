"""``plxtra-fix certify SPECS... --target HOST:PORT``: run certification scenarios and report.

SPECS are scenario YAML files, folders of them, or QuickFIX acceptance-test ``.def`` scripts.
Exit code 0 only when every case passed; 2 when the specs are invalid or nothing was selected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.harness.errors import HarnessError
from gateway.harness.report import Progress, render_terminal, write_reports
from gateway.harness.results import CaseResult, SuiteResult

__all__ = ["configure", "parse_hostport", "run", "select"]


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not (0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC",
                        help="scenario YAML files or folders, or QuickFIX .def scripts")
    parser.add_argument("--target", required=True, type=parse_hostport, metavar="HOST:PORT",
                        help="the FIX acceptor to certify")
    parser.add_argument("--sender", help="override every scenario's and .def script's SenderCompID")
    parser.add_argument("--target-comp", help="override every scenario's and .def script's TargetCompID")
    parser.add_argument("-k", dest="keyword", action="append", default=[], metavar="EXPR",
                        help="run scenarios whose name, file or tag contains EXPR "
                             "(case-insensitive; 'not EXPR' excludes; repeat to OR)")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--def-timeout", type=float, default=10.0, metavar="SECONDS",
                        help=".def scripts: how long to wait for each expected message")
    parser.add_argument("--def-subset", action="store_true",
                        help=".def scripts: only compare the fields the expected line names "
                             "(default: QuickFIX's rule, same fields in the same order)")
    parser.add_argument("--accept-any-app-answer", action="store_true",
                        help=".def scripts against an engine that is not an echo server: where an "
                             "application message is expected, any well-formed application message "
                             "with the expected MsgSeqNum and CompIDs passes; session-level lines are "
                             "still compared exactly")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each case's step log")


def select(names: list[tuple[str, str, tuple[str, ...]]], keywords: list[str]) -> list[int]:
    """Indexes of (name, file, tags) entries chosen by ``-k`` expressions."""
    if not keywords:
        return list(range(len(names)))
    positive = [k.lower() for k in keywords if not k.lower().startswith("not ")]
    negative = [k[4:].strip().lower() for k in keywords if k.lower().startswith("not ")]
    chosen = []
    for i, (name, file, tags) in enumerate(names):
        hay = " ".join([name, file, *tags]).lower()
        if any(n in hay for n in negative):
            continue
        if positive and not any(p in hay for p in positive):
            continue
        chosen.append(i)
    return chosen


def run(args: argparse.Namespace) -> int:
    from gateway.harness.defrunner import DefOptions, load_defs, run_defs
    from gateway.harness.runner import CertifyOptions, run_scenarios
    from gateway.harness.scenario import load_scenarios

    host, port = args.target
    yaml_paths = [p for p in args.specs if not p.endswith(".def")]
    def_paths: list[Path] = []
    for p in args.specs:
        path = Path(p)
        if p.endswith(".def"):
            def_paths.append(path)
        elif path.is_dir():
            def_paths.extend(sorted(path.glob("*.def")))
    try:
        scenarios = load_scenarios(yaml_paths) if yaml_paths else []
        scripts, broken = load_defs(def_paths)   # a script that cannot run is its own error
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keep = select([(s.name, s.file, s.tags) for s in scenarios], args.keyword)
    scenarios = [scenarios[i] for i in keep]
    keep = select([(s.name, str(s.file), ()) for s in scripts], args.keyword)
    scripts = [scripts[i] for i in keep]
    keep = select([(c.name, c.file or "", ()) for c in broken], args.keyword)
    broken = [broken[i] for i in keep]
    total = len(scenarios) + len(scripts) + len(broken)
    if not total:
        print("error: no scenario selected", file=sys.stderr)
        return 2

    progress = Progress()
    suites: list[SuiteResult] = []
    done = 0

    def tick(case: CaseResult) -> None:
        nonlocal done
        done += 1
        progress.update(done, total, case.name)

    if scenarios:
        options = CertifyOptions(host, port, sender=args.sender, target_comp=args.target_comp,
                                 connect_timeout=args.connect_timeout)
        suites.append(run_scenarios(scenarios, options, on_case=tick))
    if scripts or broken:
        def_options = DefOptions(host, port, timeout=args.def_timeout, subset=args.def_subset,
                                 connect_timeout=args.connect_timeout, sender=args.sender,
                                 target_comp=args.target_comp,
                                 accept_any_app_answer=args.accept_any_app_answer)
        suites.append(run_defs(scripts, def_options, on_case=tick, broken=broken))
    progress.close()
    for suite in suites:
        print(render_terminal(suite, verbose=args.verbose))
    write_reports(suites, junit=args.junit, html_path=args.html, title="plxtra-fix certify")
    return 0 if all(s.passed for s in suites) else 1
