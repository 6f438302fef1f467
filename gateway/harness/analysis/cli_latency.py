"""``plxtra-fix latency LOG...``: request-to-answer latency per message pair, with histograms.

D -> ExecutionReport New/Reject, F -> Canceled/OrderCancelReject, G -> Replaced/OrderCancelReject,
V -> W/Y, TestRequest -> Heartbeat; p50/p90/p99/max from the log's own timestamps.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.harness.analysis.cli_common import (
    add_input_arguments,
    open_inputs,
    problem_lines,
    report_problems,
    write_html,
)
from gateway.harness.analysis.pipeline import analyse
from gateway.harness.analysis.render import latency_json, latency_text
from gateway.harness.analysis.vocab import Vocabulary

__all__ = ["configure", "run"]

_PROG = "plxtra-fix latency"


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)


def run(args: argparse.Namespace) -> int:
    inputs = open_inputs(_PROG, args.logs, args)
    if inputs is None:
        return 2
    vocab = Vocabulary(args.dictionary_dir)
    analysis = analyse(
        inputs, latency=True, orders=bool(args.html), sessions=bool(args.html), keep_events=bool(args.html)
    )
    assert analysis.latency is not None
    if args.json:
        json.dump(latency_json(analysis.latency), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(latency_text(analysis.latency))
    if args.html:
        from gateway.harness.analysis.html import render_html

        title = f"plxtra-fix latency: {', '.join(args.logs) or 'stdin'}"
        if not write_html(
            args.html, render_html(analysis, vocab, title=title, problems=problem_lines(inputs)), _PROG
        ):
            return 2
    report_problems(_PROG, inputs, sys.stderr)
    return 0
