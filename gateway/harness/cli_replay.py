"""``plxtra-fix replay LOG... --target HOST:PORT``: replay one side of a recorded session and compare.

Exit code 0 only when every recorded answer came back matching (under the rules); 1 on any
difference, missing or extra message; 2 when the log or rules cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.harness.cli_certify import parse_hostport
from gateway.harness.errors import HarnessError
from gateway.harness.report import Progress, render_terminal, write_reports
from gateway.harness.results import SuiteResult, describe_engine

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="+", metavar="LOG",
                        help="FIX log file(s): QuickFIX, raw, |-delimited, .gz")
    parser.add_argument("--target", required=True, type=parse_hostport, metavar="HOST:PORT",
                        help="the engine to replay against (with --as acceptor: where to listen)")
    parser.add_argument("--as", dest="role", choices=("initiator", "acceptor"), default="initiator",
                        help="which side of the recording to play (default: initiator)")
    parser.add_argument("--session", help="pick a session when the log has several "
                                          "(e.g. CLIENT1:PLXTRA, FIX.4.4:CLIENT1->PLXTRA, or a CompID)")
    parser.add_argument("--sender", help="our SenderCompID on the wire (default: the recorded one)")
    parser.add_argument("--target-comp", "--target-comp-id", dest="target_comp",
                        help="their CompID on the wire (default: the recorded one)")
    parser.add_argument("--speed", type=float, default=0.0, metavar="N",
                        help="N x the recorded pace (default 0: as fast as the answers come)")
    parser.add_argument("--rules", metavar="FILE", help="comparison rules YAML (defaults built in)")
    parser.add_argument("--window", type=float, metavar="SECONDS",
                        help="wait this long for the answers to each message (overrides the rules)")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the replay log")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from gateway.harness.compare import load_rules
    from gateway.harness.replay import ReplayOptions, load_recording, replay

    host, port = args.target
    try:
        rules = load_rules(args.rules)
        if args.window is not None:
            rules = replace(rules, window=args.window)
        recording = load_recording(args.logs, args.session)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in recording.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.speed < 0:
        print("error: --speed must be >= 0", file=sys.stderr)
        return 2
    options = ReplayOptions(host, port, role=args.role, sender=args.sender, target=args.target_comp,
                            speed=args.speed, rules=rules)
    progress = Progress()
    case = asyncio.run(replay(recording, options, lambda done, total: progress.update(done, total, "replay")))
    progress.close()
    ours, theirs = recording.initiator, recording.acceptor
    if args.role == "acceptor":
        ours, theirs = theirs, ours
    engine = describe_engine(host, port, [recording.begin_string],
                             [(options.sender or ours, options.target or theirs)], (case,))
    suite = SuiteResult("replay", (case,), case.duration, engine)
    print(render_terminal(suite, verbose=args.verbose))
    write_reports(suite, junit=args.junit, html_path=args.html, title=f"plxtra-fix replay {recording.name}")
    return suite.exit_code
