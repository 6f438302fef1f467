"""``plxtra-fix orders LOG...``: every order's lifecycle, one row per order, inconsistencies flagged.

``--order ID`` prints one order's story message by message (ID: any ClOrdID of its chain, or its
OrderID). Exit code 0, or 1 with ``--strict`` when an order is inconsistent; 2 on unusable input.
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
from gateway.harness.analysis.orders import Order
from gateway.harness.analysis.pipeline import analyse
from gateway.harness.analysis.render import order_story, orders_csv, orders_json, orders_text
from gateway.harness.analysis.vocab import Vocabulary

__all__ = ["configure", "run"]

_PROG = "plxtra-fix orders"


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_follow_arguments(parser)
    parser.add_argument("--csv", action="store_true", help="CSV, one row per order")
    parser.add_argument("--order", metavar="ID", help="print this order's story (a ClOrdID or OrderID)")
    parser.add_argument("--issues", action="store_true", help="only orders with an inconsistency or a reject")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any order is inconsistent")


def run(args: argparse.Namespace) -> int:
    inputs = open_inputs(_PROG, args.logs, args)
    if inputs is None:
        return 2
    vocab = Vocabulary(args.dictionary_dir)
    on_order = None
    if args.follow:

        def on_order(order: Order, note: str) -> None:
            status = vocab.meaning(order.begin_string, 39, order.status)
            print(
                f"{format_time(order.final_at or order.first_answer_at)}  {order.session}  "
                f"{order.chain[-1]}  {order.symbol or ''}  {status}"
                f"{'  ' + note if note else ''}",
                flush=True,
            )

    keep = bool(args.order or args.html)
    try:
        analysis = analyse(
            inputs,
            orders=True,
            sessions=bool(args.html),
            latency=bool(args.html),
            keep_events=keep,
            on_order=on_order,
            pause_gc=not args.follow,
        )
    except KeyboardInterrupt:
        return 130
    book = analysis.orders
    assert book is not None
    orders = book.orders
    if args.order:
        orders = book.find(args.order)
        if not orders:
            print(f"{_PROG}: no order with ClOrdID or OrderID {args.order!r}", file=sys.stderr)
            report_problems(_PROG, inputs, sys.stderr)
            return 1
    if args.issues:
        orders = [o for o in orders if o.issues or o.rejects]
    if args.order and not (args.json or args.csv):
        sys.stdout.write("\n".join(order_story(o, vocab) for o in orders))
    elif args.json:
        json.dump(orders_json(orders, vocab), sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif args.csv:
        sys.stdout.write(orders_csv(orders, vocab))
    else:
        sys.stdout.write(orders_text(orders, vocab, messages=analysis.messages))
    if args.html:
        from gateway.harness.analysis.html import render_html

        title = f"plxtra-fix orders: {', '.join(args.logs) or 'stdin'}"
        if not write_html(
            args.html, render_html(analysis, vocab, title=title, problems=problem_lines(inputs)), _PROG
        ):
            return 2
    report_problems(_PROG, inputs, sys.stderr)
    if args.strict and any(o.issues for o in book.orders):
        return 1
    return 0
