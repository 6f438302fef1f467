"""``plxtra-fix diff LOG_A LOG_B``: two recordings of the same flow compared order by order.

Reports orders only in one recording, orders whose lifecycle or fields differ (IDs learned as
``replay`` learns them), and session-event differences. Exit code 0 when nothing differs, 1 when
something does, 2 when an input or the rules cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.harness.analysis.cli_common import add_input_arguments, open_inputs, report_problems, write_html
from gateway.harness.analysis.diff import diff_analyses, load_diff_rules
from gateway.harness.analysis.pipeline import analyse
from gateway.harness.analysis.vocab import Vocabulary
from gateway.harness.errors import HarnessError

__all__ = ["configure", "run"]

_PROG = "plxtra-fix diff"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log_a", metavar="LOG_A", help="first recording (log or capture)")
    parser.add_argument("log_b", metavar="LOG_B", help="second recording (log or capture)")
    add_input_arguments(parser, logs=False)
    parser.add_argument(
        "--rules",
        metavar="FILE",
        help="comparison rules YAML, replay's keys (default ignores 9, 10, 34, 52, 60, 122)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        rules = load_diff_rules(args.rules)
    except (HarnessError, OSError, ValueError) as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    vocab = Vocabulary(args.dictionary_dir)
    analyses = []
    for path in (args.log_a, args.log_b):
        inputs = open_inputs(_PROG, [path], args)
        if inputs is None:
            return 2
        analyses.append(
            analyse(inputs, orders=True, sessions=True, latency=bool(args.html), keep_events=True)
        )
        report_problems(_PROG, inputs, sys.stderr)
    a, b = analyses
    result = diff_analyses(a, b, rules, vocab)
    lines = result.lines()
    if args.json:
        assert a.orders is not None and b.orders is not None   # analysed with orders=True
        json.dump(
            {
                "same": result.same,
                "orders_a": len(a.orders.orders),
                "orders_b": len(b.orders.orders),
                "paired": len(result.pairs),
                "only_a": [o.cl_ord_id for o in result.only_a],
                "only_b": [o.cl_ord_id for o in result.only_b],
                "differences": lines,
            },
            sys.stdout,
            indent=1,
        )
        sys.stdout.write("\n")
    else:
        print(f"A: {args.log_a}: {a.messages:,} messages, {len(a.orders.orders)} orders")  # type: ignore[union-attr]
        print(f"B: {args.log_b}: {b.messages:,} messages, {len(b.orders.orders)} orders")  # type: ignore[union-attr]
        print(
            f"{len(result.pairs)} order(s) paired, {len(result.differing)} differ; "
            f"{len(result.only_a)} only in A, {len(result.only_b)} only in B; "
            f"{len(result.session_differences)} session difference(s)"
        )
        for line in lines:
            print(f"  {line}")
        if result.same:
            print("no differences")
    if args.html:
        from gateway.harness.analysis.html import render_html

        title = f"plxtra-fix diff: {args.log_a} vs {args.log_b}"
        if not write_html(args.html, render_html(a, vocab, title=title, diff_lines=lines), _PROG):
            return 2
    return 0 if result.same else 1
