"""``plxtra-fix sessions LOG...``: session-layer health per session and side.

Sequence gaps and how each was filled, ResendRequests and storms, GapFills, PossDup/PossResend
counts, logons and logouts with reasons, session Rejects, heartbeat intervals against HeartBtInt,
TestRequests answered or missed, MsgSeqNum too low, log time against SendingTime.
Exit code 0, or 1 with ``--strict`` when a gap stays unfilled, a TestRequest was missed or a
sequence number went back without PossDup; 2 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.harness.analysis.cli_common import (
    add_follow_arguments,
    add_input_arguments,
    open_inputs,
    problem_lines,
    report_problems,
    write_html,
)
from gateway.harness.analysis.fastpath import format_time
from gateway.harness.analysis.pipeline import analyse
from gateway.harness.analysis.render import sessions_json, sessions_text
from gateway.harness.analysis.sessions import SessionEvent, SessionHealth
from gateway.harness.analysis.vocab import Vocabulary

__all__ = ["configure", "run"]

_PROG = "plxtra-fix sessions"


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_follow_arguments(parser)
    parser.add_argument(
        "--events",
        type=int,
        default=50,
        metavar="N",
        help="session events listed per session (0: all; default 50)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on an unfilled gap, a missed TestRequest or a MsgSeqNum too low",
    )


def run(args: argparse.Namespace) -> int:
    inputs = open_inputs(_PROG, args.logs, args)
    if inputs is None:
        return 2
    vocab = Vocabulary(args.dictionary_dir)
    on_event = None
    if args.follow:

        def on_event(health: SessionHealth, event: SessionEvent) -> None:
            print(f"{format_time(event.time)}  {health.session}  {event.kind:20} {event.text}", flush=True)

    try:
        analysis = analyse(
            inputs,
            sessions=True,
            orders=bool(args.html),
            latency=bool(args.html),
            keep_events=bool(args.html),
            on_session_event=on_event,
            pause_gc=not args.follow,
        )
    except KeyboardInterrupt:
        return 130
    monitor = analysis.sessions
    assert monitor is not None
    if args.json:
        json.dump(sessions_json(monitor, vocab), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(sessions_text(monitor, vocab, max_events=args.events))
    if args.html:
        from gateway.harness.analysis.html import render_html

        title = f"plxtra-fix sessions: {', '.join(args.logs) or 'stdin'}"
        if not write_html(
            args.html, render_html(analysis, vocab, title=title, problems=problem_lines(inputs)), _PROG
        ):
            return 2
    report_problems(_PROG, inputs, sys.stderr)
    if args.strict:
        for health in monitor.sessions.values():
            for side in health.sides.values():
                if side.test_missed or side.seq_too_low or any(g.filled < g.size for g in side.gaps):
                    return 1
    return 0
